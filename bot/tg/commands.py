"""The settings commands as pure functions: (settings, arguments, language) -> the new
settings, or a sentence saying what was wrong. No Telegram here: each is tested alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bot import messages
from bot.i18n import LANGUAGES, Translations
from bot.moderation import Action, ChatSettings, parse_segment
from bot.results import Segment

Changed = ChatSettings | str
Change = Callable[[ChatSettings, list[str], Translations], Changed]


def moderate(settings: ChatSettings, args: list[str], tr: Translations) -> Changed:
    """/moderate on|off."""
    if args[:1] == ["on"]:
        return replace(settings, moderate=True)
    if args[:1] == ["off"]:
        return replace(settings, moderate=False)
    return messages.usage("moderate", tr)


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
    """/lang en|ru|zh|auto: the chat's language (auto: each person's own)."""
    choice = args[0] if args else ""
    if choice == "auto":
        return replace(settings, language=None)
    if choice in LANGUAGES:
        return replace(settings, language=choice)
    return messages.usage("lang", tr)
