"""What every part of the Telegram layer that answers in chats shares, built once
(bot/app.py) and handed over as one: the bot's state, the one way to send, each chat's
admins, the bot's own rights there, and the catalogs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from telegram import CallbackQuery, Update

from bot.i18n import Catalogs, Translations, pick_language
from bot.moderation.callbacks import Press, parse
from bot.storage import State
from bot.tg.members import BotRights, ChatAdmins
from bot.tg.outbox import Outbox

_P = TypeVar("_P", bound=Press)


@dataclass(frozen=True)
class Chats:
    """The five things nearly every handler needs, so no constructor lists them."""

    storage: State
    outbox: Outbox
    admins: ChatAdmins
    rights: BotRights
    catalogs: Catalogs

    async def press(
        self, update: Update, kind: type[_P]
    ) -> tuple[CallbackQuery, _P, Translations] | None:
        """The press an update carries as a `kind`, with the presser's catalog; None for
        anything else (a press of another kind or of made-up data is answered empty, so
        its button stops spinning, and nothing else happens)."""
        query = update.callback_query
        if query is None or query.data is None:
            return None
        tr = self.catalogs.get(pick_language(None, query.from_user.language_code))
        press = parse(query.data)
        if not isinstance(press, kind):
            await self.outbox.answer_press(query, "")
            return None
        return query, press, tr
