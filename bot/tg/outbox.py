"""The one way the bot sends: replies, messages, chat actions, forwards and deletions.

One policy for every call, so a person's answer never depends on which path sent it:
- flood limits (RetryAfter) are waited out by the rate limiter before a call fails;
- a network failure means the request never arrived: retried after 1 s, then 2 s;
- a timeout may have arrived: never resent (a late answer beats a duplicate one);
- anything Telegram refuses (BadRequest, Forbidden, ...) is logged once and dropped.
Nothing here raises a `TelegramError`: callers get the result or None.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import Bot, Message, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut

logger = logging.getLogger(__name__)

T = TypeVar("T")
SEND_ATTEMPTS = 3
Send = Callable[[str], Awaitable[None]]


class Outbox:
    """Sends through one `Bot` with the policy above."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def reply(self, message: Message, text: str) -> Message | None:
        """Answer `message` in its chat (and forum topic), quoting it when it still exists."""
        return await self._deliver(
            "reply",
            message.chat_id,
            lambda: message.reply_text(
                text,
                reply_parameters=ReplyParameters(
                    message_id=message.message_id, allow_sending_without_reply=True
                ),
            ),
        )

    async def send(self, chat_id: int, text: str) -> Message | None:
        """Post `text` to a chat."""
        return await self._deliver(
            "message", chat_id, lambda: self._bot.send_message(chat_id, text)
        )

    async def forward(self, chat_id: int, message: Message) -> Message | None:
        """Forward `message` to another chat."""
        return await self._deliver("forward", chat_id, lambda: message.forward(chat_id))

    async def delete(self, message: Message) -> bool:
        """Delete `message`; False when Telegram refused or could not be reached."""
        done = await self._deliver("deletion", message.chat_id, message.delete)
        return bool(done)

    async def chat_action(self, chat_id: int) -> None:
        """Show "typing…" once; cosmetic, so never retried and only logged at DEBUG."""
        try:
            await self._bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as exc:
            logger.debug("chat action in chat %s failed: %s", chat_id, type(exc).__name__)

    def sender_to(self, chat_id: int) -> Send:
        """A plain `Send` that posts to one chat (the operator's alerts)."""

        async def send(text: str) -> None:
            await self.send(chat_id, text)

        return send

    async def _deliver(self, what: str, chat_id: int, call: Callable[[], Awaitable[T]]) -> T | None:
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return await call()
            except TimedOut:
                logger.warning("%s to chat %s timed out; not resent", what, chat_id)
                return None
            except BadRequest as exc:  # a NetworkError in python-telegram-bot, but final
                logger.error("%s to chat %s refused: %s", what, chat_id, exc.message)
                return None
            except NetworkError as exc:
                if attempt == SEND_ATTEMPTS:
                    logger.error("%s to chat %s failed: %s", what, chat_id, exc.message)
                    return None
                await asyncio.sleep(attempt)
            except TelegramError as exc:
                logger.error("%s to chat %s refused: %s", what, chat_id, exc.message)
                return None
        return None
