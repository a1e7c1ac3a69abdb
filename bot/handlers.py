"""Telegram glue: turn updates into pipeline calls and outcomes into one reply each.

Telegram types stop here; everything below takes plain values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from telegram import Bot, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot import messages
from bot.alerts import OperatorAlerts, Send
from bot.images import MAX_DOWNLOAD_BYTES, TooLargeToDownload
from bot.pipeline import DownloadError, IncomingImage, PhotoPipeline

logger = logging.getLogger(__name__)

REPLY_ATTEMPTS = 3
DOWNLOAD_ATTEMPTS = 2
CHAT_ACTION_INTERVAL = 4.5  # Telegram shows a chat action for about 5 s.

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class TelegramDownloader:
    """Fetches an image's bytes through the Bot API, mapping failures to pipeline errors."""

    def __init__(self, bot: Bot, timeout: float) -> None:
        self._bot = bot
        self._timeout = timeout

    async def __call__(self, incoming: IncomingImage) -> bytes:
        """Return the file's bytes or raise `DownloadError` / `TooLargeToDownload`.

        getFile and the download are idempotent, so a network failure is tried again once.
        """
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                return await self._fetch(incoming)
            except BadRequest as exc:
                if "too big" in exc.message.lower():
                    size = incoming.file_size or MAX_DOWNLOAD_BYTES + 1
                    raise TooLargeToDownload(size) from None
                logger.warning("download refused by Telegram: %s", exc.message)
                raise DownloadError(exc.message) from None
            except TelegramError as exc:
                retry = attempt < DOWNLOAD_ATTEMPTS and isinstance(exc, NetworkError)
                logger.warning(
                    "download attempt %d failed: %s: %s%s",
                    attempt,
                    type(exc).__name__,
                    exc.message,
                    "; retrying" if retry else "",
                )
                if not retry:
                    raise DownloadError(type(exc).__name__) from None
        raise AssertionError("unreachable")

    async def _fetch(self, incoming: IncomingImage) -> bytes:
        file = await self._bot.get_file(incoming.file_id, read_timeout=self._timeout)
        if file.file_size and file.file_size > MAX_DOWNLOAD_BYTES:
            raise TooLargeToDownload(file.file_size)
        return bytes(await file.download_as_bytearray(read_timeout=self._timeout))


def admin_sender(bot: Bot, chat_id: int) -> Send:
    """A `Send` that posts operator alerts to `chat_id`; a failure to post is only logged."""

    async def send(text: str) -> None:
        try:
            await bot.send_message(chat_id, text)
        except TelegramError as exc:
            logger.error("could not deliver the operator alert: %s", exc.message)

    return send


class Handlers:
    """The bot's update callbacks, bound to one pipeline."""

    def __init__(self, pipeline: PhotoPipeline, alerts: OperatorAlerts) -> None:
        self._pipeline = pipeline
        self._alerts = alerts

    def register(self, app: AnyApplication) -> None:
        """Attach every handler; edited messages are ignored so no photo is answered twice."""
        new = filters.UpdateType.MESSAGE
        app.add_handler(CommandHandler(["start", "help"], self.help, filters=new))
        app.add_handler(MessageHandler(new & filters.PHOTO, self.photo, block=False))
        app.add_handler(MessageHandler(new & filters.Document.ALL, self.document, block=False))
        app.add_handler(MessageHandler(new & filters.ChatType.PRIVATE, self.hint))
        app.add_error_handler(self.error)

    async def help(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """/start and /help: what the bot does and what it accepts."""
        if update.effective_message:
            await _reply(update.effective_message, messages.HELP)

    async def hint(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything else in a private chat: one line on what to send."""
        if update.effective_message:
            await _reply(update.effective_message, messages.HINT)

    async def photo(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """A compressed photo: the largest size Telegram offers."""
        message = update.effective_message
        if message is None or not message.photo:
            return
        largest = message.photo[-1]
        await self._answer(
            message,
            IncomingImage(
                file_id=largest.file_id,
                file_unique_id=largest.file_unique_id,
                file_size=largest.file_size,
                width=largest.width,
                height=largest.height,
            ),
        )

    async def document(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """A file: its bytes decide whether it is an image, not its name or MIME type."""
        message = update.effective_message
        if message is None or message.document is None:
            return
        document = message.document
        await self._answer(
            message,
            IncomingImage(
                file_id=document.file_id,
                file_unique_id=document.file_unique_id,
                file_size=document.file_size,
            ),
        )

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything unexpected: the log gets the traceback, the person an id to quote."""
        error_id = _new_error_id()
        logger.error("unhandled error id=%s", error_id, exc_info=context.error)
        if isinstance(update, Update) and update.effective_message:
            await _reply(update.effective_message, messages.apology(error_id))

    async def _answer(self, message: Message, incoming: IncomingImage) -> None:
        async with _showing_work(message):
            try:
                outcome = await self._pipeline.run(incoming)
                await self._alerts.observe(outcome)
                text = messages.reply_for(outcome)
            except Exception:
                error_id = _new_error_id()
                logger.exception("unexpected error id=%s while handling a photo", error_id)
                text = messages.apology(error_id)
        await _reply(message, text)


@contextlib.asynccontextmanager
async def _showing_work(message: Message) -> AsyncIterator[None]:
    """Keep 'typing…' visible in private chats; groups keep their message budget."""
    if message.chat.type != ChatType.PRIVATE:
        yield
        return

    async def keep_typing() -> None:
        while True:
            try:
                await message.chat.send_action(ChatAction.TYPING)
            except TelegramError as exc:
                logger.debug("chat action failed: %s", type(exc).__name__)
            await asyncio.sleep(CHAT_ACTION_INTERVAL)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _reply(message: Message, text: str) -> None:
    """Send one reply. A timed-out send may have arrived, so only clear failures are retried."""
    for attempt in range(1, REPLY_ATTEMPTS + 1):
        try:
            await message.reply_text(
                text,
                reply_parameters=ReplyParameters(
                    message_id=message.message_id, allow_sending_without_reply=True
                ),
            )
            return
        except TimedOut:
            logger.warning("reply to chat %s timed out; not resent", message.chat_id)
            return
        except BadRequest as exc:
            logger.error("reply to chat %s refused: %s", message.chat_id, exc.message)
            return
        except NetworkError as exc:
            if attempt == REPLY_ATTEMPTS:
                logger.error("reply to chat %s failed: %s", message.chat_id, exc.message)
                return
            await asyncio.sleep(attempt)
        except TelegramError as exc:
            logger.error("reply to chat %s refused: %s", message.chat_id, exc.message)
            return


def _new_error_id() -> str:
    return uuid.uuid4().hex[:8]
