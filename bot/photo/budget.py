"""A bound on the bytes that images in flight may hold at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ByteBudget:
    """A weighted semaphore over bytes: `hold(n)` waits until n bytes are free.

    A request larger than the whole budget is clipped to it, so it runs alone
    rather than never.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.in_use = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, amount: int) -> AsyncIterator[None]:
        """Reserve `amount` bytes for the duration of the block."""
        amount = max(0, min(amount, self.capacity))
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_use + amount <= self.capacity)
            self.in_use += amount
        try:
            yield
        finally:
            async with self._changed:
                self.in_use -= amount
                self._changed.notify_all()
