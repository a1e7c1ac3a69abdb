"""Moderation's state behind the guard: with no stand-in for it, each call is refused in
an outage (`StorageUnavailable`), and the moderation that needed it is skipped."""

from __future__ import annotations

from collections.abc import Sequence

from bot.storage.guard import Guard


class GuardedModeration(Guard):
    """Part of `GuardedStorage`."""

    async def remember_image(
        self, chat_id: int, message_id: int, image_key: str, expires_at: float
    ) -> bool:
        """Note a message's image; in an outage every image counts as new (an edit may then
        be judged twice, which beats a swapped photo slipping through)."""
        return await self._or(
            "remember_image",
            lambda: self._inner.remember_image(chat_id, message_id, image_key, expires_at),
            lambda: True,
        )

    # Moderation state has no safe stand-in: without it the bot must not act (an allowed
    # image deleted, a warning lost, a press taken twice), so each of these is refused in
    # an outage; the moderator then leaves the photo alone and a press says "try again".
    async def allow_image(self, chat_id: int, keys: Sequence[str]) -> None:
        """Allow an image; refused in an outage."""
        await self._required("allow_image", lambda: self._inner.allow_image(chat_id, keys))

    async def is_allowed(self, chat_id: int, keys: Sequence[str]) -> bool:
        """Whether an image is allowed; refused in an outage."""
        return await self._required("is_allowed", lambda: self._inner.is_allowed(chat_id, keys))

    async def allowed_count(self, chat_id: int) -> int:
        """How many images a chat allows; refused in an outage."""
        return await self._required("allowed_count", lambda: self._inner.allowed_count(chat_id))

    async def reset_allowed(self, chat_id: int) -> None:
        """Empty a chat's allow list; refused in an outage."""
        await self._required("reset_allowed", lambda: self._inner.reset_allowed(chat_id))

    async def add_warning(self, chat_id: int, author_id: int, at: float, since: float) -> int:
        """Count a warning; refused in an outage."""
        return await self._required(
            "add_warning", lambda: self._inner.add_warning(chat_id, author_id, at, since)
        )

    async def remove_warning(self, chat_id: int, author_id: int, at: float) -> None:
        """Withdraw a warning; refused in an outage."""
        await self._required(
            "remove_warning", lambda: self._inner.remove_warning(chat_id, author_id, at)
        )

    async def warning_count(self, chat_id: int, author_id: int, since: float) -> int:
        """An author's warnings; refused in an outage."""
        return await self._required(
            "warning_count", lambda: self._inner.warning_count(chat_id, author_id, since)
        )

    async def reset_warnings(self, chat_id: int, author_id: int) -> None:
        """Forget an author's warnings; refused in an outage."""
        await self._required(
            "reset_warnings", lambda: self._inner.reset_warnings(chat_id, author_id)
        )

    async def save_report(self, report_id: str, report: str, expires_at: float) -> None:
        """Keep a report; refused in an outage."""
        await self._required(
            "save_report", lambda: self._inner.save_report(report_id, report, expires_at)
        )

    async def load_report(self, report_id: str, now: float) -> str | None:
        """A report; refused in an outage."""
        return await self._required("load_report", lambda: self._inner.load_report(report_id, now))

    async def claim_press(self, report_id: str, verb: str, record: str) -> str | None:
        """Claim a press; refused in an outage."""
        return await self._required(
            "claim_press", lambda: self._inner.claim_press(report_id, verb, record)
        )

    async def presses(self, report_id: str) -> dict[str, str]:
        """A report's presses; refused in an outage."""
        return await self._required("presses", lambda: self._inner.presses(report_id))

    async def release_press(self, report_id: str, verb: str) -> None:
        """Forget a press; refused in an outage."""
        await self._required("release_press", lambda: self._inner.release_press(report_id, verb))

    # -- ModerationStore: each refused in an outage, like the moderation state above ---

    async def first_time(self, key: str, expires_at: float) -> bool:
        """Claim a once-only key; refused in an outage (the caller keeps its own memory)."""
        return await self._required("first_time", lambda: self._inner.first_time(key, expires_at))

    async def save_pending(self, pending_id: str, record: str, expires_at: float) -> None:
        """Keep a pending record; refused in an outage."""
        await self._required(
            "save_pending", lambda: self._inner.save_pending(pending_id, record, expires_at)
        )

    async def load_pending(self, pending_id: str, now: float) -> str | None:
        """A pending record; refused in an outage."""
        return await self._required(
            "load_pending", lambda: self._inner.load_pending(pending_id, now)
        )

    async def note_migration(self, old_chat_id: int, new_chat_id: int) -> None:
        """Remember a migration; refused in an outage."""
        await self._required(
            "note_migration", lambda: self._inner.note_migration(old_chat_id, new_chat_id)
        )

    async def migrated_to(self, chat_id: int) -> int | None:
        """Where a group went; refused in an outage."""
        return await self._required("migrated_to", lambda: self._inner.migrated_to(chat_id))
