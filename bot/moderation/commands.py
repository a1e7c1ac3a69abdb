"""The settings commands as pure functions: (settings, arguments) -> the new settings, or
a typed problem saying what was wrong (bot/messages/group_admins.py words it in the
reader's language). No Telegram here: each is tested alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.i18n import LANGUAGES
from bot.moderation.settings import (
    MAX_WARN_LIMIT,
    Action,
    ChatSettings,
    Mode,
    OnError,
    Penalty,
    parse_duration,
    parse_segment,
)
from bot.recognition.results import Segment


@dataclass(frozen=True)
class Usage:
    """The command was typed wrong: show how it is typed."""

    command: str


@dataclass(frozen=True)
class UnknownSegment:
    """A segment name nobody knows."""

    word: str


Problem = Usage | UnknownSegment
Changed = ChatSettings | Problem
Change = Callable[[ChatSettings, list[str]], Changed]


def moderate(settings: ChatSettings, args: list[str]) -> Changed:
    """/moderate on|off|dry (dry: judge and report, act on nothing)."""
    try:
        return replace(settings, mode=Mode(args[0] if len(args) == 1 else ""))
    except ValueError:
        return Usage("moderate")


def warnlimit(settings: ChatSettings, args: list[str]) -> Changed:
    """/warnlimit N mute|ban [DURATION]: the Nth warning in 30 days mutes or bans."""
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    if len(args) not in (2, 3) or not args[0].isdecimal():
        return Usage("warnlimit")
    limit = int(args[0])
    seconds = parse_duration(args[2]) if len(args) == 3 else settings.penalty_seconds
    if not 1 <= limit <= MAX_WARN_LIMIT or seconds is None:
        return Usage("warnlimit")
    try:
        penalty = Penalty(args[1])
    except ValueError:
        return Usage("warnlimit")
    return replace(settings, warn_limit=limit, penalty=penalty, penalty_seconds=seconds)


def onerror(settings: ChatSettings, args: list[str]) -> Changed:
    """/onerror allow|report: what happens to photos the bot cannot judge."""
    try:
        return replace(settings, on_error=OnError(args[0] if len(args) == 1 else ""))
    except ValueError:
        return Usage("onerror")


def _segment_rule(command: str, apply: Callable[[ChatSettings, Segment], ChatSettings]) -> Change:
    def change(settings: ChatSettings, args: list[str]) -> Changed:
        if len(args) != 1:
            return Usage(command)
        segment = parse_segment(args[0])
        if segment is None:
            return UnknownSegment(args[0])
        return apply(settings, segment)

    change.__doc__ = f"/{command} a segment."
    return change


forbid = _segment_rule("forbid", ChatSettings.forbidding)
require = _segment_rule("require", ChatSettings.requiring)
allow = _segment_rule("allow", ChatSettings.allowing)


def action(settings: ChatSettings, args: list[str]) -> Changed:
    """/action warn|delete|report."""
    try:
        return replace(settings, action=Action(args[0] if args else ""))
    except ValueError:
        return Usage("action")


def lang(settings: ChatSettings, args: list[str]) -> Changed:
    """/lang en|ru|zh|zh-hant|auto: the chat's language (auto: each person's own)."""
    choice = args[0].lower().replace("_", "-") if args else ""
    if choice == "auto":
        return replace(settings, language=None)
    if choice in LANGUAGES:
        return replace(settings, language=choice)
    return Usage("lang")


def checkfiles(settings: ChatSettings, args: list[str]) -> Changed:
    """/checkfiles on|off: also judge files that are not images, and animations."""
    if args not in (["on"], ["off"]):
        return Usage("checkfiles")
    return replace(settings, check_files=args == ["on"])
