"""/settings: one message with the chat's policy and a button per choice, edited in place
when pressed (GroupHelp and Rose style). What a press changes is decided in
bot/moderation/menu.py; this module sends, checks the presser's right (read fresh), stores
the change atomically and edits the message.

The menu's record (which group it is for) lives in storage for a week, like a report's,
so a press works on any replica; `/settings private` sends it to the admin's private chat,
or a start link when Telegram says the bot may not write there yet.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.i18n import Translations, pick_language
from bot.messages import group_admins, people
from bot.moderation import ChatSettings
from bot.moderation import menu as choices
from bot.moderation.callbacks import MenuPress, encode
from bot.moderation.rights import SETTINGS_RIGHT, Denied, Granted, Unknown
from bot.storage.guard import StorageUnavailable
from bot.storage.images import ImageStore
from bot.storage.settings import SettingsStore
from bot.tg.admission import Served
from bot.tg.chats import Chats
from bot.tg.gate import CommandGate
from bot.tg.outbox import Blocked

logger = logging.getLogger(__name__)


class MenuStore(SettingsStore, ImageStore, Protocol):
    """The storage this part uses."""


@dataclass(frozen=True, eq=False, kw_only=True)
class SettingsMenu:
    """Sends /settings menus and handles their presses."""

    chats: Chats
    bot: Bot
    gate: CommandGate

    async def send(self, served: Served) -> None:
        """/settings (in the group) or /settings private (to the admin who asked)."""
        message = served.message
        chat_id = message.chat_id
        title = message.chat.title or str(chat_id)
        menu_id = secrets.token_hex(6)
        record = json.dumps({"chat_id": chat_id, "title": title})
        await self.chats.storage.save_pending(
            _key(menu_id), record, time.time() + choices.MENU_SECONDS
        )
        text, markup = await self._render(menu_id, chat_id, title, served.settings, served.tr)
        private = (message.text or "").split()[1:] == ["private"]
        user = message.from_user
        # An anonymous admin has no private chat to send to: the menu stays in the group.
        if not private or message.chat.type == ChatType.PRIVATE or message.sender_chat or not user:
            await self.chats.outbox.reply(message, text, markup)
            return
        match await self.chats.outbox.send_private(user.id, text, markup):
            case Blocked.BLOCKED:
                link = f"https://t.me/{self.bot.username}?start=settings"
                await self.chats.outbox.reply(
                    message, group_admins.menu_start_first(link, served.tr)
                )
            case None:
                pass  # Telegram refused for another reason; the outbox logged it
            case _:
                await self.chats.outbox.reply(message, group_admins.menu_sent_privately(served.tr))

    async def on_press(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """A press in a menu: check, change, edit in place."""
        pressed = await self.chats.press(update, MenuPress)
        if pressed is None:
            return
        query, press, tr = pressed
        try:
            await self._press(query, press, tr)
        except StorageUnavailable:
            await self.chats.outbox.answer_press(query, people.storage_unavailable(tr), alert=True)

    async def _press(self, query: CallbackQuery, press: MenuPress, tr: Translations) -> None:
        raw = await self.chats.storage.load_pending(_key(press.menu_id), time.time())
        if raw is None:
            await self.chats.outbox.answer_press(query, group_admins.menu_expired(tr), alert=True)
            return
        record = json.loads(raw)
        chat_id = int(record["chat_id"])
        chat_id = await self.chats.storage.migrated_to(chat_id) or chat_id
        match await self.gate.may(chat_id, query.from_user.id, SETTINGS_RIGHT):
            case Denied(right):
                text = group_admins.person_lacks_right(right, tr)
                await self.chats.outbox.answer_press(query, text, alert=True)
                return
            case Unknown():
                await self.chats.outbox.answer_press(
                    query, group_admins.rights_unknown(tr), alert=True
                )
                return
            case Granted():
                pass
        changed = False

        def change(current: ChatSettings) -> ChatSettings | None:
            nonlocal changed
            new = choices.apply(current, press.choice)
            changed = new is not None
            return new

        saved = await self.chats.storage.update_chat_settings(chat_id, change)
        await self.chats.outbox.answer_press(query, "")
        if not changed or query.message is None:
            return
        logger.info(
            "settings of chat %s: %s by admin %s", chat_id, press.choice, query.from_user.id
        )
        menu_tr = self.chats.catalogs.get(
            pick_language(saved.language, query.from_user.language_code)
        )
        text, markup = await self._render(
            press.menu_id, chat_id, str(record["title"]), saved, menu_tr
        )
        await self.chats.outbox.edit_text(
            query.message.chat.id, query.message.message_id, text, markup
        )

    async def _render(
        self, menu_id: str, chat_id: int, title: str, settings: ChatSettings, tr: Translations
    ) -> tuple[str, InlineKeyboardMarkup]:
        allowed = await self.chats.storage.allowed_count(chat_id)
        text = group_admins.menu_text(title, settings, tr, allowed=allowed)
        keyboard = [
            [
                InlineKeyboardButton(
                    group_admins.menu_label(option.choice, option.selected, settings, tr),
                    callback_data=encode(MenuPress(menu_id, option.choice)),
                )
                for option in row
            ]
            for row in choices.rows(settings)
        ]
        return text, InlineKeyboardMarkup(keyboard)


def _key(menu_id: str) -> str:
    return f"menu:{menu_id}"
