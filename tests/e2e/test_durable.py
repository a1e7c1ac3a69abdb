"""Durable intake with real processes: one of three webhook replicas on one Redis is
killed (SIGKILL) mid-burst, and a polling process on SQLite is killed and started again.
Every update acknowledged to Telegram is answered; no image is paid twice beyond the calls
the killed process had in flight."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import redis

from bot.storage.redis_intake import STREAM
from tests.conftest import API_KEY, free_port
from tests.e2e.processes import BotProcess, clean_environment
from tests.fakes import bot_environment
from tests.fakes.recognizer import FakeRecognizer, Reply
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg

SECRET = "durable-webhook-secret"
UPDATES = 300
DISTINCT = 150  # each image twice, in two chats: the second copy is a cache hit
FIRST_CHAT = 100_000
# Killed once this many calls have reached the API: mid-burst.
KILL_AFTER_CALLS = 50


def _environment(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path, **settings: str
) -> dict[str, str]:
    return clean_environment(
        **bot_environment(telegram, kling, API_KEY),
        DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
        USER_DAILY_LIMIT="1000",
        GLOBAL_DAILY_LIMIT="100000",
        API_RETRY_BASE_DELAY_SECONDS="0.01",
        DECODE_WORKERS="1",
        LOG_LEVEL="INFO",
        **settings,
    )


def _burst(telegram: FakeBotApi) -> tuple[list[dict[str, Any]], int]:
    """UPDATES photo updates, one chat each, DISTINCT images; and the id of the first."""
    images = [jpeg(400, 400, seed=n) for n in range(DISTINCT)]
    updates = []
    for n in range(UPDATES):
        update = telegram.photo_update(FIRST_CHAT + n, images[n % DISTINCT], 400, 400)
        update["update_id"] = 1 + n
        updates.append(update)
    return updates, FIRST_CHAT


@contextlib.asynccontextmanager
async def _processes(envs: list[dict[str, str]], cwd: Path) -> AsyncIterator[list[BotProcess]]:
    bots = [await BotProcess.start(env, cwd=cwd) for env in envs]
    try:
        for bot in bots:
            await bot.wait_for("is running", within=30)
        yield bots
    finally:
        for bot in bots:
            bot.kill()
            await bot.process.wait()


def _answers(telegram: FakeBotApi) -> dict[int, int]:
    counts: dict[int, int] = {}
    for message in telegram.delivered:
        chat = int(message["chat_id"])
        counts[chat] = counts.get(chat, 0) + 1
    return counts


async def test_a_replica_killed_mid_burst_loses_nothing_and_pays_nothing_twice(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path, redis_url: str
) -> None:
    kling.default = Reply(delay=0.3)
    ports = [free_port() for _ in range(3)]
    envs = [
        _environment(
            telegram,
            kling,
            tmp_path,
            REDIS_URL=redis_url,
            WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
            WEBHOOK_SECRET_TOKEN=SECRET,
            HTTP_LISTEN="127.0.0.1",
            HTTP_PORT=str(port),
        )
        for port in ports
    ]
    updates, first_chat = _burst(telegram)
    alive = set(range(3))
    acknowledged: set[int] = set()
    in_flight_at_kill = 0
    async with (
        _processes(envs, tmp_path) as bots,
        httpx.AsyncClient(timeout=10) as http,
    ):
        at_once = asyncio.Semaphore(40)  # Telegram's own limit per webhook

        async def deliver(update: dict[str, Any]) -> None:
            # A load balancer's random routing; Telegram sends again until it gets a 200.
            async with at_once:
                for _ in range(200):
                    replica = random.choice(sorted(alive))
                    url = f"http://127.0.0.1:{ports[replica]}/hook"
                    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                    try:
                        answer = await http.post(url, json=update, headers=headers)
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
                        continue
                    if answer.status_code == 200:
                        acknowledged.add(update["update_id"])
                        return
                    await asyncio.sleep(0.05)
                raise AssertionError(f"update {update['update_id']} never acknowledged")

        async def kill_mid_burst() -> None:
            nonlocal in_flight_at_kill
            await kling.wait_received(KILL_AFTER_CALLS, within=60)
            alive.discard(0)
            bots[0].process.kill()  # SIGKILL: no drain, no acknowledgement
            # Calls the killed process had sent may still be in the fake's socket buffers:
            # counted once the fake has read them (each takes 0.3 s to answer).
            await asyncio.sleep(0.1)
            in_flight_at_kill = kling.in_flight

        killing = asyncio.create_task(kill_mid_burst())
        await asyncio.gather(*(deliver(update) for update in updates))
        await killing
        answered = lambda: len(_answers(telegram)) >= UPDATES  # noqa: E731
        await telegram.wait_until(answered, within=60)
        await asyncio.sleep(1.0)  # any duplicate answer would have come by now
        killed_log = bots[0].lines

    counts = _answers(telegram)
    twice = sorted(chat - first_chat + 1 for chat, count in counts.items() if count > 1)
    print(  # the figures, for `pytest -s`
        f"webhook/redis: answers {sum(counts.values())}, twice {len(twice)}, "
        f"calls {len(kling.received)}, in flight at the kill {in_flight_at_kill}"
    )
    assert len(acknowledged) == UPDATES
    assert set(counts) == {first_chat + n for n in range(UPDATES)}, "every update answered"
    assert max(counts.values()) <= 2
    # Each update answered twice was answered by the killed process, which died between
    # Telegram taking its answer and its XACK (see README, "Durable intake").
    for update_id in twice:
        assert any(f" update={update_id} " in line for line in killed_log), update_id
    assert len(twice) <= in_flight_at_kill
    assert len(kling.received) <= DISTINCT + in_flight_at_kill, (
        len(kling.received),
        in_flight_at_kill,
    )
    with redis.Redis.from_url(redis_url) as client:
        assert client.xlen(STREAM) == 0, "every stored update answered and acknowledged"
        users = [int(client.get(key) or 0) for key in client.keys("segment-bot:quota:*:user:*")]
    assert max(users) == 1, "an update run again is not charged again"


async def test_a_polling_process_killed_and_started_again_answers_every_update(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path
) -> None:
    kling.default = Reply(delay=0.3)
    env = _environment(telegram, kling, tmp_path)
    updates, first_chat = _burst(telegram)
    for update in updates:
        telegram.push(update)
    async with _processes([env], tmp_path) as [first]:
        await kling.wait_received(KILL_AFTER_CALLS, within=60)
        first.process.kill()
        await first.process.wait()
        killed_log = first.lines
        await asyncio.sleep(0.1)  # the calls it sent last have reached the fake
        calls_before = len(kling.received)
        with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
            [(stored,)] = db.execute(
                "SELECT COUNT(*) FROM result_cache WHERE key LIKE 'sha256:%'"
            ).fetchall()
        # The offset Telegram saw had moved past updates that were stored, not answered.
        async with _processes([env], tmp_path):
            answered = lambda: len(_answers(telegram)) >= UPDATES  # noqa: E731
            await telegram.wait_until(answered, within=60)
            await asyncio.sleep(1.0)

    counts = _answers(telegram)
    twice = sorted(chat - first_chat + 1 for chat, count in counts.items() if count > 1)
    print(  # the figures, for `pytest -s`
        f"polling/sqlite: answers {sum(counts.values())}, twice {len(twice)}, "
        f"calls {len(kling.received)}, calls before the kill {calls_before}, "
        f"of which stored {stored}"
    )
    assert set(counts) == {first_chat + n for n in range(UPDATES)}
    assert max(counts.values()) <= 2
    for update_id in twice:  # answered, and killed before its acknowledgement
        assert any(f" update={update_id} " in line for line in killed_log), update_id
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        [(most,)] = db.execute("SELECT MAX(used) FROM quota WHERE subject LIKE 'user:%'")
    assert most == 1, "an update run again is not charged again"
    # Paid twice: only the images whose calls the killed process made and had not stored.
    assert len(kling.received) <= DISTINCT + (calls_before - stored), (
        len(kling.received),
        calls_before,
        stored,
    )
