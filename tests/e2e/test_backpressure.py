"""Back-pressure through the whole bot: with every work slot busy the update queue fills and
polling waits; every photo is still answered, none after its deadline."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import BotService
from bot.config import Settings
from bot.tg import application
from tests.e2e.harness import running
from tests.fakes.recognizer import FakeRecognizer, Reply
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg

PHOTOS = 12


async def test_updates_worked_on_stay_within_their_bound_and_the_queue_fills(
    settings: Settings,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(application, "UPDATE_QUEUE_SIZE", 3)
    kling.default = Reply(delay=0.3)
    limited = settings.model_copy(update={"max_concurrent_updates": 2})
    async with running(await BotService.open(limited)) as service:
        for n in range(PHOTOS):
            telegram.push(telegram.photo_update(100 + n, jpeg(640, 640, seed=n), 640, 640))
        working, queued = [], []
        async with asyncio.timeout(30):
            while len(telegram.delivered) < PHOTOS:
                working.append(service.updates.slots.working)
                queued.append(service.app.update_queue.qsize())
                await asyncio.sleep(0.01)

    assert max(working) == 2, "never more updates worked on than the bound"
    assert max(queued) == 3, "the rest waited in the queue (and polling with them)"
    assert all(m["text"].startswith("Found 4 of 4") for m in telegram.delivered)
    assert len(kling.received) == PHOTOS
