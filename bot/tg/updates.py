"""The bound on updates worked on at once, as python-telegram-bot's update processor: a
hand-over waits for a work slot (bot/slots.py), so with every slot busy the queue fills,
polling pauses and the webhook answers 503."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from telegram.ext import Application, BaseUpdateProcessor

from bot.slots import WorkSlots

logger = logging.getLogger(__name__)

# The Application with its type parameters open: the bot uses no context or bot data.
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class UpdateObserver(Protocol):
    """Told around each update's handler, in the update's own task."""

    def begin(self, update: object) -> None:
        """The handler is about to run."""

    async def end(self, update: object) -> None:
        """The handler returned (or failed)."""


class BoundedUpdates(BaseUpdateProcessor):
    """Hands each update to a task of its own once a work slot is free.

    python-telegram-bot's own processors bound concurrency only after its fetcher has
    already started a task per update, so the queue never fills and polling never
    pauses. This one tells the library it takes one update at a time, so the fetcher
    waits for each hand-over, and a hand-over waits for a slot: with every slot busy the
    queue fills, polling pauses and the webhook answers 503.
    """

    def __init__(self, slots: WorkSlots) -> None:
        super().__init__(max_concurrent_updates=1)
        self.slots = slots
        self._tasks: set[asyncio.Task[None]] = set()
        # Told when each update's handler starts and ends (acknowledges durable updates).
        self.observer: UpdateObserver | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for a slot, then start the update's work in its own task."""
        await self.slots.acquire()
        task = asyncio.create_task(self._work(update, coroutine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, update: object, coroutine: Awaitable[Any]) -> None:
        observer = self.observer
        if observer is not None:
            observer.begin(update)
        try:
            await self.slots.hold(coroutine)
        except Exception:
            # Handlers' errors go to the error handler inside; this is the library's own.
            logger.exception("an update could not be processed")
        finally:
            if observer is not None:
                await asyncio.shield(observer.end(update))

    async def join(self) -> None:
        """Wait until every update handed over has been worked on."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def cancel(self) -> int:
        """Stop the updates still being worked on; how many there were."""
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: `join` waits for the work."""
