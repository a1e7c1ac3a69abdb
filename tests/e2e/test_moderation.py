"""Moderation as a group's admins see it: who is judged, edited photos, dry runs, reports
with buttons, escalation, the bot's own rights, photos it cannot judge, and migration."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from PIL import Image

from bot.app import BotService
from bot.config import Settings
from bot.moderation.report import Report
from tests.e2e.harness import running, settled
from tests.fakes.recognizer import FakeRecognizer, Reply, success
from tests.fakes.telegram import ANONYMOUS_ADMIN_BOT, BOT_USER, FakeBotApi
from tests.imagegen import jpeg, textured

GROUP = -100500
ADMIN = 11
MEMBER = 22
OTHER = 23
REPORTS = -100777
CHANNEL = -100900
FACE = success(face=True)
NO_FACE = success(face=False)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"report_chat_id": REPORTS})


@pytest.fixture
async def bot(settings: Settings, telegram: FakeBotApi) -> AsyncIterator[BotService]:
    telegram.admins[GROUP] = {ADMIN}
    async with running(await BotService.open(settings)) as service:
        yield service


def command(telegram: FakeBotApi, text: str, user: int = ADMIN, **content: Any) -> None:
    telegram.push(telegram.command(GROUP, text, user_id=user, chat_type="supergroup", **content))


def photo(
    telegram: FakeBotApi, seed: int = 1, user: int = MEMBER, **content: Any
) -> dict[str, Any]:
    update = telegram.photo_update(
        GROUP, jpeg(640, 640, seed=seed), 640, 640, user_id=user, chat_type="supergroup", **content
    )
    telegram.push(update)
    return update


async def setup_policy(telegram: FakeBotApi, *commands: str) -> None:
    before = len(telegram.sent_to(GROUP))
    for text in commands:
        command(telegram, text)
    await telegram.wait_sent(GROUP, before + len(commands))


async def reported(
    telegram: FakeBotApi, kling: FakeRecognizer, *commands: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set the policy, post a photo with a face, and return it with its report."""
    await setup_policy(telegram, *commands)
    kling.default = Reply(body=FACE)
    posted = photo(telegram, seed=1)
    [report] = await telegram.wait_sent(REPORTS)
    return posted, report


async def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    """Poll the fakes' records (they keep lists, not events) until `check` holds."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def settle(bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer, calls: int) -> None:
    """Wait for `calls` API requests, then for the bot to finish every update."""
    await kling.wait_received(calls)
    await settled(bot, telegram)


def group_texts(telegram: FakeBotApi) -> list[str]:
    return [m.get("text", m.get("caption", "")) for m in telegram.sent_to(GROUP)]


def press(telegram: FakeBotApi, report: dict[str, Any], verb: str, user: int = ADMIN) -> None:
    [data] = [
        button["callback_data"]
        for row in report["reply_markup"]["inline_keyboard"]
        for button in row
        if button["callback_data"].endswith(f":{verb}")
    ]
    telegram.push(telegram.callback_update(report, data, user_id=user))


# -- 1. who is moderated ------------------------------------------------------


async def test_admins_bots_anonymous_admins_and_channel_forwards_are_never_judged(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await setup_policy(telegram, "/forbid face", "/action delete", "/moderate on")
    kling.default = Reply(body=FACE)
    photo(telegram, seed=1, user=ADMIN)
    from_bot = photo(telegram, seed=2, user=77)
    from_bot["message"]["from"]["is_bot"] = True
    anonymous = photo(telegram, seed=3, sender_chat={"id": GROUP, "type": "supergroup"})
    anonymous["message"]["from"] = ANONYMOUS_ADMIN_BOT
    photo(
        telegram,
        seed=4,
        user=777000,
        sender_chat={"id": CHANNEL, "type": "channel", "title": "News"},
        is_automatic_forward=True,
    )
    as_channel = photo(
        telegram, seed=5, sender_chat={"id": CHANNEL - 1, "type": "channel", "title": "Spam"}
    )
    await settle(bot, telegram, kling, 1)

    assert len(kling.received) == 1, "only the member posting as their channel is judged"
    assert telegram.deleted == [(GROUP, as_channel["message"]["message_id"])]
    [report] = telegram.sent_to(REPORTS)
    assert "a photo by Spam" in report["caption"]


async def test_forwarded_photos_files_and_each_album_item_are_judged(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await setup_policy(telegram, "/forbid face", "/action delete", "/moderate on")
    kling.default = Reply(body=FACE)
    forwarded = photo(
        telegram, seed=1, forward_origin={"type": "hidden_user", "date": 1, "sender_user_name": "X"}
    )
    document = telegram.document_update(
        GROUP, jpeg(640, 640, seed=2), user_id=MEMBER, chat_type="supergroup"
    )
    telegram.push(document)
    album = [photo(telegram, seed=10 + n, user=OTHER, media_group_id="g1") for n in range(3)]
    await kling.wait_received(5)
    await telegram.wait_until(lambda: len(telegram.deleted) == 5)

    expected = {forwarded["message"]["message_id"], document["message"]["message_id"]}
    expected |= {item["message"]["message_id"] for item in album}
    assert {message for _, message in telegram.deleted} == expected


# -- 2. edited photos -------------------------------------------------------------


async def test_a_swapped_photo_is_judged_again_and_a_caption_edit_costs_nothing(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await setup_policy(telegram, "/forbid face", "/action delete", "/moderate on")
    kling.answer(Reply(body=NO_FACE))
    posted = photo(telegram, seed=1)
    await settle(bot, telegram, kling, 1)
    assert telegram.deleted == []

    caption_edit = {"edited_message": {**posted["message"], "caption": "new words"}}
    telegram.push(caption_edit)
    await settled(bot, telegram)
    assert len(kling.received) == 1, "the same image is not judged again"

    kling.answer(Reply(body=FACE))
    swapped = telegram.photo_update(GROUP, jpeg(640, 640, seed=2), 640, 640)["message"]["photo"]
    telegram.push({"edited_message": {**posted["message"], "photo": swapped}})
    await settle(bot, telegram, kling, 2)
    await eventually(lambda: bool(telegram.deleted))

    assert telegram.deleted == [(GROUP, posted["message"]["message_id"])]


async def test_an_edited_private_photo_gets_a_fresh_answer(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    chat = 4141
    posted = telegram.photo_update(chat, jpeg(640, 640, seed=1), 640, 640)
    telegram.push(posted)
    await telegram.wait_sent(chat)
    telegram.push({"edited_message": {**posted["message"], "caption": "typo fixed"}})
    swapped = telegram.photo_update(chat, jpeg(640, 640, seed=2), 640, 640)["message"]["photo"]
    telegram.push({"edited_message": {**posted["message"], "photo": swapped}})
    replies = await telegram.wait_sent(chat, 2)
    await settled(bot, telegram)

    assert len(telegram.sent_to(chat)) == 2
    assert all(reply["text"].startswith("Found") for reply in replies)
    assert len(kling.received) == 2


# -- 3. dry run --------------------------------------------------------------------


async def test_a_dry_run_reports_what_it_would_do_and_leaves_the_group_alone(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await setup_policy(telegram, "/forbid face", "/action delete", "/warnlimit 1 ban")
    command(telegram, "/moderate dry")
    answer = (await telegram.wait_sent(GROUP, 4))[-1]["text"]
    command(telegram, "/policy", user=MEMBER)
    policy = (await telegram.wait_sent(GROUP, 5))[-1]["text"]
    kling.default = Reply(body=FACE)
    photo(telegram, seed=1)
    [report] = await telegram.wait_sent(REPORTS)
    await settled(bot, telegram)

    assert "Moderation: trial run" in answer
    assert "What I can do here:" in answer
    assert "Moderation: trial run" in policy
    assert telegram.deleted == []
    assert telegram.banned == set()
    assert len(telegram.sent_to(GROUP)) == 5, "nothing posted in the group"
    assert "Trial run, nothing was done. I would have: deleted, banned" in report["caption"]
    assert report["photo"].startswith("file-"), "the image is sent again by its file_id"
    assert "undo" not in json.dumps(report["reply_markup"]), "nothing to undo"


# -- 4. reports and their buttons -----------------------------------------------------


async def test_undo_restores_a_deleted_photo_and_edits_the_report(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    posted, report = await reported(
        telegram, kling, "/forbid face", "/action delete", "/moderate on"
    )
    assert telegram.deleted == [(GROUP, posted["message"]["message_id"])]
    assert "Done: deleted · warning 1 of 3" in report["caption"]
    assert "It breaks the rules: it shows Face, which is forbidden here." in report["caption"]

    press(telegram, report, "undo")
    await eventually(lambda: bool(telegram.edits))
    restored = [m for m in telegram.sent_to(GROUP) if "photo" in m]

    assert len(restored) == 1
    assert restored[0]["photo"] == posted["message"]["photo"][-1]["file_id"]
    assert restored[0]["caption"] == "Restored by Admin 11; posted by Ann."
    assert "↩️ Undone by Admin 11" in telegram.edits[-1]["caption"]
    assert ":undo" not in json.dumps(telegram.edits[-1]["reply_markup"])
    assert telegram.answers[-1]["text"] == "Undone."
    assert await bot.storage.warning_count(GROUP, MEMBER, since=0) == 0, "warning withdrawn"


async def test_only_admins_may_press_and_a_double_press_counts_once(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    _, report = await reported(telegram, kling, "/forbid face", "/action delete", "/moderate on")

    press(telegram, report, "undo", user=MEMBER)
    await telegram.wait_until(lambda: len(telegram.answers) == 1)
    assert telegram.answers[0]["text"] == (
        "This needs the admin right “Delete messages”, which you do not have there."
    )
    assert telegram.answers[0]["show_alert"] in (True, "true")

    press(telegram, report, "undo")
    press(telegram, report, "undo")
    # A press is answered only after its deed: with both answers in, nothing is pending.
    await telegram.wait_until(lambda: len(telegram.answers) == 3)

    restored = [m for m in telegram.sent_to(GROUP) if "photo" in m]
    assert len(restored) == 1, "the photo is posted back once"
    assert sorted(a["text"] for a in telegram.answers[1:]) == [
        "Already done by Admin 11.",
        "Undone.",
    ]


async def test_a_press_on_a_report_older_than_seven_days_has_expired(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    _, report = await reported(telegram, kling, "/forbid face", "/moderate on")
    report_id = report["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split(":")[1]
    raw = await bot.storage.load_report(report_id, 0)
    assert raw is not None
    aged = Report.from_json(raw)
    aged = Report(**{**aged.__dict__, "created_at": aged.created_at - 8 * 86400})
    await bot.storage.save_report(report_id, aged.to_json(), aged.created_at + 30 * 86400)

    press(telegram, report, "undo")
    await eventually(lambda: bool(telegram.answers))

    assert (
        telegram.answers[0]["text"]
        == "This report is more than 7 days old; its buttons have expired."
    )
    assert telegram.edits == []


async def test_allow_this_image_stops_acting_on_it_and_allow_reset_clears(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await setup_policy(telegram, "/forbid face", "/action warn", "/moderate on")
    kling.default = Reply(body=FACE)
    first = photo(telegram, seed=1)
    [report] = await telegram.wait_sent(REPORTS)
    press(telegram, report, "allow")
    await eventually(lambda: bool(telegram.answers))
    warnings_before = len(telegram.sent_to(GROUP))

    telegram.push(
        telegram.message(
            GROUP, user_id=OTHER, chat_type="supergroup", photo=first["message"]["photo"]
        )
    )
    await settled(bot, telegram)
    command(telegram, "/policy", user=MEMBER)
    policy = (await telegram.wait_sent(GROUP, warnings_before + 1))[-1]["text"]
    command(telegram, "/allow reset")
    cleared = (await telegram.wait_sent(GROUP, warnings_before + 2))[-1]["text"]
    telegram.push(
        telegram.message(
            GROUP, user_id=OTHER, chat_type="supergroup", photo=first["message"]["photo"]
        )
    )
    await telegram.wait_sent(REPORTS, 2)

    assert telegram.answers[0]["text"] == "Allowed: I will not act on this image here again."
    assert len(telegram.sent_to(REPORTS)) == 2, "allowed: no report, after reset: reported"
    assert "Allow list: 1 image\n" in policy
    assert cleared.startswith("The allow list is empty again")


async def test_ban_bans_the_author(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    _, report = await reported(telegram, kling, "/forbid face", "/action report", "/moderate on")
    assert "Done: nothing" in report["caption"]
    assert len(telegram.sent_to(GROUP)) == 3, "report only: nothing in the group"

    press(telegram, report, "ban")
    # The press is answered first, then the report's caption edited.
    await eventually(lambda: bool(telegram.answers) and bool(telegram.edits))

    assert (GROUP, MEMBER) in telegram.banned
    assert "⛔ Author banned by Admin 11" in telegram.edits[-1]["caption"]


async def test_without_a_report_chat_each_admin_gets_the_report_privately(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.admins[GROUP] = {ADMIN, 12}
    async with running(await BotService.open(settings.model_copy(update={"report_chat_id": None}))):
        await setup_policy(telegram, "/forbid face", "/moderate on")
        kling.default = Reply(body=FACE)
        photo(telegram, seed=1)
        await telegram.wait_sent(ADMIN)
        await telegram.wait_sent(12)

    assert telegram.sent_to(BOT_USER["id"]) == [], "the bot never reports to itself"


# -- 5. escalation ------------------------------------------------------------------


async def test_the_nth_warning_mutes_for_the_set_time(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await setup_policy(telegram, "/forbid face", "/warnlimit 2 mute 12h", "/moderate on")
    kling.default = Reply(body=FACE)
    first = photo(telegram, seed=1)
    await telegram.wait_sent(REPORTS)
    assert telegram.restricted == {}
    photo(telegram, seed=2)
    await telegram.wait_sent(REPORTS, 2)

    restriction = telegram.restricted[(GROUP, MEMBER)]
    assert restriction["permissions"]["can_send_messages"] is False
    assert int(restriction["until_date"]) > 0
    assert any(
        t.startswith("⛔ Ann is muted (12 hours) after 2 warnings.") for t in group_texts(telegram)
    )
    command(telegram, "/warns", reply_to_message=first["message"])
    await eventually(lambda: group_texts(telegram)[-1].startswith("Ann has"))
    assert group_texts(telegram)[-1].startswith("Ann has 0 warnings"), "counting starts afresh"

    muting_report = telegram.sent_to(REPORTS)[-1]
    assert "muted" in muting_report["caption"]
    press(telegram, muting_report, "undo")
    await eventually(lambda: bool(telegram.answers))
    lifted = telegram.restricted[(GROUP, MEMBER)]
    assert lifted["permissions"]["can_send_messages"] is True, "Undo lifts the mute"


async def test_the_limit_can_ban_and_warnings_can_be_read_and_reset(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await setup_policy(telegram, "/forbid face", "/action delete", "/warnlimit 3 ban forever")
    await setup_policy(telegram, "/moderate on")
    kling.default = Reply(body=FACE)
    first = photo(telegram, seed=1)
    await telegram.wait_sent(REPORTS)
    command(telegram, "/warns", reply_to_message=first["message"])
    await eventually(lambda: group_texts(telegram)[-1].startswith("Ann has"))
    assert group_texts(telegram)[-1] == "Ann has 1 warning in the last 30 days (limit 3)."
    command(telegram, "/resetwarns", reply_to_message=first["message"])
    await eventually(lambda: group_texts(telegram)[-1] == "Ann's warnings are cleared.")

    for seed in (2, 3, 4):
        photo(telegram, seed=seed)
    await telegram.wait_sent(REPORTS, 4)
    await eventually(lambda: (GROUP, MEMBER) in telegram.banned)

    reports = telegram.sent_to(REPORTS)
    assert sum("banned" in r["caption"] for r in reports) == 1
    command(telegram, "/warns", user=MEMBER, reply_to_message=first["message"])
    await eventually(lambda: "“Change group info”" in group_texts(telegram)[-1])


# -- 6. the bot's own rights -------------------------------------------------------------


async def test_missing_rights_are_told_once_and_fall_back_to_a_warning_and_a_report(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.cannot_delete.add(GROUP)
    telegram.cannot_restrict.add(GROUP)
    await setup_policy(telegram, "/forbid head", "/action delete", "/warnlimit 1 mute")
    command(telegram, "/moderate on")
    answer = (await telegram.wait_sent(GROUP, 4))[-1]["text"]
    kling.default = Reply(body=success(head=True))
    photo(telegram, seed=1)
    [report] = await telegram.wait_sent(REPORTS)

    assert "❌ delete photos" in answer
    assert "❌ mute and ban" in answer
    assert telegram.deleted == []
    assert telegram.restricted == {}
    assert group_texts(telegram)[-1].startswith("⚠️ This photo breaks the chat's rules")
    assert "I need the 'Delete messages' right (I warned instead)" in report["caption"]
    assert "I could not apply the penalty: I need the 'Ban users' right." in report["caption"]


async def test_a_poster_who_deleted_first_raises_no_false_alarm(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await setup_policy(telegram, "/forbid face", "/action delete", "/moderate on")
    kling.default = Reply(body=FACE.copy(), delay=0.3)
    update = telegram.photo_update(
        GROUP, jpeg(640, 640, seed=1), 640, 640, user_id=MEMBER, chat_type="supergroup"
    )
    telegram.gone.add((GROUP, update["message"]["message_id"]))
    telegram.push(update)
    [report] = await telegram.wait_sent(REPORTS)
    await settled(bot, telegram)

    texts = group_texts(telegram)
    assert not any("right" in text for text in texts[3:])
    assert not any(text.startswith("⚠️") for text in texts), "no warning for a photo gone"
    assert "Done: deleted" in report["caption"]


async def test_a_change_of_the_bots_rights_is_told_to_the_admins(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await setup_policy(telegram, "/moderate on")
    telegram.cannot_delete.add(GROUP)
    telegram.push(
        telegram.member_update(
            GROUP, BOT_USER["id"], "administrator", "administrator", kind="my_chat_member"
        )
    )
    [notice] = await telegram.wait_sent(REPORTS)

    assert notice["text"].startswith("My rights in A group changed.")
    assert "❌ delete photos" in notice["text"]
    assert "✅ mute and ban" in notice["text"]


async def test_a_new_admin_is_known_at_once_after_a_chat_member_update(
    bot: BotService, telegram: FakeBotApi
) -> None:
    command(telegram, "/moderate on", user=MEMBER)
    [refused] = await telegram.wait_sent(GROUP)
    telegram.admins[GROUP].add(MEMBER)
    # No wait for the chat_member update: a command's sender is read fresh from Telegram.
    telegram.push(telegram.member_update(GROUP, MEMBER, "member", "administrator"))
    command(telegram, "/moderate on", user=MEMBER)
    saved = (await telegram.wait_sent(GROUP, 2))[-1]["text"]

    assert refused["text"] == (
        "This needs the admin right “Change group info”, which you do not have there."
    )
    assert saved.startswith("Saved.")
    [poll] = telegram.calls_to("getUpdates")[:1]
    assert "chat_member" in poll.params["allowed_updates"]


# -- 7. photos it cannot judge --------------------------------------------------------------


async def test_a_photo_that_cannot_be_judged_is_reported_or_only_counted(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await setup_policy(telegram, "/forbid face", "/moderate on")
    small = telegram.photo_update(
        GROUP, jpeg(200, 200), 200, 200, user_id=MEMBER, chat_type="supergroup"
    )
    telegram.push(small)
    [report] = await telegram.wait_sent(REPORTS)
    await setup_policy(telegram, "/onerror allow")
    telegram.push(
        telegram.photo_update(
            GROUP, jpeg(200, 250), 200, 250, user_id=MEMBER, chat_type="supergroup"
        )
    )
    await settled(bot, telegram)
    command(telegram, "/policy", user=MEMBER)
    policy = (await telegram.wait_sent(GROUP, 4))[-1]["text"]

    assert "⚠️ I could not check it: This image is 200 x 200 px" in report["caption"]
    assert len(telegram.sent_to(REPORTS)) == 1, "onerror allow: logged only"
    assert "Not checked so far: 2 photos" in policy
    assert len(telegram.sent_to(GROUP)) == 4, "nothing about it in the group"
    assert kling.received == []


# -- 8. migration -----------------------------------------------------------------------------


async def test_a_group_that_becomes_a_supergroup_keeps_its_settings_and_warnings(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    await setup_policy(telegram, "/forbid face", "/moderate on")
    kling.default = Reply(body=FACE)
    first = photo(telegram, seed=1)
    await telegram.wait_sent(REPORTS)
    new_group = -1009999
    telegram.admins[new_group] = {ADMIN}
    telegram.push(
        telegram.message(GROUP, user_id=ADMIN, chat_type="group", migrate_to_chat_id=new_group)
    )
    telegram.push(
        telegram.message(
            new_group, user_id=ADMIN, chat_type="supergroup", migrate_from_chat_id=GROUP
        )
    )
    await settled(bot, telegram)
    telegram.push(
        telegram.command(
            new_group,
            "/warns",
            user_id=ADMIN,
            chat_type="supergroup",
            reply_to_message={**first["message"], "chat": {"id": new_group, "type": "supergroup"}},
        )
    )
    telegram.push(telegram.command(new_group, "/policy", user_id=MEMBER, chat_type="supergroup"))
    answers = await telegram.wait_sent(new_group, 2)

    texts = sorted(answer["text"] for answer in answers)
    assert texts[0] == "Ann has 1 warning in the last 30 days (limit 3)."
    assert "Moderation: on" in texts[1]
    assert "Forbidden: Face" in texts[1]


async def test_a_group_over_its_daily_limit_gets_its_photos_reported_unchecked(
    settings: Settings, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.admins[GROUP] = {ADMIN}
    limited = settings.model_copy(update={"group_daily_limit": 1})
    async with running(await BotService.open(limited)) as bot:
        await setup_policy(telegram, "/forbid face", "/moderate on")
        kling.default = Reply(body=NO_FACE)
        photo(telegram, seed=1)
        await settle(bot, telegram, kling, 1)
        photo(telegram, seed=2)
        [report] = await telegram.wait_sent(REPORTS)

    assert len(kling.received) == 1
    assert "This group has used its 1 check for today." in report["caption"]


# -- near-duplicates ---------------------------------------------------------------


def textured_photo(telegram: FakeBotApi, data: bytes, size: tuple[int, int]) -> dict[str, Any]:
    update = telegram.photo_update(GROUP, data, *size, user_id=MEMBER, chat_type="supergroup")
    telegram.push(update)
    return update


async def test_a_near_copy_gets_its_originals_verdict_says_so_and_undo_works(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    """A re-encoded, smaller copy of a forbidden photo costs no API call, is deleted like
    its original, its report says the verdict was reused, and Undo posts it back. Allow
    on the copy's report then covers the original picture too (README: the verifier
    rejected every re-captioned variant, so a near match is the same picture)."""
    await setup_policy(telegram, "/forbid face", "/action delete", "/moderate on")
    kling.default = Reply(body=FACE)
    original = textured(21, (1280, 960))
    textured_photo(telegram, jpeg_bytes(original, 87), (1280, 960))
    [first] = await telegram.wait_sent(REPORTS)
    copy = textured_photo(telegram, jpeg_bytes(original.resize((800, 600)), 72), (800, 600))
    second = (await telegram.wait_sent(REPORTS, 2))[-1]

    assert len(kling.received) == 1, "the copy was judged without a call"
    assert "copy of a photo checked before" not in first["caption"]
    assert "copy of a photo checked before" in second["caption"]
    assert "Done: deleted" in second["caption"]
    assert telegram.deleted[-1] == (GROUP, copy["message"]["message_id"])

    press(telegram, second, "undo")
    await eventually(lambda: bool(telegram.edits))
    restored = [m for m in telegram.sent_to(GROUP) if "photo" in m]
    assert [m["photo"] for m in restored] == [copy["message"]["photo"][-1]["file_id"]]

    press(telegram, second, "allow")
    await eventually(lambda: len(telegram.answers) == 2)
    deleted = len(telegram.deleted)
    # Another copy (a greyscale one) of the allowed picture is left alone.
    textured_photo(telegram, jpeg_bytes(original.convert("L"), 85), (1280, 960))
    await settled(bot, telegram)
    assert len(telegram.deleted) == deleted
    assert len(telegram.sent_to(REPORTS)) == 2
    assert len(kling.received) == 1


def jpeg_bytes(picture: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality)
    return out.getvalue()
