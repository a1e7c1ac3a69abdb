"""bot.healthcheck: where it probes, and what counts as healthy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.healthcheck import check, livez_url


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "http://127.0.0.1:8080/livez"),
        ({"HTTP_PORT": ""}, "http://127.0.0.1:8080/livez"),
        ({"HTTP_LISTEN": "0.0.0.0", "HTTP_PORT": "9000"}, "http://127.0.0.1:9000/livez"),  # noqa: S104
        ({"HTTP_LISTEN": "::", "HTTP_PORT": "9000"}, "http://[::1]:9000/livez"),
        ({"HTTP_LISTEN": "127.0.0.2", "HTTP_PORT": " 81 "}, "http://127.0.0.2:81/livez"),
    ],
)
def test_probes_where_the_bot_listens(env: dict[str, str], url: str) -> None:
    assert livez_url(env) == url


@pytest.fixture
async def healthz() -> AsyncIterator[tuple[str, list[int]]]:
    """A /healthz that answers with the status at the head of the list."""
    statuses = [200]

    async def answer(_: web.Request) -> web.Response:
        return web.Response(status=statuses[0], text="ok" if statuses[0] == 200 else "down")

    app = web.Application()
    app.router.add_get("/healthz", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/healthz")), statuses
    await server.close()


async def test_only_200_is_healthy(healthz: tuple[str, list[int]]) -> None:
    url, statuses = healthz
    assert await asyncio.to_thread(check, url) is None
    statuses[0] = 503
    assert await asyncio.to_thread(check, url) == f"{url}: HTTP Error 503: Service Unavailable"


def test_a_malformed_port_is_unhealthy_not_a_crash() -> None:
    problem = check(livez_url({"HTTP_PORT": "eighty"}))
    assert problem is not None
    assert problem.startswith("http://127.0.0.1:eighty/livez: ")
