"""Carrying out a plan (bot/moderation/plan.py) for one author's flagged images: delete,
warn, mute or ban, and report each image to the admins; in a dry run, only the report of
what the plan would have done. Nothing here decides: what happens is the plan's; only
what Telegram refuses on the way (a deletion, a restriction) changes what is reported.

The warning a plan counts is already in storage when the plan arrives (the moderator
counts it first, so a storage outage stops everything before the group is touched).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from bot.i18n import Translations
from bot.messages import admin_reports, group_members
from bot.moderation import ChatSettings, Deed, Penalty, Shortfall
from bot.moderation.plan import Enforce, Sanction
from bot.tg.chats import Chats
from bot.tg.outbox import Deletion
from bot.tg.posts import Author, Flagged, author_of, report_language, report_of, thread_of
from bot.tg.reports import Reporter
from bot.tg.sanctions import Sanctions

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False, kw_only=True)
class Enforcer:
    """Carries out an `Enforce` plan on one author's flagged images."""

    chats: Chats
    sanctions: Sanctions
    reporter: Reporter

    async def carry_out(
        self,
        plan: Enforce,
        warned_at: float | None,
        flagged: list[Flagged],
        settings: ChatSettings,
        tr: Translations,
        report_tr: Translations,
    ) -> None:
        """Act in the group (unless a dry run) and report each image; `warned_at` is when
        the plan's warning was counted (Undo withdraws it)."""
        first = flagged[0].message
        chat_id = first.chat_id
        author = author_of(first)
        deeds: dict[int, list[Deed]] = {id(item): [] for item in flagged}
        shortfalls = list(plan.shortfalls)
        to_warn = flagged if plan.warn else []
        if plan.delete:
            removed = flagged if plan.dry else await self._delete(flagged, tr)
            for item in removed:
                deeds[id(item)].append(Deed.DELETED)
            # What could not be removed is warned instead, so the group still sees it.
            to_warn = [item for item in flagged if item not in removed]
        warning_message_id = None
        if to_warn and not plan.dry:
            text = "\n".join(group_members.breach_warning(item.breaches, tr) for item in to_warn)
            sent = await self.chats.outbox.reply(to_warn[0].message, text)
            warning_message_id = sent.message_id if sent else None
        for item in to_warn:
            deeds[id(item)].append(Deed.WARNED)
        penalty: list[Deed] = []
        if plan.sanction is not None and plan.warnings is not None:
            if plan.dry or await self._sanction(chat_id, author, plan.sanction):
                penalty = [plan.sanction.deed]
                if not plan.dry:
                    count = plan.warnings[0]
                    notice = group_members.penalty_notice(
                        author.name, _with(settings, plan.sanction), count, tr
                    )
                    await self.chats.outbox.send(chat_id, notice, thread_id=thread_of(first))
            else:
                shortfalls.append(Shortfall.CANNOT_RESTRICT)
        for number, item in enumerate(flagged):
            done = tuple(deeds[id(item)]) + (tuple(penalty) if number == 0 else ())
            caption = admin_reports.report_caption(
                chat=item.message.chat.title or str(chat_id),
                author=author.name,
                problem=admin_reports.breach_problem(item.breaches, report_tr),
                found=item.found,
                deeds=done,
                dry=plan.dry,
                warnings=plan.warnings,
                shortfalls=shortfalls,
                tr=report_tr,
                near=item.near,
            )
            report = report_of(
                item.message, item.incoming, author, item.keys, caption, report_language(settings)
            )
            if not plan.dry:
                report = replace(
                    report,
                    deeds=done,
                    warned_at=warned_at,
                    warning_message_id=warning_message_id if Deed.WARNED in done else None,
                )
            await self.reporter.file(report, report_tr)

    async def _delete(self, flagged: list[Flagged], tr: Translations) -> list[Flagged]:
        """Delete what breaks the rules and post one notice; return what is gone."""
        removed = []
        for item in flagged:
            result = await self.chats.outbox.delete(item.message.chat_id, item.message.message_id)
            if result is not Deletion.FAILED:
                removed.append(item)
        if removed:
            notice = "\n".join(
                group_members.removal_notice(author_of(item.message).name, item.breaches, tr)
                for item in removed
            )
            first = removed[0].message
            await self.chats.outbox.send(first.chat_id, notice, thread_id=thread_of(first))
        return removed

    async def _sanction(self, chat_id: int, author: Author, sanction: Sanction) -> bool:
        """Mute or ban; on success counting starts afresh."""
        assert author.id is not None
        if sanction.penalty is Penalty.BAN:
            done = await self.sanctions.ban(
                chat_id, author.id, is_chat=author.is_chat, seconds=sanction.seconds
            )
        else:
            done = await self.sanctions.mute(chat_id, author.id, sanction.seconds)
        if done:
            await self.chats.storage.reset_warnings(chat_id, author.id)
        return done


def _with(settings: ChatSettings, sanction: Sanction) -> ChatSettings:
    """The settings as the notice words them: the sanction the plan chose (a channel is
    banned even where the chat mutes)."""
    return replace(settings, penalty=sanction.penalty, penalty_seconds=sanction.seconds)
