"""Where the Redis backend keeps each thing: one prefix, one key per chat, report,
quota subject or cached result."""

from __future__ import annotations

PREFIX = "segment-bot:"
DAY_SECONDS = 24 * 3600


def pending_key(pending_id: str) -> str:
    return f"{PREFIX}pending:{pending_id}"


def allowed_key(chat_id: int) -> str:
    return f"{PREFIX}allowed:{chat_id}"


def allowed_images_key(chat_id: int) -> str:
    return f"{PREFIX}allowed-images:{chat_id}"


def warnings_key(chat_id: int) -> str:
    return f"{PREFIX}warnings:{chat_id}"


def report_key(report_id: str) -> str:
    return f"{PREFIX}report:{report_id}"


def presses_key(report_id: str) -> str:
    return f"{PREFIX}presses:{report_id}"


def settings_key(chat_id: int) -> str:
    return f"{PREFIX}settings:{chat_id}"


def quota_key(day: str, subject: str) -> str:
    return f"{PREFIX}quota:{day}:{subject}"


def charge_key(day: str, once: str | None) -> str:
    return f"{PREFIX}charge:{day}:{once or ''}"


def cache_key(key: str) -> str:
    return f"{PREFIX}cache:{key}"
