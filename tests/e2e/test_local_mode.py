"""TELEGRAM_LOCAL_MODE: against a local Bot API server, files over Telegram's 20 MB are read
from the server's disk, and the image rules still apply to them."""

from __future__ import annotations

from pathlib import Path

from bot.app import BotService
from bot.config import Settings
from tests.e2e.harness import running
from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg

CHAT = 6006
MIB = 1024 * 1024


async def test_a_file_over_20_mb_is_read_from_the_local_server_and_shrunk(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path
) -> None:
    telegram.serve_locally(tmp_path / "telegram-bot-api")
    local = settings.model_copy(update={"telegram_local_mode": True})
    data = jpeg(4000, 3000, noise=True, quality=100)
    assert 20 * MIB < len(data) < 25 * MIB

    async with running(await BotService.open(local)):
        telegram.push(
            telegram.document_update(CHAT, data, file_name="scan.jpg", mime_type="image/jpeg")
        )
        [reply] = await telegram.wait_sent(CHAT, within=30)

    assert reply["text"].startswith("Found 4 of 4 segments")
    assert "to fit the 10 MB limit" in reply["text"]
    assert len(telegram.calls_to("getFile")) == 1
    assert not telegram.calls_to("download"), "read from the server's disk, not over HTTP"
    [sent] = kling.received
    assert sent.decoded is not None
    assert len(sent.decoded) <= 10_000_000


async def test_local_mode_still_refuses_what_breaks_a_rule(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path
) -> None:
    telegram.serve_locally(tmp_path / "telegram-bot-api")
    local = settings.model_copy(update={"telegram_local_mode": True})
    async with running(await BotService.open(local)):
        telegram.push(telegram.document_update(CHAT, jpeg(200, 200), file_name="tiny.jpg"))
        [tiny] = await telegram.wait_sent(CHAT)
        telegram.push(telegram.document_update(CHAT, b"x", file_size=2001 * MIB))
        [_, huge] = await telegram.wait_sent(CHAT, 2)

    assert tiny["text"].startswith("This image is 200 x 200 px; each side must be at least 300")
    assert "This file is 2001.0 MB; Telegram lets bots download at most 2000 MB." in huge["text"]
    assert not kling.received
