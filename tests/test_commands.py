"""The settings commands as pure functions, and the menus each kind of person sees."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.i18n import Catalogs
from bot.messages import group_admins
from bot.moderation import Action, ChatSettings, Mode, OnError, Penalty, commands
from bot.moderation.commands import Change, UnknownSegment, Usage
from bot.recognition.results import Segment
from bot.tg.routes import COMMANDS, Menu, menu

CATALOGS = Catalogs()
EN = CATALOGS.get("en")
PLAIN = ChatSettings()
FACE_FORBIDDEN = PLAIN.forbidding(Segment.FACE)


@pytest.mark.parametrize(
    ("change", "before", "args", "after"),
    [
        (commands.moderate, PLAIN, ["on"], replace(PLAIN, mode=Mode.ON)),
        (commands.moderate, replace(PLAIN, mode=Mode.ON), ["off"], PLAIN),
        (commands.moderate, PLAIN, ["dry"], replace(PLAIN, mode=Mode.DRY)),
        (
            commands.warnlimit,
            PLAIN,
            ["5", "ban"],
            replace(PLAIN, warn_limit=5, penalty=Penalty.BAN),
        ),
        (
            commands.warnlimit,
            PLAIN,
            ["2", "mute", "30m"],
            replace(PLAIN, warn_limit=2, penalty=Penalty.MUTE, penalty_seconds=1800),
        ),
        (
            commands.warnlimit,
            PLAIN,
            ["1", "ban", "forever"],
            replace(PLAIN, warn_limit=1, penalty=Penalty.BAN, penalty_seconds=0),
        ),
        (commands.onerror, PLAIN, ["allow"], replace(PLAIN, on_error=OnError.ALLOW)),
        (commands.forbid, PLAIN, ["face"], FACE_FORBIDDEN),
        (commands.forbid, PLAIN, ["faces"], FACE_FORBIDDEN),
        (commands.require, FACE_FORBIDDEN, ["face"], PLAIN.requiring(Segment.FACE)),
        (commands.allow, FACE_FORBIDDEN, ["face"], PLAIN),
        (commands.require, PLAIN, ["outfit"], PLAIN.requiring(Segment.CLOTHING)),
        (commands.action, PLAIN, ["delete"], replace(PLAIN, action=Action.DELETE)),
        (commands.action, PLAIN, ["report"], replace(PLAIN, action=Action.REPORT)),
        (commands.lang, PLAIN, ["ru"], replace(PLAIN, language="ru")),
        (commands.lang, replace(PLAIN, language="zh"), ["auto"], PLAIN),
        (commands.lang, PLAIN, ["zh-Hant"], replace(PLAIN, language="zh-hant")),
        (commands.lang, PLAIN, ["zh_hant"], replace(PLAIN, language="zh-hant")),
        (commands.checkfiles, PLAIN, ["on"], replace(PLAIN, check_files=True)),
        (commands.checkfiles, replace(PLAIN, check_files=True), ["off"], PLAIN),
    ],
)
def test_a_well_formed_command_gives_the_new_settings(
    change: Change, before: ChatSettings, args: list[str], after: ChatSettings
) -> None:
    assert change(before, args) == after


@pytest.mark.parametrize(
    ("change", "args", "answer"),
    [
        (commands.moderate, [], "Use: /moderate on | off | dry"),
        (commands.moderate, ["maybe"], "Use: /moderate on | off | dry"),
        (commands.warnlimit, ["0", "mute"], "Use: /warnlimit 1-100 mute | ban"),
        (commands.warnlimit, ["3", "kick"], "Use: /warnlimit 1-100 mute | ban"),
        (commands.warnlimit, ["3", "mute", "10s"], "Use: /warnlimit 1-100 mute | ban"),
        (commands.warnlimit, ["3", "mute", "400d"], "Use: /warnlimit 1-100 mute | ban"),
        (commands.warnlimit, ["three", "mute"], "Use: /warnlimit 1-100 mute | ban"),
        (commands.onerror, ["skip"], "Use: /onerror allow | report"),
        (commands.forbid, [], "Use: /forbid head | face | clothing | object"),
        (commands.forbid, ["face", "head"], "Use: /forbid head | face | clothing | object"),
        (commands.require, ["tail"], "Unknown segment “tail”. Use one of: head, face, "),
        (commands.action, ["ban"], "Use: /action warn | delete | report"),
        (commands.lang, ["fr"], "Use: /lang en | ru | zh | zh-hant | auto"),
        (commands.checkfiles, ["yes"], "Use: /checkfiles on | off"),
    ],
)
def test_a_malformed_command_gives_a_typed_problem_worded_as_a_sentence(
    change: Change, args: list[str], answer: str
) -> None:
    result = change(PLAIN, args)
    assert isinstance(result, Usage | UnknownSegment)
    assert group_admins.problem(result, EN).startswith(answer)


def test_members_see_the_everyday_commands_and_admins_the_rest() -> None:
    def names(which: Menu) -> list[str]:
        return [command.command for command in menu(which, CATALOGS, "en")]

    assert names(Menu.MEMBERS) == ["help", "check", "quota", "policy"]
    assert {"warnlimit", "onerror", "warns", "resetwarns", "reload"} <= set(names(Menu.ADMINS))
    assert names(Menu.PRIVATE) == ["help", "quota", "lang"]
    assert set(names(Menu.MEMBERS)) < set(names(Menu.ADMINS))
    assert {"moderate", "forbid", "require", "allow", "action"} <= set(names(Menu.ADMINS))
    assert all("stats" not in names(which) for which in Menu), "stats is for the bot's admins"


def test_menus_are_described_in_each_language() -> None:
    [english_help, *_] = menu(Menu.MEMBERS, CATALOGS, "en")
    [russian_help, *_] = menu(Menu.MEMBERS, CATALOGS, "ru")
    assert english_help.command == russian_help.command == "help"
    assert english_help.description != russian_help.description


def test_every_command_is_routed_once() -> None:
    names = [name for command in COMMANDS for name in command.names]
    assert len(names) == len(set(names))
