"""Log output never carries a secret, whoever logs it and however."""

from __future__ import annotations

import json
import logging
import sys

from bot.logs import REDACTED, JsonFormatter, RedactingFormatter, configure_logging
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


def _image_record() -> logging.LogRecord:
    record = logging.LogRecord(
        "bot.photo.pipeline", logging.INFO, __file__, 1, "image %s", ("ok",), None
    )
    record.fields = {
        "outcome": "recognized",
        "chat": 5,
        "changes": "",
        "reason": "a b",
        "k": API_KEY,
    }
    return record


def test_fields_follow_the_text_line_and_fill_a_json_object() -> None:
    text = RedactingFormatter((API_KEY,)).format(_image_record())
    assert text.endswith('image ok outcome=recognized chat=5 changes=- reason="a b" k=[REDACTED]')

    entry = json.loads(JsonFormatter((API_KEY,)).format(_image_record()))
    assert entry["message"] == "image ok"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "bot.photo.pipeline"
    assert entry["outcome"] == "recognized"
    assert entry["chat"] == 5
    assert entry["k"] == REDACTED
    assert entry["time"].endswith("+00:00")


def test_a_json_line_keeps_its_traceback_on_one_line() -> None:
    line = JsonFormatter((TOKEN,)).format(_record("boom", exc=True))
    assert "\n" not in line
    assert "RuntimeError" in json.loads(line)["traceback"]
    assert TOKEN not in line
