"""The "typing…" sign while a private chat's photos are being worked on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from telegram import Message
from telegram.constants import ChatType

from bot.tg.outbox import Outbox

CHAT_ACTION_INTERVAL = 4.5  # Telegram shows a chat action for about 5 s.
# Answers that come within a second need no "typing…"; skipping it saves one
# call per photo under Telegram's 30 requests/s.
CHAT_ACTION_DELAY = 1.0


class TypingIndicator:
    """Keeps "typing…" visible in a private chat while any of its photos is being worked
    on: one loop per chat, however many photos, so a burst costs no extra requests.
    Groups keep their message budget and get none."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._chats: dict[int, tuple[int, asyncio.Task[None]]] = {}

    @contextlib.asynccontextmanager
    async def shown(self, message: Message) -> AsyncIterator[None]:
        """Show typing in `message`'s chat for the length of the block."""
        if message.chat.type != ChatType.PRIVATE:
            yield
            return
        chat_id = message.chat_id
        users, task = self._chats.get(chat_id, (0, None))
        if task is None:
            task = asyncio.create_task(self._keep_typing(chat_id))
        self._chats[chat_id] = (users + 1, task)
        try:
            yield
        finally:
            users, task = self._chats.pop(chat_id)
            if users > 1:
                self._chats[chat_id] = (users - 1, task)
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _keep_typing(self, chat_id: int) -> None:
        await asyncio.sleep(CHAT_ACTION_DELAY)
        while True:
            await self._outbox.chat_action(chat_id)
            await asyncio.sleep(CHAT_ACTION_INTERVAL)
