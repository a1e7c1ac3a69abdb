"""Who may use the bot: allow-lists for people and group chats, and the bot's admins."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Access:
    """Empty allow-lists let everyone in; bot admins are always in.

    A bot restricted to some people (`allowed_users`) is restricted in groups too: a
    group is served only when `allowed_chats` lists it or `all_groups` says every group
    is welcome. Otherwise a stranger could use /check in any group, or turn moderation on
    in their own, and spend the bot's daily limit (20 calls in a trial, after which an
    allowed person was told the bot's limit was used up).
    """

    allowed_users: frozenset[int] = frozenset()
    allowed_chats: frozenset[int] = frozenset()
    bot_admins: frozenset[int] = frozenset()
    all_groups: bool = False

    def is_bot_admin(self, user_id: int | None) -> bool:
        """Whether `user_id` is one of the bot's own admins."""
        return user_id is not None and user_id in self.bot_admins

    def allows(self, *, user_id: int | None, chat_id: int, private: bool) -> bool:
        """Private chats are checked by person, groups by chat."""
        if self.is_bot_admin(user_id):
            return True
        if private:
            return not self.allowed_users or user_id in self.allowed_users
        if self.all_groups:
            return True
        if self.allowed_chats:
            return chat_id in self.allowed_chats
        return not self.allowed_users
