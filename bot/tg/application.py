"""python-telegram-bot's Application as this bot needs it: pooled HTTP, a bounded update
queue, concurrent updates and a rate limiter for what counts against flood limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter, Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.config import Settings

# Updates fetched but not yet handled; when full, polling waits instead of
# piling updates up in memory.
UPDATE_QUEUE_SIZE = 256
LONG_POLL_TIMEOUT = 30

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


def build_application(settings: Settings) -> AnyApplication:
    """The Application, pointed at the Bot API the settings name."""
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
        .local_mode(settings.telegram_local_mode)
        .build()
    )
    return app
