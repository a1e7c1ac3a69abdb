"""Fair turns: one person's burst of photos never starves everyone else."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field


class Overloaded(Exception):
    """Too much work is already waiting; the caller should answer 'busy' at once."""


@dataclass
class _Lane:
    slots: asyncio.Semaphore
    users: int = 0  # holders and waiters; the lane is dropped at zero


@dataclass
class Fairness:
    """At most `per_key` photos of one person in flight; at most `max_waiting` waiting overall.

    Each person waits in their own lane, so a burst of 100 photos from one
    person holds two places in the shared pools (downloads, API calls) while
    someone else's single photo goes straight through. `while_waiting` wraps a wait
    for a lane (the bot sets its update's work slot aside there).
    """

    per_key: int
    max_waiting: int
    while_waiting: Callable[[], AbstractAsyncContextManager[None]] = contextlib.nullcontext
    waiting: int = 0
    _lanes: dict[int, _Lane] = field(default_factory=dict)

    @contextlib.asynccontextmanager
    async def turn(self, key: int) -> AsyncIterator[None]:
        """Wait for this key's turn; raise `Overloaded` if too much is already waiting."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(asyncio.Semaphore(self.per_key))
        if lane.slots.locked() and self.waiting >= self.max_waiting:
            raise Overloaded
        lane.users += 1
        try:
            self.waiting += 1
            try:
                if lane.slots.locked():
                    async with self.while_waiting():
                        await lane.slots.acquire()
                else:
                    await lane.slots.acquire()
            finally:
                self.waiting -= 1
            try:
                yield
            finally:
                lane.slots.release()
        finally:
            lane.users -= 1
            if lane.users == 0:
                del self._lanes[key]
