"""Photos and image files: answered in private chats (and for /check), moderated in groups
that ask; an album is gathered and answered, or moderated, as one batch. An edited
message whose image was swapped is taken as a new post; any other edit costs nothing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.clock import utc_now
from bot.i18n import Translations
from bot.messages import people
from bot.moderation import ChatSettings, Media, judged_in_group
from bot.photo.albums import AlbumCollector, Spawn
from bot.photo.cache import file_key
from bot.photo.fairness import Fairness, Overloaded
from bot.photo.outcomes import Outcome
from bot.photo.pipeline import IncomingImage, PhotoPipeline, Requester, Source
from bot.slots import WorkSlots
from bot.storage.guard import StorageUnavailable
from bot.tg.admission import Admission
from bot.tg.chats import Chats
from bot.tg.cutout_presses import CutoutButtons
from bot.tg.errors import new_error_id
from bot.tg.moderator import Moderator
from bot.tg.posts import Item, origin_of
from bot.tg.typing_sign import TypingIndicator

logger = logging.getLogger(__name__)

# Which image each message carries is kept for a week: Telegram lets people edit
# older messages, but a swap after that is rare and then simply judged afresh.
IMAGE_MEMORY_SECONDS = 7 * 24 * 3600
# An album item and what acknowledges its update once the album is answered.
Deferred = tuple[Item, Callable[[], None]]
Defer = Callable[[], Callable[[], None]]
PRIVATE_MEMORY_SIZE = 10_000


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
            reencoded=True,
        )
    if message.document:
        # Its bytes decide whether it is an image, not its name or MIME type.
        return IncomingImage(
            file_id=message.document.file_id,
            file_unique_id=message.document.file_unique_id,
            file_size=message.document.file_size,
        )
    return None


def media_of(message: Message) -> Media:
    """What kind of image, if any, a message says it carries (Telegram's claim: enough to
    leave a PDF alone in a group; the bytes still decide when an image is judged)."""
    if message.photo:
        return Media.PHOTO
    if message.animation is not None:
        return Media.ANIMATION
    mime = (message.document.mime_type or "") if message.document else ""
    return Media.IMAGE_FILE if mime.startswith("image/") else Media.OTHER_FILE


class PhotoRoutes:
    """Where an image goes once its message is admitted."""

    def __init__(
        self,
        *,
        chats: Chats,
        admission: Admission,
        pipeline: PhotoPipeline,
        moderator: Moderator,
        fairness: Fairness,
        spawn: Spawn,
        slots: WorkSlots,
        album_quiet_seconds: float,
        cutouts: CutoutButtons,
        defer: Defer = lambda: _nothing,
    ) -> None:
        """`defer`: keep the current update unacknowledged until the returned callable is
        called (bot/tg/intake.py): an album item is acknowledged with its album's answer."""
        self.chats = chats
        self._admission = admission
        self._pipeline = pipeline
        self._moderator = moderator
        self._fairness = fairness
        self._albums: AlbumCollector[Deferred] = AlbumCollector(spawn, quiet=album_quiet_seconds)
        self._defer = defer
        self._slots = slots
        self._cutouts = cutouts
        self._typing = TypingIndicator(chats.outbox)
        # Private chats answer an edit at most twice if this is lost (a restart, another
        # replica), so memory will do; groups act on edits and keep them in storage.
        self._private_images: OrderedDict[tuple[int, int], str] = OrderedDict()

    async def on_image(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo or a file, new or edited: answered in private chats, moderated in groups
        that ask."""
        served = await self._admission.admit(update)
        if served is None:
            return
        message, settings, tr = served.message, served.settings, served.tr
        incoming = incoming_image(message)
        if incoming is None:
            return
        private = message.chat.type == ChatType.PRIVATE
        if not private and not settings.moderating:
            return
        if not private and not judged_in_group(media_of(message), settings):
            logger.debug("a %s in chat %s is not judged here", media_of(message), message.chat_id)
            return
        edited = update.edited_message is not None
        if not await self._remember(message, incoming, private) and edited:
            return
        album = bool(message.media_group_id) and not edited
        source = _source(message, edited=edited, album=album, private=private)
        item = (message, incoming, origin_of(message, source, update.update_id))
        if album:
            key = f"{message.chat_id}:{message.media_group_id}"
            complete = self._answer_album if private else self._moderate_album
            self._albums.add(key, (item, self._defer()), complete)
            return
        if private:
            await self.answer([item], self._admission.requester(message), tr)
        else:
            await self._moderate([item], settings, tr)

    async def _remember(self, message: Message, incoming: IncomingImage, private: bool) -> bool:
        """Note the image this message carries; True if it is new to this message."""
        key = (message.chat_id, message.message_id)
        image = file_key(incoming.file_unique_id)
        if not private:
            expires_at = time.time() + IMAGE_MEMORY_SECONDS
            return await self.chats.storage.remember_image(*key, image, expires_at)
        known = self._private_images.get(key)
        self._private_images[key] = image
        self._private_images.move_to_end(key)
        if len(self._private_images) > PRIVATE_MEMORY_SIZE:
            self._private_images.popitem(last=False)
        return known != image

    async def answer(self, items: list[Item], requester: Requester, tr: Translations) -> None:
        """One reply for one image or a whole album, whatever happens on the way; what
        the images cost is given back if the reply cannot be delivered.

        "typing…" shows only once the photos' turn has come, not while they wait for it.
        One image's answer may carry the "Show cut-outs" button for whoever asked.
        """
        first = items[0][0]
        outcomes: list[Outcome] = []
        buttons: InlineKeyboardMarkup | None = None
        try:
            async with self._fairness.turn(_person(first)), self._typing.shown(first):
                runs = (self._pipeline.run(image, requester, at) for _, image, at in items)
                outcomes = list(await asyncio.gather(*runs))
            now = utc_now()
            if len(outcomes) == 1:
                text = people.reply_for(outcomes[0], tr, now)
                keys = (file_key(items[0][1].file_unique_id),)
                buttons = await self._cutouts.markup(outcomes[0], requester.user_id, keys, tr)
            else:
                text = people.album_reply(outcomes, tr, now)
        except Overloaded:
            text = people.too_many_at_once(tr)
        except Exception:
            error_id = new_error_id()
            logger.exception("unexpected error id=%s while handling a photo", error_id)
            text = people.apology(error_id, tr)
        if await self.chats.outbox.reply(first, text, buttons) is None:
            for outcome in outcomes:
                await self._pipeline.refund(outcome)

    # A gathered album is work that no update's slot covers: it takes one of its own.
    # Its updates are acknowledged once it is answered, whatever happened.
    async def _answer_album(self, deferred: list[Deferred]) -> None:
        items = [item for item, _ in deferred]
        first = items[0][0]
        try:
            async with self._slots.held():
                tr = await self._admission.tr(first)
                await self.answer(items, self._admission.requester(first), tr)
        finally:
            for _, release in deferred:
                release()

    async def _moderate_album(self, deferred: list[Deferred]) -> None:
        items = [item for item, _ in deferred]
        try:
            async with self._slots.held():
                settings, tr = await self._admission.context(items[0][0])
                await self._moderate(items, settings, tr)
        finally:
            for _, release in deferred:
                release()

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
            # Without storage the allow list and warnings are unknown: nothing is done,
            # and the admins hear of it once an hour.
            logger.info("moderation in chat %s left incomplete: %s", items[0][0].chat_id, exc)
            await self._moderator.unsure(items[0][0].chat_id, items[0][0].chat.title)
        except Exception:
            logger.exception(
                "unexpected error id=%s while moderating in chat %s",
                new_error_id(),
                items[0][0].chat_id,
            )


def _nothing() -> None:
    """Nothing to release (no durable intake)."""


def _source(message: Message, *, edited: bool, album: bool, private: bool) -> Source:
    if not private:
        return Source.MODERATION
    if edited:
        return Source.EDIT
    if album:
        return Source.ALBUM
    return Source.PHOTO if message.photo else Source.FILE


def _person(message: Message) -> int:
    """Whose turn a message takes: its sender, else its chat."""
    return message.from_user.id if message.from_user else message.chat_id
