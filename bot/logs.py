"""Logging set-up: one stream handler whose output never carries a secret, as text or as
one JSON object per line (for log aggregators), with the same fields either way.

A field's value is a number, a string without spaces where it names one of a closed
set (an outcome, a source), free text, or a list of such strings; a field that does not
apply (None) is left out of both formats. Text lines write a list comma-joined ("-"
for an empty one) and quote a value with a space, or an empty one, as a JSON string."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Literal

REDACTED = "[REDACTED]"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A record's structured fields (`logger.info(..., extra={FIELDS: {...}})`).
FIELDS = "fields"
LogFormat = Literal["text", "json"]


class RedactingFormatter(logging.Formatter):
    """Replaces every secret in the formatted line, tracebacks included.

    Libraries log URLs and exceptions we do not control (python-telegram-bot logs
    its API URL, which holds the token, at DEBUG), so redaction happens on the
    final text rather than at each call site. A record's fields follow its message
    as `key=value` pairs.
    """

    def __init__(self, secrets: Iterable[str], fmt: str = LOG_FORMAT) -> None:
        super().__init__(fmt)
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def format(self, record: logging.LogRecord) -> str:
        """Format as usual, then blank out secrets."""
        return self.redact(self.render(record))

    def render(self, record: logging.LogRecord) -> str:
        """The line before redaction."""
        text = super().format(record)
        written = pairs(fields_of(record))
        if not written:
            return text
        head, newline, rest = text.partition("\n")
        return f"{head} {written}{newline}{rest}"

    def redact(self, text: str) -> str:
        """`text` with every secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class JsonFormatter(RedactingFormatter):
    """One JSON object per line: time, level, logger, message, the record's fields, and
    the traceback if any."""

    def render(self, record: logging.LogRecord) -> str:
        """The object before redaction (secrets cannot hide behind JSON escapes: they
        are plain token characters)."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {key: value for key, value in fields_of(record).items() if value is not None}
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def fields_of(record: logging.LogRecord) -> Mapping[str, object]:
    """The structured fields a record carries, if any."""
    fields = getattr(record, FIELDS, None)
    return fields if isinstance(fields, Mapping) else {}


def pairs(fields: Mapping[str, object]) -> str:
    """`key=value` pairs as a text line writes them; a field that is None is left out."""
    return " ".join(
        f"{key}={_text_value(value)}" for key, value in fields.items() if value is not None
    )


def _text_value(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value) or "-"
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if " " in text or not text else text


def configure_logging(level: str, secrets: Iterable[str], fmt: LogFormat = "text") -> None:
    """Log to stderr at `level`; keep HTTP client request lines (with token URLs) quiet."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter(secrets) if fmt == "json" else RedactingFormatter(secrets)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO; Bot API URLs contain the token.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
