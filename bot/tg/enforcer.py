"""Acting on a verdict: warn, delete, mute or ban at the warning limit, and report each
image to the admins; in a dry run, only the report of what would have happened."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from bot import messages
from bot.i18n import Translations
from bot.moderation import (
    WARNING_WINDOW_SECONDS,
    Action,
    ChatSettings,
    Deed,
    Mode,
    Penalty,
    Shortfall,
    penalty_deed,
)
from bot.storage import Storage
from bot.tg.members import BotRights
from bot.tg.outbox import Deletion, Outbox
from bot.tg.posts import Author, Flagged, author_of, report_language, report_of
from bot.tg.reports import Reporter
from bot.tg.sanctions import Sanctions

logger = logging.getLogger(__name__)


class Enforcer:
    """Carries out the chat's action on one author's flagged images."""

    def __init__(
        self,
        *,
        storage: Storage,
        outbox: Outbox,
        sanctions: Sanctions,
        reporter: Reporter,
        rights: BotRights,
    ) -> None:
        self._storage = storage
        self._outbox = outbox
        self._sanctions = sanctions
        self._reporter = reporter
        self._rights = rights

    async def act(
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
            report = report_of(
                item.message, item.incoming, author, item.keys, caption, report_language(settings)
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
