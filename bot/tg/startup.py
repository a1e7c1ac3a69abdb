"""The Bot API calls made once at start: getMe (through the Application's initialize)
and setWebhook, with every way they fail mapped to a start-up error of one line:
`Unreachable` for what may pass (retried), `Misconfigured` for what will not."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from telegram import Update
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.config import Settings
from bot.http import clients as http_clients
from bot.startup import Misconfigured, Unreachable
from bot.tg.updates import AnyApplication


async def connect(app: AnyApplication, settings: Settings) -> None:
    """Initialize the Application (its getMe is the first Bot API call); raise
    `Unreachable` for what may pass (network, 5xx, flood control), `Misconfigured` for
    an address or a token the Bot API refuses."""
    try:
        await _initialize(app, settings)
    except BaseException:
        # A failed getMe leaves open the connections initialize made (aiohttp warns of
        # each at exit); a retry makes new ones.
        await app.bot.shutdown()
        raise


async def _initialize(app: AnyApplication, settings: Settings) -> None:
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
        # DNS, refused, TLS or a timeout, named as such whichever client raised it.
        raise Unreachable(setting, address, http_clients.cause(exc) or _short(exc)) from None
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
