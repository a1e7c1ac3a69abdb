"""What outlives a process: chat settings, quota counters, cached results, daily counts.

`Storage` is the interface the rest of the bot uses; `SqliteStorage` is the
default backend (one file, created on first start).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, Self

import aiosqlite

from bot.moderation import ChatSettings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_settings (
    chat_id INTEGER PRIMARY KEY,
    settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quota (
    day TEXT NOT NULL,
    subject TEXT NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (day, subject)
);
CREATE TABLE IF NOT EXISTS result_cache (
    key TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS result_cache_expiry ON result_cache (expires_at);
CREATE TABLE IF NOT EXISTS daily_counts (
    day TEXT NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, name)
);
"""
# Expired cache rows are swept a bounded batch at a time, on writes.
_SWEEP_BATCH = 200
_SETTINGS_CACHE_SIZE = 10_000


class Storage(Protocol):
    """The bot's persistent state; every method is safe to call concurrently."""

    async def chat_settings(self, chat_id: int) -> ChatSettings:
        """The chat's settings, or the defaults."""
        ...

    async def update_chat_settings(
        self, chat_id: int, change: Callable[[ChatSettings], ChatSettings | None]
    ) -> ChatSettings:
        """Apply `change` to the chat's current settings atomically and store the result.

        `change` returns None to leave them as they are; the settings in force are returned.
        """
        ...

    async def take_quota(self, day: str, charges: Sequence[tuple[str, int]]) -> str | None:
        """Count one use against each (subject, limit), all or none.

        Returns None when counted, or the first subject already at its limit.
        """
        ...

    async def refund_quota(self, day: str, subjects: Sequence[str]) -> None:
        """Give back one use of each subject (a call that failed costs nothing)."""
        ...

    async def quota_used(self, day: str, subject: str) -> int:
        """Uses of `subject` counted on `day`."""
        ...

    async def cached_result(self, key: str, now: float) -> str | None:
        """The cached result under `key` unless expired."""
        ...

    async def cache_result(
        self, keys: Sequence[str], result: str, *, now: float, expires_at: float
    ) -> None:
        """Cache `result` under every key until `expires_at`; may drop rows expired by `now`."""
        ...

    async def add_count(self, day: str, name: str, count: int) -> None:
        """Add `count` to the day's counter `name`."""
        ...

    async def counts(self, day: str) -> dict[str, int]:
        """Every counter of `day`."""
        ...

    async def claim_update(self, update_id: int) -> bool:
        """True for the one process that takes this update (replicas share a webhook)."""
        ...

    async def claim_flight(self, key: str, seconds: float) -> bool:
        """True if this process may make the API call for `key` now."""
        ...

    async def end_flight(self, key: str) -> None:
        """The call for `key` is over (its result cached, or failed)."""
        ...

    async def ping(self) -> None:
        """Return if the backend can be read; raise its error if not."""
        ...

    async def close(self) -> None:
        """Release the backend."""
        ...


class SqliteStorage:
    """`Storage` in one SQLite file, through one connection on its own thread."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection
        # One connection serves every coroutine; the lock keeps read-then-write
        # sequences (quota) from interleaving between awaits.
        self._lock = asyncio.Lock()
        # Every update reads its chat's settings; this process is their only
        # writer, so a bounded write-through copy saves a database round trip.
        self._settings: OrderedDict[int, ChatSettings] = OrderedDict()

    @classmethod
    async def open(cls, path: str) -> Self:
        """Open (creating it and its folder if needed) the database at `path`."""
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.executescript(_SCHEMA)
        await connection.commit()
        return cls(connection)

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def ping(self) -> None:
        """Read the schema: it fails on a file that is gone, corrupt or unreadable."""
        async with self._db.execute("SELECT count(*) FROM sqlite_master") as cursor:
            await cursor.fetchone()

    # One process owns a SQLite file: it sees each update once, and its calls in
    # flight are shared in memory by ResultCache.
    async def claim_update(self, update_id: int) -> bool:
        """Always this process's."""
        return True

    async def claim_flight(self, key: str, seconds: float) -> bool:
        """Always this process's."""
        return True

    async def end_flight(self, key: str) -> None:
        """Nothing to release."""

    async def chat_settings(self, chat_id: int) -> ChatSettings:
        """The chat's settings, or the defaults."""
        cached = self._settings.get(chat_id)
        if cached is not None:
            self._settings.move_to_end(chat_id)
            return cached
        async with self._db.execute(
            "SELECT settings FROM chat_settings WHERE chat_id = ?", (chat_id,)
        ) as cursor:
            row = await cursor.fetchone()
        settings = ChatSettings.from_json(row[0]) if row else ChatSettings()
        self._remember(chat_id, settings)
        return settings

    def _remember(self, chat_id: int, settings: ChatSettings) -> None:
        self._settings[chat_id] = settings
        self._settings.move_to_end(chat_id)
        if len(self._settings) > _SETTINGS_CACHE_SIZE:
            self._settings.popitem(last=False)

    async def update_chat_settings(
        self, chat_id: int, change: Callable[[ChatSettings], ChatSettings | None]
    ) -> ChatSettings:
        """Apply `change` under the lock, so concurrent commands never undo each other."""
        async with self._lock:
            current = await self.chat_settings(chat_id)
            changed = change(current)
            if changed is None or changed == current:
                return current
            await self._db.execute(
                "INSERT INTO chat_settings (chat_id, settings) VALUES (?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET settings = excluded.settings",
                (chat_id, changed.to_json()),
            )
            await self._db.commit()
            self._remember(chat_id, changed)
            return changed

    async def take_quota(self, day: str, charges: Sequence[tuple[str, int]]) -> str | None:
        """Count one use against each (subject, limit), all or none."""
        async with self._lock:
            for subject, limit in charges:
                if await self._used(day, subject) >= limit:
                    return subject
            await self._db.executemany(
                "INSERT INTO quota (day, subject, used) VALUES (?, ?, 1) "
                "ON CONFLICT (day, subject) DO UPDATE SET used = used + 1",
                [(day, subject) for subject, _ in charges],
            )
            await self._db.execute("DELETE FROM quota WHERE day < ?", (day,))
            await self._db.commit()
            return None

    async def refund_quota(self, day: str, subjects: Sequence[str]) -> None:
        """Give back one use of each subject."""
        async with self._lock:
            await self._db.executemany(
                "UPDATE quota SET used = MAX(used - 1, 0) WHERE day = ? AND subject = ?",
                [(day, subject) for subject in subjects],
            )
            await self._db.commit()

    async def quota_used(self, day: str, subject: str) -> int:
        """Uses of `subject` counted on `day`."""
        return await self._used(day, subject)

    async def _used(self, day: str, subject: str) -> int:
        async with self._db.execute(
            "SELECT used FROM quota WHERE day = ? AND subject = ?", (day, subject)
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def cached_result(self, key: str, now: float) -> str | None:
        """The cached result under `key` unless expired."""
        async with self._db.execute(
            "SELECT result FROM result_cache WHERE key = ? AND expires_at > ?", (key, now)
        ) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def cache_result(
        self, keys: Sequence[str], result: str, *, now: float, expires_at: float
    ) -> None:
        """Cache `result` under every key until `expires_at`; sweep some expired rows."""
        async with self._lock:
            await self._db.executemany(
                "INSERT INTO result_cache (key, result, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET result = excluded.result, "
                "expires_at = excluded.expires_at",
                [(key, result, expires_at) for key in keys],
            )
            await self._db.execute(
                "DELETE FROM result_cache WHERE key IN (SELECT key FROM result_cache "
                "WHERE expires_at <= ? LIMIT ?)",
                (now, _SWEEP_BATCH),
            )
            await self._db.commit()

    async def add_count(self, day: str, name: str, count: int) -> None:
        """Add `count` to the day's counter `name`."""
        async with self._lock:
            await self._db.execute(
                "INSERT INTO daily_counts (day, name, count) VALUES (?, ?, ?) "
                "ON CONFLICT (day, name) DO UPDATE SET count = count + excluded.count",
                (day, name, count),
            )
            await self._db.commit()

    async def counts(self, day: str) -> dict[str, int]:
        """Every counter of `day`."""
        async with self._db.execute(
            "SELECT name, count FROM daily_counts WHERE day = ?", (day,)
        ) as cursor:
            return {str(name): int(count) async for name, count in cursor}
