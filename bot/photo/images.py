"""The work to meet the recognition API's image rules (bot/photo/rules.py).

`prepare` inspects the downloaded bytes (format by magic bytes, never by name or
claimed MIME type) and returns bytes the API accepts: JPEG or PNG, at most
10 MB, each side at least 300 px, aspect ratio within 1:2.5..2.5:1. What can be
fixed (other formats, EXIF rotation, too many bytes) is fixed; what cannot is
refused with an `ImageRejected` that carries the actual numbers.

`prepare` is CPU-bound and blocking: call it off the event loop.
"""

from __future__ import annotations

import contextlib
import enum
import io
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener
from typing_extensions import Buffer

from bot.photo.containers import (
    JpegLayout,
    png_end,
    strip_trailer,
)
from bot.photo.cost import ENCODE_CAP
from bot.photo.fingerprint import Fingerprint, draft_box, fingerprint
from bot.photo.inspection import PASS_THROUGH, Inspection, plan_for
from bot.photo.rules import (
    JPEG_QUALITY,
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    MIN_SIDE,
    CorruptImage,
    ImageRejected,
    NotAnImage,
    TooManyPixels,
    check_dimensions,
)

register_heif_opener()
Image.init()
# Our own check (which can name the size) refuses anything over MAX_PIXELS
# before decoding; Pillow's bomb check, applied while reading the header, is
# the backstop at twice that. Pillow only warns up to twice its limit: for
# bytes from strangers the warning must stop the decode like the error does.
Image.MAX_IMAGE_PIXELS = 2 * MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

_CONVERTIBLE = ("WEBP", "HEIF", "AVIF", "GIF", "BMP", "TIFF")
READABLE_FORMATS: tuple[str, ...] = tuple(
    name for name in ("JPEG", "MPO", "PNG", *_CONVERTIBLE) if name in Image.OPEN
)


class Change(enum.Enum):
    """What `prepare` did to the bytes before upload."""

    CONVERTED = "converted"
    SHRUNK = "shrunk"
    RECOMPRESSED = "recompressed"
    ROTATED = "rotated"
    FIRST_FRAME = "first_frame"  # animated or multi-page: only the first frame is checked


@dataclass(frozen=True)
class PreparedImage:
    """Bytes ready for the API, and what was done to get them."""

    data: bytes
    mime: Literal["image/jpeg", "image/png"]
    width: int
    height: int
    source_format: str
    changes: frozenset[Change] = field(default_factory=frozenset)
    # The picture's perceptual fingerprint, when it was asked for (near-duplicates).
    fingerprint: Fingerprint | None = None


def inspect(data: bytes, memory_limit: int, *, printed: bool = False) -> Inspection:
    """Read only the header: refuse what breaks a rule, and tell what `prepare` will cost
    (`TooMuchWork` when that is over `memory_limit` bytes even decoded reduced).
    `printed`: the cost includes decoding enough for a fingerprint.

    Blocking but cheap; nothing is decoded.
    """
    with _reading(data) as image:
        return plan_for(data, image, memory_limit, printed=printed)


def prepare(
    data: bytes,
    photo_size: tuple[int, int] | None = None,
    *,
    memory_limit: int,
    plan: Inspection | None = None,
    printed: bool = False,
) -> PreparedImage:
    """Return bytes the API accepts, or raise `ImageRejected`. Blocking: may decode, within
    `memory_limit` bytes by the cost model (`inspect` tells beforehand how much).

    `photo_size` is the size Telegram declared for a photo it re-encoded itself
    (a `message.photo`, never a file): such a photo skips the integrity decode
    when its bytes look like Telegram's own output (see `_made_by_telegram`).
    `plan`: what `inspect` said of these same bytes, so the header is not read twice.
    `printed`: also compute the picture's fingerprint, from the pixels this path decodes
    anyway (a JPEG's integrity decode, made at the scale the thumbnail needs; a PNG's
    pixels, decoded for it only; a re-encode's upright pixels).
    """
    with _reading(data) as image:
        plan = plan or plan_for(data, image, memory_limit, printed=printed)
        if not plan.reencode:
            whole = len(data)
            end = plan.layout.end if plan.layout else png_end(data)
            data = strip_trailer(data, end)
            trimmed = len(data) != whole
            mime: Literal["image/jpeg", "image/png"] = (
                "image/png" if plan.source_format == "PNG" else "image/jpeg"
            )
            changes = frozenset({Change.FIRST_FRAME}) if _animated(image) else frozenset()
            if printed and plan.printed:
                # The integrity decode and the fingerprint's pixels are one decode.
                print_ = _check_and_print(data, image, plan)
                return PreparedImage(
                    data, mime, plan.width, plan.height, plan.source_format, changes, print_
                )
            if not (
                plan.layout is not None
                and _made_by_telegram(plan, photo_size, trimmed=trimmed)
                and _checked_without_decoding(data, plan.layout)
            ):
                _check_integrity(data, image, plan.source_format)
            return PreparedImage(data, mime, plan.width, plan.height, plan.source_format, changes)
        return _reencode(image, plan, source_bytes=len(data), printed=printed)


@contextlib.contextmanager
def _reading(data: bytes) -> Iterator[Image.Image]:
    """Open untrusted bytes; map every way that can fail to an `ImageRejected`."""
    if not data:
        raise NotAnImage("empty file")
    try:
        with _open(data) as image:
            yield image
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixels() from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage(type(exc).__name__) from None


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=READABLE_FORMATS)
    except UnidentifiedImageError:
        raise NotAnImage("unrecognized bytes") from None


def _animated(image: Image.Image) -> bool:
    """Several frames or pages (GIF, APNG, WebP, TIFF), of which the API sees the first.
    An MPO's second picture is a camera's preview or depth map, not a frame anyone sees."""
    return image.format != "MPO" and bool(getattr(image, "is_animated", False))


def _made_by_telegram(
    plan: Inspection, photo_size: tuple[int, int] | None, *, trimmed: bool
) -> bool:
    """Whether a photo's bytes are what Telegram's own encoder makes: a plain JPEG
    of exactly the declared size, no EXIF rotation (Telegram strips EXIF), nothing
    after its end marker. Telegram decoded and re-encoded these pixels itself, so
    the bytes cannot be truncated, appended to or damaged by a sender; what a
    transfer or a forged update could still break is checked without decoding the
    pixels: the segment walk (every marker, the Huffman and quantization tables,
    the end marker) and libjpeg's own header checks (`_checked_without_decoding`).
    Bytes that differ in any of these ways take the full integrity decode.
    """
    return (
        photo_size is not None
        and plan.source_format == "JPEG"
        and (plan.width, plan.height) == photo_size
        and plan.orientation == 1
        and not trimmed
    )


def _checked_without_decoding(data: bytes, layout: JpegLayout) -> bool:
    """libjpeg's own checks of the tables, the frame and the scan header, at almost no
    cost: the header up to the scan, then the end marker, decoded at 1/8 scale (0.25 ms
    for a 1280 px photo against 0.9 ms for the whole image). Only for a JPEG of one
    sequential scan: libjpeg checks a progressive JPEG's later scans only as it
    reaches them (of 2,000 fuzzed photos one progressive one was refused by the
    decode and passed by its first scan's header), so False sends those to the decode.
    """
    if not layout.single_pass:
        return False
    with _open(data[: layout.scans[0]] + b"\xff\xd9") as header:
        header.draft("RGB", (max(1, header.width // 8), max(1, header.height // 8)))
        header.load()
    return True


def _check_integrity(data: bytes, image: Image.Image, source_format: str) -> None:
    """Decode cheaply enough to catch damage: JPEG at 1/8 scale, PNG by its CRCs."""
    if source_format == "PNG":
        # verify() must come straight after open, and reading EXIF came first.
        with Image.open(io.BytesIO(data), formats=("PNG",)) as fresh:
            fresh.verify()
        return
    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
    image.load()


def _check_and_print(data: bytes, image: Image.Image, plan: Inspection) -> Fingerprint:
    """Decode enough to catch damage and to fingerprint: a JPEG's grey channel at the
    largest DCT scale that keeps `DRAFT_SIDE` (1/8 for a 1280 px photo: 1.6 ms), a PNG
    by its CRCs and then whole (the cost model counted it)."""
    if plan.source_format == "PNG":
        _check_integrity(data, image, plan.source_format)
        with Image.open(io.BytesIO(data), formats=("PNG",)) as fresh:
            fresh.load()
            return fingerprint(fresh)
    image.draft("RGB", draft_box(image.width, image.height))
    image.load()
    return fingerprint(image, (plan.width, plan.height))


def _reencode(
    image: Image.Image, plan: Inspection, *, source_bytes: int, printed: bool = False
) -> PreparedImage:
    rotated = plan.orientation != 1
    changes = {Change.ROTATED} if rotated else set()
    if plan.source_format not in PASS_THROUGH:
        changes.add(Change.CONVERTED)
    if _animated(image):
        changes.add(Change.FIRST_FRAME)
    original_pixels = image.width * image.height
    if plan.scale > 1:
        image.draft("RGB", (image.width // plan.scale, image.height // plan.scale))
    image.load()
    # Each step below replaces the pixels only when it must and frees the pixels it
    # replaced at once (`close` drops Pillow's buffer), so a resize's input, its
    # intermediate pass and its output are the most alive at once.
    pixels = _replace(image, ImageOps.exif_transpose(image)) if rotated else image
    keep_alpha = _has_visible_alpha(pixels)
    mode = "RGBA" if keep_alpha else "RGB"
    if pixels.mode != mode:
        pixels = _replace(pixels, pixels.convert(mode))
    mime: Literal["image/jpeg", "image/png"] = "image/png" if keep_alpha else "image/jpeg"
    if plan.source_format == "PNG" and not keep_alpha:
        changes.add(Change.CONVERTED)
    print_ = fingerprint(pixels) if printed else None

    encoded = _encode(pixels, mime)
    while encoded is None or len(encoded) > MAX_UPLOAD_BYTES:
        too_big = ENCODE_CAP if encoded is None else len(encoded)
        del encoded  # 10+ MB that only its size is needed of
        pixels = _shrink(pixels, too_big)  # frees the pixels it shrinks
        encoded = _encode(pixels, mime)
    if pixels.width * pixels.height < original_pixels:
        changes.add(Change.SHRUNK)
    elif source_bytes > MAX_UPLOAD_BYTES:
        changes.add(Change.RECOMPRESSED)
    check_dimensions(*pixels.size)
    return PreparedImage(
        encoded, mime, *pixels.size, plan.source_format, frozenset(changes), print_
    )


def _replace(old: Image.Image, new: Image.Image) -> Image.Image:
    """`new`, with `old`'s pixel buffer freed now rather than when it is collected."""
    old.close()
    return new


def _shrink(pixels: Image.Image, encoded_size: int) -> Image.Image:
    """Fewer pixels, aiming 10 % under the upload limit; `pixels` is closed."""
    width, height = pixels.size
    # Encoded size scales roughly with the pixel count; aim 10 % under the limit.
    factor = math.sqrt(MAX_UPLOAD_BYTES / encoded_size) * 0.9
    factor = max(factor, MIN_SIDE / min(width, height))
    if factor >= 1:
        raise CorruptImage("cannot fit the upload limit at the minimum size")
    new_width, new_height = max(MIN_SIDE, int(width * factor)), max(MIN_SIDE, int(height * factor))
    # One pass per direction, each its own resize: Pillow's single call keeps a
    # full-height intermediate beside input and output (125 MB for a 3580 px
    # square); this way the input is freed before the second pass (92 MB at most).
    columns_done = pixels.resize((width, new_height), Image.Resampling.LANCZOS)
    pixels.close()
    resized = columns_done.resize((new_width, new_height), Image.Resampling.LANCZOS)
    return _replace(columns_done, resized)


class _EncodedTooLarge(Exception):
    """The encoder's output passed `ENCODE_CAP`."""


class _CappedOutput(io.BytesIO):
    """An encoder's output that stops it past `ENCODE_CAP` bytes: a 49 MP PNG of noise
    encodes to about 200 MB, which the cost model would otherwise have to reserve."""

    def write(self, chunk: Buffer, /) -> int:
        if self.tell() + memoryview(chunk).nbytes > ENCODE_CAP:
            raise _EncodedTooLarge
        return super().write(chunk)


def _encode(pixels: Image.Image, mime: str) -> bytes | None:
    """The encoded bytes, or None when they pass `ENCODE_CAP`."""
    out = _CappedOutput()
    try:
        if mime == "image/png":
            pixels.save(out, format="PNG", compress_level=6)
        else:
            pixels.save(out, format="JPEG", quality=JPEG_QUALITY)
    except _EncodedTooLarge:
        return None
    return out.getvalue()


def _has_visible_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA"):
        extrema = image.getchannel("A").getextrema()
        return isinstance(extrema, tuple) and isinstance(extrema[0], int) and extrema[0] < 255
    if "transparency" in image.info:
        return _has_visible_alpha(image.convert("RGBA"))
    return False
