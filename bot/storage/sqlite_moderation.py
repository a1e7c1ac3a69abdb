"""Moderation's tables in the SQLite file: images seen per message, allowed images,
warnings, reports and their presses (`ImageStore`, `WarningStore`, `ReportStore`), and
`ModerationStore`'s own (once-keys, pending confirmations, migrations)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import aiosqlite

# Expired rows are swept a bounded batch at a time, on writes.
SWEEP_BATCH = 200


class SqliteModeration:
    """Part of `SqliteStorage`: its connection and lock are this class's too."""

    _db: aiosqlite.Connection
    _lock: asyncio.Lock

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
                (time.time(), SWEEP_BATCH),
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
                (now, SWEEP_BATCH),
            )
            await self._db.execute(
                f"DELETE FROM reports WHERE report_id IN ({expired})",  # noqa: S608 - constant text
                (now, SWEEP_BATCH),
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

    # -- ModerationStore -------------------------------------------------------------

    async def first_time(self, key: str, expires_at: float) -> bool:
        """True once per key until it expires; sweeps some expired keys."""
        now = time.time()
        async with self._lock:
            await self._db.execute(
                "DELETE FROM once_keys WHERE key IN "
                "(SELECT key FROM once_keys WHERE expires_at <= ? LIMIT ?)",
                (now, SWEEP_BATCH),
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
                (time.time(), SWEEP_BATCH),
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
