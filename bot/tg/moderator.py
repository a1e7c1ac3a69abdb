"""Group moderation: who is moderated, the verdict on each posted image, and what
follows (a warning, a deletion, a mute or ban at the warning limit, a report to the
admins); in a dry run only the report, saying what would have happened."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from itertools import groupby

from telegram import Message

from bot import messages
from bot.cache import file_key
from bot.clock import utc_now
from bot.i18n import Catalogs, Translations
from bot.moderation import ChatSettings, Mode, OnError, judge
from bot.outcomes import Outcome, Recognized
from bot.pipeline import IncomingImage, PhotoPipeline, Requester
from bot.stats import Stats
from bot.storage import Storage
from bot.summary import summarize_line
from bot.tg.enforcer import Enforcer
from bot.tg.members import ChatAdmins
from bot.tg.posts import Flagged, Item, author_of, report_language, report_of
from bot.tg.reports import Reporter

logger = logging.getLogger(__name__)


class Moderator:
    """Judges a chat's posted images; the enforcer acts on what breaks the rules."""

    def __init__(
        self,
        *,
        storage: Storage,
        pipeline: PhotoPipeline,
        enforcer: Enforcer,
        reporter: Reporter,
        admins: ChatAdmins,
        stats: Stats,
        catalogs: Catalogs,
    ) -> None:
        self._storage = storage
        self._pipeline = pipeline
        self._enforcer = enforcer
        self._reporter = reporter
        self._admins = admins
        self._stats = stats
        self._catalogs = catalogs

    async def exempt(self, message: Message) -> bool:
        """Never acted on: the chat's admins and owner, anonymous admins (posting as the
        group), bots, and the linked channel's automatic forwards. A member posting as
        another channel is moderated like anyone."""
        if message.is_automatic_forward:
            return True
        if message.sender_chat is not None:
            return message.sender_chat.id == message.chat_id
        user = message.from_user
        if user is None or user.is_bot:
            return True
        return await self._admins.is_admin(message.chat_id, user.id)

    async def moderate(
        self, items: Sequence[Item], settings: ChatSettings, tr: Translations
    ) -> None:
        """Judge every image (an album is one batch); images that pass get no message."""
        posts = [item for item in items if not await self.exempt(item[0])]
        if not posts:
            return
        report_tr = self._catalogs.get(report_language(settings))
        # A group's photos are the group's, not one person's: they count against the
        # group's own daily limit (so one group cannot starve the bot) and the overall one.
        requester = Requester(user_id=None, group_id=posts[0][0].chat_id)
        outcomes = await asyncio.gather(
            *(self._pipeline.run(image, requester, origin) for _, image, origin in posts)
        )
        flagged = []
        for (message, incoming, _), outcome in zip(posts, outcomes, strict=True):
            if not isinstance(outcome, Recognized):
                await self._unchecked(message, incoming, outcome, settings, report_tr)
                continue
            keys = (file_key(incoming.file_unique_id), *outcome.content_keys)
            breaches = judge(settings, outcome.result)
            if breaches and not await self._storage.is_allowed(message.chat_id, keys):
                found = summarize_line(outcome.result, report_tr)
                flagged.append(Flagged(message, incoming, breaches, keys, found))
        for _, group in groupby(flagged, key=lambda item: author_of(item.message)):
            await self._enforcer.act(list(group), settings, tr, report_tr)

    async def _unchecked(
        self,
        message: Message,
        incoming: IncomingImage,
        outcome: Outcome,
        settings: ChatSettings,
        report_tr: Translations,
    ) -> None:
        """A photo the bot cannot judge: counted, logged, and reported unless told not to."""
        chat_id = message.chat_id
        await self._storage.update_chat_settings(
            chat_id, lambda current: replace(current, unchecked=current.unchecked + 1)
        )
        self._stats.count("unchecked")
        logger.info("moderation could not check a photo in chat %s: %s", chat_id, outcome)
        if settings.on_error is OnError.ALLOW:
            return
        author = author_of(message)
        caption = messages.report_caption(
            chat=message.chat.title or str(chat_id),
            author=author.name,
            problem=messages.unchecked_problem(outcome, report_tr, utc_now()),
            found=None,
            deeds=(),
            dry=settings.mode is Mode.DRY,
            warnings=None,
            shortfalls=(),
            tr=report_tr,
        )
        keys = (file_key(incoming.file_unique_id),)
        report = report_of(message, incoming, author, keys, caption, report_language(settings))
        await self._reporter.file(report, report_tr)
