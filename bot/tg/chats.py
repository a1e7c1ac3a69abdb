"""What every part of the Telegram layer that answers in chats shares, built once
(bot/app.py) and handed over as one: the bot's state, the one way to send, each chat's
admins, the bot's own rights there, and the catalogs."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import Catalogs
from bot.storage import State
from bot.tg.members import BotRights, ChatAdmins
from bot.tg.outbox import Outbox


@dataclass(frozen=True)
class Chats:
    """The five things nearly every handler needs, so no constructor lists them."""

    storage: State
    outbox: Outbox
    admins: ChatAdmins
    rights: BotRights
    catalogs: Catalogs
