"""Album items are gathered into one batch, once, with bounded state."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from bot.photo.albums import MAX_ALBUM_ITEMS, AlbumCollector


class _Batches:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.tasks: list[asyncio.Task[None]] = []

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        self.tasks.append(asyncio.create_task(coro))
        return self.tasks[-1]

    async def complete(self, batch: list[int]) -> None:
        self.batches.append(batch)


async def test_items_arriving_together_form_one_batch() -> None:
    seen = _Batches()
    collector: AlbumCollector[int] = AlbumCollector(seen.spawn, quiet=0.1)
    for item in range(3):
        collector.add("a", item, seen.complete)
        await asyncio.sleep(0.03)
    collector.add("b", 99, seen.complete)
    await asyncio.gather(*seen.tasks)
    assert sorted(seen.batches) == [[0, 1, 2], [99]]


async def test_a_full_album_is_handed_over_at_once_and_too_many_albums_go_alone() -> None:
    seen = _Batches()
    collector: AlbumCollector[int] = AlbumCollector(seen.spawn, quiet=5.0, max_open=1)
    for item in range(MAX_ALBUM_ITEMS):
        collector.add("a", item, seen.complete)
    collector.add("b", 100, seen.complete)
    await asyncio.wait_for(asyncio.gather(*seen.tasks), 2)
    assert sorted(seen.batches) == [list(range(MAX_ALBUM_ITEMS)), [100]]
