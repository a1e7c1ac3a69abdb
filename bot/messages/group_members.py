"""What a group's members read about a member's photo that moderation acted on: the
warning under it, the notice that replaces it, the penalty at the warning limit, and the
caption of a photo an admin restored.

All under one gettext domain (bot/i18n.py); the catalogs are bot/locales/."""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import Translations
from bot.messages.summary import SEGMENT_NAMES
from bot.messages.units import for_length
from bot.moderation import (
    Breach,
    ChatSettings,
    Penalty,
)


def breaches_text(breaches: Sequence[Breach], tr: Translations) -> str:
    """Which rules a photo breaks, as a clause."""
    _ = tr.gettext
    parts = []
    for breach in breaches:
        name = tr.gettext(SEGMENT_NAMES[breach.segment])
        if breach.forbidden:
            parts.append(_("it shows {segment}, which is forbidden here").format(segment=name))
        else:
            parts.append(
                _("it does not show {segment}, which is required here").format(segment=name)
            )
    return tr.gettext("; ").join(parts)


def breach_warning(breaches: Sequence[Breach], tr: Translations) -> str:
    """action=warn: a reply to the photo."""
    return "⚠️ " + tr.gettext("This photo breaks the chat's rules: {reasons}.").format(
        reasons=breaches_text(breaches, tr)
    )


def removal_notice(author: str, breaches: Sequence[Breach], tr: Translations) -> str:
    """action=delete: posted after the photo is removed."""
    return "🗑 " + tr.gettext("A photo by {author} was removed: {reasons}.").format(
        author=author, reasons=breaches_text(breaches, tr)
    )


def penalty_notice(author: str, settings: ChatSettings, warnings: int, tr: Translations) -> str:
    """Posted in the group when the warning limit is reached."""
    length = for_length(settings.penalty_seconds, tr)
    if settings.penalty is Penalty.BAN:
        text = tr.ngettext(
            "{author} is banned ({length}) after {count} warning.",
            "{author} is banned ({length}) after {count} warnings.",
            warnings,
        )
    else:
        text = tr.ngettext(
            "{author} is muted ({length}) after {count} warning.",
            "{author} is muted ({length}) after {count} warnings.",
            warnings,
        )
    return "⛔ " + text.format(author=author, length=length, count=warnings)


def restored_caption(admin: str, author: str, tr: Translations) -> str:
    """The caption of a deleted photo the bot posts back after an Undo."""
    return tr.gettext("Restored by {admin}; posted by {author}.").format(admin=admin, author=author)
