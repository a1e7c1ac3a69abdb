"""The default backend: the bot's state in one SQLite file (created on first start),
through one connection on its own thread. Quotas keep their counters in
bot/storage/sqlite_quotas.py, moderation's tables are bot/storage/sqlite_moderation.py;
the durable intake shares the file and the connection (bot/storage/sqlite_intake.py)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Self

import aiosqlite

from bot.moderation import ChatSettings
from bot.storage import StorageOpenError, StorageUnreachable, sqlite_intake
from bot.storage.sqlite_intake import SqliteIntake
from bot.storage.sqlite_moderation import SWEEP_BATCH, SqliteModeration
from bot.storage.sqlite_quotas import SqliteQuotas

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
CREATE TABLE IF NOT EXISTS quota_charges (
    day TEXT NOT NULL,
    once TEXT NOT NULL,
    PRIMARY KEY (day, once)
);
CREATE TABLE IF NOT EXISTS result_cache (
    key TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS result_cache_expiry ON result_cache (expires_at);
CREATE TABLE IF NOT EXISTS message_images (
    chat_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    image_key TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);
CREATE TABLE IF NOT EXISTS allowed_images (
    chat_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    image TEXT NOT NULL,
    PRIMARY KEY (chat_id, key)
);
CREATE TABLE IF NOT EXISTS warnings (
    chat_id INTEGER NOT NULL,
    author_id INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS warnings_author ON warnings (chat_id, author_id, at);
CREATE TABLE IF NOT EXISTS reports (
    report_id TEXT PRIMARY KEY,
    report TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS report_presses (
    report_id TEXT NOT NULL,
    verb TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (report_id, verb)
);
CREATE TABLE IF NOT EXISTS once_keys (
    key TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
    pending_id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS migrations (
    old_chat_id INTEGER PRIMARY KEY,
    new_chat_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS started (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS daily_counts (
    day TEXT NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, name)
);
"""
_SETTINGS_CACHE_SIZE = 10_000
# The longest a failed connection's thread is waited for (it stops in microseconds).
CALL_JOIN_SECONDS = 5.0


async def _held_settings(connection: aiosqlite.Connection) -> dict[int, ChatSettings] | None:
    """Every stored chat's settings when there are few enough to hold (see
    `SqliteStorage.__init__`), else None."""
    async with connection.execute("SELECT COUNT(*) FROM chat_settings") as cursor:
        row = await cursor.fetchone()
    if row is None or row[0] > _SETTINGS_CACHE_SIZE:
        return None
    async with connection.execute("SELECT chat_id, settings FROM chat_settings") as cursor:
        return {int(chat): ChatSettings.from_json(raw) async for chat, raw in cursor}


def _make_room_for(file: Path) -> None:
    """Create the database's folder; refuse a path that cannot become a database file."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageOpenError(f"cannot create its folder: {exc.strerror}") from None
    if file.is_dir():
        raise StorageOpenError("is a folder, not a database file")


def _open_error(exc: sqlite3.Error) -> StorageOpenError:
    """SQLite's own words ("file is not a database", "attempt to write a readonly
    database"); a lock held by another process may be released, so that one is retried."""
    # One line: SQLite's integrity report spans several.
    cause = " ".join(str(exc).split()) or type(exc).__name__
    if "locked" in cause:
        return StorageUnreachable(cause)
    if "unable to open" in cause or "readonly" in cause:
        cause += " (SQLite writes -wal and -shm files next to it: is its folder writable?)"
    return StorageOpenError(cause)


class SqliteStorage(SqliteModeration):
    """`Storage` in one SQLite file, through one connection on its own thread."""

    def __init__(
        self, connection: aiosqlite.Connection, settings: dict[int, ChatSettings] | None = None
    ) -> None:
        self._db = connection
        # One connection serves every coroutine; the lock keeps read-then-write
        # sequences (quota) from interleaving between awaits.
        self._lock = asyncio.Lock()
        # Every update reads its chat's settings; this process is their only
        # writer, so a bounded write-through copy saves a database round trip.
        # While it holds every stored row (`settings` given: all rows, read at open),
        # a chat missing from it has the defaults and costs no round trip either.
        self._settings: OrderedDict[int, ChatSettings] = OrderedDict(settings or {})
        self._all_settings_held = settings is not None
        self._quotas = SqliteQuotas(connection, self._lock)
        self._intake: SqliteIntake | None = None

    async def intake(self) -> SqliteIntake:
        """The durable intake in this file, on this connection (opened with the file)."""
        if self._intake is None:
            self._intake = await SqliteIntake.open(self._db, self._lock)
        return self._intake

    @classmethod
    async def open(cls, path: str) -> Self:
        """Open (creating it and its folder if needed) the database at `path`, and prove
        it writable; raise `StorageOpenError` saying why not."""
        if path != ":memory:":
            _make_room_for(Path(path))
        connection = aiosqlite.connect(path)
        try:
            await connection
        except sqlite3.Error as exc:
            # aiosqlite stops its thread on a failed connect, and the thread then hands
            # the loop a result: wait for it, or it finds the loop closed at exit and
            # prints two "Event loop is closed" tracebacks under the one-line refusal.
            await asyncio.to_thread(connection._thread.join, CALL_JOIN_SECONDS)
            raise _open_error(exc) from None
        try:
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute("PRAGMA synchronous=NORMAL")
            # Corrupt pages anywhere (not only in the schema) are found now, not by a
            # person's photo: quick_check reads every page, about 10 ms per MB here.
            async with connection.execute("PRAGMA quick_check(1)") as cursor:
                checked = await cursor.fetchone()
            if checked is None or checked[0] != "ok":
                raise sqlite3.DatabaseError(
                    f"database disk image is malformed ({checked[0] if checked else '?'})"
                )
            await connection.executescript(_SCHEMA + sqlite_intake.SCHEMA)
            # A real write, committed: the schema may exist already, and the write lock
            # alone (BEGIN IMMEDIATE) is granted on a read-only file in WAL mode, which
            # then failed on the first photo and flapped.
            await connection.execute(
                "INSERT OR REPLACE INTO started (id, at) VALUES (1, ?)", (time.time(),)
            )
            await connection.commit()
            storage = cls(connection, await _held_settings(connection))
            storage._intake = await SqliteIntake.open(connection, storage._lock)
        except BaseException as exc:
            # The connection's thread is not a daemon: left open, it keeps the process
            # from exiting (and from honouring SIGTERM).
            with contextlib.suppress(sqlite3.Error, ValueError):
                await connection.close()
            if isinstance(exc, sqlite3.Error):
                raise _open_error(exc) from None
            raise
        return storage

    async def close(self) -> None:
        """Write what is still behind, and close the connection."""
        await self._quotas.flush()
        await self._db.close()

    async def ping(self) -> None:
        """Read the schema: it fails on a file that is gone, corrupt or unreadable."""
        async with self._db.execute("SELECT count(*) FROM sqlite_master") as cursor:
            await cursor.fetchone()

    # One process owns a SQLite file: its calls in flight are shared in memory by
    # ResultCache.
    async def claim_flight(self, key: str, seconds: float) -> bool:
        """Always this process's."""
        return True

    async def renew_flight(self, key: str, seconds: float) -> bool:
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
        if self._all_settings_held:
            return ChatSettings()
        settings = await self._read_settings(chat_id) or ChatSettings()
        self._remember(chat_id, settings)
        return settings

    async def _read_settings(self, chat_id: int) -> ChatSettings | None:
        async with self._db.execute(
            "SELECT settings FROM chat_settings WHERE chat_id = ?", (chat_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return ChatSettings.from_json(row[0]) if row else None

    def _remember(self, chat_id: int, settings: ChatSettings) -> None:
        self._settings[chat_id] = settings
        self._settings.move_to_end(chat_id)
        if len(self._settings) > _SETTINGS_CACHE_SIZE:
            self._all_settings_held = False
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

    async def take_quota(
        self, day: str, charges: Sequence[tuple[str, int]], once: str | None = None
    ) -> str | None:
        """Count one use against each (subject, limit), all or none, once per `once`."""
        return await self._quotas.take_quota(day, charges, once)

    async def refund_quota(
        self, day: str, subjects: Sequence[str], once: str | None = None
    ) -> None:
        """Give back one use of each subject, and forget the charge's name."""
        await self._quotas.refund_quota(day, subjects, once)

    async def quota_used(self, day: str, subject: str) -> int:
        """Uses of `subject` counted on `day`."""
        return await self._quotas.quota_used(day, subject)

    async def add_quota(self, day: str, uses: Mapping[str, int]) -> None:
        """Add uses counted elsewhere, past any limit."""
        await self._quotas.add_quota(day, uses)

    async def reconnect(self) -> None:
        """One file, one connection: nothing pooled to drop."""

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
                (now, SWEEP_BATCH),
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

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move the group's state to its new id in one transaction; the new id's own state
        (if the supergroup was already used) wins where both have some."""
        async with self._lock:
            moves = (
                "INSERT OR IGNORE INTO chat_settings (chat_id, settings) "
                "SELECT ?, settings FROM chat_settings WHERE chat_id = ?",
                "INSERT OR IGNORE INTO allowed_images (chat_id, key, image) "
                "SELECT ?, key, image FROM allowed_images WHERE chat_id = ?",
                "INSERT INTO warnings (chat_id, author_id, at) "
                "SELECT ?, author_id, at FROM warnings WHERE chat_id = ?",
            )
            for statement in moves:
                await self._db.execute(statement, (new_chat_id, old_chat_id))
            for table in ("chat_settings", "allowed_images", "warnings"):
                await self._db.execute(
                    f"DELETE FROM {table} WHERE chat_id = ?",  # noqa: S608 - constant names
                    (old_chat_id,),
                )
            await self._db.commit()
            self._settings.pop(old_chat_id, None)
            self._settings.pop(new_chat_id, None)
            if self._all_settings_held and (moved := await self._read_settings(new_chat_id)):
                self._remember(new_chat_id, moved)
