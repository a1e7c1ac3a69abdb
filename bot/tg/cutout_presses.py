"""The "Show cut-outs" button: under an answer in a private chat or to /check, pressed
by the person who asked, answered with one album in that person's private chat.

Groups never receive cut-outs: a moderated group's notices carry no button (the album
would re-post what the group forbids), and an album asked for under a /check answer goes
to the asker privately, in a moderated group or a plain one alike (a plain group did
not ask to see segments of its members' photos either, and one album per press would be
noise for everyone else). A press by anyone else is answered and nothing is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes

from bot.i18n import Translations
from bot.messages import people
from bot.moderation.callbacks import CutoutPress, encode
from bot.photo.cutouts import CutoutOffers, Gone, NotYours, Ready, Taken, Unreachable
from bot.photo.outcomes import Outcome, Recognized
from bot.storage.guard import StorageUnavailable
from bot.tg.chats import Chats
from bot.tg.outbox import Blocked
from bot.tg.reports import fit_caption

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False, kw_only=True)
class CutoutButtons:
    """Makes the button (when the answer has cut-outs the bot may fetch) and answers its
    presses; with no `offers` (CUTOUT_HOSTS empty) there is no button."""

    chats: Chats
    offers: CutoutOffers | None
    bot_name: Callable[[], str]

    async def markup(
        self, outcome: Outcome, asker: int | None, keys: tuple[str, ...], tr: Translations
    ) -> InlineKeyboardMarkup | None:
        """The button for one image's answer to `asker`, if its cut-outs can be shown;
        `keys`: where its result is cached."""
        if self.offers is None or asker is None or not isinstance(outcome, Recognized):
            return None
        try:
            offer_id = await self.offers.offer(
                asker, (*keys, *outcome.content_keys), outcome.result, cached=outcome.cached
            )
        except StorageUnavailable:
            return None  # the answer goes without its button (the guard logged the outage)
        if offer_id is None:
            return None
        return _button(people.cutouts_button(tr), offer_id)

    async def on_press(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Check who pressed, claim the offer, fetch, send one album, answer the press."""
        pressed = await self.chats.press(update, CutoutPress)
        if pressed is None:
            return
        query, press, tr = pressed
        if self.offers is None:  # a button made before CUTOUT_HOSTS was emptied
            await self.chats.outbox.answer_press(query, people.cutouts_gone(tr), alert=True)
            return
        try:
            await self._press(self.offers, query, press.offer_id, tr)
        except StorageUnavailable:
            await self.chats.outbox.answer_press(query, people.storage_unavailable(tr), alert=True)

    async def _press(
        self, offers: CutoutOffers, query: CallbackQuery, offer_id: str, tr: Translations
    ) -> None:
        presser = query.from_user.id
        async with offers.press(offer_id, presser) as press:
            match press:
                case NotYours():
                    await self.chats.outbox.answer_press(query, people.cutouts_not_yours(tr))
                case Taken():
                    await self.chats.outbox.answer_press(query, people.cutouts_taken(tr))
                case Gone(reason):
                    logger.info("cut-outs %s no longer available: %s", offer_id, reason)
                    await self.chats.outbox.answer_press(query, people.cutouts_gone(tr), alert=True)
                    await self._show_gone(query, offer_id, tr)
                case Unreachable(reason):
                    logger.warning("cut-outs %s not fetched this time: %s", offer_id, reason)
                    await self.chats.outbox.answer_press(
                        query, people.cutouts_later(tr), alert=True
                    )
                case Ready(cutouts):
                    # A type the API adds is captioned by its raw name, of any length.
                    photos = [
                        (c.image.data, fit_caption(people.segment_name(c.segment, tr)))
                        for c in cutouts
                    ]
                    match await self.chats.outbox.send_album(presser, photos):
                        case Blocked.BLOCKED:
                            await offers.retry_later(offer_id)
                            text = people.cutouts_start_first(self.bot_name(), tr)
                            await self.chats.outbox.answer_press(query, text, alert=True)
                        case None:  # Telegram refused or failed; the outbox logged it
                            await offers.retry_later(offer_id)
                            await self.chats.outbox.answer_press(
                                query, people.cutouts_later(tr), alert=True
                            )
                        case _:
                            logger.info("cut-outs %s: %d sent", offer_id, len(photos))
                            await self.chats.outbox.answer_press(query, "")

    async def _show_gone(self, query: CallbackQuery, offer_id: str, tr: Translations) -> None:
        """Turn the button into "no longer available" (pressing it again says so)."""
        message = query.message
        if message is None:
            return
        label = people.cutouts_gone_button(tr)
        markup = message.reply_markup if isinstance(message, Message) else None
        if markup is not None and markup.inline_keyboard[0][0].text == label:
            return  # already says so: Telegram refuses an edit that changes nothing
        await self.chats.outbox.edit_buttons(
            message.chat.id, message.message_id, _button(label, offer_id)
        )


def _button(label: str, offer_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=encode(CutoutPress(offer_id)))]]
    )
