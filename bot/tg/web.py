"""The bot's HTTP side: Telegram's webhook, health for load balancers and orchestrators,
and Prometheus metrics."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from telegram import Bot, Update

from bot.storage.intake import Received

logger = logging.getLogger(__name__)

SECRET_HEADER = b"x-telegram-bot-api-secret-token"
MAX_UPDATE_BYTES = 1024 * 1024
HealthReport = Callable[[], tuple[bool, dict[str, Any]]]
_JSON_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_JSON_NAMES[type(None)] = "null"


Receive = Callable[[Update, str | None], Awaitable[Received]]


def web_app(
    *,
    bot: Bot,
    receive: Receive,
    health: HealthReport,
    webhook_path: str | None,
    secret: str | None,
) -> web.Application:
    """Routes: POST `webhook_path` (if given), GET /healthz, GET /livez, GET /metrics."""
    expected = secret.encode() if secret is not None else None

    async def healthz(_: web.Request) -> web.Response:
        # Readiness: 503 while this process cannot serve (see bot.health).
        serving, body = health()
        return web.json_response(body, status=200 if serving else 503)

    async def livez(_: web.Request) -> web.Response:
        # Liveness: answered whenever the event loop runs. An outage of a dependency is
        # no reason to restart the process, which would not fix it.
        return web.json_response({"status": "alive"})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def webhook(request: web.Request) -> web.Response:
        if expected is None or not hmac.compare_digest(_secret_given(request), expected):
            logger.warning("webhook call with a wrong secret token refused")
            return web.Response(status=403)
        body = await request.read()
        update, problem = parse_update(body, bot)
        if update is None:
            logger.warning("webhook body refused: %s", problem)
            return web.Response(status=400)
        # 200 only once the update is stored (bot/tg/intake.py); a full intake means
        # the bot is saturated: Telegram retries a 503 later.
        try:
            payload: str | None = body.decode()
        except UnicodeDecodeError:  # JSON in UTF-16 or -32: stored as the library reads it
            payload = None
        if await receive(update, payload) is Received.FULL:
            return web.Response(status=503)
        return web.Response()

    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/livez", livez)
    app.router.add_get("/metrics", metrics)
    if webhook_path is not None:
        app.router.add_post(webhook_path, webhook)
    return app


def _secret_given(request: web.Request) -> bytes:
    """The secret header's raw bytes (empty if absent): compared as bytes, whatever they
    are, so a header that is not ASCII is refused, not a crash."""
    for name, value in request.raw_headers:
        if name.lower() == SECRET_HEADER:
            return value
    return b""


# Telegram's ids fit in 52 bits; stored as SQLite's signed 64-bit integers.
_ID_BOUND = 2**63
# Fields of an Update that carry a chat (a message, or a change of membership).
_WITH_A_CHAT = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
)


def _has_a_chat(carried: object) -> bool:
    if not isinstance(carried, dict):
        return False
    chat = carried.get("chat")
    return isinstance(chat, dict) and type(chat.get("id")) is int


def parse_update(body: bytes, bot: Bot) -> tuple[Update | None, str]:
    """The Update in a webhook body, or None and why not (one line, no body content)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        return None, f"not JSON ({type(exc).__name__})"
    if not isinstance(data, dict):
        return None, f"JSON {_JSON_NAMES.get(type(data), type(data).__name__)}, not an object"
    update_id = data.get("update_id")
    if type(update_id) is not int or update_id < 0:
        return None, "no update_id that is a whole number"
    if update_id >= _ID_BOUND:
        return None, f"update_id {update_id} out of range"
    for field in _WITH_A_CHAT:
        # The library builds a message without its chat, which every handler needs:
        # it failed in three of them with a traceback each, after a 200.
        carried = data.get(field)
        if carried is not None and not _has_a_chat(carried):
            return None, f"update {update_id}: {field} without a chat"
    try:
        update = Update.de_json(data, bot)
    # The library builds the objects field by field; a field of the wrong shape fails
    # with whatever that field's constructor raises.
    except Exception as exc:
        return None, f"update {update_id} is not an Update ({type(exc).__name__})"
    return update, ""
