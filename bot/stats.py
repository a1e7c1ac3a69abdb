"""Counters for /stats: since this process started, and today (shared through storage).

Counting is in memory and costs nothing on a photo's path; `flush` writes the
day's counts to storage (the bot does so every few seconds and at shutdown).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from bot.clock import utc_now
from bot.metrics import EVENTS
from bot.storage.counts import CountStore


class Stats:
    """Counts named events: photos, each photo's outcome (recognized, refused:X,
    limited:X, failed:X: bot/outcomes.outcome_name), api_calls, and among the recognized
    cache_hits and near_hits."""

    def __init__(self, storage: CountStore, clock: Callable[[], datetime] = utc_now) -> None:
        self._storage = storage
        self._clock = clock
        self.since_start: Counter[str] = Counter()
        self._unsaved: Counter[tuple[str, str]] = Counter()

    def count(self, name: str) -> None:
        """Add one to `name`."""
        self.since_start[name] += 1
        EVENTS.labels(name).inc()
        self._unsaved[(self._day(), name)] += 1

    async def flush(self) -> None:
        """Write what was counted since the last flush; what could not be written is kept
        for the next one (and the error raised)."""
        unsaved, self._unsaved = self._unsaved, Counter()
        while unsaved:
            (day, name), count = next(iter(unsaved.items()))
            try:
                await self._storage.add_count(day, name, count)
            except BaseException:
                self._unsaved.update(unsaved)
                raise
            del unsaved[(day, name)]

    async def today(self) -> dict[str, int]:
        """Today's counters (UTC day), this process's latest included."""
        await self.flush()
        return await self._storage.counts(self._day())

    def _day(self) -> str:
        return self._clock().astimezone(UTC).date().isoformat()
