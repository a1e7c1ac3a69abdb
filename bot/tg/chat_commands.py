"""The command callbacks (`cmd_*`): admission, then a pure change or a text, then one reply.

Settings commands are pure functions in `commands`; this module only wires them to
Telegram, checks who may use them and answers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot import messages
from bot.clock import utc_now
from bot.i18n import Translations
from bot.moderation import ChatSettings
from bot.quotas import Quotas
from bot.stats import Stats
from bot.storage import Storage
from bot.tg import commands
from bot.tg.admission import Admission
from bot.tg.outbox import Outbox
from bot.tg.photos import PhotoRoutes, incoming_image

Context = ContextTypes.DEFAULT_TYPE
Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]


class ChatCommands:
    """Every command the bot answers, and the hint for other private messages."""

    def __init__(
        self,
        *,
        admission: Admission,
        outbox: Outbox,
        storage: Storage,
        quotas: Quotas,
        stats: Stats,
        photos: PhotoRoutes,
    ) -> None:
        self._admission = admission
        self._outbox = outbox
        self._storage = storage
        self._quotas = quotas
        self._stats = stats
        self._photos = photos
        self.cmd_moderate = self._settings_command(commands.moderate)
        self.cmd_forbid = self._settings_command(commands.forbid)
        self.cmd_require = self._settings_command(commands.require)
        self.cmd_allow = self._settings_command(commands.allow)
        self.cmd_action = self._settings_command(commands.action)
        self.cmd_lang = self._settings_command(commands.lang)

    async def _answer_text(
        self, update: Update, compose: Callable[[ChatSettings, Translations], str]
    ) -> None:
        """Reply with a text made from the chat's settings, to anyone admitted."""
        served = await self._admission.admit(update)
        if served is not None:
            await self._outbox.reply(served.message, compose(served.settings, served.tr))

    async def cmd_help(self, update: Update, _: Context) -> None:
        """/start and /help: what the bot does and what it accepts."""
        await self._answer_text(update, lambda _settings, tr: messages.help_text(tr))

    async def on_text(self, update: Update, _: Context) -> None:
        """Anything else in a private chat: one line on what to send."""
        await self._answer_text(update, lambda _settings, tr: messages.hint(tr))

    async def cmd_policy(self, update: Update, _: Context) -> None:
        """/policy: anyone may see the chat's settings."""
        await self._answer_text(update, messages.settings_text)

    async def cmd_quota(self, update: Update, _: Context) -> None:
        """/quota: checks left today."""
        served = await self._admission.admit(update)
        if served is None or served.message.from_user is None:
            return
        remaining = None
        if not self._admission.is_bot_admin(served.message):
            remaining = await self._quotas.remaining(served.message.from_user.id)
        await self._outbox.reply(
            served.message, messages.quota_report(remaining, served.tr, utc_now())
        )

    async def cmd_stats(self, update: Update, _: Context) -> None:
        """/stats for the bot's admins."""
        message = update.effective_message
        if message is None:
            return
        tr = await self._admission.tr(message)
        if not self._admission.is_bot_admin(message):
            await self._outbox.reply(message, messages.bot_admins_only(tr))
            return
        today = await self._stats.today()
        await self._outbox.reply(message, messages.stats_report(self._stats.since_start, today, tr))

    async def cmd_check(self, update: Update, _: Context) -> None:
        """/check as a reply to a photo or image file: its summary, in groups too."""
        served = await self._admission.admit(update)
        if served is None:
            return
        target = served.message.reply_to_message
        incoming = incoming_image(target) if target else None
        if target is None or incoming is None:
            await self._outbox.reply(served.message, messages.check_usage(served.tr))
            return
        requester = self._admission.requester(served.message)
        await self._photos.answer([(target, incoming)], requester, served.tr)

    def _settings_command(self, change: commands.Change) -> Callback:
        """A callback for a settings command: admins only; `change` applied atomically."""

        async def callback(update: Update, _: Context) -> None:
            served = await self._admission.admit(update)
            if served is None:
                return
            message = served.message
            if not await self._admission.is_chat_admin(message):
                await self._outbox.reply(message, messages.admins_only(served.tr))
                return
            args = [word.lower() for word in (message.text or "").split()[1:]]
            problem: str | None = None

            def apply(current: ChatSettings) -> ChatSettings | None:
                nonlocal problem
                changed = change(current, args, served.tr)
                if isinstance(changed, str):
                    problem = changed
                    return None
                return changed

            saved = await self._storage.update_chat_settings(message.chat_id, apply)
            if problem is not None:
                await self._outbox.reply(message, problem)
                return
            # The answer speaks the language just chosen, if /lang changed it.
            tr = await self._admission.tr(message)
            await self._outbox.reply(message, messages.settings_saved(saved, tr))

        callback.__doc__ = change.__doc__
        return callback
