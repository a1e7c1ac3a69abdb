"""Daily counters for /stats."""

from __future__ import annotations

from typing import Protocol


class CountStore(Protocol):
    """Named counters per day; safe to call
    concurrently."""

    async def add_count(self, day: str, name: str, count: int) -> None:
        """Add `count` to the day's counter `name`."""
        ...

    async def counts(self, day: str) -> dict[str, int]:
        """Every counter of `day`."""
        ...
