"""Probing moderation the way hostile members and hurried admins meet it: forged and
garbage button data, presses from the wrong chat, Telegram failing mid-press, migrations
with buttons and held commands in flight, channels at the warning limit, and the
"unsure" notice when there is no report chat.

A test marked xfail(strict=True) shows a defect that is still there (see its reason).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from bot.app import BotService
from bot.config import Settings
from bot.moderation import Action, ChatSettings, Mode
from bot.recognition.results import Segment
from tests.e2e.harness import running, settled
from tests.fakes.recognizer import FakeRecognizer, Reply, success
from tests.fakes.telegram import ANONYMOUS_ADMIN_BOT, CHANNEL_BOT, FakeBotApi, Fault
from tests.imagegen import jpeg

GROUP = -100510
OTHER_GROUP = -100520
NEW_GROUP = -1009510
OWNER = 11
OTHER_OWNER = 12
MEMBER = 22
INFO_ONLY = 34
REPORTS = -100787
FACE = success(face=True)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"report_chat_id": REPORTS})


@pytest.fixture
async def bot(settings: Settings, telegram: FakeBotApi) -> AsyncIterator[BotService]:
    telegram.admins[GROUP] = {OWNER}
    telegram.admins[OTHER_GROUP] = {OTHER_OWNER}
    telegram.rights[GROUP, INFO_ONLY] = {"can_change_info"}
    async with running(await BotService.open(settings)) as service:
        yield service


def command(
    telegram: FakeBotApi,
    text: str,
    user: int = OWNER,
    chat: int = GROUP,
    chat_type: str = "supergroup",
    **content: Any,
) -> dict[str, Any]:
    update = telegram.command(chat, text, user_id=user, chat_type=chat_type, **content)
    telegram.push(update)
    return update


def photo(
    telegram: FakeBotApi,
    seed: int = 1,
    user: int = MEMBER,
    chat: int = GROUP,
    chat_type: str = "supergroup",
    **content: Any,
) -> dict[str, Any]:
    update = telegram.photo_update(
        chat, jpeg(640, 640, seed=seed), 640, 640, user_id=user, chat_type=chat_type, **content
    )
    telegram.push(update)
    return update


async def policy(
    telegram: FakeBotApi, *texts: str, chat: int = GROUP, chat_type: str = "supergroup"
) -> None:
    before = len(telegram.sent_to(chat))
    for text in texts:
        command(telegram, text, chat=chat, chat_type=chat_type)
    await telegram.wait_sent(chat, before + len(texts))


def data_of(message: dict[str, Any], ending: str = "") -> str:
    [data] = [
        button["callback_data"]
        for row in message["reply_markup"]["inline_keyboard"]
        for button in row
        if button["callback_data"].endswith(ending)
    ]
    return str(data)


def press(telegram: FakeBotApi, message: dict[str, Any], data: str, user: int) -> None:
    telegram.push(telegram.callback_update(message, data, user_id=user))


async def answer(telegram: FakeBotApi, count: int) -> dict[str, Any]:
    await telegram.wait_until(lambda: len(telegram.answers) >= count)
    return telegram.answers[count - 1]


async def reported(telegram: FakeBotApi, kling: FakeRecognizer, *texts: str) -> dict[str, Any]:
    await policy(telegram, *texts)
    kling.default = Reply(body=FACE)
    photo(telegram)
    [report] = await telegram.wait_sent(REPORTS)
    return report


async def migrated(bot: BotService, telegram: FakeBotApi, old: int, new: int) -> None:
    telegram.push(telegram.message(old, user_id=OWNER, chat_type="group", migrate_to_chat_id=new))
    async with asyncio.timeout(10):  # the migration makes no Bot API call to wait for
        while await bot.storage.migrated_to(old) != new:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


# -- button data: forged, garbage, from another chat -----------------------------------------------


@pytest.mark.parametrize("data", ["garbage", "R:abc:undo", "undo", "ё:1"])
async def test_every_press_is_answered_even_with_data_the_bot_never_made(
    bot: BotService, telegram: FakeBotApi, data: str
) -> None:
    message = {"chat_id": GROUP, "message_id": 5}
    press(telegram, message, data, user=OWNER)
    await settled(bot, telegram)

    assert len(telegram.answers) == 1


@pytest.mark.parametrize(
    "data",
    [
        "r:abc:undo",  # a report that never existed
        "r:" + "f" * 24 + ":ban",
        "r:-1:ban",
        "r:abc:nuke",
        "r:abc:undo:extra",
        "c:" + "0" * 24,
        "s:abc:m.on",
        "s:abc:" + "x" * 40,
        "r:" + "a" * 60,
    ],
)
async def test_forged_or_garbage_report_data_is_answered_once_and_does_nothing(
    bot: BotService, telegram: FakeBotApi, data: str
) -> None:
    press(telegram, {"chat_id": GROUP, "message_id": 5}, data, user=OWNER)
    await settled(bot, telegram)

    assert len(telegram.answers) == 1
    assert telegram.banned == set()
    assert telegram.delivered == []
    assert telegram.edits == []


async def test_a_report_of_one_group_pressed_by_the_owner_of_another_does_nothing(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    report = await reported(telegram, kling, "/forbid face", "/action delete", "/moderate on")

    for verb in ("undo", "allow", "ban"):
        press(telegram, report, data_of(report, f":{verb}"), user=OTHER_OWNER)
    await answer(telegram, 3)
    await settled(bot, telegram)

    assert all("which you do not have there" in a["text"] for a in telegram.answers)
    assert telegram.banned == set()
    assert [m for m in telegram.sent_to(GROUP) if "photo" in m] == []
    asked = {
        (int(c.params["chat_id"]), int(c.params["user_id"]))
        for c in telegram.calls_to("getChatMember")
    }
    assert (GROUP, OTHER_OWNER) in asked, "rights are read in the report's group"


async def test_a_report_pressed_in_an_admins_private_chat_checks_rights_in_the_group(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    """Without a report chat each admin gets the report privately; the press happens in
    a private chat, where everyone "holds every right": the group's rights must count."""
    telegram.admins[GROUP] = {OWNER}
    telegram.rights[GROUP, 31] = {"can_pin_messages"}
    private = settings.model_copy(update={"report_chat_id": None})
    async with running(await BotService.open(private)) as service:
        await policy(telegram, "/forbid face", "/action report", "/moderate on")
        kling.default = Reply(body=FACE)
        photo(telegram)
        [copy] = await telegram.wait_sent(31)
        press(telegram, copy, data_of(copy, ":ban"), user=31)
        refused = await answer(telegram, 1)
        await settled(service, telegram)

    assert "“Ban users”" in refused["text"]
    assert telegram.banned == set()


# -- Telegram failing in the middle of a press -----------------------------------------------------


async def test_a_press_while_get_chat_member_fails_is_answered_and_does_nothing(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    report = await reported(telegram, kling, "/forbid face", "/action delete", "/moderate on")
    telegram.fail("getChatMember", Fault(500), Fault(500), Fault(500))

    press(telegram, report, data_of(report, ":ban"), user=OWNER)
    alert = await answer(telegram, 1)
    await settled(bot, telegram)

    assert alert["show_alert"] in (True, "true")
    assert telegram.banned == set()
    assert telegram.edits == []
    assert len(telegram.answers) == 1


async def test_a_menu_press_while_get_chat_member_times_out_changes_nothing(
    bot: BotService, telegram: FakeBotApi
) -> None:
    command(telegram, "/settings")
    [menu] = await telegram.wait_sent(GROUP)
    telegram.fail("getChatMember", Fault(500, delay=0.1), Fault(500), Fault(500))

    press(telegram, menu, data_of(menu, ":m.on"), user=OWNER)
    alert = await answer(telegram, 1)
    await settled(bot, telegram)

    assert alert["show_alert"] in (True, "true")
    assert not (await bot.storage.chat_settings(GROUP)).moderating
    assert telegram.edits == []


# -- migrations ------------------------------------------------------------------------------------


async def test_undo_after_a_migration_deletes_no_unrelated_message_of_the_supergroup(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    report = await reported(telegram, kling, "/forbid face", "/action warn", "/moderate on")
    warning = telegram.sent_to(GROUP)[-1]
    assert warning["text"].startswith("⚠️"), warning
    telegram.admins[NEW_GROUP] = {OWNER}
    await migrated(bot, telegram, GROUP, NEW_GROUP)
    # The supergroup numbers its messages afresh: a member's post there has that id.
    telegram.push(
        telegram.message(
            NEW_GROUP,
            user_id=MEMBER,
            chat_type="supergroup",
            text="hello",
            message_id=int(warning["message_id"]),
        )
    )

    press(telegram, report, data_of(report, ":undo"), user=OWNER)
    undone = await answer(telegram, 1)
    await settled(bot, telegram)

    assert undone["text"] == "Undone."
    assert (NEW_GROUP, int(warning["message_id"])) not in telegram.deleted


async def test_an_anonymous_command_confirmed_after_a_migration_applies_to_the_supergroup(
    bot: BotService, telegram: FakeBotApi
) -> None:
    update = telegram.command(GROUP, "/forbid face", chat_type="group")
    update["message"]["from"] = ANONYMOUS_ADMIN_BOT
    update["message"]["sender_chat"] = {"id": GROUP, "type": "group", "title": "A group"}
    telegram.push(update)
    [held] = await telegram.wait_sent(GROUP)
    telegram.admins[NEW_GROUP] = {OWNER}
    await migrated(bot, telegram, GROUP, NEW_GROUP)

    press(telegram, held, data_of(held), user=OWNER)
    await answer(telegram, 1)
    await settled(bot, telegram)

    assert Segment.FACE in (await bot.storage.chat_settings(NEW_GROUP)).forbid


# -- the settings menu -----------------------------------------------------------------------------


async def test_the_menu_of_a_private_chat_can_be_pressed_by_its_person(
    bot: BotService, telegram: FakeBotApi
) -> None:
    person = 4343
    telegram.push(telegram.command(person, "/settings"))
    [menu] = await telegram.wait_sent(person)

    press(telegram, menu, data_of(menu, ":x"), user=person)
    pressed = await answer(telegram, 1)
    await settled(bot, telegram)

    assert "do not have" not in pressed["text"]
    assert (await bot.storage.chat_settings(person)).check_files


async def test_an_operator_who_may_run_settings_may_press_its_menu(
    settings: Settings, telegram: FakeBotApi
) -> None:
    operator = 7070
    telegram.admins[GROUP] = {OWNER}
    operated = settings.model_copy(update={"admin_user_ids": frozenset({operator})})
    async with running(await BotService.open(operated)) as service:
        command(telegram, "/settings", user=operator)
        [menu] = await telegram.wait_sent(GROUP)
        press(telegram, menu, data_of(menu, ":m.dry"), user=operator)
        pressed = await answer(telegram, 1)
        await settled(service, telegram)
        mode = (await service.storage.chat_settings(GROUP)).mode

    assert menu["text"].startswith("⚙️ Settings for A group.")
    assert "do not have" not in pressed["text"], pressed["text"]
    assert mode is Mode.DRY


# -- channels at the warning limit -----------------------------------------------------------------


async def test_a_channel_banned_at_the_limit_is_told_the_length_it_really_gets(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await policy(telegram, "/forbid face", "/warnlimit 1 mute 24h", "/moderate on")
    kling.default = Reply(body=FACE)
    channel = {"id": -1003131, "type": "channel", "title": "Spam channel"}
    update = telegram.photo_update(
        GROUP, jpeg(640, 640, seed=3), 640, 640, user_id=MEMBER, chat_type="supergroup"
    )
    update["message"]["from"] = CHANNEL_BOT
    update["message"]["sender_chat"] = channel
    telegram.push(update)
    await telegram.wait_sent(REPORTS)
    await settled(bot, telegram)

    assert len(telegram.calls_to("banChatSenderChat")) == 1
    notice = telegram.sent_to(GROUP)[-1]["text"]
    assert notice.startswith("⛔ Spam channel is banned"), notice
    # banChatSenderChat bans until unbanned: whatever the notice says must be that.
    assert "forever" in notice, notice


# -- unsure ----------------------------------------------------------------------------------------


async def test_without_a_report_chat_the_admins_still_hear_that_photos_were_left_alone(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.admins[GROUP] = {OWNER}
    private = settings.model_copy(update={"report_chat_id": None})
    async with running(await BotService.open(private)) as service:
        await policy(telegram, "/forbid face", "/action delete", "/moderate on")
        kling.default = Reply(body=FACE)
        # The admin list flickers: unreadable for the first photo (and its notice), and
        # for the second photo's poster, then readable again.
        telegram.fail("getChatAdministrators", *[Fault(500)] * 3)
        photo(telegram, seed=1)
        await telegram.wait_until(lambda: service.stats.since_start["unsure"] == 1)
        photo(telegram, seed=2)
        await telegram.wait_until(lambda: service.stats.since_start["unsure"] == 2)
        await settled(service, telegram)

    assert telegram.deleted == []
    told = [m["text"] for m in telegram.sent_to(OWNER)]
    assert any("could not confirm who posted" in text for text in told), told


# -- forum topics ----------------------------------------------------------------------------------


async def test_warnings_menus_and_held_commands_in_a_topic_stay_in_the_topic(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    topic = 88
    await policy(telegram, "/forbid face", "/action warn", "/moderate on")
    kling.default = Reply(body=FACE)
    photo(telegram, seed=1, thread_id=topic)
    await telegram.wait_sent(REPORTS)
    command(telegram, "/settings", thread_id=topic)
    command(telegram, "/moderate on", user=MEMBER, thread_id=topic)
    update = telegram.command(GROUP, "/action delete", chat_type="supergroup", thread_id=topic)
    update["message"]["from"] = ANONYMOUS_ADMIN_BOT
    update["message"]["sender_chat"] = {"id": GROUP, "type": "supergroup", "title": "A group"}
    telegram.push(update)
    await telegram.wait_sent(GROUP, 3 + 4)
    [held] = [m for m in telegram.sent_to(GROUP) if "sent as the group" in m.get("text", "")]
    press(telegram, held, data_of(held), user=OWNER)
    await telegram.wait_sent(GROUP, 3 + 5)
    await settled(bot, telegram)

    in_topic = telegram.sent_to(GROUP)[3:]
    kinds = [m["text"][:20] for m in in_topic]
    assert len(in_topic) == 5, kinds  # warning, menu, refusal, held, confirmed answer
    assert all(int(m.get("message_thread_id", 0)) == topic for m in in_topic), kinds


# -- quiet by default ------------------------------------------------------------------------------


async def test_an_album_of_photos_and_files_is_one_post_and_its_pdf_is_left_alone(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await policy(telegram, "/forbid face", "/action delete", "/warnlimit 2 mute", "/moderate on")
    kling.default = Reply(body=FACE)
    items = [
        photo(telegram, seed=1, media_group_id="mix"),
        photo(telegram, seed=2, media_group_id="mix"),
    ]
    for document in (
        telegram.document_update(
            GROUP,
            jpeg(640, 640, seed=3),
            user_id=MEMBER,
            chat_type="supergroup",
            media_group_id="mix",
        ),
        telegram.document_update(
            GROUP,
            b"%PDF-1.4 x",
            file_name="a.pdf",
            mime_type="application/pdf",
            user_id=MEMBER,
            chat_type="supergroup",
            media_group_id="mix",
        ),
    ):
        telegram.push(document)
        items.append(document)
    reports = await telegram.wait_sent(REPORTS, 3)
    await settled(bot, telegram)
    await asyncio.sleep(0.5)  # the album's quiet time, then its own work
    await settled(bot, telegram)

    pdf = (GROUP, items[3]["message"]["message_id"])
    assert len(kling.received) == 3
    assert len(telegram.deleted) == 3
    assert pdf not in telegram.deleted
    assert telegram.restricted == {}, "an album is one post: one warning of two"
    assert all("1/2" in r["caption"] or "1 of 2" in r["caption"] for r in reports), [
        r["caption"] for r in reports
    ]
    notices = [t for t in (m.get("text", "") for m in telegram.sent_to(GROUP)) if "🗑" in t]
    assert len(notices) <= 1


async def test_a_pdf_renamed_to_png_is_left_alone_like_any_pdf(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await policy(telegram, "/forbid face", "/action delete", "/moderate on")
    kling.default = Reply(body=FACE)
    for n in range(5):
        telegram.push(
            telegram.document_update(
                GROUP,
                b"%PDF-1.4 not a photo " + bytes([n]),
                file_name=f"totally-a-photo-{n}.png",
                mime_type="image/png",
                user_id=MEMBER,
                chat_type="supergroup",
            )
        )
    await settled(bot, telegram)

    assert telegram.sent_to(REPORTS) == [], "five files that are not images: five reports"


async def test_a_failed_read_of_the_bots_own_rights_is_not_taken_as_having_none(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    def on(current: ChatSettings) -> ChatSettings:
        return replace(current.forbidding(Segment.FACE), action=Action.DELETE, mode=Mode.ON)

    await bot.storage.update_chat_settings(GROUP, on)  # no command: its rights are not read
    kling.default = Reply(body=FACE)
    telegram.fail("getChatMember", Fault(500))
    photo(telegram)
    [notice] = await telegram.wait_sent(REPORTS)
    await settled(bot, telegram)

    assert [c.params["user_id"] for c in telegram.calls_to("getChatMember")][:1] == ["4242"]
    # Unsure of its own rights, the bot does nothing in the group, as when it cannot
    # place the poster, and says so once: not that it lacks a right it holds.
    assert "could not confirm who posted or what I may do there" in notice["text"]
    assert not telegram.sent_to(GROUP), "warned in public"
    assert telegram.deleted == []


# -- commands typed by hurried admins --------------------------------------------------------------


async def test_a_superscript_digit_in_warnlimit_gets_the_usage_not_an_error(
    bot: BotService, telegram: FakeBotApi
) -> None:
    command(telegram, "/warnlimit ² mute")
    [answered] = await telegram.wait_sent(GROUP)

    assert "/warnlimit 1-100 mute" in answered["text"], answered["text"]


async def test_one_persons_typo_in_a_private_chat_does_not_take_storage_down_for_all(
    bot: BotService, telegram: FakeBotApi
) -> None:
    stranger = 5151
    telegram.push(telegram.command(stranger, "/warnlimit ² mute"))
    await telegram.wait_sent(stranger)
    command(telegram, "/forbid face")
    [saved] = await telegram.wait_sent(GROUP)

    assert saved["text"].startswith("Saved."), saved["text"]
    assert Segment.FACE in (await bot.storage.chat_settings(GROUP)).forbid


@pytest.mark.parametrize(
    "content",
    [
        {
            "video": {
                "file_id": "v1",
                "file_unique_id": "uv1",
                "width": 640,
                "height": 360,
                "duration": 3,
            }
        },
        {"video_note": {"file_id": "n1", "file_unique_id": "un1", "length": 240, "duration": 3}},
        {"voice": {"file_id": "o1", "file_unique_id": "uo1", "duration": 3}},
    ],
    ids=["video", "video note", "voice"],
)
async def test_videos_video_notes_and_voice_are_never_judged_in_a_group(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer, content: dict[str, Any]
) -> None:
    await policy(telegram, "/forbid face", "/action delete", "/checkfiles on", "/moderate on")
    kling.default = Reply(body=FACE)
    telegram.push(telegram.message(GROUP, user_id=MEMBER, chat_type="supergroup", **content))
    await settled(bot, telegram)

    assert telegram.calls_to("getFile") == []
    assert telegram.sent_to(REPORTS) == []
    assert len(telegram.sent_to(GROUP)) == 4, "only the command answers"


async def test_a_video_sent_as_a_file_is_left_alone_unless_files_are_asked_for(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await policy(telegram, "/forbid face", "/action delete", "/moderate on")
    kling.default = Reply(body=FACE)
    telegram.push(
        telegram.document_update(
            GROUP,
            b"\\x00\\x00\\x00\\x18ftypmp42",
            file_name="clip.mp4",
            mime_type="video/mp4",
            user_id=MEMBER,
            chat_type="supergroup",
        )
    )
    await settled(bot, telegram)

    assert telegram.calls_to("getFile") == []
    assert telegram.sent_to(REPORTS) == []
