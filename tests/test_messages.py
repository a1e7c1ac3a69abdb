"""Every outcome becomes one clear sentence with the actual numbers."""

from __future__ import annotations

import gettext
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.messages.group_admins import settings_text
from bot.messages.group_members import breach_warning
from bot.messages.people import (
    album_reply,
    apology,
    failure,
    limit_reached,
    quota_report,
    refusal,
    reply_for,
)
from bot.messages.units import duration
from bot.moderation import Action, Breach, ChatSettings, Mode, Penalty
from bot.photo.images import Change, PreparedImage
from bot.photo.outcomes import DeadlineExceeded, DownloadError, Failed, Limited, Recognized, Refused
from bot.photo.quotas import QuotaExceeded, Remaining
from bot.photo.rules import (
    MAX_DOWNLOAD_BYTES,
    BadAspectRatio,
    CorruptImage,
    HiddenPayload,
    NotAnImage,
    TooLargeToDownload,
    TooManyPixels,
    TooMuchWork,
    TooSmall,
    Work,
)
from bot.recognition.errors import ErrorKind, RecognitionError
from bot.recognition.results import RecognitionResult, Segment

EN = gettext.NullTranslations()
NOW = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (TooSmall(250, 400), "This image is 250 x 400 px; each side must be at least 300 px."),
        (BadAspectRatio(300, 1000), "an aspect ratio of 1:3.33; it must be between 1:2.5"),
        # Sizes in MiB, as Telegram counts them; rounded up, so "over 20 MB" never reads 20.0.
        (TooLargeToDownload(25_300_000, MAX_DOWNLOAD_BYTES), "This file is 24.2 MB; Telegram "),
        (TooLargeToDownload(MAX_DOWNLOAD_BYTES + 1, MAX_DOWNLOAD_BYTES), "20.1 MB; Telegram"),
        (TooLargeToDownload(MAX_DOWNLOAD_BYTES + 1, MAX_DOWNLOAD_BYTES), "at most 20 MB."),
        (TooLargeToDownload(3 * 1024**3, 2000 * 1024**2), "3072.0 MB; Telegram lets bots "),
        (TooLargeToDownload(3 * 1024**3, 2000 * 1024**2), "at most 2000 MB."),
        # A declared size no file has is shown as "over the limit", never as 31 digits.
        (TooLargeToDownload(10**30, MAX_DOWNLOAD_BYTES), "This file is over 20 MB; Telegram"),
        (TooLargeToDownload(2**53 + 1, MAX_DOWNLOAD_BYTES), "This file is over 20 MB; Telegram"),
        (TooMuchWork(Work.SCANS, 200_000, 100), "too much work to check. Please export it"),
        (TooMuchWork(Work.CPU, None, 5), "too much work to check. Please export it"),
        (TooMuchWork(Work.MEMORY, None, 0), "send it as a photo rather than as a file"),
        (TooManyPixels(8000, 8000), "This image is 8000 x 8000 px; I can check at most 50"),
        (TooManyPixels(), "This image is too large; I can check at most 50 megapixels"),
        (HiddenPayload(), "another file attached"),
        (CorruptImage(), "damaged or incomplete"),
        (NotAnImage(), "could not read this file as an image"),
    ],
)
def test_refusals_name_the_rule_and_the_value(reason: Exception, expected: str) -> None:
    assert expected in refusal(reason, EN)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (ErrorKind.RATE_LIMITED, "busy right now. Please try again in a minute."),
        (ErrorKind.SERVER, "busy right now"),
        (ErrorKind.TIMEOUT, "busy right now"),
        (ErrorKind.NETWORK, "busy right now"),
        (ErrorKind.CONTENT_POLICY, "content policy"),
        (ErrorKind.INVALID_REQUEST, "could not process this image"),
        (ErrorKind.BAD_RESPONSE, "could not read"),
        (ErrorKind.AUTH, "operator has been told"),
        (ErrorKind.ACCOUNT, "operator has been told"),
        (ErrorKind.PERMISSION, "operator has been told"),
        (ErrorKind.IP_BLOCKED, "operator has been told"),
        (ErrorKind.NOT_FOUND, "operator has been told"),
    ],
)
def test_api_failures_read_as_sentences(kind: ErrorKind, expected: str) -> None:
    text = failure(RecognitionError(kind, status=500, code=5000, request_id="r"), EN)
    assert expected in text
    assert "5000" not in text
    assert "500" not in text


def test_telegram_and_deadline_failures() -> None:
    assert "download" in failure(DownloadError("x"), EN)
    assert "try again later" in failure(DeadlineExceeded("x"), EN)


def test_each_outcome_has_one_answer_and_changes_are_told() -> None:
    image = PreparedImage(
        b"x", "image/jpeg", 2000, 1500, "HEIF", frozenset({Change.CONVERTED, Change.SHRUNK})
    )
    result = RecognitionResult({"head_seg": True})
    text = reply_for(Recognized(result, image), EN, NOW)
    assert text.startswith("Found 1 of 4")
    assert "converted from HEIF to JPEG and shrunk to 2000 x 1500 px" in text
    assert reply_for(Refused(TooSmall(1, 1)), EN, NOW).startswith("This image is 1 x 1 px")
    assert reply_for(Failed(DownloadError("x")), EN, NOW).startswith("I could not download")


def test_apology_carries_the_error_id() -> None:
    assert "error id abc123" in apology("abc123", EN)


def test_limits_say_which_and_when_they_reset() -> None:
    text = limit_reached(QuotaExceeded("user", 50, MIDNIGHT), EN, NOW)
    assert text == (
        "You have used all 50 of your checks for today. They reset at 00:00 UTC, "
        "in 2 hours 30 minutes."
    )
    assert reply_for(Limited(QuotaExceeded("global", 9, MIDNIGHT)), EN, NOW).startswith(
        "The bot has used all 9"
    )
    report = quota_report(Remaining(user=3, overall=None, resets_at=MIDNIGHT), EN, NOW)
    assert report.splitlines() == [
        "Checks left today for you: 3",
        "Checks left today for the whole bot: no limit",
        "They reset at 00:00 UTC, in 2 hours 30 minutes.",
    ]
    assert "no daily limit" in quota_report(None, EN, NOW)


def test_album_answer_has_one_line_per_image_in_order() -> None:
    outcomes = [
        Recognized(RecognitionResult({"head_seg": True, "face_seg": False})),
        Refused(TooSmall(200, 200)),
    ]
    lines = album_reply(outcomes, EN, NOW).splitlines()
    assert lines[0] == "Results for 2 images:"
    assert lines[1].startswith("1. ✅ Head (face with hair) · ❌ Face")
    assert lines[2].startswith("2. This image is 200 x 200 px")
    assert len(lines) == 3


def test_policy_and_breaches_read_naturally() -> None:
    settings = ChatSettings(
        mode=Mode.ON,
        forbid=frozenset({Segment.FACE}),
        require=frozenset({Segment.CLOTHING}),
        action=Action.DELETE,
    )
    assert settings_text(settings, EN, allowed=2).splitlines() == [
        "Moderation: on",
        "Forbidden: Face",
        "Required: Clothing",
        "Action: delete (remove the photo and post a notice)",
        "Warning limit: 3, then a mute (1 day)",
        "Photos I cannot check: report them to the admins",
        "Allow list: 2 images",
        "Files that are not images, and GIFs: ignored",
        "Not checked so far: 0 photos",
        "Language: each person's own",
    ]
    dry_ban = replace(settings, mode=Mode.DRY, penalty=Penalty.BAN, penalty_seconds=0)
    assert settings_text(dry_ban, EN, allowed=0).splitlines()[0] == (
        "Moderation: trial run (I only report what I would do)"
    )
    assert "Warning limit: 3, then a ban (forever)" in settings_text(dry_ban, EN, allowed=0)
    warning = breach_warning(
        [Breach(Segment.FACE, forbidden=True), Breach(Segment.CLOTHING, forbidden=False)], EN
    )
    assert warning == (
        "⚠️ This photo breaks the chat's rules: it shows Face, which is forbidden here; "
        "it does not show Clothing, which is required here."
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "forever"),
        (60, "1 minute"),
        (1800, "30 minutes"),
        (3600, "1 hour"),
        (5400, "1 hour 30 minutes"),
        (90000, "1 day 1 hour"),
        (7 * 86400, "7 days"),
        (20, "1 minute"),
    ],
)
def test_lengths_in_words_largest_unit_first(seconds: int, text: str) -> None:
    assert duration(seconds, EN) == text
