"""The one bounded read: an answer's body taken a chunk at a time and refused as soon as it
passes its limit, so a server (or a stranger's file) cannot make the bot hold more than it
expects. The recognition API's answers, Telegram's downloads and the Bot API's answers all
go through it, over aiohttp and httpx alike."""

from __future__ import annotations

from collections.abc import AsyncIterator


class BodyTooLarge(Exception):
    """The body passed `limit` bytes; `size` is what had been read by then."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"body over {limit} bytes")
        self.size = size
        self.limit = limit


async def read_bounded(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The chunks joined once, or `BodyTooLarge` as soon as they pass `limit` bytes."""
    read: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(size, limit)
        read.append(chunk)
    return b"".join(read)
