"""Hostile files sent to the running bot at once, each by its own person: every one gets
exactly one sentence, none reaches the API unless it is a real image, and no worker is
left decoding when the last answer has gone."""

from __future__ import annotations

import pytest

from bot.app import BotService
from bot.config import Settings
from tests import hostile
from tests.e2e.harness import settled
from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.telegram import FakeBotApi

TOO_MUCH_WORK = "too much work to check"
NO_MEMORY = "send it as a photo rather than as a file"
FOUND = "Found 4 of 4 segments"
# (file, what its one answer says)
CASES = {
    "scan bomb.jpg": (lambda: hostile.scan_bomb(5000), TOO_MUCH_WORK),
    "arithmetic scan bomb.jpg": (hostile.arith_scan_bomb, TOO_MUCH_WORK),
    "99 scans at 49 MP.jpg": (lambda: hostile.scan_bomb(99, side=7000), TOO_MUCH_WORK),
    "lossless 49 MP.webp": (hostile.webp_lossless_flat, NO_MEMORY),
    "animated 49 MP.webp": (hostile.webp_animated_canvas, NO_MEMORY),
    "49 MP float.tif": (lambda: hostile.tiff_flat(7000, 7000, "F"), FOUND),
    "49 MP rotated.png": (lambda: hostile.png_flat(7000, 7000, "RGBA", orientation=8), FOUND),
    "49 MP canvas.gif": (hostile.gif_canvas, FOUND),
    "truncated progressive.jpg": (hostile.truncated_progressive, "damaged or incomplete"),
    "65535 px.png": (lambda: hostile.png_header_only(65535, 65535), "megapixels"),
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The tests' 10 s photo deadline is for prompt failures; ten files that each take
    seconds of a decode worker's CPU queue for two workers, and on a loaded machine the
    last ones would read "taking too long" instead of their own sentence."""
    return settings.model_copy(update={"photo_deadline_seconds": 90})


async def test_each_hostile_file_gets_one_sentence(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    chats = {}
    for n, (name, (make, _)) in enumerate(CASES.items()):
        data = make()
        assert data is not None
        chats[name] = 5000 + n
        telegram.push(telegram.document_update(chats[name], data, file_name=name))
    for chat in chats.values():
        await telegram.wait_sent(chat, within=120)
    await settled(bot, telegram, within=60)

    for name, (_, expected) in CASES.items():
        answers = [message["text"] for message in telegram.sent_to(chats[name])]
        assert len(answers) == 1, f"{name}: {answers}"
        assert expected in answers[0], f"{name}: {answers[0]}"
    # Refused files never reach the API (the flat TIFF and GIF may share one call: their
    # JPEGs can be the same bytes, which the cache knows).
    assert 1 <= len(kling.received) <= sum(expected == FOUND for _, expected in CASES.values())
    assert not bot.decoders.busy_pids
