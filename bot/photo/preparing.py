"""One way to turn downloaded bytes into bytes the API accepts, within the decode budget.

The header tells what preparing will cost before any pixel is decoded. Every path
holds its cost from the one decode budget while it runs. A check the header bounds
(the common case: a photo Telegram re-encoded, a plain JPEG or PNG sent as a file)
runs on a thread in the same trip as the header, under the most such a check may
hold (`images.check_memory`); any other decode runs in a worker process
(`bot.photo.decoding`), whose limits can end it. The bot's photo path and `python -m bot
check` both prepare images here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import KW_ONLY, dataclass

from bot.photo.budget import ByteBudget
from bot.photo.cache import bytes_key
from bot.photo.cost import check_memory
from bot.photo.decoding import DecodePool
from bot.photo.images import PreparedImage, inspect, prepare
from bot.photo.inspection import Inspection


@dataclass(frozen=True, eq=False)
class ImageWork:
    """Prepares images under one decode budget, with one pool of decode workers."""

    # `printed`: every prepared image carries its fingerprint (near-duplicates),
    # computed from the pixels its own decode has, in the thread or worker that has them.
    budget: ByteBudget
    decoders: DecodePool
    _: KW_ONLY
    printed: bool = False

    async def prepare(
        self, data: bytes, photo_size: tuple[int, int] | None, *, owner: Hashable = None
    ) -> tuple[PreparedImage, str]:
        """The bytes to send and their cache key; `ImageRejected` for what cannot be.

        `owner` (a person) holds at most its fair share of the workers."""
        limit = self.budget.capacity
        async with self.budget.hold(check_memory(len(data))):
            inspection, ready = await asyncio.to_thread(
                _inspect_or_prepare, data, photo_size, limit, self.printed
            )
        if ready is not None:
            return ready
        async with self.budget.hold(inspection.working_memory):
            prepared, _ = await self.decoders.prepare(
                data,
                photo_size,
                memory_limit=limit,
                reserve=inspection.working_memory,
                owner=owner,
                printed=self.printed,
            )
        return prepared, await asyncio.to_thread(bytes_key, prepared.data)


def _prepare_keyed(
    data: bytes, photo_size: tuple[int, int] | None, inspection: Inspection, printed: bool
) -> tuple[PreparedImage, str]:
    """Prepare, and hash the bytes to send (hashing 10 MB is worth keeping off the loop)."""
    prepared = prepare(
        data,
        photo_size,
        memory_limit=inspection.working_memory,
        plan=inspection,
        printed=printed,
    )
    return prepared, bytes_key(prepared.data)


def _inspect_or_prepare(
    data: bytes, photo_size: tuple[int, int] | None, memory_limit: int, printed: bool = False
) -> tuple[Inspection, tuple[PreparedImage, str] | None]:
    """The header, and the prepared image when a check the header bounds is all it needs
    (None when it must go to a worker process)."""
    inspection = inspect(data, memory_limit, printed=printed)
    if inspection.isolated:
        return inspection, None
    if len(data) < _HASH_ALONGSIDE_BYTES:
        return inspection, _prepare_keyed(data, photo_size, inspection, printed)
    # Bytes sent as they came are hashed while their integrity is checked: both release
    # the GIL, and for a 9.8 MB PNG they take about 5 ms each.
    hashing = _HASHING.submit(bytes_key, data)
    prepared = prepare(
        data,
        photo_size,
        memory_limit=inspection.working_memory,
        plan=inspection,
        printed=printed,
    )
    key = hashing.result() if prepared.data is data else bytes_key(prepared.data)
    return inspection, (prepared, key)


_HASH_ALONGSIDE_BYTES = 1_000_000
# One hashing thread per download allowed at once would be more than the two cores
# can use; two keep both busy beside the integrity checks.
_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hash")
