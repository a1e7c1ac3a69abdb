"""/settings as group admins use it: one message with the policy and a button per choice,
changed in place by admins with the right, refused to others, sent privately on request
(or a start link), and shared by replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import BotService
from bot.config import Settings
from bot.moderation import Action, ChatSettings, Mode
from bot.recognition.results import Segment
from tests.e2e.harness import running
from tests.fakes.telegram import FakeBotApi

GROUP = -100600
OWNER = 11
MEMBER = 22
PIN_ONLY = 31
INFO_ONLY = 34


@pytest.fixture
async def bot(settings: Settings, telegram: FakeBotApi) -> AsyncIterator[BotService]:
    telegram.admins[GROUP] = {OWNER}
    telegram.rights[GROUP, PIN_ONLY] = {"can_pin_messages"}
    telegram.rights[GROUP, INFO_ONLY] = {"can_change_info"}
    async with running(await BotService.open(settings)) as service:
        yield service


def command(telegram: FakeBotApi, text: str, user: int = OWNER) -> None:
    telegram.push(telegram.command(GROUP, text, user_id=user, chat_type="supergroup"))


def button(menu: dict[str, Any], choice: str) -> str:
    [data] = [
        b["callback_data"]
        for row in menu["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].endswith(f":{choice}")
    ]
    return data


def labels(markup: dict[str, Any]) -> list[str]:
    return [b["text"] for row in markup["inline_keyboard"] for b in row]


async def pressed(
    telegram: FakeBotApi, menu: dict[str, Any], choice: str, user: int
) -> dict[str, Any]:
    """Press a button and wait for its answer."""
    before = len(telegram.answers)
    telegram.push(telegram.callback_update(menu, button(menu, choice), user_id=user))
    await telegram.wait_until(lambda: len(telegram.answers) > before)
    return telegram.answers[before]


async def test_an_admin_changes_settings_in_place_and_others_are_refused(
    bot: BotService, telegram: FakeBotApi
) -> None:
    command(telegram, "/settings")
    [menu] = await telegram.wait_sent(GROUP)
    assert menu["text"].startswith("⚙️ Settings for A group.")
    assert "Moderation: off" in menu["text"]
    assert all(len(b.encode()) <= 64 for b in _data(menu["reply_markup"]))

    refused = await pressed(telegram, menu, "m.on", user=PIN_ONLY)
    member = await pressed(telegram, menu, "s.face", user=MEMBER)
    assert refused["text"] == (
        "This needs the admin right “Change group info”, which you do not have there."
    )
    assert "“Change group info”" in member["text"]
    assert telegram.edits == []
    assert await bot.storage.chat_settings(GROUP) == ChatSettings()

    await pressed(telegram, menu, "m.on", user=INFO_ONLY)
    await pressed(telegram, menu, "s.face", user=OWNER)
    await pressed(telegram, menu, "a.delete", user=OWNER)
    # A press is answered first (the client's spinner stops), then the menu is edited.
    await telegram.wait_until(lambda: len(telegram.edits) == 3)
    settings = await bot.storage.chat_settings(GROUP)

    assert settings.mode is Mode.ON
    assert settings.forbid == {Segment.FACE}
    assert settings.action is Action.DELETE
    edits = [e for e in telegram.edits if "text" in e]
    assert len(edits) == 3
    assert {int(e["message_id"]) for e in edits} == {int(menu["message_id"])}, "edited in place"
    assert "Forbidden: Face" in edits[-1]["text"]
    assert "✅ Delete" in labels(edits[-1]["reply_markup"])
    assert "Face: forbidden" in labels(edits[-1]["reply_markup"])
    assert len(telegram.sent_to(GROUP)) == 1, "one message, changed in place"

    command(telegram, "/policy", user=MEMBER)
    policy = (await telegram.wait_sent(GROUP, 2))[-1]["text"]
    assert "Forbidden: Face" in policy, "commands and the menu share the settings"


async def test_the_private_menu_goes_to_the_admin_or_a_start_link_comes_back(
    bot: BotService, telegram: FakeBotApi
) -> None:
    telegram.never_started.add(INFO_ONLY)
    command(telegram, "/settings private", user=INFO_ONLY)
    [link] = await telegram.wait_sent(GROUP)
    assert link["text"].startswith("I cannot write to you before you open a chat with me:")
    assert "https://t.me/segment_bot?start=settings" in link["text"]

    command(telegram, "/settings private", user=OWNER)
    [menu] = await telegram.wait_sent(OWNER)
    told = (await telegram.wait_sent(GROUP, 2))[-1]
    assert told["text"] == "I sent you this group's settings in a private chat."
    assert menu["text"].startswith("⚙️ Settings for A group.")

    await pressed(telegram, menu, "x", user=OWNER)
    await telegram.wait_until(lambda: len(telegram.edits) == 1)
    assert (await bot.storage.chat_settings(GROUP)).check_files is True
    assert int(telegram.edits[-1]["chat_id"]) == OWNER, "edited where it was pressed"


async def test_two_replicas_share_a_menu_and_both_presses_apply(
    settings: Settings, telegram: FakeBotApi, redis_url: str
) -> None:
    telegram.admins[GROUP] = {OWNER}
    shared = Settings.model_validate(settings.model_dump() | {"redis_url": redis_url})
    async with running(await BotService.open(shared)), running(await BotService.open(shared)):
        command(telegram, "/settings")
        [menu] = await telegram.wait_sent(GROUP)
        choices = ("m.dry", "s.face", "s.head", "a.report", "w.+", "x")
        for choice in choices:  # all at once: each replica takes some
            telegram.push(telegram.callback_update(menu, button(menu, choice), user_id=OWNER))
        await telegram.wait_until(lambda: len(telegram.answers) == len(choices))
        async with running(await BotService.open(shared)) as third:
            settings_now = await third.storage.chat_settings(GROUP)

    assert settings_now.mode is Mode.DRY
    assert settings_now.forbid == {Segment.FACE, Segment.HEAD}
    assert settings_now.action is Action.REPORT
    assert settings_now.warn_limit == 4
    assert settings_now.check_files is True, "no press lost to another"


def _data(markup: dict[str, Any]) -> list[str]:
    return [b["callback_data"] for row in markup["inline_keyboard"] for b in row]
