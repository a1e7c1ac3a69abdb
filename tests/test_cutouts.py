"""Cut-outs: the API's URLs are parsed and cached, and only allowed https hosts are ever
fetched, redirects included, each download bounded and checked as an image."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.moderation.callbacks import CutoutPress, encode, parse
from bot.photo.budget import ByteBudget
from bot.photo.cache import ResultCache
from bot.photo.cutouts import (
    KEPT_SECONDS,
    CutoutFetcher,
    CutoutOffers,
    CutoutUnavailable,
    Gone,
    NotYours,
    Ready,
    Taken,
    Unreachable,
    allowed,
)
from bot.photo.decoding import DecodePool
from bot.photo.preparing import ImageWork
from bot.recognition.parsing import parse_response
from bot.recognition.results import RecognitionResult
from bot.storage.sqlite_storage import SqliteStorage
from tests.fakes.cutouts import CutoutHost, tls
from tests.fakes.recognizer import success


@pytest.fixture
async def host() -> AsyncIterator[tuple[CutoutHost, ssl.SSLContext]]:
    server_context, client_context = tls()
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
    where = server.root.removeprefix("https://")
    fetch = fetcher(server, trust, [where])
    got = await fetch.fetch(f"{server.root}/head.png")
    moved = await fetch.fetch(f"{server.root}/moved")
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
            await fetch.fetch(f"{server.root}{path}")
    await fetch.aclose()


async def test_a_url_off_the_allow_list_is_never_requested(
    host: tuple[CutoutHost, ssl.SSLContext],
) -> None:
    server, trust = host
    fetch = fetcher(server, trust, ["cdn.example"])
    with pytest.raises(CutoutUnavailable, match="not an allowed"):
        await fetch.fetch(f"{server.root}/head.png")
    # The fake API's own URLs (cdn.example) with no such host allowed: nothing asked.
    fetch = fetcher(server, trust, [])
    for url in success()["data"]["task_result"]["images"]:
        with pytest.raises(CutoutUnavailable):
            await fetch.fetch(url["url"])
    assert server.asked == []
    await fetch.aclose()


# -- offers and presses -------------------------------------------------------------------

ASKER = 7
KEY = "file:unique-1"


class Clock:
    """Time the test moves, from now (storage sweeps what is expired by the real clock)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def offers_for(
    server: CutoutHost,
    trust: ssl.SSLContext,
    storage: SqliteStorage,
    clock: Clock,
    kept: float = 24 * 3600,
) -> tuple[CutoutOffers, ResultCache]:
    """Offers over a cache that keeps results for `kept` seconds (its TTL, as the bot's)."""
    cache = ResultCache(storage, ttl=kept, clock=clock)
    fetch = fetcher(server, trust, [server.host])
    return CutoutOffers(
        storage, cache, fetch, ByteBudget(100_000_000), cache_ttl=24 * 3600, clock=clock
    ), cache


def result_at(base: str, **kwargs: Any) -> RecognitionResult:
    return parse_response(200, {}, json.dumps(success(cutouts_at=base, **kwargs)).encode())


async def test_only_the_asker_gets_the_cut_outs_once_however_often_pressed(
    host: tuple[CutoutHost, ssl.SSLContext], storage: SqliteStorage
) -> None:
    server, trust = host
    offers, cache = offers_for(server, trust, storage, Clock())
    result = result_at(server.root, face=False)
    await cache.put([KEY], result)
    offer_id = await offers.offer(ASKER, [KEY], result, cached=False)
    assert offer_id is not None
    assert len(encode(CutoutPress(offer_id)).encode()) <= 64

    async with offers.press(offer_id, ASKER + 1) as press:
        assert press == NotYours()
    assert server.asked == [], "nothing is fetched for someone else's press"
    async with offers.press(offer_id, ASKER) as press:
        assert isinstance(press, Ready)
        assert [c.segment for c in press.cutouts] == ["head_seg", "cloth_seg", "object_seg"]
        async with offers.press(offer_id, ASKER) as again:
            assert again == Taken(), "a second press while the first sends"
    async with offers.press(offer_id, ASKER) as again:
        assert again == Taken(), "and after it sent"
    await offers.retry_later(offer_id)  # the send failed: the next press may try again
    async with offers.press(offer_id, ASKER) as press:
        assert isinstance(press, Ready)
    assert len(server.asked) == 6

    # Button data names an offer, never a URL: a made-up id finds nothing to fetch.
    async with offers.press("0123456789abcdef", ASKER) as press:
        assert press == Gone("the offer expired")
    assert parse(f"k:{server.root}/head_seg.png") is None
    assert len(server.asked) == 6


async def test_no_offer_without_a_url_the_bot_may_fetch(
    host: tuple[CutoutHost, ssl.SSLContext], storage: SqliteStorage
) -> None:
    server, trust = host
    offers, _ = offers_for(server, trust, storage, Clock())
    assert await offers.offer(ASKER, [KEY], result_at("https://cdn.example"), cached=False) is None
    elsewhere = result_at(server.root, elsewhere={"head_seg": "https://cdn.example"})
    assert await offers.offer(ASKER, [KEY], elsewhere, cached=False) is not None
    none_found = result_at(server.root, head=False, face=False, cloth=False, obj=False)
    assert await offers.offer(ASKER, [KEY], none_found, cached=False) is None
    assert await offers.offer(ASKER, [], result_at(server.root), cached=False) is None


@pytest.mark.parametrize(
    ("age", "cached", "gone"),
    [
        (KEPT_SECONDS - 60, False, False),
        (KEPT_SECONDS + 60, False, True),
        # A result from the cache may be up to its TTL (24 h) old already.
        (KEPT_SECONDS - 24 * 3600 - 60, True, False),
        (KEPT_SECONDS - 24 * 3600 + 60, True, True),
    ],
)
async def test_an_offer_ends_when_kling_stops_keeping_the_cut_outs(
    host: tuple[CutoutHost, ssl.SSLContext],
    storage: SqliteStorage,
    age: float,
    cached: bool,
    gone: bool,
) -> None:
    server, trust = host
    clock = Clock()
    # A cache that outlives the offer, so only the offer's own age decides.
    offers, cache = offers_for(server, trust, storage, clock, kept=60 * 24 * 3600)
    result = result_at(server.root)
    await cache.put([KEY], result)
    offer_id = await offers.offer(ASKER, [KEY], result, cached=cached)
    assert offer_id is not None
    clock.now += age
    async with offers.press(offer_id, ASKER) as press:
        assert isinstance(press, Gone) is gone


async def test_expired_links_and_a_result_gone_from_the_cache_are_no_longer_available(
    host: tuple[CutoutHost, ssl.SSLContext], storage: SqliteStorage
) -> None:
    server, trust = host
    clock = Clock()
    offers, cache = offers_for(server, trust, storage, clock)
    result = result_at(server.root)
    await cache.put([KEY], result)
    await cache.drain()
    first = await offers.offer(ASKER, [KEY], result, cached=False)
    second = await offers.offer(ASKER, [KEY], result, cached=False)
    assert first is not None
    assert second is not None

    server.expired = True
    async with offers.press(first, ASKER) as press:
        assert press == Gone("HTTP 403")
    asked = len(server.asked)
    async with offers.press(first, ASKER) as press:
        assert isinstance(press, Gone)
    assert len(server.asked) == asked, "a gone offer fetches nothing again"

    clock.now += 25 * 3600  # the cached result (24 h) is gone; the offer (30 days) is not
    async with offers.press(second, ASKER) as press:
        assert press == Gone("the cached result expired")


async def test_a_host_that_may_recover_leaves_the_offer_for_a_later_press(
    host: tuple[CutoutHost, ssl.SSLContext], storage: SqliteStorage
) -> None:
    server, trust = host
    offers, cache = offers_for(server, trust, storage, Clock())
    result = result_at(server.root, elsewhere={"head_seg": f"{server.root}/busy"})
    await cache.put([KEY], result)
    offer_id = await offers.offer(ASKER, [KEY], result, cached=False)
    assert offer_id is not None
    async with offers.press(offer_id, ASKER) as press:
        assert press == Unreachable("HTTP 503")
    async with offers.press(offer_id, ASKER) as press:
        assert press == Unreachable("HTTP 503"), "tried again, not taken"


async def test_a_cut_out_that_breaks_a_rule_is_left_out_of_the_album(
    host: tuple[CutoutHost, ssl.SSLContext], storage: SqliteStorage
) -> None:
    server, trust = host
    offers, cache = offers_for(server, trust, storage, Clock())
    result = result_at(server.root, face=False, elsewhere={"head_seg": f"{server.root}/text"})
    await cache.put([KEY], result)
    offer_id = await offers.offer(ASKER, [KEY], result, cached=False)
    assert offer_id is not None
    async with offers.press(offer_id, ASKER) as press:
        assert isinstance(press, Ready)
        assert [c.segment for c in press.cutouts] == ["cloth_seg", "object_seg"]
    only_bad = result_at(
        server.root,
        face=False,
        cloth=False,
        obj=False,
        elsewhere={"head_seg": f"{server.root}/text"},
    )
    await cache.put([KEY], only_bad)
    offer_id = await offers.offer(ASKER, [KEY], only_bad, cached=False)
    assert offer_id is not None
    async with offers.press(offer_id, ASKER) as press:
        assert press == Gone("not an image we accept: NotAnImage")
