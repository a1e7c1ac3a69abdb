"""Counters for /stats: since this process started, and today (shared through storage)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from bot.quotas import utc_now
from bot.storage import Storage


class Stats:
    """Counts named events: photos, api_calls, cache_hits, refused:X, failed:X, limited:X."""

    def __init__(self, storage: Storage, clock: Callable[[], datetime] = utc_now) -> None:
        self._storage = storage
        self._clock = clock
        self.since_start: Counter[str] = Counter()

    async def count(self, name: str) -> None:
        """Add one to `name`."""
        self.since_start[name] += 1
        await self._storage.add_count(self._day(), name)

    async def today(self) -> dict[str, int]:
        """Today's counters (UTC day)."""
        return await self._storage.counts(self._day())

    def _day(self) -> str:
        return self._clock().astimezone(UTC).date().isoformat()
