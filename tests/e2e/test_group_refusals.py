"""What a group must never get: a stranger spending a private bot's limit through it, or an
apology for the bot's own fault."""

from __future__ import annotations

import asyncio

from bot.app import BotService
from bot.config import Settings
from tests.e2e.harness import running
from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.telegram import FakeBotApi, Fault
from tests.imagegen import jpeg

GROUP = -100800
ALLOWED = 21
STRANGER = 44


def _photo_and_check(telegram: FakeBotApi, seed: int) -> None:
    """A stranger posts a photo in the group and replies /check to it."""
    update = telegram.photo_update(
        GROUP, jpeg(640, 640, seed=seed), 640, 640, user_id=STRANGER, chat_type="supergroup"
    )
    telegram.push(update)
    check = telegram.command(GROUP, "/check", user_id=STRANGER, chat_type="supergroup")
    check["message"]["reply_to_message"] = update["message"]
    telegram.push(check)


async def test_a_private_bot_serves_no_group_it_was_not_given(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    private = settings.model_copy(update={"allowed_user_ids": frozenset({ALLOWED})})
    async with running(await BotService.open(private)):
        _photo_and_check(telegram, seed=1)
        telegram.push(telegram.command(GROUP, "/moderate on", user_id=STRANGER, chat_type="group"))
        telegram.push(telegram.photo_update(ALLOWED, jpeg(640, 640, seed=2), 640, 640))
        await telegram.wait_sent(ALLOWED)
        await asyncio.sleep(0.3)
    welcoming = private.model_copy(update={"allow_all_groups": True})
    async with running(await BotService.open(welcoming)):
        _photo_and_check(telegram, seed=3)
        [answer] = await telegram.wait_sent(GROUP)

    assert len(kling.received) == 2, "the allowed person's photo, then the welcome group's"
    assert answer["text"].startswith("Found 4 of 4")
    assert telegram.sent_to(GROUP) == [answer], "not even a refusal in the unlisted group"


async def test_a_failed_delete_posts_no_apology_in_the_group(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.admins[GROUP] = {ALLOWED}
    for command in ("/forbid face", "/action delete", "/moderate on"):
        telegram.push(telegram.command(GROUP, command, user_id=ALLOWED, chat_type="supergroup"))
    await telegram.wait_sent(GROUP, 3)
    telegram.fail("deleteMessage", *(Fault(status=500),) * 3)
    telegram.push(
        telegram.photo_update(
            GROUP, jpeg(640, 640), 640, 640, user_id=STRANGER, chat_type="supergroup"
        )
    )
    await kling.wait_received(1)
    texts = [m["text"] for m in (await telegram.wait_sent(GROUP, 4, within=15))[3:]]
    await asyncio.sleep(0.5)

    assert len(telegram.calls_to("deleteMessage")) == 3, "tried, and retried as a network fault"
    assert len(texts) == 1, "a server error is not a missing right: no rights notice"
    assert not [t for t in telegram.sent_to(GROUP) if "Sorry, something went wrong" in t["text"]]
    assert sum(t.startswith("⚠️ This photo breaks the chat's rules") for t in texts) == 1
    assert telegram.deleted == []
