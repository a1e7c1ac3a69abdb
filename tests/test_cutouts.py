"""Cut-outs: the API's URLs are parsed and cached, and only allowed https hosts are ever
fetched, redirects included, each download bounded and checked as an image."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trustme
from aiohttp import web

from bot.photo.budget import ByteBudget
from bot.photo.cache import ResultCache
from bot.photo.cutouts import CutoutFetcher, CutoutUnavailable, allowed
from bot.photo.decoding import DecodePool
from bot.photo.preparing import ImageWork
from bot.recognition.parsing import parse_response
from bot.storage.sqlite_storage import SqliteStorage
from tests.fakes.recognizer import success
from tests.fakes.server import LocalServer
from tests.imagegen import png


class CutoutHost(LocalServer):
    """An HTTPS server of cut-outs on 127.0.0.1 that records every path asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def routes(self, app: web.Application) -> None:
        async def serve(request: web.Request) -> web.StreamResponse:
            path = request.path
            self.asked.append(path)
            if path == "/head.png":
                return web.Response(body=png(400, 400), content_type="image/png")
            if path == "/moved":
                raise web.HTTPFound("/head.png")
            if path == "/away":
                raise web.HTTPFound("https://elsewhere.example/head.png")
            if path == "/plain":
                raise web.HTTPFound(f"http://127.0.0.1:{request.url.port}/head.png")
            if path == "/big":
                return web.Response(body=b"\x89PNG" + bytes(2_000_000))
            if path == "/text":
                return web.Response(text="not an image")
            return web.Response(status=403)  # an expired link

        app.router.add_get("/{tail:.*}", serve)

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.port}"


@pytest.fixture
async def host() -> AsyncIterator[tuple[CutoutHost, ssl.SSLContext]]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    server = CutoutHost()
    await server.start(server_context)
    yield server, client_context
    await server.close()


def fetcher(server: CutoutHost, trust: ssl.SSLContext, hosts: list[str]) -> CutoutFetcher:
    client = httpx.AsyncClient(verify=trust, follow_redirects=False)
    images = ImageWork(ByteBudget(100_000_000), DecodePool(1, 5.0))
    return CutoutFetcher(hosts, images, client, max_bytes=1_000_000, timeout=5.0)


async def test_the_api_answers_urls_per_found_segment_and_the_cache_keeps_them(
    tmp_path: Path,
) -> None:
    body = success(face=False)
    result = parse_response(200, {}, json.dumps(body).encode())
    storage = await SqliteStorage.open(str(tmp_path / "bot.sqlite3"))
    writer = ResultCache(storage, ttl=60)
    await writer.put(["sha256:x"], result)
    await writer.drain()  # the write runs behind the caller
    kept = await ResultCache(storage, ttl=60).get("sha256:x")
    await storage.close()
    assert kept is not None
    assert dict(kept.cutouts) == dict(result.cutouts)
    assert dict(result.cutouts) == {
        "head_seg": "https://cdn.example/head_seg.png",
        "cloth_seg": "https://cdn.example/cloth_seg.png",
        "object_seg": "https://cdn.example/object_seg.png",
    }
    assert "face_seg" not in result.cutouts, "no cut-out of what was not found"


def test_only_https_urls_of_allowed_hosts_pass() -> None:
    hosts = ["cdn.example", "127.0.0.1:8443"]
    assert allowed("https://cdn.example/a.png", hosts)
    assert allowed("https://CDN.example:443/a.png", hosts)
    assert allowed("https://127.0.0.1:8443/a.png", hosts)
    assert not allowed("http://cdn.example/a.png", hosts)
    assert not allowed("https://cdn.example:8443/a.png", hosts)
    assert not allowed("https://user:pw@cdn.example/a.png", hosts)
    assert not allowed("https://cdn.example.evil.test/a.png", hosts)
    assert not allowed("https://127.0.0.1/a.png", hosts)
    assert not allowed("https://[::1/a.png", hosts)


async def test_an_allowed_cut_out_is_fetched_and_checked_as_an_image(
    host: tuple[CutoutHost, ssl.SSLContext],
) -> None:
    server, trust = host
    where = server.base.removeprefix("https://")
    fetch = fetcher(server, trust, [where])
    got = await fetch.fetch(f"{server.base}/head.png")
    moved = await fetch.fetch(f"{server.base}/moved")
    assert (got.width, got.height, got.mime) == (400, 400, "image/png")
    assert moved.data == got.data
    for path, reason in [
        ("/expired", "HTTP 403"),
        ("/big", "over 1000000"),
        ("/text", "not an image"),
        ("/away", "not an allowed"),
        ("/plain", "not an allowed"),
    ]:
        with pytest.raises(CutoutUnavailable, match=reason):
            await fetch.fetch(f"{server.base}{path}")
    await fetch.aclose()


async def test_a_url_off_the_allow_list_is_never_requested(
    host: tuple[CutoutHost, ssl.SSLContext],
) -> None:
    server, trust = host
    fetch = fetcher(server, trust, ["cdn.example"])
    with pytest.raises(CutoutUnavailable, match="not an allowed"):
        await fetch.fetch(f"{server.base}/head.png")
    # The fake API's own URLs (cdn.example) with no such host allowed: nothing asked.
    fetch = fetcher(server, trust, [])
    for url in success()["data"]["task_result"]["images"]:
        with pytest.raises(CutoutUnavailable):
            await fetch.fetch(url["url"])
    assert server.asked == []
    await fetch.aclose()
