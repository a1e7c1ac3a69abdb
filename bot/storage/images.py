"""Which image each message carries, and each chat's allow list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ImageStore(Protocol):
    """Images per message (to spot a swapped photo) and allowed images per chat; safe to call
    concurrently."""

    async def remember_image(
        self, chat_id: int, message_id: int, image_key: str, expires_at: float
    ) -> bool:
        """Record the image a message carries; True if it is new or replaced another
        (an edited message whose photo was swapped), False if it is the one recorded."""
        ...

    async def allow_image(self, chat_id: int, keys: Sequence[str]) -> None:
        """Put one image on the chat's allow list under all its keys (a Telegram file,
        the hash of its bytes)."""
        ...

    async def is_allowed(self, chat_id: int, keys: Sequence[str]) -> bool:
        """Whether any of the keys is on the chat's allow list."""
        ...

    async def allowed_count(self, chat_id: int) -> int:
        """How many images the chat's allow list holds."""
        ...

    async def reset_allowed(self, chat_id: int) -> None:
        """Empty the chat's allow list."""
        ...
