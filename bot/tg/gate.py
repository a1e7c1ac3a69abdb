"""Whether a command may run: the sender's own right for it, read fresh from Telegram.

An anonymous admin's command (sent as the group) cannot be attributed to anyone, so it
is held in storage and answered with a Confirm button; it runs once an admin holding the
command's right presses it (on any replica: the command lives in storage).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType

from bot.messages import admin_reports, group_admins, people
from bot.moderation.callbacks import ConfirmPress, encode
from bot.moderation.rights import (
    COMMAND_RIGHTS,
    Denied,
    Granted,
    Permission,
    Right,
    Unknown,
    permit,
)
from bot.storage.guard import StorageUnavailable
from bot.tg.admission import Admission, Served
from bot.tg.chats import Chats

logger = logging.getLogger(__name__)

# A held command is a present intention, not a standing order: an hour to confirm it.
CONFIRM_SECONDS = 3600


@dataclass(frozen=True)
class Anonymous:
    """Sent as the group by an anonymous admin: a real admin must confirm it."""


CommandPermission = Granted | Anonymous | Denied | Unknown


@dataclass(frozen=True, eq=False, kw_only=True)
class CommandGate:
    """Checks a command's sender, and holds and releases anonymous admins' commands."""

    chats: Chats
    bot: Bot
    admission: Admission

    async def command(self, message: Message, name: str) -> CommandPermission:
        """Whether the sender of `message` may run /`name` in its chat."""
        right = COMMAND_RIGHTS[name]
        # A private chat is the person's own; the bot's operators may do anything.
        if message.chat.type == ChatType.PRIVATE or self.admission.is_bot_admin(message):
            return Granted()
        if message.sender_chat is not None:
            if message.sender_chat.id == message.chat_id:
                return Anonymous()
            return Denied(right, bot=False)  # a channel is never an admin
        if message.from_user is None:
            return Denied(right, bot=False)
        return await self.may(message.chat_id, message.from_user.id, right)

    async def may(self, chat_id: int, user_id: int, right: Right) -> Permission:
        """Whether person `user_id` may use `right` in chat `chat_id` (a command, a press):
        in their own private chat and as one of the bot's operators always, as commands
        are; elsewhere by their admin rights, read fresh from Telegram."""
        if chat_id == user_id or self.admission.is_operator(user_id):
            return Granted()
        return permit(await self.chats.admins.member(chat_id, user_id), None, (right,))

    async def ask_to_confirm(self, update: Update, served: Served, name: str) -> None:
        """Hold the command and answer with a button an admin with its right presses."""
        pending_id = secrets.token_hex(6)
        record = {"command": name, "chat_id": served.message.chat_id, "update": update.to_dict()}
        expires_at = time.time() + CONFIRM_SECONDS
        await self.chats.storage.save_pending(_key(pending_id), json.dumps(record), expires_at)
        button = InlineKeyboardButton(
            admin_reports.Buttons.confirm(served.tr), callback_data=encode(ConfirmPress(pending_id))
        )
        text = group_admins.confirm_anonymous(name, COMMAND_RIGHTS[name], served.tr)
        await self.chats.outbox.reply(served.message, text, InlineKeyboardMarkup([[button]]))

    async def confirmed(self, update: Update) -> tuple[str, Update] | None:
        """For a press on Confirm: the held command and its update, if the presser holds
        its right and nobody confirmed it before; otherwise the presser is told why not."""
        pressed = await self.chats.press(update, ConfirmPress)
        if pressed is None:
            return None
        query, press, tr = pressed
        try:
            raw = await self.chats.storage.load_pending(_key(press.pending_id), time.time())
            if raw is None:
                await self.chats.outbox.answer_press(
                    query, group_admins.confirm_expired(tr), alert=True
                )
                return None
            record = json.loads(raw)
            name = str(record["command"])
            held_in = int(record["chat_id"])
            # The group may have become a supergroup while the command waited: it runs
            # there, with rights read there (the old id no longer works).
            chat_id = await self.chats.storage.migrated_to(held_in) or held_in
            match await self.may(chat_id, query.from_user.id, COMMAND_RIGHTS[name]):
                case Denied(right):
                    text = group_admins.person_lacks_right(right, tr)
                    await self.chats.outbox.answer_press(query, text, alert=True)
                    return None
                case Unknown():
                    await self.chats.outbox.answer_press(
                        query, group_admins.rights_unknown(tr), alert=True
                    )
                    return None
                case Granted():
                    pass
            # Once, however often the press arrives and on whichever replica.
            expires_at = time.time() + CONFIRM_SECONDS
            if not await self.chats.storage.first_time(_key(press.pending_id), expires_at):
                await self.chats.outbox.answer_press(
                    query, group_admins.confirm_expired(tr), alert=True
                )
                return None
        except StorageUnavailable:
            await self.chats.outbox.answer_press(query, people.storage_unavailable(tr), alert=True)
            return None
        await self.chats.outbox.answer_press(query, "")
        if query.message is not None:
            text = group_admins.confirmed_by(query.from_user.full_name, tr)
            await self.chats.outbox.edit_text(
                query.message.chat.id, query.message.message_id, text, None
            )
        logger.info("/%s in chat %s confirmed by admin %s", name, chat_id, query.from_user.id)
        held = record["update"]
        if chat_id != held_in:
            held["message"]["chat"] |= {"id": chat_id, "type": "supergroup"}
        return name, Update.de_json(held, self.bot)


def _key(pending_id: str) -> str:
    return f"confirm:{pending_id}"
