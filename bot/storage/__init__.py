"""What outlives a process: chat settings, quota counters, cached results, daily counts,
and moderation state (images seen per message, allowed images, warnings, reports).

One protocol per concern, each in its module here: settings, quotas, results (and calls
in flight), counts, images, warnings, reports, and the durable intake; moderation's own
state is `ModerationStore` (bot/moderation/store.py). Each part of the bot is typed
against the concerns it uses; `Storage` is all of them, `Backend` what a backend
implements. `SqliteStorage` is the default backend (one file, created on first start);
`RedisStorage` (bot/storage/redis_storage.py) serves replicas; `GuardedStorage`
(bot/storage/guarded.py) wraps either with timeouts and fallbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, Self

import aiosqlite

from bot.moderation import ChatSettings
from bot.moderation.store import ModerationStore
from bot.storage import sqlite_intake
from bot.storage.counts import CountStore
from bot.storage.images import ImageStore
from bot.storage.intake import Intake
from bot.storage.quotas import QuotaStore
from bot.storage.reports import ReportStore
from bot.storage.results import ResultStore
from bot.storage.settings import SettingsStore
from bot.storage.sqlite_intake import SqliteIntake
from bot.storage.warnings import WarningStore

logger = logging.getLogger(__name__)

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
# Expired cache rows are swept a bounded batch at a time, on writes.
_SWEEP_BATCH = 200
_SETTINGS_CACHE_SIZE = 10_000
# Quota counters held in memory: one per person (and group) active today, about
# 150 bytes each; past this many the least recently used are read again.
_QUOTA_MEMORY_SIZE = 100_000
# The longest a failed connection's thread is waited for (it stops in microseconds).
CALL_JOIN_SECONDS = 5.0
# Quota writes that failed are tried again this often; at most this many statements wait
# (a day of a busy bot's photos), the oldest dropped past it.
QUOTA_RETRY_SECONDS = 1.0
_QUOTA_WRITES_KEPT = 100_000


class StorageOpenError(Exception):
    """The storage cannot be opened as configured (a path that cannot hold the database, a
    file that is not one, a malformed URL, a refused password): retrying will not help."""


class StorageUnreachable(StorageOpenError):
    """The storage server did not answer, or the database is locked: it may come back."""


class Storage(
    SettingsStore,
    QuotaStore,
    ResultStore,
    CountStore,
    ImageStore,
    WarningStore,
    ReportStore,
    Protocol,
):
    """The bot's persistent state, one protocol per concern (each consumer is typed
    against the ones it uses); every method is safe to call concurrently."""

    async def ping(self) -> None:
        """Return if the backend can be read; raise its error if not."""
        ...

    async def close(self) -> None:
        """Release the backend."""
        ...


class State(Storage, ModerationStore, Protocol):
    """The bot's state and moderation's own (a protocol each, so neither grows the other):
    what the bot's parts are given, guarded (bot/storage/guarded.py)."""


class Backend(State, Protocol):
    """What a backend implements: the state, and the durable intake on the same
    connection."""

    async def intake(self) -> Intake:
        """The durable intake (bot/storage/intake.py) kept in this backend."""
        ...

    async def add_quota(self, day: str, uses: Mapping[str, int]) -> None:
        """Add uses counted elsewhere (in memory during an outage), past any limit."""
        ...

    async def reconnect(self) -> None:
        """Drop pooled connections (after an outage they may be dead), so the next call
        makes a fresh one."""
        ...


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


class SqliteStorage:
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
        # Quota counters: this process is also their only writer, so the counts it has
        # read or made are the truth, and a photo's charge needs no read. Their writes
        # run behind the callers, in order, one transaction per batch (`_write_quota`).
        self._quota: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._quota_day = ""
        # Charges counted under a name (an update's image), so a re-run counts none.
        self._charged: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._quota_writes: list[tuple[str, list[tuple[str, ...]]]] = []
        self._quota_writer: asyncio.Task[None] | None = None
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
        async with self._lock:
            await self._write_pending_quota()
        if self._quota_writer is not None:
            await self._quota_writer
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
        async with self._lock:
            if day != self._quota_day:
                self._quota_day = day
                self._quota.clear()
                self._charged.clear()
                self._write_quota_later("DELETE FROM quota WHERE day < ?", [(day,)])
                self._write_quota_later("DELETE FROM quota_charges WHERE day < ?", [(day,)])
            if once is not None and await self._charged_before(day, once):
                return None
            for subject, limit in charges:
                if await self._used(day, subject) >= limit:
                    return subject
            for subject, _ in charges:
                self._quota[day, subject] += 1
            self._write_quota_later(
                "INSERT INTO quota (day, subject, used) VALUES (?, ?, 1) "
                "ON CONFLICT (day, subject) DO UPDATE SET used = used + 1",
                [(day, subject) for subject, _ in charges],
            )
            if once is not None:
                self._remember_charge(day, once, True)
                self._write_quota_later(
                    "INSERT OR IGNORE INTO quota_charges (day, once) VALUES (?, ?)", [(day, once)]
                )
            return None

    async def _charged_before(self, day: str, once: str) -> bool:
        """Whether a charge named `once` was counted on `day` (with the lock held)."""
        key = (day, once)
        if key not in self._charged:
            await self._write_pending_quota()
            async with self._db.execute(
                "SELECT 1 FROM quota_charges WHERE day = ? AND once = ?", key
            ) as cursor:
                self._remember_charge(day, once, await cursor.fetchone() is not None)
        return self._charged[key]

    def _remember_charge(self, day: str, once: str, charged: bool) -> None:
        self._charged[day, once] = charged
        self._charged.move_to_end((day, once))
        if len(self._charged) > _QUOTA_MEMORY_SIZE:
            self._charged.popitem(last=False)

    async def refund_quota(
        self, day: str, subjects: Sequence[str], once: str | None = None
    ) -> None:
        """Give back one use of each subject, and forget the charge's name."""
        async with self._lock:
            if once is not None:
                self._remember_charge(day, once, False)
                self._write_quota_later(
                    "DELETE FROM quota_charges WHERE day = ? AND once = ?", [(day, once)]
                )
            for subject in subjects:
                self._quota[day, subject] = max(await self._used(day, subject) - 1, 0)
            self._write_quota_later(
                "UPDATE quota SET used = MAX(used - 1, 0) WHERE day = ? AND subject = ?",
                [(day, subject) for subject in subjects],
            )

    async def quota_used(self, day: str, subject: str) -> int:
        """Uses of `subject` counted on `day`."""
        async with self._lock:
            return await self._used(day, subject)

    async def add_quota(self, day: str, uses: Mapping[str, int]) -> None:
        """Add uses counted elsewhere, past any limit."""
        async with self._lock:
            for subject, count in uses.items():
                self._quota[day, subject] = await self._used(day, subject) + count
            self._write_quota_later(
                "INSERT INTO quota (day, subject, used) VALUES (?, ?, ?) "
                "ON CONFLICT (day, subject) DO UPDATE SET used = used + excluded.used",
                [(day, subject, str(count)) for subject, count in uses.items()],
            )

    async def reconnect(self) -> None:
        """One file, one connection: nothing pooled to drop."""

    async def _used(self, day: str, subject: str) -> int:
        """The count, from memory or else read (with the lock held)."""
        key = (day, subject)
        if key not in self._quota:
            # Read only after the writes behind have landed, or it would miss them.
            await self._write_pending_quota()
            async with self._db.execute(
                "SELECT used FROM quota WHERE day = ? AND subject = ?", key
            ) as cursor:
                row = await cursor.fetchone()
            self._quota[key] = int(row[0]) if row else 0
        self._quota.move_to_end(key)
        if len(self._quota) > _QUOTA_MEMORY_SIZE:
            self._quota.popitem(last=False)
        return self._quota[key]

    def _write_quota_later(self, statement: str, rows: list[tuple[str, ...]]) -> None:
        self._quota_writes.append((statement, rows))
        if self._quota_writer is None or self._quota_writer.done():
            self._quota_writer = asyncio.create_task(self._write_quota())

    async def _write_quota(self) -> None:
        """Write the counts made so far in one transaction. A crash loses at most the
        few milliseconds of counts not yet written: a person may get a call or two
        more that day, never fewer. A write that fails (a full disk, a lock held too
        long) is kept and tried again every `QUOTA_RETRY_SECONDS` until it lands: dropped,
        a person who used 3 of 3 had 1 left after a restart (issue 20)."""
        while True:
            try:
                async with self._lock:
                    await self._write_pending_quota()
                return
            except sqlite3.Error as exc:
                # The counts stay right in this process meanwhile.
                logger.warning(
                    "quota write failed, tried again in %g s: %s", QUOTA_RETRY_SECONDS, exc
                )
            await asyncio.sleep(QUOTA_RETRY_SECONDS)

    async def _write_pending_quota(self) -> None:
        """(With the lock held, so no other transaction is open on the connection.) A
        batch that fails is put back in front of the writes made since."""
        if not self._quota_writes:
            return
        batch, self._quota_writes = self._quota_writes, []
        try:
            for statement, rows in batch:
                await self._db.executemany(statement, rows)
            await self._db.commit()
        except BaseException:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await self._db.rollback()
            self._quota_writes[:0] = batch
            del self._quota_writes[:-_QUOTA_WRITES_KEPT]
            raise

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

    async def remember_image(
        self, chat_id: int, message_id: int, image_key: str, expires_at: float
    ) -> bool:
        """True if the message's image is new or swapped."""
        async with self._lock:
            async with self._db.execute(
                "SELECT image_key FROM message_images WHERE chat_id = ? AND message_id = ?",
                (chat_id, message_id),
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None and row[0] == image_key:
                return False
            await self._db.execute(
                "INSERT INTO message_images (chat_id, message_id, image_key, expires_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO UPDATE SET "
                "image_key = excluded.image_key, expires_at = excluded.expires_at",
                (chat_id, message_id, image_key, expires_at),
            )
            await self._db.execute(
                "DELETE FROM message_images WHERE rowid IN (SELECT rowid FROM message_images "
                "WHERE expires_at <= ? LIMIT ?)",
                (time.time(), _SWEEP_BATCH),
            )
            await self._db.commit()
            return True

    async def allow_image(self, chat_id: int, keys: Sequence[str]) -> None:
        """Put one image on the chat's allow list (counted by its first key)."""
        if not keys:
            return
        async with self._lock:
            await self._db.executemany(
                "INSERT OR IGNORE INTO allowed_images (chat_id, key, image) VALUES (?, ?, ?)",
                [(chat_id, key, keys[0]) for key in keys],
            )
            await self._db.commit()

    async def is_allowed(self, chat_id: int, keys: Sequence[str]) -> bool:
        """Whether any of the keys is allowed in the chat."""
        if not keys:
            return False
        marks = ", ".join("?" for _ in keys)
        async with self._db.execute(
            f"SELECT 1 FROM allowed_images WHERE chat_id = ? AND key IN ({marks}) LIMIT 1",  # noqa: S608 - only placeholders are formatted in
            (chat_id, *keys),
        ) as cursor:
            return await cursor.fetchone() is not None

    async def allowed_count(self, chat_id: int) -> int:
        """How many keys the chat allows."""
        async with self._db.execute(
            "SELECT COUNT(DISTINCT image) FROM allowed_images WHERE chat_id = ?", (chat_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def reset_allowed(self, chat_id: int) -> None:
        """Empty the chat's allow list."""
        async with self._lock:
            await self._db.execute("DELETE FROM allowed_images WHERE chat_id = ?", (chat_id,))
            await self._db.commit()

    async def add_warning(self, chat_id: int, author_id: int, at: float, since: float) -> int:
        """Count a warning; return the author's warnings since `since`."""
        async with self._lock:
            await self._db.execute(
                "DELETE FROM warnings WHERE chat_id = ? AND author_id = ? AND at < ?",
                (chat_id, author_id, since),
            )
            # The same warning again (an update run again after a crash) counts once,
            # as a member of Redis's sorted set does.
            await self._db.execute(
                "INSERT INTO warnings (chat_id, author_id, at) SELECT ?, ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM warnings WHERE chat_id = ? AND author_id = ? AND at = ?)",
                (chat_id, author_id, at, chat_id, author_id, at),
            )
            await self._db.commit()
            return await self.warning_count(chat_id, author_id, since)

    async def remove_warning(self, chat_id: int, author_id: int, at: float) -> None:
        """Withdraw the warning given at `at`."""
        async with self._lock:
            await self._db.execute(
                "DELETE FROM warnings WHERE rowid IN (SELECT rowid FROM warnings "
                "WHERE chat_id = ? AND author_id = ? AND at = ? LIMIT 1)",
                (chat_id, author_id, at),
            )
            await self._db.commit()

    async def warning_count(self, chat_id: int, author_id: int, since: float) -> int:
        """The author's warnings since `since`."""
        async with self._db.execute(
            "SELECT COUNT(*) FROM warnings WHERE chat_id = ? AND author_id = ? AND at >= ?",
            (chat_id, author_id, since),
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def reset_warnings(self, chat_id: int, author_id: int) -> None:
        """Forget the author's warnings in the chat."""
        async with self._lock:
            await self._db.execute(
                "DELETE FROM warnings WHERE chat_id = ? AND author_id = ?", (chat_id, author_id)
            )
            await self._db.commit()

    async def save_report(self, report_id: str, report: str, expires_at: float) -> None:
        """Keep a report until `expires_at`; sweep some expired ones."""
        async with self._lock:
            await self._db.execute(
                "INSERT INTO reports (report_id, report, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (report_id) DO UPDATE SET report = excluded.report, "
                "expires_at = excluded.expires_at",
                (report_id, report, expires_at),
            )
            expired = "SELECT report_id FROM reports WHERE expires_at <= ? LIMIT ?"
            now = time.time()
            await self._db.execute(
                f"DELETE FROM report_presses WHERE report_id IN ({expired})",  # noqa: S608 - constant text
                (now, _SWEEP_BATCH),
            )
            await self._db.execute(
                f"DELETE FROM reports WHERE report_id IN ({expired})",  # noqa: S608 - constant text
                (now, _SWEEP_BATCH),
            )
            await self._db.commit()

    async def load_report(self, report_id: str, now: float) -> str | None:
        """The report unless unknown or expired."""
        async with self._db.execute(
            "SELECT report FROM reports WHERE report_id = ? AND expires_at > ?", (report_id, now)
        ) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def claim_press(self, report_id: str, verb: str, record: str) -> str | None:
        """None if this press of `verb` is the first, else the first one's record."""
        async with self._lock:
            async with self._db.execute(
                "INSERT INTO report_presses (report_id, verb, record) VALUES (?, ?, ?) "
                "ON CONFLICT (report_id, verb) DO NOTHING",
                (report_id, verb, record),
            ) as cursor:
                inserted = cursor.rowcount == 1
            await self._db.commit()
            if inserted:
                return None
            return (await self.presses(report_id)).get(verb, record)

    async def presses(self, report_id: str) -> dict[str, str]:
        """Every press on a report, by verb."""
        async with self._db.execute(
            "SELECT verb, record FROM report_presses WHERE report_id = ?", (report_id,)
        ) as cursor:
            return {str(verb): str(record) async for verb, record in cursor}

    async def release_press(self, report_id: str, verb: str) -> None:
        """Forget a press that did not take effect."""
        async with self._lock:
            await self._db.execute(
                "DELETE FROM report_presses WHERE report_id = ? AND verb = ?", (report_id, verb)
            )
            await self._db.commit()

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

    # -- ModerationStore -------------------------------------------------------------

    async def first_time(self, key: str, expires_at: float) -> bool:
        """True once per key until it expires; sweeps some expired keys."""
        now = time.time()
        async with self._lock:
            await self._db.execute(
                "DELETE FROM once_keys WHERE key IN "
                "(SELECT key FROM once_keys WHERE expires_at <= ? LIMIT ?)",
                (now, _SWEEP_BATCH),
            )
            async with self._db.execute(
                "INSERT INTO once_keys (key, expires_at) VALUES (?, ?) "
                "ON CONFLICT (key) DO NOTHING",
                (key, expires_at),
            ) as cursor:
                first = cursor.rowcount == 1
            await self._db.commit()
        return first

    async def save_pending(self, pending_id: str, record: str, expires_at: float) -> None:
        """Keep a pending record until `expires_at`; sweep some expired ones."""
        async with self._lock:
            await self._db.execute(
                "INSERT INTO pending (pending_id, record, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (pending_id) DO UPDATE SET record = excluded.record, "
                "expires_at = excluded.expires_at",
                (pending_id, record, expires_at),
            )
            await self._db.execute(
                "DELETE FROM pending WHERE pending_id IN "
                "(SELECT pending_id FROM pending WHERE expires_at <= ? LIMIT ?)",
                (time.time(), _SWEEP_BATCH),
            )
            await self._db.commit()

    async def load_pending(self, pending_id: str, now: float) -> str | None:
        """The record unless unknown or expired."""
        async with self._db.execute(
            "SELECT record FROM pending WHERE pending_id = ? AND expires_at > ?",
            (pending_id, now),
        ) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def note_migration(self, old_chat_id: int, new_chat_id: int) -> None:
        """Remember where a group went (one row per group that ever migrated)."""
        async with self._lock:
            await self._db.execute(
                "INSERT OR REPLACE INTO migrations (old_chat_id, new_chat_id) VALUES (?, ?)",
                (old_chat_id, new_chat_id),
            )
            await self._db.commit()

    async def migrated_to(self, chat_id: int) -> int | None:
        """The supergroup a group became, if it did."""
        async with self._db.execute(
            "SELECT new_chat_id FROM migrations WHERE old_chat_id = ?", (chat_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else None
