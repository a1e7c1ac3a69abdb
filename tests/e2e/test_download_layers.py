"""A broken file download through the whole bot, once on aiohttp (no proxy variables)
and once on httpx (proxy variables set, NO_PROXY sending 127.0.0.1 direct): the person
gets exactly one clear answer either way."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.app import BotService
from bot.config import Settings
from tests.e2e.harness import running
from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.telegram import FakeBotApi, Fault
from tests.imagegen import jpeg

CHAT = 5005
COULD_NOT_DOWNLOAD = "I could not download this image from Telegram. Please send it again."


@pytest.fixture(params=["aiohttp", "httpx"])
async def bot(
    request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BotService]:
    """The real BotService on one HTTP layer; the layer is chosen when it starts."""
    if request.param == "httpx":
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # never used: see NO_PROXY
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    async with running(await BotService.open(settings)) as service:
        yield service


async def test_a_download_cut_short_twice_gets_one_answer(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    data = jpeg(1280, 960, noise=True)
    telegram.fail("download", Fault(cut_at=len(data) // 3), Fault(cut_at=len(data) // 2))
    telegram.push(telegram.photo_update(CHAT, data, 1280, 960))

    [reply] = await telegram.wait_sent(CHAT)

    assert reply["text"] == COULD_NOT_DOWNLOAD
    assert len(telegram.calls_to("download")) == 2
    assert not kling.received


def hostile_file_path(telegram: FakeBotApi, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Make getFile answer with `path` as the file_path."""
    get_file = telegram._m_getFile

    async def hostile(params: dict[str, Any]) -> web.Response:
        answer = json.loads((await get_file(params)).text)
        answer["result"]["file_path"] = path
        return web.json_response(answer)

    monkeypatch.setattr(telegram, "_m_getFile", hostile)


@pytest.mark.parametrize("file_path", ["documents/a\nb", "documents/" + "a" * 70_000])
async def test_a_file_path_no_url_can_hold_gets_one_answer(
    bot: BotService,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    monkeypatch: pytest.MonkeyPatch,
    file_path: str,
) -> None:
    """getFile names a path with a control character, or one past httpx's 64 KB URL."""
    hostile_file_path(telegram, monkeypatch, file_path)
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))

    [reply] = await telegram.wait_sent(CHAT)

    assert reply["text"] == COULD_NOT_DOWNLOAD
    assert len(telegram.calls_to("getFile")) == 1, "a refusal is not tried again"
    assert not kling.received


async def test_a_path_on_this_machine_is_not_read_unless_in_local_mode(
    bot: BotService,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """python-telegram-bot reads any existing file getFile names, local mode or not; a
    Bot API server at https:// must not make the bot read its own disk."""
    secret = tmp_path / "on-this-machine.jpg"
    secret.write_bytes(jpeg(640, 640))
    hostile_file_path(telegram, monkeypatch, str(secret))
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))

    [reply] = await telegram.wait_sent(CHAT)

    assert reply["text"] == COULD_NOT_DOWNLOAD
    assert not kling.received
