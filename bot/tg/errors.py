"""The last line of defence: anything unexpected is logged with an id, and a person who
asked gets one sentence quoting it; a group is never told of an internal fault."""

from __future__ import annotations

import logging
import uuid

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot import messages
from bot.tg.admission import Admission
from bot.tg.outbox import Outbox

logger = logging.getLogger(__name__)


def new_error_id() -> str:
    """A short id that ties a person's apology to the log line with the traceback."""
    return uuid.uuid4().hex[:8]


class ErrorHandler:
    """python-telegram-bot's error handler."""

    def __init__(self, admission: Admission, outbox: Outbox) -> None:
        self._admission = admission
        self._outbox = outbox

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the traceback with an id; answer the person with that id."""
        error_id = new_error_id()
        logger.error("unhandled error id=%s", error_id, exc_info=context.error)
        if isinstance(update, Update) and update.effective_message:
            message = update.effective_message
            if message.chat.type == ChatType.PRIVATE or _addressed_to_bot(message.text):
                tr = self._admission.tr_for(update)
                await self._outbox.reply(message, messages.apology(error_id, tr))


def _addressed_to_bot(text: str | None) -> bool:
    """A command is someone asking; any other group message was not meant for the bot."""
    return text is not None and text.startswith("/")
