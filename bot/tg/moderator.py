"""Group moderation: the facts about each posted image (who posted it, the verdict, the
author's history, the bot's rights), the plan `bot.moderation.plan` makes of them, and
handing the plan to whoever carries it out. Nothing here chooses what to do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from itertools import groupby
from typing import Protocol

from telegram import Message

from bot.clock import utc_now
from bot.i18n import DEFAULT_LANGUAGE, Translations
from bot.messages import admin_reports, group_admins, operators
from bot.messages.summary import summarize_line
from bot.moderation import WARNING_WINDOW_SECONDS, ChatSettings, judge
from bot.moderation.plan import (
    Allowed,
    Breaks,
    Enforce,
    History,
    Nothing,
    OverGroupLimit,
    Passed,
    Plan,
    Poster,
    PosterKind,
    Reason,
    ReportOnly,
    Unchecked,
    Unsure,
    Verdict,
    plan,
)
from bot.moderation.rights import Member
from bot.photo.alerts import Send
from bot.photo.cache import file_key
from bot.photo.outcomes import Limited, Outcome, Recognized, Refused
from bot.photo.pipeline import IncomingImage, PhotoPipeline, Requester
from bot.photo.rules import NotAnImage
from bot.stats import Stats
from bot.storage.guard import StorageUnavailable
from bot.storage.images import ImageStore
from bot.storage.settings import SettingsStore
from bot.storage.warnings import WarningStore
from bot.tg.chats import Chats
from bot.tg.enforcer import Enforcer
from bot.tg.posts import Flagged, Item, author_of, report_language, report_of
from bot.tg.reports import Reporter

logger = logging.getLogger(__name__)

# An admin list Telegram will not give, or storage that does not answer, usually lasts
# minutes; one notice an hour per group tells the admins without flooding them (a busy
# group posts hundreds of photos an hour).
UNSURE_NOTICE_SECONDS = 3600
UNSURE_MEMORY_SIZE = 10_000


def warning_time(message: Message) -> float:
    """When a warning for this post counts from: the post's (or its edit's) time, to
    Telegram's second, with its message id in the fraction, so two posts of one second are two
    warnings and the same post judged again (its update run again after a crash) is the
    same warning, counted once."""
    posted = message.edit_date or message.date  # a swapped photo counts from its swap
    return posted.timestamp() + (message.message_id % 100_000) / 1_000_000


class ModeratorStore(SettingsStore, ImageStore, WarningStore, Protocol):
    """The storage this part uses."""


class Moderator:
    """Judges a chat's posted images, plans, and hands each plan to the enforcer."""

    def __init__(
        self,
        *,
        chats: Chats,
        pipeline: PhotoPipeline,
        enforcer: Enforcer,
        reporter: Reporter,
        stats: Stats,
        operator: Send | None = None,
    ) -> None:
        self.chats = chats
        self._pipeline = pipeline
        self._enforcer = enforcer
        self._reporter = reporter
        self._stats = stats
        self._operator = operator
        # Which (chat, hour) was told of, for when storage itself is what failed.
        self._told: dict[tuple[int, int], None] = {}

    async def poster(self, message: Message) -> Poster:
        """Who posted: never acted on are the chat's admins and owner, anonymous admins
        (posting as the group), bots, and the linked channel's automatic forwards; a
        member posting as another channel is moderated like anyone. UNKNOWN when the
        admin list cannot be read: the poster may be an admin."""
        if message.is_automatic_forward:
            return Poster(PosterKind.EXEMPT)
        if message.sender_chat is not None:
            if message.sender_chat.id == message.chat_id:
                return Poster(PosterKind.EXEMPT)
            return Poster(PosterKind.CHANNEL, message.sender_chat.id)
        user = message.from_user
        if user is None or user.is_bot:
            return Poster(PosterKind.EXEMPT)
        admins = await self.chats.admins.admins(message.chat_id)
        if admins is None:
            return Poster(PosterKind.UNKNOWN, user.id)
        if user.id in admins:
            return Poster(PosterKind.EXEMPT)
        return Poster(PosterKind.MEMBER, user.id)

    async def moderate(
        self, items: Sequence[Item], settings: ChatSettings, tr: Translations
    ) -> None:
        """Judge every image (an album is one batch); images that pass get no message."""
        first = items[0][0]
        chat_id = first.chat_id
        rights = await self.chats.rights.get(chat_id)
        bot = rights.member() if rights is not None else None
        posts = []
        for item in items:
            poster = await self.poster(item[0])
            # Who posted decides before the verdict does: an unsure poster costs no API call.
            match plan(Unchecked(), poster, settings, bot, History()):
                case Unsure():
                    await self.unsure(chat_id, first.chat.title)
                    return
                case Nothing(Reason.EXEMPT):
                    continue
                case _:
                    posts.append((item, poster))
        if not posts:
            return
        report_tr = self.chats.catalogs.get(report_language(settings))
        # A group's photos are the group's, not one person's: they count against the
        # group's own daily limit (so one group cannot starve the bot) and the overall one.
        requester = Requester(user_id=None, group_id=chat_id)
        outcomes = await asyncio.gather(
            *(self._pipeline.run(image, requester, origin) for (_, image, origin), _ in posts)
        )
        flagged: list[tuple[Flagged, Poster]] = []
        for ((message, incoming, _), poster), outcome in zip(posts, outcomes, strict=True):
            if not isinstance(outcome, Recognized):
                unjudged = await self._unchecked(message, outcome)
                decided = plan(unjudged, poster, settings, bot, History())
                if decided != Nothing(Reason.NOT_AN_IMAGE):
                    await self._count_unchecked(message, outcome)
                match decided:
                    case ReportOnly(dry):
                        await self._report_unchecked(
                            message, incoming, outcome, settings, dry, report_tr
                        )
                    case _:
                        pass
                continue
            keys = (file_key(incoming.file_unique_id), *outcome.content_keys)
            breaches = judge(settings, outcome.result)
            judged: Verdict = Passed()
            if breaches:
                allowed = await self.chats.storage.is_allowed(message.chat_id, keys)
                judged = Allowed() if allowed else Breaks()
            # What to do about a breach depends on the author's whole batch (one warning
            # for an album): here only whether anything is to be done at all.
            if isinstance(plan(judged, poster, settings, bot, History()), Nothing):
                continue
            found = summarize_line(outcome.result, report_tr)
            flagged.append(
                (Flagged(message, incoming, breaches, keys, found, near=outcome.near), poster)
            )
        for poster, group in groupby(flagged, key=lambda pair: pair[1]):
            batch = [item for item, _ in group]
            decided, warned_at = await self._decide(
                chat_id, poster, settings, bot, warning_time(batch[0].message)
            )
            match decided:
                case Enforce():
                    await self._enforcer.carry_out(
                        decided, warned_at, batch, settings, tr, report_tr
                    )
                case _:
                    logger.info("moderation in chat %s: %s", chat_id, decided)

    async def _decide(
        self, chat_id: int, poster: Poster, settings: ChatSettings, bot: Member | None, at: float
    ) -> tuple[Plan, float | None]:
        """The plan for an author's breaking posts, with the author's history; and when
        the plan counts a warning, the time it was counted at.

        The warning is counted in storage before anything happens in the group (storage
        down: nothing happens), and the plan is made with the count storage returns, which
        includes a warning another photo of the same author counted a moment ago; a count
        read first and written after could let both photos miss the limit, or both reach it.
        """
        first = plan(Breaks(), poster, settings, bot, History())
        if not isinstance(first, Enforce) or first.warnings is None or poster.id is None:
            return first, None
        since = time.time() - WARNING_WINDOW_SECONDS
        if first.dry:
            count = await self.chats.storage.warning_count(chat_id, poster.id, since) + 1
            return plan(Breaks(), poster, settings, bot, History(count - 1)), None
        count = await self.chats.storage.add_warning(chat_id, poster.id, at, since)
        return plan(Breaks(), poster, settings, bot, History(count - 1)), at

    async def unsure(self, chat_id: int, title: str | None = None) -> None:
        """Nothing was done because who posted could not be confirmed: count it, and tell
        the admins once per group per hour (not per photo)."""
        self._stats.count("unsure")
        hour = int(time.time() // UNSURE_NOTICE_SECONDS)
        logger.warning("moderation in chat %s left a photo alone: poster unconfirmed", chat_id)
        # The hour counts as told only once the notice reached someone: without a report
        # chat it goes to the admin list, which may be the very thing that failed.
        told = f"unsure:{chat_id}:{hour}"
        expires_at = (hour + 1) * UNSURE_NOTICE_SECONDS
        if (chat_id, hour) in self._told:  # told, or being told, by this process
            return
        # Storage keeps the hour for the other replicas; while it is down, this
        # process's own memory does.
        with contextlib.suppress(StorageUnavailable):
            if await self.chats.storage.load_pending(told, time.time()) is not None:
                return
        self._told[(chat_id, hour)] = None
        while len(self._told) > UNSURE_MEMORY_SIZE:
            del self._told[next(iter(self._told))]
        try:
            settings = await self.chats.storage.chat_settings(chat_id)
        except StorageUnavailable:
            settings = ChatSettings()
        text = group_admins.unsure_notice(
            title or str(chat_id), self.chats.catalogs.get(report_language(settings))
        )
        if not await self._reporter.tell_admins(chat_id, text):
            self._told.pop((chat_id, hour), None)  # nobody heard: the next photo tries again
            return
        with contextlib.suppress(StorageUnavailable):
            await self.chats.storage.save_pending(told, "told", expires_at)

    async def _unchecked(self, message: Message, outcome: Outcome) -> Unchecked | OverGroupLimit:
        """The verdict on a photo not judged: over the group's limit is its own case, told
        once a day to the admins and, the first time, to the operator."""
        if not (isinstance(outcome, Limited) and outcome.exceeded.scope == "group"):
            is_not_image = isinstance(outcome, Refused) and isinstance(outcome.reason, NotAnImage)
            return Unchecked(not_an_image=is_not_image)
        exceeded = outcome.exceeded
        day = exceeded.resets_at.date().isoformat()
        until = exceeded.resets_at.timestamp()
        chat_id = message.chat_id
        first = await self.chats.storage.first_time(f"group-limit:{chat_id}:{day}", until)
        if first:
            logger.warning("chat %s used its %s checks for today", chat_id, exceeded.limit)
            if self._operator is not None:
                title = message.chat.title or str(chat_id)
                text = operators.group_limit_operator(
                    title, chat_id, exceeded.limit, self.chats.catalogs.get(DEFAULT_LANGUAGE)
                )
                await self._operator(text)
        return OverGroupLimit(first)

    async def _count_unchecked(self, message: Message, outcome: Outcome) -> None:
        chat_id = message.chat_id
        await self.chats.storage.update_chat_settings(
            chat_id, lambda current: replace(current, unchecked=current.unchecked + 1)
        )
        self._stats.count("unchecked")
        logger.info("moderation could not check a photo in chat %s: %s", chat_id, outcome)

    async def _report_unchecked(
        self,
        message: Message,
        incoming: IncomingImage,
        outcome: Outcome,
        settings: ChatSettings,
        dry: bool,
        report_tr: Translations,
    ) -> None:
        """A photo the bot cannot judge, reported with the reason."""
        chat_id = message.chat_id
        author = author_of(message)
        caption = admin_reports.report_caption(
            chat=message.chat.title or str(chat_id),
            author=author.name,
            problem=self._problem(outcome, report_tr),
            found=None,
            deeds=(),
            dry=dry,
            warnings=None,
            shortfalls=(),
            tr=report_tr,
        )
        keys = (file_key(incoming.file_unique_id),)
        report = report_of(message, incoming, author, keys, caption, report_language(settings))
        await self._reporter.file(report, report_tr)

    @staticmethod
    def _problem(outcome: Outcome, tr: Translations) -> str:
        problem = admin_reports.unchecked_problem(outcome, tr, utc_now())
        if isinstance(outcome, Limited) and outcome.exceeded.scope == "group":
            return problem + "\n" + admin_reports.limit_reported_once(tr)
        return problem
