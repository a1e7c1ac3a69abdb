"""Where near-duplicate fingerprints live: a protocol of its own, in SQLite or Redis.

Kept apart from `bot.storage` (results, settings, quotas): a fingerprint is 4 KB of
thumbnail that only this feature reads, and each backend is opened on a connection of
its own (SQLite's WAL lets two connections share the file; Redis needs a client that
does not decode replies, since thumbnails are bytes). Entries expire with the result
cache (`CACHE_TTL_HOURS`).

Every replica keeps the 64-bit hashes in memory (bot/photo/near.py) and reads here only what
other replicas added since it last looked (`prints_since`, by a cursor) and the few
thumbnails its candidates need (`thumbnails`).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

import aiosqlite
import redis.asyncio as aioredis

from bot.photo.fingerprint import Fingerprint

# Entries read per `prints_since`: a replica that was away catches up over several looks.
SYNC_BATCH = 2000


@dataclass(frozen=True)
class NearEntry:
    """What a replica holds in memory of one stored fingerprint."""

    key: str  # the result cache's key of the picture's bytes (`sha256:...`)
    phash: int
    aspect: float
    expires_at: float


class NearStore(Protocol):
    """Fingerprints of recognized pictures, shared by every replica, for the cache's TTL."""

    async def add_print(self, key: str, print_: Fingerprint, now: float, expires_at: float) -> None:
        """Keep `print_` under `key` (a content key of the result cache) until `expires_at`."""

    async def prints_since(self, cursor: str, now: float) -> tuple[list[NearEntry], str]:
        """Entries added after `cursor` ("" for the start) that are still fresh, at most
        `SYNC_BATCH`, and the cursor to pass next time."""

    async def thumbnails(self, keys: Sequence[str], now: float) -> dict[str, bytes]:
        """The stored thumbnails of those of `keys` that are still fresh."""

    async def close(self) -> None:
        """Release the connection."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS near_prints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    phash TEXT NOT NULL,
    aspect REAL NOT NULL,
    thumb BLOB NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS near_prints_expiry ON near_prints (expires_at);
"""
# Expired rows deleted per write, so the table never holds much more than a TTL's worth.
_PURGE_BATCH = 100


async def open_near_store(redis_url: str | None, database_path: str, ttl: float) -> NearStore:
    """The store beside the bot's own: on its Redis server if it has one, else in its
    SQLite file."""
    if redis_url is not None:
        return await RedisNearStore.open(redis_url, ttl)
    return await SqliteNearStore.open(database_path)


@dataclass(frozen=True, eq=False)
class SqliteNearStore:
    """`NearStore` in the bot's SQLite file, on a connection of its own."""

    connection: aiosqlite.Connection

    @classmethod
    async def open(cls, path: str) -> Self:
        """Open `path` (the file `bot.storage` already opened and proved writable)."""
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path)
        try:
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute("PRAGMA synchronous=NORMAL")
            # The other connection may hold the write lock for a moment.
            await connection.execute("PRAGMA busy_timeout=2000")
            await connection.executescript(_SCHEMA)
            await connection.commit()
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await connection.close()
            raise
        return cls(connection)

    async def add_print(self, key: str, print_: Fingerprint, now: float, expires_at: float) -> None:
        await self.connection.execute(
            "DELETE FROM near_prints WHERE seq IN (SELECT seq FROM near_prints"
            " WHERE expires_at <= ? LIMIT ?)",
            (now, _PURGE_BATCH),
        )
        # A picture stored again (its result expired and was asked for again) moves to
        # the end, so replicas reading by cursor see it as new.
        await self.connection.execute("DELETE FROM near_prints WHERE key = ?", (key,))
        await self.connection.execute(
            "INSERT INTO near_prints (key, phash, aspect, thumb, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (key, f"{print_.phash:016x}", print_.aspect, print_.thumb, expires_at),
        )
        await self.connection.commit()

    async def prints_since(self, cursor: str, now: float) -> tuple[list[NearEntry], str]:
        after = int(cursor) if cursor.isdigit() else 0
        async with self.connection.execute(
            "SELECT seq, key, phash, aspect, expires_at FROM near_prints"
            " WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, SYNC_BATCH),
        ) as rows:
            found = [tuple(row) async for row in rows]
        entries = [
            NearEntry(str(key), int(str(phash), 16), float(aspect), float(expires))
            for _, key, phash, aspect, expires in found
            if float(expires) > now
        ]
        return entries, str(found[-1][0]) if found else cursor

    async def thumbnails(self, keys: Sequence[str], now: float) -> dict[str, bytes]:
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        async with self.connection.execute(
            f"SELECT key, thumb FROM near_prints WHERE key IN ({marks}) AND expires_at > ?",  # noqa: S608
            (*keys, now),
        ) as rows:
            return {str(key): bytes(thumb) async for key, thumb in rows}

    async def close(self) -> None:
        await self.connection.close()


# The bot's own namespace on a Redis server it may share (as bot/storage/redis_storage.py's keys).
_PREFIX = "segment-bot:"
_STREAM = f"{_PREFIX}near:prints"
_THUMB = f"{_PREFIX}near:thumb:"


@dataclass(frozen=True, eq=False)
class RedisNearStore:
    """`NearStore` on the bot's Redis server: each thumbnail under its own key with the
    cache's expiry, and a stream of (key, hash, aspect, expiry) that replicas read by id.
    The stream is trimmed by age (`MINID`, its ids are milliseconds) as entries are added."""

    client: aioredis.Redis
    ttl: float

    @classmethod
    async def open(cls, url: str, ttl: float) -> Self:
        """A client of its own on `url` (the storage's own decodes replies as text)."""
        client = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return cls(client, ttl)

    async def add_print(self, key: str, print_: Fingerprint, now: float, expires_at: float) -> None:
        oldest = int((now - self.ttl) * 1000)
        seconds = max(1, int(expires_at - now))
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(_THUMB + key, print_.thumb, ex=seconds)
            pipe.xadd(
                _STREAM,
                {
                    "key": key,
                    "phash": f"{print_.phash:016x}",
                    "aspect": repr(print_.aspect),
                    "expires": repr(expires_at),
                },
                minid=oldest,
                approximate=True,
            )
            await pipe.execute()

    async def prints_since(self, cursor: str, now: float) -> tuple[list[NearEntry], str]:
        start = f"({cursor}" if cursor else "-"
        found: Any = await self.client.xrange(_STREAM, min=start, count=SYNC_BATCH)
        entries = []
        last = cursor
        for entry_id, fields in found or ():
            last = _text(entry_id)
            try:
                entry = NearEntry(
                    _text(fields[b"key"]),
                    int(_text(fields[b"phash"]), 16),
                    float(_text(fields[b"aspect"])),
                    float(_text(fields[b"expires"])),
                )
            except (KeyError, TypeError, ValueError, UnicodeDecodeError):
                continue  # not ours to read
            if entry.expires_at > now:
                entries.append(entry)
        return entries, last

    async def thumbnails(self, keys: Sequence[str], now: float) -> dict[str, bytes]:
        if not keys:
            return {}
        values: list[Any] = await self.client.mget([_THUMB + key for key in keys])
        return {
            key: bytes(value)
            for key, value in zip(keys, values, strict=True)
            if isinstance(value, bytes)
        }

    async def close(self) -> None:
        await self.client.aclose()


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
