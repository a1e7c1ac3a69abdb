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
# A chat's next photo takes its turn as the one before it leaves, a few loop turns
# later: the sign waits this long for it before stopping, instead of starting over.
HANDOVER_SECONDS = 0.05


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
            users, task = self._chats[chat_id]
            self._chats[chat_id] = (users - 1, task)
            if users == 1:
                asyncio.get_running_loop().call_later(
                    HANDOVER_SECONDS, self._stop_if_unused, chat_id, task
                )

    def _stop_if_unused(self, chat_id: int, task: asyncio.Task[None]) -> None:
        if self._chats.get(chat_id) == (0, task):
            del self._chats[chat_id]
            task.cancel()

    async def _keep_typing(self, chat_id: int) -> None:
        await asyncio.sleep(CHAT_ACTION_DELAY)
        while True:
            await self._outbox.chat_action(chat_id)
            await asyncio.sleep(CHAT_ACTION_INTERVAL)
