"""Moderation's rights, doubts, topics and migrations as admins meet them: each button and
command needs its own admin right (read fresh), an anonymous admin's command waits for a
real admin, nothing is done when the poster cannot be confirmed, files and GIFs are left
alone unless asked for, a used-up group limit is reported once, every message about a
post in a forum topic stays in that topic, and reports outlive a group's migration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.app import BotService
from bot.config import Settings
from tests.e2e.harness import running, settled
from tests.fakes.recognizer import FakeRecognizer, Reply, success
from tests.fakes.telegram import ANONYMOUS_ADMIN_BOT, FakeBotApi, Fault
from tests.imagegen import jpeg
from tests.redis_process import RedisProcess

GROUP = -100500
OWNER = 11
MEMBER = 22
PIN_ONLY = 31
RESTRICT_ONLY = 32
DELETE_ONLY = 33
INFO_ONLY = 34
REPORTS = -100777
TOPIC = 77
FACE = success(face=True)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"report_chat_id": REPORTS})


@pytest.fixture
async def bot(settings: Settings, telegram: FakeBotApi) -> AsyncIterator[BotService]:
    telegram.admins[GROUP] = {OWNER}
    telegram.rights[GROUP, PIN_ONLY] = {"can_pin_messages"}
    telegram.rights[GROUP, RESTRICT_ONLY] = {"can_restrict_members"}
    telegram.rights[GROUP, DELETE_ONLY] = {"can_delete_messages"}
    telegram.rights[GROUP, INFO_ONLY] = {"can_change_info"}
    async with running(await BotService.open(settings)) as service:
        yield service


def command(
    telegram: FakeBotApi, text: str, user: int = OWNER, chat: int = GROUP, **content: Any
) -> dict[str, Any]:
    update = telegram.command(chat, text, user_id=user, chat_type="supergroup", **content)
    telegram.push(update)
    return update


def photo(
    telegram: FakeBotApi, seed: int = 1, user: int = MEMBER, **content: Any
) -> dict[str, Any]:
    update = telegram.photo_update(
        GROUP, jpeg(640, 640, seed=seed), 640, 640, user_id=user, chat_type="supergroup", **content
    )
    telegram.push(update)
    return update


async def policy(telegram: FakeBotApi, *texts: str, chat: int = GROUP) -> None:
    before = len(telegram.sent_to(chat))
    for text in texts:
        command(telegram, text, chat=chat)
    await telegram.wait_sent(chat, before + len(texts))


async def reported(telegram: FakeBotApi, kling: FakeRecognizer, *texts: str) -> dict[str, Any]:
    await policy(telegram, *texts)
    kling.default = Reply(body=FACE)
    photo(telegram)
    [report] = await telegram.wait_sent(REPORTS)
    return report


def press(telegram: FakeBotApi, message: dict[str, Any], verb: str, user: int) -> None:
    [data] = [
        button["callback_data"]
        for row in message["reply_markup"]["inline_keyboard"]
        for button in row
        if button["callback_data"].endswith(f":{verb}") or verb == "confirm"
    ]
    telegram.push(telegram.callback_update(message, data, user_id=user))


async def answer(telegram: FakeBotApi, count: int) -> dict[str, Any]:
    await telegram.wait_until(lambda: len(telegram.answers) >= count)
    return telegram.answers[count - 1]


def texts(telegram: FakeBotApi, chat: int = GROUP) -> list[str]:
    return [m.get("text", m.get("caption", "")) for m in telegram.sent_to(chat)]


# -- 1. rights, exactly ------------------------------------------------------------------------


async def test_a_pin_only_admin_cannot_ban_and_is_told_which_right_it_takes(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    report = await reported(telegram, kling, "/forbid face", "/action report", "/moderate on")

    press(telegram, report, "ban", user=PIN_ONLY)
    alert = await answer(telegram, 1)

    assert alert["text"] == "This needs the admin right “Ban users”, which you do not have there."
    assert alert["show_alert"] in (True, "true")
    assert telegram.banned == set()
    assert telegram.edits == []
    asked = [c.params for c in telegram.calls_to("getChatMember")]
    assert {"chat_id": GROUP, "user_id": PIN_ONLY} in [
        {"chat_id": int(p["chat_id"]), "user_id": int(p["user_id"])} for p in asked
    ], "the presser's rights are read fresh"


async def test_a_restrict_only_admin_bans_but_cannot_allow_or_undo_a_deletion(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    report = await reported(telegram, kling, "/forbid face", "/action delete", "/moderate on")

    press(telegram, report, "allow", user=RESTRICT_ONLY)
    refused_allow = await answer(telegram, 1)
    press(telegram, report, "undo", user=RESTRICT_ONLY)
    refused_undo = await answer(telegram, 2)
    press(telegram, report, "ban", user=RESTRICT_ONLY)
    banned = await answer(telegram, 3)

    assert "“Change group info”" in refused_allow["text"]
    assert "“Delete messages”" in refused_undo["text"]
    assert banned["text"] == "Banned."
    assert (GROUP, MEMBER) in telegram.banned
    assert [m for m in telegram.sent_to(GROUP) if "photo" in m] == [], "nothing restored"


async def test_the_owner_and_admins_with_the_right_may_press_each_button(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    report = await reported(telegram, kling, "/forbid face", "/action delete", "/moderate on")

    press(telegram, report, "undo", user=DELETE_ONLY)
    await answer(telegram, 1)
    press(telegram, report, "allow", user=INFO_ONLY)
    await answer(telegram, 2)
    press(telegram, report, "ban", user=OWNER)
    await answer(telegram, 3)

    assert [a["text"] for a in telegram.answers] == [
        "Undone.",
        "Allowed: I will not act on this image here again.",
        "Banned.",
    ]


async def test_a_right_revoked_a_moment_ago_stops_working_at_once(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    report = await reported(telegram, kling, "/forbid face", "/action report", "/moderate on")
    telegram.rights[GROUP, RESTRICT_ONLY] = {"can_pin_messages"}  # no chat_member update

    press(telegram, report, "ban", user=RESTRICT_ONLY)
    alert = await answer(telegram, 1)

    assert "“Ban users”" in alert["text"]
    assert telegram.banned == set()


async def test_a_button_the_bot_lacks_the_right_for_says_so_and_does_nothing(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.cannot_restrict.add(GROUP)
    report = await reported(telegram, kling, "/forbid face", "/action report", "/moderate on")

    press(telegram, report, "ban", user=OWNER)
    alert = await answer(telegram, 1)

    assert alert["text"] == "I need the admin right “Ban users” in that group to do this."
    assert telegram.calls_to("banChatMember") == []


@pytest.mark.parametrize("user", [PIN_ONLY, RESTRICT_ONLY, MEMBER])
async def test_settings_commands_need_the_change_info_right(
    bot: BotService, telegram: FakeBotApi, user: int
) -> None:
    command(telegram, "/moderate on", user=user)
    [refused] = await telegram.wait_sent(GROUP)
    command(telegram, "/moderate on", user=INFO_ONLY)
    saved = (await telegram.wait_sent(GROUP, 2))[-1]

    assert refused["text"] == (
        "This needs the admin right “Change group info”, which you do not have there."
    )
    assert saved["text"].startswith("Saved.")


async def test_an_anonymous_admins_command_waits_for_an_admin_with_the_right(
    bot: BotService, telegram: FakeBotApi
) -> None:
    update = telegram.command(GROUP, "/forbid face", chat_type="supergroup")
    update["message"]["from"] = ANONYMOUS_ADMIN_BOT
    update["message"]["sender_chat"] = {"id": GROUP, "type": "supergroup", "title": "A group"}
    telegram.push(update)
    [held] = await telegram.wait_sent(GROUP)
    assert held["text"].startswith("/forbid was sent as the group")
    assert "“Change group info”" in held["text"]
    assert (await bot.storage.chat_settings(GROUP)).forbid == frozenset()

    press(telegram, held, "confirm", user=RESTRICT_ONLY)
    refused = await answer(telegram, 1)
    press(telegram, held, "confirm", user=INFO_ONLY)
    saved = (await telegram.wait_sent(GROUP, 2))[-1]
    press(telegram, held, "confirm", user=OWNER)
    again = await answer(telegram, 3)

    assert "“Change group info”" in refused["text"]
    assert saved["text"].startswith("Saved.")
    assert "Forbidden: Face" in saved["text"]
    assert telegram.edits[-1]["text"] == "Confirmed by Admin 34."
    assert again["text"].startswith("This confirmation has expired"), "runs once"
    assert len(telegram.sent_to(GROUP)) == 2


# -- 2. never act unsure -----------------------------------------------------------------------


async def test_an_unreadable_admin_list_means_no_action_and_one_notice_an_hour(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await policy(telegram, "/forbid face", "/action delete", "/moderate on")
    kling.default = Reply(body=FACE)
    telegram.fail("getChatAdministrators", *[Fault(500)] * 3)
    for seed in (1, 2, 3):
        photo(telegram, seed=seed, user=OWNER)
    [notice] = await telegram.wait_sent(REPORTS)
    await telegram.wait_until(lambda: bot.stats.since_start["unsure"] == 3)

    assert notice["text"].startswith("⚠️ In A group I could not confirm who posted")
    assert telegram.deleted == []
    assert kling.received == [], "not even judged"
    assert len(telegram.sent_to(REPORTS)) == 1, "once per group per hour, not per photo"
    assert len(telegram.sent_to(GROUP)) == 3, "nothing in the group but the command answers"


async def test_with_storage_down_nothing_is_done_and_the_admins_hear_once(
    settings: Settings,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    redis_process: RedisProcess,
) -> None:
    telegram.admins[GROUP] = {OWNER}
    shared = Settings.model_validate(settings.model_dump() | {"redis_url": redis_process.url})
    async with running(await BotService.open(shared)) as service:
        await policy(telegram, "/forbid face", "/action delete", "/moderate on")
        kling.default = Reply(body=FACE)
        redis_process.stop()
        photo(telegram, seed=1)
        [notice] = await telegram.wait_sent(REPORTS)
        photo(telegram, seed=2)
        await until(lambda: service.stats.since_start["unsure"] == 2)

    assert notice["text"].startswith("⚠️ In A group I could not confirm who posted")
    assert telegram.deleted == [], "the allow list and warnings are unknown: hands off"
    assert len(telegram.sent_to(REPORTS)) == 1, "told once, from memory while storage is down"
    assert len(telegram.sent_to(GROUP)) == 3, "the group hears nothing of it"


# -- 3. decided in the core, with storage's count ------------------------------------------------


async def test_two_photos_at_once_reach_the_warning_limit_exactly_once(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await policy(telegram, "/forbid face", "/warnlimit 2 mute", "/moderate on")
    kling.default = Reply(body=FACE, delay=0.2)  # both photos wait for the API together
    photo(telegram, seed=1)
    photo(telegram, seed=2)
    reports = await telegram.wait_sent(REPORTS, 2)
    await settled(bot, telegram)

    assert list(telegram.restricted) == [(GROUP, MEMBER)]
    assert sum("muted" in report["caption"] for report in reports) == 1
    assert sum(text.startswith("⛔ Ann is muted") for text in texts(telegram)) == 1


# -- 4. quiet by default ------------------------------------------------------------------------


async def until(check: Callable[[], bool]) -> None:
    """Wait for a state of the bot itself, which no Bot API call announces."""
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - the bot's own counters have no event
            await asyncio.sleep(0.05)


async def test_files_gifs_and_stickers_are_left_alone_in_groups_unless_asked(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await policy(telegram, "/forbid face", "/action delete", "/moderate on")
    kling.default = Reply(body=FACE)
    pdf = telegram.document_update(
        GROUP,
        b"%PDF-1.4 not a photo",
        file_name="notes.pdf",
        mime_type="application/pdf",
        user_id=MEMBER,
        chat_type="supergroup",
    )
    gif = telegram.document_update(
        GROUP,
        b"GIF89a...",
        file_name="funny.mp4",
        mime_type="video/mp4",
        user_id=MEMBER,
        chat_type="supergroup",
    )
    document = gif["message"]["document"]
    gif["message"]["animation"] = {**document, "width": 400, "height": 400, "duration": 2}
    sticker = telegram.message(
        GROUP,
        user_id=MEMBER,
        chat_type="supergroup",
        sticker={
            "file_id": "sticker-1",
            "file_unique_id": "us1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        },
    )
    for update in (pdf, gif, sticker):
        telegram.push(update)
    await settled(bot, telegram)
    assert telegram.calls_to("getFile") == [], "not even downloaded"
    assert telegram.sent_to(REPORTS) == []

    await policy(telegram, "/checkfiles on")
    telegram.push(
        telegram.document_update(
            GROUP,
            b"%PDF-1.4 not a photo",
            file_name="notes.pdf",
            mime_type="application/pdf",
            user_id=MEMBER,
            chat_type="supergroup",
        )
    )
    [report] = await telegram.wait_sent(REPORTS)
    assert "I could not check it" in report["caption"], "asked for: judged, and reported"

    private = telegram.document_update(
        4141, b"%PDF-1.4 not a photo", file_name="notes.pdf", mime_type="application/pdf"
    )
    telegram.push(private)
    [answer_] = await telegram.wait_sent(4141)
    assert "image" in answer_["text"], "a private chat still gets its sentence"


async def test_a_used_up_group_limit_is_reported_once_and_the_operator_told_once(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.admins[GROUP] = {OWNER}
    operator = 5150
    limited = settings.model_copy(update={"group_daily_limit": 1, "admin_chat_id": operator})
    async with running(await BotService.open(limited)) as service:
        await policy(telegram, "/forbid face", "/moderate on")
        kling.default = Reply(body=success(face=False))
        photo(telegram, seed=1)
        await kling.wait_received(1)
        for seed in range(2, 17):
            photo(telegram, seed=seed)
        [report] = await telegram.wait_sent(REPORTS)
        [told] = await telegram.wait_sent(operator)
        await until(lambda: service.stats.since_start["unchecked"] == 15)
        command(telegram, "/policy", user=MEMBER)
        policy_text = (await telegram.wait_sent(GROUP, 3))[-1]["text"]

    assert len(kling.received) == 1
    assert len(telegram.sent_to(REPORTS)) == 1, "15 photos over the limit: one report"
    assert "This group has used its 1 check for today." in report["caption"]
    assert "I will not report this group's photos again" in report["caption"]
    assert len(telegram.sent_to(operator)) == 1
    assert "(GROUP_DAILY_LIMIT)" in told["text"]
    assert "Not checked so far: 15 photos" in policy_text


# -- 3. topics ------------------------------------------------------------------------------------


async def test_every_message_about_a_post_in_a_topic_stays_in_the_topic(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await policy(telegram, "/forbid face", "/action delete", "/warnlimit 2 mute")
    await policy(telegram, "/moderate on")
    kling.default = Reply(body=FACE)
    photo(telegram, seed=1, thread_id=TOPIC)
    [report] = await telegram.wait_sent(REPORTS)
    photo(telegram, seed=2, thread_id=TOPIC)
    await telegram.wait_sent(REPORTS, 2)
    command(telegram, "/policy", user=MEMBER, thread_id=TOPIC)
    await telegram.wait_until(lambda: texts(telegram)[-1].startswith("Moderation: on"))
    press(telegram, report, "undo", user=OWNER)
    await telegram.wait_until(lambda: any("photo" in m for m in telegram.sent_to(GROUP)))

    about_posts = telegram.sent_to(GROUP)[4:]
    kinds = [m.get("text", m.get("caption", ""))[:2] for m in about_posts]
    assert len(about_posts) == 5, kinds  # 2 removal notices, a mute notice, /policy, restored
    assert all(int(m["message_thread_id"]) == TOPIC for m in about_posts), kinds
    assert all("message_thread_id" not in m for m in telegram.sent_to(GROUP)[:4])


# -- 5. reports outlive migrations -----------------------------------------------------------------


async def test_a_report_made_before_a_migration_still_works_in_the_supergroup(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    report = await reported(telegram, kling, "/forbid face", "/action delete", "/moderate on")
    new_group = -1009999
    telegram.admins[new_group] = set()
    telegram.rights[new_group, DELETE_ONLY] = {"can_delete_messages"}
    telegram.push(
        telegram.message(GROUP, user_id=OWNER, chat_type="group", migrate_to_chat_id=new_group)
    )
    async with asyncio.timeout(10):  # the migration makes no Bot API call to wait for
        while await bot.storage.migrated_to(GROUP) != new_group:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    press(telegram, report, "undo", user=OWNER)
    refused = await answer(telegram, 1)
    press(telegram, report, "undo", user=DELETE_ONLY)
    undone = await answer(telegram, 2)

    assert "“Delete messages”" in refused["text"], "the old owner is checked in the new chat"
    assert undone["text"] == "Undone."
    [restored] = [m for m in telegram.sent_to(new_group) if "photo" in m]
    assert restored["caption"].startswith("Restored by Admin 33")
    assert [m for m in telegram.sent_to(GROUP) if "photo" in m] == []
