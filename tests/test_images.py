"""Image rules: early checks, pass-through, conversion, shrinking and hostile bytes."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.photo import cost, images, rules
from bot.photo.images import Change, PreparedImage
from bot.photo.rules import (
    BadAspectRatio,
    CorruptImage,
    HiddenPayload,
    ImageRejected,
    NotAnImage,
    TooLargeToDownload,
    TooManyPixels,
    TooSmall,
    check_declared,
    check_dimensions,
)
from tests import hostile
from tests.imagegen import image_bytes, jpeg, png, png_bomb

# These tests are about the rules, not the budget (tests/test_decode_cost.py is).
BUDGET = 1_000_000_000


def prepare(data: bytes, photo_size: tuple[int, int] | None = None) -> PreparedImage:
    return images.prepare(data, photo_size, memory_limit=BUDGET)


@pytest.mark.parametrize(
    ("width", "height"), [(300, 300), (300, 750), (750, 300), (4000, 3000), (400, 1000)]
)
def test_sizes_within_the_rules_pass(width: int, height: int) -> None:
    check_dimensions(width, height)


@pytest.mark.parametrize(
    ("width", "height", "error"),
    [
        (299, 600, TooSmall),
        (600, 299, TooSmall),
        (751, 300, BadAspectRatio),
        (300, 751, BadAspectRatio),
        (2000, 500, BadAspectRatio),
    ],
)
def test_sizes_outside_the_rules_are_refused_with_the_numbers(
    width: int, height: int, error: type[ImageRejected]
) -> None:
    with pytest.raises(error) as caught:
        check_dimensions(width, height)
    assert (caught.value.width, caught.value.height) == (width, height)  # type: ignore[attr-defined]


@given(st.integers(1, 5000), st.integers(1, 5000))
def test_dimension_rule_matches_its_definition(width: int, height: int) -> None:
    allowed = min(width, height) >= 300 and 0.4 <= width / height <= 2.5
    try:
        check_dimensions(width, height)
    except (TooSmall, BadAspectRatio):
        assert not allowed
    else:
        assert allowed


@pytest.mark.parametrize("local_mode", [False, True])
def test_declared_size_over_the_download_limit_is_refused_early(local_mode: bool) -> None:
    limit = rules.download_limit(local_mode)
    assert limit == (2000 if local_mode else 20) * 1024 * 1024
    with pytest.raises(TooLargeToDownload) as caught:
        check_declared(file_size=limit + 1, width=None, height=None, limit=limit)
    assert (caught.value.size, caught.value.limit) == (limit + 1, limit)
    check_declared(file_size=limit, width=None, height=None, limit=limit)


@pytest.mark.parametrize("maker", [jpeg, png])
def test_acceptable_jpeg_and_png_pass_through_byte_for_byte(maker: object) -> None:
    data = maker(1280, 960)  # type: ignore[operator]
    prepared = prepare(data)
    assert prepared.data == data
    assert prepared.changes == frozenset()
    assert (prepared.width, prepared.height) == (1280, 960)


@pytest.mark.parametrize(
    ("fmt", "mode", "expected_mime"),
    [
        ("WEBP", "RGB", "image/jpeg"),
        ("GIF", "P", "image/jpeg"),
        ("BMP", "RGB", "image/jpeg"),
        ("TIFF", "RGB", "image/jpeg"),
        ("HEIF", "RGB", "image/jpeg"),
    ],
)
def test_other_formats_are_converted(fmt: str, mode: str, expected_mime: str) -> None:
    prepared = prepare(image_bytes(640, 480, fmt, mode=mode))
    assert prepared.mime == expected_mime
    assert prepared.source_format == fmt
    assert Change.CONVERTED in prepared.changes
    assert Image.open(io.BytesIO(prepared.data)).size == (640, 480)


def test_transparency_is_kept_as_png() -> None:
    image = Image.new("RGBA", (500, 500), (255, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, "WEBP", lossless=True)
    prepared = prepare(out.getvalue())
    assert prepared.mime == "image/png"


def test_exif_rotation_is_applied_and_checked_upright() -> None:
    # Stored 900x400 (2.25:1), shown upright as 400x900.
    prepared = prepare(jpeg(900, 400, orientation=6))
    assert (prepared.width, prepared.height) == (400, 900)
    assert Change.ROTATED in prepared.changes
    assert Image.open(io.BytesIO(prepared.data)).size == (400, 900)


def test_png_over_10_mb_is_made_to_fit() -> None:
    data = png(2000, 2000, noise=True)
    assert len(data) > rules.MAX_UPLOAD_BYTES
    prepared = prepare(data)
    assert len(prepared.data) <= rules.MAX_UPLOAD_BYTES
    assert prepared.mime == "image/jpeg"
    assert min(prepared.width, prepared.height) >= rules.MIN_SIDE


def test_jpeg_over_10_mb_is_recompressed_when_that_suffices() -> None:
    data = jpeg(3000, 3000, noise=True, quality=100)
    assert len(data) > rules.MAX_UPLOAD_BYTES
    prepared = prepare(data)
    assert len(prepared.data) <= rules.MAX_UPLOAD_BYTES
    assert prepared.changes == {Change.RECOMPRESSED}
    assert (prepared.width, prepared.height) == (3000, 3000)


def test_jpeg_over_10_mb_is_shrunk_when_recompressing_is_not_enough() -> None:
    data = jpeg(3600, 3400, noise=True, quality=95)
    assert len(data) > rules.MAX_UPLOAD_BYTES
    prepared = prepare(data)
    assert len(prepared.data) <= rules.MAX_UPLOAD_BYTES
    assert prepared.changes == {Change.SHRUNK}
    assert 3400 > prepared.height >= rules.MIN_SIDE
    assert abs(prepared.width / prepared.height - 3600 / 3400) < 0.01


@pytest.mark.parametrize("data", [b"", b"hello world", b"%PDF-1.4 x", b"\x00" * 1000])
def test_non_images_are_refused(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        prepare(data)


@pytest.mark.parametrize("maker", [jpeg, png])
def test_truncated_files_are_refused_as_corrupt(maker: object) -> None:
    data = maker(800, 600, noise=True)  # type: ignore[operator]
    with pytest.raises(CorruptImage):
        prepare(data[: len(data) // 2])


def test_pixel_bomb_is_refused_from_the_header_with_its_size() -> None:
    with pytest.raises(TooManyPixels) as caught:
        prepare(png_bomb(8000, 8000))
    assert (caught.value.width, caught.value.height) == (8000, 8000)


def test_pixel_bomb_far_over_the_budget_is_stopped_by_pillow() -> None:
    with pytest.raises(TooManyPixels):
        prepare(png_bomb(30000, 30000))


@pytest.mark.parametrize(
    "payload", [b"PK\x03\x04zipdata", b"<script>alert(1)</script>", b"%PDF-1.7"]
)
def test_image_with_another_file_appended_is_refused(payload: bytes) -> None:
    with pytest.raises(HiddenPayload):
        prepare(jpeg(600, 600) + payload)


def test_png_with_a_zip_appended_is_refused() -> None:
    with pytest.raises(HiddenPayload):
        prepare(png(600, 600) + b"\x00" * 4 + b"data PK\x05\x06" + b"\x00" * 18)


def test_vendor_trailer_after_a_jpeg_is_cut_off() -> None:
    data = jpeg(600, 600)
    prepared = prepare(data + b"\x00\x00SEFH vendor metadata SEFT")
    assert prepared.data == data


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise_anything_but_a_refusal(data: bytes) -> None:
    with contextlib.suppress(ImageRejected):
        prepare(data)


_SAMPLES = {
    "jpeg": jpeg(400, 400, noise=True),
    "png": png(400, 400, noise=True),
    "gif": image_bytes(400, 400, "GIF", mode="P"),
    "webp": image_bytes(400, 400, "WEBP", noise=True),
}


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(_SAMPLES)), st.floats(0.0, 0.999), st.integers(0, 255))
def test_damaged_images_are_refused_or_prepared_never_crash(
    name: str, where: float, value: int
) -> None:
    data = bytearray(_SAMPLES[name])
    cut = int(len(data) * where)
    variants = [bytes(data[:cut])]
    data[cut] = value
    variants.append(bytes(data))
    for variant in variants:
        try:
            prepared = prepare(variant)
        except ImageRejected:
            continue
        assert prepared.mime in ("image/jpeg", "image/png")
        assert len(prepared.data) <= rules.MAX_UPLOAD_BYTES


_PHOTO = jpeg(1280, 960)
_PHOTO_HEADER_END = _PHOTO.index(b"\xff\xda") + 14
_PROGRESSIVE = jpeg(1280, 960, progressive=True)


def test_a_telegram_photo_skips_the_integrity_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[str] = []
    monkeypatch.setattr(images, "_check_integrity", lambda *args: decoded.append("decoded"))
    assert prepare(_PHOTO, (1280, 960)).data == _PHOTO
    assert not decoded
    prepare(_PHOTO)
    assert decoded == ["decoded"], "a file is always decoded"


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (_PHOTO, (1280, 961)),
        (_PHOTO + b"\x00\x00SEFH vendor metadata SEFT", (1280, 960)),
        (png(1280, 960), (1280, 960)),
    ],
    ids=["size differs from the declared", "trailer", "not a jpeg"],
)
def test_a_photo_unlike_telegrams_own_output_is_decoded(
    data: bytes, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    monkeypatch.setattr(images, "_check_integrity", lambda *args: decoded.append("decoded"))
    prepare(data, size)
    assert decoded == ["decoded"]


@pytest.mark.parametrize(
    "data",
    [
        _PHOTO[: len(_PHOTO) // 2],
        _PHOTO[:-2],
        _PHOTO + b"PK\x03\x04" + b"\0" * 40,
        _PHOTO + b"<html><script>x</script>",
    ],
    ids=["truncated", "no end marker", "zip appended", "html appended"],
)
def test_damaged_and_polyglot_photos_are_refused_like_files(data: bytes) -> None:
    with pytest.raises(ImageRejected) as as_file:
        prepare(data)
    with pytest.raises(type(as_file.value)):
        prepare(data, (1280, 960))


def test_a_progressive_photo_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """libjpeg checks a later scan's header only when it reaches it."""
    decoded: list[str] = []
    monkeypatch.setattr(images, "_check_integrity", lambda *args: decoded.append("decoded"))
    prepare(_PROGRESSIVE, (1280, 960))
    assert decoded == ["decoded"]


def _refused(data: bytes, photo_size: tuple[int, int] | None) -> bool:
    try:
        prepare(data, photo_size)
    except ImageRejected:
        return True
    return False


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([_PHOTO, _PROGRESSIVE]),
    st.one_of(st.integers(2, _PHOTO_HEADER_END - 1), st.integers(2, len(_PHOTO) - 1)),
    st.integers(0, 255),
    st.booleans(),
)
def test_a_damaged_photo_gets_the_verdict_the_decode_would_give(
    photo: bytes, where: int, value: int, cut: bool
) -> None:
    """The cheap checks a Telegram photo gets refuse exactly what the integrity decode
    refuses: a byte changed anywhere (most often in the header, where the checks differ)
    or the rest cut off. Checked once over 8,000 random faults of five kinds of JPEG and
    10,264 single-byte header faults."""
    where = min(where, len(photo) - 1)
    data = photo[:where] if cut else photo[:where] + bytes([value]) + photo[where + 1 :]
    assert _refused(data, (1280, 960)) == _refused(data, None)


def test_a_scan_bomb_is_refused_by_its_count_before_any_decode() -> None:
    with pytest.raises(rules.TooMuchWork) as refused:
        images.inspect(hostile.scan_bomb(5000), BUDGET)
    # The walk stops at the first scan over the cap: the count says where it stopped.
    assert refused.value.what is rules.Work.SCANS
    assert (refused.value.needed, refused.value.limit) == (rules.MAX_SCANS + 1, rules.MAX_SCANS)


def test_scans_are_counted_against_the_image_size() -> None:
    # 30 scans of a 49 MP image are 1.47 G pixel-scans: within the cap; 31 are over it.
    within = images.inspect(hostile.scan_bomb(30, side=7000), BUDGET)
    assert within.isolated
    assert within.layout is not None
    assert len(within.layout.scans) == 30
    with pytest.raises(rules.TooMuchWork) as refused:
        images.inspect(hostile.scan_bomb(31, side=7000), BUDGET)
    assert (refused.value.needed, refused.value.limit) == (31, 30)


@pytest.mark.parametrize(
    ("data", "isolated", "reencode"),
    [
        (jpeg(1280, 960), False, False),  # one sequential scan: a check the header bounds
        (png(1280, 960), False, False),  # CRCs only
        (hostile.progressive_normal(1280, 960), True, False),  # later scans are decoded
        (jpeg(1280, 960, orientation=6), True, True),
        (image_bytes(800, 600, "WEBP"), True, True),
    ],
)
def test_only_checks_the_header_bounds_stay_out_of_a_worker(
    data: bytes, isolated: bool, reencode: bool
) -> None:
    plan = images.inspect(data, BUDGET)
    assert (plan.isolated, plan.reencode) == (isolated, reencode)
    if not isolated:
        assert plan.working_memory <= cost.check_memory(len(data))


def test_an_encode_past_twice_the_upload_limit_is_stopped_and_the_image_shrunk() -> None:
    # Noise does not compress: a 2800 px RGBA PNG encodes to about 31 MB.
    data = image_bytes(2800, 2800, "PNG", mode="RGBA", noise=True, orientation=6)
    prepared = prepare(data)
    assert prepared.mime == "image/png"
    assert len(prepared.data) <= rules.MAX_UPLOAD_BYTES
    assert Change.SHRUNK in prepared.changes


@pytest.mark.parametrize(
    ("file_size", "width", "height"),
    [(-5, None, None), (None, -1, 500), (None, 10**30, 10**30), (None, 0, 0)],
)
def test_declared_values_no_file_has_are_not_believed(
    file_size: int | None, width: int | None, height: int | None
) -> None:
    check_declared(file_size=file_size, width=width, height=height, limit=100)


def test_an_absurd_declared_size_is_over_the_limit_without_its_digits() -> None:
    with pytest.raises(TooLargeToDownload) as refused:
        check_declared(file_size=10**30, width=None, height=None, limit=100)
    assert refused.value.size is None
    assert str(refused.value) == "a size no file has, over 100"


@pytest.mark.parametrize(
    "make",
    [
        lambda: hostile.gif_canvas(800, 600, frames=3),
        lambda: hostile.apng_canvas(800, 600, frames=3),
        lambda: hostile.webp_animated_canvas(800, 600, frames=3),
        lambda: hostile.tiff_flat(800, 600, "RGB", pages=3),
    ],
)
def test_an_animated_or_multi_page_file_is_checked_by_its_first_frame_and_says_so(
    make: Callable[[], bytes],
) -> None:
    prepared = prepare(make())
    assert Change.FIRST_FRAME in prepared.changes
    assert (prepared.width, prepared.height) == (800, 600)


def test_a_still_gif_is_not_said_to_be_cut() -> None:
    assert Change.FIRST_FRAME not in prepare(image_bytes(400, 400, "GIF", mode="P")).changes
