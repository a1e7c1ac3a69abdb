"""Both intakes keep one contract: stored once, leased, renewed, taken back from a consumer
that died, answered once, set aside, bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis

from bot.storage import redis_intake
from bot.storage.intake import Intake, Received
from bot.storage.redis_storage import RedisStorage
from bot.storage.sqlite_storage import SqliteStorage

LEASE = 0.3


@pytest.fixture(autouse=True)
def look_for_lapsed_leases_at_every_take(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.storage.intake.LAPSED_LOOK_SECONDS", 0.0)


@pytest.fixture(params=["sqlite", "redis"])
async def intake(request: pytest.FixtureRequest) -> AsyncIterator[Intake]:
    if request.param == "redis":
        storage: SqliteStorage | RedisStorage = await RedisStorage.open(
            request.getfixturevalue("redis_url")
        )
    else:
        storage = await SqliteStorage.open(":memory:")
    yield await storage.intake()
    await storage.close()


async def test_an_update_is_stored_once_and_answered_once(intake: Intake) -> None:
    assert await intake.put(1, '{"update_id": 1}', max_backlog=10) is Received.STORED
    assert await intake.put(1, '{"update_id": 1}', max_backlog=10) is Received.DUPLICATE
    [taken] = await intake.take("a", 10, LEASE)
    assert (taken.update_id, taken.payload, taken.deliveries) == (1, '{"update_id": 1}', 1)
    assert await intake.take("b", 10, LEASE) == [], "leased to a"
    assert (await intake.backlog()).unanswered == 1
    await intake.done([taken.entry])
    assert (await intake.backlog()).unanswered == 0
    await asyncio.sleep(LEASE + 0.1)
    assert await intake.take("b", 10, LEASE) == [], "answered: never again"
    assert await intake.put(1, "{}", max_backlog=10) is Received.DUPLICATE, "a day's memory"


async def test_a_dead_consumers_update_goes_to_another_and_a_live_ones_stays(
    intake: Intake,
) -> None:
    for update_id in (1, 2):
        await intake.put(update_id, "{}", max_backlog=10)
    first, second = await intake.take("dead", 1, LEASE), await intake.take("live", 1, LEASE)
    assert [d.update_id for d in first + second] == [1, 2]
    for _ in range(3):
        await asyncio.sleep(LEASE / 2)
        await intake.renew("live", [second[0].entry], LEASE)
    [again] = await intake.take("heir", 10, LEASE)
    assert (again.update_id, again.deliveries) == (1, 2), "the live consumer's stays its own"
    await intake.renew("dead", [again.entry], 60)  # a late renewal cannot take it back
    await asyncio.sleep(LEASE + 0.1)
    lapsed = await intake.take("third", 10, LEASE, often=10, often_after=2)
    assert sorted((d.update_id, d.deliveries) for d in lapsed) == [(1, 3), (2, 2)]


async def test_the_backlog_is_bounded_and_ages(intake: Intake) -> None:
    for update_id in range(3):
        assert await intake.put(update_id, "{}", max_backlog=3) is Received.STORED
    assert await intake.put(9, "{}", max_backlog=3) is Received.FULL
    await asyncio.sleep(0.2)
    backlog = await intake.backlog()
    assert backlog.unanswered == 3
    assert backlog.oldest_seconds >= 0.1
    taken = await intake.take("a", 1, LEASE)
    await intake.set_aside(taken[0], "killed its worker 3 times")
    assert (await intake.backlog()).unanswered == 2
    assert await intake.put(9, "{}", max_backlog=3) is Received.STORED


async def test_a_take_waits_for_an_update_to_arrive(intake: Intake) -> None:
    async def later() -> None:
        await asyncio.sleep(0.1)
        await intake.put(5, "{}", max_backlog=10)

    putting = asyncio.create_task(later())
    [taken] = await intake.take("a", 10, LEASE, wait=1.0)
    assert taken.update_id == 5
    await putting


async def test_sqlite_after_a_restart_takes_what_was_leased_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "bot.sqlite3")
    storage = await SqliteStorage.open(path)
    intake = await storage.intake()
    await intake.put(7, "{}", max_backlog=10)
    await intake.take("before", 10, 60)
    await storage.close()  # as if killed: the lease is still in the file
    reopened = await SqliteStorage.open(path)
    [taken] = await (await reopened.intake()).take("after", 10, 60)
    assert (taken.update_id, taken.deliveries) == (7, 2)
    await reopened.close()


async def test_updates_delivered_often_are_taken_one_at_a_time(intake: Intake) -> None:
    """After one crash, updates are taken again in bulk; after two, as few as asked
    (bot/tg/intake.py takes them one at a time)."""
    for update_id in (1, 2, 3):
        await intake.put(update_id, "{}", max_backlog=10)
    await intake.take("dead", 10, LEASE)
    await asyncio.sleep(LEASE + 0.1)
    again = await intake.take("dead too", 10, LEASE, often=0, often_after=2)
    assert sorted((d.update_id, d.deliveries) for d in again) == [(1, 2), (2, 2), (3, 2)]
    await asyncio.sleep(LEASE + 0.1)
    await intake.put(4, "{}", max_backlog=10)
    taken = await intake.take("live", 10, LEASE, often=1, often_after=2)
    assert sorted((d.update_id, d.deliveries) for d in taken) == [(1, 3), (4, 1)]
    assert await intake.take("other", 10, LEASE, often=0, often_after=2) == []
    later = await intake.take("other", 10, LEASE, often=5, often_after=2)
    assert sorted(d.update_id for d in later) == [2, 3]


async def test_consumers_gone_with_nothing_pending_are_forgotten(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each start is a new consumer: the group must not grow with every restart."""
    monkeypatch.setattr(redis_intake, "CONSUMER_FORGOTTEN_AFTER_MS", 50)
    storage = await RedisStorage.open(redis_url)
    intake = await storage.intake()
    for update_id in (1, 2):
        await intake.put(update_id, "{}", max_backlog=10)
    [answered] = await intake.take("restarted", 1, 60)
    await intake.done([answered.entry])
    await intake.take("died holding one", 1, 60)
    await asyncio.sleep(0.1)
    assert await intake.forget_gone_consumers() == 1
    with redis.Redis.from_url(redis_url, decode_responses=True) as raw:
        left = [c["name"] for c in raw.xinfo_consumers(redis_intake.STREAM, redis_intake.GROUP)]
    assert left == ["died holding one"], "its update is still to be taken over"
    await storage.close()
