"""Reading an image's header into a plan: its upright size, whether it is sent as it is or
re-encoded, at which scale, and what that will cost (bot/photo/cost.py). Nothing is
decoded; a rule the header already breaks is refused here."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from bot.photo.containers import SCALABLE_FRAMES, JpegLayout, jpeg_layout
from bot.photo.cost import Cost, check_memory
from bot.photo.rules import (
    MAX_PIXELS,
    MAX_SCAN_PIXELS,
    MAX_UPLOAD_BYTES,
    MIN_SIDE,
    PRINTED_PNG_BYTES,
    TooManyPixels,
    TooMuchWork,
    Work,
    check_dimensions,
)

PASS_THROUGH = frozenset({"JPEG", "MPO", "PNG"})
_ROTATING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION = 0x0112
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})


@dataclass(frozen=True)
class Inspection:
    """What the header tells: the upright size, and what preparing the image will cost.

    `working_memory` bounds the bytes `prepare` holds at its peak (decoders' buffers, the
    pixels and their copies, the encoder's output, a copy of the file), so it is reserved
    from the decode budget before any pixel is decoded. `isolated`: the decode's CPU and
    memory depend on more than the header shows (scans, a codec's own buffers), so it runs
    in a worker process whose limits end it (`bot.photo.decoding`); else it is a check whose cost
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


def plan_for(
    data: bytes, image: Image.Image, memory_limit: int, *, printed: bool = False
) -> Inspection:
    """The plan for `image`, opened from `data`: `TooMuchWork` when it would hold more than
    `memory_limit` bytes even decoded reduced."""
    source_format = image.format or "unknown"
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise TooManyPixels(width, height)
    orientation = _orientation(image)
    if orientation in _ROTATING_ORIENTATIONS:
        width, height = height, width
    # The rules first: a small image is told it is small, even if it is also damaged.
    check_dimensions(width, height)
    layout = jpeg_layout(data) if source_format in _JPEG_FORMATS else None
    if layout is not None and len(layout.scans) * width * height > MAX_SCAN_PIXELS:
        # Said as scans: how many it has, and how many an image of its size may have.
        raise TooMuchWork(Work.SCANS, len(layout.scans), MAX_SCAN_PIXELS // (width * height))
    reencode = source_format not in PASS_THROUGH or orientation != 1 or len(data) > MAX_UPLOAD_BYTES
    cost = Cost(image, source_format, layout, len(data))
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


def _scale_for_upload(image: Image.Image, layout: JpegLayout | None, source_bytes: int) -> int:
    """The DCT scale a JPEG over the upload limit decodes at: re-encoded size tracks the
    source size, so decode at the smallest scale that still leaves enough pixels for the
    target, instead of full."""
    if layout is None or layout.frame not in SCALABLE_FRAMES or source_bytes <= MAX_UPLOAD_BYTES:
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
    if layout is None or layout.frame not in SCALABLE_FRAMES or scale >= 8:
        return False
    return -(-min(image.size) // (2 * scale)) >= MIN_SIDE


def _orientation(image: Image.Image) -> int:
    if image.format == "PNG" and "exif" not in image.info:
        # Pillow would decode the whole PNG looking for an eXIf chunk after the
        # pixel data; one there is rare enough to ignore.
        return 1
    value = image.getexif().get(_EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1
