"""The API fails in ordinary ways; every photo still gets one clear answer."""

from __future__ import annotations

import asyncio
import logging

from bot.app import BotService
from tests.fakes.recognizer import FakeRecognizer, Reply, kling_error, success
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg

CHAT = 2002


async def test_503_then_200_is_retried_and_answered(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    kling.answer(Reply(status=503, body={"code": 5001, "message": "maintenance"}))
    telegram.push(telegram.photo_update(CHAT, jpeg(800, 600), 800, 600))

    [reply] = await telegram.wait_sent(CHAT)

    assert reply["text"].startswith("Found 4 of 4 segments")
    assert len(kling.received) == 2
    assert kling.received[0].decoded == kling.received[1].decoded


async def test_failure_under_http_200_is_readable_and_logged_with_request_id(
    bot: BotService,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    log_records: list[logging.LogRecord],
) -> None:
    kling.default.body = kling_error(1301, "content risk", request_id="req-1301-abc")
    telegram.push(telegram.photo_update(CHAT, jpeg(800, 600), 800, 600))

    [reply] = await telegram.wait_sent(CHAT)

    assert reply["text"] == ("The recognition service refused this image under its content policy.")
    assert len(kling.received) == 1, "a content-policy refusal is not retried"
    failures = [r.getMessage() for r in log_records if "recognition failed" in r.getMessage()]
    assert len(failures) == 1
    assert "request_id=req-1301-abc" in failures[0]
    assert "status=200" in failures[0]
    assert "code=1301" in failures[0]


async def test_slow_photo_does_not_hold_up_other_people(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    kling.answer(Reply(body=success(), delay=3.0))
    telegram.push(telegram.photo_update(CHAT, jpeg(800, 600), 800, 600))
    await asyncio.sleep(0.3)  # the slow one is at the API now
    telegram.push(telegram.photo_update(CHAT + 1, jpeg(800, 600, seed=1), 800, 600))

    await telegram.wait_sent(CHAT + 1, within=2.0)

    assert not telegram.sent_to(CHAT), "the fast photo was answered first"
    await telegram.wait_sent(CHAT, within=5.0)
