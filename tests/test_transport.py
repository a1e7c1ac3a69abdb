"""The Bot API's HTTP layers against a real server on 127.0.0.1: aiohttp's keeps
HTTPXRequest's contract, each download client maps the same failures the same way, and
proxy variables pick httpx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from telegram import InputFile
from telegram.error import BadRequest, NetworkError, TimedOut
from telegram.request import HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.health import Dependency
from bot.http import clients as http_clients
from bot.photo.rules import TooLargeToDownload
from bot.tg import application, download
from bot.tg.application import ObservedRequest
from bot.tg.transport import AiohttpRequest, PoolTimeout

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BODY = bytes(range(256)) * 400  # 100 KB


class Server:
    """One route answering with whatever `handler` is set to; remembers what it got."""

    def __init__(self) -> None:
        self.handler: Handler = self._ok
        self.seen: list[tuple[dict[str, str], dict[str, object]]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _ok(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"ok": True, "result": True})

    async def _route(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        fields: dict[str, object] = {
            name: value.file.read() if isinstance(value, web.FileField) else value
            for name, value in form.items()
        }
        self.seen.append((dict(request.headers), fields))
        return await self.handler(request)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._route)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/botTOKEN/getMe"

    async def close(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    started = Server()
    await started.start()
    yield started
    await started.close()


@pytest.fixture
async def layer() -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest(
        connection_pool_size=1, connect_timeout=2, read_timeout=0.5, pool_timeout=0.2
    )
    await request.initialize()
    yield request
    await request.shutdown()


def params(**values: object) -> RequestData:
    return RequestData([RequestParameter.from_input(name, value) for name, value in values.items()])


async def test_parameters_go_form_encoded_and_every_status_comes_back(
    server: Server, layer: AiohttpRequest
) -> None:
    assert await layer.do_request(server.url, "POST", params(chat_id=5, text="hé")) == (
        200,
        b'{"ok": true, "result": true}',
    )
    headers, fields = server.seen[0]
    assert fields == {"chat_id": "5", "text": "hé"}
    assert headers["User-Agent"] == AiohttpRequest.USER_AGENT

    async def refused(_: web.Request) -> web.StreamResponse:
        return web.json_response({"ok": False, "description": "Bad Request: no"}, status=400)

    server.handler = refused
    status, body = await layer.do_request(server.url, "POST", params(chat_id=5))
    assert (status, b"Bad Request" in body) == (400, True)


async def test_files_go_as_multipart(server: Server, layer: AiohttpRequest) -> None:
    data = RequestData(
        [
            RequestParameter.from_input("chat_id", 5),
            RequestParameter.from_input("photo", InputFile(BODY, filename="a.jpg")),
        ]
    )
    await layer.do_request(server.url, "POST", data)
    _, fields = server.seen[0]
    assert fields == {"chat_id": "5", "photo": BODY}


async def test_a_slow_answer_is_timed_out(server: Server, layer: AiohttpRequest) -> None:
    async def slow(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2)
        return web.json_response({"ok": True})

    server.handler = slow
    with pytest.raises(TimedOut):
        await layer.do_request(server.url, "POST", params(chat_id=5))

    # A longer read timeout for this call alone (getUpdates' long poll) is honoured.
    async def fairly_slow(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.7)
        return web.json_response({"ok": True})

    server.handler = fairly_slow
    status, _ = await layer.do_request(server.url, "POST", params(chat_id=5), read_timeout=2)
    assert status == 200


async def test_nobody_listening_is_a_network_error(layer: AiohttpRequest) -> None:
    with pytest.raises(NetworkError) as raised:
        await layer.do_request("http://127.0.0.1:9/botTOKEN/getMe", "POST")
    assert not isinstance(raised.value, TimedOut)


async def test_a_full_pool_is_a_timeout_that_does_not_count_against_telegram(
    server: Server, layer: AiohttpRequest
) -> None:
    async def slow(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.4)
        return web.json_response({"ok": True})

    server.handler = slow
    telegram = Dependency("telegram")
    observed = ObservedRequest(layer, telegram)
    first = asyncio.create_task(observed.do_request(server.url, "POST"))
    await asyncio.sleep(0.05)
    with pytest.raises(TimedOut) as raised:
        await observed.do_request(server.url, "POST")
    assert isinstance(raised.value.__cause__, PoolTimeout)
    assert await first == (200, b'{"ok": true}')
    assert not telegram.down

    with pytest.raises(TimedOut):
        await observed.do_request(server.url, "POST", read_timeout=0.1)
    assert telegram.down


async def test_a_request_before_initialize_is_refused() -> None:
    request = AiohttpRequest(
        connection_pool_size=1, connect_timeout=1, read_timeout=1, pool_timeout=1
    )
    with pytest.raises(RuntimeError):
        await request.do_request("http://127.0.0.1:9/", "POST")


def test_proxy_variables_pick_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not http_clients.proxied()
    assert isinstance(application._http_layer(2, 1, read_timeout=1), AiohttpRequest)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert http_clients.proxied()
    assert isinstance(application._http_layer(2, 1, read_timeout=1), HTTPXRequest)


@pytest.fixture(params=["aiohttp", "httpx"])
async def getter(request: pytest.FixtureRequest) -> AsyncIterator[download._Getter]:
    made: download._Getter = (
        download._AiohttpGetter(2, 2) if request.param == "aiohttp" else download._HttpxGetter(2, 2)
    )
    yield made
    await made.aclose()


async def test_both_download_clients_read_the_whole_file(
    server: Server, getter: download._Getter
) -> None:
    async def file(_: web.Request) -> web.StreamResponse:
        return web.Response(body=BODY)

    server.handler = file
    assert await getter(server.url, len(BODY)) == BODY
    with pytest.raises(TooLargeToDownload):
        await getter(server.url, len(BODY) - 1)


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, download._TryAgain), (502, download._TryAgain), (404, BadRequest)],
)
async def test_both_download_clients_map_error_answers_alike(
    server: Server, getter: download._Getter, status: int, error: type[Exception]
) -> None:
    async def failing(_: web.Request) -> web.StreamResponse:
        return web.Response(status=status)

    server.handler = failing
    with pytest.raises(error):
        await getter(server.url, len(BODY))


async def test_both_download_clients_retry_a_file_cut_short(
    server: Server, getter: download._Getter
) -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(len(BODY))})
        await response.prepare(request)
        await response.write(BODY[:1000])
        assert request.transport is not None
        request.transport.close()
        return response

    server.handler = cut
    with pytest.raises(download._TryAgain):
        await getter(server.url, len(BODY))


def test_a_local_servers_file_is_refused_unread_over_the_limit(tmp_path: Path) -> None:
    saved = tmp_path / "photos" / "file_1.jpg"
    saved.parent.mkdir()
    saved.write_bytes(BODY)
    assert download._read_local(saved, len(BODY)) == BODY
    with pytest.raises(TooLargeToDownload) as over:
        download._read_local(saved, len(BODY) - 1)
    assert (over.value.size, over.value.limit) == (len(BODY), len(BODY) - 1)
    with pytest.raises(BadRequest):
        download._read_local(tmp_path / "gone.jpg", len(BODY))
