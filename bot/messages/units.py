"""Numbers as people read them, in their language: sizes in MB, resolutions in
megapixels (or 万), lengths of time in words, and two sentences joined as the language
joins them.

All under one gettext domain (bot/i18n.py); the catalogs are bot/locales/."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from bot.i18n import Translations, decimal, language_of

# Megapixels are millions of pixels; megabytes are MiB, as Telegram counts them (its
# "20 MB" download limit is 20 MiB, which 10^6-byte megabytes would print as 21 MB).
_MEGAPIXEL = 1_000_000
MB = 1024 * 1024
# Chinese counts a resolution in 万 (ten thousand pixels), as its camera specs do:
# 50 megapixels is 5000 万像素, 0.3 megapixels 30 万像素 (by the catalogs' Language).
_PIXELS_PER_UNIT: Mapping[str, int] = {"zh": 10_000, "zh_Hant": 10_000}


def megapixels(pixels: int, tr: Translations) -> str:
    """A resolution as the reader counts it, to two decimals: "50 megapixels", "12.5
    megapixels", «12,5 мегапикселя»; Chinese counts in 万 (12.5 megapixels: 1250 万像素)."""
    count = round(pixels / _PIXELS_PER_UNIT.get(language_of(tr), _MEGAPIXEL), 2)
    number = decimal(count, 2, tr, trim=True)
    if count.is_integer():
        return tr.ngettext("{n} megapixel", "{n} megapixels", int(count)).format(n=number)
    # A number with a fraction takes one form whatever its digits (gettext's plural rules
    # see integers only): the plural in English, the genitive singular in Russian.
    return tr.pgettext("fraction", "{n} megapixels").format(n=number)


def megabytes(size: int) -> float:
    """`size` bytes in MB (MiB) at one decimal, rounded up: a file just over a limit never
    reads as equal to it."""
    return math.ceil(size * 10 / MB) / 10


def duration(seconds: int, tr: Translations) -> str:
    """A length of time in words, to the minute (rounded up), largest unit first:
    "30 minutes", "1 hour 30 minutes", "7 days"; 0 is a penalty without end, "forever".

    On its own, as a /settings button shows a penalty's length; inside a sentence a
    penalty's length is `for_length` and the wait until a daily reset `until`, which
    split time alike; each unit goes through ngettext for its plural form.
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


def for_length(seconds: int, tr: Translations) -> str:
    """How long a penalty lasts, worded to follow the penalty: in English as `duration`,
    in Russian with «на» and the accusative it takes («на 21 минуту», where a label reads
    «21 минута»); "forever" stands alone («навсегда», never «на навсегда»)."""
    if seconds == 0:
        return tr.gettext("forever")
    days, hours, minutes = days_hours_minutes(seconds)
    length = in_units(
        (days, tr.npgettext("for", "{n} day", "{n} days", days)),
        (hours, tr.npgettext("for", "{n} hour", "{n} hours", hours)),
        (minutes, tr.npgettext("for", "{n} minute", "{n} minutes", minutes)),
    )
    return tr.pgettext("for", "{length}").format(length=length)
