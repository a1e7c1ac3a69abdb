"""Fair turns: a burst from one key waits in its own lane; overload is refused at once."""

from __future__ import annotations

import asyncio

import pytest

from bot.photo.fairness import Fairness, Overloaded


async def test_a_burst_holds_only_its_own_slots() -> None:
    fairness = Fairness(per_key=2, max_waiting=100)
    active: dict[int, int] = {1: 0, 2: 0}
    peak: dict[int, int] = {1: 0, 2: 0}
    finished: list[int] = []

    async def work(key: int, seconds: float) -> None:
        async with fairness.turn(key):
            active[key] += 1
            peak[key] = max(peak[key], active[key])
            await asyncio.sleep(seconds)
            active[key] -= 1
        finished.append(key)

    burst = [asyncio.create_task(work(1, 0.05)) for _ in range(10)]
    await asyncio.sleep(0.01)
    await work(2, 0.0)
    assert finished == [2], "the single job did not wait behind the burst"
    await asyncio.gather(*burst)
    assert peak[1] == 2
    assert fairness.waiting == 0
    assert not fairness._lanes, "idle lanes are dropped"


async def test_too_much_waiting_is_refused_and_cancelled_waiters_leave() -> None:
    fairness = Fairness(per_key=1, max_waiting=1)
    release = asyncio.Event()

    async def hold() -> None:
        async with fairness.turn(1):
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        async with fairness.turn(1):
            pass
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert fairness.waiting == 0
    release.set()
    await holder
    assert not fairness._lanes
