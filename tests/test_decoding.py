"""Decode workers: real processes, ended by their limits, replaced, shared fairly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable

import psutil
import pytest

from bot.photo import images, rules
from bot.photo.decoding import DecodePool
from tests import hostile
from tests.imagegen import jpeg

LIMIT = 1_000_000_000
ROTATED = jpeg(900, 600, orientation=6)
# A 49 MP RGBA PNG with an EXIF rotation: 190 KB whose re-encode takes seconds of CPU.
HEAVY = hostile.png_flat(7000, 7000, "RGBA", orientation=8)


@pytest.fixture
async def pool() -> AsyncIterator[DecodePool]:
    decoders = DecodePool(2, cpu_seconds=60.0)
    try:
        yield decoders
    finally:
        await decoders.close()


async def _prepare(
    pool: DecodePool, data: bytes, owner: object = None
) -> tuple[images.PreparedImage, int]:
    plan = images.inspect(data, LIMIT)
    prepared, stats = await pool.prepare(
        data, None, memory_limit=LIMIT, reserve=plan.working_memory, owner=owner
    )
    return prepared, stats.peak_bytes


async def _until(condition: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


def _gone(pid: int, within: float = 5.0) -> bool:
    """Whether process `pid` has ended (or is a zombie nobody reaped yet)."""
    ends = time.monotonic() + within
    while time.monotonic() < ends:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


async def test_a_worker_prepares_what_a_thread_would(pool: DecodePool) -> None:
    prepared, peak = await _prepare(pool, ROTATED)
    assert prepared == images.prepare(ROTATED, memory_limit=LIMIT)
    assert prepared.changes == {images.Change.ROTATED}
    assert peak > 0


async def test_refusals_come_back_with_their_numbers(pool: DecodePool) -> None:
    # Too small once upright: refused in the worker as in a thread, numbers and all.
    data = hostile.png_flat(900, 200, "RGB", orientation=6)
    with pytest.raises(rules.TooSmall) as refused:
        await pool.prepare(data, None, memory_limit=LIMIT, reserve=100_000_000)
    assert (refused.value.width, refused.value.height) == (200, 900)


async def test_a_decode_past_its_cpu_limit_is_ended_and_its_worker_replaced() -> None:
    pool = DecodePool(1, cpu_seconds=0.2)
    try:
        await pool.start()
        (first,) = pool.pids
        with pytest.raises(rules.TooMuchWork) as refused:
            await _prepare(pool, HEAVY)
        assert refused.value.what is rules.Work.CPU
        assert _gone(first)
        # The replacement takes the next image.
        prepared, _ = await _prepare(pool, ROTATED)
        assert prepared.width == 600
        assert pool.replaced == 1
        assert pool.pids != [first]
    finally:
        await pool.close()


async def test_a_decoder_that_wants_more_than_its_reserve_is_refused(pool: DecodePool) -> None:
    # The address-space limit, not the cost model, stops it: 1 MB for a 49 MP decode.
    with pytest.raises(rules.TooMuchWork) as refused:
        await pool.prepare(HEAVY, None, memory_limit=LIMIT, reserve=1_000_000)
    assert refused.value.what is rules.Work.MEMORY
    # The worker lives on: a failed allocation is an answer, not a crash.
    assert pool.replaced == 0
    assert (await _prepare(pool, ROTATED))[0].height == 900


async def test_a_cancelled_decode_leaves_no_worker_burning_cpu(pool: DecodePool) -> None:
    await pool.start()
    task = asyncio.create_task(_prepare(pool, HEAVY))
    await _until(lambda: bool(pool.busy_pids))
    (working,) = pool.busy_pids
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _gone(working)
    await _prepare(pool, ROTATED)
    assert pool.replaced == 1


async def test_a_worker_killed_while_idle_is_replaced_before_it_is_used(
    pool: DecodePool,
) -> None:
    await pool.start()
    for pid in pool.pids:
        os.kill(pid, signal.SIGKILL)
    # The event loop learns of the deaths while it runs, as it would while the bot waits.
    await asyncio.sleep(0.5)
    prepared, _ = await _prepare(pool, ROTATED)
    assert prepared.width == 600
    assert pool.replaced >= 1


async def test_one_person_holds_at_most_half_the_workers(pool: DecodePool) -> None:
    await pool.start()
    first = asyncio.create_task(_prepare(pool, HEAVY, owner="ann"))
    second = asyncio.create_task(_prepare(pool, HEAVY, owner="ann"))
    await _until(lambda: bool(pool.busy_pids))
    await asyncio.sleep(0.2)
    assert len(pool.busy_pids) == 1  # Ann's second image waits for her first
    # Bob's image takes the worker Ann's second may not.
    prepared, _ = await _prepare(pool, ROTATED, owner="bob")
    assert prepared.width == 600
    assert not second.done()
    await asyncio.gather(first, second)


def test_workers_end_with_a_parent_killed_by_sigkill() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from bot.photo.decoding import DecodePool

        async def main():
            pool = DecodePool(2, cpu_seconds=60.0)
            await pool.start()
            print(*pool.pids, flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
    )
    try:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2
        parent.kill()
        parent.wait(timeout=10)
        assert all(_gone(pid) for pid in pids)
    finally:
        parent.kill()
        parent.wait(timeout=10)


async def test_a_worker_killed_mid_decode_answers_its_image_and_is_replaced(
    pool: DecodePool,
) -> None:
    # As the kernel's OOM killer would: SIGKILL from outside, while it decodes.
    await pool.start()
    task = asyncio.create_task(_prepare(pool, HEAVY))
    await _until(lambda: bool(pool.busy_pids))
    (working,) = pool.busy_pids
    os.kill(working, signal.SIGKILL)
    with pytest.raises(rules.TooMuchWork) as refused:
        await task
    assert refused.value.what is rules.Work.MEMORY
    assert pool.replaced == 1
    assert (await _prepare(pool, ROTATED))[0].width == 600
