"""A picture's perceptual fingerprint, and whether two fingerprints are the same picture.

Two stages, because no single hash separates copies from different pictures: a 64-bit
pHash of a 320 px copy drifts as far (10 bits) as two unrelated photos can come
(8-10 bits). So the pHash only finds candidates (within `CANDIDATE_BITS`), and a stored
64x64 grey thumbnail confirms them: same aspect ratio, correlation of the normalized
thumbnails over `MIN_CORRELATION`, and no pixel that moved more than `MAX_PIXEL_DIFF`
(what rejects the same photo with other text or a pasted object), and where both have
colour no 4x4 block whose Cb or Cr moved more than `MAX_CHROMA_DIFF` levels (a dark red
patch pasted on blue is nearly the same grey). An information gate (`MIN_GRADIENT`)
keeps near-blank and smooth pictures out: their thumbnails correlate with anything
smooth.

Measured on 240 distinct pictures from Debian's and PyPI's packages (179 over the gate;
tests/test_near_corpus.py, `python -m tests.near_corpus` prints the table; README):
copies reached correlation 0.9949 at worst and a largest difference of 0.555 (two
pictures re-encoded twice 0.91-0.96: missed), chroma 6 levels; the closest different
pictures (two frames of one video) 0.651, the closest variants (a caption, a pasted
object) 0.735 or chroma 24+.

Pure Python and Pillow: the pHash's 32x32 DCT needs only its 8x8 lowest frequencies,
320 dot products of 32 with precomputed cosines (about 0.2 ms), no numpy.
"""

from __future__ import annotations

import base64
import math
import operator
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageChops, ImageMath, ImageStat

THUMB_SIDE = 64
THUMB_BYTES = THUMB_SIDE * THUMB_SIDE
# Colour, coarser: Cb and Cr means of 4x4 blocks of the thumbnail (16x16 each), so an
# object of another colour but the same grey (a dark red patch on blue) is seen too.
CHROMA_SIDE = 16
CHROMA_BYTES = 2 * CHROMA_SIDE * CHROMA_SIDE
# Mean absolute neighbour difference of the 64x64 grey thumbnail, in grey levels: a
# flat or smooth picture (a gradient, a blank page) has too little to tell copies from
# other pictures by.
MIN_GRADIENT = 4.0
CANDIDATE_BITS = 12
MAX_ASPECT_DIFF = 0.01
MIN_CORRELATION = 0.99
MAX_PIXEL_DIFF = 0.6
MAX_CHROMA_DIFF = 16
# The smallest side a decode for a fingerprint keeps before the 64 px thumbnail is made
# from it: a JPEG draft decode picks the largest DCT scale (1/2..1/8) that keeps this.
# A reduced decode aliases fine texture differently at each scale: from 256 px copies'
# largest difference stayed at 0.555 (the threshold is 0.6); from 176 px (1/4 for a
# 1280 px photo, 1.3 ms less) it reached 0.61-1.07 and 4 more pictures were missed.
DRAFT_SIDE = 256

_HASH_SIDE = 32
_LOW = 8
# cos(pi * (2n + 1) * k / 64) for the 8 lowest frequencies k over 32 samples n.
_COSINES = tuple(
    tuple(math.cos(math.pi * (2 * n + 1) * k / (2 * _HASH_SIDE)) for n in range(_HASH_SIDE))
    for k in range(_LOW)
)


@dataclass(frozen=True)
class Fingerprint:
    """A 64-bit pHash, the upright aspect ratio (width / height), the 64x64 grey
    thumbnail (row-major bytes) and its mean gradient (the information gate's number)."""

    phash: int
    aspect: float
    thumb: bytes  # the grey thumbnail, then its chroma when the picture has colour
    gradient: float

    @property
    def grey(self) -> bytes:
        """The 64x64 grey thumbnail."""
        return self.thumb[:THUMB_BYTES]

    @property
    def chroma(self) -> bytes:
        """Cb then Cr of 16x16 blocks; empty for a picture decoded grey."""
        return self.thumb[THUMB_BYTES:]

    @property
    def informative(self) -> bool:
        """Whether the picture carries enough detail to be matched at all."""
        return self.gradient >= MIN_GRADIENT

    def to_json(self) -> dict[str, Any]:
        """As JSON values (a worker's reply carries it)."""
        return {
            "phash": f"{self.phash:016x}",
            "aspect": self.aspect,
            "thumb": base64.b64encode(self.thumb).decode(),
            "gradient": self.gradient,
        }

    @classmethod
    def from_json(cls, value: object) -> Fingerprint | None:
        """The fingerprint a worker sent, or None when it is not one."""
        try:
            assert isinstance(value, dict)
            thumb = base64.b64decode(value["thumb"], validate=True)
            phash = int(value["phash"], 16)
            aspect, gradient = float(value["aspect"]), float(value["gradient"])
        except (AssertionError, KeyError, TypeError, ValueError):
            return None
        if len(thumb) not in (THUMB_BYTES, THUMB_BYTES + CHROMA_BYTES):
            return None
        if not 0 <= phash < 1 << 64 or not aspect > 0:
            return None
        return cls(phash, aspect, thumb, gradient)


def draft_box(width: int, height: int) -> tuple[int, int]:
    """The size to ask a JPEG's `draft` for: Pillow picks the largest DCT scale whose
    output is still at least this big, so the thumbnail is made from >= `DRAFT_SIDE`."""
    side = min(width, height)
    keep = min(1.0, DRAFT_SIDE / side) if side else 1.0
    return max(1, math.ceil(width * keep)), max(1, math.ceil(height * keep))


def fingerprint(image: Image.Image, upright: tuple[int, int] | None = None) -> Fingerprint:
    """The fingerprint of decoded, upright pixels (any mode; a draft decode's reduced
    pixels are fine). `upright`: the full size, for the aspect ratio, when `image` is a
    reduced decode (its rounding would move the ratio)."""
    width, height = upright or image.size
    if image.mode not in ("L", "RGB"):
        # Palette and 1-bit images resize by nearest neighbour only; 16-bit and float
        # ones would be clipped, not scaled, to grey levels.
        image = image.convert("RGB")
    # Bilinear (a triangle filter as wide as the reduction), not box: a box average over
    # a non-integer number of pixels aliases fine texture differently at each source
    # size (a 800 px copy of a textured wallpaper reached correlation 0.96 with box, 0.9998
    # bilinear). The blur then evens out what is left between decode scales (largest
    # normalized difference of those copies 0.74 -> 0.26).
    reduced = image.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BILINEAR)
    if reduced.mode == "L":
        grey, chroma = reduced, b""
    else:
        grey = reduced.convert("L")
        blocks = reduced.convert("YCbCr").reduce(THUMB_SIDE // CHROMA_SIDE)
        chroma = blocks.getchannel("Cb").tobytes() + blocks.getchannel("Cr").tobytes()
    thumb = grey.tobytes() + chroma
    return Fingerprint(_phash(grey), width / height, thumb, _gradient(grey))


def _gradient(grey: Image.Image) -> float:
    """Mean absolute difference between horizontal and vertical neighbours."""
    side = THUMB_SIDE
    across = ImageChops.difference(grey.crop((0, 0, side - 1, side)), grey.crop((1, 0, side, side)))
    down = ImageChops.difference(grey.crop((0, 0, side, side - 1)), grey.crop((0, 1, side, side)))
    return float((ImageStat.Stat(across).mean[0] + ImageStat.Stat(down).mean[0]) / 2)


def _phash(grey: Image.Image) -> int:
    """pHash: the signs of the 8x8 lowest DCT frequencies of a 32x32 grey copy against
    their median (as the imagehash library computes it)."""
    small = grey.resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.BOX).tobytes()
    rows = [small[y * _HASH_SIDE : (y + 1) * _HASH_SIDE] for y in range(_HASH_SIDE)]
    # Along rows first: 32 rows x 8 frequencies; then down the columns: 8 x 8.
    across = [[sum(map(operator.mul, row, cos)) for cos in _COSINES] for row in rows]
    columns = list(zip(*across, strict=True))
    low = [sum(map(operator.mul, cos, column)) for cos in _COSINES for column in columns]
    # low[k_y * 8 + k_x]; order matches imagehash's dct[:8, :8].flatten().
    median = sorted(low)[len(low) // 2 - 1 : len(low) // 2 + 1]
    middle = (median[0] + median[1]) / 2
    bits = 0
    for value in low:
        bits = bits << 1 | (value > middle)
    return bits


@dataclass(frozen=True)
class Comparison:
    """How two thumbnails compare: correlation of their normalized pixels, and the
    largest difference between two normalized pixels (in standard deviations)."""

    correlation: float
    largest_diff: float


def compare(first: bytes, second: bytes) -> Comparison:
    """Compare two thumbnails, each normalized to mean 0 and standard deviation 1.

    In Pillow's C where it can be (0.15 ms instead of 1.7 in Python): the means and
    variances, and the largest difference, an expression over float images."""
    side = math.isqrt(len(first))
    a = Image.frombytes("L", (side, side), first)
    b = Image.frombytes("L", (side, side), second)
    stat_a, stat_b = ImageStat.Stat(a), ImageStat.Stat(b)
    mean_a, mean_b = stat_a.mean[0], stat_b.mean[0]
    spread_a, spread_b = math.sqrt(stat_a.var[0]), math.sqrt(stat_b.var[0])
    if not (spread_a > 0 and spread_b > 0):
        return Comparison(0.0, math.inf)
    n = len(first)
    product = sum(map(operator.mul, first, second)) / n
    correlation = (product - mean_a * mean_b) / (spread_a * spread_b)
    scale_a, scale_b = 1 / spread_a, 1 / spread_b
    shift = mean_b * scale_b - mean_a * scale_a
    difference = ImageMath.lambda_eval(
        lambda image: abs(image["a"] * scale_a - image["b"] * scale_b + shift),
        a=a.convert("F"),
        b=b.convert("F"),
    )
    assert isinstance(difference, Image.Image)
    largest = difference.getextrema()[1]
    assert isinstance(largest, float | int)
    return Comparison(correlation, float(largest))


def same_picture(stored: Fingerprint, candidate: Fingerprint) -> bool:
    """The confirmation: both informative, the same aspect ratio within 1 %, and the
    thumbnails alike everywhere (see the module's numbers)."""
    if not (stored.informative and candidate.informative):
        return False
    if abs(stored.aspect / candidate.aspect - 1) > MAX_ASPECT_DIFF:
        return False
    if (stored.phash ^ candidate.phash).bit_count() > CANDIDATE_BITS:
        return False
    seen = compare(stored.grey, candidate.grey)
    if seen.correlation < MIN_CORRELATION or seen.largest_diff > MAX_PIXEL_DIFF:
        return False
    if stored.chroma and candidate.chroma:
        return chroma_diff(stored.chroma, candidate.chroma) <= MAX_CHROMA_DIFF
    return True


def chroma_diff(first: bytes, second: bytes) -> int:
    """The largest difference of two blocks' Cb or Cr, in levels."""
    return int(max(map(abs, map(operator.sub, first, second))))
