"""Durable intake in one process: a poison update is set aside after its deliveries, a
re-sent webhook update is answered once, an album is acknowledged with its answer."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from bot.app import BotService
from bot.config import Settings
from bot.storage.sqlite_storage import SqliteStorage
from bot.tg.intake import MAX_DELIVERIES
from tests.conftest import free_port
from tests.e2e.harness import running, settled
from tests.fakes.recognizer import FakeRecognizer, Reply
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg

CHAT = 9009
ADMIN = 4242
SECRET = "intake-webhook-secret"


async def test_an_update_that_keeps_killing_its_worker_is_answered_once_and_set_aside(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    update = telegram.photo_update(CHAT, jpeg(640, 640), 640, 640)
    update["update_id"] = 77
    for _ in range(MAX_DELIVERIES):
        # Each start takes it, and the process dies before answering (its lease is
        # dropped when the file is opened again).
        storage = await SqliteStorage.open(settings.database_path)
        intake = await storage.intake()
        await intake.put(77, json.dumps(update), max_backlog=10)
        assert len(await intake.take("killed", 10, 60)) == 1
        await storage.close()

    watched = settings.model_copy(update={"admin_chat_id": ADMIN})
    async with running(await BotService.open(watched)) as service:
        [answer] = await telegram.wait_sent(CHAT)
        [alert] = await telegram.wait_sent(ADMIN)
        await settled(service, telegram)
    assert answer["text"].startswith("I could not check this image")
    assert "Update 77 was set aside after 4 deliveries" in alert["text"]
    assert kling.received == [], "not tried a fourth time"
    storage = await SqliteStorage.open(settings.database_path)
    assert await (await storage.intake()).take("after", 10, 60) == []
    await storage.close()


async def test_a_webhook_update_sent_twice_is_answered_once_on_sqlite(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    port = free_port()
    webhook = Settings.model_validate(
        settings.model_dump()
        | {
            "webhook_url": f"http://127.0.0.1:{port}/hook",
            "webhook_secret_token": SECRET,
            "http_listen": "127.0.0.1",
            "http_port": port,
        }
    )
    update = telegram.photo_update(CHAT, jpeg(640, 640), 640, 640)
    update["update_id"] = 5
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with (
        running(await BotService.open(webhook)) as service,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        for _ in range(2):  # Telegram re-sends when it missed the first 200
            assert (await http.post("/hook", json=update, headers=headers)).status_code == 200
        await telegram.wait_sent(CHAT)
        await settled(service, telegram)
        await asyncio.sleep(0.3)
    assert len(telegram.sent_to(CHAT)) == 1
    assert len(kling.received) == 1


async def test_an_album_is_acknowledged_once_answered(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    kling.default = Reply(delay=1.0)
    async with running(await BotService.open(settings)) as service:
        for seed in range(3):
            update = telegram.photo_update(CHAT, jpeg(640, 640, seed=seed), 640, 640)
            update["message"]["media_group_id"] = "album-1"
            telegram.push(update)
        await kling.wait_received(3)
        # Every item's handler returned when the item joined the album; none is answered.
        assert (service.updates.slots.working, await service.durable.unanswered()) == (1, 3)
        await telegram.wait_sent(CHAT)
        await settled(service, telegram)
        assert await service.durable.unanswered() == 0
    assert len(telegram.sent_to(CHAT)) == 1


async def test_a_web_replica_stores_and_a_worker_answers(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer, redis_url: str
) -> None:
    port = free_port()
    shared = settings.model_dump() | {
        "redis_url": redis_url,
        "webhook_url": f"http://127.0.0.1:{port}/hook",
        "webhook_secret_token": SECRET,
        "http_listen": "127.0.0.1",
    }
    web = Settings.model_validate(shared | {"role": "web", "http_port": port})
    worker = Settings.model_validate(shared | {"role": "worker", "http_port": free_port()})
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with (
        running(await BotService.open(web)) as receiving,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        for n in range(3):
            update = telegram.photo_update(CHAT + n, jpeg(640, 640, seed=n), 640, 640)
            update["update_id"] = 100 + n
            assert (await http.post("/hook", json=update, headers=headers)).status_code == 200
        await asyncio.sleep(0.5)
        assert (telegram.delivered, kling.received) == ([], []), "the web replica only stores"
        assert await receiving.durable.unanswered() == 3
        async with running(await BotService.open(worker)):
            await telegram.wait_delivered(3)
        assert await receiving.durable.unanswered() == 0
    assert len(telegram.calls_to("setWebhook")) == 1, "registered by the web replica only"


def test_roles_apart_need_redis(settings: Settings) -> None:
    with pytest.raises(ValueError, match="ROLE=worker needs REDIS_URL"):
        Settings.model_validate(settings.model_dump() | {"role": "worker"})
