"""Both backends keep the same contract: settings, quotas, cache, counts, claims."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.moderation import Action, ChatSettings
from bot.redis_storage import RedisStorage
from bot.results import Segment
from bot.storage import SqliteStorage, Storage


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Storage]:
    opened: Storage
    if request.param == "redis":
        opened = await RedisStorage.open(request.getfixturevalue("redis_url"))
    else:
        opened = await SqliteStorage.open(":memory:")
    yield opened
    await opened.close()


async def test_settings_default_update_and_survive_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "nested" / "bot.sqlite3")
    storage = await SqliteStorage.open(path)
    assert await storage.chat_settings(1) == ChatSettings()
    wanted = ChatSettings(moderate=True, forbid=frozenset({Segment.FACE}), action=Action.REPORT)
    assert await storage.update_chat_settings(1, lambda _: wanted) == wanted
    await storage.close()

    reopened = await SqliteStorage.open(path)
    assert await reopened.chat_settings(1) == wanted
    assert await reopened.chat_settings(2) == ChatSettings()
    await reopened.close()


async def test_concurrent_setting_changes_all_apply(backend: Storage) -> None:
    storage = backend
    changes = [
        lambda s: s.forbidding(Segment.FACE),
        lambda s: s.requiring(Segment.CLOTHING),
        lambda s: replace(s, moderate=True),
        lambda s: replace(s, action=Action.DELETE),
    ]
    await asyncio.gather(*(storage.update_chat_settings(5, change) for change in changes))
    assert await storage.chat_settings(5) == ChatSettings(
        moderate=True,
        forbid=frozenset({Segment.FACE}),
        require=frozenset({Segment.CLOTHING}),
        action=Action.DELETE,
    )


async def test_a_change_that_returns_none_stores_nothing(backend: Storage) -> None:
    storage = backend
    assert await storage.update_chat_settings(5, lambda _: None) == ChatSettings()


async def test_quota_is_all_or_nothing_and_refundable(backend: Storage) -> None:
    storage = backend
    day = "2026-11-25"
    charges = [("global", 3), ("user:1", 1)]
    assert await storage.take_quota(day, charges) is None
    assert await storage.take_quota(day, charges) == "user:1"
    assert await storage.quota_used(day, "global") == 1, "a refused take counts nothing"
    await storage.refund_quota(day, ["global", "user:1"])
    assert await storage.quota_used(day, "user:1") == 0
    results = await asyncio.gather(*(storage.take_quota(day, [("global", 3)]) for _ in range(5)))
    assert results.count(None) == 3
    assert await storage.quota_used("2026-11-26", "global") == 0


async def test_sqlite_cache_entries_expire(storage: SqliteStorage) -> None:
    await storage.cache_result(["a", "b"], "{}", now=100.0, expires_at=200.0)
    assert await storage.cached_result("a", 150.0) == "{}"
    assert await storage.cached_result("b", 199.9) == "{}"
    assert await storage.cached_result("a", 200.0) is None
    await storage.cache_result(["c"], "[]", now=300.0, expires_at=400.0)
    assert await storage.cached_result("a", 0.0) is None, "expired rows are swept on writes"


async def test_daily_counts(backend: Storage) -> None:
    storage = backend
    for name, count in (("photos", 1), ("photos", 2), ("api_calls", 1)):
        await storage.add_count("2026-11-25", name, count)
    assert await storage.counts("2026-11-25") == {"photos": 3, "api_calls": 1}
    assert await storage.counts("2026-11-26") == {}


async def test_cached_results_expire_in_both_backends(backend: Storage) -> None:
    now = time.time()
    await backend.cache_result(["a", "b"], "{}", now=now, expires_at=now + 1)
    assert await backend.cached_result("b", time.time()) == "{}"
    await asyncio.sleep(1.2)
    assert await backend.cached_result("a", time.time()) is None


async def test_an_update_and_a_flight_are_claimed_once(redis_url: str) -> None:
    first, second = await RedisStorage.open(redis_url), await RedisStorage.open(redis_url)
    claims = await asyncio.gather(first.claim_update(42), second.claim_update(42))
    assert sorted(claims) == [False, True]
    assert await first.claim_flight("k", 5)
    assert not await second.claim_flight("k", 5)
    await first.end_flight("k")
    assert await second.claim_flight("k", 5)
    await first.close()
    await second.close()
