"""The bot's HTTP side: Telegram's webhook, health for load balancers and orchestrators,
and Prometheus metrics."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from telegram import Bot, Update

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
QUEUE_WAIT_SECONDS = 5.0
MAX_UPDATE_BYTES = 1024 * 1024
HealthReport = Callable[[], tuple[bool, dict[str, Any]]]


def web_app(
    *,
    bot: Bot,
    updates: asyncio.Queue[Any],
    health: HealthReport,
    webhook_path: str | None,
    secret: str | None,
) -> web.Application:
    """Routes: POST `webhook_path` (if given), GET /healthz, GET /livez, GET /metrics."""

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
        given = request.headers.get(SECRET_HEADER, "")
        if secret is None or not hmac.compare_digest(given.encode(), secret.encode()):
            logger.warning("webhook call with a wrong secret token refused")
            return web.Response(status=403)
        try:
            update = Update.de_json(json.loads(await request.read()), bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400)
        try:
            # A full queue means the bot is saturated: Telegram retries a 503 later.
            await asyncio.wait_for(updates.put(update), QUEUE_WAIT_SECONDS)
        except TimeoutError:
            return web.Response(status=503)
        return web.Response()

    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/livez", livez)
    app.router.add_get("/metrics", metrics)
    if webhook_path is not None:
        app.router.add_post(webhook_path, webhook)
    return app
