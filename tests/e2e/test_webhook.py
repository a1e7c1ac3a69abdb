"""Webhook mode: Telegram posts updates with the secret token; /healthz and /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.app import BotService
from bot.config import Settings
from tests.conftest import free_port
from tests.e2e.harness import running, settled
from tests.fakes.recognizer import FakeRecognizer, Reply
from tests.fakes.telegram import FakeBotApi, Fault
from tests.imagegen import jpeg

SECRET = "webhook-secret-for-tests"
CHAT = 7007


@pytest.fixture
def port() -> int:
    return free_port()


_SECRET = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


@contextlib.asynccontextmanager
async def _webhook_bot(settings: Settings, port: int) -> AsyncIterator[BotService]:
    webhook = settings.model_copy(
        update={
            "webhook_url": f"http://127.0.0.1:{port}/telegram/hook",
            "webhook_secret_token": SECRET,
            "http_listen": "127.0.0.1",
            "http_port": port,
        }
    )
    webhook = Settings.model_validate(webhook.model_dump())
    async with running(await BotService.open(webhook)) as service:
        yield service


@pytest.fixture
async def webhook_bot(settings: Settings, port: int) -> AsyncIterator[BotService]:
    async with _webhook_bot(settings, port) as service:
        yield service


async def test_updates_arrive_by_webhook_and_need_the_secret(
    webhook_bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer, port: int
) -> None:
    [registered] = telegram.calls_to("setWebhook")
    assert registered.params["url"] == f"http://127.0.0.1:{port}/telegram/hook"
    assert registered.params["secret_token"] == SECRET
    assert not telegram.calls_to("getUpdates"), "no polling in webhook mode"

    update = telegram.photo_update(CHAT, jpeg(640, 640), 640, 640)
    update["update_id"] = 1
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        wrong = await http.post(
            "/telegram/hook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
        )
        missing = await http.post("/telegram/hook", json=update)
        accepted = await http.post(
            "/telegram/hook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        [reply] = await telegram.wait_sent(CHAT)
        health = await http.get("/healthz")
        metrics = (await http.get("/metrics")).text

    assert (wrong.status_code, missing.status_code, accepted.status_code) == (403, 403, 200)
    assert reply["text"].startswith("Found 4 of 4")
    assert len(kling.received) == 1
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["api"] == {"state": "ok", "recent": {"ok": 1}}
    assert 'segment_bot_events_total{event="photos"}' in metrics
    assert "segment_bot_api_request_seconds_count" in metrics
    assert "segment_bot_decode_budget_bytes_in_use 0.0" in metrics
    assert "segment_bot_decode_workers_busy 0.0" in metrics


def test_webhook_mode_needs_a_secret(settings: Settings) -> None:
    with pytest.raises(ValueError, match="WEBHOOK_SECRET_TOKEN is required"):
        Settings.model_validate(settings.model_dump() | {"webhook_url": "https://bot.example/hook"})


async def test_a_saturated_bot_answers_503_and_serves_the_retries(
    settings: Settings,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kling.default = Reply(delay=1.0)
    # Two unanswered updates fill the intake: the third is refused until one is answered.
    busy = settings.model_copy(update={"max_concurrent_updates": 1, "intake_max_backlog": 2})
    refused: list[dict[str, object]] = []
    async with (
        _webhook_bot(busy, port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        for n in range(6):
            update = telegram.photo_update(CHAT + n, jpeg(640, 640, seed=n), 640, 640)
            update["update_id"] = n + 1
            answer = await http.post("/telegram/hook", json=update, headers=_SECRET)
            if answer.status_code == 503:
                refused.append(update)
        health = await http.get("/healthz")
        for update in refused:  # Telegram retries a refused update later
            await _post_until_taken(http, update)
        await telegram.wait_delivered(6, within=30)

    assert refused, "the webhook pushed back"
    assert health.status_code == 503
    assert "overloaded" in health.json()["problems"]
    assert sorted(int(m["chat_id"]) for m in telegram.delivered) == [CHAT + n for n in range(6)]


async def _post_until_taken(http: httpx.AsyncClient, update: dict[str, object]) -> None:
    for _ in range(100):
        answer = await http.post("/telegram/hook", json=update, headers=_SECRET)
        if answer.status_code != 503:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("never taken")


NOT_UPDATES = {
    "array": b"[]",
    "null": b"null",
    "number": b"42",
    "string": b'"an update"',
    "no update_id": b'{"message": "x"}',
    "nested too deep": b"[" * 100_000 + b"]" * 100_000,
    "update_id a string": b'{"update_id": "x"}',
    "update_id a boolean": b'{"update_id": true}',
    "message a string": b'{"update_id": 5, "message": "x"}',
    "message without its fields": b'{"update_id": 6, "message": {"chat": 5}}',
    "fields of the wrong type": b'{"update_id": 7, "message": {"message_id": 1, "date": "b",'
    b' "chat": {"id": 1, "type": "private"}}}',
    "message without a chat": b'{"update_id": 8, "message": {"message_id": 1, "date": 0,'
    b' "text": "hi"}}',
    "member change without a chat": b'{"update_id": 9, "my_chat_member": {"date": 0}}',
    "update_id past 64 bits": b'{"update_id": 18446744073709551616}',
    "not JSON": b"\xff\xfe{",
    "empty": b"",
}


@pytest.mark.parametrize("body", NOT_UPDATES.values(), ids=NOT_UPDATES.keys())
async def test_a_body_that_is_not_an_update_gets_400_and_one_log_line(
    webhook_bot: BotService,
    telegram: FakeBotApi,
    port: int,
    body: bytes,
    log_records: list[logging.LogRecord],
) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        refused = await http.post("/telegram/hook", content=body, headers=_SECRET)
        fine = telegram.message(CHAT, text="hello")
        fine["update_id"] = 99
        accepted = await http.post("/telegram/hook", json=fine, headers=_SECRET)
        await telegram.wait_sent(CHAT)

    assert (refused.status_code, accepted.status_code) == (400, 200)
    lines = [r.getMessage() for r in log_records if r.name == "bot.tg.web"]
    assert len(lines) == 1
    assert lines[0].startswith("webhook body refused: ")
    assert not [r for r in log_records if r.levelno >= logging.ERROR], "no handler crashed"


async def test_a_secret_header_that_is_not_ascii_is_refused_not_a_crash(
    webhook_bot: BotService, telegram: FakeBotApi, port: int
) -> None:
    update = telegram.message(CHAT, text="hello")
    update["update_id"] = 1
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        answers = [
            await http.post(
                "/telegram/hook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": value}
            )
            for value in (b"\xff\xfe\xc3", "секрет".encode(), SECRET.encode() + b"\x80")
        ]

    assert [answer.status_code for answer in answers] == [403, 403, 403]
    assert telegram.sent_to(CHAT) == []


async def test_without_polling_failed_requests_tell_that_telegram_is_down(
    webhook_bot: BotService,
    telegram: FakeBotApi,
    port: int,
    log_records: list[logging.LogRecord],
) -> None:
    telegram.fail("sendMessage", *(Fault(status=502, description="Bad Gateway"),) * 3)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for update_id in (1, 2):
            update = telegram.message(CHAT, text="hello")
            update["update_id"] = update_id
            await http.post("/telegram/hook", json=update, headers=_SECRET)
        await telegram.wait_sent(CHAT, within=15)
        health = (await http.get("/healthz")).json()

    started, ended = [r.getMessage() for r in log_records if r.name == "bot.health"]
    assert started == "Telegram is unavailable: HTTP 502 Bad Gateway"
    assert ended.startswith("Telegram is back after")
    assert ended.endswith("(3 failed calls)"), "three in a row make an outage in webhook mode"
    assert health["telegram"] == {"state": "up"}


async def test_a_valid_update_the_bot_does_not_use_is_taken_and_dropped(
    webhook_bot: BotService, telegram: FakeBotApi, port: int
) -> None:
    """A 400 would make Telegram send it again and again."""
    chatter = telegram.message(-100777, text="hello everyone", chat_type="supergroup")
    chatter["update_id"] = 31
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        answer = await http.post("/telegram/hook", json=chatter, headers=_SECRET)
        await settled(webhook_bot, telegram)
    assert answer.status_code == 200
    assert telegram.delivered == []
    assert await webhook_bot.durable.unanswered() == 0, "acknowledged: nothing left to do"


async def test_a_chat_id_that_does_not_fit_sqlite_is_that_updates_problem(
    webhook_bot: BotService,
    telegram: FakeBotApi,
    port: int,
    log_records: list[logging.LogRecord],
) -> None:
    huge = -(2**70)
    telegram.admins[huge] = {11}
    update = telegram.command(huge, "/moderate on", user_id=11, chat_type="supergroup")
    update["update_id"] = 41
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        answer = await http.post("/telegram/hook", json=update, headers=_SECRET)
        await settled(webhook_bot, telegram)
        health = await http.get("/healthz")
    assert answer.status_code == 200
    assert health.status_code == 200, health.json()
    refused = [r.getMessage() for r in log_records if r.name == "bot.storage.guard"]
    assert refused
    assert all("OverflowError" in line for line in refused)
    assert not [r for r in log_records if r.name == "bot.health"], "no storage outage"
