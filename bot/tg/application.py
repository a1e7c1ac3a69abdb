"""python-telegram-bot's Application as this bot needs it, and the bot's run loop.

Built: pooled HTTP, a bounded update queue, a bound on updates worked on at once that
holds (bot/tg/updates.py), Telegram's reachability noted from every request, a second
poller on the same token told apart from a restart (bot/tg/conflict.py), and a rate
limiter for what counts against flood limits. Run (`Serving`): long polling or a webhook
(with /healthz and /metrics), until told to stop; then the updates in flight drained."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiohttp import web
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, ApplicationBuilder
from telegram.request import BaseRequest, HTTPXRequest

from bot.config import Settings
from bot.health import Dependency, Health, Phase
from bot.http import clients as http_clients
from bot.i18n import Catalogs
from bot.startup import Misconfigured
from bot.tg import routes
from bot.tg.conflict import LONG_POLL_TIMEOUT, PollingConflict
from bot.tg.intake import DurableUpdates, ReceiptQueue
from bot.tg.startup import register_webhook
from bot.tg.transport import AiohttpRequest, PoolTimeout
from bot.tg.updates import AnyApplication, BoundedUpdates
from bot.tg.web import web_app

logger = logging.getLogger(__name__)

# Updates fetched but not yet handled; when full, polling waits instead of
# piling updates up in memory, and the webhook answers 503.
UPDATE_QUEUE_SIZE = 256
# Failed requests in a row that make Telegram "down" when no polling watches it (webhook
# mode): one download timing out is that download's problem, three in a row are not.
WEBHOOK_FAILURES_TO_DOWN = 3
DEFAULT_HTTP_PORT = 8080
SHUTDOWN_SLACK = 15.0
STATS_FLUSH_SECONDS = 10.0

NO_UPDATES = b'{"ok": true, "result": []}'

ApiResult = bool | dict[str, Any] | list[dict[str, Any]]


class SendRateLimiter(AIORateLimiter):
    """Telegram's flood limits (30 messages/s overall, 20/min per group) are about the
    messages a bot sends; reading calls (getFile, getChatMember, ...) are not throttled
    with them. The typing sign counts against the overall budget but never waits for it:
    it is sent only while at least half the budget is free, so it cannot delay an answer
    (a 2,000-photo burst sent 10,009 chat actions against 170 downloads when they
    bypassed the limiter)."""

    _UNTHROTTLED = frozenset(
        {
            "getFile",
            "getChatMember",
            "getChatAdministrators",
            "getMe",
            "getUpdates",
        }
    )
    _COSMETIC = "sendChatAction"

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> ApiResult:
        """Pass reads straight through; send a chat action only with budget to spare
        (False: not sent); throttle messages."""
        if endpoint in self._UNTHROTTLED:
            return await callback(*args, **kwargs)
        budget = self._base_limiter
        if endpoint == self._COSMETIC and budget and not budget.has_capacity(budget.max_rate / 2):
            return False
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )


class ObservedRequest(BaseRequest):
    """python-telegram-bot's HTTP layer (aiohttp's, or httpx's behind a proxy: see
    bot/tg/transport.py), telling a `Dependency` whether Telegram answered: a network
    error, a timeout or a 5xx is a failure; any other answer, a 4xx included, shows
    Telegram is there. For polling (`every_error`) any error answer is a failure too: a
    409 (another process polls this token) or a 401 means no updates arrive. A full
    connection pool is this process's own doing and counts as neither. `conflict`, for
    the polling request, is told every status."""

    def __init__(
        self,
        inner: BaseRequest,
        telegram: Dependency | None,
        *,
        every_error: bool = False,
        conflict: PollingConflict | None = None,
    ) -> None:
        self._inner = inner
        self._telegram = telegram
        self._worst_fine_status = 399 if every_error else 499
        self._conflict = conflict

    @property
    def read_timeout(self) -> float | None:
        """The inner layer's default read timeout."""
        return self._inner.read_timeout

    async def initialize(self) -> None:
        """Open the inner layer's connections."""
        await self._inner.initialize()

    async def shutdown(self) -> None:
        """Close the inner layer's connections."""
        await self._inner.shutdown()

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Make the request through the inner layer; note what it says about Telegram."""
        if self._conflict is not None and self._conflict.superseded.is_set():
            # A superseded newcomer asks Telegram for nothing more (each getUpdates would
            # cut the running bot's long poll short): the last poll while stopping gets none.
            return HTTPStatus.OK, NO_UPDATES
        try:
            status, body = await self._inner.do_request(*args, **kwargs)
        except TelegramError as exc:
            if self._telegram is not None and not isinstance(
                exc.__cause__, httpx.PoolTimeout | PoolTimeout
            ):
                # httpx's words for DNS and the like are errno text ("[Errno -2] ...").
                cause = http_clients.cause(exc) or exc.message
                self._telegram.failed(f"{type(exc).__name__}: {cause}")
            raise
        if self._conflict is not None:
            self._conflict.answered(status)
            if self._conflict.superseded.is_set():
                # Held until the drain stops polling (it cancels this call): returned, the
                # 409 would first make python-telegram-bot back off for up to 30 s.
                await asyncio.get_running_loop().create_future()
        if self._telegram is not None:
            if status > self._worst_fine_status:
                self._telegram.failed(f"HTTP {status} {_description(body)}".rstrip())
            else:
                self._telegram.succeeded()
        return status, body


def _description(body: bytes) -> str:
    """The Bot API's own words for an error answer, if it gave any."""
    try:
        description = json.loads(body).get("description", "")
    except (ValueError, AttributeError):
        return ""
    return str(description)[:200]


def build_application(
    settings: Settings,
    *,
    telegram: Dependency,
    updates: BoundedUpdates,
    conflict: PollingConflict | None = None,
) -> AnyApplication:
    """The Application, pointed at the Bot API the settings name. Telegram's reachability
    is judged by polling, or by every request in webhook mode (where nothing polls);
    `conflict` hears every answer to polling."""
    timeout = settings.telegram_timeout_seconds
    polling = not settings.webhook_url
    # Each handled update may hold a connection for a reply, a download and a
    # chat action at once.
    request = ObservedRequest(
        _http_layer(settings.max_concurrent_updates + 8, timeout, read_timeout=timeout),
        None if polling else telegram,
    )
    get_updates_request = ObservedRequest(
        _http_layer(1, timeout, read_timeout=LONG_POLL_TIMEOUT + timeout),
        telegram if polling else None,
        every_error=True,
        conflict=conflict,
    )
    app: AnyApplication = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .request(request)
        .get_updates_request(get_updates_request)
        .update_queue(asyncio.Queue(maxsize=UPDATE_QUEUE_SIZE))
        .concurrent_updates(updates)
        .rate_limiter(SendRateLimiter(max_retries=3))
        .local_mode(settings.telegram_local_mode)
        .build()
    )
    return app


def _http_layer(connections: int, timeout: float, *, read_timeout: float) -> BaseRequest:
    """aiohttp's when Telegram is reached directly, httpx's when proxy variables are set."""
    if http_clients.proxied():
        return HTTPXRequest(
            connection_pool_size=connections,
            connect_timeout=timeout,
            read_timeout=read_timeout,
            write_timeout=timeout,
            pool_timeout=timeout,
        )
    return AiohttpRequest(
        connection_pool_size=connections,
        connect_timeout=timeout,
        read_timeout=read_timeout,
        pool_timeout=timeout,
    )


@dataclass(kw_only=True)
class Serving:
    """The bot's run loop: `run` serves updates until told to stop, then drains.

    `flush` writes the daily counts (never raises: a failed write keeps them for the next);
    `close` releases what the bot built once the application has stopped; `conflict`
    tells a newcomer that another process keeps from polling.
    """

    app: AnyApplication
    settings: Settings
    updates: BoundedUpdates
    durable: DurableUpdates
    health: Health
    catalogs: Catalogs
    flush: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]]
    conflict: PollingConflict
    # Set once the bot serves (tests and the start-up wait on it).
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve updates (long polling, or a webhook if WEBHOOK_URL is set) until `stop` is
        set, then finish the updates in flight; whatever failed on the way (storage,
        Telegram), stopping drains and returns normally. A newcomer that another process
        keeps from polling drains the same way, then raises `Misconfigured` (exit 2)."""
        app = self.app
        settings = self.settings
        server: web.AppRunner | None = None
        try:
            async with app:
                await routes.set_menus(app.bot, self.catalogs)
                server = await self._start_http()
                receiving = settings.role != "worker"
                if not receiving:
                    pass  # a worker answers what web replicas stored
                elif settings.webhook_url:
                    await register_webhook(app, settings)
                else:
                    assert app.updater is not None
                    # The offset moves past an update only once it is stored.
                    app.updater.update_queue = ReceiptQueue(self.durable)
                    await app.updater.start_polling(
                        timeout=LONG_POLL_TIMEOUT,
                        allowed_updates=Update.ALL_TYPES,
                        error_callback=_noted_by_the_polling_request,
                    )
                await app.start()
                taking = asyncio.Event()
                if settings.role == "web":
                    taking.set()  # a web replica stores updates; workers answer them
                working = asyncio.create_task(self.durable.run(taking))
                role = "" if settings.role == "both" else f" (role {settings.role})"
                logger.info("bot @%s is running%s", app.bot.username, role)
                self.health.phase = Phase.SERVING
                self.ready.set()
                flushing = asyncio.create_task(self._flush_until(stop))
                try:
                    await _first_of(stop, self.conflict.superseded)
                finally:
                    stop.set()  # superseded, the newcomer stops as if told to
                    self.health.phase = Phase.STOPPING
                    await self._drain(server, taking, working)
                    server = None
                    await flushing
            if self.conflict.superseded.is_set():
                raise self.conflict.failure(settings)
        finally:
            if server is not None:
                await server.cleanup()
            await self.close()

    async def _flush_until(self, stop: asyncio.Event) -> None:
        """Every few seconds until `stop`."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STATS_FLUSH_SECONDS)
            await self.flush()

    async def _drain(
        self, server: web.AppRunner | None, taking: asyncio.Event, working: asyncio.Task[None]
    ) -> None:
        """Take no new updates, then finish those fetched, bounded by the photo deadline.
        Stored updates not yet taken stay stored for another replica or the next start."""
        logger.info("stopping: no new updates; finishing photos in flight")
        app = self.app
        if server is not None:
            await server.cleanup()
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        taking.set()
        await working
        # In-flight photos end by their own deadline; this bounds the wait
        # even if one of them hangs in a reply.
        limit = self.settings.photo_deadline_seconds + SHUTDOWN_SLACK
        try:
            async with asyncio.timeout(limit):
                if app.running:
                    await app.stop()  # hands over the updates still queued
                await self.updates.join()
        except TimeoutError:
            logger.error(
                "stopped after %.0f s with %d updates unfinished", limit, self.updates.cancel()
            )

    async def _start_http(self) -> web.AppRunner | None:
        """Serve the webhook, /healthz and /metrics when a port is set or a webhook used."""
        settings = self.settings
        port = settings.http_port
        if port is None and not settings.webhook_url:
            return None
        webhook_path = (
            (urlsplit(settings.webhook_url).path or "/")
            if settings.webhook_url and settings.role != "worker"
            else None
        )
        secret = settings.webhook_secret_token
        runner = web.AppRunner(
            web_app(
                bot=self.app.bot,
                receive=self.durable.receive,
                health=self.health.report,
                webhook_path=webhook_path,
                secret=secret.get_secret_value() if secret else None,
            ),
            access_log=None,
        )
        await runner.setup()
        port = DEFAULT_HTTP_PORT if port is None else port
        try:
            await web.TCPSite(runner, settings.http_listen, port).start()
        except OSError as exc:
            await runner.cleanup()
            address = f"{settings.http_listen}:{port}"
            raise Misconfigured("HTTP_PORT", address, f"cannot listen: {exc.strerror}") from None
        return runner


async def _first_of(*events: asyncio.Event) -> None:
    """Wait until any of `events` is set."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _noted_by_the_polling_request(_: TelegramError) -> None:
    """The polling request has already noted the failure (one WARNING when an outage
    starts, one when it ends); without this callback the library would log a traceback
    for every failed poll (656 lines in 25 s of an outage)."""
