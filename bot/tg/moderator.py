"""Group moderation: who is moderated, the verdict on each posted image, and what
follows (a warning, a deletion, a mute or ban at the warning limit, a report to the
admins); in a dry run only the report, saying what would have happened."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import groupby

from telegram import Message

from bot import messages
from bot.cache import file_key
from bot.clock import utc_now
from bot.i18n import DEFAULT_LANGUAGE, Catalogs, Translations
from bot.moderation import (
    WARNING_WINDOW_SECONDS,
    Action,
    Breach,
    ChatSettings,
    Deed,
    Mode,
    OnError,
    Penalty,
    Shortfall,
    judge,
    penalty_deed,
)
from bot.outcomes import Outcome, Recognized
from bot.pipeline import IncomingImage, PhotoPipeline, Requester
from bot.stats import Stats
from bot.storage import Storage
from bot.summary import summarize_line
from bot.tg.members import BotRights, ChatAdmins
from bot.tg.outbox import Deletion, Outbox
from bot.tg.reports import Report, Reporter
from bot.tg.sanctions import Sanctions

logger = logging.getLogger(__name__)

# Group photos are the chat's, not one person's: they count against the
# overall daily limit only.
MODERATION_REQUESTER = Requester(user_id=None)
Item = tuple[Message, IncomingImage]


@dataclass(frozen=True)
class Author:
    """Who a post is from: a person, or the channel it was posted as."""

    id: int | None
    is_chat: bool
    name: str


def author_of(message: Message) -> Author:
    """The author a notice names and a sanction targets."""
    if message.sender_chat is not None:
        chat = message.sender_chat
        return Author(chat.id, True, chat.title or chat.username or str(chat.id))
    user = message.from_user
    if user is None:
        return Author(None, False, message.chat.title or "?")
    name = f"{user.full_name} (@{user.username})" if user.username else user.full_name
    return Author(user.id, False, name)


@dataclass(frozen=True)
class Flagged:
    """A posted image that breaks the policy, and how."""

    message: Message
    incoming: IncomingImage
    breaches: list[Breach]
    keys: tuple[str, ...]
    found: str


class Moderator:
    """Judges a chat's posted images and acts, or reports, on the verdict."""

    def __init__(
        self,
        *,
        storage: Storage,
        pipeline: PhotoPipeline,
        outbox: Outbox,
        sanctions: Sanctions,
        reporter: Reporter,
        admins: ChatAdmins,
        rights: BotRights,
        stats: Stats,
        catalogs: Catalogs,
    ) -> None:
        self._storage = storage
        self._pipeline = pipeline
        self._outbox = outbox
        self._sanctions = sanctions
        self._reporter = reporter
        self._admins = admins
        self._rights = rights
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
        report_tr = self._catalogs.get(_language(settings))
        outcomes = await asyncio.gather(
            *(self._pipeline.run(incoming, MODERATION_REQUESTER) for _, incoming in posts)
        )
        flagged = []
        for (message, incoming), outcome in zip(posts, outcomes, strict=True):
            if not isinstance(outcome, Recognized):
                await self._unchecked(message, incoming, outcome, settings, report_tr)
                continue
            keys = (file_key(incoming.file_unique_id), *outcome.content_keys)
            breaches = judge(settings, outcome.result)
            if breaches and not await self._storage.is_allowed(message.chat_id, keys):
                found = summarize_line(outcome.result, report_tr)
                flagged.append(Flagged(message, incoming, breaches, keys, found))
        for _, group in groupby(flagged, key=lambda item: author_of(item.message)):
            await self._act(list(group), settings, tr, report_tr)

    async def _act(
        self,
        flagged: list[Flagged],
        settings: ChatSettings,
        tr: Translations,
        report_tr: Translations,
    ) -> None:
        """One author's flagged images: act (or plan, in a dry run), count one warning,
        escalate at the limit, and report each image."""
        chat_id = flagged[0].message.chat_id
        author = author_of(flagged[0].message)
        dry = settings.mode is Mode.DRY
        rights = await self._rights.get(chat_id)
        deeds: dict[int, list[Deed]] = {id(item): [] for item in flagged}
        shortfalls: list[Shortfall] = []
        to_warn: list[Flagged] = []
        if settings.action is Action.DELETE and not rights.can_delete:
            shortfalls.append(Shortfall.CANNOT_DELETE)
            to_warn = flagged
        elif settings.action is Action.DELETE:
            removed = flagged if dry else await self._delete(flagged, tr)
            for item in removed:
                deeds[id(item)].append(Deed.DELETED)
            to_warn = [item for item in flagged if item not in removed]
        elif settings.action is Action.WARN:
            to_warn = flagged
        warning_message_id = None
        if to_warn and not dry:
            text = "\n".join(messages.breach_warning(item.breaches, tr) for item in to_warn)
            sent = await self._outbox.reply(to_warn[0].message, text)
            warning_message_id = sent.message_id if sent else None
        for item in to_warn:
            deeds[id(item)].append(Deed.WARNED)

        warned_at = None
        warnings = None
        penalty: list[Deed] = []
        if settings.action is not Action.REPORT and author.id is not None:
            warned_at = time.time()
            since = warned_at - WARNING_WINDOW_SECONDS
            if dry:
                count = await self._storage.warning_count(chat_id, author.id, since) + 1
            else:
                count = await self._storage.add_warning(chat_id, author.id, warned_at, since)
            warnings = (count, settings.warn_limit)
            if count >= settings.warn_limit:
                penalty, shortfall = await self._escalate(chat_id, author, count, settings, dry, tr)
                shortfalls += shortfall
        for number, item in enumerate(flagged):
            done = tuple(deeds[id(item)]) + (tuple(penalty) if number == 0 else ())
            caption = messages.report_caption(
                chat=item.message.chat.title or str(chat_id),
                author=author.name,
                problem=messages.breach_problem(item.breaches, report_tr),
                found=item.found,
                deeds=done,
                dry=dry,
                warnings=warnings,
                shortfalls=shortfalls,
                tr=report_tr,
            )
            report = _report(
                item.message, item.incoming, author, item.keys, caption, _language(settings)
            )
            if not dry:
                report = replace(
                    report,
                    deeds=done,
                    warned_at=warned_at,
                    warning_message_id=warning_message_id if Deed.WARNED in done else None,
                )
            await self._reporter.file(report, report_tr)

    async def _delete(self, flagged: list[Flagged], tr: Translations) -> list[Flagged]:
        """Delete what breaks the rules and post one notice; return what is gone."""
        removed = []
        for item in flagged:
            result = await self._outbox.delete(item.message.chat_id, item.message.message_id)
            if result is not Deletion.FAILED:
                removed.append(item)
        if removed:
            notice = "\n".join(
                messages.removal_notice(author_of(item.message).name, item.breaches, tr)
                for item in removed
            )
            await self._outbox.send(removed[0].message.chat_id, notice)
        return removed

    async def _escalate(
        self,
        chat_id: int,
        author: Author,
        count: int,
        settings: ChatSettings,
        dry: bool,
        tr: Translations,
    ) -> tuple[list[Deed], list[Shortfall]]:
        """The warning limit is reached: mute or ban (a channel can only be banned), then
        start counting afresh."""
        assert author.id is not None
        if author.is_chat:
            settings = replace(settings, penalty=Penalty.BAN)
        deed = penalty_deed(settings.penalty)
        if not (await self._rights.get(chat_id)).can_restrict:
            return [], [Shortfall.CANNOT_RESTRICT]
        if dry:
            return [deed], []
        if settings.penalty is Penalty.BAN:
            done = await self._sanctions.ban(
                chat_id, author.id, is_chat=author.is_chat, seconds=settings.penalty_seconds
            )
        else:
            done = await self._sanctions.mute(chat_id, author.id, settings.penalty_seconds)
        if not done:
            return [], [Shortfall.CANNOT_RESTRICT]
        await self._storage.reset_warnings(chat_id, author.id)
        await self._outbox.send(chat_id, messages.penalty_notice(author.name, settings, count, tr))
        return [deed], []

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
        report = _report(message, incoming, author, keys, caption, _language(settings))
        await self._reporter.file(report, report_tr)


def _report(
    message: Message,
    incoming: IncomingImage,
    author: Author,
    keys: tuple[str, ...],
    caption: str,
    language: str,
) -> Report:
    return Report(
        chat_id=message.chat_id,
        chat_title=message.chat.title or str(message.chat_id),
        message_id=message.message_id,
        author_id=author.id,
        author_is_chat=author.is_chat,
        author_name=author.name,
        file_id=incoming.file_id,
        document=not message.photo,
        image_keys=keys,
        caption=caption,
        language=language,
    )


def _language(settings: ChatSettings) -> str:
    """Reports speak the chat's language if it has one set, never the poster's."""
    return settings.language or DEFAULT_LANGUAGE
