"""Groups and everything around them: policies, moderation, albums, access, quotas,
the result cache, languages and persistence, through the whole bot."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import BotService
from bot.config import Settings
from tests.e2e.harness import running
from tests.fakes.recognizer import FakeRecognizer, Reply, success
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg

GROUP = -100500
ADMIN = 11
MEMBER = 22
BOT_ADMIN = 33
STRANGER = 44
REPORTS = -100777


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"admin_user_ids": frozenset({BOT_ADMIN}), "user_daily_limit": 3}
    )


@pytest.fixture(autouse=True)
def group_admins(telegram: FakeBotApi) -> None:
    telegram.admins[GROUP] = {ADMIN}


def _group(telegram: FakeBotApi, text: str, user: int = ADMIN) -> None:
    telegram.push(telegram.command(GROUP, text, user_id=user, chat_type="supergroup"))


def _group_photo(telegram: FakeBotApi, seed: int, user: int = MEMBER, **kwargs: object) -> dict:
    update = telegram.photo_update(
        GROUP, jpeg(640, 640, seed=seed), 640, 640, user_id=user, chat_type="supergroup", **kwargs
    )
    telegram.push(update)
    return update


async def _settle(telegram: FakeBotApi, kling: FakeRecognizer, calls: int) -> None:
    """Wait until the API has had `calls` requests and the bot has had time to act."""
    await kling.wait_received(calls)
    await asyncio.sleep(0.5)


async def test_a_non_admin_cannot_change_the_policy(bot: BotService, telegram: FakeBotApi) -> None:
    _group(telegram, "/forbid face", user=MEMBER)
    [refusal] = await telegram.wait_sent(GROUP)
    _group(telegram, "/policy", user=MEMBER)
    policy = await telegram.wait_sent(GROUP, 2)

    assert refusal["text"] == (
        "This needs the admin right “Change group info”, which you do not have there."
    )
    assert "Forbidden: none" in policy[1]["text"]
    assert "Moderation: off" in policy[1]["text"]


async def test_forbid_face_with_delete_removes_faces_and_leaves_the_rest_alone(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    for command in ("/forbid face", "/action delete", "/moderate on"):
        _group(telegram, command)
    saved = await telegram.wait_sent(GROUP, 3)
    assert "Forbidden: Face" in saved[-1]["text"]
    assert "Action: delete" in saved[-1]["text"]

    kling.answer(Reply(body=success(face=False)))
    clean = _group_photo(telegram, seed=1)
    await _settle(telegram, kling, 1)
    assert telegram.deleted == []
    assert len(telegram.sent_to(GROUP)) == 3, "a photo that passes gets no message"

    kling.answer(Reply(body=success(face=True)))
    with_face = _group_photo(telegram, seed=2)
    [notice] = (await telegram.wait_sent(GROUP, 4))[3:]
    assert telegram.deleted == [(GROUP, with_face["message"]["message_id"])]
    assert clean["message"]["message_id"] not in [m for _, m in telegram.deleted]
    assert notice["text"].startswith("🗑 A photo by Ann was removed: it shows Face")


async def test_without_the_delete_right_the_admins_are_told_once_and_photos_warned(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.cannot_delete.add(GROUP)
    for command in ("/forbid head", "/action delete", "/moderate on"):
        _group(telegram, command)
    saved = await telegram.wait_sent(GROUP, 3)

    _group_photo(telegram, seed=1)
    first = (await telegram.wait_sent(GROUP, 4))[3:]
    _group_photo(telegram, seed=2)
    second = (await telegram.wait_sent(GROUP, 5))[4:]

    assert "❌ delete photos that break the rules ('Delete messages')" in saved[-1]["text"]
    texts = [m["text"] for m in first + second]
    assert all(t.startswith("⚠️ This photo breaks the chat's rules") for t in texts)
    assert telegram.deleted == []


async def test_report_sends_the_photo_to_the_report_chat(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    service = await BotService.open(settings.model_copy(update={"report_chat_id": REPORTS}))
    async with running(service):
        for command in ("/require clothing", "/action report", "/moderate on"):
            _group(telegram, command)
        await telegram.wait_sent(GROUP, 3)
        kling.answer(Reply(body=success(cloth=False)))
        photo = _group_photo(telegram, seed=1)
        [report] = await telegram.wait_sent(REPORTS)

    assert report["photo"] == photo["message"]["photo"][-1]["file_id"]
    assert "does not show Clothing, which is required here" in report["caption"]
    assert len(telegram.sent_to(GROUP)) == 3, "reporting posts nothing in the group"


async def test_groups_stay_quiet_unless_asked_and_check_answers(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    photo = _group_photo(telegram, seed=1)
    telegram.push({"message": {**telegram.message(GROUP, chat_type="supergroup")["message"]}})
    await asyncio.sleep(0.8)
    assert telegram.sent_to(GROUP) == []
    assert kling.received == []

    check = telegram.command(GROUP, "/check", user_id=MEMBER, chat_type="supergroup")
    check["message"]["reply_to_message"] = photo["message"]
    telegram.push(check)
    [answer] = await telegram.wait_sent(GROUP)
    assert answer["text"].startswith("Found 4 of 4 segments")
    assert answer["reply_parameters"]["message_id"] == photo["message"]["message_id"]


async def test_an_album_of_three_gets_one_answer(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    chat = 5151
    for seed in range(3):
        telegram.push(
            telegram.photo_update(chat, jpeg(640, 640, seed=seed), 640, 640, media_group_id="a1")
        )
    [answer] = await telegram.wait_sent(chat)
    await asyncio.sleep(0.8)

    assert len(telegram.sent_to(chat)) == 1
    lines = answer["text"].splitlines()
    assert lines[0] == "Results for 3 images:"
    assert [line[:3] for line in lines[1:]] == ["1. ", "2. ", "3. "]
    assert len(kling.received) == 3


async def test_a_second_identical_photo_costs_no_call_and_two_at_once_cost_one(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    chat = 6161
    first = telegram.photo_update(chat, jpeg(640, 640, seed=1), 640, 640)
    telegram.push(first)
    await telegram.wait_sent(chat)
    telegram.push(telegram.message(chat, photo=first["message"]["photo"]))
    await telegram.wait_sent(chat, 2)
    assert len(kling.received) == 1

    kling.default = Reply(delay=0.5)
    same = jpeg(640, 640, seed=2)
    telegram.push(telegram.photo_update(chat, same, 640, 640))
    telegram.push(telegram.photo_update(chat + 1, same, 640, 640))
    replies = await telegram.wait_sent(chat, 3)
    await telegram.wait_sent(chat + 1)
    assert len(kling.received) == 2
    assert replies[2]["text"] == telegram.sent_to(chat + 1)[0]["text"]


async def test_the_daily_limit_stops_the_next_call_and_says_when_it_resets(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    chat = 7171
    for seed in range(4):
        telegram.push(telegram.photo_update(chat, jpeg(640, 640, seed=seed), 640, 640))
        await telegram.wait_sent(chat, seed + 1)
    telegram.push(telegram.command(chat, "/quota"))
    replies = await telegram.wait_sent(chat, 5)

    assert len(kling.received) == 3
    assert replies[3]["text"].startswith("You have used all 3 of your checks for today.")
    assert "They reset at 00:00 UTC, in" in replies[3]["text"]
    assert replies[4]["text"].startswith("Checks left today for you: 0")


async def test_bot_admins_have_no_limit_and_see_stats(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    for seed in range(4):
        telegram.push(telegram.photo_update(BOT_ADMIN, jpeg(640, 640, seed=seed), 640, 640))
        await telegram.wait_sent(BOT_ADMIN, seed + 1)
    telegram.push(telegram.command(BOT_ADMIN, "/stats"))
    replies = await telegram.wait_sent(BOT_ADMIN, 5)
    telegram.push(telegram.command(MEMBER, "/stats"))
    [refused] = await telegram.wait_sent(MEMBER)

    assert all(r["text"].startswith("Found") for r in replies[:4])
    assert "api_calls: 4 / 4" in replies[4]["text"]
    assert "photos: 4 / 4" in replies[4]["text"]
    # One photo at a time keeps the limit under half in use: it stays where it began.
    assert replies[4]["text"].endswith("API calls allowed at once now: 16")
    assert refused["text"] == "Only the bot's admins can use this command."


async def test_a_russian_speaker_gets_russian_and_lang_overrides(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    chat = 8181
    telegram.push(telegram.photo_update(chat, jpeg(640, 640), 640, 640, language="ru"))
    [russian] = await telegram.wait_sent(chat)
    telegram.push(telegram.command(chat, "/lang zh", language="ru"))
    await telegram.wait_sent(chat, 2)
    telegram.push(telegram.photo_update(chat, jpeg(250, 640), 250, 640, language="ru"))
    replies = await telegram.wait_sent(chat, 3)

    assert russian["text"].splitlines() == [
        "На изображении найдено 4 из 4 сегментов:",
        "✅ Голова (лицо с волосами)",
        "✅ Лицо",
        "✅ Одежда",
        "✅ Главный объект",
    ]
    assert replies[1]["text"].startswith("已保存。")
    assert replies[2]["text"].startswith("这张图片的尺寸是 250 × 640 像素")


async def test_settings_survive_a_restart_with_the_same_database(
    settings: Settings, telegram: FakeBotApi
) -> None:
    async with running(await BotService.open(settings)):
        _group(telegram, "/forbid face")
        _group(telegram, "/moderate on")
        await telegram.wait_sent(GROUP, 2)
    async with running(await BotService.open(settings)):
        _group(telegram, "/policy", user=MEMBER)
        policy = (await telegram.wait_sent(GROUP, 3))[2]["text"]

    assert "Moderation: on" in policy
    assert "Forbidden: Face" in policy


async def test_only_allowed_people_and_groups_are_served(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    limited = settings.model_copy(
        update={"allowed_user_ids": frozenset({MEMBER}), "allowed_chat_ids": frozenset({GROUP})}
    )
    async with running(await BotService.open(limited)):
        telegram.push(telegram.photo_update(STRANGER, jpeg(640, 640), 640, 640))
        [refusal] = await telegram.wait_sent(STRANGER)
        telegram.push(telegram.photo_update(MEMBER, jpeg(640, 640), 640, 640))
        [answer] = await telegram.wait_sent(MEMBER)
        other_group = -100999
        telegram.push(telegram.command(other_group, "/policy", chat_type="supergroup"))
        _group(telegram, "/policy", user=STRANGER)
        await telegram.wait_sent(GROUP)
        await asyncio.sleep(0.3)

    assert refusal["text"] == "Sorry, this bot is private. Ask its operator for access."
    assert answer["text"].startswith("Found")
    assert telegram.sent_to(other_group) == []
    assert len(kling.received) == 1
