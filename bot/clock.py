"""The one clock the bot reads for calendar time (daily limits, stats days, report ages)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)
