"""The cost model against the real peak RSS of a fresh worker process, path by path.

`images.inspect` reserves, before any pixel is decoded, what preparing an image will
hold at its peak. tracemalloc does not see Pillow's C allocations, so each bound is
checked against the worker's VmHWM (its RSS high-water mark, reset before the image)
over its RSS when idle. The model must bound every case (ratio <= 1); the table keeps
the ratios measured when the model was set, so a library update that changes what a
decoder holds shows up here, in either direction.
"""

from __future__ import annotations

import pytest

from bot.config import ApiSettings
from bot.photo import cost, images, inspection, rules
from bot.photo.decoding import DecodePool
from tests import hostile

DEFAULT_BUDGET = ApiSettings.model_fields["decode_budget_mb"].default * 1_000_000
UNLIMITED = 10**12

# peak RSS / reserved bytes, as measured on the 2-core machine of 2026-12-06 (Pillow 13.0,
# libjpeg-turbo 3.2, libwebp 1.6, libtiff 4.7, libheif 1.23).
MEASURED = {
    "jpeg_progressive_12mp": 0.83,  # integrity check at 1/8: coefficient buffers
    "jpeg_header_only_49mp_rot6": 0.76,  # full decode, rotated copy
    "jpeg_photo_12mp_rot6": 0.67,
    "png_rgba_49mp_rot8": 0.76,  # rotation, alpha check, PNG encode capped, shrinks
    "png_la_49mp": None,  # a pass-through PNG: CRCs only, nothing decoded, no worker
    "tiff_1_49mp": 0.58,
    "tiff_i_16_49mp": 0.70,
    "tiff_f_49mp": 0.85,  # F converts through L
    "tiff_cmyk_49mp": 0.76,
    "tiff_rgb_49mp_rot6": 0.76,
    "webp_lossless_49mp": 0.78,
    "gif_49mp_1000_frames": 0.47,
    "avif_48mp": 0.87,
}
# What a ratio may move before the table is out of date.
DRIFT = 0.12


async def _measure(data: bytes) -> tuple[inspection.Inspection, int]:
    """The plan for `data`, and the peak RSS of preparing it in a fresh worker."""
    plan = images.inspect(data, UNLIMITED)
    # Reserve more than the model says, so that the address-space limit cannot end a
    # decode the model underestimates before its peak is seen.
    pool = DecodePool(1, cpu_seconds=60.0)
    try:
        _, stats = await pool.prepare(
            data, None, memory_limit=UNLIMITED, reserve=3 * plan.working_memory
        )
    finally:
        await pool.close()
    return plan, stats.peak_bytes


@pytest.mark.parametrize("name", sorted(MEASURED))
async def test_the_model_bounds_the_measured_peak(name: str) -> None:
    data = hostile.CORPUS[name]()
    assert data is not None
    expected = MEASURED[name]
    if expected is None:
        plan = images.inspect(data, UNLIMITED)
        assert not plan.isolated
        assert plan.working_memory <= cost.check_memory(len(data))
        return
    plan, peak = await _measure(data)
    ratio = peak / plan.working_memory
    print(f"{name}: reserved {plan.working_memory / 2**20:.0f} MB, peak {peak / 2**20:.0f} MB")
    assert ratio <= 1.0, f"{name}: the decode held more than the model reserved"
    assert abs(ratio - expected) <= DRIFT, f"{name}: ratio {ratio:.2f}, table says {expected}"


async def test_a_48_mp_heic_as_phones_write_it_fits_the_default_budget() -> None:
    data = hostile.heic_flat(8064, 6048, grid=512)
    if data is None:
        pytest.skip("no HEVC encoder in this pillow-heif")
    plan, peak = await _measure(data)
    assert plan.working_memory <= DEFAULT_BUDGET
    assert peak <= plan.working_memory


@pytest.mark.parametrize(
    "name", ["jpeg_photo_48mp", "jpeg_photo_48mp_progressive", "jpeg_header_only_49mp_rot6"]
)
def test_a_jpeg_over_the_budget_is_decoded_reduced(name: str) -> None:
    data = hostile.CORPUS[name]()
    assert data is not None
    # A progressive JPEG's coefficient buffers (144 MB at 48 MP) do not shrink with scale.
    budget = 250_000_000
    plan = images.inspect(data, budget)
    assert plan.scale > 1
    assert plan.working_memory <= budget
    full = images.inspect(data, UNLIMITED)
    assert full.working_memory > budget


@pytest.mark.parametrize("name", ["webp_lossless_49mp", "tiff_f_49mp", "avif_48mp"])
def test_other_formats_over_the_budget_are_refused_with_the_numbers(name: str) -> None:
    data = hostile.CORPUS[name]()
    assert data is not None
    with pytest.raises(rules.TooMuchWork) as refused:
        images.inspect(data, 150_000_000)
    assert refused.value.what is rules.Work.MEMORY
    assert refused.value.needed is not None
    assert refused.value.needed > refused.value.limit == 150_000_000
