"""Reports to the admins: one per action or dry-run verdict, with the image itself and
buttons (Undo, Allow this image, Ban). The record behind the buttons
(`bot.moderation.report`) is kept in storage, so a press works on any replica and after
a restart."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translations
from bot.messages.admin_reports import Buttons
from bot.moderation.callbacks import ReportPress, Verb, encode
from bot.moderation.report import REPORT_SECONDS, Report
from bot.tg.chats import Chats

logger = logging.getLogger(__name__)

CAPTION_LIMIT = 1024  # Telegram's limit for a photo's caption
_LABELS = {Verb.UNDO: Buttons.undo, Verb.ALLOW: Buttons.allow, Verb.BAN: Buttons.ban}


def buttons(report: Report, tr: Translations, pressed: set[str]) -> InlineKeyboardMarkup | None:
    """One row of the buttons still to press (`encode` keeps each within 64 bytes)."""
    row = [
        InlineKeyboardButton(
            _LABELS[verb](tr), callback_data=encode(ReportPress(report.report_id, verb))
        )
        for verb in report.verbs()
        if verb not in pressed
    ]
    return InlineKeyboardMarkup([row]) if row else None


def fit_caption(text: str) -> str:
    """Cut a caption to Telegram's limit, on a line if it can."""
    if len(text) <= CAPTION_LIMIT:
        return text
    cut = text[: CAPTION_LIMIT - 1]
    return (cut.rsplit("\n", 1)[0] if "\n" in cut else cut) + "…"


@dataclass(frozen=True, eq=False, kw_only=True)
class Reporter:
    """Files reports: to `REPORT_CHAT_ID`, else to each admin of the group privately."""

    chats: Chats
    report_chat_id: int | None

    async def destinations(self, chat_id: int) -> list[int]:
        """Where the group's reports go."""
        if self.report_chat_id is not None:
            return [self.report_chat_id]
        return sorted(await self.chats.admins.admins(chat_id) or ())

    async def file(self, report: Report, tr: Translations) -> None:
        """Keep the record first (a press may come at once), then send it everywhere.

        Admins who never opened a chat with the bot cannot be messaged: the outbox
        logs that and the other destinations still get theirs.
        """
        expires_at = report.created_at + REPORT_SECONDS
        await self.chats.storage.save_report(report.report_id, report.to_json(), expires_at)
        sent = []
        for destination in await self.destinations(report.chat_id):
            message = await self.chats.outbox.send_image(
                destination,
                report.file_id,
                document=report.document,
                caption=fit_caption(report.caption),
                buttons=buttons(report, tr, set()),
            )
            if message is not None:
                sent.append((message.chat_id, message.message_id))
        if not sent:
            logger.warning("a report on chat %s reached no admin", report.chat_id)
            return
        stored = replace(report, sent=tuple(sent))
        await self.chats.storage.save_report(report.report_id, stored.to_json(), expires_at)

    async def tell_admins(self, chat_id: int, text: str) -> bool:
        """A plain message to wherever the group's reports go; whether anyone got it."""
        delivered = False
        for destination in await self.destinations(chat_id):
            delivered = await self.chats.outbox.send(destination, text) is not None or delivered
        return delivered
