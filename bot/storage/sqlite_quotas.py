"""Daily quota counters in the SQLite file, kept in memory and written behind the callers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import aiosqlite

logger = logging.getLogger(__name__)

# Quota counters held in memory: one per person (and group) active today, about
# 150 bytes each; past this many the least recently used are read again.
_QUOTA_MEMORY_SIZE = 100_000
# Quota writes that failed are tried again this often; at most this many statements wait
# (a day of a busy bot's photos), the oldest dropped past it.
QUOTA_RETRY_SECONDS = 1.0
_QUOTA_WRITES_KEPT = 100_000


class SqliteQuotas:
    """`QuotaStore` on the backend's connection, under its lock."""

    def __init__(self, connection: aiosqlite.Connection, lock: asyncio.Lock) -> None:
        self._db = connection
        self._lock = lock
        # This process is also the counters' only writer, so the counts it has
        # read or made are the truth, and a photo's charge needs no read. Their writes
        # run behind the callers, in order, one transaction per batch (`_write_quota`).
        self._quota: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._quota_day = ""
        # Charges counted under a name (an update's image), so a re-run counts none.
        self._charged: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._quota_writes: list[tuple[str, list[tuple[str, ...]]]] = []
        self._quota_writer: asyncio.Task[None] | None = None

    async def flush(self) -> None:
        """Write what is still behind (at close)."""
        async with self._lock:
            await self._write_pending_quota()
        if self._quota_writer is not None:
            await self._quota_writer

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
