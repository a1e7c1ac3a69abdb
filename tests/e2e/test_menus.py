"""Command menus per scope: members, admins and private chats each get their own list."""

from __future__ import annotations

from bot.app import BotService
from tests.fakes.telegram import FakeBotApi


async def test_each_scope_and_language_gets_its_menu_at_start(
    bot: BotService, telegram: FakeBotApi
) -> None:
    calls = telegram.calls_to("setMyCommands")
    menus = {
        (call.params["scope"]["type"], call.params.get("language_code")): [
            entry["command"] for entry in call.params["commands"]
        ]
        for call in calls
    }

    assert len(calls) == 9
    assert menus[("all_group_chats", None)] == ["help", "check", "quota", "policy"]
    assert menus[("all_private_chats", "ru")] == ["help", "quota", "lang"]
    assert "moderate" in menus[("all_chat_administrators", "zh")]
