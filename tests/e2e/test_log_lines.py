"""The per-image log line of a running `python -m bot`, in both formats: a cache hit and
a refusal read the same fields, with the same types, as text and as JSON."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.conftest import API_KEY
from tests.e2e.processes import bot_process, clean_environment
from tests.fakes import bot_environment
from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg, png
from tests.test_logs import _text_fields

CHAT = 5005


async def _image_lines(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path, log_format: str
) -> list[str]:
    """A photo, the same photo again, and a photo too small: the bot's image lines."""
    env = clean_environment(
        **bot_environment(telegram, kling, API_KEY),
        DATABASE_PATH=str(tmp_path / log_format / "bot.sqlite3"),
        LOG_FORMAT=log_format,
    )
    photo = jpeg(800, 800)
    async with bot_process(env, cwd=tmp_path) as bot:
        await bot.wait_for("is running")
        for answered, (data, side) in enumerate(((photo, 800), (photo, 800), (png(200, 200), 200))):
            telegram.push(telegram.photo_update(CHAT, data, side, side))
            await telegram.wait_sent(CHAT, answered + 1, within=20)
        bot.process.send_signal(signal.SIGTERM)
        status, lines, _ = await bot.end()
    assert status == 0
    return [line for line in lines if "bot.photo.pipeline" in line]


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_cache_hit_and_a_refusal_in_each_format(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path, log_format: str
) -> None:
    lines = await _image_lines(telegram, kling, tmp_path, log_format)
    print("\n".join(lines))  # what an operator reads (pytest -s shows it)
    if log_format == "json":
        fields = [json.loads(line) for line in lines]
    else:
        fields = [_text_fields(line) for line in lines]
    miss, hit, refused = fields
    assert (miss["outcome"], miss["cache"]) == ("recognized", "miss")
    assert (hit["outcome"], hit["cache"]) == ("recognized", "hit")
    assert hit["attempts"] == 0
    assert refused["outcome"] == "refused:TooSmall"
    assert refused["reason"] == "200x200"
    assert "cache" not in refused
    assert all(isinstance(f["changes"], list) for f in (miss, hit))
    assert all(f["source"] == "photo" for f in fields)
    assert not [line for line in lines if "None" in line]
    assert len(kling.received) == 1
