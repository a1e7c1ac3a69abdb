"""What a person reads: the answers to their photos (a summary, a refusal with its
numbers, a failure), their limits, help and hints; and the notices moderation posts
about a member's photo in a group.

All under one gettext domain (bot/i18n.py); the catalogs are bot/locales/."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.i18n import Translations, decimal
from bot.messages.summary import SEGMENT_NAMES, summarize, summarize_line
from bot.messages.units import MB, megabytes, megapixels, sentences, until
from bot.photo import rules
from bot.photo.images import Change, PreparedImage
from bot.photo.outcomes import (
    DeadlineExceeded,
    DownloadError,
    Failed,
    Limited,
    Outcome,
    Recognized,
    Refused,
)
from bot.photo.quotas import QuotaExceeded, Remaining
from bot.photo.rules import (
    BadAspectRatio,
    CorruptImage,
    HiddenPayload,
    ImageRejected,
    NotAnImage,
    TooLargeToDownload,
    TooManyPixels,
    TooMuchWork,
    TooSmall,
    Work,
)
from bot.recognition.errors import ErrorKind, RecognitionError
from bot.recognition.results import Segment


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
            ).format(width=w, height=h, minimum=rules.MIN_SIDE)
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
            ).format(limit=decimal(limit / MB, 0, tr))
        case TooLargeToDownload(size=int(size), limit=limit):
            return _(
                "This file is {size} MB; Telegram lets bots download at most {limit} "
                "MB. Please send a smaller file, or send it as a photo so Telegram "
                "compresses it."
            ).format(
                size=decimal(megabytes(size), 1, tr),
                limit=decimal(limit / MB, 0, tr),
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
    return sentences(text.format(limit=limit), _resets(exceeded.resets_at, now, tr))


def _resets(resets_at: datetime, now: datetime, tr: Translations) -> str:
    return tr.gettext("They reset at 00:00 UTC, in {time}.").format(time=until(resets_at, now, tr))


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


def not_allowed(tr: Translations) -> str:
    """A person outside the allow-list, in a private chat."""
    return tr.gettext("Sorry, this bot is private. Ask its operator for access.")


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
