"""Warnings per author per chat, counted within a window."""

from __future__ import annotations

from typing import Protocol


class WarningStore(Protocol):
    """Warnings given to authors, by time; safe to call
    concurrently."""

    async def add_warning(self, chat_id: int, author_id: int, at: float, since: float) -> int:
        """Count a warning given at `at` (once: the same author and `at` again is the same
        warning); return the author's warnings since `since`, this one included (older
        ones are forgotten)."""
        ...

    async def remove_warning(self, chat_id: int, author_id: int, at: float) -> None:
        """Withdraw the warning given at `at`, if it is still counted."""
        ...

    async def warning_count(self, chat_id: int, author_id: int, since: float) -> int:
        """The author's warnings since `since`."""
        ...

    async def reset_warnings(self, chat_id: int, author_id: int) -> None:
        """Forget every warning of the author in the chat."""
        ...
