"""The byte budget: holds wait for room, large holds run alone, nothing leaks on error."""

from __future__ import annotations

import asyncio

import pytest

from bot.photo.budget import ByteBudget


async def test_holds_wait_until_room_is_freed() -> None:
    budget = ByteBudget(100)
    order: list[str] = []

    async def hold(name: str, amount: int, pause: float) -> None:
        async with budget.hold(amount):
            order.append(f"+{name}")
            await asyncio.sleep(pause)
            order.append(f"-{name}")

    await asyncio.gather(hold("a", 60, 0.05), hold("b", 60, 0.0))
    assert order == ["+a", "-a", "+b", "-b"]
    assert budget.in_use == 0


async def test_a_hold_larger_than_the_budget_runs_alone() -> None:
    budget = ByteBudget(100)
    async with budget.hold(1_000):
        assert budget.in_use == 100


async def test_an_error_inside_a_hold_gives_the_bytes_back() -> None:
    budget = ByteBudget(100)
    with pytest.raises(RuntimeError):
        async with budget.hold(50):
            raise RuntimeError
    assert budget.in_use == 0


async def test_a_cancelled_waiter_takes_nothing() -> None:
    budget = ByteBudget(100)
    async with budget.hold(100):
        waiter = asyncio.create_task(budget.hold(10).__aenter__())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert budget.in_use == 0
