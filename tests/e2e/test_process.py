"""The README's run command as a real process: it answers, stops cleanly on SIGTERM, and
logs no secret."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from tests.conftest import API_KEY, SECRETS
from tests.fakes import bot_environment
from tests.fakes.recognizer import FakeRecognizer, Reply
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg

CHAT = 3003
RUN_SCRIPT = Path(__file__).parents[2] / "scripts" / "run"


async def test_process_answers_and_finishes_photos_in_flight_on_sigterm(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path
) -> None:
    env = (
        os.environ
        | bot_environment(telegram, kling, API_KEY)
        | {"LOG_LEVEL": "DEBUG", "DATABASE_PATH": str(tmp_path / "bot.sqlite3")}
    )
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
