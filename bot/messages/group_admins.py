"""What a group's admins read when they set the bot up: settings commands and their
answers, /policy, the /settings menu, rights, confirmations and warnings.

All under one gettext domain (bot/i18n.py); the catalogs are bot/locales/."""

from __future__ import annotations

from collections.abc import Mapping

from bot.i18n import LANGUAGE_NAMES, N_, Translations, join
from bot.messages.summary import SEGMENT_NAMES
from bot.messages.units import duration, for_length
from bot.moderation import (
    Action,
    ChatSettings,
    Mode,
    OnError,
    Penalty,
    segment_word,
)
from bot.moderation.commands import Problem, UnknownSegment, Usage
from bot.moderation.rights import Right
from bot.recognition.results import Segment

_ACTION_NAMES: Mapping[Action, str] = {
    Action.WARN: N_("warn (reply to the photo)"),
    Action.DELETE: N_("delete (remove the photo and post a notice)"),
    Action.REPORT: N_("report (only tell the admins)"),
}


_MODE_NAMES: Mapping[Mode, str] = {
    Mode.ON: N_("on"),
    Mode.OFF: N_("off"),
    Mode.DRY: N_("trial run (I only report what I would do)"),
}


_ON_ERROR_NAMES: Mapping[OnError, str] = {
    OnError.REPORT: N_("report them to the admins"),
    OnError.ALLOW: N_("let them through"),
}


def segment_list() -> str:
    """The segment words people can type."""
    return ", ".join(segment_word(segment) for segment in SEGMENT_NAMES)


def unknown_segment(word: str, tr: Translations) -> str:
    """A segment name nobody knows."""
    return tr.gettext("Unknown segment “{word}”. Use one of: {names}.").format(
        word=word, names=segment_list()
    )


def usage(command: str, tr: Translations) -> str:
    """How a command is typed."""
    _ = tr.gettext
    forms = {
        "moderate": "/moderate on | off | dry",
        "warnlimit": "/warnlimit 1-100 mute | ban [30m | 12h | 7d | forever]",
        "onerror": "/onerror allow | report",
        "forbid": f"/forbid {segment_list().replace(', ', ' | ')}",
        "require": f"/require {segment_list().replace(', ', ' | ')}",
        "allow": f"/allow {segment_list().replace(', ', ' | ')} | reset",
        "action": "/action warn | delete | report",
        "lang": "/lang en | ru | zh | zh-hant | auto",
        "checkfiles": "/checkfiles on | off",
    }
    return _("Use: {form}").format(form=forms[command])


def problem(found: Problem, tr: Translations) -> str:
    """What was wrong with a settings command."""
    match found:
        case Usage(command):
            return usage(command, tr)
        case UnknownSegment(word):
            return unknown_segment(word, tr)


# The rights as Telegram's own admin screen names them, so an admin finds the switch.
_RIGHT_NAMES: Mapping[Right, str] = {
    Right.DELETE: N_("Delete messages"),
    Right.RESTRICT: N_("Ban users"),
    Right.CHANGE_INFO: N_("Change group info"),
}


def right_name(right: Right, tr: Translations) -> str:
    """An admin right by the name Telegram shows it under."""
    return tr.gettext(_RIGHT_NAMES[right])


def person_lacks_right(right: Right, tr: Translations) -> str:
    """Someone asked for something their admin rights do not cover (nothing happened)."""
    return tr.gettext("This needs the admin right “{right}”, which you do not have there.").format(
        right=right_name(right, tr)
    )


def bot_lacks_right(right: Right, tr: Translations) -> str:
    """The bot lacks the right an action needs (nothing happened)."""
    return tr.gettext("I need the admin right “{right}” in that group to do this.").format(
        right=right_name(right, tr)
    )


def rights_unknown(tr: Translations) -> str:
    """Telegram did not say what the person (or the bot) may do: nothing happened."""
    return tr.gettext(
        "Telegram did not tell me the admin rights just now, so nothing was done. Please "
        "try again in a minute."
    )


def confirm_anonymous(command: str, right: Right, tr: Translations) -> str:
    """An anonymous admin's command: nobody can tell who sent it, so an admin confirms."""
    return tr.gettext(
        "/{command} was sent as the group, so I cannot tell who sent it. An admin with "
        "the right “{right}” can confirm it with the button below."
    ).format(command=command, right=right_name(right, tr))


def confirmed_by(admin: str, tr: Translations) -> str:
    """The confirmation message once an admin confirmed."""
    return tr.gettext("Confirmed by {admin}.").format(admin=admin)


def confirm_expired(tr: Translations) -> str:
    """A press on a confirmation that is gone (expired, or already used)."""
    return tr.gettext("This confirmation has expired; please send the command again.")


def unsure_notice(chat: str, tr: Translations) -> str:
    """To the admins: the bot could not tell whether posters were admins, so it left their
    photos alone (sent at most once an hour per group)."""
    return "⚠️ " + tr.gettext(
        "In {chat} I could not confirm who posted or what I may do there (Telegram or my "
        "storage did not answer), so I left those photos alone. I say this at most once an "
        "hour."
    ).format(chat=chat)


def settings_text(settings: ChatSettings, tr: Translations, *, allowed: int) -> str:
    """/policy: the chat's settings, its allow list and the photos it could not check."""
    _ = tr.gettext
    none = _("none")

    def names(segments: frozenset[Segment]) -> str:
        chosen = [
            tr.gettext(name) for segment, name in SEGMENT_NAMES.items() if segment in segments
        ]
        return join(chosen, tr) or none

    language = LANGUAGE_NAMES.get(settings.language or "", _("each person's own"))
    return "\n".join(
        [
            _("Moderation: {state}").format(state=_(_MODE_NAMES[settings.mode])),
            _("Forbidden: {segments}").format(segments=names(settings.forbid)),
            _("Required: {segments}").format(segments=names(settings.require)),
            _("Action: {action}").format(action=_(_ACTION_NAMES[settings.action])),
            _("Warning limit: {limit}, then {penalty}").format(
                limit=settings.warn_limit, penalty=penalty_text(settings, tr)
            ),
            _("Photos I cannot check: {what}").format(what=_(_ON_ERROR_NAMES[settings.on_error])),
            tr.ngettext("Allow list: {count} image", "Allow list: {count} images", allowed).format(
                count=allowed
            ),
            _("Files that are not images, and GIFs: {what}").format(
                what=_("checked") if settings.check_files else _("ignored")
            ),
            tr.ngettext(
                "Not checked so far: {count} photo",
                "Not checked so far: {count} photos",
                settings.unchecked,
            ).format(count=settings.unchecked),
            _("Language: {language}").format(language=language),
        ]
    )


def settings_saved(settings: ChatSettings, tr: Translations, *, allowed: int) -> str:
    """The answer to a settings command: done, and what the settings are now."""
    return tr.gettext("Saved.") + "\n\n" + settings_text(settings, tr, allowed=allowed)


def penalty_text(settings: ChatSettings, tr: Translations) -> str:
    """What the warning limit leads to: "a mute (1 day)", "a ban (forever)"."""
    length = for_length(settings.penalty_seconds, tr)
    if settings.penalty is Penalty.BAN:
        return tr.gettext("a ban ({length})").format(length=length)
    return tr.gettext("a mute ({length})").format(length=length)


_MENU_LABELS: Mapping[str, str] = {
    "m.on": N_("On"),
    "m.off": N_("Off"),
    "m.dry": N_("Trial run"),
    "a.warn": N_("Warn"),
    "a.delete": N_("Delete"),
    "a.report": N_("Report only"),
    "p.mute": N_("Mute"),
    "p.ban": N_("Ban"),
    "e.report": N_("Unchecked: report"),
    "e.allow": N_("Unchecked: let through"),
}


def menu_text(chat: str, settings: ChatSettings, tr: Translations, *, allowed: int) -> str:
    """The /settings menu's message: whose settings, who may press, what is in force."""
    head = tr.gettext(
        "Settings for {chat}. Press a button to change one; only admins with the right "
        "“{right}” can."
    ).format(chat=chat, right=right_name(Right.CHANGE_INFO, tr))
    return "⚙️ " + head + "\n\n" + settings_text(settings, tr, allowed=allowed)


def menu_label(choice: str, selected: bool, settings: ChatSettings, tr: Translations) -> str:
    """A /settings button's label for its choice code (bot/moderation/menu.py)."""
    _ = tr.gettext
    kind, _dot, value = choice.partition(".")
    if choice in _MENU_LABELS:
        label = _(_MENU_LABELS[choice])
    elif kind == "s":
        segment = next(s for s in SEGMENT_NAMES if segment_word(s) == value)
        name = _(SEGMENT_NAMES[segment])
        if segment in settings.forbid:
            label = _("{segment}: forbidden").format(segment=name)
        elif segment in settings.require:
            label = _("{segment}: required").format(segment=name)
        else:
            label = _("{segment}: no rule").format(segment=name)
    elif choice in ("w.-", "d.-"):
        label = "➖"
    elif choice in ("w.+", "d.+"):
        label = "➕"
    elif kind == "n":
        label = tr.ngettext("{count} warning", "{count} warnings", settings.warn_limit).format(
            count=settings.warn_limit
        )
    elif kind == "d":
        label = duration(settings.penalty_seconds, tr)
    elif kind == "x":
        label = (
            _("Files and GIFs: checked") if settings.check_files else _("Files and GIFs: ignored")
        )
    elif choice == "l.auto":
        label = _("Language: {language}").format(language=_("each person's own"))
    else:
        label = LANGUAGE_NAMES.get(value, value)
    return "✅ " + label if selected else label


def menu_expired(tr: Translations) -> str:
    """A press on a /settings menu older than a week (or from before a restart of storage)."""
    return tr.gettext("This menu has expired; send /settings again.")


def menu_sent_privately(tr: Translations) -> str:
    """/settings private, done."""
    return tr.gettext("I sent you this group's settings in a private chat.")


def menu_start_first(link: str, tr: Translations) -> str:
    """/settings private from an admin who never opened a chat with the bot (Telegram
    refuses the message with 403)."""
    return tr.gettext(
        "I cannot write to you before you open a chat with me: {link} Then send "
        "/settings private again."
    ).format(link=link)


def rights_text(can_delete: bool, can_restrict: bool, tr: Translations) -> str:
    """What the bot can and cannot do in a group, and which rights it would need."""
    _ = tr.gettext

    def mark(able: bool) -> str:
        return "✅" if able else "❌"

    lines = [
        _("What I can do here:"),
        mark(can_delete) + " " + _("delete photos that break the rules ('Delete messages')"),
        mark(can_restrict) + " " + _("mute and ban after the warning limit ('Ban users')"),
    ]
    if not (can_delete and can_restrict):
        lines.append(_("Without a right I report to the admins instead of acting."))
    return "\n".join(lines)


def rights_changed(chat: str, rights: str, tr: Translations) -> str:
    """Told to the admins when the bot's rights in a moderated group change."""
    return tr.gettext("My rights in {chat} changed.").format(chat=chat) + "\n" + rights


def allow_list_cleared(tr: Translations) -> str:
    """/allow reset."""
    return tr.gettext("The allow list is empty again: every image is judged by the rules.")


def warnings_report(author: str, count: int, limit: int, tr: Translations) -> str:
    """/warns: one person's warnings."""
    return tr.ngettext(
        "{author} has {count} warning in the last 30 days (limit {limit}).",
        "{author} has {count} warnings in the last 30 days (limit {limit}).",
        count,
    ).format(author=author, count=count, limit=limit)


def warnings_cleared(author: str, tr: Translations) -> str:
    """/resetwarns."""
    return tr.gettext("{author}'s warnings are cleared.").format(author=author)


def reply_to_someone(command: str, tr: Translations) -> str:
    """/warns or /resetwarns without a message to answer."""
    return tr.gettext("Reply to a message of the person with /{command}.").format(command=command)


def admin_lists_reloaded(rights: str, tr: Translations) -> str:
    """/reload: the admin list and the bot's rights were read again."""
    return tr.gettext("I have read this group's admins and my rights again.") + "\n" + rights
