"""Presses on a report's buttons: only for someone holding the button's right in the
group (read fresh from Telegram, not from any list) while the bot holds it too; once each
however often a press arrives (across replicas too); never after the report's 7 days. A
report made before its group became a supergroup acts on the supergroup."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from telegram import CallbackQuery, Update
from telegram.ext import ContextTypes

from bot.i18n import Translations, pick_language
from bot.messages import admin_reports, group_admins, group_members, people
from bot.moderation import Deed
from bot.moderation.callbacks import ReportPress, Verb, parse
from bot.moderation.report import Report
from bot.moderation.rights import Denied, Granted, Unknown, permit, press_rights
from bot.storage.guard import StorageUnavailable
from bot.storage.images import ImageStore
from bot.storage.reports import ReportStore
from bot.storage.warnings import WarningStore
from bot.tg.chats import Chats
from bot.tg.reports import buttons, fit_caption
from bot.tg.sanctions import Sanctions

logger = logging.getLogger(__name__)


class PressStore(ImageStore, ReportStore, WarningStore, Protocol):
    """The storage this part uses."""


@dataclass(frozen=True, eq=False, kw_only=True)
class ReportPresses:
    """The callback-query handler for report buttons (`r:<report id>:<verb>`)."""

    chats: Chats
    sanctions: Sanctions

    async def on_press(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Check, claim, carry out, answer, and edit the report to say who did what."""
        query = update.callback_query
        if query is None or query.data is None:
            return
        tr = self.chats.catalogs.get(pick_language(None, query.from_user.language_code))
        try:
            await self._press(query, query.data, tr)
        except StorageUnavailable:
            await self.chats.outbox.answer_press(query, people.storage_unavailable(tr), alert=True)

    async def on_other_press(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a press whose data the bot never made, and do nothing else."""
        if update.callback_query is not None:
            await self.chats.outbox.answer_press(update.callback_query, "")

    async def _press(self, query: CallbackQuery, data: str, tr: Translations) -> None:
        press = parse(data)
        if not isinstance(press, ReportPress):
            await self.chats.outbox.answer_press(query, "")
            return
        report_id, verb = press.report_id, press.verb
        now = time.time()
        raw = await self.chats.storage.load_report(report_id, now)
        report = Report.from_json(raw) if raw else None
        if report is None or report.expired(now):
            await self.chats.outbox.answer_press(query, admin_reports.press_expired(tr), alert=True)
            return
        if verb not in report.verbs():
            await self.chats.outbox.answer_press(query, "")
            return
        # The group may have become a supergroup since: its old id no longer works, and
        # the supergroup numbers its messages afresh, so the old warning's id there would
        # name someone else's message.
        chat_id = await self.chats.storage.migrated_to(report.chat_id) or report.chat_id
        if chat_id != report.chat_id:
            report = replace(report, chat_id=chat_id, warning_message_id=None)
        person = await self.chats.admins.member(chat_id, query.from_user.id)
        rights = await self.chats.rights.get(chat_id)
        if rights is None:
            await self.chats.outbox.answer_press(query, group_admins.rights_unknown(tr), alert=True)
            return
        bot = rights.member()
        match permit(person, bot, press_rights(verb, report.deeds)):
            case Denied(right, bot=False):
                text = group_admins.person_lacks_right(right, tr)
                await self.chats.outbox.answer_press(query, text, alert=True)
                return
            case Denied(right, bot=True):
                await self.chats.outbox.answer_press(
                    query, group_admins.bot_lacks_right(right, tr), alert=True
                )
                return
            case Unknown():
                await self.chats.outbox.answer_press(
                    query, group_admins.rights_unknown(tr), alert=True
                )
                return
            case Granted():
                pass
        admin = query.from_user.full_name
        earlier = await self.chats.storage.claim_press(report_id, verb, _record(admin, now))
        if earlier is not None:
            who = json.loads(earlier)["admin"]
            await self.chats.outbox.answer_press(
                query, admin_reports.press_already(who, tr), alert=True
            )
            return
        try:
            done = await self._carry_out(verb, report, admin)
        except StorageUnavailable:
            # Storage went down between the claim and the deed: give the claim back if
            # it can be, so the admin's next press is not told it was already done.
            with contextlib.suppress(StorageUnavailable):
                await self.chats.storage.release_press(report_id, verb)
            raise
        if not done:
            await self.chats.storage.release_press(report_id, verb)
            await self.chats.outbox.answer_press(query, admin_reports.press_failed(tr), alert=True)
            return
        logger.info(
            "report %s: %s by admin %s in chat %s",
            report_id,
            verb,
            query.from_user.id,
            chat_id,
        )
        await self.chats.outbox.answer_press(query, admin_reports.press_answer(verb, tr))
        await self._show_presses(report, query)

    async def _carry_out(self, verb: Verb, report: Report, admin: str) -> bool:
        chat_id, author_id = report.chat_id, report.author_id
        match verb:
            case Verb.ALLOW:
                await self.chats.storage.allow_image(chat_id, report.image_keys)
                return True
            case Verb.BAN if author_id is not None:
                return await self.sanctions.ban(chat_id, author_id, is_chat=report.author_is_chat)
            case Verb.UNDO if author_id is not None:
                return await self._undo(report, author_id, admin)
            case _:
                return False

    async def _undo(self, report: Report, author_id: int, admin: str) -> bool:
        """Withdraw the warning (a deletion counted as one too), then take back each deed."""
        tr = self.chats.catalogs.get(report.language)
        if report.warned_at is not None:
            await self.chats.storage.remove_warning(report.chat_id, author_id, report.warned_at)
        if report.warning_message_id is not None:
            await self.chats.outbox.delete(report.chat_id, report.warning_message_id)
        done = True
        for deed in report.deeds:
            match deed:
                case Deed.DELETED:
                    caption = group_members.restored_caption(admin, report.author_name, tr)
                    restored = await self.chats.outbox.send_image(
                        report.chat_id,
                        report.file_id,
                        document=report.document,
                        caption=caption,
                        thread_id=report.thread_id,
                    )
                    done = done and restored is not None
                case Deed.MUTED:
                    done = await self.sanctions.unmute(report.chat_id, author_id) and done
                case Deed.BANNED:
                    lifted = await self.sanctions.unban(
                        report.chat_id, author_id, is_chat=report.author_is_chat
                    )
                    done = lifted and done
                case Deed.WARNED:
                    pass  # withdrawn above
        return done

    async def _show_presses(self, report: Report, query: CallbackQuery) -> None:
        """Edit every copy of the report: its text, one line per press, and what is left."""
        tr = self.chats.catalogs.get(report.language)
        presses = {
            verb: json.loads(record)
            for verb, record in (await self.chats.storage.presses(report.report_id)).items()
        }
        lines = [
            admin_reports.press_resolution(
                verb, press["admin"], datetime.fromtimestamp(press["at"], UTC), tr
            )
            for verb, press in sorted(presses.items(), key=lambda item: item[1]["at"])
        ]
        caption = fit_caption("\n".join([report.caption, *lines]))
        markup = buttons(report, tr, set(presses))
        copies = report.sent or (
            ((query.message.chat.id, query.message.message_id),) if query.message else ()
        )
        for chat_id, message_id in copies:
            await self.chats.outbox.edit_caption(chat_id, message_id, caption, markup)


def _record(admin: str, at: float) -> str:
    return json.dumps({"admin": admin, "at": at})
