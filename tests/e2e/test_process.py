"""The README's run command as a real process: it answers, stops cleanly on SIGTERM, and
logs no secret."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import psutil

from tests import hostile
from tests.conftest import API_KEY, SECRETS
from tests.fakes import bot_environment
from tests.fakes.recognizer import FakeRecognizer, Reply
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg

CHAT = 3003
RUN_SCRIPT = Path(__file__).parents[2] / "scripts" / "run"


def _environment(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path, **settings: str
) -> dict[str, str]:
    """The run command's environment against the fakes, with a database in `tmp_path`."""
    return (
        dict(os.environ)
        | bot_environment(telegram, kling, API_KEY)
        | {"DATABASE_PATH": str(tmp_path / "bot.sqlite3"), **settings}
    )


async def test_process_answers_and_finishes_photos_in_flight_on_sigterm(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path
) -> None:
    env = _environment(telegram, kling, tmp_path, LOG_LEVEL="DEBUG")
    process = await asyncio.create_subprocess_exec(
        RUN_SCRIPT, cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    stderr_task = asyncio.create_task(process.stderr.read())
    try:
        telegram.push(telegram.photo_update(CHAT, jpeg(800, 800), 800, 800))
        [first] = await telegram.wait_sent(CHAT, within=30)
        assert first["text"].startswith("Found 4 of 4 segments")

        kling.answer(Reply(delay=1.5))
        telegram.push(telegram.photo_update(CHAT, jpeg(800, 800, seed=1), 800, 800))
        await kling.wait_received(2)
        process.send_signal(signal.SIGTERM)

        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
        assert len(telegram.sent_to(CHAT)) == 2, "the photo in flight was answered"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = (await stderr_task).decode()
    assert "bot @segment_bot is running" in stderr
    assert not [s for s in SECRETS if s in stderr]


async def test_hostile_files_get_one_sentence_and_sigterm_during_a_decode_exits_0(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path
) -> None:
    env = _environment(telegram, kling, tmp_path, DECODE_CPU_SECONDS="1")
    process = await asyncio.create_subprocess_exec(
        RUN_SCRIPT, cwd=tmp_path, env=env, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        # 5,000 scans: refused by the count, before any decode.
        telegram.push(
            telegram.document_update(
                CHAT, hostile.scan_bomb(5000), file_name="a.jpg", mime_type="image/jpeg"
            )
        )
        [first] = await telegram.wait_sent(CHAT, within=30)
        assert "too much work to check" in first["text"]

        # 190 KB whose re-encode takes seconds of CPU: SIGTERM comes while it decodes.
        heavy = hostile.png_flat(7000, 7000, "RGBA", orientation=8)
        telegram.push(telegram.document_update(CHAT, heavy, file_name="b.png"))
        bot = psutil.Process(process.pid)
        workers = await _decoding_worker(bot)
        process.send_signal(signal.SIGTERM)

        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
        texts = [message["text"] for message in telegram.sent_to(CHAT)]
        assert len(texts) == 2, "each file got one answer, the one in flight included"
        assert "too much work to check" in texts[1]
        assert not kling.received
        assert not [pid for pid in workers if psutil.pid_exists(pid)], "no worker outlives the bot"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _decoding_worker(bot: psutil.Process, within: float = 30) -> list[int]:
    """The bot's worker processes, once one of them is busy decoding."""
    async with asyncio.timeout(within):
        while True:
            workers = bot.children()
            if any(_busy(worker) for worker in workers):
                return [worker.pid for worker in workers]
            await asyncio.sleep(0.05)


def _busy(worker: psutil.Process) -> bool:
    """Decoding: a fifth of a core or more (on a loaded machine a decode gets less than
    half); a worker that was replaced meanwhile is not."""
    try:
        return worker.cpu_percent(0.1) > 20
    except psutil.NoSuchProcess:
        return False
