"""The /settings menu without Telegram: which buttons it shows for the current settings,
and what each press changes. A press carries only a short choice code (`m.on`, `s.face`,
`w.+`, ...), so its callback data stays far under 64 bytes; the menu's own record (which
chat it is for) lives in storage, and the settings are read and changed atomically there,
so a press works on any replica and two admins pressing at once both take effect.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from bot.i18n import LANGUAGES
from bot.moderation.settings import (
    MAX_WARN_LIMIT,
    Action,
    ChatSettings,
    Mode,
    OnError,
    Penalty,
    parse_segment,
    segment_word,
)
from bot.recognition.results import Segment

# A menu acts for as long as a report does, and for the same reason: an admin may come
# back to it within the week; after that the settings may have moved on.
MENU_SECONDS = 7 * 24 * 3600
NOTHING = "n"  # a label-only button (the current warning limit, the penalty length)

# Penalty lengths a press steps through, shortest first; 0 is forever, last. The same
# steps the commands' examples use (30m, 12h, 7d), plus an hour, a day and a month.
DURATIONS = (30 * 60, 3600, 12 * 3600, 24 * 3600, 7 * 24 * 3600, 30 * 24 * 3600, 0)


@dataclass(frozen=True)
class Option:
    """One button: what pressing it chooses, and whether it is the current choice."""

    choice: str
    selected: bool = False


def rows(settings: ChatSettings) -> list[list[Option]]:
    """The menu's buttons for the settings in force, row by row."""
    segments = [Option(f"s.{segment_word(segment)}") for segment in Segment]
    return [
        [Option(f"m.{mode.value}", settings.mode is mode) for mode in Mode],
        segments[:2],
        segments[2:],
        [Option(f"a.{action.value}", settings.action is action) for action in Action],
        [Option("w.-"), Option(NOTHING), Option("w.+")],
        [Option(f"p.{penalty.value}", settings.penalty is penalty) for penalty in Penalty],
        [Option("d.-"), Option("d"), Option("d.+")],
        [Option(f"e.{on_error.value}", settings.on_error is on_error) for on_error in OnError],
        [Option("x")],
        [Option("l.auto", settings.language is None)]
        + [Option(f"l.{code}", settings.language == code) for code in LANGUAGES],
    ]


def apply(settings: ChatSettings, choice: str) -> ChatSettings | None:
    """The settings after pressing `choice`; None when it changes nothing (or is unknown,
    as a button from an older menu layout may be)."""
    kind, _, value = choice.partition(".")
    changed: ChatSettings | None = None
    match kind:
        case "m" if value in _values(Mode):
            changed = replace(settings, mode=Mode(value))
        case "s":
            segment = parse_segment(value)
            changed = _next_rule(settings, segment) if segment else None
        case "a" if value in _values(Action):
            changed = replace(settings, action=Action(value))
        case "w" if value in ("+", "-"):
            limit = settings.warn_limit + (1 if value == "+" else -1)
            changed = replace(settings, warn_limit=min(MAX_WARN_LIMIT, max(1, limit)))
        case "p" if value in _values(Penalty):
            changed = replace(settings, penalty=Penalty(value))
        case "d" if value in ("+", "-"):
            changed = replace(settings, penalty_seconds=_step(settings.penalty_seconds, value))
        case "e" if value in _values(OnError):
            changed = replace(settings, on_error=OnError(value))
        case "x":
            changed = replace(settings, check_files=not settings.check_files)
        case "l" if value == "auto" or value in LANGUAGES:
            changed = replace(settings, language=None if value == "auto" else value)
    return None if changed == settings else changed


def _values(kind: type[enum.StrEnum]) -> frozenset[str]:
    return frozenset(member.value for member in kind)


def _next_rule(settings: ChatSettings, segment: Segment) -> ChatSettings:
    """No rule -> forbidden -> required -> no rule."""
    if segment in settings.forbid:
        return settings.requiring(segment)
    if segment in settings.require:
        return settings.allowing(segment)
    return settings.forbidding(segment)


def _step(seconds: int, direction: str) -> int:
    """The next penalty length up or down the ladder; a length set by command that is
    not on it moves to the nearest step in that direction."""
    ladder = [step for step in DURATIONS if step]
    current = seconds or None  # forever sits above every length
    if direction == "+":
        if current is None:
            return 0
        longer = [step for step in ladder if step > current]
        return longer[0] if longer else 0
    if current is None:
        return ladder[-1]
    shorter = [step for step in ladder if step < current]
    return shorter[-1] if shorter else ladder[0]
