"""The whole bot while its own parts fail: Redis stopped and started again, the SQLite file
corrupted under it, Telegram's getUpdates failing. People who asked get one answer, groups
hear nothing of it, /healthz tells what is down, the log says it twice (start and end)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from bot.app import BotService
from bot.config import Settings
from bot.tg import application
from tests.conftest import API_KEY, free_port
from tests.e2e.harness import running
from tests.fakes import bot_environment
from tests.fakes.recognizer import FakeRecognizer, Reply
from tests.fakes.telegram import FakeBotApi, Fault
from tests.imagegen import jpeg
from tests.redis_process import RedisProcess

CHAT = 5005
GROUP = -100600
ADMIN = 11
MEMBER = 22
RUN_SCRIPT = Path(__file__).parents[2] / "scripts" / "run"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def served(settings: Settings, port: int) -> Settings:
    """The test settings with /healthz served."""
    return settings.model_copy(update={"http_listen": "127.0.0.1", "http_port": port})


async def _health(port: int) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/healthz")
    return response.status_code, response.json()


def _outage_lines(records: list[logging.LogRecord], name: str) -> list[str]:
    return [
        r.getMessage()
        for r in records
        if r.name == "bot.health"
        and r.levelno == logging.WARNING
        and r.getMessage().startswith(name)
    ]


def _group(telegram: FakeBotApi, user: int = MEMBER, **content: Any) -> None:
    telegram.push(telegram.message(GROUP, user_id=user, chat_type="supergroup", **content))


async def _until_storage_is_back(telegram: FakeBotApi, port: int) -> dict[str, Any]:
    """Send messages (each makes storage calls) until /healthz says storage is up."""
    for attempt in range(40):
        telegram.push(telegram.message(CHAT, text=f"ping {attempt}"))
        await telegram.wait_sent(CHAT, len(telegram.sent_to(CHAT)) + 1)
        status, body = await _health(port)
        if status == 200:
            return body
        await asyncio.sleep(0.25)
    raise AssertionError("storage never came back")


@pytest.fixture
def quick_stats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(application, "STATS_FLUSH_SECONDS", 0.2)


@pytest.mark.usefixtures("quick_stats")
async def test_with_redis_down_people_get_one_answer_and_groups_hear_nothing(
    served: Settings,
    redis_process: RedisProcess,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    port: int,
    log_records: list[logging.LogRecord],
) -> None:
    telegram.admins[GROUP] = {ADMIN}
    settings = served.model_copy(update={"redis_url": redis_process.url})
    settings = Settings.model_validate(settings.model_dump())
    async with running(await BotService.open(settings)):
        redis_process.stop()
        telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))
        [answer] = await telegram.wait_sent(CHAT)
        _group(telegram, text="hello everyone")
        telegram.push(
            telegram.photo_update(
                GROUP, jpeg(640, 640, seed=2), 640, 640, user_id=MEMBER, chat_type="supergroup"
            )
        )
        telegram.push(telegram.command(CHAT, "/quota"))
        telegram.push(
            telegram.command(GROUP, "/moderate on", user_id=ADMIN, chat_type="supergroup")
        )
        [quota] = (await telegram.wait_sent(CHAT, 2))[1:]
        [moderate] = await telegram.wait_sent(GROUP)
        status, body = await _health(port)
        await asyncio.sleep(0.5)  # let the group's other messages be handled (or not)
        in_group = list(telegram.sent_to(GROUP))

        redis_process.start()
        back = await _until_storage_is_back(telegram, port)
        with redis.Redis.from_url(redis_process.url, decode_responses=True) as raw:
            key = f"segment-bot:counts:{datetime.now(UTC).date().isoformat()}"
            for _ in range(50):  # the flush loop writes what it kept within a second
                if int(raw.hget(key, "photos") or 0) >= 1:
                    break
                await asyncio.sleep(0.1)
            counted = int(raw.hget(key, "photos") or 0)

    assert answer["text"].startswith("Found 4 of 4"), "private photos are still answered"
    assert quota["text"] == moderate["text"]
    assert quota["text"].startswith("I cannot reach my settings and counters right now")
    assert in_group == [moderate], "the admin who asked got one answer; nobody else a word"
    assert status == 503
    assert body["storage"]["state"] == "down"
    assert "storage down" in body["problems"]
    assert back["storage"] == {"state": "up"}
    assert counted >= 1, "the photo counted in the outage was written once Redis was back"
    assert len(_outage_lines(log_records, "storage (Redis) is unavailable")) == 1
    assert len(_outage_lines(log_records, "storage (Redis) is back")) == 1
    assert not [r for r in log_records if r.name.startswith("bot") and r.levelno >= logging.ERROR]


async def test_with_the_sqlite_file_corrupted_photos_are_still_answered(
    served: Settings, telegram: FakeBotApi, port: int, log_records: list[logging.LogRecord]
) -> None:
    async with running(await BotService.open(served)):
        path = Path(served.database_path)
        for suffix in ("", "-wal", "-shm"):
            file = path.with_name(path.name + suffix)
            if file.exists():
                with file.open("r+b") as damaged:
                    damaged.write(b"not a database " * 4096)
        telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))
        [answer] = await telegram.wait_sent(CHAT)
        status, body = await _health(port)

    assert answer["text"].startswith("Found 4 of 4")
    assert (status, body["storage"]["state"]) == (503, "down")
    # Which damaged page is read first (a settings read, or the intake's take) decides
    # which of SQLite's two words for it comes back.
    cause = body["storage"]["cause"]
    assert "file is not a database" in cause or "disk image is malformed" in cause, cause
    assert len(_outage_lines(log_records, "storage (SQLite) is unavailable")) == 1


async def test_a_polling_outage_is_two_warnings_and_shows_in_healthz(
    served: Settings,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    port: int,
    log_records: list[logging.LogRecord],
) -> None:
    async with running(await BotService.open(served)):
        telegram.fail("getUpdates", *(Fault(status=502, description="Bad Gateway"),) * 3)
        for _ in range(100):
            status, during = await _health(port)
            if during["telegram"]["state"] == "down":
                break
            await asyncio.sleep(0.1)
        telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))
        [answer] = await telegram.wait_sent(CHAT, within=20)
        _, after = await _health(port)

    assert answer["text"].startswith("Found 4 of 4")
    assert during["telegram"]["state"] == "down"
    assert "HTTP 502 Bad Gateway" in during["telegram"]["cause"]
    assert (status, during["status"]) == (200, "degraded"), "a shared outage: no 503"
    assert after["telegram"] == {"state": "up"}
    [started] = _outage_lines(log_records, "Telegram is unavailable")
    assert "HTTP 502" in started
    [ended] = _outage_lines(log_records, "Telegram is back")
    assert "(3 failed calls)" in ended
    assert not [r for r in log_records if r.levelno >= logging.ERROR], "no traceback per poll"


@pytest.fixture
async def bot_process(
    telegram: FakeBotApi, kling: FakeRecognizer, redis_process: RedisProcess, tmp_path: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    env = (
        os.environ
        | bot_environment(telegram, kling, API_KEY)
        | {"REDIS_URL": redis_process.url, "LOG_LEVEL": "INFO"}
    )
    process = await asyncio.create_subprocess_exec(
        RUN_SCRIPT, cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_after_a_redis_outage_drains_and_exits_0(
    bot_process: asyncio.subprocess.Process,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    redis_process: RedisProcess,
) -> None:
    assert bot_process.stderr is not None
    stderr = asyncio.create_task(bot_process.stderr.read())
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))
    await telegram.wait_sent(CHAT, within=30)
    redis_process.stop()
    kling.answer(Reply(delay=1.5))
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640, seed=1), 640, 640))
    await kling.wait_received(2)
    bot_process.send_signal(signal.SIGTERM)

    assert await asyncio.wait_for(bot_process.wait(), timeout=30) == 0
    replies = telegram.sent_to(CHAT)
    assert [r["text"][:16] for r in replies] == ["Found 4 of 4 seg"] * 2, "drained, not dropped"
    log = (await stderr).decode()
    assert "storage (Redis) is unavailable" in log
    assert "Traceback" not in log


async def test_redis_lost_during_a_call_leaves_no_lock_for_the_next_copy(
    settings: Settings,
    redis_process: RedisProcess,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
) -> None:
    image = jpeg(640, 640, seed=7)
    kling.answer(Reply(delay=1.0))
    replica = Settings.model_validate(settings.model_dump() | {"redis_url": redis_process.url})
    with redis.Redis.from_url(redis_process.url) as raw:
        async with running(await BotService.open(replica)) as service:
            raw.set("survivor", 1)  # saved with the call's lock when the server stops
            telegram.push(telegram.photo_update(CHAT, image, 640, 640))
            await kling.wait_received(1)
            redis_process.stop()
            [first] = await telegram.wait_sent(CHAT)
            redis_process.start()
            for _ in range(100):  # nobody writes: the bot finds Redis back by itself
                if not service.health.storage.down:
                    break
                await asyncio.sleep(0.1)
            survived, locks = raw.exists("survivor"), raw.keys("segment-bot:flight:*")
            telegram.push(telegram.photo_update(CHAT + 1, image, 640, 640))  # same bytes
            [second] = await telegram.wait_sent(CHAT + 1)

    assert first["text"].startswith("Found 4 of 4")
    assert second["text"].startswith("Found 4 of 4")
    assert survived, "Redis came back with its data, the first call's lock among it"
    assert locks == [], "released when Redis was back, not left to expire"
    assert len(kling.received) == 1, (
        "the first result could not be stored in the outage, but this process kept it"
    )


async def test_a_reply_that_hangs_cannot_hold_up_a_stop(
    settings: Settings,
    telegram: FakeBotApi,
    monkeypatch: pytest.MonkeyPatch,
    log_records: list[logging.LogRecord],
) -> None:
    monkeypatch.setattr(application, "SHUTDOWN_SLACK", 0.5)
    quick = settings.model_copy(update={"photo_deadline_seconds": 1.0})
    telegram.fail("sendMessage", Fault(delay=4.0))
    async with running(await BotService.open(quick)):  # fails if the stop raises
        telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))
        for _ in range(100):
            if telegram.calls_to("sendMessage"):
                break
            await asyncio.sleep(0.05)

    [stopped] = [r.getMessage() for r in log_records if r.getMessage().startswith("stopped after")]
    assert stopped == "stopped after 2 s with 1 updates unfinished"


async def test_a_redis_restart_mid_burst_leaves_quotas_equal_to_the_calls_made(
    served: Settings,
    redis_process: RedisProcess,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    log_records: list[logging.LogRecord],
) -> None:
    """Charges counted in memory during the outage are added to Redis once it is back,
    and "back" means fresh connections: no second outage from the pooled dead ones."""
    settings = served.model_copy(update={"redis_url": redis_process.url})
    settings = Settings.model_validate(settings.model_dump())
    kling.default = Reply(delay=0.2)
    photos = 40
    async with running(await BotService.open(settings)):
        for n in range(photos):
            telegram.push(telegram.photo_update(CHAT + 1 + n, jpeg(400, 400, seed=n), 400, 400))
        await kling.wait_received(10)
        redis_process.stop()
        await asyncio.sleep(0.5)
        redis_process.start()
        await telegram.wait_until(lambda: len(telegram.delivered) >= photos, within=30)
        day = datetime.now(UTC).date().isoformat()
        with redis.Redis.from_url(redis_process.url, decode_responses=True) as raw:
            for _ in range(100):  # written when the guard ends the outage
                if int(raw.get(f"segment-bot:quota:{day}:global") or 0) >= len(kling.received):
                    break
                await asyncio.sleep(0.05)
            used = int(raw.get(f"segment-bot:quota:{day}:global") or 0)
            users = sum(
                int(raw.get(key) or 0) for key in raw.keys(f"segment-bot:quota:{day}:user:*")
            )

    assert len(kling.received) == photos, "distinct images, no cache: one call each"
    assert used == photos, "every call counted in Redis, the outage's included"
    assert users == photos
    assert len(_outage_lines(log_records, "storage (Redis) is unavailable")) == 1, (
        "back means back: no second outage on dead pooled connections"
    )
