"""Back-pressure: a bound on the updates being worked on at once.

An update takes a slot before its work starts and gives it back when the work ends; when
none is free, whoever hands out updates waits, so the updates behind it stay where they
are (in Telegram, for polling; in a full queue, for the webhook, which then answers 503).
A photo that only waits for its sender's turn (`Fairness`) sets its slot aside meanwhile:
one person's burst waits in its own lane without holding the slots everyone else needs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

# The task that holds a slot. A task started from it (an album being gathered) inherits
# the variable but is not the holder, so it cannot give back a slot it never took.
_holder: ContextVar[asyncio.Task[object] | None] = ContextVar("slot_holder", default=None)


class WorkSlots:
    """`limit` slots; `working` of them taken."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.working = 0
        self._free = asyncio.Semaphore(limit)

    async def acquire(self) -> None:
        """Wait for a free slot and take it, for a task about to be started with `hold`."""
        await self._free.acquire()
        self.working += 1

    async def hold(self, work: Awaitable[T]) -> T:
        """Run `work` as the holder of a slot taken with `acquire`; give it back at the end."""
        _holder.set(asyncio.current_task())
        try:
            return await work
        finally:
            self._release_if_held()

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Take a slot for the block (work that did not arrive as an update of its own)."""
        await self.acquire()
        token = _holder.set(asyncio.current_task())
        try:
            yield
        finally:
            self._release_if_held()
            _holder.reset(token)

    @contextlib.asynccontextmanager
    async def set_aside(self) -> AsyncIterator[None]:
        """Give this task's slot back for the block and take one again after it; nothing
        for a task that holds none."""
        if _holder.get() is not asyncio.current_task():
            yield
            return
        self._release_if_held()
        try:
            yield
        finally:
            # Cancelled while waiting here, the task holds no slot and gives none back.
            await self.acquire()
            _holder.set(asyncio.current_task())

    def _release_if_held(self) -> None:
        if _holder.get() is asyncio.current_task():
            _holder.set(None)
            self.working -= 1
            self._free.release()
