"""Every outcome becomes one clear sentence with the actual numbers."""

from __future__ import annotations

import pytest

from bot.images import (
    BadAspectRatio,
    Change,
    CorruptImage,
    HiddenPayload,
    NotAnImage,
    PreparedImage,
    TooLargeToDownload,
    TooManyPixels,
    TooSmall,
)
from bot.messages import apology, failure, refusal, reply_for
from bot.pipeline import DeadlineExceeded, DownloadError, Failed, Recognised, Refused
from bot.recognizer import ErrorKind, RecognitionError, RecognitionResult


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (TooSmall(250, 400), "This image is 250 x 400 px; each side must be at least 300 px."),
        (BadAspectRatio(300, 1000), "an aspect ratio of 1:3.33; it must be between 1:2.5"),
        (TooLargeToDownload(25_300_000), "This file is 25.3 MB;"),
        (TooManyPixels(8000, 8000), "This image is 8000 x 8000 px; I can check at most 50"),
        (TooManyPixels(), "This image is too large; I can check at most 50 megapixels"),
        (HiddenPayload(), "another file attached"),
        (CorruptImage(), "damaged or incomplete"),
        (NotAnImage(), "could not read this file as an image"),
    ],
)
def test_refusals_name_the_rule_and_the_value(reason: Exception, expected: str) -> None:
    assert expected in refusal(reason)  # type: ignore[arg-type]


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
    text = failure(RecognitionError(kind, status=500, code=5000, request_id="r"))
    assert expected in text
    assert "5000" not in text
    assert "500" not in text


def test_telegram_and_deadline_failures() -> None:
    assert "download" in failure(DownloadError("x"))
    assert "try again later" in failure(DeadlineExceeded("x"))


def test_each_outcome_has_one_answer_and_changes_are_told() -> None:
    image = PreparedImage(
        b"x", "image/jpeg", 2000, 1500, "HEIF", frozenset({Change.CONVERTED, Change.SHRUNK})
    )
    result = RecognitionResult({"head_seg": True})
    text = reply_for(Recognised(result, image))
    assert text.startswith("Found 1 of 4")
    assert "converted from HEIF to JPEG and shrunk to 2000 x 1500 px" in text
    assert reply_for(Refused(TooSmall(1, 1))).startswith("This image is 1 x 1 px")
    assert reply_for(Failed(DownloadError("x"))).startswith("I could not download")


def test_apology_carries_the_error_id() -> None:
    assert "error id abc123" in apology("abc123")
