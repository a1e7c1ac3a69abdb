"""Every sentence a person reads: help, hints, refusals, failures."""

from __future__ import annotations

from bot import images
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
    TooSmall,
)
from bot.pipeline import DeadlineExceeded, DownloadError, Failed, Outcome, Recognised, Refused
from bot.recognizer import ErrorKind, RecognitionError
from bot.summary import summarise

HELP = (
    "Send me a photo and I will tell you which parts the Kling recognition service "
    "finds in it: a head (face with hair), a face, clothing and a main object.\n\n"
    "Accepted: JPG and PNG, at least 300 px on each side, with an aspect ratio "
    "between 1:2.5 and 2.5:1. WebP, HEIC, GIF, BMP and TIFF are converted for you; "
    "images over 10 MB are shrunk. Files up to 20 MB can be downloaded.\n\n"
    "Tip: send the image as a file (📎 → File) to keep its original quality; "
    "Telegram compresses photos."
)
HINT = "Send me a photo (or an image as a file) and I will tell you what I find in it. /help"
BUSY = "The recognition service is busy right now. Please try again in a minute."

_MB = 1_000_000


def reply_for(outcome: Outcome) -> str:
    """The one answer a person gets for one image."""
    match outcome:
        case Recognised(result=result, image=image):
            note = change_note(image)
            return summarise(result) + (f"\n\n{note}" if note else "")
        case Refused(reason=reason):
            return refusal(reason)
        case Failed(error=error):
            return failure(error)


def change_note(image: PreparedImage) -> str:
    """Tell the person what was done to their image before it was checked."""
    notes = []
    if Change.CONVERTED in image.changes:
        target = "PNG" if image.mime == "image/png" else "JPEG"
        notes.append(f"converted from {image.source_format} to {target}")
    if Change.SHRUNK in image.changes:
        notes.append(f"shrunk to {image.width} x {image.height} px to fit the 10 MB limit")
    if Change.RECOMPRESSED in image.changes:
        notes.append("compressed to fit the 10 MB limit")
    if not notes:
        return ""
    return "ℹ️ Your image was " + " and ".join(notes) + " before the check."


def refusal(reason: ImageRejected) -> str:
    """Which rule the image broke, its actual value, and what to do."""
    match reason:
        case TooSmall(width=w, height=h):
            return (
                f"This image is {w} x {h} px; each side must be at least "
                f"{images.MIN_SIDE} px. Please send a larger image."
            )
        case BadAspectRatio(width=w, height=h):
            return (
                f"This image is {w} x {h} px, an aspect ratio of {_ratio(w, h)}; it must be "
                "between 1:2.5 and 2.5:1. Please crop it and send it again."
            )
        case TooLargeToDownload(size=size):
            return (
                f"This file is {size / _MB:.1f} MB; Telegram lets bots download at most "
                f"{images.MAX_DOWNLOAD_BYTES / _MB:.0f} MB. Please send a smaller file, "
                "or send it as a photo so Telegram compresses it."
            )
        case TooManyPixels(width=w, height=h):
            shown = f"{w} x {h} px" if w and h else "too large"
            return (
                f"This image is {shown}; I can check at most "
                f"{images.MAX_PIXELS // _MB} megapixels. Please send a smaller version."
            )
        case HiddenPayload():
            return (
                "This image has another file attached to its end, so I will not pass it "
                "on. Please send a plain photo."
            )
        case CorruptImage():
            return "This image file is damaged or incomplete. Please export it again and resend."
        case NotAnImage():
            return (
                "I could not read this file as an image. Please send a JPG or PNG "
                "(WebP, HEIC, GIF, BMP and TIFF are converted)."
            )
    return "I cannot check this image. Please send a JPG or PNG photo."


def failure(error: RecognitionError | DownloadError | DeadlineExceeded) -> str:
    """A sentence for a failure of Telegram, the API or the clock."""
    if isinstance(error, DownloadError):
        return "I could not download this image from Telegram. Please send it again."
    if isinstance(error, DeadlineExceeded):
        return "This is taking too long; the service is busy. Please try again later."
    if error.operator_problem:
        return (
            "The recognition service is not set up correctly on this bot. "
            "The operator has been told; please try again later."
        )
    if error.kind is ErrorKind.CONTENT_POLICY:
        return "The recognition service refused this image under its content policy."
    if error.kind is ErrorKind.INVALID_REQUEST:
        return "The recognition service could not process this image. Please try another one."
    if error.kind is ErrorKind.BAD_RESPONSE:
        return "The recognition service gave an answer I could not read. Please try again later."
    return BUSY


def apology(error_id: str) -> str:
    """The answer when something unexpected broke; the id matches the log line."""
    return (
        f"Sorry, something went wrong on my side (error id {error_id}). "
        "Please try again; if it keeps happening, tell the operator this id."
    )


def _ratio(width: int, height: int) -> str:
    if width >= height:
        return f"{width / height:.2f}:1"
    return f"1:{height / width:.2f}"
