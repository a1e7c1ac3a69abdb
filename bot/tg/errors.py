"""The last line of defence: anything unexpected is logged with an id, and a person who
asked gets one sentence quoting it; a group is never told of an internal fault.

Storage being down is expected, not unexpected: its outage is logged once by the storage
guard, and a person who asked for something that needs storage reads "try again in a
minute" instead of an error id.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.i18n import Translations
from bot.messages import people
from bot.storage.guard import StorageUnavailable
from bot.tg.admission import Admission
from bot.tg.chats import Chats

logger = logging.getLogger(__name__)


def new_error_id() -> str:
    """A short id that ties a person's apology to the log line with the traceback."""
    return uuid.uuid4().hex[:8]


@dataclass(frozen=True, eq=False, kw_only=True)
class ErrorHandler:
    """python-telegram-bot's error handler."""

    chats: Chats
    admission: Admission

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the error; answer the person who asked, once."""
        error = context.error
        message = update.effective_message if isinstance(update, Update) else None
        if isinstance(error, StorageUnavailable):
            logger.info(
                "update %s not served: %s",
                update.update_id if isinstance(update, Update) else "?",
                error,
            )
            compose: Callable[[Translations], str] = people.storage_unavailable
        else:
            error_id = new_error_id()
            logger.error("unhandled error id=%s", error_id, exc_info=error)
            compose = functools.partial(people.apology, error_id)
        if isinstance(update, Update) and message is not None and _asked(message):
            await self.chats.outbox.reply(message, compose(self.admission.tr_for(update)))


def _asked(message: Message) -> bool:
    """Someone in a private chat, or a command: any other group message was not meant for
    the bot, and nobody there should read about its faults."""
    text = message.text
    return message.chat.type == ChatType.PRIVATE or (isinstance(text, str) and text.startswith("/"))
