"""The command callbacks (`cmd_*`): admission, then a pure change or a text, then one reply.

Settings commands are pure functions in `bot.moderation.commands`; this module only wires
them to Telegram, asks the gate whether the sender holds the command's right, and answers.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.clock import utc_now
from bot.i18n import Translations
from bot.messages import group_admins, operators, people
from bot.moderation import WARNING_WINDOW_SECONDS, ChatSettings, commands
from bot.moderation.rights import Denied, Granted, Unknown
from bot.photo.pipeline import Source
from bot.photo.quotas import Quotas
from bot.stats import Stats
from bot.storage.images import ImageStore
from bot.storage.settings import SettingsStore
from bot.storage.warnings import WarningStore
from bot.tg.admission import Admission, Served
from bot.tg.chats import Chats
from bot.tg.gate import Anonymous, CommandGate
from bot.tg.photos import PhotoRoutes, incoming_image
from bot.tg.posts import author_of, origin_of
from bot.tg.settings_menu import SettingsMenu

Context = ContextTypes.DEFAULT_TYPE
Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]
Extra = Callable[[Message, ChatSettings, Translations], Awaitable[str]]
Run = Callable[[Served], Awaitable[None]]


class CommandStore(SettingsStore, ImageStore, WarningStore, Protocol):
    """The storage this part uses."""


class ChatCommands:
    """Every command the bot answers, and the hint for other private messages."""

    def __init__(
        self,
        *,
        chats: Chats,
        admission: Admission,
        quotas: Quotas,
        stats: Stats,
        photos: PhotoRoutes,
        gate: CommandGate,
        menu: SettingsMenu,
        concurrency: Callable[[], int],
    ) -> None:
        self.chats = chats
        self._admission = admission
        self._quotas = quotas
        self._stats = stats
        self._photos = photos
        self._concurrency = concurrency
        self._gate = gate
        self._runs: dict[str, Run] = {}
        admin = self._admin_command
        change = self._settings_change
        self.cmd_moderate = admin("moderate", change(commands.moderate, self._rights_if_moderating))
        self.cmd_warnlimit = admin("warnlimit", change(commands.warnlimit))
        self.cmd_onerror = admin("onerror", change(commands.onerror))
        self.cmd_forbid = admin("forbid", change(commands.forbid))
        self.cmd_require = admin("require", change(commands.require))
        self._allow_segment = change(commands.allow)
        self.cmd_allow = admin("allow", self._allow)
        self.cmd_action = admin("action", change(commands.action))
        self.cmd_lang = admin("lang", change(commands.lang))
        self.cmd_checkfiles = admin("checkfiles", change(commands.checkfiles))
        self.cmd_warns = admin("warns", self._warns)
        self.cmd_resetwarns = admin("resetwarns", self._resetwarns)
        self.cmd_reload = admin("reload", self._reload)
        self.cmd_settings = admin("settings", menu.send)
        self.on_menu_press = menu.on_press

    async def _answer_text(
        self, update: Update, compose: Callable[[ChatSettings, Translations], str]
    ) -> None:
        """Reply with a text made from the chat's settings, to anyone admitted."""
        served = await self._admission.admit(update)
        if served is not None:
            await self.chats.outbox.reply(served.message, compose(served.settings, served.tr))

    async def cmd_help(self, update: Update, _: Context) -> None:
        """/start and /help: what the bot does and what it accepts."""
        await self._answer_text(update, lambda _settings, tr: people.help_text(tr))

    async def on_text(self, update: Update, _: Context) -> None:
        """Anything else in a private chat: one line on what to send."""
        await self._answer_text(update, lambda _settings, tr: people.hint(tr))

    async def cmd_policy(self, update: Update, _: Context) -> None:
        """/policy: anyone may see the chat's settings."""
        served = await self._admission.admit(update)
        if served is not None:
            allowed = await self.chats.storage.allowed_count(served.message.chat_id)
            text = group_admins.settings_text(served.settings, served.tr, allowed=allowed)
            await self.chats.outbox.reply(served.message, text)

    async def _allow(self, served: Served) -> None:
        """/allow a segment (no rule for it), or /allow reset (empty the allow list)."""
        if (served.message.text or "").split()[1:] == ["reset"]:
            await self.chats.storage.reset_allowed(served.message.chat_id)
            await self.chats.outbox.reply(
                served.message, group_admins.allow_list_cleared(served.tr)
            )
            return
        await self._allow_segment(served)

    async def _warns(self, served: Served) -> None:
        """/warns as a reply: that person's warnings in the last 30 days."""
        target = await self._replied_author(served, "warns")
        if target is not None:
            author_id, name = target
            since = time.time() - WARNING_WINDOW_SECONDS
            count = await self.chats.storage.warning_count(served.message.chat_id, author_id, since)
            limit = served.settings.warn_limit
            text = group_admins.warnings_report(name, count, limit, served.tr)
            await self.chats.outbox.reply(served.message, text)

    async def _resetwarns(self, served: Served) -> None:
        """/resetwarns as a reply: clear that person's warnings."""
        target = await self._replied_author(served, "resetwarns")
        if target is not None:
            author_id, name = target
            await self.chats.storage.reset_warnings(served.message.chat_id, author_id)
            await self.chats.outbox.reply(
                served.message, group_admins.warnings_cleared(name, served.tr)
            )

    async def _replied_author(self, served: Served, command: str) -> tuple[int, str] | None:
        """For an admin's command in reply to someone's message: whose it is."""
        target = served.message.reply_to_message
        author = author_of(target) if target else None
        if author is None or author.id is None:
            await self.chats.outbox.reply(
                served.message, group_admins.reply_to_someone(command, served.tr)
            )
            return None
        return author.id, author.name

    async def _reload(self, served: Served) -> None:
        """/reload: read the group's admins and the bot's rights again."""
        chat_id = served.message.chat_id
        self.chats.admins.forget(chat_id)
        self.chats.rights.forget(chat_id)
        rights = await self._rights_text(chat_id, served.tr)
        await self.chats.outbox.reply(
            served.message, group_admins.admin_lists_reloaded(rights, served.tr)
        )

    def _admin_command(self, name: str, run: Run) -> Callback:
        """A callback for an admin command: run only for someone holding its right (read
        fresh from Telegram); an anonymous admin's is held for a real admin to confirm."""
        self._runs[name] = run

        async def callback(update: Update, _: Context) -> None:
            served = await self._admission.admit(update)
            if served is None:
                return
            match await self._gate.command(served.message, name):
                case Granted():
                    await run(served)
                case Anonymous():
                    await self._gate.ask_to_confirm(update, served, name)
                case Denied(right):
                    await self.chats.outbox.reply(
                        served.message, group_admins.person_lacks_right(right, served.tr)
                    )
                case Unknown():
                    await self.chats.outbox.reply(
                        served.message, group_admins.rights_unknown(served.tr)
                    )

        callback.__doc__ = run.__doc__
        return callback

    async def on_confirm(self, update: Update, _: Context) -> None:
        """A press on an anonymous admin's command: run it for the admin who pressed, if
        their own rights allow it."""
        confirmed = await self._gate.confirmed(update)
        if confirmed is None:
            return
        name, original = confirmed
        served = await self._admission.admit(original)
        if served is not None:
            await self._runs[name](served)

    async def _rights_text(self, chat_id: int, tr: Translations) -> str:
        rights = await self.chats.rights.get(chat_id)
        if rights is None:  # Telegram did not say: better nothing than a wrong list
            return ""
        return group_admins.rights_text(rights.can_delete, rights.can_restrict, tr)

    async def _rights_if_moderating(
        self, message: Message, saved: ChatSettings, tr: Translations
    ) -> str:
        """After /moderate on|dry in a group: what the bot can and cannot do there."""
        if not saved.moderating or message.chat.type == ChatType.PRIVATE:
            return ""
        return await self._rights_text(message.chat_id, tr)

    async def cmd_quota(self, update: Update, _: Context) -> None:
        """/quota: checks left today."""
        served = await self._admission.admit(update)
        if served is None or served.message.from_user is None:
            return
        remaining = None
        if not self._admission.is_bot_admin(served.message):
            remaining = await self._quotas.remaining(served.message.from_user.id)
        await self.chats.outbox.reply(
            served.message, people.quota_report(remaining, served.tr, utc_now())
        )

    async def cmd_stats(self, update: Update, _: Context) -> None:
        """/stats for the bot's admins."""
        message = update.effective_message
        if message is None:
            return
        tr = await self._admission.tr(message)
        if not self._admission.is_bot_admin(message):
            await self.chats.outbox.reply(message, operators.bot_admins_only(tr))
            return
        today = await self._stats.today()
        report = operators.stats_report(self._stats.since_start, today, self._concurrency(), tr)
        await self.chats.outbox.reply(message, report)

    async def cmd_check(self, update: Update, _: Context) -> None:
        """/check as a reply to a photo or image file: its summary, in groups too."""
        served = await self._admission.admit(update)
        if served is None:
            return
        target = served.message.reply_to_message
        incoming = incoming_image(target) if target else None
        if target is None or incoming is None:
            await self.chats.outbox.reply(served.message, people.check_usage(served.tr))
            return
        requester = self._admission.requester(served.message)
        origin = origin_of(served.message, Source.CHECK, update.update_id)
        await self._photos.answer([(target, incoming, origin)], requester, served.tr)

    def _settings_change(self, change: commands.Change, extra: Extra | None = None) -> Run:
        """Run a settings command: `change` applied atomically; `extra` may add a
        paragraph to the answer."""

        async def run(served: Served) -> None:
            message = served.message
            args = [word.lower() for word in (message.text or "").split()[1:]]
            problem: commands.Problem | None = None

            def apply(current: ChatSettings) -> ChatSettings | None:
                nonlocal problem
                changed = change(current, args)
                if isinstance(changed, ChatSettings):
                    return changed
                problem = changed
                return None

            saved = await self.chats.storage.update_chat_settings(message.chat_id, apply)
            if problem is not None:
                await self.chats.outbox.reply(message, group_admins.problem(problem, served.tr))
                return
            # The answer speaks the language just chosen, if /lang changed it.
            tr = await self._admission.tr(message)
            allowed = await self.chats.storage.allowed_count(message.chat_id)
            text = group_admins.settings_saved(saved, tr, allowed=allowed)
            more = await extra(message, saved, tr) if extra else ""
            await self.chats.outbox.reply(message, f"{text}\n\n{more}" if more else text)

        run.__doc__ = change.__doc__
        return run
