"""Composition root: settings in, the whole bot out, and its run loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import BotCommand, Update
from telegram.ext import AIORateLimiter, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.access import Access
from bot.alerts import OperatorAlerts
from bot.budget import ByteBudget
from bot.cache import ResultCache
from bot.config import Settings
from bot.fairness import Fairness
from bot.handlers import AnyApplication, Handlers, Services, TelegramDownloader, admin_sender
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, Catalogs
from bot.moderator import Moderator
from bot.pipeline import PhotoPipeline
from bot.quotas import Quotas
from bot.recognizer import Recognizer, RetryPolicy
from bot.redis_storage import RedisStorage
from bot.stats import Stats
from bot.storage import SqliteStorage, Storage
from bot.web import web_app

logger = logging.getLogger(__name__)

DEFAULT_HTTP_PORT = 8080
# Updates fetched but not yet handled; when full, polling waits instead of
# piling updates up in memory.
UPDATE_QUEUE_SIZE = 256
LONG_POLL_TIMEOUT = 30
SHUTDOWN_SLACK = 15.0
STATS_FLUSH_SECONDS = 10.0
COMMANDS = (
    ("help", N_("What I do and which images I accept")),
    ("check", N_("Check the photo this replies to")),
    ("quota", N_("Checks left today")),
    ("policy", N_("This chat's moderation settings")),
    ("moderate", N_("Admins: moderation on or off")),
    ("forbid", N_("Admins: forbid a segment")),
    ("require", N_("Admins: require a segment")),
    ("allow", N_("Admins: drop the rule for a segment")),
    ("action", N_("Admins: warn, delete or report")),
    ("lang", N_("Language: en, ru, zh or auto")),
)


ApiResult = bool | dict[str, Any] | list[dict[str, Any]]


class SendRateLimiter(AIORateLimiter):
    """Telegram's flood limits (30 messages/s overall, 20/min per group) are about the
    messages a bot sends; reading calls (getFile, getChatMember, ...) and the typing
    sign (at most one per chat every 4.5 s) are not throttled with them."""

    _UNTHROTTLED = frozenset(
        {
            "getFile",
            "getChatMember",
            "getChatAdministrators",
            "getMe",
            "getUpdates",
            "sendChatAction",
        }
    )

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> ApiResult:
        """Pass reads and chat actions straight through; throttle messages."""
        if endpoint in self._UNTHROTTLED:
            return await callback(*args, **kwargs)
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )


class BotService:
    """The whole bot: settings in; `run` serves updates until told to stop."""

    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.settings = settings
        self.storage = storage
        self.ready = asyncio.Event()
        self.catalogs = Catalogs()
        self.recognizer = Recognizer(
            base_url=settings.deerapi_base_url,
            api_key=settings.deerapi_api_key.get_secret_value(),
            attempt_timeout=settings.api_attempt_timeout_seconds,
            max_concurrent_calls=settings.api_max_concurrent_calls,
            policy=RetryPolicy(
                max_attempts=settings.api_max_attempts,
                base_delay=settings.api_retry_base_delay_seconds,
                total_deadline=settings.api_total_deadline_seconds,
            ),
        )
        self.app = _build_application(settings)
        bot = self.app.bot
        quotas = Quotas(
            storage, per_user=settings.user_daily_limit, overall=settings.global_daily_limit
        )
        stats = self.stats = Stats(storage)
        pipeline = PhotoPipeline(
            self.recognizer,
            TelegramDownloader(bot, settings.telegram_timeout_seconds),
            cache=ResultCache(
                storage,
                ttl=settings.cache_ttl_hours * 3600,
                flight_seconds=settings.api_total_deadline_seconds + SHUTDOWN_SLACK,
            ),
            quotas=quotas,
            stats=stats,
            max_concurrent_downloads=settings.max_concurrent_downloads,
            memory=ByteBudget(settings.memory_budget_mb * 1_000_000),
            decode_memory=ByteBudget(settings.decode_budget_mb * 1_000_000),
            deadline=settings.photo_deadline_seconds,
        )
        admin = settings.admin_chat_id
        alerts = OperatorAlerts(admin_sender(bot, admin) if admin is not None else None)
        services = Services(
            pipeline=pipeline,
            storage=storage,
            quotas=quotas,
            stats=stats,
            access=Access(
                allowed_users=settings.allowed_user_ids,
                allowed_chats=settings.allowed_chat_ids,
                bot_admins=settings.admin_user_ids,
            ),
            catalogs=self.catalogs,
            alerts=alerts,
            moderator=Moderator(
                bot, storage, pipeline, alerts, report_chat_id=settings.report_chat_id
            ),
            fairness=Fairness(
                per_key=settings.per_user_in_flight, max_waiting=settings.max_waiting_photos
            ),
            album_quiet_seconds=settings.album_quiet_seconds,
        )
        Handlers(services, self.app).register(self.app)

    @classmethod
    async def open(cls, settings: Settings) -> BotService:
        """Open the storage the settings name (Redis if REDIS_URL is set, else SQLite)
        and build the bot on it."""
        storage: Storage
        if settings.redis_url is not None:
            storage = await RedisStorage.open(settings.redis_url.get_secret_value())
        else:
            storage = await SqliteStorage.open(settings.database_path)
        return cls(settings, storage)

    async def _flush_stats_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STATS_FLUSH_SECONDS)
            await self.stats.flush()

    async def _set_commands(self) -> None:
        for language in LANGUAGES:
            tr = self.catalogs.get(language)
            commands = [BotCommand(name, tr.gettext(text)) for name, text in COMMANDS]
            code = None if language == DEFAULT_LANGUAGE else language
            await self.app.bot.set_my_commands(commands, language_code=code)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve updates (long polling, or a webhook if WEBHOOK_URL is set) until `stop` is
        set, then finish the photos in flight."""
        app = self.app
        settings = self.settings
        server: web.AppRunner | None = None
        try:
            async with app:
                await self._set_commands()
                server = await self._start_http(stop)
                if settings.webhook_url:
                    secret = settings.webhook_secret_token
                    await app.bot.set_webhook(
                        settings.webhook_url,
                        secret_token=secret.get_secret_value() if secret else None,
                        allowed_updates=Update.ALL_TYPES,
                    )
                else:
                    assert app.updater is not None
                    await app.updater.start_polling(
                        timeout=LONG_POLL_TIMEOUT, allowed_updates=Update.ALL_TYPES
                    )
                await app.start()
                logger.info("bot @%s is running", app.bot.username)
                self.ready.set()
                flushing = asyncio.create_task(self._flush_stats_until(stop))
                await stop.wait()
                await flushing
                logger.info("stopping: no new updates; finishing photos in flight")
                if server is not None:
                    await server.cleanup()
                    server = None
                if app.updater is not None and app.updater.running:
                    await app.updater.stop()
                # In-flight photos end by their own deadline; this bounds the wait
                # even if one of them hangs in a reply.
                async with asyncio.timeout(settings.photo_deadline_seconds + SHUTDOWN_SLACK):
                    await app.stop()
        finally:
            if server is not None:
                await server.cleanup()
            await self.stats.flush()
            await self.recognizer.aclose()
            await self.storage.close()

    async def _start_http(self, stop: asyncio.Event) -> web.AppRunner | None:
        """Serve the webhook, /healthz and /metrics when a port is set or a webhook used."""
        settings = self.settings
        port = settings.http_port
        if port is None and not settings.webhook_url:
            return None
        webhook_path = (
            (urlsplit(settings.webhook_url).path or "/") if settings.webhook_url else None
        )
        secret = settings.webhook_secret_token
        runner = web.AppRunner(
            web_app(
                bot=self.app.bot,
                updates=self.app.update_queue,
                ready=lambda: self.ready.is_set() and not stop.is_set(),
                webhook_path=webhook_path,
                secret=secret.get_secret_value() if secret else None,
            ),
            access_log=None,
        )
        await runner.setup()
        await web.TCPSite(
            runner, settings.http_listen, DEFAULT_HTTP_PORT if port is None else port
        ).start()
        return runner


def _build_application(settings: Settings) -> AnyApplication:
    timeout = settings.telegram_timeout_seconds
    # Each handled update may hold a connection for a reply, a download and a
    # chat action at once.
    request = HTTPXRequest(
        connection_pool_size=settings.max_concurrent_updates + 8,
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
        pool_timeout=timeout,
    )
    get_updates_request = HTTPXRequest(
        connection_pool_size=1,
        connect_timeout=timeout,
        read_timeout=LONG_POLL_TIMEOUT + timeout,
        pool_timeout=timeout,
    )
    app: AnyApplication = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .request(request)
        .get_updates_request(get_updates_request)
        .update_queue(asyncio.Queue(maxsize=UPDATE_QUEUE_SIZE))
        .concurrent_updates(settings.max_concurrent_updates)
        .rate_limiter(SendRateLimiter(max_retries=3))
        .build()
    )
    return app
