"""python-telegram-bot's Application as this bot needs it: pooled HTTP, a bounded update
queue, a bound on updates worked on at once that holds, Telegram's reachability noted from
every request, a second poller on the same token told apart from a restart, and a rate
limiter for what counts against flood limits."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from http import HTTPStatus
from typing import Any, Protocol

import httpx
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, BaseUpdateProcessor
from telegram.request import BaseRequest, HTTPXRequest

from bot import http_clients
from bot.config import Settings
from bot.health import Dependency
from bot.http_clients import proxied
from bot.slots import WorkSlots
from bot.startup import Misconfigured
from bot.tg.transport import AiohttpRequest, PoolTimeout

logger = logging.getLogger(__name__)

# Updates fetched but not yet handled; when full, polling waits instead of
# piling updates up in memory, and the webhook answers 503.
UPDATE_QUEUE_SIZE = 256
LONG_POLL_TIMEOUT = 30
# Failed requests in a row that make Telegram "down" when no polling watches it (webhook
# mode): one download timing out is that download's problem, three in a row are not.
WEBHOOK_FAILURES_TO_DOWN = 3

NO_UPDATES = b'{"ok": true, "result": []}'
AnyApplication = Application[Any, Any, Any, Any, Any, Any]
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


class PollingConflict:
    """Whether another process polls this token and this one is the newcomer.

    Telegram serves getUpdates to one caller per token: the superseded call is answered
    409 Conflict, so two pollers both see 409s in turn. During an overlapping restart
    (the old process drains while the new one starts) the newcomer sees them only until
    the old one stops polling, seconds. A process that has polled cleanly before a
    conflict is the running bot and keeps running (Telegram shows as down in /healthz
    meanwhile); one that has not, and still meets 409s more than one long-poll period
    (30 s) after the first, is the newcomer: `superseded` is set. A stretch of more than
    one period without a 409 ends a conflict.
    """

    def __init__(
        self, period: float = LONG_POLL_TIMEOUT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._period = period
        self._clock = clock
        self._established = False  # has polled cleanly with no conflict going on
        self._first: float | None = None  # the current conflict's first 409
        self._last: float | None = None  # its latest
        self.superseded = asyncio.Event()

    def answered(self, status: int) -> None:
        """getUpdates came back with `status`."""
        if self.superseded.is_set():
            return  # the verdict stands while the newcomer drains
        now = self._clock()
        over = self._last is None or now - self._last > self._period
        if status != HTTPStatus.CONFLICT:
            if over:
                self._established, self._first = True, None
            return
        if over or self._first is None:
            self._first = now
        self._last = now
        if not self._established and self.lasted > self._period:
            self.superseded.set()

    @property
    def lasted(self) -> float:
        """Seconds from the current conflict's first 409 to its latest (0: none)."""
        if self._first is None or self._last is None:
            return 0.0
        return self._last - self._first

    def failure(self, settings: Settings) -> Misconfigured:
        """The one line the newcomer exits with (status 2: starting it again cannot help)."""
        return Misconfigured(
            "TELEGRAM_BOT_TOKEN",
            settings.telegram_api_base_url,
            f"another process is polling updates for this bot (getUpdates answered "
            f"409 Conflict for {self.lasted:.0f} s): run one polling process per token, "
            "or several in webhook mode (WEBHOOK_URL) behind a load balancer",
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


class UpdateObserver(Protocol):
    """Told around each update's handler, in the update's own task."""

    def begin(self, update: object) -> None:
        """The handler is about to run."""

    async def end(self, update: object) -> None:
        """The handler returned (or failed)."""


class BoundedUpdates(BaseUpdateProcessor):
    """Hands each update to a task of its own once a work slot is free.

    python-telegram-bot's own processors bound concurrency only after its fetcher has
    already started a task per update, so the queue never fills and polling never
    pauses. This one tells the library it takes one update at a time, so the fetcher
    waits for each hand-over, and a hand-over waits for a slot: with every slot busy the
    queue fills, polling pauses and the webhook answers 503.
    """

    def __init__(self, slots: WorkSlots) -> None:
        super().__init__(max_concurrent_updates=1)
        self.slots = slots
        self._tasks: set[asyncio.Task[None]] = set()
        # Told when each update's handler starts and ends (acknowledges durable updates).
        self.observer: UpdateObserver | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for a slot, then start the update's work in its own task."""
        await self.slots.acquire()
        task = asyncio.create_task(self._work(update, coroutine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, update: object, coroutine: Awaitable[Any]) -> None:
        observer = self.observer
        if observer is not None:
            observer.begin(update)
        try:
            await self.slots.hold(coroutine)
        except Exception:
            # Handlers' errors go to the error handler inside; this is the library's own.
            logger.exception("an update could not be processed")
        finally:
            if observer is not None:
                await asyncio.shield(observer.end(update))

    async def join(self) -> None:
        """Wait until every update handed over has been worked on."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def cancel(self) -> int:
        """Stop the updates still being worked on; how many there were."""
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: `join` waits for the work."""


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
    if proxied():
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
