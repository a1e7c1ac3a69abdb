"""The settings commands as pure functions: (settings, arguments, language) -> the new
settings, or a sentence saying what was wrong. No Telegram here: each is tested alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bot import messages
from bot.i18n import LANGUAGES, Translations
from bot.moderation import (
    MAX_WARN_LIMIT,
    Action,
    ChatSettings,
    Mode,
    OnError,
    Penalty,
    parse_duration,
    parse_segment,
)
from bot.results import Segment

Changed = ChatSettings | str
Change = Callable[[ChatSettings, list[str], Translations], Changed]


def moderate(settings: ChatSettings, args: list[str], tr: Translations) -> Changed:
    """/moderate on|off|dry (dry: judge and report, act on nothing)."""
    try:
        return replace(settings, mode=Mode(args[0] if len(args) == 1 else ""))
    except ValueError:
        return messages.usage("moderate", tr)


def warnlimit(settings: ChatSettings, args: list[str], tr: Translations) -> Changed:
    """/warnlimit N mute|ban [DURATION]: the Nth warning in 30 days mutes or bans."""
    if len(args) not in (2, 3) or not args[0].isdigit():
        return messages.usage("warnlimit", tr)
    limit = int(args[0])
    seconds = parse_duration(args[2]) if len(args) == 3 else settings.penalty_seconds
    if not 1 <= limit <= MAX_WARN_LIMIT or seconds is None:
        return messages.usage("warnlimit", tr)
    try:
        penalty = Penalty(args[1])
    except ValueError:
        return messages.usage("warnlimit", tr)
    return replace(settings, warn_limit=limit, penalty=penalty, penalty_seconds=seconds)


def onerror(settings: ChatSettings, args: list[str], tr: Translations) -> Changed:
    """/onerror allow|report: what happens to photos the bot cannot judge."""
    try:
        return replace(settings, on_error=OnError(args[0] if len(args) == 1 else ""))
    except ValueError:
        return messages.usage("onerror", tr)


def _segment_rule(command: str, apply: Callable[[ChatSettings, Segment], ChatSettings]) -> Change:
    def change(settings: ChatSettings, args: list[str], tr: Translations) -> Changed:
        if len(args) != 1:
            return messages.usage(command, tr)
        segment = parse_segment(args[0])
        if segment is None:
            return messages.unknown_segment(args[0], tr)
        return apply(settings, segment)

    change.__doc__ = f"/{command} a segment."
    return change


forbid = _segment_rule("forbid", ChatSettings.forbidding)
require = _segment_rule("require", ChatSettings.requiring)
allow = _segment_rule("allow", ChatSettings.allowing)


def action(settings: ChatSettings, args: list[str], tr: Translations) -> Changed:
    """/action warn|delete|report."""
    try:
        return replace(settings, action=Action(args[0] if args else ""))
    except ValueError:
        return messages.usage("action", tr)


def lang(settings: ChatSettings, args: list[str], tr: Translations) -> Changed:
    """/lang en|ru|zh|zh-hant|auto: the chat's language (auto: each person's own)."""
    choice = args[0].lower().replace("_", "-") if args else ""
    if choice == "auto":
        return replace(settings, language=None)
    if choice in LANGUAGES:
        return replace(settings, language=choice)
    return messages.usage("lang", tr)
