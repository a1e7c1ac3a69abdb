"""Who is served, in which language, and who counts as a chat's admin."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, Update
from telegram.constants import ChatType

from bot.access import Access
from bot.i18n import Translations, pick_language
from bot.messages import people
from bot.moderation import ChatSettings
from bot.photo.pipeline import Requester
from bot.tg.chats import Chats


@dataclass(frozen=True)
class Served:
    """A message the bot will serve, with its chat's settings and the language to answer in."""

    message: Message
    settings: ChatSettings
    tr: Translations


@dataclass(frozen=True, eq=False, kw_only=True)
class Admission:
    """Decides, per message, whether and how the bot answers."""

    chats: Chats
    access: Access

    async def admit(self, update: Update) -> Served | None:
        """The update's message with its settings and language, if it is to be served;
        a stranger in a private chat is told why not."""
        message = update.effective_message
        if message is None:
            return None
        settings, tr = await self.context(message)
        if self._allowed(message):
            return Served(message, settings, tr)
        if message.chat.type == ChatType.PRIVATE:
            await self.chats.outbox.reply(message, people.not_allowed(tr))
        return None

    async def context(self, message: Message) -> tuple[ChatSettings, Translations]:
        """The chat's settings and the language to answer this message in."""
        settings = await self.chats.storage.chat_settings(message.chat_id)
        return settings, self._language(settings.language, message)

    async def tr(self, message: Message) -> Translations:
        """The language to answer this message in."""
        return (await self.context(message))[1]

    def tr_for(self, update: Update) -> Translations:
        """A language from the person alone, for when the chat's settings cannot be read."""
        user = update.effective_user
        return self.chats.catalogs.get(pick_language(None, user.language_code if user else None))

    def _language(self, chat_choice: str | None, message: Message) -> Translations:
        user = message.from_user
        return self.chats.catalogs.get(
            pick_language(chat_choice, user.language_code if user else None)
        )

    def _allowed(self, message: Message) -> bool:
        return self.access.allows(
            user_id=message.from_user.id if message.from_user else None,
            chat_id=message.chat_id,
            private=message.chat.type == ChatType.PRIVATE,
        )

    def is_bot_admin(self, message: Message) -> bool:
        """Whether the sender is one of the bot's own admins."""
        return self.access.is_bot_admin(message.from_user.id if message.from_user else None)

    def is_operator(self, user_id: int) -> bool:
        """Whether person `user_id` is one of the bot's own admins (ADMIN_USER_IDS)."""
        return self.access.is_bot_admin(user_id)

    def requester(self, message: Message) -> Requester:
        """Who pays for the images this message asks about."""
        user_id = message.from_user.id if message.from_user else None
        return Requester(user_id, exempt=self.access.is_bot_admin(user_id))
