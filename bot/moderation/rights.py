"""Who may do what: the Telegram admin right each command and button needs, for the
person asking and for the bot. Telegram-free: the tg layer turns a chat member into a
`Member`, and asks `may` here.

"Is an admin" is not a right: an admin whose only right is pinning messages must not
ban through the bot (issue 19 found exactly that). The owner may do everything.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from bot.moderation.callbacks import Verb
from bot.moderation.settings import Deed


class Right(enum.StrEnum):
    """Telegram's admin rights that moderation uses, named as the Bot API names them."""

    DELETE = "can_delete_messages"
    RESTRICT = "can_restrict_members"  # ban, mute, unban
    CHANGE_INFO = "can_change_info"


# The right that guards the group's rules: settings, Allow, /allow, /warns, /resetwarns,
# /reload, /settings. "Change group info" is the right Telegram itself asks for to edit a
# group's description and rules, and the one Rose and GroupHelp ask for their settings;
# restricting people is a separate power (a restrict-only moderator bans, but does not
# rewrite what the bot acts on).
SETTINGS_RIGHT = Right.CHANGE_INFO

# Rights the bot itself must hold to carry an action out. The settings right is not
# among them: the bot changes its own storage, not the group.
BOT_RIGHTS = frozenset({Right.DELETE, Right.RESTRICT})


class Status(enum.StrEnum):
    """A person's standing in a chat."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"  # anyone else, including people who left or were banned


@dataclass(frozen=True)
class Member:
    """What Telegram says of someone in a chat, read fresh when it matters."""

    status: Status
    rights: frozenset[Right] = frozenset()

    def may(self, right: Right) -> bool:
        """Whether this member holds `right` (the owner holds them all)."""
        return self.status is Status.OWNER or (self.status is Status.ADMIN and right in self.rights)

    def lacks(self, needed: Iterable[Right]) -> Right | None:
        """The first of `needed` this member does not hold, or None."""
        return next((right for right in needed if not self.may(right)), None)


OWNER = Member(Status.OWNER)
NOBODY = Member(Status.MEMBER)

# Every admin command and the right it needs (the README's table is checked against it).
COMMAND_RIGHTS: dict[str, Right] = {
    name: SETTINGS_RIGHT
    for name in (
        "moderate",
        "forbid",
        "require",
        "allow",
        "action",
        "warnlimit",
        "onerror",
        "lang",
        "checkfiles",
        "warns",
        "resetwarns",
        "reload",
        "settings",
    )
}

# What taking back each deed needs: restoring a deleted photo is a deletion's undo, lifting
# a mute or ban is a restriction; withdrawing a warning changes the group's records.
_UNDO_RIGHTS: dict[Deed, Right] = {
    Deed.DELETED: Right.DELETE,
    Deed.MUTED: Right.RESTRICT,
    Deed.BANNED: Right.RESTRICT,
    Deed.WARNED: SETTINGS_RIGHT,
}


def press_rights(verb: Verb, deeds: Iterable[Deed]) -> tuple[Right, ...]:
    """The rights a report button needs from the person pressing it, in a fixed order."""
    match verb:
        case Verb.BAN:
            needed = {Right.RESTRICT}
        case Verb.ALLOW:
            needed = {SETTINGS_RIGHT}
        case Verb.UNDO:
            needed = {_UNDO_RIGHTS[deed] for deed in deeds}
    return tuple(right for right in Right if right in needed)


def bot_rights(needed: Iterable[Right]) -> tuple[Right, ...]:
    """Of the rights an action needs, those the bot must hold too."""
    return tuple(right for right in needed if right in BOT_RIGHTS)


# -- whether an action may go ahead --------------------------------------------------------


@dataclass(frozen=True)
class Granted:
    """The person and the bot hold every right the action needs."""


@dataclass(frozen=True)
class Denied:
    """A right is missing: the person's (`bot` False) or the bot's own."""

    right: Right
    bot: bool


@dataclass(frozen=True)
class Unknown:
    """Telegram could not say what the person may do: nothing happens."""


Permission = Granted | Denied | Unknown


def permit(person: Member | None, bot: Member | None, needed: Iterable[Right]) -> Permission:
    """Whether `person` (None: Telegram could not be asked) may have the bot do something
    needing `needed`; `bot` None means the action needs nothing of the bot."""
    needed = tuple(needed)
    if person is None:
        return Unknown()
    if (missing := person.lacks(needed)) is not None:
        return Denied(missing, bot=False)
    if bot is not None and (missing := bot.lacks(bot_rights(needed))) is not None:
        return Denied(missing, bot=True)
    return Granted()
