"""Telegram glue: turn updates into pipeline calls and outcomes into one reply each.

Telegram types stop in this layer (with `moderator.py`); everything below takes
plain values.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from telegram import Bot, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ChatMemberStatus, ChatType
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from typing_extensions import Buffer

from bot import messages
from bot.access import Access
from bot.albums import AlbumCollector
from bot.alerts import OperatorAlerts, Send
from bot.fairness import Fairness, Overloaded
from bot.i18n import LANGUAGES, Catalogs, Translations, pick_language
from bot.images import MAX_DOWNLOAD_BYTES, TooLargeToDownload
from bot.moderation import Action, ChatSettings, parse_segment
from bot.moderator import Moderator
from bot.pipeline import DownloadError, IncomingImage, PhotoPipeline, Requester
from bot.quotas import Quotas, utc_now
from bot.stats import Stats
from bot.storage import Storage

logger = logging.getLogger(__name__)

REPLY_ATTEMPTS = 3
DOWNLOAD_ATTEMPTS = 2
CHAT_ACTION_INTERVAL = 4.5  # Telegram shows a chat action for about 5 s.
# Answers that come within a second need no "typing…"; skipping it saves one
# call per photo under Telegram's 30 requests/s.
CHAT_ACTION_DELAY = 1.0
ADMIN_CACHE_SECONDS = 60.0
ADMIN_CACHE_SIZE = 10_000

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
Context = ContextTypes.DEFAULT_TYPE
Item = tuple[Message, IncomingImage]
Changed = ChatSettings | str  # new settings, or a sentence saying what was wrong


class TelegramDownloader:
    """Fetches an image's bytes through the Bot API, mapping failures to pipeline errors."""

    def __init__(self, bot: Bot, timeout: float) -> None:
        self._bot = bot
        self._timeout = timeout

    async def __call__(self, incoming: IncomingImage) -> bytes:
        """Return the file's bytes or raise `DownloadError` / `TooLargeToDownload`.

        getFile and the download are idempotent, so a network failure is tried again once.
        """
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                return await self._fetch(incoming)
            except BadRequest as exc:
                if "too big" in exc.message.lower():
                    size = incoming.file_size or MAX_DOWNLOAD_BYTES + 1
                    raise TooLargeToDownload(size) from None
                logger.warning("download refused by Telegram: %s", exc.message)
                raise DownloadError(exc.message) from None
            except TelegramError as exc:
                retry = attempt < DOWNLOAD_ATTEMPTS and isinstance(exc, NetworkError)
                logger.warning(
                    "download attempt %d failed: %s: %s%s",
                    attempt,
                    type(exc).__name__,
                    exc.message,
                    "; retrying" if retry else "",
                )
                if not retry:
                    raise DownloadError(type(exc).__name__) from None
        raise AssertionError("unreachable")

    async def _fetch(self, incoming: IncomingImage) -> bytes:
        file = await self._bot.get_file(incoming.file_id, read_timeout=self._timeout)
        if file.file_size and file.file_size > MAX_DOWNLOAD_BYTES:
            raise TooLargeToDownload(file.file_size)
        kept = _KeepBytes()
        await file.download_to_memory(kept, read_timeout=self._timeout)
        return kept.data


class _KeepBytes(io.BytesIO):
    """A download target that keeps the library's bytes instead of copying them:
    two fewer copies of every 20 MB file."""

    data = b""

    def write(self, buffer: Buffer, /) -> int:
        """Keep `buffer` (python-telegram-bot writes a whole file at once, as bytes)."""
        self.data = bytes(buffer)
        return len(self.data)


def admin_sender(bot: Bot, chat_id: int) -> Send:
    """A `Send` that posts operator alerts to `chat_id`; a failure to post is only logged."""

    async def send(text: str) -> None:
        try:
            await bot.send_message(chat_id, text)
        except TelegramError as exc:
            logger.error("could not deliver the operator alert: %s", exc.message)

    return send


@dataclass(frozen=True)
class Services:
    """What the handlers work with."""

    pipeline: PhotoPipeline
    storage: Storage
    quotas: Quotas
    stats: Stats
    access: Access
    catalogs: Catalogs
    alerts: OperatorAlerts
    moderator: Moderator
    fairness: Fairness
    album_quiet_seconds: float


def incoming_image(message: Message) -> IncomingImage | None:
    """The image a message carries: the largest photo size, or any document."""
    if message.photo:
        largest = message.photo[-1]
        return IncomingImage(
            file_id=largest.file_id,
            file_unique_id=largest.file_unique_id,
            file_size=largest.file_size,
            width=largest.width,
            height=largest.height,
        )
    if message.document:
        # Its bytes decide whether it is an image, not its name or MIME type.
        return IncomingImage(
            file_id=message.document.file_id,
            file_unique_id=message.document.file_unique_id,
            file_size=message.document.file_size,
        )
    return None


class Handlers:
    """The bot's update callbacks."""

    def __init__(self, services: Services, app: AnyApplication) -> None:
        self._s = services
        self._bot = app.bot
        self._albums: AlbumCollector[Item] = AlbumCollector(
            app.create_task, quiet=services.album_quiet_seconds
        )
        self._admin_cache: OrderedDict[tuple[int, int], tuple[bool, float]] = OrderedDict()
        self._typing = TypingIndicator()

    def register(self, app: AnyApplication) -> None:
        """Attach every handler; edited messages are ignored so no photo is answered twice."""
        # Replicas behind one webhook may each be handed an update; one takes it.
        app.add_handler(TypeHandler(Update, self._claim), group=-1)
        new = filters.UpdateType.MESSAGE
        commands: dict[str, Callable[[Update, Context], Coroutine[Any, Any, None]]] = {
            "start": self.help,
            "help": self.help,
            "check": self.check,
            "moderate": self.moderate,
            "forbid": self.segment_rule,
            "require": self.segment_rule,
            "allow": self.segment_rule,
            "action": self.action,
            "policy": self.policy,
            "lang": self.lang,
            "quota": self.quota,
            "stats": self.stats,
        }
        for name, callback in commands.items():
            app.add_handler(CommandHandler(name, callback, filters=new, block=False))
        images = new & (filters.PHOTO | filters.Document.ALL)
        app.add_handler(MessageHandler(images, self.image, block=False))
        app.add_handler(MessageHandler(new & filters.ChatType.PRIVATE, self.hint))
        app.add_error_handler(self.error)

    # -- helpers ---------------------------------------------------------

    async def _claim(self, update: Update, _: Context) -> None:
        if not await self._s.storage.claim_update(update.update_id):
            logger.debug("update %s was taken by another replica", update.update_id)
            raise ApplicationHandlerStop

    async def _context(self, message: Message) -> tuple[ChatSettings, Translations]:
        settings = await self._s.storage.chat_settings(message.chat_id)
        user = message.from_user
        language = pick_language(settings.language, user.language_code if user else None)
        return settings, self._s.catalogs.get(language)

    async def _tr(self, message: Message) -> Translations:
        return (await self._context(message))[1]

    def _allowed(self, message: Message) -> bool:
        return self._s.access.allows(
            user_id=message.from_user.id if message.from_user else None,
            chat_id=message.chat_id,
            private=message.chat.type == ChatType.PRIVATE,
        )

    def _requester(self, message: Message) -> Requester:
        user_id = message.from_user.id if message.from_user else None
        return Requester(user_id, exempt=self._s.access.is_bot_admin(user_id))

    async def _admitted_context(
        self, update: Update
    ) -> tuple[Message, ChatSettings, Translations] | None:
        """The update's message, its chat settings and language, if it is to be served."""
        message = update.effective_message
        if message is None:
            return None
        settings, tr = await self._context(message)
        if not await self._admitted(message, tr):
            return None
        return message, settings, tr

    async def _admitted(self, message: Message, tr: Translations) -> bool:
        """Whether to serve this message; a private stranger is told why not."""
        if self._allowed(message):
            return True
        if message.chat.type == ChatType.PRIVATE:
            await _reply(message, messages.not_allowed(tr))
        return False

    async def _is_chat_admin(self, message: Message) -> bool:
        """Bot admins, anyone in a private chat, and the group's admins (asked of
        Telegram, remembered for a minute)."""
        user = message.from_user
        if message.chat.type == ChatType.PRIVATE or self._s.access.is_bot_admin(
            user.id if user else None
        ):
            return True
        if message.sender_chat is not None and message.sender_chat.id == message.chat_id:
            return True  # an anonymous admin posting as the group
        if user is None:
            return False
        key = (message.chat_id, user.id)
        cached = self._admin_cache.get(key)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            member = await self._bot.get_chat_member(message.chat_id, user.id)
        except TelegramError as exc:
            logger.warning("could not check admin rights: %s", exc.message)
            return False
        is_admin = member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
        self._admin_cache[key] = (is_admin, now + ADMIN_CACHE_SECONDS)
        self._admin_cache.move_to_end(key)
        if len(self._admin_cache) > ADMIN_CACHE_SIZE:
            self._admin_cache.popitem(last=False)
        return is_admin

    async def _change_settings(
        self, update: Update, change: Callable[[ChatSettings, list[str], Translations], Changed]
    ) -> None:
        """Shared path of the settings commands: admission, admin check, change, answer.

        `change` returns the new settings, or a sentence when the arguments are wrong.
        """
        served = await self._admitted_context(update)
        if served is None:
            return
        message, _settings, tr = served
        if not await self._is_chat_admin(message):
            await _reply(message, messages.admins_only(tr))
            return
        args = [word.lower() for word in (message.text or "").split()[1:]]
        problem: str | None = None

        def apply(current: ChatSettings) -> ChatSettings | None:
            nonlocal problem
            changed = change(current, args, tr)
            if isinstance(changed, str):
                problem = changed
                return None
            return changed

        saved = await self._s.storage.update_chat_settings(message.chat_id, apply)
        if problem is not None:
            await _reply(message, problem)
            return
        await _reply(message, messages.settings_saved(saved, await self._tr(message)))

    # -- commands --------------------------------------------------------

    async def _answer_text(
        self, update: Update, compose: Callable[[ChatSettings, Translations], str]
    ) -> None:
        """Reply with a text made from the chat's settings, to anyone admitted."""
        served = await self._admitted_context(update)
        if served is not None:
            message, settings, tr = served
            await _reply(message, compose(settings, tr))

    async def help(self, update: Update, _: Context) -> None:
        """/start and /help: what the bot does and what it accepts."""
        await self._answer_text(update, lambda _settings, tr: messages.help_text(tr))

    async def hint(self, update: Update, _: Context) -> None:
        """Anything else in a private chat: one line on what to send."""
        await self._answer_text(update, lambda _settings, tr: messages.hint(tr))

    async def moderate(self, update: Update, _: Context) -> None:
        """/moderate on|off."""

        def change(settings: ChatSettings, args: list[str], tr: Translations) -> Changed:
            if args[:1] == ["on"]:
                return replace(settings, moderate=True)
            if args[:1] == ["off"]:
                return replace(settings, moderate=False)
            return messages.usage("moderate", tr)

        await self._change_settings(update, change)

    async def segment_rule(self, update: Update, _: Context) -> None:
        """/forbid, /require and /allow a segment."""
        message = update.effective_message
        command = (message.text or "").split()[0].lstrip("/").split("@")[0] if message else ""

        def change(settings: ChatSettings, args: list[str], tr: Translations) -> Changed:
            if len(args) != 1:
                return messages.usage(command, tr)
            segment = parse_segment(args[0])
            if segment is None:
                return messages.unknown_segment(args[0], tr)
            if command == "forbid":
                return settings.forbidding(segment)
            if command == "require":
                return settings.requiring(segment)
            return settings.allowing(segment)

        await self._change_settings(update, change)

    async def action(self, update: Update, _: Context) -> None:
        """/action warn|delete|report."""

        def change(settings: ChatSettings, args: list[str], tr: Translations) -> Changed:
            try:
                return replace(settings, action=Action(args[0] if args else ""))
            except ValueError:
                return messages.usage("action", tr)

        await self._change_settings(update, change)

    async def lang(self, update: Update, _: Context) -> None:
        """/lang en|ru|zh|auto: the chat's language (auto: each person's own)."""

        def change(settings: ChatSettings, args: list[str], tr: Translations) -> Changed:
            choice = args[0] if args else ""
            if choice == "auto":
                return replace(settings, language=None)
            if choice in LANGUAGES:
                return replace(settings, language=choice)
            return messages.usage("lang", tr)

        await self._change_settings(update, change)

    async def policy(self, update: Update, _: Context) -> None:
        """/policy: anyone may see the chat's settings."""
        await self._answer_text(update, messages.settings_text)

    async def quota(self, update: Update, _: Context) -> None:
        """/quota: checks left today."""
        served = await self._admitted_context(update)
        if served is None or served[0].from_user is None:
            return
        message, _settings, tr = served
        user_id = served[0].from_user.id
        remaining = None
        if not self._s.access.is_bot_admin(user_id):
            remaining = await self._s.quotas.remaining(user_id)
        await _reply(message, messages.quota_report(remaining, tr, utc_now()))

    async def stats(self, update: Update, _: Context) -> None:
        """/stats for the bot's admins."""
        message = update.effective_message
        if message is None:
            return
        tr = await self._tr(message)
        if not self._s.access.is_bot_admin(message.from_user.id if message.from_user else None):
            await _reply(message, messages.bot_admins_only(tr))
            return
        today = await self._s.stats.today()
        await _reply(message, messages.stats_report(self._s.stats.since_start, today, tr))

    async def check(self, update: Update, _: Context) -> None:
        """/check as a reply to a photo or image file: its summary, in groups too."""
        served = await self._admitted_context(update)
        if served is None:
            return
        message, _settings, tr = served
        target = message.reply_to_message
        incoming = incoming_image(target) if target else None
        if target is None or incoming is None:
            await _reply(message, messages.check_usage(tr))
            return
        await self._answer([(target, incoming)], self._requester(message), tr)

    # -- images ----------------------------------------------------------

    async def image(self, update: Update, _: Context) -> None:
        """A photo or a file: answered in private chats, moderated in groups that ask."""
        served = await self._admitted_context(update)
        if served is None:
            return
        message, settings, tr = served
        incoming = incoming_image(message)
        if incoming is None:
            return
        private = message.chat.type == ChatType.PRIVATE
        if not private and not settings.moderate:
            return
        if message.media_group_id:
            key = f"{message.chat_id}:{message.media_group_id}"
            complete = self._answer_album if private else self._moderate_album
            self._albums.add(key, (message, incoming), complete)
            return
        if private:
            await self._answer([(message, incoming)], self._requester(message), tr)
        else:
            await self._moderate([(message, incoming)], settings, tr)

    async def _answer(self, items: list[Item], requester: Requester, tr: Translations) -> None:
        """One reply for one image or a whole album, whatever happens on the way."""
        first = items[0][0]
        async with self._typing.shown(first):
            try:
                async with self._s.fairness.turn(_person(first)):
                    outcomes = await asyncio.gather(
                        *(self._s.pipeline.run(incoming, requester) for _, incoming in items)
                    )
                for outcome in outcomes:
                    await self._s.alerts.observe(outcome)
                now = utc_now()
                if len(outcomes) == 1:
                    text = messages.reply_for(outcomes[0], tr, now)
                else:
                    text = messages.album_reply(outcomes, tr, now)
            except Overloaded:
                text = messages.too_many_at_once(tr)
            except Exception:
                error_id = _new_error_id()
                logger.exception("unexpected error id=%s while handling a photo", error_id)
                text = messages.apology(error_id, tr)
        await _reply(first, text)

    async def _answer_album(self, items: list[Item]) -> None:
        first = items[0][0]
        await self._answer(items, self._requester(first), await self._tr(first))

    async def _moderate_album(self, items: list[Item]) -> None:
        settings, tr = await self._context(items[0][0])
        try:
            await self._moderate(items, settings, tr)
        except Exception:
            logger.exception("unexpected error while moderating an album")

    async def _moderate(self, items: list[Item], settings: ChatSettings, tr: Translations) -> None:
        try:
            async with self._s.fairness.turn(_person(items[0][0])):
                await self._s.moderator.moderate(items, settings, tr)
        except Overloaded:
            # Nobody asked for an answer here; the photo simply goes unchecked.
            logger.warning(
                "moderation overloaded; a photo in chat %s went unchecked", items[0][0].chat_id
            )

    async def error(self, update: object, context: Context) -> None:
        """Anything unexpected: the log gets the traceback, the person an id to quote."""
        error_id = _new_error_id()
        logger.error("unhandled error id=%s", error_id, exc_info=context.error)
        if isinstance(update, Update) and update.effective_message:
            user = update.effective_user
            tr = self._s.catalogs.get(pick_language(None, user.language_code if user else None))
            await _reply(update.effective_message, messages.apology(error_id, tr))


class TypingIndicator:
    """Keeps "typing…" visible in a private chat while any of its photos is being worked
    on: one loop per chat, however many photos, so a burst costs no extra requests.
    Groups keep their message budget and get none."""

    def __init__(self) -> None:
        self._chats: dict[int, tuple[int, asyncio.Task[None]]] = {}

    @contextlib.asynccontextmanager
    async def shown(self, message: Message) -> AsyncIterator[None]:
        """Show typing in `message`'s chat for the length of the block."""
        if message.chat.type != ChatType.PRIVATE:
            yield
            return
        chat_id = message.chat_id
        users, task = self._chats.get(chat_id, (0, None))
        if task is None:
            task = asyncio.create_task(_keep_typing(message))
        self._chats[chat_id] = (users + 1, task)
        try:
            yield
        finally:
            users, task = self._chats.pop(chat_id)
            if users > 1:
                self._chats[chat_id] = (users - 1, task)
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def _keep_typing(message: Message) -> None:
    await asyncio.sleep(CHAT_ACTION_DELAY)
    while True:
        try:
            await message.chat.send_action(ChatAction.TYPING)
        except TelegramError as exc:
            logger.debug("chat action failed: %s", type(exc).__name__)
        await asyncio.sleep(CHAT_ACTION_INTERVAL)


async def _reply(message: Message, text: str) -> None:
    """Send one reply. A timed-out send may have arrived, so only clear failures are retried."""
    for attempt in range(1, REPLY_ATTEMPTS + 1):
        try:
            await message.reply_text(
                text,
                reply_parameters=ReplyParameters(
                    message_id=message.message_id, allow_sending_without_reply=True
                ),
            )
            return
        except TimedOut:
            logger.warning("reply to chat %s timed out; not resent", message.chat_id)
            return
        except BadRequest as exc:
            logger.error("reply to chat %s refused: %s", message.chat_id, exc.message)
            return
        except NetworkError as exc:
            if attempt == REPLY_ATTEMPTS:
                logger.error("reply to chat %s failed: %s", message.chat_id, exc.message)
                return
            await asyncio.sleep(attempt)
        except TelegramError as exc:
            logger.error("reply to chat %s refused: %s", message.chat_id, exc.message)
            return


def _person(message: Message) -> int:
    """Whose turn a message takes: its sender, else its chat."""
    return message.from_user.id if message.from_user else message.chat_id


def _new_error_id() -> str:
    return uuid.uuid4().hex[:8]
