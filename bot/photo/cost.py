"""The cost model: the bytes preparing an image holds at its peak, from its header alone,
so they are reserved from the decode budget before any pixel is decoded."""

from __future__ import annotations

from PIL import Image

from bot.photo.containers import SCALABLE_FRAMES, JpegLayout
from bot.photo.fingerprint import draft_box
from bot.photo.rules import MAX_PIXELS, MAX_UPLOAD_BYTES

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
ENCODE_CAP = 2 * MAX_UPLOAD_BYTES


def check_memory(size: int) -> int:
    """The most a check that is not `isolated` may hold for a file of `size` bytes: the
    fixed cost, a copy of the file (only files sent as they are, at most the upload
    limit, are checked so), and a JPEG of `MAX_PIXELS` decoded at 1/8 scale."""
    return _FIXED_COST + min(size, MAX_UPLOAD_BYTES) + MAX_PIXELS // 64 * 4


class Cost:
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
        if layout is None or layout.frame not in SCALABLE_FRAMES:
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
        return _FIXED_COST + self._size + max(self._decoder(scale), after) + ENCODE_CAP

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
