"""The recognition API's image rules, and the refusals that carry the numbers.

What the API accepts: JPEG or PNG, at most 10 MB, each side at least 300 px, aspect
ratio within 1:2.5..2.5:1; and what the bot itself takes on to check (pixels, scans,
bytes to download). `check_declared` refuses early from what Telegram tells before a
download; bot/photo/images.py applies the rest to the bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeGuard

MAX_UPLOAD_BYTES = 10_000_000
# What a bot may download: Telegram's "20 MB" are MiB; a local Bot API server
# (TELEGRAM_LOCAL_MODE) serves files of up to 2000 MB. The rules below hold either way.
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
LOCAL_SERVER_MAX_DOWNLOAD_BYTES = 2000 * 1024 * 1024
MIN_SIDE = 300
# The largest number a declared size or dimension may be before it is no real file's:
# 2^53 is where a float (JSON's numbers, as some Bot API servers write them) stops
# counting whole units. Sizes over it are shown as "over the limit", not as 25 digits.
MAX_DECLARED = 2**53
MIN_ASPECT = 0.4
MAX_ASPECT = 2.5
# 50 MP covers every phone camera's default output; a bigger canvas is either a
# panorama we cannot send or a decompression bomb (a local Bot API server lets
# files of up to 2000 MB through, so this is what bounds decoding there).
MAX_PIXELS = 50_000_000
JPEG_QUALITY = 90
# A PNG sent as it is gets a fingerprint only up to this size: it is decoded for nothing
# else, and a 9.8 MB one took 150 ms of a worker. A phone's screenshot is 1-3 MB.
PRINTED_PNG_BYTES = 4_000_000
# Real encoders write about 10 scans (libjpeg's default progression: 10 for colour,
# 6 for grey; mozjpeg's searched scripts stay under 64). Each scan walks every block
# of its components, so a file that repeats one scan 200,000 times cost 138 s of CPU
# in 5.6 MB; libjpeg-turbo's own tools cap scans for exactly this attack (-maxscans).
MAX_SCANS = 100
# Each scan walks every block: a progressive JPEG's decode CPU grows with scans x pixels.
# 99 scans of a 49 MP image took 7 s here; a 48 MP photo of 10-20 scans (what encoders
# write) is 0.5-1 G, so 1.5 G pixel-scans lets every real file through and refuses
# anything near 100 scans at full size before it reaches a worker's CPU limit.
MAX_SCAN_PIXELS = 1_500_000_000


class ImageRejected(Exception):
    """The image cannot be sent to the API; subclasses carry the numbers to show."""


class NotAnImage(ImageRejected):
    """The bytes are empty or no readable image format."""


class CorruptImage(ImageRejected):
    """The format is known but the file is truncated or damaged."""


class HiddenPayload(ImageRejected):
    """Another file is appended to the image (a polyglot)."""


@dataclass
class TooLargeToDownload(ImageRejected):
    """Over the Bot API's download limit (`limit` bytes); `size` None when the size
    declared was no real file's (over `MAX_DECLARED`), so only "over the limit" is told."""

    size: int | None
    limit: int

    def __post_init__(self) -> None:
        if self.size is not None and not 0 <= self.size <= MAX_DECLARED:
            self.size = None
        size = "a size no file has" if self.size is None else f"{self.size} bytes"
        super().__init__(f"{size}, over {self.limit}")


@dataclass
class TooSmall(ImageRejected):
    """A side is under `MIN_SIDE`."""

    width: int
    height: int

    def __post_init__(self) -> None:
        super().__init__(f"{self.width}x{self.height}")


@dataclass
class BadAspectRatio(ImageRejected):
    """Width/height is outside `MIN_ASPECT`..`MAX_ASPECT`."""

    width: int
    height: int

    def __post_init__(self) -> None:
        super().__init__(f"{self.width}x{self.height}")


@dataclass
class TooManyPixels(ImageRejected):
    """The canvas is over `limit` pixels; sizes are unknown when Pillow stopped it first."""

    width: int | None = None
    height: int | None = None
    limit: int = MAX_PIXELS

    def __post_init__(self) -> None:
        known = self.width is not None and self.height is not None
        super().__init__(f"{self.width}x{self.height}" if known else "size unknown")


class Work(enum.StrEnum):
    """What an image needed too much of to be checked."""

    SCANS = "scans"  # JPEG scans, over `MAX_SCANS` or `MAX_SCAN_PIXELS` at this size
    MEMORY = "memory"  # bytes to decode, over the whole decode budget
    CPU = "cpu"  # decoder CPU seconds, over the per-image limit
    TIME = "time"  # seconds waited for the decoder, over its limit


@dataclass
class TooMuchWork(ImageRejected):
    """Checking the image needs more `what` than one image may take: `needed` (None when
    the decoder was stopped before it said) against `limit`, in scans, bytes or seconds."""

    what: Work
    needed: float | None
    limit: float

    def __post_init__(self) -> None:
        needed = "" if self.needed is None else f"{self.needed} "
        super().__init__(f"{self.what.value}: {needed}over {self.limit}")


def check_dimensions(width: int, height: int) -> None:
    """Raise `TooSmall` or `BadAspectRatio` when the upright size breaks a rule."""
    if min(width, height) < MIN_SIDE:
        raise TooSmall(width, height)
    if not MIN_ASPECT <= width / height <= MAX_ASPECT:
        raise BadAspectRatio(width, height)


def download_limit(local_mode: bool) -> int:
    """Bytes the Bot API lets the bot download: 20 MB, or 2000 MB from a local server."""
    return LOCAL_SERVER_MAX_DOWNLOAD_BYTES if local_mode else MAX_DOWNLOAD_BYTES


def check_declared(
    *, file_size: int | None, width: int | None, height: int | None, limit: int
) -> None:
    """Refuse from what Telegram declares, before anything is downloaded: more than
    `limit` bytes, or a size that breaks a rule. A value no real file has (negative,
    zero, past `MAX_DECLARED`) is not believed: the download's own limit and the
    file's header decide instead."""
    if file_size is not None and file_size > limit:
        raise TooLargeToDownload(file_size, limit)
    if _believable(width) and _believable(height):
        check_dimensions(width, height)


def _believable(value: int | None) -> TypeGuard[int]:
    return value is not None and 0 < value <= MAX_DECLARED
