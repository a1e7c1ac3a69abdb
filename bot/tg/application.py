"""python-telegram-bot's Application as this bot needs it: pooled HTTP, a bounded update
queue, concurrent updates, Telegram's reachability noted from every request, and a rate
limiter for what counts against flood limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder
from telegram.request import HTTPXRequest, RequestData

from bot.config import Settings
from bot.health import Dependency

# Updates fetched but not yet handled; when full, polling waits instead of
# piling updates up in memory.
UPDATE_QUEUE_SIZE = 256
LONG_POLL_TIMEOUT = 30
# Failed requests in a row that make Telegram "down" when no polling watches it (webhook
# mode): one download timing out is that download's problem, three in a row are not.
WEBHOOK_FAILURES_TO_DOWN = 3

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
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


class ObservedRequest(HTTPXRequest):
    """python-telegram-bot's HTTP layer, telling a `Dependency` whether Telegram answered:
    a network error, a timeout or a 5xx is a failure; any other answer, a 4xx included,
    shows Telegram is there. For polling (`every_error`) any error answer is a failure
    too: a 409 (another process polls this token) or a 401 means no updates arrive.
    A full connection pool is this process's own doing and counts as neither."""

    def __init__(
        self, telegram: Dependency | None, *, every_error: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._telegram = telegram
        self._worst_fine_status = 399 if every_error else 499

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: Any = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make the request; note what it says about Telegram."""
        try:
            status, body = await super().do_request(
                url,
                method,
                request_data,
                read_timeout,
                write_timeout,
                connect_timeout,
                pool_timeout,
            )
        except TelegramError as exc:
            if self._telegram is not None and not isinstance(exc.__cause__, httpx.PoolTimeout):
                self._telegram.failed(f"{type(exc).__name__}: {exc.message}")
            raise
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


def build_application(settings: Settings, *, telegram: Dependency) -> AnyApplication:
    """The Application, pointed at the Bot API the settings name. Telegram's reachability
    is judged by polling, or by every request in webhook mode (where nothing polls)."""
    timeout = settings.telegram_timeout_seconds
    polling = not settings.webhook_url
    # Each handled update may hold a connection for a reply, a download and a
    # chat action at once.
    request = ObservedRequest(
        None if polling else telegram,
        connection_pool_size=settings.max_concurrent_updates + 8,
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
        pool_timeout=timeout,
    )
    get_updates_request = ObservedRequest(
        telegram if polling else None,
        every_error=True,
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
