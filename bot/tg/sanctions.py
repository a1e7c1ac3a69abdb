"""What the bot can do to a member: mute for a while, ban, and lift either.

A post made as a channel (`sender_chat`) cannot be muted, only its channel banned
from posting; the same calls cover both kinds of author. Each call goes through the
outbox's delivery policy and says whether it took effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram import Bot, ChatPermissions

from bot.clock import utc_now
from bot.tg.outbox import deliver


def _until(seconds: int) -> datetime | None:
    # None (and Telegram's own rule for under 30 s) means forever.
    return utc_now() + timedelta(seconds=seconds) if seconds else None


@dataclass(frozen=True, eq=False)
class Sanctions:
    """Restrict, ban and lift, through one `Bot`."""

    bot: Bot

    async def mute(self, chat_id: int, user_id: int, seconds: int) -> bool:
        """Let the member read but not post for `seconds` (0: until lifted)."""
        done = await deliver(
            "mute",
            chat_id,
            lambda: self.bot.restrict_chat_member(
                chat_id,
                user_id,
                ChatPermissions.no_permissions(),
                until_date=_until(seconds),
                use_independent_chat_permissions=True,
            ),
        )
        return bool(done)

    async def unmute(self, chat_id: int, user_id: int) -> bool:
        """Give the member the chat's usual permissions back."""
        done = await deliver(
            "unmute",
            chat_id,
            lambda: self.bot.restrict_chat_member(
                chat_id,
                user_id,
                ChatPermissions.all_permissions(),
                use_independent_chat_permissions=True,
            ),
        )
        return bool(done)

    async def ban(self, chat_id: int, author_id: int, *, is_chat: bool, seconds: int = 0) -> bool:
        """Ban a member (or a channel posting here) for `seconds` (0: for good)."""
        if is_chat:
            done = await deliver(
                "ban", chat_id, lambda: self.bot.ban_chat_sender_chat(chat_id, author_id)
            )
        else:
            done = await deliver(
                "ban",
                chat_id,
                lambda: self.bot.ban_chat_member(chat_id, author_id, until_date=_until(seconds)),
            )
        return bool(done)

    async def unban(self, chat_id: int, author_id: int, *, is_chat: bool) -> bool:
        """Lift a ban; a member is not added back, only allowed to rejoin."""
        if is_chat:
            done = await deliver(
                "unban", chat_id, lambda: self.bot.unban_chat_sender_chat(chat_id, author_id)
            )
        else:
            done = await deliver(
                "unban",
                chat_id,
                lambda: self.bot.unban_chat_member(chat_id, author_id, only_if_banned=True),
            )
        return bool(done)
