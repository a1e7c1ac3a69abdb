"""Unit probes of moderation's core: commands and menu choices fed what people and forged
clients type."""

from __future__ import annotations

import pytest

from bot.moderation import ChatSettings, commands
from bot.moderation import menu as choices
from bot.moderation.callbacks import MenuPress, ReportPress, Verb, encode, parse


def test_warnlimit_with_a_superscript_digit_is_a_usage_problem() -> None:
    assert commands.warnlimit(ChatSettings(), ["²", "mute"]) == commands.Usage("warnlimit")


@pytest.mark.parametrize(
    "data",
    [
        "",
        "r::undo",
        "r:ABC:undo",
        "r:abc:UNDO",
        "r:abc:undo\n",
        "s:abc:",
        "s:abc:M.ON",
        "c:",
        "c:abc:x",
        "r:abc:ban ",
        " r:abc:ban",
        "r:٣:ban",
        "s:abc:m.on\x00",
    ],
)
def test_data_the_bot_never_makes_parses_to_nothing(data: str) -> None:
    assert parse(data) is None


def test_every_press_the_bot_makes_round_trips_within_64_bytes() -> None:
    presses = [ReportPress("f" * 12, verb) for verb in Verb]
    presses += [
        MenuPress("f" * 12, option.choice) for row in choices.rows(ChatSettings()) for option in row
    ]
    for press in presses:
        data = encode(press)
        assert len(data.encode()) <= 64
        assert parse(data) == press


@pytest.mark.parametrize(
    "choice", ["n", "d", "w", "m.", "m.maybe", "s.nothing", "l.xx", "p.kick", "e.", "zz"]
)
def test_a_forged_or_label_choice_changes_nothing(choice: str) -> None:
    assert choices.apply(ChatSettings(), choice) is None
