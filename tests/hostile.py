"""A hostile image corpus, generated in code: what each decode path really costs.

Every generator returns the bytes of one file (or None when this machine cannot
make it); `CASES` describes each one (what its header declares, and what the bot
must make of it) and `CORPUS` maps its name to its generator:

- "bomb": must be refused, for the pixels it declares (over any sane limit) or
  for the work its decode takes (scan bombs: CPU grows with the scan count, not
  with the pixels);
- "heavy": within a 50 MP limit, so the bot may accept it, but its decode costs
  the full memory of its canvas for a file of a few bytes or KB: the cost model
  must reserve by declared size, never by file size;
- "valid": what a phone or an editor really sends;
- "broken": cannot be decoded (truncated, 12-bit JPEG): one clean refusal.

`python -m tests.hostile` prints, for each case, the file size, the time to make
it and, in a fresh subprocess, the peak RSS (VmHWM, MB) and CPU seconds of the naive
decode, `Image.open(...).load()` with Pillow's default limits and pillow-heif
registered (60 s timeout). As measured here (Pillow 13.0.0, libjpeg-turbo 3.2.0,
libwebp 1.6.0, libtiff 4.7.2, libheif 1.23.6; a shared 2-core machine; the child's
RSS after imports is 20 MB, and its CPU is counted from then; "make" is the
wall time to generate, inflated by a load average of ~5 on 2 cores):

    case                           nature      bytes make  peak   cpu  naive decode
    jpeg_scan_bomb                 bomb       93,831  0.1    49 15.68  ok RGB
    jpeg_scan_bomb_large           bomb      213,996  0.5   163 11.57  ok L
    jpeg_arith_scan_bomb           bomb      200,086  0.0    34 11.66  ok L
    jpeg_progressive_12mp          valid   3,287,557  1.6   103  0.22  ok RGB
    jpeg_truncated_progressive     broken  1,643,778  0.7    57  0.08  OSError (truncated)
    jpeg_header_only_49mp          heavy         150  0.0   210  0.22  ok RGB
    jpeg_lossless_49mp             heavy          59  0.0   209  0.34  ok RGB
    jpeg_arithmetic_49mp           heavy         106  0.0   210  0.28  ok RGB
    jpeg_12bit                     broken        140  0.0    25  0.04  UnidentifiedImageError
    jpeg_header_65535              bomb          150  0.0    22  0.01  DecompressionBombError
    jpeg_header_only_49mp_rot6     heavy         186  0.0   210  0.22  ok RGB
    jpeg_photo_48mp                valid  14,155,083  5.3   206  0.35  ok RGB
    jpeg_photo_48mp_progressive    valid  13,146,539  2.4   343  0.83  ok RGB
    jpeg_photo_12mp_rot6           valid   3,540,857  0.7    69  0.10  ok RGB
    png_1_49mp                     heavy       6,126  0.0    69  0.08  ok 1
    png_l_49mp                     heavy      48,530  0.0    69  0.16  ok L
    png_la_49mp                    heavy      96,994  0.0   209  0.37  ok LA
    png_p_49mp                     heavy      48,548  0.0    69  0.16  ok P
    png_rgb_49mp                   heavy     145,459  0.0   209  0.51  ok RGB
    png_rgba_49mp                  heavy     193,903  0.0   209  0.60  ok RGBA
    png_i_16_49mp                  heavy      96,994  0.0   116  0.30  ok I;16
    png_rgb_16_49mp                heavy     290,833  0.0   209  0.88  ok RGB
    png_rgba_16_49mp               heavy     387,741  0.0   209  1.09  ok RGBA
    png_rgba_49mp_rot8             heavy     193,941  0.0   209  0.60  ok RGBA
    png_header_65535               bomb           92  0.0    22  0.01  DecompressionBombError
    apng_49mp_500_frames           heavy     227,394  0.0   209  0.61  ok RGBA
    tiff_1_49mp                    heavy       2,112  0.0    73  0.10  ok 1
    tiff_l_49mp                    heavy       2,570  0.0    73  0.19  ok L
    tiff_i_16_49mp                 heavy       2,554  0.0   120  0.33  ok I;16
    tiff_i_49mp                    heavy       2,906  0.0   213  0.63  ok I
    tiff_f_49mp                    heavy       2,906  0.0   213  0.64  ok F
    tiff_rgb_49mp                  heavy       3,200  0.0   213  0.53  ok RGB
    tiff_rgba_49mp                 heavy       2,934  0.0   213  0.63  ok RGBA
    tiff_cmyk_49mp                 heavy       2,922  0.0   213  0.62  ok CMYK
    tiff_rgb_49mp_packbits         heavy      31,164  0.0   213  0.22  ok RGB
    tiff_rgb_49mp_rot6             heavy       3,212  0.0   400  0.76  ok RGB
    tiff_rgb_49mp_100_pages        heavy     131,306  0.0   213  0.53  ok RGB
    tiff_rgb_65535                 bomb      105,990  0.0    25  0.04  DecompressionBombError
    webp_lossless_49mp             heavy          38  0.6   773  0.73  ok RGB
    webp_lossless_49mp_rot6        heavy          90  0.6   773  0.74  ok RGB
    webp_animated_49mp_1000_frames heavy      48,044  0.0   773  0.63  ok RGB
    webp_animated_16383            bomb          140  0.0    25  0.04  DecompressionBombError
    gif_49mp_1000_frames           heavy      23,039  0.0    22  0.01  ok P
    gif_screen_65535               bomb           85  0.0    22  0.01  DecompressionBombError
    heic_48mp                      heavy      11,513 19.9   361  0.79  ok RGB
    heic_48mp_grid                 heavy      31,159 41.3   351  0.78  ok RGB
    avif_48mp                      heavy         946  3.4   452  0.62  ok RGB

What the numbers say:

- a scan bomb costs CPU in proportion to its scans, not its pixels: 94 KB buy
  16 s at 4 MP; a pixel limit does not stop it, a scan limit (or a CPU limit
  on the worker) does. A real progressive JPEG has 10 scans;
- peak RSS follows the declared canvas, not the file: 38 B of WebP decode to
  773 MB (libwebp decodes to an RGBA canvas, then Pillow copies: ~16 B a
  pixel), 49 MP progressive JPEG to 343 MB (its coefficient buffer), HEIC/AVIF
  at 48.8 MP to 350-450 MB, PNG/TIFF/baseline JPEG to what their mode needs
  (1 to 4 B a pixel, 16-bit samples read as 8-bit);
- an EXIF orientation in a TIFF doubles its peak (libtiff's RGBA reader);
- RSS counts touched pages only: the GIF's 49 MP canvas is allocated zeroed
  and never touched by a 1x1 frame, so it looks free until a convert() or
  resize() touches it: reserve by declared size anyway;
- the absurd headers are stopped by Pillow's bomb check at open, the 12-bit
  JPEG is not identified, the truncated one fails on load: one answer each.
"""

from __future__ import annotations

import functools
import io
import json
import random
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image, ImageChops

Nature = Literal["bomb", "heavy", "valid", "broken"]

_ORIENTATION = 0x0112


def _exif(orientation: int) -> bytes:
    """EXIF (with its "Exif\\0\\0" prefix) holding just an orientation."""
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    return exif.tobytes()


# ---------------------------------------------------------------- deflate of zeros

_ZERO_CHUNK = 1 << 20


@functools.cache
def _deflated_zero_chunk() -> bytes:
    """Raw deflate of 1 MiB of zeros ending in a full flush: it can be repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(bytes(_ZERO_CHUNK)) + compressor.flush(zlib.Z_FULL_FLUSH)


@functools.cache
def zlib_zeros(size: int) -> bytes:
    """A zlib stream of `size` zero bytes, ~1030:1, made in ms even for GBs.

    A full flush empties deflate's window, so the compressed 1 MiB chunk is the
    same wherever it stands; the Adler-32 of n zeros is (n mod 65521) << 16 | 1.
    """
    count, rest = divmod(size, _ZERO_CHUNK)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = compressor.compress(bytes(rest)) + compressor.flush(zlib.Z_FINISH)
    adler = ((size % 65521) << 16) | 1
    return b"\x78\xda" + _deflated_zero_chunk() * count + tail + struct.pack(">I", adler)


# ---------------------------------------------------------------- JPEG

_SOS, _EOI = 0xDA, 0xD9


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each JPEG segment after SOI; an SOS's end includes its data."""
    segments: list[tuple[int, int, int]] = []
    pos = 2
    while pos + 1 < len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"no marker at {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == _EOI or 0xD0 <= marker <= 0xD7:
            segments.append((marker, pos, pos + 2))
            if marker == _EOI:
                break
            pos += 2
            continue
        end = pos + 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker == _SOS:
            # Entropy-coded data runs to the next marker other than a stuffed 0xFF00 or RSTn.
            while (end := data.find(b"\xff", end)) >= 0 and end + 1 < len(data):
                following = data[end + 1]
                if following == 0 or 0xD0 <= following <= 0xD7:
                    end += 2
                    continue
                break
            if end < 0:
                end = len(data)
        segments.append((marker, pos, end))
        pos = end
    return segments


def count_sos(data: bytes) -> int:
    """How many scans (SOS segments) a JPEG has."""
    return sum(1 for marker, _, _ in jpeg_segments(data) if marker == _SOS)


@functools.cache
def _pillow_jpeg(width: int, height: int, mode: str, progressive: bool) -> bytes:
    """A flat-colour JPEG encoded by Pillow (libjpeg-turbo's standard scan script)."""
    colour: Any = 128 if mode == "L" else (120, 130, 140)
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, "JPEG", quality=90, progressive=progressive)
    return out.getvalue()


def scan_bomb(scans: int = 5000, side: int = 2000, mode: str = "RGB") -> bytes:
    """Progressive JPEG whose last (luma AC refinement) scan repeats: `scans` SOS in all.

    Each repeat is a legal 14-byte scan (an EOB run over every block) that
    libjpeg-turbo still walks block by block. Measured: 2000x2000 RGB, 5000
    scans = 94 KB and 15.8 s CPU (3.2 ms per scan, ~50 ns per block); 200_000
    scans would be 2.8 MB and ~10 min.
    """
    data = _pillow_jpeg(side, side, mode, True)
    sos = [(start, end) for marker, start, end in jpeg_segments(data) if marker == _SOS]
    if scans < len(sos):
        raise ValueError(f"at least {len(sos)} scans")
    start, end = sos[-1]
    return data[:end] + data[start:end] * (scans - len(sos)) + data[end:]


def scan_bomb_large(scans: int = 300) -> bytes:
    """scan_bomb at 7000x7000 grey (49 MP): 300 scans of 700 B = 214 KB, 11.7 s CPU (39 ms each)."""
    return scan_bomb(scans, 7000, "L")


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _sof(marker: int, width: int, height: int, components: int, precision: int = 8) -> bytes:
    body = struct.pack(">BHHB", precision, height, width, components)
    for ident in range(1, components + 1):
        body += bytes((ident, 0x11, 0))
    return _segment(marker, body)


def _sos(components: int, start: int, end: int, approx: int = 0) -> bytes:
    body = bytes([components]) + b"".join(bytes((i, 0)) for i in range(1, components + 1))
    return _segment(_SOS, body + bytes((start, end, approx)))


# One Huffman code, "0", for symbol 0: the zeros libjpeg pads a short scan with
# decode as "no difference" / "end of block".
_DHT_DC = _segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")
_DHT_AC = _segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
_DQT = _segment(0xDB, b"\x00" + bytes([1] * 64))


def jpeg_header_only(
    width: int,
    height: int,
    *,
    sof: int = 0xC0,
    components: int = 1,
    precision: int = 8,
    orientation: int | None = None,
) -> bytes:
    """JPEG of headers, an empty scan and EOI (~140 B): libjpeg pads the scan, decodes it all.

    `sof` 0xC0 baseline Huffman, 0xC3 lossless (libjpeg-turbo >= 3), 0xC9
    arithmetic; `precision` 12 makes a JPEG Pillow cannot open.
    """
    app1 = _segment(0xE1, _exif(orientation)) if orientation else b""
    if sof == 0xC3:
        tables, scan = _DHT_DC, _sos(components, 1, 0)
    elif sof in (0xC9, 0xCA):
        tables, scan = _DQT, _sos(components, 0, 63)
    else:
        tables, scan = _DQT + _DHT_DC + _DHT_AC, _sos(components, 0, 63)
    return (
        b"\xff\xd8"
        + app1
        + tables
        + _sof(sof, width, height, components, precision)
        + scan
        + b"\xff\xd9"
    )


def arith_scan_bomb(scans: int = 20000, side: int = 2000) -> bytes:
    """Arithmetic-coded progressive grey JPEG (SOF10) of `scans` empty 10-byte scans.

    20000 scans at 2000x2000 = 200 KB and 12.2 s CPU: with no data each scan
    still decodes (the arithmetic decoder reads the padding zeros) every block.
    """
    return (
        b"\xff\xd8"
        + _DQT
        + _sof(0xCA, side, side, 1)
        + _sos(1, 0, 0)
        + _sos(1, 1, 63) * (scans - 1)
        + b"\xff\xd9"
    )


def _noise(size: tuple[int, int], sigma: float, rng: random.Random) -> Image.Image:
    """Uniform grey noise around 128 with the given standard deviation, from a seeded RNG."""
    scale = sigma / 73.9  # a uniform 0..255 byte has a standard deviation of 73.9

    def spread(value: int) -> int:
        return 128 + round((value - 128) * scale)

    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1])).point(spread)


@functools.lru_cache(maxsize=1)
def _photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A textured RGB picture (coarse noise, gradients, grain) that compresses like a photo."""
    rng = random.Random(seed)
    half = (width // 2, height // 2)
    grain_tile = _noise((1024, 1024), 14, rng)
    grain = Image.new("L", half)
    for y in range(0, half[1], 1024):
        for x in range(0, half[0], 1024):
            grain.paste(grain_tile, (x, y))
    channels = []
    for index, sigma in enumerate((48, 40, 56)):
        coarse = _noise((width // 48 + 1, height // 48 + 1), sigma, rng)
        coarse = coarse.resize(half, Image.Resampling.BILINEAR)
        gradient = Image.radial_gradient("L") if index == 1 else Image.linear_gradient("L")
        mixed = Image.blend(coarse, gradient.resize(half), 0.45)
        channels.append(ImageChops.add(mixed, grain, 1, -128))
    return Image.merge("RGB", channels).resize((width, height), Image.Resampling.BICUBIC)


def phone_photo(
    width: int = 8000,
    height: int = 6000,
    *,
    progressive: bool = False,
    orientation: int | None = None,
) -> bytes:
    """A phone-like JPEG, q90: 48 MP = 14.1 MB baseline / 13.1 MB progressive, 12 MP = 3.5 MB."""
    out = io.BytesIO()
    save: dict[str, Any] = {"quality": 90, "progressive": progressive}
    if orientation:
        save["exif"] = _exif(orientation)
    _photo(width, height).save(out, "JPEG", **save)
    return out.getvalue()


def progressive_normal(width: int = 4000, height: int = 3000) -> bytes:
    """A 12 MP progressive photo with libjpeg-turbo's usual 10 scans (~3.3 MB)."""
    return phone_photo(width, height, progressive=True)


def truncated_progressive(width: int = 4000, height: int = 3000) -> bytes:
    """The first half of a 12 MP progressive photo: Pillow refuses it as truncated."""
    data = progressive_normal(width, height)
    return data[: len(data) // 2]


# ---------------------------------------------------------------- PNG

# Pillow mode (as Pillow opens it, or as written) -> (bit depth, colour type, channels).
PNG_MODES: dict[str, tuple[int, int, int]] = {
    "1": (1, 0, 1),
    "L": (8, 0, 1),
    "LA": (8, 4, 2),
    "P": (8, 3, 1),
    "RGB": (8, 2, 3),
    "RGBA": (8, 6, 4),
    "I;16": (16, 0, 1),
    "RGB;16": (16, 2, 3),
    "RGBA;16": (16, 6, 4),
}


def _chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _png_row_bytes(width: int, mode: str) -> int:
    depth, _, channels = PNG_MODES[mode]
    return 1 + (width * depth * channels + 7) // 8


def _png_head(width: int, height: int, mode: str, orientation: int | None) -> bytes:
    depth, colour, _ = PNG_MODES[mode]
    head = b"\x89PNG\r\n\x1a\n" + _chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    )
    if mode == "P":
        head += _chunk(b"PLTE", bytes((40, 90, 160, 255, 255, 255)))
    if orientation:
        head += _chunk(b"eXIf", _exif(orientation).removeprefix(b"Exif\x00\x00"))
    return head


def png_flat(
    width: int, height: int, mode: str = "RGB", *, orientation: int | None = None
) -> bytes:
    """A black (palette: blue) PNG whose IDAT inflates to every row: ~1/1030 of the raw size.

    `mode` is a key of PNG_MODES; "RGB;16"/"RGBA;16" are 48/64-bit PNGs, which
    Pillow cannot write (it reads them as 8-bit RGB/RGBA).
    """
    raw = height * _png_row_bytes(width, mode)
    return (
        _png_head(width, height, mode, orientation)
        + _chunk(b"IDAT", zlib_zeros(raw))
        + _chunk(b"IEND", b"")
    )


def png_header_only(width: int, height: int, mode: str = "RGB") -> bytes:
    """A PNG that declares a huge canvas and holds one row (~100 B): refused or truncated."""
    row = _png_row_bytes(min(width, 4096), mode)
    return (
        _png_head(width, height, mode, None)
        + _chunk(b"IDAT", zlib.compress(bytes(row)))
        + _chunk(b"IEND", b"")
    )


def apng_canvas(width: int = 7000, height: int = 7000, frames: int = 500) -> bytes:
    """An APNG: a full black RGBA default frame then `frames - 1` 1x1 frames (~200 KB at 49 MP)."""
    mode = "RGBA"
    parts = [_png_head(width, height, mode, None)]
    parts.append(_chunk(b"acTL", struct.pack(">II", frames, 0)))
    sequence = 0

    def fctl(w: int, h: int, x: int, y: int) -> bytes:
        nonlocal sequence
        chunk = _chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, w, h, x, y, 1, 10, 0, 0))
        sequence += 1
        return chunk

    parts.append(fctl(width, height, 0, 0))
    parts.append(_chunk(b"IDAT", zlib_zeros(height * _png_row_bytes(width, mode))))
    pixel = zlib.compress(b"\x00\xff\x00\x00\xff")
    for index in range(1, frames):
        parts.append(fctl(1, 1, index * 7919 % width, index * 104729 % height))
        parts.append(_chunk(b"fdAT", struct.pack(">I", sequence) + pixel))
        sequence += 1
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


# ---------------------------------------------------------------- TIFF

# Pillow mode -> (photometric, bits per sample, sample format, extra samples).
TIFF_MODES: dict[str, tuple[int, tuple[int, ...], int, tuple[int, ...]]] = {
    "1": (1, (1,), 1, ()),
    "L": (1, (8,), 1, ()),
    "I;16": (1, (16,), 1, ()),
    "I": (1, (32,), 2, ()),
    "F": (1, (32,), 3, ()),
    "RGB": (2, (8, 8, 8), 1, ()),
    "RGBA": (2, (8, 8, 8, 8), 1, (2,)),
    "CMYK": (5, (8, 8, 8, 8), 1, ()),
}
_SHORT, _LONG = 3, 4
_TIFF_COMPRESSION = {"deflate": 8, "packbits": 32773}


def _packbits_zeros(size: int) -> bytes:
    """PackBits of `size` zeros: runs of 128 (2 bytes each), 64:1."""
    runs, rest = divmod(size, 128)
    tail = bytes((257 - rest, 0)) if rest > 1 else (b"\x00\x00" if rest else b"")
    return b"\x81\x00" * runs + tail


def _ifd(entries: list[tuple[int, int, tuple[int, ...]]], at: int, next_ifd: int) -> bytes:
    """A little-endian IFD placed at offset `at`, its long values right after it."""
    entries = sorted(entries)
    overflow_at = at + 2 + 12 * len(entries) + 4
    head, overflow = [struct.pack("<H", len(entries))], b""
    for tag, kind, values in entries:
        fmt = "H" if kind == _SHORT else "I"
        packed = struct.pack(f"<{len(values)}{fmt}", *values)
        if len(packed) <= 4:
            field = packed.ljust(4, b"\x00")
        else:
            field = struct.pack("<I", overflow_at + len(overflow))
            overflow += packed + b"\x00" * (len(packed) % 2)
        head.append(struct.pack("<HHI", tag, kind, len(values)) + field)
    return b"".join(head) + struct.pack("<I", next_ifd) + overflow


def tiff_flat(
    width: int,
    height: int,
    mode: str = "RGB",
    *,
    compression: Literal["deflate", "packbits"] = "deflate",
    orientation: int | None = None,
    pages: int = 1,
) -> bytes:
    """A black TIFF of strips that all point at one compressed strip: a few KB at 49 MP.

    `mode` is a key of TIFF_MODES; every page of a multi-page file shares the
    same strips (legal TIFF: nothing forbids strips to overlap).
    """
    photometric, bits, sample_format, extra = TIFF_MODES[mode]
    row = (width * sum(bits) + 7) // 8
    rows_per_strip = max(1, min(height, (1 << 20) // max(row, 1)))
    strips, last_rows = divmod(height, rows_per_strip)
    encode = zlib_zeros if compression == "deflate" else _packbits_zeros
    full = encode(rows_per_strip * row)
    last = encode(last_rows * row) if last_rows else b""
    data = b"II*\x00" + struct.pack("<I", 0)  # first IFD offset patched below
    full_at, last_at = len(data), len(data) + len(full)
    data += full + last
    offsets = (full_at,) * strips + ((last_at,) if last_rows else ())
    counts = (len(full),) * strips + ((len(last),) if last_rows else ())
    entries: list[tuple[int, int, tuple[int, ...]]] = [
        (256, _LONG, (width,)),
        (257, _LONG, (height,)),
        (258, _SHORT, bits),
        (259, _SHORT, (_TIFF_COMPRESSION[compression],)),
        (262, _SHORT, (photometric,)),
        (273, _LONG, offsets),
        (277, _SHORT, (len(bits),)),
        (278, _LONG, (rows_per_strip,)),
        (279, _LONG, counts),
        (284, _SHORT, (1,)),
        (339, _SHORT, (sample_format,) * len(bits)),
    ]
    if extra:
        entries.append((338, _SHORT, extra))
    if orientation:
        entries.append((274, _SHORT, (orientation,)))
    data += b"\x00" * (len(data) % 2)
    first = len(data)
    for page in range(pages):
        at = len(data)
        size = len(_ifd(entries, at, 0))
        data += _ifd(entries, at, at + size if page + 1 < pages else 0)
    return data[:4] + struct.pack("<I", first) + data[8:]


# ---------------------------------------------------------------- WebP, GIF


@functools.cache
def webp_lossless_flat(
    width: int = 7000, height: int = 7000, *, orientation: int | None = None
) -> bytes:
    """A flat lossless WebP (method 0): 7000x7000 in 38 B (+EXIF), made by Pillow in ~0.5 s."""
    save: dict[str, Any] = {"lossless": True, "method": 0, "quality": 0}
    if orientation:
        save["exif"] = _exif(orientation)
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 130, 140)).save(out, "WEBP", **save)
    return out.getvalue()


def _riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


def webp_animated_canvas(width: int = 7000, height: int = 7000, frames: int = 1000) -> bytes:
    """Animated WebP: 16x16 frames on a `width` x `height` canvas (VP8X patched), ~60 B a frame."""
    small = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    small[0].save(out, "WEBP", save_all=True, append_images=small[1:], lossless=True, duration=40)
    chunks = _riff_chunks(out.getvalue())
    body = b""
    anmf = [payload for kind, payload in chunks if kind == b"ANMF"]
    for kind, payload in chunks:
        if kind == b"VP8X":
            canvas = struct.pack("<I", width - 1)[:3] + struct.pack("<I", height - 1)[:3]
            payload = payload[:4] + canvas
        if kind == b"ANMF":
            continue
        body += kind + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)
    for index in range(frames):
        payload = anmf[index % len(anmf)]
        body += b"ANMF" + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def gif_canvas(width: int = 7000, height: int = 7000, frames: int = 1000) -> bytes:
    """A GIF whose logical screen is `width` x `height`, of 1x1 frames (~20 B each)."""
    parts = [
        b"GIF89a",
        struct.pack("<HHBBB", width, height, 0x80, 0, 0),
        b"\x00\x00\x00\xff\xff\xff",
    ]
    parts.append(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")
    for index in range(frames):
        x, y = index * 7919 % width, index * 104729 % height
        parts.append(b"\x21\xf9\x04\x04\x02\x00\x00\x00")  # keep the canvas, 20 ms
        parts.append(b"\x2c" + struct.pack("<HHHHB", x, y, 1, 1, 0))
        parts.append(b"\x02\x02\x44\x01\x00")  # LZW: clear, index 0 (or 1), end
    parts.append(b"\x3b")
    return b"".join(parts)


# ---------------------------------------------------------------- HEIF, AVIF


def _heif_available() -> bool:
    try:
        import pillow_heif
    except ImportError:
        return False
    encoders = pillow_heif.libheif_info().get("encoders", {})
    return any("HEVC" in str(name) for name in encoders.values())


def heic_flat(width: int = 8064, height: int = 6048, *, grid: int = 0) -> bytes | None:
    """A flat HEIC via pillow-heif/x265; `grid` > 0 tiles it (192 512-px tiles at 48.8 MP).

    pillow-heif writes one 8064x6048 HEVC item unless GRID_TILE_SIZE is set
    (an iPhone writes a grid of 512-px tiles). At 8064x6048: 11.5 KB in 7.8 s
    as one image, 31 KB in 10.9 s as a grid
    (x265 is slow, hence `slow=True` in CASES). None when no HEVC encoder is
    there.
    """
    if not _heif_available():
        return None
    import pillow_heif

    pillow_heif.register_heif_opener()
    previous = pillow_heif.options.GRID_TILE_SIZE
    pillow_heif.options.GRID_TILE_SIZE = grid
    try:
        out = io.BytesIO()
        Image.new("RGB", (width, height), (120, 130, 140)).save(out, "HEIF", quality=30)
    finally:
        pillow_heif.options.GRID_TILE_SIZE = previous
    return out.getvalue()


def avif_flat(width: int = 8064, height: int = 6048) -> bytes | None:
    """A flat AVIF via Pillow's own plugin (libavif, speed 10): ~1 KB at 48.8 MP, ~1 s."""
    from PIL import features

    if not features.check("avif"):
        return None
    out = io.BytesIO()
    try:
        Image.new("RGB", (width, height), (120, 130, 140)).save(out, "AVIF", quality=30, speed=10)
    except (OSError, ValueError):  # no AV1 encoder in this libavif
        return None
    return out.getvalue()


# ---------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Case:
    """One hostile (or honest) file and what its header declares."""

    name: str
    make: Callable[[], bytes | None]
    format: str  # as Pillow names it once opened
    width: int
    height: int
    mode: str  # Pillow's mode once opened
    nature: Nature
    frames: int = 1
    max_bytes: int = 1_000_000  # a bound on the generated size
    slow: bool = False  # takes seconds to make (x265, 48 MP photos)
    orientation: int | None = None  # EXIF orientation it carries
    identifies: bool = True  # False: Pillow cannot even read its header


def _c(name: str, make: Callable[[], bytes | None], *args: Any, **kwargs: Any) -> Case:
    return Case(name, make, *args, **kwargs)


_MP49 = 7000
CASES: list[Case] = [
    # JPEG: work, not pixels
    _c("jpeg_scan_bomb", scan_bomb, "JPEG", 2000, 2000, "RGB", "bomb", max_bytes=200_000),
    _c("jpeg_scan_bomb_large", scan_bomb_large, "JPEG", 7000, 7000, "L", "bomb"),
    _c("jpeg_arith_scan_bomb", arith_scan_bomb, "JPEG", 2000, 2000, "L", "bomb"),
    _c(
        "jpeg_progressive_12mp",
        progressive_normal,
        "JPEG",
        4000,
        3000,
        "RGB",
        "valid",
        max_bytes=6_000_000,
    ),
    _c(
        "jpeg_truncated_progressive",
        truncated_progressive,
        "JPEG",
        4000,
        3000,
        "RGB",
        "broken",
        max_bytes=3_000_000,
    ),
    _c(
        "jpeg_header_only_49mp",
        lambda: jpeg_header_only(_MP49, _MP49, components=3),
        "JPEG",
        _MP49,
        _MP49,
        "RGB",
        "heavy",
    ),
    _c(
        "jpeg_lossless_49mp",
        lambda: jpeg_header_only(_MP49, _MP49, sof=0xC3, components=3),
        "JPEG",
        _MP49,
        _MP49,
        "RGB",
        "heavy",
    ),
    _c(
        "jpeg_arithmetic_49mp",
        lambda: jpeg_header_only(_MP49, _MP49, sof=0xC9, components=3),
        "JPEG",
        _MP49,
        _MP49,
        "RGB",
        "heavy",
    ),
    _c(
        "jpeg_12bit",
        lambda: jpeg_header_only(4000, 3000, sof=0xC1, precision=12),
        "JPEG",
        4000,
        3000,
        "L",
        "broken",
        identifies=False,
    ),
    _c(
        "jpeg_header_65535",
        lambda: jpeg_header_only(65535, 65535, components=3),
        "JPEG",
        65535,
        65535,
        "RGB",
        "bomb",
    ),
    _c(
        "jpeg_header_only_49mp_rot6",
        lambda: jpeg_header_only(_MP49, _MP49, components=3, orientation=6),
        "JPEG",
        _MP49,
        _MP49,
        "RGB",
        "heavy",
        orientation=6,
    ),
    # Realistic photos
    _c(
        "jpeg_photo_48mp",
        phone_photo,
        "JPEG",
        8000,
        6000,
        "RGB",
        "valid",
        max_bytes=20_000_000,
        slow=True,
    ),
    _c(
        "jpeg_photo_48mp_progressive",
        lambda: phone_photo(progressive=True),
        "JPEG",
        8000,
        6000,
        "RGB",
        "valid",
        max_bytes=20_000_000,
        slow=True,
    ),
    _c(
        "jpeg_photo_12mp_rot6",
        lambda: phone_photo(4000, 3000, orientation=6),
        "JPEG",
        4000,
        3000,
        "RGB",
        "valid",
        max_bytes=6_000_000,
        orientation=6,
    ),
    # PNG: every mode at 49 MP
    *(
        _c(
            f"png_{mode.replace(';', '_').lower()}_49mp",
            functools.partial(png_flat, _MP49, _MP49, mode),
            "PNG",
            _MP49,
            _MP49,
            {"RGB;16": "RGB", "RGBA;16": "RGBA"}.get(mode, mode),
            "heavy",
        )
        for mode in PNG_MODES
    ),
    _c(
        "png_rgba_49mp_rot8",
        lambda: png_flat(_MP49, _MP49, "RGBA", orientation=8),
        "PNG",
        _MP49,
        _MP49,
        "RGBA",
        "heavy",
        orientation=8,
    ),
    _c(
        "png_header_65535",
        lambda: png_header_only(65535, 65535),
        "PNG",
        65535,
        65535,
        "RGB",
        "bomb",
    ),
    _c("apng_49mp_500_frames", apng_canvas, "PNG", _MP49, _MP49, "RGBA", "heavy", frames=500),
    # TIFF: every mode at 49 MP
    *(
        _c(
            f"tiff_{mode.replace(';', '_').lower()}_49mp",
            functools.partial(tiff_flat, _MP49, _MP49, mode),
            "TIFF",
            _MP49,
            _MP49,
            mode,
            "heavy",
        )
        for mode in TIFF_MODES
    ),
    _c(
        "tiff_rgb_49mp_packbits",
        lambda: tiff_flat(_MP49, _MP49, "RGB", compression="packbits"),
        "TIFF",
        _MP49,
        _MP49,
        "RGB",
        "heavy",
        max_bytes=3_000_000,
    ),
    _c(
        "tiff_rgb_49mp_rot6",
        lambda: tiff_flat(_MP49, _MP49, "RGB", orientation=6),
        "TIFF",
        _MP49,
        _MP49,
        "RGB",
        "heavy",
        orientation=6,
    ),
    _c(
        "tiff_rgb_49mp_100_pages",
        lambda: tiff_flat(_MP49, _MP49, "RGB", pages=100),
        "TIFF",
        _MP49,
        _MP49,
        "RGB",
        "heavy",
        frames=100,
    ),
    _c(
        "tiff_rgb_65535",
        lambda: tiff_flat(65535, 65535, "RGB"),
        "TIFF",
        65535,
        65535,
        "RGB",
        "bomb",
    ),
    # WebP
    _c("webp_lossless_49mp", webp_lossless_flat, "WEBP", _MP49, _MP49, "RGB", "heavy"),
    _c(
        "webp_lossless_49mp_rot6",
        lambda: webp_lossless_flat(orientation=6),
        "WEBP",
        _MP49,
        _MP49,
        "RGB",
        "heavy",
        orientation=6,
    ),
    _c(
        "webp_animated_49mp_1000_frames",
        webp_animated_canvas,
        "WEBP",
        _MP49,
        _MP49,
        "RGB",
        "heavy",
        frames=1000,
    ),
    _c(
        "webp_animated_16383",
        lambda: webp_animated_canvas(16383, 16383, 2),
        "WEBP",
        16383,
        16383,
        "RGB",
        "bomb",
        frames=2,
    ),
    # GIF
    _c("gif_49mp_1000_frames", gif_canvas, "GIF", _MP49, _MP49, "P", "heavy", frames=1000),
    _c(
        "gif_screen_65535",
        lambda: gif_canvas(65535, 65535, 2),
        "GIF",
        65535,
        65535,
        "P",
        "bomb",
        frames=2,
    ),
    # HEIF / AVIF
    _c("heic_48mp", heic_flat, "HEIF", 8064, 6048, "RGB", "heavy", slow=True),
    _c(
        "heic_48mp_grid",
        lambda: heic_flat(grid=512),
        "HEIF",
        8064,
        6048,
        "RGB",
        "heavy",
        slow=True,
    ),
    _c("avif_48mp", avif_flat, "AVIF", 8064, 6048, "RGB", "heavy", slow=True),
]

CORPUS: dict[str, Callable[[], bytes | None]] = {case.name: case.make for case in CASES}
BY_NAME: dict[str, Case] = {case.name: case for case in CASES}


# ---------------------------------------------------------------- measuring

_CHILD = r"""
import json, resource, sys, time
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
from PIL import Image
import pillow_heif
pillow_heif.register_heif_opener()
base, usage = hwm(), resource.getrusage(resource.RUSAGE_SELF)
cpu0 = usage.ru_utime + usage.ru_stime
try:
    with Image.open(sys.argv[1]) as image:
        image.load()
        result = f"ok {image.mode}"
except Exception as error:  # noqa: BLE001
    result = type(error).__name__
    if "truncated" in str(error):
        result += " (truncated)"
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"base": base, "peak": hwm(), "cpu": usage.ru_utime + usage.ru_stime - cpu0,
                  "result": result}))
"""


def measure(data: bytes, timeout: float = 60) -> dict[str, Any]:
    """Peak RSS (MB) and CPU (s) of a naive open + load of `data`, in a fresh process."""
    with tempfile.NamedTemporaryFile(suffix=".img") as file:
        file.write(data)
        file.flush()
        try:
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, file.name],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"result": f"timeout after {timeout:.0f} s"}
    if done.returncode != 0:
        return {"result": f"exit {done.returncode}: {done.stderr.strip()[-80:]}"}
    measured: dict[str, Any] = json.loads(done.stdout)
    return measured


def _row(*cells: object) -> str:
    name, nature, size, made, peak, cpu, result = (str(cell) for cell in cells)
    return f"{name:30} {nature:6} {size:>10} {made:>4} {peak:>5} {cpu:>5}  {result}"


def _main(names: list[str]) -> None:
    base = 0
    print(_row("case", "nature", "bytes", "make", "peak", "cpu", "naive decode"))
    for case in CASES:
        if names and case.name not in names:
            continue
        started = time.perf_counter()
        data = case.make()
        made = f"{time.perf_counter() - started:.1f}"
        if data is None:
            print(_row(case.name, case.nature, "-", made, "-", "-", "unavailable"))
            continue
        got = measure(data)
        cpu = f"{got['cpu']:.2f}" if "cpu" in got else "-"
        size = f"{len(data):,}"
        print(_row(case.name, case.nature, size, made, got.get("peak", "-"), cpu, got["result"]))
        sys.stdout.flush()
        base = got.get("base", base)
    print(f"(child RSS after imports: {base} MB)")


if __name__ == "__main__":
    _main(sys.argv[1:])
