"""Changes to a group rather than posts in it: members' and the bot's own status, and a
group becoming a supergroup."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import ContextTypes

from bot.i18n import DEFAULT_LANGUAGE
from bot.messages import group_admins
from bot.tg.chats import Chats
from bot.tg.reports import Reporter

logger = logging.getLogger(__name__)

_GONE = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)


@dataclass(frozen=True, eq=False, kw_only=True)
class ChatEvents:
    """Handlers for `chat_member`, `my_chat_member` and migration service messages."""

    chats: Chats
    reporter: Reporter

    async def on_chat_member(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Someone's status changed: read the admin list afresh next time."""
        if update.chat_member is not None:
            self.chats.admins.forget(update.chat_member.chat.id)

    async def on_my_chat_member(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """The bot's own rights changed: keep them, and tell the admins of a moderated
        group what the bot can and cannot do now."""
        change = update.my_chat_member
        if change is None or change.chat.type == ChatType.PRIVATE:
            return
        chat = change.chat
        before, now = self.chats.rights.changed(chat.id, change.new_chat_member)
        self.chats.admins.forget(chat.id)
        if change.new_chat_member.status in _GONE or before == now:
            return
        settings = await self.chats.storage.chat_settings(chat.id)
        if not settings.moderating:
            return
        tr = self.chats.catalogs.get(settings.language or DEFAULT_LANGUAGE)
        rights = group_admins.rights_text(now.can_delete, now.can_restrict, tr)
        text = group_admins.rights_changed(chat.title or str(chat.id), rights, tr)
        await self.reporter.tell_admins(chat.id, text)

    async def on_migrate(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """A group became a supergroup: its settings, allow list and warnings move to the
        new id, and the move is remembered for older reports' buttons (both service
        messages may arrive; moving twice changes nothing)."""
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id:
            old, new = message.chat_id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat_id
        else:
            return
        await self.chats.storage.migrate_chat(old, new)
        # Reports made before keep the old id: their buttons follow it to the new one.
        await self.chats.storage.note_migration(old, new)
        self.chats.admins.forget(old)
        self.chats.rights.forget(old)
        logger.info("chat %s became supergroup %s; its state moved", old, new)
