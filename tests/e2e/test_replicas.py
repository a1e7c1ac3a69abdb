"""Two replicas on one Redis, both handed every update: each photo is answered once,
quotas and the cache are shared, and identical photos cost one call between them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.app import BotService
from bot.config import Settings
from tests.e2e.harness import running
from tests.fakes.recognizer import FakeRecognizer, Reply, success
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg

CHAT = 8808


@pytest.fixture
def replica_settings(settings: Settings, redis_url: str) -> Settings:
    return Settings.model_validate(
        settings.model_dump() | {"redis_url": redis_url, "user_daily_limit": 3}
    )


async def test_two_replicas_answer_each_update_once_and_share_state(
    replica_settings: Settings,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    log_records: list[logging.LogRecord],
) -> None:
    kling.default = Reply(delay=0.3)
    async with (
        running(await BotService.open(replica_settings)),
        running(await BotService.open(replica_settings)),
    ):
        for seed in range(4):
            telegram.push(telegram.photo_update(CHAT, jpeg(640, 640, seed=seed), 640, 640))
        replies = await telegram.wait_sent(CHAT, 4, within=15)
        twin = jpeg(640, 640, seed=50)
        telegram.push(telegram.photo_update(CHAT + 1, twin, 640, 640))
        telegram.push(telegram.photo_update(CHAT + 2, twin, 640, 640))
        await telegram.wait_sent(CHAT + 1)
        await telegram.wait_sent(CHAT + 2)
        await asyncio.sleep(0.5)

    taken = [r for r in log_records if "taken by another replica" in r.getMessage()]
    assert taken, "both replicas were handed the updates, so the claim was exercised"
    assert len(telegram.sent_to(CHAT)) == 4, "an update was answered twice"
    texts = sorted(reply["text"] for reply in replies)
    assert sum(text.startswith("Found") for text in texts) == 3
    assert sum(text.startswith("You have used all 3") for text in texts) == 1
    assert len(kling.received) == 4, "three for the person, one for both twins"


async def test_settings_set_on_one_replica_apply_on_the_other(
    replica_settings: Settings, telegram: FakeBotApi
) -> None:
    group = -100321
    telegram.admins[group] = {11}
    first = await BotService.open(replica_settings)
    async with running(first):
        telegram.push(telegram.command(group, "/forbid face", user_id=11, chat_type="supergroup"))
        await telegram.wait_sent(group)
    async with running(await BotService.open(replica_settings)):
        telegram.push(telegram.command(group, "/policy", user_id=12, chat_type="supergroup"))
        policy = (await telegram.wait_sent(group, 2))[1]["text"]
    assert "Forbidden: Face" in policy


async def test_moderation_state_and_button_presses_are_shared_by_replicas(
    replica_settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    group, admin, reports = -100322, 11, -100323
    telegram.admins[group] = {admin}
    shared = replica_settings.model_copy(update={"report_chat_id": reports})
    kling.default = Reply(body=success(face=True))

    def in_group(update: dict[str, Any]) -> None:
        telegram.push(update)

    async with running(await BotService.open(shared)), running(await BotService.open(shared)):
        for text in ("/forbid face", "/action delete", "/moderate on"):
            in_group(telegram.command(group, text, user_id=admin, chat_type="supergroup"))
        await telegram.wait_sent(group, 3)
        posted = telegram.photo_update(
            group, jpeg(640, 640, seed=7), 640, 640, user_id=22, chat_type="supergroup"
        )
        in_group(posted)
        [report] = await telegram.wait_sent(reports)
        [undo] = [
            button["callback_data"]
            for button in report["reply_markup"]["inline_keyboard"][0]
            if button["callback_data"].endswith(":undo")
        ]
        for _ in range(4):  # a nervous admin: four presses, spread over both replicas
            telegram.push(telegram.callback_update(report, undo, user_id=admin))
        async with asyncio.timeout(10):
            while len(telegram.answers) < 4:  # noqa: ASYNC110 - the fake keeps a list
                await asyncio.sleep(0.05)
        in_group({"edited_message": {**posted["message"], "caption": "same photo"}})
        await asyncio.sleep(0.8)

    restored = [m for m in telegram.sent_to(group) if "photo" in m]
    assert len(restored) == 1, "the photo is posted back once across replicas"
    assert sorted(a["text"] for a in telegram.answers).count("Undone.") == 1
    assert len(kling.received) == 1, "an unchanged edit is recognized by every replica"
