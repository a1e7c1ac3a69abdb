"""Daily limits reset at 00:00 UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.photo.quotas import QuotaExceeded, Quotas
from bot.storage.sqlite_storage import SqliteStorage


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_the_limit_stops_the_next_call_and_resets_at_midnight_utc(
    storage: SqliteStorage,
) -> None:
    clock = _Clock(datetime(2026, 11, 25, 23, 50, tzinfo=UTC))
    quotas = Quotas(storage, per_user=2, overall=0, clock=clock)
    await quotas.take(1)
    await quotas.take(1)
    with pytest.raises(QuotaExceeded) as caught:
        await quotas.take(1)
    assert caught.value.scope == "user"
    assert caught.value.resets_at == datetime(2026, 11, 26, tzinfo=UTC)
    assert (await quotas.remaining(1)).user == 0

    clock.now = datetime(2026, 11, 26, 0, 0, 1, tzinfo=UTC)
    await quotas.take(1)
    remaining = await quotas.remaining(1)
    assert remaining.user == 1
    assert remaining.overall is None


async def test_the_overall_limit_covers_everyone(storage: SqliteStorage) -> None:
    quotas = Quotas(storage, per_user=0, overall=2)
    await quotas.take(1)
    await quotas.take(None)
    with pytest.raises(QuotaExceeded) as caught:
        await quotas.take(2)
    assert caught.value.scope == "global"


async def test_a_group_has_its_own_limit_beside_the_overall_one(storage: SqliteStorage) -> None:
    quotas = Quotas(storage, per_user=5, per_group=2, overall=10)
    await quotas.take(None, group_id=-5)
    await quotas.take(None, group_id=-5)
    with pytest.raises(QuotaExceeded) as caught:
        await quotas.take(None, group_id=-5)
    assert caught.value.scope == "group"
    assert caught.value.limit == 2
    await quotas.take(None, group_id=-6)  # another group is not starved
    assert (await quotas.remaining(1)).overall == 7, "the refused call counted nowhere"
