"""Group moderation: judge posted photos against the chat's policy and act on breaches
(warn, delete, report), through the outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from telegram import Bot, Message
from telegram.error import TelegramError

from bot import messages
from bot.i18n import Translations
from bot.moderation import Action, Breach, ChatSettings, judge
from bot.outcomes import Recognized
from bot.pipeline import IncomingImage, PhotoPipeline, Requester
from bot.storage import Storage
from bot.tg.outbox import Outbox

logger = logging.getLogger(__name__)

# Group photos are the chat's, not one person's: they count against the
# overall daily limit only.
MODERATION_REQUESTER = Requester(user_id=None)


@dataclass(frozen=True)
class Flagged:
    """A posted photo that breaks the policy, and how."""

    message: Message
    breaches: list[Breach]


def author(message: Message) -> str:
    """How a notice names who posted a message."""
    user = message.from_user
    if user is None:
        return message.chat.title or "?"
    return f"{user.full_name} (@{user.username})" if user.username else user.full_name


class Moderator:
    """Runs a chat's photos through the pipeline and warns, deletes or reports."""

    def __init__(
        self,
        bot: Bot,
        storage: Storage,
        pipeline: PhotoPipeline,
        outbox: Outbox,
        *,
        report_chat_id: int | None,
    ) -> None:
        self._bot = bot
        self._storage = storage
        self._pipeline = pipeline
        self._outbox = outbox
        self._report_chat_id = report_chat_id

    async def moderate(
        self,
        items: Sequence[tuple[Message, IncomingImage]],
        settings: ChatSettings,
        tr: Translations,
    ) -> None:
        """Check every photo (an album is one batch); photos that pass get no message."""
        outcomes = await asyncio.gather(
            *(self._pipeline.run(incoming, MODERATION_REQUESTER) for _, incoming in items)
        )
        flagged = []
        for (message, _), outcome in zip(items, outcomes, strict=True):
            if not isinstance(outcome, Recognized):
                logger.info("moderation skipped a photo in chat %s: %s", message.chat_id, outcome)
                continue
            breaches = judge(settings, outcome.result)
            if breaches:
                flagged.append(Flagged(message, breaches))
        if not flagged:
            return
        if settings.action is Action.DELETE:
            flagged = await self._delete(flagged, settings, tr)
            if not flagged:
                return
        if settings.action is Action.REPORT:
            await self._report(flagged, tr)
            return
        await self._warn(flagged, tr)

    async def _warn(self, flagged: Sequence[Flagged], tr: Translations) -> None:
        text = "\n".join(messages.breach_warning(item.breaches, tr) for item in flagged)
        await self._outbox.reply(flagged[0].message, text)

    async def _delete(
        self, flagged: Sequence[Flagged], settings: ChatSettings, tr: Translations
    ) -> list[Flagged]:
        """Delete what breaks the rules and post one notice; return what could not be deleted."""
        removed: list[Flagged] = []
        kept: list[Flagged] = []
        for item in flagged:
            deleted = await self._outbox.delete(item.message)
            (removed if deleted else kept).append(item)
        chat_id = flagged[0].message.chat_id
        if removed:
            notice = "\n".join(
                messages.removal_notice(author(item.message), item.breaches, tr) for item in removed
            )
            await self._outbox.send(chat_id, notice)
        if kept and not settings.told_missing_delete_right:
            await self._outbox.send(chat_id, messages.missing_delete_right(tr))
            await self._storage.update_chat_settings(
                chat_id, lambda current: replace(current, told_missing_delete_right=True)
            )
        return kept

    async def _report(self, flagged: Sequence[Flagged], tr: Translations) -> None:
        chat = flagged[0].message.chat
        destinations = await self._report_destinations(chat.id)
        title = chat.title or str(chat.id)
        for destination in destinations:
            # Admins who never opened a chat with the bot cannot be messaged: the
            # outbox logs that once and the other admins still get their report.
            for item in flagged:
                if await self._outbox.forward(destination, item.message) is None:
                    break
                await self._outbox.send(
                    destination,
                    messages.report_text(title, author(item.message), item.breaches, tr),
                )

    async def _report_destinations(self, chat_id: int) -> list[int]:
        if self._report_chat_id is not None:
            return [self._report_chat_id]
        try:
            admins = await self._bot.get_chat_administrators(chat_id)
        except TelegramError as exc:
            logger.error("could not list the admins of chat %s: %s", chat_id, exc.message)
            return []
        return [member.user.id for member in admins if not member.user.is_bot]
