"""Albums arrive as separate updates sharing a `media_group_id`; gather them into one batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]
Complete = Callable[[list[T]], Coroutine[Any, Any, None]]

MAX_ALBUM_ITEMS = 10  # Telegram's own limit for one album


class AlbumCollector(Generic[T]):
    """Collects items per album key until none arrived for `quiet` seconds, then hands
    the batch to its callback once.

    At most `max_open` albums are gathered at once; beyond that an item is
    handled alone, so memory stays bounded whatever arrives.
    """

    def __init__(self, spawn: Spawn, *, quiet: float = 1.0, max_open: int = 1000) -> None:
        self._spawn = spawn
        self._quiet = quiet
        self._max_open = max_open
        self._open: dict[str, list[T]] = {}
        self._arrived: dict[str, asyncio.Event] = {}

    def add(self, key: str, item: T, complete: Complete[T]) -> None:
        """Add `item` to album `key`; `complete` runs once with the whole album."""
        batch = self._open.get(key)
        if batch is not None:
            batch.append(item)
            self._arrived[key].set()
            return
        if len(self._open) >= self._max_open:
            logger.warning("too many albums open; handling an album item alone")
            self._spawn(complete([item]))
            return
        self._open[key] = [item]
        self._arrived[key] = asyncio.Event()
        self._spawn(self._gather(key, complete))

    async def _gather(self, key: str, complete: Complete[T]) -> None:
        arrived = self._arrived[key]
        while len(self._open[key]) < MAX_ALBUM_ITEMS:
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), self._quiet)
            except TimeoutError:
                break
        batch = self._open.pop(key)
        del self._arrived[key]
        await complete(batch)
