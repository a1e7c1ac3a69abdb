"""A corpus of awkward and hostile images, each through the whole bot with its expected outcome.

Outcomes: "as is" (the API gets the very bytes), "trimmed" (a vendor trailer cut),
"converted"/"rotated"/"shrunk"/"compressed" (the API gets a fixed JPEG/PNG and the
person is told where it matters), or refused for a named rule with no API call.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from PIL import Image

from bot.app import BotService
from bot.photo.rules import MAX_UPLOAD_BYTES
from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import image_bytes, jpeg, png, png_bomb

CHAT = 6006


def _animated_gif() -> bytes:
    frames = [Image.new("P", (500, 400), i * 40) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


def _transparent(fmt: str) -> bytes:
    image = Image.new("RGBA", (500, 500), (0, 128, 255, 0))
    image.paste((255, 0, 0, 255), (100, 100, 400, 400))
    out = io.BytesIO()
    image.save(out, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return out.getvalue()


def _broken_huffman_table() -> bytes:
    """A photo whose first Huffman table claims two 1-bit codes: libjpeg refuses it."""
    data = bytearray(jpeg(1280, 960))
    data[data.index(b"\xff\xc4") + 5] ^= 0x02
    return bytes(data)


def _cmyk_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("CMYK", (600, 600), (0, 100, 200, 0)).save(out, "JPEG")
    return out.getvalue()


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], bytes]
    expect: str  # as is | trimmed | converted | rotated | shrunk | compressed | refused
    detail: str = ""  # for refusals: a phrase the answer must hold; else the output mime
    photo: tuple[int, int] | None = None  # sent as a compressed photo with these sizes
    file_name: str = "image"
    mime: str = "application/octet-stream"
    declared_size: int | None = None


CASES = [
    # Sent as they are.
    Case("photo 1280", lambda: jpeg(1280, 960), "as is", photo=(1280, 960)),
    Case("photo 2560", lambda: jpeg(2560, 1920), "as is", photo=(2560, 1920)),
    Case("jpeg file 4000x3000", lambda: jpeg(4000, 3000), "as is"),
    Case("png file", lambda: png(1000, 1000), "as is"),
    Case("png with alpha", lambda: _transparent("PNG"), "as is"),
    Case("smallest square", lambda: jpeg(300, 300), "as is"),
    Case("widest allowed", lambda: jpeg(750, 300), "as is"),
    Case("tallest allowed", lambda: jpeg(300, 750), "as is"),
    Case("greyscale jpeg", lambda: jpeg(600, 600, mode="L"), "as is"),
    Case("progressive jpeg", lambda: jpeg(800, 600, progressive=True), "as is"),
    Case("jpeg named .png", lambda: jpeg(640, 480), "as is", file_name="x.png", mime="image/png"),
    Case("png named .jpg", lambda: png(640, 480), "as is", file_name="x.jpg", mime="image/jpeg"),
    Case("cmyk jpeg", _cmyk_jpeg, "as is"),
    Case("jpeg with vendor trailer", lambda: jpeg(640, 480) + b"\0\0SEFHxxSEFT", "trimmed"),
    # Fixed before upload.
    Case("webp", lambda: image_bytes(640, 480, "WEBP"), "converted", "image/jpeg"),
    Case("webp with alpha", lambda: _transparent("WEBP"), "converted", "image/png"),
    Case("heic", lambda: image_bytes(640, 480, "HEIF"), "converted", "image/jpeg"),
    Case("avif", lambda: image_bytes(640, 480, "AVIF"), "converted", "image/jpeg"),
    Case("animated gif", _animated_gif, "converted", "image/jpeg"),
    Case("bmp", lambda: image_bytes(640, 480, "BMP"), "converted", "image/jpeg"),
    Case("tiff", lambda: image_bytes(640, 480, "TIFF"), "converted", "image/jpeg"),
    Case("exif rotated 90", lambda: jpeg(900, 400, orientation=6), "rotated", "image/jpeg"),
    Case("exif rotated 270", lambda: jpeg(1000, 400, orientation=8), "rotated", "image/jpeg"),
    Case("12 MB png", lambda: png(2000, 2000, noise=True), "converted", "image/jpeg"),
    Case(
        "18 MB jpeg",
        lambda: jpeg(3000, 3000, noise=True, quality=100),
        "compressed",
        "image/jpeg",
    ),
    Case("14 MB jpeg", lambda: jpeg(3600, 3400, noise=True, quality=95), "shrunk", "image/jpeg"),
    Case(
        "13 MB png with alpha",
        lambda: image_bytes(1900, 1900, "PNG", mode="RGBA", noise=True),
        "shrunk",
        "image/png",
    ),
    # Refused, with the rule and the numbers.
    Case("small photo", lambda: jpeg(250, 400), "refused", "250 x 400 px", photo=(250, 400)),
    Case("wide photo", lambda: jpeg(1280, 400), "refused", "3.20:1", photo=(1280, 400)),
    Case("wide png file", lambda: png(1300, 500), "refused", "1300 x 500 px, an aspect ratio"),
    Case("tall strip", lambda: jpeg(100, 1000), "refused", "100 x 1000 px; each side"),
    Case("tiny webp", lambda: image_bytes(200, 200, "WEBP"), "refused", "200 x 200 px"),
    Case("zero bytes", lambda: b"", "refused", "could not read this file as an image"),
    Case("text file", lambda: b"hello, world\n" * 10, "refused", "could not read this file"),
    Case("pdf", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "refused", "could not read"),
    Case("svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"/>', "refused", "not read"),
    Case("truncated jpeg", lambda: jpeg(800, 600, noise=True)[:40_000], "refused", "damaged"),
    Case("truncated png", lambda: png(800, 600, noise=True)[:40_000], "refused", "damaged"),
    Case(
        "truncated photo",
        lambda: jpeg(800, 600, noise=True)[:40_000],
        "refused",
        "damaged",
        photo=(800, 600),
    ),
    Case("damaged photo", _broken_huffman_table, "refused", "damaged", photo=(1280, 960)),
    Case(
        "photo + zip",
        lambda: jpeg(640, 480) + b"PK\x03\x04" + b"\0" * 40,
        "refused",
        "another",
        photo=(640, 480),
    ),
    Case("jpeg + zip", lambda: jpeg(640, 480) + b"PK\x03\x04" + b"\0" * 40, "refused", "another"),
    Case("png + html", lambda: png(640, 480) + b"<html><script>x</script>", "refused", "another"),
    Case(
        "pixel bomb",
        lambda: png_bomb(8000, 8000),
        "refused",
        "8000 x 8000 px; I can check at most 50",
    ),
    Case("over 20 MB", lambda: b"x", "refused", "25.0 MB", declared_size=25 * 1024 * 1024),
]


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_corpus_case(
    case: Case, bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    data = case.make()
    if case.photo:
        telegram.push(telegram.photo_update(CHAT, data, *case.photo))
    else:
        telegram.push(
            telegram.document_update(
                CHAT,
                data,
                file_name=case.file_name,
                mime_type=case.mime,
                file_size=case.declared_size,
            )
        )

    [reply] = await telegram.wait_sent(CHAT, within=30)
    text = reply["text"]

    if case.expect == "refused":
        assert case.detail in text
        assert not kling.received
        return
    assert text.startswith("Found 4 of 4 segments"), text
    [request] = kling.received
    sent = request.decoded
    assert sent is not None
    assert len(sent) <= MAX_UPLOAD_BYTES
    if case.expect == "as is":
        assert sent == data
        assert "ℹ️" not in text
        return
    if case.expect == "trimmed":
        assert data.startswith(sent)
        assert len(sent) < len(data)
        return
    expected_format = {"image/jpeg": "JPEG", "image/png": "PNG"}[case.detail]
    with Image.open(io.BytesIO(sent)) as uploaded:
        assert uploaded.format == expected_format
        width, height = uploaded.size
    assert min(width, height) >= 300
    if case.expect == "rotated":
        assert height > width, "the upright image is portrait"
    else:
        told = {"converted": "converted from", "shrunk": "shrunk to", "compressed": "compressed"}
        assert told[case.expect] in text
