"""What a group's admins read about a photo moderation acted on: the report, its
buttons, and what pressing them says.

All under one gettext domain (bot/i18n.py); the catalogs are bot/locales/."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.i18n import N_, Translations, join
from bot.messages.group_members import breaches_text
from bot.messages.people import reply_for
from bot.moderation import (
    Breach,
    Deed,
    Shortfall,
)
from bot.photo.outcomes import (
    Outcome,
)

_DEED_NAMES: Mapping[Deed, str] = {
    Deed.WARNED: N_("warned"),
    Deed.DELETED: N_("deleted"),
    Deed.MUTED: N_("muted"),
    Deed.BANNED: N_("banned"),
}


_SHORTFALLS: Mapping[Shortfall, str] = {
    Shortfall.CANNOT_DELETE: N_(
        "I could not delete it: I need the 'Delete messages' right (I warned instead)."
    ),
    Shortfall.CANNOT_RESTRICT: N_("I could not apply the penalty: I need the 'Ban users' right."),
}


def report_caption(
    *,
    chat: str,
    author: str,
    problem: str,
    found: str | None,
    deeds: Sequence[Deed],
    dry: bool,
    warnings: tuple[int, int] | None,
    shortfalls: Sequence[Shortfall],
    tr: Translations,
    near: bool = False,
) -> str:
    """A report for the admins: where, who, what is wrong, what was (or would be) done;
    `near`: the verdict is another upload's of the same picture (a near-duplicate)."""
    _ = tr.gettext
    lines = ["🚩 " + _("In {chat}, a photo by {author}").format(chat=chat, author=author), problem]
    if found:
        lines.append(found)
    if near:
        lines.append(
            _(
                "I judged it as a copy of a photo checked before: its answer was reused, "
                "no new check was made."
            )
        )
    done = join((_(_DEED_NAMES[deed]) for deed in deeds), tr) or _("nothing")
    if warnings is not None:
        done += " · " + _("warning {count} of {limit}").format(count=warnings[0], limit=warnings[1])
    if dry:
        lines.append(_("Trial run, nothing was done. I would have: {done}").format(done=done))
    else:
        lines.append(_("Done: {done}").format(done=done))
    lines += [_(_SHORTFALLS[shortfall]) for shortfall in shortfalls]
    return "\n".join(lines)


def breach_problem(breaches: Sequence[Breach], tr: Translations) -> str:
    """A report's line for a photo that breaks the rules."""
    return tr.gettext("It breaks the rules: {reasons}.").format(reasons=breaches_text(breaches, tr))


def unchecked_problem(outcome: Outcome, tr: Translations, now: datetime) -> str:
    """A report's line for a photo the bot could not judge, with the reason."""
    return "⚠️ " + tr.gettext("I could not check it: {reason}").format(
        reason=reply_for(outcome, tr, now)
    )


def limit_reported_once(tr: Translations) -> str:
    """Added to the one report a group gets when its daily limit is used up."""
    return tr.gettext("Until the limit resets I will not report this group's photos again.")


class Buttons:
    """Labels of a report's buttons."""

    @staticmethod
    def undo(tr: Translations) -> str:
        """Take back what was done."""
        return "↩️ " + tr.gettext("Undo")

    @staticmethod
    def allow(tr: Translations) -> str:
        """Never act on this image here again."""
        return "✅ " + tr.gettext("Allow this image")

    @staticmethod
    def ban(tr: Translations) -> str:
        """Ban the author."""
        return "⛔ " + tr.gettext("Ban")

    @staticmethod
    def confirm(tr: Translations) -> str:
        """Confirm an anonymous admin's command."""
        return "✔️ " + tr.gettext("Confirm")


def press_resolution(verb: str, admin: str, at: datetime, tr: Translations) -> str:
    """A line added to a report when an admin pressed one of its buttons."""
    _ = tr.gettext
    when = at.strftime("%Y-%m-%d %H:%M UTC")
    texts = {
        "undo": _("↩️ Undone by {admin}, {when}"),
        "allow": _("✅ Image allowed by {admin}, {when}"),
        "ban": _("⛔ Author banned by {admin}, {when}"),
    }
    return texts[verb].format(admin=admin, when=when)


def press_answer(verb: str, tr: Translations) -> str:
    """The short answer to an admin whose press took effect."""
    _ = tr.gettext
    texts = {
        "undo": _("Undone."),
        "allow": _("Allowed: I will not act on this image here again."),
        "ban": _("Banned."),
    }
    return texts[verb]


def press_expired(tr: Translations) -> str:
    """A press on a report older than 7 days."""
    return tr.gettext("This report is more than 7 days old; its buttons have expired.")


def press_already(who: str, tr: Translations) -> str:
    """A second press of a button that already took effect."""
    return tr.gettext("Already done by {admin}.").format(admin=who)


def press_failed(tr: Translations) -> str:
    """The press could not take effect (Telegram refused, or a right is missing)."""
    return tr.gettext("I could not do that in the group; check that I still have the right to.")
