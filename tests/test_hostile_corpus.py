"""The hostile corpus's generators make what they claim: right headers, sizes, scan counts."""

from __future__ import annotations

import io
import zlib
from typing import Literal

import pytest
from PIL import Image, ImageSequence, UnidentifiedImageError

from tests import hostile
from tests.hostile import CASES, Case


@pytest.fixture(autouse=True)
def _no_pixel_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # The headers are checked, not judged: the bombs must open too.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)


def test_names_are_unique_and_in_corpus() -> None:
    assert len({case.name for case in CASES}) == len(CASES) == len(hostile.CORPUS)
    assert {case.nature for case in CASES} == {"bomb", "heavy", "valid", "broken"}


@pytest.mark.parametrize("case", [c for c in CASES if not c.slow], ids=lambda c: c.name)
def test_header_declares_what_the_case_says(case: Case) -> None:
    data = case.make()
    assert isinstance(data, bytes)
    assert 0 < len(data) <= case.max_bytes
    if not case.identifies:
        with pytest.raises(UnidentifiedImageError):
            Image.open(io.BytesIO(data))
        return
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size, image.mode) == (
            case.format,
            (case.width, case.height),
            case.mode,
        )
        assert getattr(image, "n_frames", 1) == case.frames
        assert _orientation(image) == case.orientation


def _orientation(image: Image.Image) -> int | None:
    """The EXIF orientation, read without decoding (a PNG's getexif() loads the image)."""
    if image.format == "TIFF":
        return image.getexif().get(0x0112)
    exif = Image.Exif()
    if raw := image.info.get("exif"):
        exif.load(raw)
    return exif.get(0x0112)


@pytest.mark.parametrize("scans", [10, 11, 1234])
def test_scan_bomb_has_the_requested_scans(scans: int) -> None:
    data = hostile.scan_bomb(scans, side=64)
    assert hostile.count_sos(data) == scans
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == (64, 64)


def test_scan_bomb_needs_the_scans_pillow_writes() -> None:
    with pytest.raises(ValueError, match="at least 10 scans"):
        hostile.scan_bomb(9, side=64)


def test_arith_scan_bomb_decodes() -> None:
    data = hostile.arith_scan_bomb(50, side=64)
    assert hostile.count_sos(data) == 50
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == (64, 64)


def test_normal_progressive_has_ten_scans() -> None:
    assert hostile.count_sos(hostile.progressive_normal(320, 240)) == 10


def test_truncated_progressive_is_refused_on_load() -> None:
    with Image.open(io.BytesIO(hostile.truncated_progressive(320, 240))) as image:
        assert image.size == (320, 240)
        with pytest.raises(OSError, match="truncated"):
            image.load()


@pytest.mark.parametrize("size", [0, 1, 1 << 20, (1 << 20) + 5, 3 << 20])
def test_zlib_zeros_inflate_to_zeros(size: int) -> None:
    assert zlib.decompress(hostile.zlib_zeros(size)) == bytes(size)


@pytest.mark.parametrize(("sof", "mode"), [(0xC0, "RGB"), (0xC3, "RGB"), (0xC9, "RGB")])
def test_header_only_jpegs_decode_in_full(sof: int, mode: str) -> None:
    data = hostile.jpeg_header_only(37, 23, sof=sof, components=3)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert (image.mode, image.size) == (mode, (37, 23))


@pytest.mark.parametrize("mode", list(hostile.PNG_MODES))
def test_png_flat_decodes(mode: str) -> None:
    with Image.open(io.BytesIO(hostile.png_flat(37, 23, mode, orientation=6))) as image:
        image.load()
        assert image.size == (37, 23)
        assert image.getexif()[0x0112] == 6


@pytest.mark.parametrize("compression", ["deflate", "packbits"])
@pytest.mark.parametrize("mode", list(hostile.TIFF_MODES))
def test_tiff_flat_decodes(mode: str, compression: Literal["deflate", "packbits"]) -> None:
    # 300 000 rows of 1 byte or more: several strips, the last one short.
    width, height = 37, 30_001 if mode == "1" else 3_001
    data = hostile.tiff_flat(width, height, mode, compression=compression, pages=3)
    with Image.open(io.BytesIO(data)) as image:
        assert getattr(image, "n_frames", 1) == 3
        image.load()
        assert (image.mode, image.size) == (mode, (width, height))
        assert image.getextrema() in ((0, 0), ((0, 0),) * len(image.getbands()), (0.0, 0.0))


def test_animations_decode_every_frame() -> None:
    for data, frames in [
        (hostile.apng_canvas(64, 48, 5), 5),
        (hostile.gif_canvas(64, 48, 5), 5),
        (hostile.webp_animated_canvas(64, 48, 5), 5),
    ]:
        with Image.open(io.BytesIO(data)) as image:
            assert sum(1 for frame in ImageSequence.Iterator(image) if frame.load()) == frames
            assert image.size == (64, 48)


def test_heif_and_avif_small() -> None:
    for data, fmt in [
        (hostile.heic_flat(640, 480), "HEIF"),
        (hostile.heic_flat(640, 480, grid=256), "HEIF"),
        (hostile.avif_flat(640, 480), "AVIF"),
    ]:
        if data is None:
            pytest.skip(f"no {fmt} encoder here")
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert (image.format, image.size) == (fmt, (640, 480))
