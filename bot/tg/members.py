"""Who holds power in a group: its admins, and the bot's own rights there.

Both are read from Telegram and remembered: the admin list for at most 10 minutes
(refreshed at once when a `chat_member` update or /reload says it changed), the
bot's rights until a `my_chat_member` update brings new ones (or 10 minutes pass,
so a replica that did not see that update catches up).

The admin list only decides whose photos are exempt. What a person asking for an
action may do is read fresh every time (`ChatAdmins.member`, one getChatMember per
command or press, never per photo): a right revoked a minute ago stops working on
every replica at once, whatever any list remembers.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from telegram import Bot, ChatMember, ChatMemberAdministrator, ChatMemberOwner
from telegram.error import TelegramError

from bot.moderation.rights import NOBODY, OWNER, Member, Right, Status

logger = logging.getLogger(__name__)

MEMORY_SECONDS = 600.0
MEMORY_SIZE = 10_000
V = TypeVar("V")


class _Remembered(Generic[V]):
    """A bounded map of chat id to a value that goes stale after `MEMORY_SECONDS`."""

    def __init__(self) -> None:
        self._items: OrderedDict[int, tuple[V, float]] = OrderedDict()

    def get(self, chat_id: int) -> V | None:
        found = self._items.get(chat_id)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    def put(self, chat_id: int, value: V) -> None:
        self._items[chat_id] = (value, time.monotonic() + MEMORY_SECONDS)
        self._items.move_to_end(chat_id)
        if len(self._items) > MEMORY_SIZE:
            self._items.popitem(last=False)

    def forget(self, chat_id: int) -> None:
        self._items.pop(chat_id, None)


@dataclass(frozen=True)
class Rights:
    """What the bot may do in a group."""

    can_delete: bool = False
    can_restrict: bool = False

    @classmethod
    def of(cls, member: ChatMember) -> Rights:
        """The rights a member object grants (an owner has them all)."""
        if isinstance(member, ChatMemberOwner):
            return cls(can_delete=True, can_restrict=True)
        if isinstance(member, ChatMemberAdministrator):
            return cls(
                can_delete=member.can_delete_messages, can_restrict=member.can_restrict_members
            )
        return cls()

    def member(self) -> Member:
        """The same rights as moderation's core reads them."""
        rights = {Right.DELETE} if self.can_delete else set()
        rights |= {Right.RESTRICT} if self.can_restrict else set()
        return Member(Status.ADMIN, frozenset(rights))


def member_of(member: ChatMember) -> Member:
    """A chat member as moderation's core reads it: status and the rights it uses."""
    if isinstance(member, ChatMemberOwner):
        return OWNER
    if isinstance(member, ChatMemberAdministrator):
        rights = frozenset(right for right in Right if getattr(member, right.value, False))
        return Member(Status.ADMIN, rights)
    return NOBODY


class ChatAdmins:
    """The admins of each group, from getChatAdministrators."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._admins: _Remembered[frozenset[int]] = _Remembered()

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether `user_id` is an admin or the owner (False if Telegram cannot be asked)."""
        admins = await self.admins(chat_id)
        return admins is not None and user_id in admins

    async def admins(self, chat_id: int) -> frozenset[int] | None:
        """The ids of the chat's human admins and owner, or None if Telegram cannot be
        asked."""
        known = self._admins.get(chat_id)
        if known is not None:
            return known
        try:
            members = await self._bot.get_chat_administrators(chat_id)
        except TelegramError as exc:
            logger.warning("could not list the admins of chat %s: %s", chat_id, exc.message)
            return None
        # People only: other bots (and this one) are neither asked nor told anything.
        admins = frozenset(member.user.id for member in members if not member.user.is_bot)
        self._admins.put(chat_id, admins)
        return admins

    def forget(self, chat_id: int) -> None:
        """The list changed: ask Telegram again next time."""
        self._admins.forget(chat_id)

    async def member(self, chat_id: int, user_id: int) -> Member | None:
        """What `user_id` may do in the chat, read now (never remembered); None if
        Telegram cannot be asked."""
        try:
            member = await self._bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            logger.warning("could not read a member of chat %s: %s", chat_id, exc.message)
            return None
        return member_of(member)


class BotRights:
    """The bot's own rights in each group, from getChatMember and `my_chat_member`."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._rights: _Remembered[Rights] = _Remembered()

    async def get(self, chat_id: int) -> Rights | None:
        """The bot's rights in the chat; None when Telegram cannot be asked (not "none":
        a bot that holds a right must not be told, or act as if, it lacks it)."""
        known = self._rights.get(chat_id)
        if known is not None:
            return known
        try:
            member = await self._bot.get_chat_member(chat_id, self._bot.id)
        except TelegramError as exc:
            logger.warning("could not read my rights in chat %s: %s", chat_id, exc.message)
            return None
        rights = Rights.of(member)
        self._rights.put(chat_id, rights)
        return rights

    def changed(self, chat_id: int, member: ChatMember) -> tuple[Rights | None, Rights]:
        """Take new rights from a `my_chat_member` update: (the ones known before, if any,
        and the new ones)."""
        before = self._rights.get(chat_id)
        now = Rights.of(member)
        self._rights.put(chat_id, now)
        return before, now

    def forget(self, chat_id: int) -> None:
        """Ask Telegram again next time."""
        self._rights.forget(chat_id)
