"""One person's burst of photos does not starve someone else's single photo."""

from __future__ import annotations

from bot.app import BotService
from tests.fakes.recognizer import FakeRecognizer, Reply
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg

BURSTER = 9001
OTHER = 9002


async def test_a_single_photo_overtakes_a_burst(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    kling.default = Reply(delay=0.4)
    for seed in range(10):
        telegram.push(telegram.photo_update(BURSTER, jpeg(640, 640, seed=seed), 640, 640))
    await kling.wait_received(2)
    telegram.push(telegram.photo_update(OTHER, jpeg(640, 640, seed=99), 640, 640))

    await telegram.wait_sent(OTHER, within=3)
    answered_before = len(telegram.sent_to(BURSTER))
    await telegram.wait_sent(BURSTER, 10, within=15)

    assert answered_before <= 4, "the single photo waited behind most of the burst"
    assert kling.peak_in_flight <= 3, "the burst held more than its two places"
