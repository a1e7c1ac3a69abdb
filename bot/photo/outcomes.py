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


def outcome_name(outcome: Outcome) -> str:
    """The outcome's one name in the log line, /stats and the metrics (README, "Logs"):
    `recognized` (whether the answer came from the API or the cache), `refused:<rule>`,
    `limited:<scope>`, `failed:<kind>`."""
    match outcome:
        case Recognized():
            return "recognized"
        case Refused(reason=reason):
            return f"refused:{type(reason).__name__}"
        case Limited(exceeded=exceeded):
            return f"limited:{exceeded.scope}"
        case Failed(error=RecognitionError() as error):
            return f"failed:{error.kind.value}"
        case Failed(error=DownloadError()):
            return "failed:download"
        case Failed():
            return "failed:deadline"


def cache_name(outcome: Outcome) -> str | None:
    """Where a recognition's answer came from: `hit` (the cache, this file or these
    bytes), `near` (another upload of the same picture, bot/photo/near.py) or `miss` (the API);
    None for any other outcome."""
    match outcome:
        case Recognized(near=True):
            return "near"
        case Recognized(cached=True):
            return "hit"
        case Recognized():
            return "miss"
        case _:
            return None
