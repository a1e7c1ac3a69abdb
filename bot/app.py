"""Composition root: settings in, a ready python-telegram-bot `Application` out."""

from __future__ import annotations

import asyncio
import logging

from telegram import BotCommand, Update
from telegram.ext import AIORateLimiter, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.alerts import OperatorAlerts
from bot.budget import ByteBudget
from bot.config import Settings
from bot.handlers import AnyApplication, Handlers, TelegramDownloader, admin_sender
from bot.pipeline import PhotoPipeline
from bot.recognizer import Recognizer, RetryPolicy

logger = logging.getLogger(__name__)

# Updates fetched but not yet handled; when full, polling waits instead of
# piling updates up in memory.
UPDATE_QUEUE_SIZE = 256
LONG_POLL_TIMEOUT = 30
SHUTDOWN_SLACK = 15.0
COMMANDS = (
    BotCommand("help", "What I do and which images I accept"),
    BotCommand("start", "Introduction"),
)


class BotService:
    """The whole bot: settings in; `run` serves updates until told to stop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ready = asyncio.Event()
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
        pipeline = PhotoPipeline(
            self.recognizer,
            TelegramDownloader(self.app.bot, settings.telegram_timeout_seconds),
            max_concurrent_downloads=settings.max_concurrent_downloads,
            memory=ByteBudget(settings.memory_budget_mb * 1_000_000),
            decode_memory=ByteBudget(settings.decode_budget_mb * 1_000_000),
            deadline=settings.photo_deadline_seconds,
        )
        admin = settings.admin_chat_id
        alerts = OperatorAlerts(admin_sender(self.app.bot, admin) if admin is not None else None)
        Handlers(pipeline, alerts).register(self.app)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll for updates until `stop` is set, then finish the photos in flight."""
        app = self.app
        try:
            async with app:
                await app.bot.set_my_commands(COMMANDS)
                assert app.updater is not None
                await app.updater.start_polling(
                    timeout=LONG_POLL_TIMEOUT, allowed_updates=Update.ALL_TYPES
                )
                await app.start()
                logger.info("bot @%s is running", app.bot.username)
                self.ready.set()
                await stop.wait()
                logger.info("stopping: no new updates; finishing photos in flight")
                await app.updater.stop()
                # In-flight photos end by their own deadline; this bounds the wait
                # even if one of them hangs in a reply.
                async with asyncio.timeout(self.settings.photo_deadline_seconds + SHUTDOWN_SLACK):
                    await app.stop()
        finally:
            await self.recognizer.aclose()


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
        .rate_limiter(AIORateLimiter(max_retries=3))
        .build()
    )
    return app
