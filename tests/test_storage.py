"""Both backends keep the same contract: settings, quotas, cache, counts, claims."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.moderation import Action, ChatSettings, Mode
from bot.recognition.results import Segment
from bot.storage import Backend
from bot.storage.redis_storage import RedisStorage
from bot.storage.sqlite_storage import SqliteStorage


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    opened: Backend
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
    wanted = ChatSettings(mode=Mode.ON, forbid=frozenset({Segment.FACE}), action=Action.REPORT)
    assert await storage.update_chat_settings(1, lambda _: wanted) == wanted
    await storage.close()

    reopened = await SqliteStorage.open(path)
    assert await reopened.chat_settings(1) == wanted
    assert await reopened.chat_settings(2) == ChatSettings()
    await reopened.close()


@pytest.mark.parametrize("held", [10_000, 2], ids=["all rows held", "more rows than held"])
async def test_settings_read_right_whether_or_not_every_row_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: int
) -> None:
    monkeypatch.setattr("bot.storage.sqlite_storage._SETTINGS_CACHE_SIZE", held)
    path = str(tmp_path / "bot.sqlite3")
    storage = await SqliteStorage.open(path)
    wanted = {chat: ChatSettings(mode=Mode.ON, warn_limit=chat) for chat in range(1, 6)}
    for chat, settings in wanted.items():
        await storage.update_chat_settings(chat, lambda _, s=settings: s)
    await storage.close()

    reopened = await SqliteStorage.open(path)
    for chat in [5, 1, 9, 3, 2, 4]:
        assert await reopened.chat_settings(chat) == wanted.get(chat, ChatSettings())
    await reopened.migrate_chat(3, 1003)
    assert await reopened.chat_settings(1003) == wanted[3]
    assert await reopened.chat_settings(3) == ChatSettings()
    await reopened.close()


async def test_quota_counts_written_behind_survive_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "bot.sqlite3")
    storage = await SqliteStorage.open(path)
    day = "2026-11-25"
    for _ in range(3):
        assert await storage.take_quota(day, [("global", 10), ("user:1", 3)]) is None
    await storage.refund_quota(day, ["user:1"])
    await storage.close()

    reopened = await SqliteStorage.open(path)
    assert await reopened.quota_used(day, "user:1") == 2
    assert await reopened.take_quota(day, [("global", 10), ("user:1", 3)]) is None
    assert await reopened.take_quota(day, [("global", 10), ("user:1", 3)]) == "user:1"
    assert await reopened.take_quota("2026-11-26", [("user:1", 3)]) is None, "a new day"
    await reopened.close()

    again = await SqliteStorage.open(path)
    assert await again.quota_used(day, "global") == 0, "earlier days are swept"
    assert await again.quota_used("2026-11-26", "user:1") == 1
    await again.close()


async def test_concurrent_setting_changes_all_apply(backend: Backend) -> None:
    storage = backend
    changes = [
        lambda s: s.forbidding(Segment.FACE),
        lambda s: s.requiring(Segment.CLOTHING),
        lambda s: replace(s, mode=Mode.ON),
        lambda s: replace(s, action=Action.DELETE),
    ]
    await asyncio.gather(*(storage.update_chat_settings(5, change) for change in changes))
    assert await storage.chat_settings(5) == ChatSettings(
        mode=Mode.ON,
        forbid=frozenset({Segment.FACE}),
        require=frozenset({Segment.CLOTHING}),
        action=Action.DELETE,
    )


async def test_a_change_that_returns_none_stores_nothing(backend: Backend) -> None:
    storage = backend
    assert await storage.update_chat_settings(5, lambda _: None) == ChatSettings()


async def test_quota_is_all_or_nothing_and_refundable(backend: Backend) -> None:
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


async def test_a_named_charge_is_counted_once_until_refunded(backend: Backend) -> None:
    day, charges = "2026-11-25", [("global", 10), ("user:1", 2)]
    for _ in range(3):  # the same update's image, run again after two crashes
        assert await backend.take_quota(day, charges, "update-7:unique-1") is None
    assert await backend.quota_used(day, "user:1") == 1
    assert await backend.take_quota(day, charges, "update-8:unique-2") is None
    assert await backend.take_quota(day, charges, "update-7:unique-1") is None, "counted before"
    assert await backend.take_quota(day, charges, "update-9:unique-3") == "user:1"
    await backend.refund_quota(day, ["global", "user:1"], "update-8:unique-2")
    assert await backend.quota_used(day, "user:1") == 1
    assert await backend.take_quota(day, charges, "update-8:unique-2") is None, "counted anew"
    assert await backend.quota_used(day, "user:1") == 2


async def test_a_named_charge_survives_a_restart_on_sqlite(tmp_path: Path) -> None:
    path = str(tmp_path / "bot.sqlite3")
    storage = await SqliteStorage.open(path)
    assert await storage.take_quota("2026-11-25", [("user:1", 5)], "u7:f1") is None
    await storage.close()
    reopened = await SqliteStorage.open(path)
    assert await reopened.take_quota("2026-11-25", [("user:1", 5)], "u7:f1") is None
    assert await reopened.quota_used("2026-11-25", "user:1") == 1
    await reopened.close()


async def test_sqlite_cache_entries_expire(storage: SqliteStorage) -> None:
    await storage.cache_result(["a", "b"], "{}", now=100.0, expires_at=200.0)
    assert await storage.cached_result("a", 150.0) == "{}"
    assert await storage.cached_result("b", 199.9) == "{}"
    assert await storage.cached_result("a", 200.0) is None
    await storage.cache_result(["c"], "[]", now=300.0, expires_at=400.0)
    assert await storage.cached_result("a", 0.0) is None, "expired rows are swept on writes"


async def test_daily_counts(backend: Backend) -> None:
    storage = backend
    for name, count in (("photos", 1), ("photos", 2), ("api_calls", 1)):
        await storage.add_count("2026-11-25", name, count)
    assert await storage.counts("2026-11-25") == {"photos": 3, "api_calls": 1}
    assert await storage.counts("2026-11-26") == {}


async def test_cached_results_expire_in_both_backends(backend: Backend) -> None:
    now = time.time()
    await backend.cache_result(["a", "b"], "{}", now=now, expires_at=now + 1)
    assert await backend.cached_result("b", time.time()) == "{}"
    await asyncio.sleep(1.2)
    assert await backend.cached_result("a", time.time()) is None


async def test_a_flight_is_claimed_once(redis_url: str) -> None:
    first, second = await RedisStorage.open(redis_url), await RedisStorage.open(redis_url)
    assert await first.claim_flight("k", 5)
    assert not await second.claim_flight("k", 5)
    await first.end_flight("k")
    assert await second.claim_flight("k", 5)
    await first.close()
    await second.close()


async def test_a_lapsed_claim_does_not_end_the_claim_another_replica_took(
    redis_url: str,
) -> None:
    """A replica cut off past its claim's expiry releases it late: the claim another
    replica took meanwhile stays, so a third does not make the call as well."""
    late, taker, third = [await RedisStorage.open(redis_url) for _ in range(3)]
    assert await late.claim_flight("k", 0.05)
    await asyncio.sleep(0.1)
    assert await taker.claim_flight("k", 5)
    await late.end_flight("k")
    assert not await third.claim_flight("k", 5)
    await taker.end_flight("k")
    assert await third.claim_flight("k", 5)
    for storage in (late, taker, third):
        await storage.close()


async def test_a_claim_is_renewed_only_by_its_holder(redis_url: str) -> None:
    holder, other = await RedisStorage.open(redis_url), await RedisStorage.open(redis_url)
    assert await holder.claim_flight("renewed", 0.3)
    await asyncio.sleep(0.2)
    assert await holder.renew_flight("renewed", 0.3)
    assert not await other.renew_flight("renewed", 5), "not the other replica's to renew"
    await asyncio.sleep(0.2)  # 0.4 s after the claim: alive only by its renewal
    assert not await other.claim_flight("renewed", 5)
    await asyncio.sleep(0.3)
    assert not await holder.renew_flight("renewed", 5), "lapsed: nothing left to renew"
    assert await other.claim_flight("renewed", 5)
    await holder.close()
    await other.close()


async def test_a_message_image_is_new_once_and_again_when_swapped(backend: Backend) -> None:
    later = time.time() + 3600
    assert await backend.remember_image(-5, 10, "file:a", later) is True
    assert await backend.remember_image(-5, 10, "file:a", later) is False, "caption edit"
    assert await backend.remember_image(-5, 10, "file:b", later) is True, "photo swapped"
    assert await backend.remember_image(-5, 11, "file:b", later) is True, "another message"


async def test_allow_list_per_chat(backend: Backend) -> None:
    await backend.allow_image(-5, ["file:a", "sha256:x"])
    await backend.allow_image(-5, ["file:a", "sha256:x"])
    assert await backend.is_allowed(-5, ["sha256:x"]) is True
    assert await backend.is_allowed(-5, ["file:z", "file:a"]) is True
    assert await backend.is_allowed(-6, ["file:a"]) is False, "another chat"
    assert await backend.is_allowed(-5, []) is False
    assert await backend.allowed_count(-5) == 1, "one image under two keys, allowed twice"
    await backend.allow_image(-5, ["file:b"])
    assert await backend.allowed_count(-5) == 2
    await backend.reset_allowed(-5)
    assert await backend.allowed_count(-5) == 0
    assert await backend.is_allowed(-5, ["file:a"]) is False


async def test_warnings_count_within_the_window_and_can_be_withdrawn(backend: Backend) -> None:
    assert await backend.add_warning(-5, 7, at=100.0, since=0.0) == 1
    assert await backend.add_warning(-5, 7, at=200.0, since=0.0) == 2
    assert await backend.add_warning(-5, 8, at=200.0, since=0.0) == 1, "another person"
    assert await backend.add_warning(-5, 7, at=300.0, since=150.0) == 2, "the oldest expired"
    await backend.remove_warning(-5, 7, at=300.0)
    assert await backend.warning_count(-5, 7, since=0.0) == 1
    await backend.reset_warnings(-5, 7)
    assert await backend.warning_count(-5, 7, since=0.0) == 0
    assert await backend.warning_count(-5, 8, since=0.0) == 1


async def test_a_report_expires_and_each_press_counts_once(backend: Backend) -> None:
    now = time.time()
    await backend.save_report("r1", '{"a": 1}', expires_at=now + 60)
    await backend.save_report("r1", '{"a": 2}', expires_at=now + 60)
    assert await backend.load_report("r1", now) == '{"a": 2}'
    assert await backend.load_report("r1", now + 120) is None
    assert await backend.load_report("nope", now) is None

    claims = await asyncio.gather(
        *(backend.claim_press("r1", "undo", f"admin {n}") for n in range(5))
    )
    assert claims.count(None) == 1, "one press takes effect however often it arrives"
    winner = next(f"admin {n}" for n, claim in enumerate(claims) if claim is None)
    assert all(claim == winner for claim in claims if claim is not None)
    assert await backend.claim_press("r1", "allow", "admin 9") is None, "another button"
    assert await backend.presses("r1") == {"undo": winner, "allow": "admin 9"}
    await backend.release_press("r1", "allow")
    assert await backend.claim_press("r1", "allow", "admin 8") is None, "released: may retry"


async def test_migration_moves_settings_allow_list_and_warnings(backend: Backend) -> None:
    on = ChatSettings(mode=Mode.ON, forbid=frozenset({Segment.FACE}))
    await backend.update_chat_settings(-5, lambda _: on)
    await backend.allow_image(-5, ["file:a"])
    await backend.add_warning(-5, 7, at=100.0, since=0.0)

    await backend.migrate_chat(-5, -1005)
    await backend.migrate_chat(-5, -1005)  # both service messages may arrive

    assert await backend.chat_settings(-1005) == on
    assert await backend.chat_settings(-5) == ChatSettings()
    assert await backend.is_allowed(-1005, ["file:a"]) is True
    assert await backend.allowed_count(-5) == 0
    assert await backend.warning_count(-1005, 7, since=0.0) == 1
    assert await backend.warning_count(-5, 7, since=0.0) == 0


# -- moderation's own store (bot/moderation/store.py), same contract on both backends ------


async def test_first_time_is_true_once_per_key_until_it_expires(backend: Backend) -> None:
    now = time.time()
    claims = await asyncio.gather(*(backend.first_time("unsure:-5:1", now + 60) for _ in range(5)))
    assert sorted(claims) == [False, False, False, False, True], "one caller wins"
    assert await backend.first_time("unsure:-5:2", now + 60), "another key is its own"
    assert await backend.first_time("gone", now + 1)
    await asyncio.sleep(2.1)
    assert await backend.first_time("gone", time.time() + 60), "expired: true again"


async def test_pending_records_are_kept_replaced_and_expire(backend: Backend) -> None:
    now = time.time()
    await backend.save_pending("confirm:ab", '{"a": 1}', now + 60)
    await backend.save_pending("confirm:ab", '{"a": 2}', now + 60)
    await backend.save_pending("confirm:cd", "{}", now + 1)
    assert await backend.load_pending("confirm:ab", time.time()) == '{"a": 2}'
    assert await backend.load_pending("confirm:zz", time.time()) is None
    await asyncio.sleep(2.1)
    assert await backend.load_pending("confirm:cd", time.time()) is None


async def test_a_migration_is_remembered_for_older_reports(backend: Backend) -> None:
    assert await backend.migrated_to(-5) is None
    await backend.note_migration(-5, -1005)
    await backend.note_migration(-5, -1005)
    assert await backend.migrated_to(-5) == -1005
    assert await backend.migrated_to(-1005) is None


async def test_a_failed_sqlite_quota_write_is_tried_again_not_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_records: list[logging.LogRecord]
) -> None:
    monkeypatch.setattr("bot.storage.sqlite_quotas.QUOTA_RETRY_SECONDS", 0.05)
    path = str(tmp_path / "bot.sqlite3")
    storage = await SqliteStorage.open(path)
    real = storage._db.executemany
    failures = [sqlite3.OperationalError("database or disk is full")] * 2

    async def full_disk(sql: str, rows: Any) -> Any:
        if failures and "used = used + 1" in sql:
            raise failures.pop()
        return await real(sql, rows)

    monkeypatch.setattr(storage._db, "executemany", full_disk)
    for _ in range(3):
        assert await storage.take_quota("2026-11-25", [("user:1", 3)]) is None
    for _ in range(100):
        if not failures and not storage._quotas._quota_writes:
            break
        await asyncio.sleep(0.05)
    await storage.close()
    reopened = await SqliteStorage.open(path)
    assert await reopened.take_quota("2026-11-25", [("user:1", 3)]) == "user:1", "3 of 3 used"
    await reopened.close()
    retried = [r.getMessage() for r in log_records if "quota write failed" in r.getMessage()]
    assert len(retried) == 2


async def test_the_same_warning_counts_once_in_both_backends(backend: Backend) -> None:
    """An update run again after a crash gives its post's warning again: the same one."""
    at = time.time()
    assert await backend.add_warning(-7, 22, at, at - 60) == 1
    assert await backend.add_warning(-7, 22, at, at - 60) == 1
    assert await backend.add_warning(-7, 22, at + 0.000001, at - 60) == 2, "another post"
