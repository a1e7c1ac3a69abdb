"""Photos and image files: answered in private chats (and for /check), moderated in groups
that ask; an album is gathered and answered, or moderated, as one batch."""

from __future__ import annotations

import asyncio
import logging

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot import messages
from bot.albums import AlbumCollector, Spawn
from bot.clock import utc_now
from bot.fairness import Fairness, Overloaded
from bot.guarded_storage import StorageUnavailable
from bot.i18n import Translations
from bot.moderation import ChatSettings
from bot.pipeline import IncomingImage, PhotoPipeline, Requester
from bot.slots import WorkSlots
from bot.tg.admission import Admission
from bot.tg.errors import new_error_id
from bot.tg.moderator import Moderator
from bot.tg.outbox import Outbox
from bot.tg.typing_sign import TypingIndicator

logger = logging.getLogger(__name__)

Item = tuple[Message, IncomingImage]


def incoming_image(message: Message) -> IncomingImage | None:
    """The image a message carries: the largest photo size, or any document."""
    if message.photo:
        largest = message.photo[-1]
        return IncomingImage(
            file_id=largest.file_id,
            file_unique_id=largest.file_unique_id,
            file_size=largest.file_size,
            width=largest.width,
            height=largest.height,
        )
    if message.document:
        # Its bytes decide whether it is an image, not its name or MIME type.
        return IncomingImage(
            file_id=message.document.file_id,
            file_unique_id=message.document.file_unique_id,
            file_size=message.document.file_size,
        )
    return None


class PhotoRoutes:
    """Where an image goes once its message is admitted."""

    def __init__(
        self,
        *,
        admission: Admission,
        pipeline: PhotoPipeline,
        moderator: Moderator,
        fairness: Fairness,
        outbox: Outbox,
        spawn: Spawn,
        slots: WorkSlots,
        album_quiet_seconds: float,
    ) -> None:
        self._admission = admission
        self._pipeline = pipeline
        self._moderator = moderator
        self._fairness = fairness
        self._outbox = outbox
        self._albums: AlbumCollector[Item] = AlbumCollector(spawn, quiet=album_quiet_seconds)
        self._slots = slots
        self._typing = TypingIndicator(outbox)

    async def on_image(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo or a file: answered in private chats, moderated in groups that ask."""
        served = await self._admission.admit(update)
        if served is None:
            return
        message, settings, tr = served.message, served.settings, served.tr
        incoming = incoming_image(message)
        if incoming is None:
            return
        private = message.chat.type == ChatType.PRIVATE
        if not private and not settings.moderate:
            return
        if message.media_group_id:
            key = f"{message.chat_id}:{message.media_group_id}"
            complete = self._answer_album if private else self._moderate_album
            self._albums.add(key, (message, incoming), complete)
            return
        if private:
            await self.answer([(message, incoming)], self._admission.requester(message), tr)
        else:
            await self._moderate([(message, incoming)], settings, tr)

    async def answer(self, items: list[Item], requester: Requester, tr: Translations) -> None:
        """One reply for one image or a whole album, whatever happens on the way.

        "typing…" shows only once the photos' turn has come, not while they wait for it.
        """
        first = items[0][0]
        try:
            async with self._fairness.turn(_person(first)), self._typing.shown(first):
                outcomes = await asyncio.gather(
                    *(self._pipeline.run(incoming, requester) for _, incoming in items)
                )
            now = utc_now()
            if len(outcomes) == 1:
                text = messages.reply_for(outcomes[0], tr, now)
            else:
                text = messages.album_reply(outcomes, tr, now)
        except Overloaded:
            text = messages.too_many_at_once(tr)
        except Exception:
            error_id = new_error_id()
            logger.exception("unexpected error id=%s while handling a photo", error_id)
            text = messages.apology(error_id, tr)
        await self._outbox.reply(first, text)

    # A gathered album is work that no update's slot covers: it takes one of its own.
    async def _answer_album(self, items: list[Item]) -> None:
        first = items[0][0]
        async with self._slots.held():
            tr = await self._admission.tr(first)
            await self.answer(items, self._admission.requester(first), tr)

    async def _moderate_album(self, items: list[Item]) -> None:
        async with self._slots.held():
            settings, tr = await self._admission.context(items[0][0])
            await self._moderate(items, settings, tr)

    async def _moderate(self, items: list[Item], settings: ChatSettings, tr: Translations) -> None:
        """Nobody asked for an answer here: a fault is logged, never announced in the group."""
        try:
            async with self._fairness.turn(_person(items[0][0])):
                await self._moderator.moderate(items, settings, tr)
        except Overloaded:
            logger.warning(
                "moderation overloaded; a photo in chat %s went unchecked", items[0][0].chat_id
            )
        except StorageUnavailable as exc:  # the outage itself is logged by the guard
            logger.info("moderation in chat %s left incomplete: %s", items[0][0].chat_id, exc)
        except Exception:
            logger.exception(
                "unexpected error id=%s while moderating in chat %s",
                new_error_id(),
                items[0][0].chat_id,
            )


def _person(message: Message) -> int:
    """Whose turn a message takes: its sender, else its chat."""
    return message.from_user.id if message.from_user else message.chat_id
