"""Log output never carries a secret, whoever logs it and however."""

from __future__ import annotations

import logging
import sys

from bot.logs import REDACTED, RedactingFormatter, configure_logging
from tests.conftest import API_KEY, TOKEN


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"failed for https://api.telegram.org/bot{TOKEN}/getMe")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.LogRecord("telegram", logging.ERROR, __file__, 1, message, args, exc_info)


def test_secrets_are_blanked_in_messages_arguments_and_tracebacks() -> None:
    formatter = RedactingFormatter((TOKEN, API_KEY))
    text = formatter.format(_record("url %s key %s", f"/bot{TOKEN}/x", API_KEY, exc=True))
    assert TOKEN not in text
    assert API_KEY not in text
    assert text.count(REDACTED) == 3
    assert "RuntimeError" in text


def test_http_client_request_lines_are_silenced() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", (TOKEN,))
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING
        assert isinstance(root.handlers[0].formatter, RedactingFormatter)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.NOTSET)
