"""A running bot, in-process, wired to the fake servers through its real HTTP layers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.app import BotService
from bot.config import Settings


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[BotService]:
    """The real BotService polling the fake Bot API until the test ends."""
    service = BotService(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    ready = asyncio.create_task(service.ready.wait())
    await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()  # start-up failed: raise its error here
    assert service.ready.is_set(), "bot did not start within 10 s"
    yield service
    stop.set()
    await asyncio.wait_for(task, timeout=20)
