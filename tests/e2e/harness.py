"""Running the real BotService in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.app import BotService


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
