"""Images made on the fly with Pillow, so the tests need no binary blobs."""

from __future__ import annotations

import io
import random
import struct
import zlib
from typing import Any

from PIL import Image


def image_bytes(
    width: int,
    height: int,
    fmt: str = "JPEG",
    *,
    mode: str = "RGB",
    noise: bool = False,
    orientation: int | None = None,
    seed: int = 0,
    **save: Any,
) -> bytes:
    """An image of the given size and format; `noise` makes it incompressible."""
    if noise:
        channels = len(mode)
        data = random.Random(seed).randbytes(width * height * channels)
        image = Image.frombytes(mode, (width, height), data)
    else:
        color: Any = (seed * 37 % 256, seed * 91 % 256, 200, 255)[: len(mode)]
        if mode in ("L", "P"):
            color = seed * 37 % 256
        image = Image.new(mode, (width, height), color)
        # A gradient band so decoders and encoders have real work to do.
        for x in range(0, width, max(1, width // 50)):
            image.paste(
                (x * 255 // width,) * len(mode) if mode not in ("L", "P") else x % 256,
                (x, 0, min(width, x + 2), height),
            )
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        save["exif"] = exif
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def jpeg(width: int, height: int, **kwargs: Any) -> bytes:
    """A JPEG of the given size."""
    return image_bytes(width, height, "JPEG", **kwargs)


def png(width: int, height: int, **kwargs: Any) -> bytes:
    """A PNG of the given size."""
    return image_bytes(width, height, "PNG", **kwargs)


def png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG that claims a huge canvas: what a decompression bomb looks like."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )


def textured(seed: int, size: tuple[int, int] = (1280, 960)) -> Image.Image:
    """A picture with detail everywhere (random discs on a random ground), distinct for
    each seed: what a photo looks like to a perceptual fingerprint, where the flat
    images above would fall under its information gate."""
    from PIL import ImageDraw

    rng = random.Random(seed)
    picture = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(picture)
    scale = max(size) / 640
    for _ in range(60):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        r = int(rng.randrange(10, 80) * scale)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return picture


def textured_jpeg(seed: int, size: tuple[int, int] = (1280, 960), quality: int = 87) -> bytes:
    """`textured` as a JPEG, as Telegram would send it."""
    out = io.BytesIO()
    textured(seed, size).save(out, "JPEG", quality=quality)
    return out.getvalue()
