"""Back-pressure: a bound on updates worked on that holds whatever arrives; a person's burst
waits in its lane without holding the slots; the typing sign stays inside the flood budget."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.photo.fairness import Fairness
from bot.slots import WorkSlots
from bot.tg.application import SendRateLimiter
from bot.tg.updates import BoundedUpdates


class _Work:
    """Updates that block until released, counting how many run at once."""

    def __init__(self) -> None:
        self.active = self.peak = 0
        self.release = asyncio.Event()

    async def one(self) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        await self.release.wait()
        self.active -= 1


async def test_a_hand_over_waits_while_every_slot_is_busy() -> None:
    updates = BoundedUpdates(WorkSlots(2))
    work = _Work()
    # The library's fetcher awaits each hand-over in turn, as it does with a processor
    # that takes one update at a time.
    handed = [asyncio.create_task(updates.process_update(n, work.one())) for n in range(5)]
    await asyncio.sleep(0.05)
    assert [task.done() for task in handed] == [True, True, False, False, False]
    assert updates.slots.working == 2
    work.release.set()
    await asyncio.gather(*handed)
    await updates.join()
    assert (work.peak, updates.slots.working) == (2, 0)


async def test_a_burst_waiting_for_its_turn_leaves_the_slots_to_others() -> None:
    slots = WorkSlots(2)
    fairness = Fairness(per_key=1, max_waiting=100, while_waiting=slots.set_aside)
    updates = BoundedUpdates(slots)
    release = asyncio.Event()
    answered: list[str] = []

    async def photo(person: str) -> None:
        async with fairness.turn(hash(person)):
            if person == "one of a burst":
                await release.wait()
        answered.append(person)

    for _ in range(10):
        await updates.process_update(None, photo("one of a burst"))
    await asyncio.wait_for(updates.process_update(None, photo("someone else")), 1)
    await asyncio.sleep(0.05)
    assert answered == ["someone else"], "ten photos of one person held no slot in wait"
    release.set()
    await updates.join()
    assert (len(answered), slots.working) == (11, 0)


async def test_a_task_that_holds_no_slot_gives_none_back() -> None:
    slots = WorkSlots(1)
    async with slots.set_aside():
        assert slots.working == 0
    async with slots.held():
        assert slots.working == 1
        child = asyncio.create_task(_set_aside_in(slots))
        assert await child == 1, "a task started by the holder is not the holder"
    assert slots.working == 0


async def _set_aside_in(slots: WorkSlots) -> int:
    async with slots.set_aside():
        return slots.working


async def test_cancelled_while_taking_its_slot_back_a_task_gives_nothing_back() -> None:
    slots = WorkSlots(1)
    resumed = asyncio.Event()

    async def waits_in_lane() -> None:
        async with slots.held(), slots.set_aside():
            resumed.set()
            await asyncio.sleep(0)
        # leaving set_aside re-takes the slot; cancelled there, held() must not release it

    task = asyncio.create_task(waits_in_lane())
    await resumed.wait()
    await slots.acquire()  # someone else takes the free slot meanwhile
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert slots.working == 1, "only the other holder's slot is taken"


async def test_the_typing_sign_is_sent_only_with_half_the_budget_free() -> None:
    limiter = SendRateLimiter()
    sent: list[str] = []

    async def call(method: str) -> Any:
        sent.append(method)
        return True

    async def request(method: str) -> Any:
        return await limiter.process_request(
            call, (method,), {}, method, {"chat_id": 1}, rate_limit_args=None
        )

    assert await request("sendChatAction") is True
    for _ in range(15):
        await request("sendMessage")
    assert await request("sendChatAction") is False, "not sent: the budget is half used"
    assert await request("getFile") is True, "reads are never throttled"
    assert sent.count("sendChatAction") == 1
