"""`Intake` in the bot's SQLite file: a table with one row per update.

One process owns a SQLite file, so a lease here only has to outlive the worker that holds
it inside this process: every lease is dropped when the file is opened (the process that
held them is gone), and a restart picks its unanswered updates up at once. A commit in WAL
mode with `synchronous=NORMAL` survives the process being killed (SIGKILL, OOM); only a
power loss or an OS crash can lose the last commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import aiosqlite

from bot.storage import intake
from bot.storage.intake import SEEN_SECONDS, Backlog, Delivery, Received

SCHEMA = """
CREATE TABLE IF NOT EXISTS intake (
    update_id INTEGER PRIMARY KEY,
    payload TEXT,
    received_at REAL NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    consumer TEXT,
    leased_until REAL NOT NULL DEFAULT 0,
    deliveries INTEGER NOT NULL DEFAULT 0,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS intake_waiting ON intake (state, update_id);
"""
_WAITING, _ANSWERED, _SET_ASIDE = 0, 1, 2
# Set-aside updates are kept a week for the operator to look at.
_SET_ASIDE_SECONDS = 7 * 24 * 3600
# Old rows are swept a bounded batch every this many puts.
_SWEEP_EVERY = 200
_SWEEP_BATCH = 500


class SqliteIntake:
    """`Intake` on the connection (and the lock) of a `SqliteStorage`."""

    def __init__(self, db: aiosqlite.Connection, lock: asyncio.Lock, waiting: int) -> None:
        self._db = db
        self._lock = lock
        # This process is the file's only writer: the count it keeps is the truth, and
        # `put` needs no COUNT(*) to hold the bound.
        self._waiting = waiting
        self._puts = 0
        # Set by every update stored: this process is the only one that stores any.
        self._arrived = asyncio.Event()
        self._next_lapsed_look = 0.0

    @classmethod
    async def open(cls, db: aiosqlite.Connection, lock: asyncio.Lock) -> SqliteIntake:
        """Drop the leases of the process that ran before (see the module docstring)."""
        async with lock:
            await db.execute("UPDATE intake SET leased_until = 0 WHERE state = ?", (_WAITING,))
            await db.commit()
            async with db.execute(
                "SELECT COUNT(*) FROM intake WHERE state = ?", (_WAITING,)
            ) as cursor:
                row = await cursor.fetchone()
        return cls(db, lock, int(row[0]) if row else 0)

    async def put(self, update_id: int, payload: str, *, max_backlog: int) -> Received:
        """Insert the update's row unless its id is known; refuse past the bound."""
        async with self._lock:
            if self._waiting >= max_backlog:
                return Received.FULL
            async with self._db.execute(
                "INSERT INTO intake (update_id, payload, received_at) VALUES (?, ?, ?) "
                "ON CONFLICT (update_id) DO NOTHING",
                (update_id, payload, time.time()),
            ) as cursor:
                stored = cursor.rowcount == 1
            self._puts += 1
            if self._puts % _SWEEP_EVERY == 0:
                await self._sweep()
            await self._db.commit()
            if not stored:
                return Received.DUPLICATE
            self._waiting += 1
            self._arrived.set()
            return Received.STORED

    async def _sweep(self) -> None:
        now = time.time()
        await self._db.execute(
            "DELETE FROM intake WHERE update_id IN (SELECT update_id FROM intake WHERE "
            "(state = ? AND received_at < ?) OR (state = ? AND received_at < ?) LIMIT ?)",
            (_ANSWERED, now - SEEN_SECONDS, _SET_ASIDE, now - _SET_ASIDE_SECONDS, _SWEEP_BATCH),
        )

    async def take(
        self,
        consumer: str,
        count: int,
        lease: float,
        wait: float = 0.0,
        *,
        often: int = 0,
        often_after: int | None = None,
    ) -> list[Delivery]:
        """Lease the oldest waiting updates that nobody holds; with none, wait up to `wait`
        seconds for one to be stored, then look once more."""
        if count <= 0:
            return []
        self._arrived.clear()
        taken = await self._take(consumer, count, lease, often, often_after)
        if taken or wait <= 0:
            return taken
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), wait)
        return await self._take(consumer, count, lease, often, often_after)

    async def _take(
        self, consumer: str, count: int, lease: float, often: int, often_after: int | None
    ) -> list[Delivery]:
        now = time.time()
        leasing = (
            "UPDATE intake SET consumer = ?, leased_until = ?, deliveries = deliveries + 1 "
            "WHERE update_id IN (SELECT update_id FROM intake WHERE state = ? "
            "AND leased_until < ? AND deliveries >= ? AND deliveries < ? "
            "ORDER BY update_id LIMIT ?) RETURNING update_id, payload, deliveries"
        )
        limit = often_after if often_after is not None else 2**62
        # (fewest and most deliveries before, how many): taken again, then taken again
        # often, then new.
        kinds: tuple[tuple[int, int, int], ...] = (
            (1, limit, count),
            (limit, 2**62, often),
            (0, 1, count),
        )
        if time.monotonic() < self._next_lapsed_look:
            kinds = kinds[2:]
        else:
            self._next_lapsed_look = time.monotonic() + intake.LAPSED_LOOK_SECONDS
        rows: list[Any] = []
        async with self._lock:
            for least, most, wanted in kinds:
                room = min(wanted, count - len(rows))
                if room <= 0 or least >= most:
                    continue
                async with self._db.execute(
                    leasing, (consumer, now + lease, _WAITING, now, least, most, room)
                ) as cursor:
                    rows += await cursor.fetchall()
            await self._db.commit()
        taken = [Delivery(str(row[0]), int(row[0]), str(row[1]), int(row[2])) for row in rows]
        return sorted(taken, key=lambda delivery: (delivery.deliveries == 1, delivery.update_id))

    async def renew(self, consumer: str, entries: Sequence[str], lease: float) -> None:
        """Extend the consumer's leases."""
        if not entries:
            return
        async with self._lock:
            await self._db.executemany(
                "UPDATE intake SET leased_until = ? WHERE update_id = ? AND consumer = ? "
                "AND state = ?",
                [(time.time() + lease, int(entry), consumer, _WAITING) for entry in entries],
            )
            await self._db.commit()

    async def done(self, entries: Sequence[str]) -> None:
        """Mark answered; the payload is no longer needed."""
        await self._finish(entries, _ANSWERED, None)

    async def set_aside(self, delivery: Delivery, reason: str) -> None:
        """Mark set aside, keeping the payload and why."""
        await self._finish([delivery.entry], _SET_ASIDE, reason)

    async def _finish(self, entries: Sequence[str], state: int, reason: str | None) -> None:
        if not entries:
            return
        async with self._lock:
            changed = 0
            for entry in entries:
                async with self._db.execute(
                    "UPDATE intake SET state = ?, reason = ?, "
                    "payload = CASE WHEN ? = ? THEN NULL ELSE payload END "
                    "WHERE update_id = ? AND state = ?",
                    (state, reason, state, _ANSWERED, int(entry), _WAITING),
                ) as cursor:
                    changed += cursor.rowcount
            await self._db.commit()
            self._waiting -= changed

    async def backlog(self) -> Backlog:
        """The count kept here and the oldest waiting row's age."""
        async with self._db.execute(
            "SELECT received_at FROM intake WHERE state = ? ORDER BY update_id LIMIT 1",
            (_WAITING,),
        ) as cursor:
            row = await cursor.fetchone()
        oldest = max(0.0, time.time() - float(row[0])) if row else 0.0
        return Backlog(self._waiting, oldest)
