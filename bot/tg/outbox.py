"""The one way the bot sends: replies, messages, images with buttons, albums of uploaded
images, edits, answers to button presses, chat actions and deletions.

One policy for every call, so a person's answer never depends on which path sent it:
- flood limits (RetryAfter) are waited out by the rate limiter before a call fails;
- a network failure means the request never arrived: retried after 1 s, then 2 s;
- a timeout may have arrived: never resent (a late answer beats a duplicate one);
- anything Telegram refuses (BadRequest, Forbidden, ...) is logged once and dropped.
Nothing here raises a `TelegramError`: callers get the result or None.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError, TimedOut

logger = logging.getLogger(__name__)

T = TypeVar("T")
SEND_ATTEMPTS = 3
Send = Callable[[str], Awaitable[None]]
# What Telegram says when a message is already gone (its author deleted it first).
_GONE = "message to delete not found"


class Blocked(enum.Enum):
    """Telegram refused a private message: the person never opened a chat with the bot
    (or blocked it)."""

    BLOCKED = "blocked"


class Deletion(enum.Enum):
    """How a deletion ended."""

    DELETED = "deleted"
    GONE = "gone"  # deleted by someone else first: nothing left to do
    FAILED = "failed"


@dataclass(frozen=True, eq=False)
class Outbox:
    """Sends through one `Bot` with the policy above."""

    bot: Bot

    async def reply(
        self, message: Message, text: str, buttons: InlineKeyboardMarkup | None = None
    ) -> Message | None:
        """Answer `message` in its chat (and forum topic), quoting it when it still exists."""
        return await self._deliver(
            "reply",
            message.chat_id,
            lambda: message.reply_text(
                text,
                reply_parameters=ReplyParameters(
                    message_id=message.message_id, allow_sending_without_reply=True
                ),
                reply_markup=buttons,
            ),
        )

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        buttons: InlineKeyboardMarkup | None = None,
    ) -> Message | None:
        """Post `text` to a chat (in a forum, to the topic `thread_id`; None: General)."""
        return await self._deliver(
            "message",
            chat_id,
            lambda: self.bot.send_message(
                chat_id, text, message_thread_id=thread_id, reply_markup=buttons
            ),
        )

    async def send_private(
        self, user_id: int, text: str, buttons: InlineKeyboardMarkup | None = None
    ) -> Message | Blocked | None:
        """Write to a person privately; BLOCKED when Telegram says the bot may not (403),
        which the person can fix by opening a chat with the bot."""

        async def call() -> Message | Blocked:
            try:
                return await self.bot.send_message(user_id, text, reply_markup=buttons)
            except Forbidden:
                return Blocked.BLOCKED

        return await self._deliver("private message", user_id, call)

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, buttons: InlineKeyboardMarkup | None
    ) -> None:
        """Replace the text (and buttons) of a message the bot sent."""
        await self._deliver(
            "text edit",
            chat_id,
            lambda: self.bot.edit_message_text(text, chat_id, message_id, reply_markup=buttons),
        )

    async def send_image(
        self,
        chat_id: int,
        file_id: str,
        *,
        document: bool,
        caption: str,
        buttons: InlineKeyboardMarkup | None = None,
        thread_id: int | None = None,
    ) -> Message | None:
        """Post an image Telegram already has (by its `file_id`: nothing is downloaded),
        in a forum to the topic `thread_id`."""
        if document:
            return await self._deliver(
                "document",
                chat_id,
                lambda: self.bot.send_document(
                    chat_id,
                    file_id,
                    caption=caption,
                    reply_markup=buttons,
                    message_thread_id=thread_id,
                ),
            )
        return await self._deliver(
            "photo",
            chat_id,
            lambda: self.bot.send_photo(
                chat_id,
                file_id,
                caption=caption,
                reply_markup=buttons,
                message_thread_id=thread_id,
            ),
        )

    async def send_album(
        self, chat_id: int, photos: Sequence[tuple[bytes, str]]
    ) -> tuple[Message, ...] | Blocked | None:
        """Upload 1 to 10 images (bytes, caption) as one album (a single one as a photo:
        sendMediaGroup takes 2 to 10); BLOCKED when the person never opened a chat with
        the bot. A retry after a network failure uploads again: the album never arrived."""

        async def call() -> tuple[Message, ...] | Blocked:
            try:
                if len(photos) == 1:
                    [(data, caption)] = photos
                    return (await self.bot.send_photo(chat_id, data, caption=caption),)
                media = [InputMediaPhoto(data, caption=caption) for data, caption in photos]
                return await self.bot.send_media_group(chat_id, media)
            except Forbidden:
                return Blocked.BLOCKED

        return await self._deliver("album", chat_id, call)

    async def edit_buttons(
        self, chat_id: int, message_id: int, buttons: InlineKeyboardMarkup | None
    ) -> None:
        """Replace only the buttons of a message the bot sent."""
        await self._deliver(
            "buttons edit",
            chat_id,
            lambda: self.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=buttons),
        )

    async def edit_caption(
        self, chat_id: int, message_id: int, caption: str, buttons: InlineKeyboardMarkup | None
    ) -> None:
        """Replace the caption (and buttons) of a message the bot sent."""
        await self._deliver(
            "caption edit",
            chat_id,
            lambda: self.bot.edit_message_caption(
                chat_id, message_id, caption=caption, reply_markup=buttons
            ),
        )

    async def answer_press(self, query: CallbackQuery, text: str, *, alert: bool = False) -> None:
        """Answer a button press, so the person's client stops its spinner."""
        await self._deliver(
            "press answer",
            query.from_user.id,
            lambda: query.answer(text, show_alert=alert),
        )

    async def delete(self, chat_id: int, message_id: int) -> Deletion:
        """Delete a message; GONE when its author (or an earlier try) was quicker.

        A deletion is safe to repeat, so a network failure is retried like a send; a
        refusal is final (and a missing right is known beforehand from the bot's rights).
        """
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                done = await self.bot.delete_message(chat_id, message_id)
            except BadRequest as exc:
                if _GONE in exc.message.lower():
                    return Deletion.GONE
                logger.warning("deletion in chat %s refused: %s", chat_id, exc.message)
                return Deletion.FAILED
            except NetworkError as exc:
                if attempt == SEND_ATTEMPTS:
                    logger.warning("deletion in chat %s failed: %s", chat_id, exc.message)
                    return Deletion.FAILED
                await asyncio.sleep(attempt)
            except TelegramError as exc:
                logger.warning("deletion in chat %s refused: %s", chat_id, exc.message)
                return Deletion.FAILED
            else:
                return Deletion.DELETED if done else Deletion.FAILED
        return Deletion.FAILED

    async def chat_action(self, chat_id: int) -> None:
        """Show "typing…" once; cosmetic, so never retried and only logged at DEBUG."""
        try:
            await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as exc:
            logger.debug("chat action in chat %s failed: %s", chat_id, type(exc).__name__)

    def sender_to(self, chat_id: int) -> Send:
        """A plain `Send` that posts to one chat (the operator's alerts)."""

        async def send(text: str) -> None:
            await self.send(chat_id, text)

        return send

    async def _deliver(self, what: str, chat_id: int, call: Callable[[], Awaitable[T]]) -> T | None:
        return await deliver(what, chat_id, call)


async def deliver(what: str, chat_id: int, call: Callable[[], Awaitable[T]]) -> T | None:
    """Make one Bot API call under the policy in the module doc; None if it failed."""
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
