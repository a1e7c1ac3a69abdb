"""Telegram fails in ordinary ways; the bot keeps running and answers every photo once."""

from __future__ import annotations

import logging
import re

import pytest

from bot.app import BotService
from bot.messages import people
from bot.tg.chat_commands import ChatCommands
from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.telegram import FakeBotApi, Fault
from tests.imagegen import jpeg

CHAT = 5005


async def test_get_file_failing_once_is_retried(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.fail("getFile", Fault(status=500))
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))

    [reply] = await telegram.wait_sent(CHAT)

    assert reply["text"].startswith("Found 4 of 4")
    assert len(telegram.calls_to("getFile")) == 2


async def test_get_file_failing_for_good_gets_a_clear_answer(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.fail("getFile", Fault(status=502), Fault(status=502))
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))

    [reply] = await telegram.wait_sent(CHAT)

    assert reply["text"] == "I could not download this image from Telegram. Please send it again."
    assert not kling.received


async def test_download_cut_short_is_retried(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    data = jpeg(1280, 960, noise=True)
    telegram.fail("download", Fault(cut_at=len(data) // 3))
    telegram.push(telegram.photo_update(CHAT, data, 1280, 960))

    [reply] = await telegram.wait_sent(CHAT)

    assert reply["text"].startswith("Found 4 of 4")
    assert kling.received[0].decoded == data


async def test_retry_after_on_send_is_waited_out_and_the_reply_sent_once(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.fail("sendMessage", Fault(retry_after=1))
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))

    replies = await telegram.wait_sent(CHAT)

    assert len(replies) == 1
    assert len(telegram.calls_to("sendMessage")) == 2
    first, second = telegram.calls_to("sendMessage")
    assert second.at - first.at >= 1.0


async def test_polling_survives_get_updates_failing_for_a_while(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.fail("getUpdates", Fault(status=502), Fault(status=502))
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))

    [reply] = await telegram.wait_sent(CHAT, within=15)

    assert reply["text"].startswith("Found 4 of 4")


@pytest.fixture
def broken_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> str:
        raise RuntimeError("summary exploded")

    monkeypatch.setattr(people, "reply_for", boom)


@pytest.mark.usefixtures("broken_summary")
async def test_unexpected_error_in_a_photo_gets_an_apology_with_the_logged_id(
    bot: BotService, telegram: FakeBotApi, log_records: list[logging.LogRecord]
) -> None:
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))

    [reply] = await telegram.wait_sent(CHAT)

    match = re.search(r"error id ([0-9a-f]{8})", reply["text"])
    assert match
    [record] = [
        r for r in log_records if r.name.startswith("bot") and match.group(1) in r.getMessage()
    ]
    assert record.exc_info is not None
    assert "summary exploded" in str(record.exc_info[1])
    assert "Traceback" not in reply["text"]


@pytest.fixture
def broken_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    async def boom(*_: object) -> None:
        raise RuntimeError("hint exploded")

    monkeypatch.setattr(ChatCommands, "on_text", boom)


@pytest.mark.usefixtures("broken_hint")
async def test_global_error_handler_answers_other_updates_with_an_id(
    bot: BotService, telegram: FakeBotApi, log_records: list[logging.LogRecord]
) -> None:
    telegram.push(telegram.message(CHAT, text="hi"))

    [reply] = await telegram.wait_sent(CHAT)

    match = re.search(r"error id ([0-9a-f]{8})", reply["text"])
    assert match
    [record] = [r for r in log_records if f"unhandled error id={match.group(1)}" in r.getMessage()]
    assert "hint exploded" in str(record.exc_info[1] if record.exc_info else "")
