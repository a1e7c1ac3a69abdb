"""Numbers as people read them, in their language: sizes in MB, lengths of time in
words, and two sentences joined as the language joins them.

All under one gettext domain (bot/i18n.py); the catalogs are bot/locales/."""

from __future__ import annotations

import math
from datetime import datetime

from bot.i18n import Translations

MB = 1024 * 1024


def megabytes(size: int) -> float:
    """`size` bytes in MB (MiB) at one decimal, rounded up: a file just over a limit never
    reads as equal to it."""
    return math.ceil(size * 10 / MB) / 10


def duration(seconds: int, tr: Translations) -> str:
    """A length of time in words, to the minute (rounded up), largest unit first:
    "30 minutes", "1 hour 30 minutes", "7 days"; 0 is a penalty without end, "forever".

    Penalties and the wait until a daily reset (`until`) split time alike; each unit
    goes through ngettext for its plural form.
    """
    if seconds == 0:
        return tr.gettext("forever")
    days, hours, minutes = days_hours_minutes(seconds)
    return in_units(
        (days, tr.ngettext("{n} day", "{n} days", days)),
        (hours, tr.ngettext("{n} hour", "{n} hours", hours)),
        (minutes, tr.ngettext("{n} minute", "{n} minutes", minutes)),
    )


def days_hours_minutes(seconds: int) -> tuple[int, int, int]:
    """`seconds` rounded up to the minute (at least one), split into days, hours and minutes."""
    days, rest = divmod(max(1, math.ceil(seconds / 60)), 24 * 60)
    hours, minutes = divmod(rest, 60)
    return days, hours, minutes


def in_units(*units: tuple[int, str]) -> str:
    """Each (count, its catalog text) with a count, largest first: "1 hour 30 minutes"."""
    return " ".join(text.format(n=count) for count, text in units if count)


def until(resets_at: datetime, now: datetime, tr: Translations) -> str:
    """The wait until a reset in words, rounded up to the minute (never "0 minutes"), worded
    to follow "in": the context "in" lets a language put the count in the case its word for
    "in" takes (Russian "через 21 минуту", where a penalty reads "21 минута")."""
    days, hours, minutes = days_hours_minutes(math.ceil((resets_at - now).total_seconds()))
    return in_units(
        (days, tr.npgettext("in", "{n} day", "{n} days", days)),
        (hours, tr.npgettext("in", "{n} hour", "{n} hours", hours)),
        (minutes, tr.npgettext("in", "{n} minute", "{n} minutes", minutes)),
    )


def sentences(first: str, second: str) -> str:
    """Two sentences in a row: a space between them, none after a full-width stop (Chinese)."""
    return first + ("" if first.endswith(("。", "！", "？", "）")) else " ") + second
