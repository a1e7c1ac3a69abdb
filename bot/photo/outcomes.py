"""What became of one image: a closed union the Telegram layer turns into words or actions.

Kept apart from the pipeline so that whoever reads outcomes (messages, alerts,
moderation) does not depend on how they are made.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.photo.images import PreparedImage
from bot.photo.quotas import Charge, QuotaExceeded
from bot.photo.rules import ImageRejected
from bot.recognition.errors import RecognitionError
from bot.recognition.results import RecognitionResult


class DownloadError(Exception):
    """The image could not be fetched from Telegram."""


class DeadlineExceeded(Exception):
    """The whole path took longer than the per-photo deadline."""


@dataclass(frozen=True)
class Recognized:
    """The API's result (perhaps from the cache), the image as sent if it was, the keys
    of its content (the hash of the bytes sent, and on a near-duplicate hit the key of the
    picture it is a copy of; none on a Telegram-file cache hit), and the check it cost
    the person (None when no call was made for them). `near`: the result is another
    upload's of the same picture, found by its fingerprint (bot/photo/near.py)."""

    result: RecognitionResult
    image: PreparedImage | None = None
    cached: bool = False
    content_keys: tuple[str, ...] = ()
    charge: Charge | None = None
    near: bool = False


@dataclass(frozen=True)
class Refused:
    """The image breaks a rule that cannot be fixed; no API call was made."""

    reason: ImageRejected


@dataclass(frozen=True)
class Limited:
    """A daily limit is used up; no API call was made."""

    exceeded: QuotaExceeded


@dataclass(frozen=True)
class Failed:
    """Telegram or the API failed, or time ran out."""

    error: RecognitionError | DownloadError | DeadlineExceeded


Outcome = Recognized | Refused | Limited | Failed
