"""Running the real BotService in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.app import BotService
from tests.fakes.telegram import FakeBotApi


@contextlib.asynccontextmanager
async def running(service: BotService) -> AsyncIterator[BotService]:
    """Serve updates until the block ends, then stop as on SIGTERM."""
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    ready = asyncio.create_task(service.ready.wait())
    await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()  # start-up failed: raise its error here
    assert service.ready.is_set(), "bot did not start within 10 s"
    try:
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)


async def settled(service: BotService, telegram: FakeBotApi, within: float = 10.0) -> None:
    """Wait until every update pushed so far has been fetched and finished: nothing
    queued, no work slot taken. The state must hold on two looks 50 ms apart, since an
    update's hand-over from the queue to a work slot takes a few turns of the loop.

    Albums are gathered for `album_quiet_seconds` before a slot is taken: wait for an
    album's own effect instead.
    """
    quiet_looks = 0
    async with asyncio.timeout(within):
        while quiet_looks < 2:
            quiet = (
                len(telegram.served_at) == telegram.pushed
                and service.app.update_queue.qsize() == 0
                and service.updates.slots.working == 0
                and service.durable.held == 0
                and await service.durable.unanswered() == 0
            )
            quiet_looks = quiet_looks + 1 if quiet else 0
            await asyncio.sleep(0.05)
