"""python-telegram-bot's Application as this bot needs it: pooled HTTP, a bounded update
queue, concurrent updates and a rate limiter for what counts against flood limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from telegram import Update
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.config import Settings
from bot.startup import Misconfigured, Unreachable

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


async def connect(app: AnyApplication, settings: Settings) -> None:
    """Initialize the Application (its getMe is the first Bot API call); raise
    `Unreachable` for what may pass (network, 5xx, flood control), `Misconfigured` for
    an address or a token the Bot API refuses."""
    setting, address = "TELEGRAM_API_BASE_URL", settings.telegram_api_base_url
    try:
        with _quiet_parse_failures():
            await app.initialize()
    except InvalidToken as exc:
        # The Bot API's own words are in the cause (the message quotes the token).
        # Telegram answers 404 to a path that is no method (a base URL without /bot)
        # and 401 to a token it does not know.
        answer = exc.__cause__ if isinstance(exc.__cause__, TelegramError) else exc
        if "404" in answer.message or answer.message.startswith("Not Found"):
            raise Misconfigured(
                setting, address, "answered 404 Not Found: not a Bot API address (.../bot)"
            ) from None
        raise Misconfigured(
            "TELEGRAM_BOT_TOKEN", address, f"refused by the Bot API: {_short(answer)}"
        ) from None
    except RetryAfter as exc:
        raise Unreachable(setting, address, f"flood control: {_short(exc)}") from None
    except BadRequest as exc:
        raise Misconfigured(setting, address, f"getMe refused: {_short(exc)}") from None
    except NetworkError as exc:
        raise Unreachable(setting, address, _short(exc)) from None
    except TelegramError as exc:
        raise Misconfigured(setting, address, f"not a Bot API: {_short(exc)}") from None


async def register_webhook(app: AnyApplication, settings: Settings) -> None:
    """Ask Telegram to post updates to WEBHOOK_URL; `Misconfigured` if it refuses it."""
    assert settings.webhook_url is not None
    secret = settings.webhook_secret_token
    try:
        await app.bot.set_webhook(
            settings.webhook_url,
            secret_token=secret.get_secret_value() if secret else None,
            allowed_updates=Update.ALL_TYPES,
        )
    except BadRequest as exc:
        raise Misconfigured(
            "WEBHOOK_URL", settings.webhook_url, f"refused by the Bot API: {_short(exc)}"
        ) from None


def _short(exc: TelegramError) -> str:
    """The library's message on one line, without a whole HTML error page in it."""
    text = " ".join(exc.message.split())
    return text if len(text) <= 160 else text[:157] + "..."


class _DropParseFailures(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Can not load invalid JSON data")


@contextlib.contextmanager
def _quiet_parse_failures() -> Iterator[None]:
    """python-telegram-bot logs a traceback with the whole body when an answer is not
    JSON (a web server that is no Bot API); the error it raises says as much, in one line."""
    request_logger = logging.getLogger("telegram.request.BaseRequest")
    dropping = _DropParseFailures()
    request_logger.addFilter(dropping)
    try:
        yield
    finally:
        request_logger.removeFilter(dropping)
