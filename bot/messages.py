"""Every sentence a person reads, in their language: help, hints, refusals, failures,
group moderation notices and command answers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from bot import images
from bot.i18n import LANGUAGE_NAMES, N_, Translations, decimal, join, language_of
from bot.images import (
    BadAspectRatio,
    Change,
    CorruptImage,
    HiddenPayload,
    ImageRejected,
    NotAnImage,
    PreparedImage,
    TooLargeToDownload,
    TooManyPixels,
    TooMuchWork,
    TooSmall,
    Work,
)
from bot.moderation import (
    Action,
    Breach,
    ChatSettings,
    Deed,
    Mode,
    OnError,
    Penalty,
    Shortfall,
    segment_word,
)
from bot.moderation.commands import Problem, UnknownSegment, Usage
from bot.moderation.rights import Right
from bot.outcomes import (
    DeadlineExceeded,
    DownloadError,
    Failed,
    Limited,
    Outcome,
    Recognized,
    Refused,
)
from bot.quotas import QuotaExceeded, Remaining
from bot.recognizer import ErrorKind, RecognitionError
from bot.results import Segment
from bot.summary import SEGMENT_NAMES, summarize, summarize_line

# Megapixels are millions of pixels; megabytes are MiB, as Telegram counts them (its
# "20 MB" download limit is 20 MiB, which 10^6-byte megabytes would print as 21 MB).
_MEGAPIXEL = 1_000_000
_MB = 1024 * 1024
# Chinese counts a resolution in 万 (ten thousand pixels), as its camera specs do:
# 50 megapixels is 5000 万像素, 0.3 megapixels 30 万像素 (by the catalogs' Language).
_PIXELS_PER_UNIT: Mapping[str, int] = {"zh": 10_000, "zh_Hant": 10_000}
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


def help_text(tr: Translations) -> str:
    """/start and /help."""
    _ = tr.gettext
    return _(
        "Send me a photo and I will tell you which parts the Kling recognition service "
        "finds in it: a head (face with hair), a face, clothing and a main object.\n\n"
        "Accepted: JPG and PNG, at least 300 px on each side, with an aspect ratio "
        "between 1:2.5 and 2.5:1. WebP, HEIC, GIF, BMP and TIFF are converted for you; "
        "images over 10 MB are shrunk. Files up to 20 MB can be downloaded.\n\n"
        "Tip: send the image as a file (📎 → File) to keep its original quality; "
        "Telegram compresses photos.\n\n"
        "In groups: reply to a photo with /check. Admins can have every photo checked: "
        "/moderate on|off|dry (dry: I only report what I would do), /forbid, /require or "
        "/allow a segment (head, face, clothing, object), /action warn|delete|report, "
        "/warnlimit for a mute or ban after repeated warnings, /policy to see the settings. "
        "To see every photo I must be an admin (or privacy mode must be off in @BotFather); "
        "to delete photos I need the 'Delete messages' right, to mute and ban the 'Ban "
        "users' right.\n\n"
        "/quota shows your checks left today; /lang en|ru|zh|zh-hant sets the language."
    )


def hint(tr: Translations) -> str:
    """Anything else in a private chat."""
    return tr.gettext(
        "Send me a photo (or an image as a file) and I will tell you what I find in it. /help"
    )


def reply_for(outcome: Outcome, tr: Translations, now: datetime) -> str:
    """The one answer a person gets for one image."""
    match outcome:
        case Recognized(result=result, image=image):
            note = change_note(image, tr) if image else ""
            return summarize(result, tr) + (f"\n\n{note}" if note else "")
        case Refused(reason=reason):
            return refusal(reason, tr)
        case Limited(exceeded=exceeded):
            return limit_reached(exceeded, tr, now)
        case Failed(error=error):
            return failure(error, tr)


def album_reply(outcomes: Sequence[Outcome], tr: Translations, now: datetime) -> str:
    """One answer for an album: a line per image, in the order they were sent."""
    lines = [
        tr.ngettext(
            "Results for {count} image:", "Results for {count} images:", len(outcomes)
        ).format(count=len(outcomes))
    ]
    for number, outcome in enumerate(outcomes, start=1):
        if isinstance(outcome, Recognized):
            line = summarize_line(outcome.result, tr)
        else:
            line = reply_for(outcome, tr, now)
        lines.append(f"{number}. {line}")
    return "\n".join(lines)


def change_note(image: PreparedImage, tr: Translations) -> str:
    """Tell the person what was done to their image before it was checked."""
    _ = tr.gettext
    notes = []
    if Change.CONVERTED in image.changes:
        target = "PNG" if image.mime == "image/png" else "JPEG"
        notes.append(
            _("converted from {source} to {target}").format(
                source=image.source_format, target=target
            )
        )
    if Change.FIRST_FRAME in image.changes:
        notes.append(_("reduced to its first frame"))
    if Change.SHRUNK in image.changes:
        notes.append(
            _("shrunk to {width} x {height} px to fit the 10 MB limit").format(
                width=image.width, height=image.height
            )
        )
    if Change.RECOMPRESSED in image.changes:
        notes.append(_("compressed to fit the 10 MB limit"))
    if not notes:
        return ""
    return "ℹ️ " + _("Your image was {changes} before the check.").format(
        changes=_(" and ").join(notes)
    )


def refusal(reason: ImageRejected, tr: Translations) -> str:
    """Which rule the image broke, its actual value, and what to do."""
    _ = tr.gettext
    match reason:
        case TooSmall(width=w, height=h):
            return _(
                "This image is {width} x {height} px; each side must be at least "
                "{minimum} px. Please send a larger image."
            ).format(width=w, height=h, minimum=images.MIN_SIDE)
        case BadAspectRatio(width=w, height=h):
            return _(
                "This image is {width} x {height} px, an aspect ratio of {ratio}; it must "
                "be between 1:2.5 and 2.5:1. Please crop it and send it again."
            ).format(width=w, height=h, ratio=_ratio(w, h, tr))
        case TooLargeToDownload(size=None, limit=limit):
            return _(
                "This file is over {limit} MB; Telegram lets bots download at most {limit} "
                "MB. Please send a smaller file, or send it as a photo so Telegram "
                "compresses it."
            ).format(limit=decimal(limit / _MB, 0, tr))
        case TooLargeToDownload(size=int(size), limit=limit):
            return _(
                "This file is {size} MB; Telegram lets bots download at most {limit} "
                "MB. Please send a smaller file, or send it as a photo so Telegram "
                "compresses it."
            ).format(
                size=decimal(megabytes(size), 1, tr),
                limit=decimal(limit / _MB, 0, tr),
            )
        case TooManyPixels(width=w, height=h, limit=limit) if w and h:
            return _(
                "This image is {width} x {height} px; I can check at most {limit}. "
                "Please send a smaller version."
            ).format(width=w, height=h, limit=megapixels(limit, tr))
        case TooManyPixels(limit=limit):
            return _(
                "This image is too large; I can check at most {limit}. Please send a "
                "smaller version."
            ).format(limit=megapixels(limit, tr))
        case HiddenPayload():
            return _(
                "This image has another file attached to its end, so I will not pass it "
                "on. Please send a plain photo."
            )
        case TooMuchWork(what=Work.MEMORY):
            return _(
                "This image is too large to check with the memory I have. Please send it "
                "as a photo rather than as a file, or send a smaller JPG or PNG."
            )
        case TooMuchWork():
            return _(
                "This image takes too much work to check. Please export it again as a "
                "normal JPG or PNG and send it."
            )
        case CorruptImage():
            return _("This image file is damaged or incomplete. Please export it again and resend.")
        case NotAnImage():
            return _(
                "I could not read this file as an image. Please send a JPG or PNG "
                "(WebP, HEIC, GIF, BMP and TIFF are converted)."
            )
    return _("I cannot check this image. Please send a JPG or PNG photo.")


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
    return math.ceil(size * 10 / _MB) / 10


def busy(tr: Translations) -> str:
    """The service is overloaded or unreachable."""
    return tr.gettext("The recognition service is busy right now. Please try again in a minute.")


def failure(error: RecognitionError | DownloadError | DeadlineExceeded, tr: Translations) -> str:
    """A sentence for a failure of Telegram, the API or the clock."""
    _ = tr.gettext
    if isinstance(error, DownloadError):
        return _("I could not download this image from Telegram. Please send it again.")
    if isinstance(error, DeadlineExceeded):
        return _("This is taking too long; the service is busy. Please try again later.")
    if error.operator_problem:
        return _(
            "The recognition service is not set up correctly on this bot. "
            "The operator has been told; please try again later."
        )
    if error.kind is ErrorKind.CONTENT_POLICY:
        return _("The recognition service refused this image under its content policy.")
    if error.kind is ErrorKind.INVALID_REQUEST:
        return _("The recognition service could not process this image. Please try another one.")
    if error.kind is ErrorKind.BAD_RESPONSE:
        return _("The recognition service gave an answer I could not read. Please try again later.")
    return busy(tr)


def too_many_at_once(tr: Translations) -> str:
    """A person has more images waiting than the bot queues."""
    return tr.gettext(
        "You have sent many images at once and I am still working on them. "
        "Please send this one again in a minute."
    )


def set_aside(tr: Translations) -> str:
    """An update whose handling stopped the bot several times: answered once, not again."""
    return tr.gettext(
        "I could not check this image: trying stopped me several times. "
        "Please send it again as a JPG or PNG photo."
    )


def apology(error_id: str, tr: Translations) -> str:
    """The answer when something unexpected broke; the id matches the log line."""
    return tr.gettext(
        "Sorry, something went wrong on my side (error id {error_id}). "
        "Please try again; if it keeps happening, tell the operator this id."
    ).format(error_id=error_id)


def storage_unavailable(tr: Translations) -> str:
    """The bot's own storage is down and what was asked needs it (settings, /quota, /stats)."""
    return tr.gettext(
        "I cannot reach my settings and counters right now. Please try again in a minute."
    )


def _until(resets_at: datetime, now: datetime, tr: Translations) -> str:
    """The wait until a reset in words, rounded up to the minute (never "0 minutes"), worded
    to follow "in": the context "in" lets a language put the count in the case its word for
    "in" takes (Russian "через 21 минуту", where a penalty reads "21 минута")."""
    days, hours, minutes = _days_hours_minutes(math.ceil((resets_at - now).total_seconds()))
    return _units(
        (days, tr.npgettext("in", "{n} day", "{n} days", days)),
        (hours, tr.npgettext("in", "{n} hour", "{n} hours", hours)),
        (minutes, tr.npgettext("in", "{n} minute", "{n} minutes", minutes)),
    )


def limit_reached(exceeded: QuotaExceeded, tr: Translations, now: datetime) -> str:
    """A daily limit is used up: which, and when it resets."""
    limit = exceeded.limit
    if exceeded.scope == "user":
        text = tr.ngettext(
            "You have used your {limit} check for today.",
            "You have used all {limit} of your checks for today.",
            limit,
        )
    elif exceeded.scope == "group":
        text = tr.ngettext(
            "This group has used its {limit} check for today.",
            "This group has used all {limit} of its checks for today.",
            limit,
        )
    else:
        text = tr.ngettext(
            "The bot has used its {limit} check for today.",
            "The bot has used all {limit} of its checks for today.",
            limit,
        )
    return _sentences(text.format(limit=limit), _resets(exceeded.resets_at, now, tr))


def _resets(resets_at: datetime, now: datetime, tr: Translations) -> str:
    return tr.gettext("They reset at 00:00 UTC, in {time}.").format(time=_until(resets_at, now, tr))


def _sentences(first: str, second: str) -> str:
    """Two sentences in a row: a space between them, none after a full-width stop (Chinese)."""
    return first + ("" if first.endswith(("。", "！", "？", "）")) else " ") + second


def quota_report(remaining: Remaining | None, tr: Translations, now: datetime) -> str:
    """/quota; None for bot admins, who have no limit."""
    _ = tr.gettext
    if remaining is None:
        return _("You are one of the bot's admins: no daily limit applies to you.")
    unlimited = _("no limit")
    lines = [
        _("Checks left today for you: {left}").format(
            left=unlimited if remaining.user is None else remaining.user
        ),
        _("Checks left today for the whole bot: {left}").format(
            left=unlimited if remaining.overall is None else remaining.overall
        ),
        _resets(remaining.resets_at, now, tr),
    ]
    return "\n".join(lines)


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


def not_allowed(tr: Translations) -> str:
    """A person outside the allow-list, in a private chat."""
    return tr.gettext("Sorry, this bot is private. Ask its operator for access.")


def bot_admins_only(tr: Translations) -> str:
    """A command for the bot's own admins."""
    return tr.gettext("Only the bot's admins can use this command.")


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


def duration(seconds: int, tr: Translations) -> str:
    """A length of time in words, to the minute (rounded up), largest unit first:
    "30 minutes", "1 hour 30 minutes", "7 days"; 0 is a penalty without end, "forever".

    On its own, as a /settings button shows a penalty's length; inside a sentence a
    penalty's length is `_for_length` and the wait until a daily reset `_until`, which
    split time alike; each unit goes through ngettext for its plural form.
    """
    if seconds == 0:
        return tr.gettext("forever")
    days, hours, minutes = _days_hours_minutes(seconds)
    return _units(
        (days, tr.ngettext("{n} day", "{n} days", days)),
        (hours, tr.ngettext("{n} hour", "{n} hours", hours)),
        (minutes, tr.ngettext("{n} minute", "{n} minutes", minutes)),
    )


def _days_hours_minutes(seconds: int) -> tuple[int, int, int]:
    """`seconds` rounded up to the minute (at least one), split into days, hours and minutes."""
    days, rest = divmod(max(1, math.ceil(seconds / 60)), 24 * 60)
    hours, minutes = divmod(rest, 60)
    return days, hours, minutes


def _units(*units: tuple[int, str]) -> str:
    """Each (count, its catalog text) with a count, largest first: "1 hour 30 minutes"."""
    return " ".join(text.format(n=count) for count, text in units if count)


def _for_length(seconds: int, tr: Translations) -> str:
    """How long a penalty lasts, worded to follow the penalty: in English as `duration`,
    in Russian with «на» and the accusative it takes («на 21 минуту», where a label reads
    «21 минута»); "forever" stands alone («навсегда», never «на навсегда»)."""
    if seconds == 0:
        return tr.gettext("forever")
    days, hours, minutes = _days_hours_minutes(seconds)
    length = _units(
        (days, tr.npgettext("for", "{n} day", "{n} days", days)),
        (hours, tr.npgettext("for", "{n} hour", "{n} hours", hours)),
        (minutes, tr.npgettext("for", "{n} minute", "{n} minutes", minutes)),
    )
    return tr.pgettext("for", "{length}").format(length=length)


def penalty_text(settings: ChatSettings, tr: Translations) -> str:
    """What the warning limit leads to: "a mute (1 day)", "a ban (forever)"."""
    length = _for_length(settings.penalty_seconds, tr)
    if settings.penalty is Penalty.BAN:
        return tr.gettext("a ban ({length})").format(length=length)
    return tr.gettext("a mute ({length})").format(length=length)


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
    length = _for_length(settings.penalty_seconds, tr)
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


def limit_reported_once(tr: Translations) -> str:
    """Added to the one report a group gets when its daily limit is used up."""
    return tr.gettext("Until the limit resets I will not report this group's photos again.")


def group_limit_operator(chat: str, chat_id: int, limit: int, tr: Translations) -> str:
    """To the operator, once per group and day: a group used up GROUP_DAILY_LIMIT."""
    return "⚠️ " + tr.ngettext(
        "{chat} ({chat_id}) used its {limit} check for today (GROUP_DAILY_LIMIT); its "
        "photos go unchecked until the limit resets.",
        "{chat} ({chat_id}) used its {limit} checks for today (GROUP_DAILY_LIMIT); its "
        "photos go unchecked until the limit resets.",
        limit,
    ).format(chat=chat, chat_id=chat_id, limit=limit)


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


def restored_caption(admin: str, author: str, tr: Translations) -> str:
    """The caption of a deleted photo the bot posts back after an Undo."""
    return tr.gettext("Restored by {admin}; posted by {author}.").format(admin=admin, author=author)


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


def check_usage(tr: Translations) -> str:
    """/check without a photo to check."""
    return tr.gettext("Reply to a photo or an image file with /check to check it.")


def _ratio(width: int, height: int, tr: Translations) -> str:
    if width >= height:
        return decimal(width / height, 2, tr) + ":1"
    return "1:" + decimal(height / width, 2, tr)


def segment_name(kind: str, tr: Translations) -> str:
    """A segment type by the name the summary gives it (a type added later: its raw name);
    the caption of its cut-out."""
    try:
        return tr.gettext(SEGMENT_NAMES[Segment(kind)])
    except ValueError:
        return kind


def cutouts_button(tr: Translations) -> str:
    """The button under an answer whose cut-outs the bot may fetch."""
    return tr.gettext("Show cut-outs")


def cutouts_gone_button(tr: Translations) -> str:
    """The same button once the cut-outs' links have expired."""
    return tr.gettext("Cut-outs no longer available")


def cutouts_gone(tr: Translations) -> str:
    """A press after the links expired (the API keeps cut-outs 30 days)."""
    return tr.gettext("These cut-outs are no longer available.")


def cutouts_not_yours(tr: Translations) -> str:
    """A press by someone other than the person who asked."""
    return tr.gettext("Only the person who asked can open these cut-outs.")


def cutouts_taken(tr: Translations) -> str:
    """A second press while the cut-outs are being sent, or after."""
    return tr.gettext("The cut-outs are already on their way.")


def cutouts_later(tr: Translations) -> str:
    """The host or Telegram failed this time; a later press tries again."""
    return tr.gettext("I could not send the cut-outs just now; please try again in a few minutes.")


def cutouts_start_first(bot_name: str, tr: Translations) -> str:
    """A press in a group by someone who never opened a chat with the bot: cut-outs go to
    the asker's private chat, never to the group."""
    return tr.gettext(
        "I send cut-outs in a private chat. Open a chat with @{bot}, then press again."
    ).format(bot=bot_name)
