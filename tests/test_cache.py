"""The result cache's in-process front and its storage writes behind the replies."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence

import pytest

from bot.photo.cache import ResultCache
from bot.recognition.results import RecognitionResult
from bot.storage.redis_storage import RedisStorage
from bot.storage.sqlite_storage import SqliteStorage

RESULT = RecognitionResult({"head_seg": True}, "req-1")


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _CountedSqlite(SqliteStorage):
    """SQLite that counts cache reads and holds cache writes until `release` is set."""

    reads = 0
    writes_started = 0
    fail_writes = False
    release: asyncio.Event

    async def cached_result(self, key: str, now: float) -> str | None:
        self.reads += 1
        return await super().cached_result(key, now)

    async def cache_result(
        self, keys: Sequence[str], result: str, *, now: float, expires_at: float
    ) -> None:
        self.writes_started += 1
        await self.release.wait()
        if self.fail_writes:
            raise sqlite3.OperationalError("database is locked")
        await super().cache_result(keys, result, now=now, expires_at=expires_at)


class _HeldRedis(RedisStorage):
    """A Redis replica whose cache writes wait for `release`."""

    release: asyncio.Event

    async def cache_result(
        self, keys: Sequence[str], result: str, *, now: float, expires_at: float
    ) -> None:
        await self.release.wait()
        await super().cache_result(keys, result, now=now, expires_at=expires_at)


@pytest.fixture
async def counted() -> AsyncIterator[_CountedSqlite]:
    storage = await _CountedSqlite.open(":memory:")
    storage.release = asyncio.Event()
    yield storage
    await storage.close()


class _Calls:
    def __init__(self) -> None:
        self.made = 0

    async def __call__(self) -> RecognitionResult:
        self.made += 1
        await asyncio.sleep(0)
        return RESULT


async def test_a_result_stored_here_is_read_without_a_storage_round_trip(
    counted: _CountedSqlite,
) -> None:
    counted.release.set()
    cache = ResultCache(counted, ttl=60)
    await cache.put(["file:a", "sha256:b"], RESULT)
    assert await cache.get("file:a") == RESULT
    assert await cache.get("sha256:b") == RESULT
    assert counted.reads == 0
    assert await cache.get("file:other") is None
    assert counted.reads == 1, "a miss still asks storage (another replica may have it)"


async def test_the_front_forgets_a_result_when_its_ttl_ends(counted: _CountedSqlite) -> None:
    counted.release.set()
    clock = _Clock()
    cache = ResultCache(counted, ttl=60, clock=clock)
    await cache.put(["file:a"], RESULT)
    await cache.drain()
    clock.now += 61
    assert await cache.get("file:a") is None


async def test_a_repeat_between_the_call_and_its_storage_write_makes_no_call(
    counted: _CountedSqlite,
) -> None:
    cache = ResultCache(counted, ttl=60)
    calls = _Calls()
    assert await cache.shared("sha256:x", calls, also=["file:x"]) == (RESULT, False)
    await asyncio.sleep(0)
    assert counted.writes_started == 1, "the write has started but is held"
    assert await cache.shared("sha256:x", calls) == (RESULT, True)
    assert await cache.get("file:x") == RESULT
    assert calls.made == 1
    counted.release.set()
    await cache.drain()
    assert await counted.cached_result("file:x", 1e12 - 1) is None, "stored with its expiry"
    assert await ResultCache(counted, ttl=60).get("file:x") == RESULT, "a new process sees it"


class _SlowReads(_CountedSqlite):
    """SQLite whose cache reads wait for `gate` while `hold` is set (and whose writes
    wait for `release`)."""

    hold = False
    gate: asyncio.Event

    async def cached_result(self, key: str, now: float) -> str | None:
        if self.hold:
            await self.gate.wait()
        return await super().cached_result(key, now)


async def test_a_call_that_ends_while_a_repeat_reads_storage_is_not_made_again() -> None:
    """The repeat missed the front before the first call ended and looks for a flight
    after it ended: it must find the result, not send the image again."""
    storage = await _SlowReads.open(":memory:")
    storage.gate, storage.release = asyncio.Event(), asyncio.Event()
    cache = ResultCache(storage, ttl=60)
    answer = asyncio.Event()

    async def first_call() -> RecognitionResult:
        await answer.wait()
        return RESULT

    first = asyncio.create_task(cache.shared("sha256:x", first_call))
    await asyncio.sleep(0.05)  # the first call is in flight
    storage.hold = True
    calls = _Calls()
    repeat = asyncio.create_task(cache.shared("sha256:x", calls))
    await asyncio.sleep(0.05)  # the repeat waits on its storage read
    answer.set()
    assert await first == (RESULT, False)
    storage.gate.set()
    assert await repeat == (RESULT, True)
    assert calls.made == 0
    storage.release.set()
    await cache.drain()
    await storage.close()


async def test_another_replica_waits_for_the_write_not_just_the_call(redis_url: str) -> None:
    first = await _HeldRedis.open(redis_url)
    second = await RedisStorage.open(redis_url)
    first.release = asyncio.Event()
    try:
        here = ResultCache(first, ttl=60, poll_seconds=0.01)
        there = ResultCache(second, ttl=60, poll_seconds=0.01)
        calls_here, calls_there = _Calls(), _Calls()
        assert await here.shared("sha256:y", calls_here) == (RESULT, False)
        joining = asyncio.create_task(there.shared("sha256:y", calls_there))
        await asyncio.sleep(0.1)
        assert not joining.done(), "the flight lasts until the result is stored"
        first.release.set()
        result, cached = await asyncio.wait_for(joining, 5)
        assert (result.segments, cached) == (RESULT.segments, True)
        assert calls_there.made == 0
        await here.drain()
    finally:
        await first.close()
        await second.close()


async def test_a_failed_write_is_logged_and_the_answer_stands(
    counted: _CountedSqlite, log_records: list[logging.LogRecord]
) -> None:
    counted.fail_writes = True
    cache = ResultCache(counted, ttl=60)
    counted.release.set()
    assert await cache.shared("sha256:z", _Calls()) == (RESULT, False)
    await cache.drain()
    assert await cache.get("sha256:z") == RESULT
    [line] = [r for r in log_records if r.name == "bot.photo.cache"]
    assert line.levelno == logging.WARNING
    assert line.getMessage() == "result cache write failed: OperationalError"


class _StaleFirstRead(RedisStorage):
    """A replica whose first cache read comes back before another replica's result lands:
    the race of issue 20 (miss, the holder stores and lets go, then this one claims)."""

    stale = True

    async def cached_result(self, key: str, now: float) -> str | None:
        if self.stale:
            self.stale = False
            return None
        return await super().cached_result(key, now)


async def test_a_replica_that_wins_the_key_reads_the_cache_again(redis_url: str) -> None:
    first = await RedisStorage.open(redis_url)
    late = await _StaleFirstRead.open(redis_url)
    try:
        here = ResultCache(first, ttl=60)
        assert await here.shared("sha256:race", _Calls()) == (RESULT, False)
        await here.drain()  # stored, and the key let go
        calls = _Calls()
        result, cached = await ResultCache(late, ttl=60).shared("sha256:race", calls)
        assert (result.segments, cached, calls.made) == (RESULT.segments, True, 0)
        assert await late.claim_flight("sha256:race", 5), "the key was let go again"
    finally:
        await first.close()
        await late.close()


async def test_a_dead_holders_key_is_free_within_its_lease(redis_url: str) -> None:
    dead = await RedisStorage.open(redis_url)
    assert await dead.claim_flight("sha256:dead", 1.0)
    await dead.close()  # it died: nobody renews its claim
    there = await RedisStorage.open(redis_url)
    try:
        calls = _Calls()
        cache = ResultCache(there, ttl=60, lease_seconds=1.0, wait_seconds=30, poll_seconds=0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await cache.shared("sha256:dead", calls) == (RESULT, False)
        # The lease (1 s here, 6 s by default), not the 30 s wait, decided.
        assert loop.time() - started < 5
        assert calls.made == 1
        await cache.drain()
    finally:
        await there.close()


async def test_a_live_holder_keeps_its_key_past_its_lease(redis_url: str) -> None:
    first, second = await RedisStorage.open(redis_url), await RedisStorage.open(redis_url)
    try:
        here = ResultCache(first, ttl=60, lease_seconds=0.3, poll_seconds=0.02)
        there = ResultCache(second, ttl=60, lease_seconds=0.3, poll_seconds=0.02)

        async def slow() -> RecognitionResult:
            await asyncio.sleep(1.2)  # four leases: renewed every 0.1 s
            return RESULT

        holding = asyncio.create_task(here.shared("sha256:slow", slow))
        await asyncio.sleep(0.1)
        calls = _Calls()
        result, cached = await there.shared("sha256:slow", calls)
        assert (result.segments, cached, calls.made) == (RESULT.segments, True, 0)
        assert await holding == (RESULT, False)
        await here.drain()
    finally:
        await first.close()
        await second.close()
