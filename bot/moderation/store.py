"""Moderation's own storage: what the rights, topics, quiet and migration work keeps.

A protocol of its own (the durable-intake work splits `Storage` per concern; this one
starts split): both backends implement it beside `Storage`, and `GuardedStorage` wraps it
with the same timeouts.
"""

from __future__ import annotations

from typing import Protocol


class ModerationStore(Protocol):
    """Moderation state shared by every replica; every method is safe to call concurrently."""

    async def first_time(self, key: str, expires_at: float) -> bool:
        """True for exactly one caller per `key` until `expires_at` (a notice sent once
        per group per hour, a limit reported once per day)."""
        ...

    async def save_pending(self, pending_id: str, record: str, expires_at: float) -> None:
        """Keep (or replace) a pending thing (a command awaiting an admin's confirmation,
        a settings menu, a "Show cut-outs" button's offer) until `expires_at`."""
        ...

    async def load_pending(self, pending_id: str, now: float) -> str | None:
        """A pending record unless unknown or expired."""
        ...

    async def note_migration(self, old_chat_id: int, new_chat_id: int) -> None:
        """Remember that a group became a supergroup (reports made before point to it)."""
        ...

    async def migrated_to(self, chat_id: int) -> int | None:
        """The supergroup a group became, if it did."""
        ...
