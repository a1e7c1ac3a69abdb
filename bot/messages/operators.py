"""What the bot's operator and its admins read: /stats, and the alerts sent to ADMIN_CHAT_ID.

All under one gettext domain (bot/i18n.py); the catalogs are bot/locales/."""

from __future__ import annotations

from collections.abc import Mapping

from bot.i18n import Translations


def stats_report(
    since_start: Mapping[str, int], today: Mapping[str, int], concurrency: int, tr: Translations
) -> str:
    """/stats for bot admins: every counter since start and today, and the API calls
    the adaptive limit allows at once now."""
    _ = tr.gettext
    names = sorted(set(since_start) | set(today))
    lines = [_("Since start / today:")] if names else [_("No photos yet.")]
    lines += [f"{name}: {since_start.get(name, 0)} / {today.get(name, 0)}" for name in names]
    lines.append(_("API calls allowed at once now: {limit}").format(limit=concurrency))
    return "\n".join(lines)


def bot_admins_only(tr: Translations) -> str:
    """A command for the bot's own admins."""
    return tr.gettext("Only the bot's admins can use this command.")


def group_limit_operator(chat: str, chat_id: int, limit: int, tr: Translations) -> str:
    """To the operator, once per group and day: a group used up GROUP_DAILY_LIMIT."""
    return "⚠️ " + tr.ngettext(
        "{chat} ({chat_id}) used its {limit} check for today (GROUP_DAILY_LIMIT); its "
        "photos go unchecked until the limit resets.",
        "{chat} ({chat_id}) used its {limit} checks for today (GROUP_DAILY_LIMIT); its "
        "photos go unchecked until the limit resets.",
        limit,
    ).format(chat=chat, chat_id=chat_id, limit=limit)
