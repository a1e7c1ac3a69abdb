"""Button data, typed: what a press asks for, in at most Telegram's 64 bytes.

One format and one parser for every button the bot makes. `r:<report id>:<verb>` is the
format reports have always used, so a report sent before this module existed still
works when pressed; `c:<id>` confirms an anonymous admin's command; `s:<menu id>:<choice>`
is a press in a /settings menu; `k:<offer id>` asks for an answer's cut-outs
(bot/photo/cutouts.py). The data holds an id, never the state (state lives in
storage, so a press works on any replica).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

MAX_BYTES = 64  # Telegram's limit for callback_data
_ID = r"[0-9a-f]{1,24}"
_CHOICE = r"[a-z0-9_.+-]{1,32}"
_REPORT = re.compile(rf"r:({_ID}):([a-z]+)")
_CONFIRM = re.compile(rf"c:({_ID})")
_MENU = re.compile(rf"s:({_ID}):({_CHOICE})")
_CUTOUTS = re.compile(rf"k:({_ID})")


class Verb(enum.StrEnum):
    """A report's buttons."""

    UNDO = "undo"
    ALLOW = "allow"
    BAN = "ban"


@dataclass(frozen=True)
class ReportPress:
    """A press on one of a report's buttons."""

    report_id: str
    verb: Verb


@dataclass(frozen=True)
class ConfirmPress:
    """An admin confirms a command an anonymous admin sent."""

    pending_id: str


@dataclass(frozen=True)
class MenuPress:
    """A choice pressed in a /settings menu."""

    menu_id: str
    choice: str


@dataclass(frozen=True)
class CutoutPress:
    """The asker wants an answer's cut-outs; the offer holds who asked and which result."""

    offer_id: str


Press = ReportPress | ConfirmPress | MenuPress | CutoutPress


class TooLong(ValueError):
    """Button data over Telegram's 64 bytes: a bug, caught by the tests."""


def encode(press: Press) -> str:
    """The callback data for `press`."""
    match press:
        case ReportPress(report_id, verb):
            data = f"r:{report_id}:{verb.value}"
        case ConfirmPress(pending_id):
            data = f"c:{pending_id}"
        case MenuPress(menu_id, choice):
            data = f"s:{menu_id}:{choice}"
        case CutoutPress(offer_id):
            data = f"k:{offer_id}"
    if len(data.encode()) > MAX_BYTES:
        raise TooLong(data)
    return data


def parse(data: str) -> Press | None:
    """The press `data` encodes, or None for anything the bot did not make."""
    if found := _REPORT.fullmatch(data):
        try:
            return ReportPress(found.group(1), Verb(found.group(2)))
        except ValueError:
            return None
    if found := _CONFIRM.fullmatch(data):
        return ConfirmPress(found.group(1))
    if found := _MENU.fullmatch(data):
        return MenuPress(found.group(1), found.group(2))
    if found := _CUTOUTS.fullmatch(data):
        return CutoutPress(found.group(1))
    return None
