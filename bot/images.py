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
from typing import Literal, TypeGuard

from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener
from typing_extensions import Buffer

from bot.fingerprint import Fingerprint, draft_box, fingerprint

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
# Start-of-frame markers: 0xC0-0xCF but DHT (C4), JPG (C8) and DAC (CC).
_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SEQUENTIAL_FRAMES = frozenset({0xC0, 0xC1})
# Lossless frames (C3, CB and the differential ones) decode at full size only.
_SCALABLE_FRAMES = frozenset({0xC0, 0xC1, 0xC2, 0xC9, 0xCA})
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})

# The bytes Pillow keeps per pixel by mode: 1 for the one-byte modes, 2 for 16-bit grey,
# else 4 (RGB is stored as four bytes, as are LA, I and F).
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# Decoders' own buffers per pixel of the full-size image, beside the pixels they fill
# (tests/test_decode_cost.py keeps the measured peaks): libwebp's animation decoder
# keeps two RGBA canvases and its lossless decoder an ARGB one, and Pillow copies the
# frame once more (748 MB for 49 MP, 15.3 bytes a pixel in all); libheif decodes to
# YCbCr planes (two bytes a sample when 10-bit) and converts them to interleaved RGB,
# which Pillow copies (385 MB for a 48.8 MP HEIC, 427 MB for an AVIF); libtiff reads
# a strip of raw samples; GIF keeps a frame copy.
_DECODER_BYTES_PER_PIXEL = {"WEBP": 16, "HEIF": 6, "AVIF": 6, "TIFF": 4, "GIF": 1}
# Libraries' tables, row buffers and the Python objects of one decode.
_FIXED_COST = 8 * 1024 * 1024
# An encode that passes twice the upload limit is stopped and the image shrunk.
_ENCODE_CAP = 2 * MAX_UPLOAD_BYTES


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


class Change(enum.Enum):
    """What `prepare` did to the bytes before upload."""

    CONVERTED = "converted"
    SHRUNK = "shrunk"
    RECOMPRESSED = "recompressed"
    ROTATED = "rotated"
    FIRST_FRAME = "first_frame"  # animated or multi-page: only the first frame is checked


@dataclass(frozen=True)
class JpegLayout:
    """What one walk of a JPEG's segments found (see `_jpeg_segments`)."""

    end: int  # just after the first image's EOI marker
    scans: tuple[int, ...]  # where each scan's header ends
    frame: int  # the SOF marker: 0xC0/0xC1 sequential, 0xC2 progressive, 0xC3 lossless, ...

    @property
    def single_pass(self) -> bool:
        """One sequential Huffman scan: libjpeg decodes it row by row, with no buffer of the
        whole image's coefficients, in time that grows with the file's bytes."""
        return len(self.scans) == 1 and self.frame in _SEQUENTIAL_FRAMES


@dataclass(frozen=True)
class Inspection:
    """What the header tells: the upright size, and what preparing the image will cost.

    `working_memory` bounds the bytes `prepare` holds at its peak (decoders' buffers, the
    pixels and their copies, the encoder's output, a copy of the file), so it is reserved
    from the decode budget before any pixel is decoded. `isolated`: the decode's CPU and
    memory depend on more than the header shows (scans, a codec's own buffers), so it runs
    in a worker process whose limits end it (`bot.decoding`); else it is a check whose cost
    the header bounds, run on a thread. `scale`: a JPEG re-encode decodes at 1/scale.
    """

    source_format: str
    width: int
    height: int
    orientation: int
    reencode: bool
    working_memory: int
    isolated: bool
    scale: int = 1
    layout: JpegLayout | None = None
    printed: bool = False  # a fingerprint is made (asked for, and worth its decode)


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


def inspect(data: bytes, memory_limit: int, *, printed: bool = False) -> Inspection:
    """Read only the header: refuse what breaks a rule, and tell what `prepare` will cost
    (`TooMuchWork` when that is over `memory_limit` bytes even decoded reduced).
    `printed`: the cost includes decoding enough for a fingerprint.

    Blocking but cheap; nothing is decoded.
    """
    with _reading(data) as image:
        return _inspect_open(data, image, memory_limit, printed=printed)


def check_memory(size: int) -> int:
    """The most a check that is not `isolated` may hold for a file of `size` bytes: the
    fixed cost, a copy of the file (only files sent as they are, at most the upload
    limit, are checked so), and a JPEG of `MAX_PIXELS` decoded at 1/8 scale."""
    return _FIXED_COST + min(size, MAX_UPLOAD_BYTES) + MAX_PIXELS // 64 * 4


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
        plan = plan or _inspect_open(data, image, memory_limit, printed=printed)
        if not plan.reencode:
            whole = len(data)
            end = plan.layout.end if plan.layout else _png_end(data)
            data = _strip_trailer(data, end)
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


def _inspect_open(
    data: bytes, image: Image.Image, memory_limit: int, *, printed: bool = False
) -> Inspection:
    source_format = image.format or "unknown"
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise TooManyPixels(width, height)
    orientation = _orientation(image)
    if orientation in _ROTATING_ORIENTATIONS:
        width, height = height, width
    # The rules first: a small image is told it is small, even if it is also damaged.
    check_dimensions(width, height)
    layout = _jpeg_layout(data) if source_format in _JPEG_FORMATS else None
    if layout is not None and len(layout.scans) * width * height > MAX_SCAN_PIXELS:
        # Said as scans: how many it has, and how many an image of its size may have.
        raise TooMuchWork(Work.SCANS, len(layout.scans), MAX_SCAN_PIXELS // (width * height))
    reencode = (
        source_format not in _PASS_THROUGH or orientation != 1 or len(data) > MAX_UPLOAD_BYTES
    )
    cost = _Cost(image, source_format, layout, len(data))
    if not reencode:
        # The integrity check: PNG by its CRCs (nothing decoded), JPEG at 1/8 scale.
        scale = 8 if layout is not None else 0
        isolated = layout is not None and not layout.single_pass
        working_memory = cost.check(scale)
        if layout is None and len(data) > PRINTED_PNG_BYTES:
            printed = False
        if printed:
            # A fingerprint decodes a JPEG at the largest DCT scale that keeps 256 px (1/2
            # for a 1280x960 photo), a PNG whole. What fits the most a check on a thread
            # may hold stays there (a 1280 px photo: 2.5 MB); more goes to a worker.
            working_memory = cost.printed(layout)
            isolated = isolated or working_memory > check_memory(len(data))
        return Inspection(
            source_format,
            width,
            height,
            orientation,
            reencode=False,
            working_memory=working_memory,
            isolated=isolated,
            layout=layout,
            printed=printed,
        )
    rotated = orientation != 1
    scale = _scale_for_upload(image, layout, len(data))
    while cost.reencode(scale, rotated=rotated) > memory_limit and _can_reduce(
        image, layout, scale
    ):
        scale *= 2
    needed = cost.reencode(scale, rotated=rotated)
    if needed > memory_limit:
        raise TooMuchWork(Work.MEMORY, needed, memory_limit)
    return Inspection(
        source_format,
        width,
        height,
        orientation,
        reencode=True,
        working_memory=needed,
        isolated=True,
        scale=scale,
        layout=layout,
        printed=printed,
    )


class _Cost:
    """The cost model: the bytes a path holds at its peak, from the header alone.

    Every figure is an upper bound checked against the real peak RSS of a fresh worker
    process (tests/test_decode_cost.py keeps the measured ratios): Pillow's C allocations
    are invisible to tracemalloc, so only RSS tells.
    """

    def __init__(
        self, image: Image.Image, source_format: str, layout: JpegLayout | None, size: int
    ) -> None:
        self._image = image
        self._format = source_format
        self._layout = layout
        self._size = size
        self._pixel_bytes = _PIXEL_BYTES.get(image.mode, 4)

    def check(self, scale: int) -> int:
        """The integrity check: a JPEG decoded at 1/`scale`, or a PNG's CRCs (scale 0)."""
        if not scale:
            return _FIXED_COST + self._size  # verify() reads each chunk whole
        return _FIXED_COST + self._size + self._decoder(scale)

    def printed(self, layout: JpegLayout | None) -> int:
        """The integrity check decoded at the fingerprint's scale (a PNG: whole), and the
        thumbnail's own small buffers."""
        if layout is None or layout.frame not in _SCALABLE_FRAMES:
            # A palette or 16-bit PNG is converted to RGB (4 bytes a pixel) to be reduced.
            return _FIXED_COST + self._size + self._decoder(1) + self._pixels(1) * 4
        width, height = self._image.size
        box = draft_box(width, height)
        scale = next((s for s in (8, 4, 2) if width // s >= box[0] and height // s >= box[1]), 1)
        return _FIXED_COST + self._size + self._decoder(scale) + self._pixels(scale)

    def reencode(self, scale: int, *, rotated: bool) -> int:
        """Decode at 1/`scale`, rotate, convert, check alpha, encode and shrink."""
        pixels = self._pixels(scale)
        # After the decode at most these live at once: the decoded pixels and their
        # rotated copy; or the decoded pixels, their RGB(A) conversion (4 bytes a pixel,
        # one more for an alpha check, one more when a mode converts through L, as F and
        # I do); or a shrink's input and its first pass (two RGB(A) buffers).
        after = pixels * max(2 * self._pixel_bytes if rotated else 0, self._pixel_bytes + 6, 8)
        return _FIXED_COST + self._size + max(self._decoder(scale), after) + _ENCODE_CAP

    def _pixels(self, scale: int) -> int:
        width, height = self._image.size
        return -(-width // scale) * -(-height // scale)

    def _decoder(self, scale: int) -> int:
        """The decoder's own buffers at full size, and the pixels it decodes into."""
        width, height = self._image.size
        own = _DECODER_BYTES_PER_PIXEL.get(self._format, 0) * width * height
        if self._layout is not None and not self._layout.single_pass:
            own += _coefficient_bytes(self._image)
        return own + self._pixels(scale) * self._pixel_bytes


def _coefficient_bytes(image: Image.Image) -> int:
    """libjpeg's whole-image coefficient buffers, which a progressive or multi-scan JPEG
    needs whatever the output scale: 64 two-byte coefficients per 8x8 block of each
    component, in whole MCUs (jdcoefct.c)."""
    width, height = image.size
    layers: list[tuple[int, int, int, int]] = getattr(image, "layer", [])
    if not layers:
        return 0
    h_max = max(layer[2] for layer in layers) or 1
    v_max = max(layer[1] for layer in layers) or 1
    mcu_columns = -(-width // (8 * h_max))
    mcu_rows = -(-height // (8 * v_max))
    blocks = sum(mcu_columns * layer[2] * mcu_rows * layer[1] for layer in layers)
    return blocks * 64 * 2


def _scale_for_upload(image: Image.Image, layout: JpegLayout | None, source_bytes: int) -> int:
    """The DCT scale a JPEG over the upload limit decodes at: re-encoded size tracks the
    source size, so decode at the smallest scale that still leaves enough pixels for the
    target, instead of full."""
    if layout is None or layout.frame not in _SCALABLE_FRAMES or source_bytes <= MAX_UPLOAD_BYTES:
        return 1
    factor = math.sqrt(MAX_UPLOAD_BYTES / source_bytes)
    width, height = image.size
    target = (int(width * factor), int(height * factor))
    if min(target) < MIN_SIDE:
        return 1
    fit = min(width // target[0], height // target[1])
    return next(scale for scale in (8, 4, 2, 1) if scale <= fit)


def _can_reduce(image: Image.Image, layout: JpegLayout | None, scale: int) -> bool:
    """Whether a JPEG may decode at half the current scale and keep `MIN_SIDE`."""
    if layout is None or layout.frame not in _SCALABLE_FRAMES or scale >= 8:
        return False
    return -(-min(image.size) // (2 * scale)) >= MIN_SIDE


def _animated(image: Image.Image) -> bool:
    """Several frames or pages (GIF, APNG, WebP, TIFF), of which the API sees the first.
    An MPO's second picture is a camera's preview or depth map, not a frame anyone sees."""
    return image.format != "MPO" and bool(getattr(image, "is_animated", False))


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
    if plan.source_format not in _PASS_THROUGH:
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
        too_big = _ENCODE_CAP if encoded is None else len(encoded)
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
    """The encoder's output passed `_ENCODE_CAP`."""


class _CappedOutput(io.BytesIO):
    """An encoder's output that stops it past `_ENCODE_CAP` bytes: a 49 MP PNG of noise
    encodes to about 200 MB, which the cost model would otherwise have to reserve."""

    def write(self, chunk: Buffer, /) -> int:
        if self.tell() + memoryview(chunk).nbytes > _ENCODE_CAP:
            raise _EncodedTooLarge
        return super().write(chunk)


def _encode(pixels: Image.Image, mime: str) -> bytes | None:
    """The encoded bytes, or None when they pass `_ENCODE_CAP`."""
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


def _jpeg_layout(data: bytes) -> JpegLayout:
    """The end of the first image, where each of its scans' headers ends, its frame.
    `TooMuchWork` as soon as the walk passes `MAX_SCANS` (a scan bomb's 200,000 scans
    are not walked to the end)."""
    scans: list[int] = []
    frame = None
    for marker, end in _jpeg_segments(data):  # ends with the EOI, or raises
        if marker == _SOS:
            scans.append(end)
            if len(scans) > MAX_SCANS:
                raise TooMuchWork(Work.SCANS, len(scans), MAX_SCANS)
        elif marker in _FRAMES and frame is None:
            frame = marker
        elif marker == _EOI:
            if frame is None:
                raise CorruptImage("JPEG has no frame header")
            return JpegLayout(end, tuple(scans), frame)
    raise CorruptImage("JPEG ends before its EOI marker")


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
