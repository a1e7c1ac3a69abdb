"""Composition root: settings in, the whole bot out, and its run loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update

from bot.access import Access
from bot.alerts import OperatorAlerts
from bot.budget import ByteBudget
from bot.cache import ResultCache
from bot.config import Settings
from bot.fairness import Fairness
from bot.i18n import Catalogs
from bot.pipeline import PhotoPipeline
from bot.quotas import Quotas
from bot.recognizer import Recognizer, RetryPolicy
from bot.redis_storage import RedisStorage
from bot.stats import Stats
from bot.storage import SqliteStorage, Storage
from bot.tg import routes
from bot.tg.admission import Admission
from bot.tg.application import LONG_POLL_TIMEOUT, build_application
from bot.tg.chat_commands import ChatCommands
from bot.tg.chat_events import ChatEvents
from bot.tg.download import TelegramDownloader
from bot.tg.enforcer import Enforcer
from bot.tg.errors import ErrorHandler
from bot.tg.members import BotRights, ChatAdmins
from bot.tg.moderator import Moderator
from bot.tg.outbox import Outbox
from bot.tg.photos import PhotoRoutes
from bot.tg.presses import ReportPresses
from bot.tg.reports import Reporter
from bot.tg.sanctions import Sanctions
from bot.tg.web import web_app

logger = logging.getLogger(__name__)

DEFAULT_HTTP_PORT = 8080
SHUTDOWN_SLACK = 15.0
STATS_FLUSH_SECONDS = 10.0


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
        self.app = build_application(settings)
        bot = self.app.bot
        outbox = Outbox(bot)
        quotas = Quotas(
            storage,
            per_user=settings.user_daily_limit,
            per_group=settings.group_daily_limit,
            overall=settings.global_daily_limit,
        )
        stats = self.stats = Stats(storage)
        admin = settings.admin_chat_id
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
            alerts=OperatorAlerts(outbox.sender_to(admin) if admin is not None else None),
            max_concurrent_downloads=settings.max_concurrent_downloads,
            memory=ByteBudget(settings.memory_budget_mb * 1_000_000),
            decode_memory=ByteBudget(settings.decode_budget_mb * 1_000_000),
            deadline=settings.photo_deadline_seconds,
        )
        admins = ChatAdmins(bot)
        rights = BotRights(bot)
        sanctions = Sanctions(bot)
        reporter = Reporter(
            storage=storage, outbox=outbox, admins=admins, report_chat_id=settings.report_chat_id
        )
        admission = Admission(
            storage=storage,
            access=Access(
                allowed_users=settings.allowed_user_ids,
                allowed_chats=settings.allowed_chat_ids,
                bot_admins=settings.admin_user_ids,
            ),
            catalogs=self.catalogs,
            outbox=outbox,
            admins=admins,
        )
        photos = PhotoRoutes(
            admission=admission,
            storage=storage,
            pipeline=pipeline,
            moderator=Moderator(
                storage=storage,
                pipeline=pipeline,
                enforcer=Enforcer(
                    storage=storage,
                    outbox=outbox,
                    sanctions=sanctions,
                    reporter=reporter,
                    rights=rights,
                ),
                reporter=reporter,
                admins=admins,
                stats=stats,
                catalogs=self.catalogs,
            ),
            fairness=Fairness(
                per_key=settings.per_user_in_flight, max_waiting=settings.max_waiting_photos
            ),
            outbox=outbox,
            spawn=self.app.create_task,
            album_quiet_seconds=settings.album_quiet_seconds,
        )
        routes.register(
            self.app,
            storage=storage,
            chat_commands=ChatCommands(
                admission=admission,
                outbox=outbox,
                storage=storage,
                quotas=quotas,
                stats=stats,
                photos=photos,
                admins=admins,
                rights=rights,
                concurrency=lambda: self.recognizer.concurrency_limit,
            ),
            photos=photos,
            presses=ReportPresses(
                storage=storage,
                outbox=outbox,
                sanctions=sanctions,
                admins=admins,
                rights=rights,
                catalogs=self.catalogs,
            ),
            chat_events=ChatEvents(
                storage=storage,
                admins=admins,
                rights=rights,
                reporter=reporter,
                catalogs=self.catalogs,
            ),
            errors=ErrorHandler(admission, outbox),
        )

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

    async def run(self, stop: asyncio.Event) -> None:
        """Serve updates (long polling, or a webhook if WEBHOOK_URL is set) until `stop` is
        set, then finish the photos in flight."""
        app = self.app
        settings = self.settings
        server: web.AppRunner | None = None
        try:
            async with app:
                await routes.set_menus(app.bot, self.catalogs)
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
