"""The recognition API's image rules, and the work to meet them.

`check_declared` refuses early from what Telegram tells before a download;
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
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

MAX_UPLOAD_BYTES = 10_000_000
# What a bot may download: Telegram's "20 MB" are MiB; a local Bot API server
# (TELEGRAM_LOCAL_MODE) serves files of up to 2000 MB. The rules below hold either way.
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
LOCAL_SERVER_MAX_DOWNLOAD_BYTES = 2000 * 1024 * 1024
MIN_SIDE = 300
MIN_ASPECT = 0.4
MAX_ASPECT = 2.5
# 50 MP covers every phone camera's default output; a bigger canvas is either a
# panorama we cannot send or a decompression bomb (a local Bot API server lets
# files of up to 2000 MB through, so this is what bounds decoding there).
MAX_PIXELS = 50_000_000
JPEG_QUALITY = 90
# A decoded pixel takes up to 4 bytes (RGBA); up to two such buffers live at
# once (decoded + converted or resized), plus the encoder's output and its copy.
_BYTES_PER_PIXEL = 2 * 4
_ENCODE_BUFFERS = 2 * MAX_UPLOAD_BYTES

register_heif_opener()
Image.init()
# Our own check (which can name the size) refuses anything over MAX_PIXELS
# before decoding; Pillow's bomb check, applied while reading the header, is
# the backstop at twice that. Pillow only warns up to twice its limit: for
# bytes from strangers the warning must stop the decode like the error does.
Image.MAX_IMAGE_PIXELS = 2 * MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

_PASS_THROUGH = frozenset({"JPEG", "MPO", "PNG"})
_CONVERTIBLE = ("WEBP", "HEIF", "AVIF", "GIF", "BMP", "TIFF")
READABLE_FORMATS: tuple[str, ...] = tuple(
    name for name in ("JPEG", "MPO", "PNG", *_CONVERTIBLE) if name in Image.OPEN
)
_ROTATING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION = 0x0112
# A trailer after the image that starts like another file (or holds a ZIP
# directory) makes the upload a polyglot; other trailers are vendor metadata.
_FOREIGN_SIGNATURES = (
    b"PK\x03\x04",
    b"%PDF",
    b"<",
    b"\x7fELF",
    b"MZ",
    b"#!",
    b"Rar!",
    b"7z\xbc\xaf",
    b"\x1f\x8b",
)
_ZIP_DIRECTORY_END = b"PK\x05\x06"
# `\xff\xff*` rather than `\xff+`: the same matches, but a literal first byte lets
# the regex engine jump between 0xFF bytes (0.15 ms instead of 0.95 for a 1280 px
# photo, 0.4 instead of 6 for a noisy 740 KB one).
_NEXT_MARKER = re.compile(rb"\xff\xff*[^\x00\xd0-\xd7\xff]")
_DHT, _DQT, _SOS, _EOI = 0xC4, 0xDB, 0xDA, 0xD9


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
    """Over the Bot API's download limit (`limit` bytes)."""

    size: int
    limit: int

    def __post_init__(self) -> None:
        super().__init__(f"{self.size} bytes, over {self.limit}")


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
    """The canvas is over `MAX_PIXELS`; sizes are unknown when Pillow stopped it first."""

    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        super().__init__(f"{self.width}x{self.height}")


class Change(enum.Enum):
    """What `prepare` did to the bytes before upload."""

    CONVERTED = "converted"
    SHRUNK = "shrunk"
    RECOMPRESSED = "recompressed"
    ROTATED = "rotated"


@dataclass(frozen=True)
class Inspection:
    """What the header tells: the upright size, and what a re-encode would cost."""

    source_format: str
    width: int
    height: int
    orientation: int
    working_memory: int  # bytes of pixel and encode buffers `prepare` may hold; 0 if none


@dataclass(frozen=True)
class PreparedImage:
    """Bytes ready for the API, and what was done to get them."""

    data: bytes
    mime: Literal["image/jpeg", "image/png"]
    width: int
    height: int
    source_format: str
    changes: frozenset[Change] = field(default_factory=frozenset)


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
    `limit` bytes, or a size that breaks a rule."""
    if file_size is not None and file_size > limit:
        raise TooLargeToDownload(file_size, limit)
    if width and height:
        check_dimensions(width, height)


def inspect(data: bytes) -> Inspection:
    """Read only the header: refuse what breaks a rule, and tell what `prepare` will cost.

    Blocking but cheap; nothing is decoded.
    """
    with _reading(data) as image:
        return _inspect_open(data, image)


def prepare(data: bytes, photo_size: tuple[int, int] | None = None) -> PreparedImage:
    """Return bytes the API accepts, or raise `ImageRejected`. Blocking: may decode.

    `photo_size` is the size Telegram declared for a photo it re-encoded itself
    (a `message.photo`, never a file): such a photo skips the integrity decode
    when its bytes look like Telegram's own output (see `_made_by_telegram`).
    """
    with _reading(data) as image:
        plan = _inspect_open(data, image)
        if plan.source_format in _PASS_THROUGH:
            whole = len(data)
            # One walk of a JPEG's segments gives both its end and its scans.
            scans: list[int]
            if plan.source_format == "PNG":
                end, scans = _png_end(data), []
            else:
                end, scans = _jpeg_layout(data)
            data = _strip_trailer(data, end)
            if plan.orientation == 1 and len(data) <= MAX_UPLOAD_BYTES:
                trimmed = len(data) != whole
                if not (
                    _made_by_telegram(plan, photo_size, trimmed=trimmed)
                    and _checked_without_decoding(data, scans)
                ):
                    _check_integrity(data, image, plan.source_format)
                mime: Literal["image/jpeg", "image/png"] = (
                    "image/png" if plan.source_format == "PNG" else "image/jpeg"
                )
                return PreparedImage(data, mime, plan.width, plan.height, plan.source_format)
        return _reencode(image, plan, source_bytes=len(data))


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


def _inspect_open(data: bytes, image: Image.Image) -> Inspection:
    source_format = image.format or "unknown"
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise TooManyPixels(width, height)
    orientation = _orientation(image)
    if orientation in _ROTATING_ORIENTATIONS:
        width, height = height, width
    check_dimensions(width, height)
    needs_reencode = (
        source_format not in _PASS_THROUGH or orientation != 1 or len(data) > MAX_UPLOAD_BYTES
    )
    working_memory = 0
    if needs_reencode:
        decoded_w, decoded_h = _decoded_size(image, source_format, len(data))
        working_memory = decoded_w * decoded_h * _BYTES_PER_PIXEL + _ENCODE_BUFFERS
    return Inspection(source_format, width, height, orientation, working_memory)


def _orientation(image: Image.Image) -> int:
    if image.format == "PNG" and "exif" not in image.info:
        # Pillow would decode the whole PNG looking for an eXIf chunk after the
        # pixel data; one there is rare enough to ignore.
        return 1
    value = image.getexif().get(_EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


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


def _checked_without_decoding(data: bytes, scans: list[int]) -> bool:
    """libjpeg's own checks of the tables, the frame and the scan header, at almost no
    cost: the header up to the scan, then the end marker, decoded at 1/8 scale (0.25 ms
    for a 1280 px photo against 0.9 ms for the whole image). Only for a JPEG of one
    scan (baseline): libjpeg checks a progressive JPEG's later scans only as it
    reaches them (of 2,000 fuzzed photos one progressive one was refused by the
    decode and passed by its first scan's header), so False sends those to the decode.
    `scans`: where each scan's header ends (`_jpeg_layout`).
    """
    if len(scans) != 1:
        return False
    with _open(data[: scans[0]] + b"\xff\xd9") as header:
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


def _decoded_size(image: Image.Image, source_format: str, source_bytes: int) -> tuple[int, int]:
    """The pixel size a re-encode decodes at: JPEG over the limit decodes reduced."""
    if source_format in ("JPEG", "MPO") and source_bytes > MAX_UPLOAD_BYTES:
        # Re-encoded size tracks the source size: decode at the smallest DCT
        # scale that still leaves enough pixels for the target, instead of full.
        scale = math.sqrt(MAX_UPLOAD_BYTES / source_bytes)
        target = (int(image.width * scale), int(image.height * scale))
        if min(target) >= MIN_SIDE:
            image.draft("RGB", target)
    return image.size


def _reencode(image: Image.Image, plan: Inspection, *, source_bytes: int) -> PreparedImage:
    rotated = plan.orientation != 1
    changes = {Change.ROTATED} if rotated else set()
    if plan.source_format not in _PASS_THROUGH:
        changes.add(Change.CONVERTED)
    original_pixels = image.width * image.height
    _decoded_size(image, plan.source_format, source_bytes)
    image.load()
    # Each step below replaces the pixels only when it must and frees the pixels it
    # replaced at once (`close` drops Pillow's buffer), so a resize's input, its
    # intermediate pass and its output are the most alive at once.
    pixels = ImageOps.exif_transpose(image) if rotated else image
    keep_alpha = _has_visible_alpha(pixels)
    mode = "RGBA" if keep_alpha else "RGB"
    if pixels.mode != mode:
        pixels = _replace(pixels, pixels.convert(mode))
    if pixels is not image:
        image.close()
    mime: Literal["image/jpeg", "image/png"] = "image/png" if keep_alpha else "image/jpeg"
    if plan.source_format == "PNG" and not keep_alpha:
        changes.add(Change.CONVERTED)

    encoded = _encode(pixels, mime)
    while len(encoded) > MAX_UPLOAD_BYTES:
        too_big = len(encoded)
        del encoded  # 10+ MB that only its size is needed of
        pixels = _shrink(pixels, too_big)  # frees the pixels it shrinks
        encoded = _encode(pixels, mime)
    if pixels.width * pixels.height < original_pixels:
        changes.add(Change.SHRUNK)
    elif source_bytes > MAX_UPLOAD_BYTES:
        changes.add(Change.RECOMPRESSED)
    check_dimensions(*pixels.size)
    return PreparedImage(encoded, mime, *pixels.size, plan.source_format, frozenset(changes))


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


def _encode(pixels: Image.Image, mime: str) -> bytes:
    out = io.BytesIO()
    if mime == "image/png":
        pixels.save(out, format="PNG", compress_level=6)
    else:
        pixels.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _has_visible_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA"):
        extrema = image.getchannel("A").getextrema()
        return isinstance(extrema, tuple) and isinstance(extrema[0], int) and extrema[0] < 255
    if "transparency" in image.info:
        return _has_visible_alpha(image.convert("RGBA"))
    return False


def _strip_trailer(data: bytes, end: int) -> bytes:
    """Cut bytes after the image's `end`; refuse when they are another file."""
    trailer = data[end:]
    if not trailer.strip(b"\x00\r\n\t "):
        return data
    head = trailer.lstrip(b"\x00\r\n\t ")
    if head.startswith(_FOREIGN_SIGNATURES) or _ZIP_DIRECTORY_END in trailer:
        raise HiddenPayload(f"{len(trailer)} bytes after the image")
    return data[:end]


def _png_end(data: bytes) -> int:
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunk_type = data[pos + 4 : pos + 8]
        pos += 12 + length
        if chunk_type == b"IEND":
            if pos > len(data):
                break
            return pos
    raise CorruptImage("PNG ends before its IEND chunk")


def _jpeg_layout(data: bytes) -> tuple[int, list[int]]:
    """The end of the first image (just after its EOI marker), and where each of its
    scans' headers ends."""
    segments = list(_jpeg_segments(data))  # ends with the EOI, or raises
    return segments[-1][1], [end for marker, end in segments if marker == _SOS]


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int]]:
    """Walk JPEG segments up to the first image's EOI: yield each marker with the
    offset where its segment (for a scan, its header) ends; check the tables on the
    way. Raise `CorruptImage` if the image ends before its EOI marker."""
    pos = 2
    size = len(data)
    while pos + 1 < size:
        if data[pos] != 0xFF:
            raise CorruptImage("JPEG segment does not start with a marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == _EOI:
            yield marker, pos + 2
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if pos + 4 > size:
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        start, pos = pos + 4, pos + 2 + length
        if length < 2 or pos > size:
            break
        if marker == _DHT:
            _check_huffman_tables(data[start:pos])
        elif marker == _DQT:
            _check_quantization_tables(data[start:pos])
        elif marker == _SOS:
            _check_scan_header(data[start:pos])
        yield marker, pos
        if marker == _SOS:
            pos = _entropy_end(data, pos)
    raise CorruptImage("JPEG ends before its EOI marker")


def _check_huffman_tables(segment: bytes) -> None:
    """Refuse a DHT segment by libjpeg's own rules (jdmarker.c get_dht, jdhuff.c
    jpeg_make_d_derived_tbl): a damaged table is what the integrity decode caught in
    headers that otherwise walk cleanly (4 of 40 single-byte header faults)."""
    pos = 0
    while pos < len(segment):
        if pos + 17 > len(segment):
            raise CorruptImage("JPEG Huffman table is cut short")
        index = segment[pos]
        counts = segment[pos + 1 : pos + 17]
        symbols = segment[pos + 17 : pos + 17 + sum(counts)]
        if index & 0xEC or sum(counts) > 256 or len(symbols) != sum(counts):
            raise CorruptImage("JPEG Huffman table is malformed")
        if not index & 0x10 and any(symbol > 15 for symbol in symbols):
            raise CorruptImage("JPEG DC Huffman table has an impossible symbol")
        code = 0
        for bits, count in enumerate(counts, start=1):
            code += count
            if code >= 1 << bits:  # libjpeg also refuses the all-ones code
                raise CorruptImage("JPEG Huffman table has more codes than bits")
            code <<= 1
        pos += 17 + len(symbols)


def _check_quantization_tables(segment: bytes) -> None:
    """libjpeg's get_dqt rules: table ids 0-3, 64 entries of 1 or 2 bytes, exact length."""
    pos = 0
    while pos < len(segment):
        precision, table = segment[pos] >> 4, segment[pos] & 0x0F
        if table > 3:
            raise CorruptImage("JPEG quantization table is malformed")
        pos += 1 + 64 * (2 if precision else 1)
    if pos != len(segment):
        raise CorruptImage("JPEG quantization table is cut short")


def _check_scan_header(segment: bytes) -> None:
    """libjpeg's get_sos length rule: 1 to 4 components, two bytes each, three more."""
    components = segment[0] if segment else 0
    if not 1 <= components <= 4 or len(segment) != 2 * components + 4:
        raise CorruptImage("JPEG scan header is malformed")


def _entropy_end(data: bytes, pos: int) -> int:
    """Skip entropy-coded data to the next marker (see `_NEXT_MARKER`)."""
    found = _NEXT_MARKER.search(data, pos)
    return len(data) if found is None else found.end() - 2
