"""Chat settings: read by every update, changed by admins, moved when a group becomes a
supergroup."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bot.moderation import ChatSettings


class SettingsStore(Protocol):
    """Chat settings, shared by every process; safe to call
    concurrently."""

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

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a group's settings, allow list and warnings to its new (supergroup) id."""
        ...
