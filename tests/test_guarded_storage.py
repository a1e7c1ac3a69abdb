"""Storage outages, for real: a redis-server stopped or frozen, a SQLite file corrupted under
the running bot. Each method gets its fallback, the outage is logged once when it starts and
once when it ends, and what could not be done is done when storage is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import redis

from bot.health import Dependency
from bot.moderation import ChatSettings, Mode
from bot.photo.cache import ResultCache
from bot.recognition.results import RecognitionResult
from bot.stats import Stats
from bot.storage import Storage
from bot.storage.guard import StorageUnavailable
from bot.storage.guarded import GuardedStorage
from bot.storage.redis_storage import RedisStorage
from bot.storage.sqlite_storage import SqliteStorage
from tests.redis_process import RedisProcess

DAY = "2026-11-25"
FLIGHT_KEY = "segment-bot:flight:sha256:abc"


@dataclass
class Outage:
    """A guarded backend and how to break and mend what is under it."""

    storage: GuardedStorage
    health: Dependency
    begin: Callable[[], None]
    end: Callable[[], None] | None  # None: this kind of damage is not undone


def _corrupt(path: Path) -> None:
    """Overwrite the database, its write-ahead log and the log's index in place, under the
    open connection (as root, taking permissions away would not stop it)."""
    for file in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))):
        if file.exists():
            with file.open("r+b") as damaged:
                damaged.write(b"not a database " * 4096)


@pytest.fixture(params=["redis stopped", "redis frozen", "sqlite corrupted"])
async def outage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Outage]:
    health = Dependency("storage")
    inner: Storage
    if request.param == "sqlite corrupted":
        path = tmp_path / "bot.sqlite3"
        inner = await SqliteStorage.open(str(path))
        begin, end = (lambda: _corrupt(path)), None
    else:
        server: RedisProcess = request.getfixturevalue("redis_process")
        inner = await RedisStorage.open(server.url)
        if request.param == "redis stopped":
            begin, end = server.stop, server.start
        else:
            begin, end = server.pause, server.resume
    # A short timeout for the frozen server, and frequent pings.
    guarded = GuardedStorage(inner, health, timeout=0.5, probe_interval=0.05)
    yield Outage(guarded, health, begin, end)
    if request.param == "redis frozen":
        end()
    await guarded.close()


def _warnings(records: list[logging.LogRecord], text: str) -> list[str]:
    return [
        r.getMessage()
        for r in records
        if r.levelno == logging.WARNING and r.name == "bot.health" and text in r.getMessage()
    ]


async def test_in_an_outage_each_method_gets_its_fallback(
    outage: Outage, log_records: list[logging.LogRecord]
) -> None:
    storage = outage.storage
    moderated = ChatSettings(mode=Mode.ON)
    await storage.update_chat_settings(1, lambda _: moderated)
    assert await storage.chat_settings(1) == moderated
    outage.begin()

    assert await storage.chat_settings(1) == moderated, "the last settings read"
    assert await storage.chat_settings(2) == ChatSettings(), "the defaults: a group stays quiet"
    charges = [("global", 5), ("user:1", 1)]
    assert await storage.take_quota(DAY, charges) is None
    assert await storage.take_quota(DAY, charges) == "user:1", "the limits still hold"
    await storage.refund_quota(DAY, ["global", "user:1"])
    assert await storage.take_quota(DAY, charges) is None, "a refund gives the use back"
    assert await storage.cached_result("file:1", 0.0) is None
    await storage.cache_result(["file:1"], "{}", now=0.0, expires_at=1.0)
    assert await storage.claim_flight("k", 5.0)
    await storage.end_flight("k")
    assert await storage.remember_image(-5, 1, "file:a", 10.0**10), "every image is new"
    for no_fallback in (
        lambda: storage.is_allowed(-5, ["file:a"]),
        lambda: storage.add_warning(-5, 7, 1.0, 0.0),
        lambda: storage.load_report("r", 0.0),
        lambda: storage.claim_press("r", "undo", "{}"),
        lambda: storage.update_chat_settings(1, lambda s: replace(s, mode=Mode.OFF)),
        lambda: storage.quota_used(DAY, "user:1"),
        lambda: storage.add_count(DAY, "photos", 1),
        lambda: storage.counts(DAY),
    ):
        with pytest.raises(StorageUnavailable):
            await no_fallback()

    assert outage.health.down
    [started] = _warnings(log_records, "is unavailable")
    # SQLite holds every chat's settings in memory: there the quota is the first to fail.
    assert "chat_settings" in started or "take_quota: DatabaseError" in started, (
        "the first failing operation and its cause"
    )
    assert not _warnings(log_records, "is back"), "no call and no ping got through"
    assert not [r for r in log_records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("outage", ["redis stopped"], indirect=True)
async def test_storage_back_ends_the_outage_and_releases_the_calls_it_held(
    outage: Outage, redis_process: RedisProcess, log_records: list[logging.LogRecord]
) -> None:
    storage = outage.storage
    with redis.Redis.from_url(redis_process.url) as raw:
        raw.set("survivor", 1)  # saved with the lock when the server stops
        assert await storage.claim_flight("sha256:abc", 60.0)
        outage.begin()
        await storage.end_flight("sha256:abc")  # fails: storage is down
        assert outage.end is not None
        outage.end()
        await _until_up(outage.health)
        assert raw.exists("survivor"), "the data, the lock with it, outlived the outage"
        assert not raw.exists(FLIGHT_KEY), "released as soon as storage was back"
    assert await storage.cached_result("file:1", 0.0) is None

    assert len(_warnings(log_records, "is unavailable")) == 1
    [ended] = _warnings(log_records, "is back")
    assert "failed calls" in ended


async def _until_up(health: Dependency) -> None:
    """Wait (without traffic: the guard pings by itself) until the outage is over."""
    for _ in range(200):
        if not health.down:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("storage never came back")


async def test_while_down_calls_fall_back_without_reaching_storage(
    redis_process: RedisProcess,
) -> None:
    reached: list[str] = []

    class Counting:
        def __init__(self, inner: RedisStorage) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            reached.append(name)
            return getattr(self._inner, name)

    inner = await RedisStorage.open(redis_process.url)
    storage = GuardedStorage(Counting(inner), Dependency("storage"), probe_interval=3600)  # type: ignore[arg-type]
    redis_process.stop()
    for _ in range(50):
        assert await storage.cached_result("file:1", 0.0) is None
    assert reached == ["cached_result"], "one call found the outage; the others fell back"
    await inner.close()


async def test_stats_keep_what_they_could_not_write(redis_process: RedisProcess) -> None:
    health = Dependency("storage")
    storage = GuardedStorage(
        await RedisStorage.open(redis_process.url), health, probe_interval=0.05
    )
    stats = Stats(storage)
    stats.count("photos")
    redis_process.stop()
    with pytest.raises(StorageUnavailable):
        await stats.flush()
    stats.count("photos")
    redis_process.start()
    await _until_up(health)
    assert (await stats.today())["photos"] == 2
    await storage.close()


async def test_a_waiter_stops_waiting_for_a_lock_that_is_never_released(
    redis_url: str,
) -> None:
    storage = await RedisStorage.open(redis_url)
    assert await storage.claim_flight("k", 60.0), "taken by a process that then died"
    cache = ResultCache(storage, ttl=60, wait_seconds=0.3, poll_seconds=0.05)
    computed: list[str] = []

    async def compute() -> RecognitionResult:
        computed.append("called")
        return RecognitionResult({"head_seg": True})

    result, shared = await cache.shared("k", compute)
    assert (result.segments, shared, computed) == ({"head_seg": True}, False, ["called"])
    assert not await storage.claim_flight("k", 60.0), "the other process's lock is left alone"
    await storage.close()


async def test_an_error_in_the_callers_change_is_the_callers_not_an_outage(
    tmp_path: Path,
) -> None:
    health = Dependency("storage")
    inner = await SqliteStorage.open(str(tmp_path / "bot.sqlite3"))
    storage = GuardedStorage(inner, health)

    def broken(current: ChatSettings) -> ChatSettings:
        return replace(current, warn_limit=int("²"))

    with pytest.raises(ValueError, match="invalid literal"):
        await storage.update_chat_settings(7, broken)
    assert not health.down
    saved = await storage.update_chat_settings(7, lambda s: replace(s, mode=Mode.ON))
    assert saved.mode is Mode.ON
    await storage.close()


async def test_back_means_fresh_connections_a_round_trip_and_the_outages_quota_written(
    redis_process: RedisProcess,
) -> None:
    steps: list[str] = []

    class Recording:
        def __init__(self, inner: RedisStorage) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> object:
            if name in {"reconnect", "ping", "add_quota"}:
                steps.append(name)
            return getattr(self._inner, name)

    inner = await RedisStorage.open(redis_process.url)
    health = Dependency("storage")
    storage = GuardedStorage(Recording(inner), health, timeout=0.5, probe_interval=0.05)  # type: ignore[arg-type]
    redis_process.stop()
    charges = [("global", 10), ("user:1", 5)]
    for _ in range(3):  # counted in memory
        assert await storage.take_quota(DAY, charges) is None
    await storage.refund_quota(DAY, ["global", "user:1"])
    redis_process.start()
    await _until_up(health)
    last = len(steps) - 1 - steps[::-1].index("reconnect")
    assert steps[last:] == ["reconnect", "ping", "add_quota"]
    assert await inner.quota_used(DAY, "global") == 2, "three taken, one given back"
    assert await inner.quota_used(DAY, "user:1") == 2
    await storage.close()
