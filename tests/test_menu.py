"""The /settings menu's core: its buttons for any settings, and what each press changes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.moderation import Action, ChatSettings, Mode, OnError, Penalty
from bot.moderation.callbacks import MAX_BYTES, MenuPress, encode, parse
from bot.moderation.menu import DURATIONS, apply, rows
from bot.recognition.results import Segment

PLAIN = ChatSettings()
DAY, WEEK, MONTH = 86400, 7 * 86400, 30 * 86400


@pytest.mark.parametrize(
    ("before", "choice", "after"),
    [
        (PLAIN, "m.on", replace(PLAIN, mode=Mode.ON)),
        (PLAIN, "m.dry", replace(PLAIN, mode=Mode.DRY)),
        (PLAIN, "s.face", PLAIN.forbidding(Segment.FACE)),
        (PLAIN.forbidding(Segment.FACE), "s.face", PLAIN.requiring(Segment.FACE)),
        (PLAIN.requiring(Segment.FACE), "s.face", PLAIN),
        (PLAIN, "a.delete", replace(PLAIN, action=Action.DELETE)),
        (PLAIN, "w.+", replace(PLAIN, warn_limit=4)),
        (PLAIN, "w.-", replace(PLAIN, warn_limit=2)),
        (replace(PLAIN, warn_limit=100), "w.+", None),
        (replace(PLAIN, warn_limit=1), "w.-", None),
        (PLAIN, "p.ban", replace(PLAIN, penalty=Penalty.BAN)),
        (PLAIN, "d.+", replace(PLAIN, penalty_seconds=WEEK)),
        (PLAIN, "d.-", replace(PLAIN, penalty_seconds=12 * 3600)),
        (replace(PLAIN, penalty_seconds=MONTH), "d.+", replace(PLAIN, penalty_seconds=0)),
        (replace(PLAIN, penalty_seconds=0), "d.+", None),
        (replace(PLAIN, penalty_seconds=0), "d.-", replace(PLAIN, penalty_seconds=MONTH)),
        (replace(PLAIN, penalty_seconds=1800), "d.-", None),
        (replace(PLAIN, penalty_seconds=2 * DAY), "d.-", replace(PLAIN, penalty_seconds=DAY)),
        (PLAIN, "e.allow", replace(PLAIN, on_error=OnError.ALLOW)),
        (PLAIN, "x", replace(PLAIN, check_files=True)),
        (PLAIN, "l.zh-hant", replace(PLAIN, language="zh-hant")),
        (replace(PLAIN, language="ru"), "l.auto", PLAIN),
        (PLAIN, "m.off", None),
        (PLAIN, "n", None),
        (PLAIN, "d", None),
        (PLAIN, "m.maybe", None),
        (PLAIN, "s.tail", None),
        (PLAIN, "l.fr", None),
    ],
)
def test_each_press_changes_one_setting_or_nothing(
    before: ChatSettings, choice: str, after: ChatSettings | None
) -> None:
    assert apply(before, choice) == after


def test_the_current_choices_are_marked() -> None:
    settings = replace(PLAIN, mode=Mode.DRY, action=Action.REPORT, language="ru")
    selected = {option.choice for row in rows(settings) for option in row if option.selected}
    assert selected == {"m.dry", "a.report", "p.mute", "e.report", "l.ru"}


_SETTINGS = st.builds(
    ChatSettings,
    mode=st.sampled_from(Mode),
    forbid=st.frozensets(st.sampled_from(Segment)),
    action=st.sampled_from(Action),
    language=st.sampled_from([None, "en", "ru", "zh", "zh-hant"]),
    warn_limit=st.integers(1, 100),
    penalty=st.sampled_from(Penalty),
    penalty_seconds=st.sampled_from(DURATIONS) | st.integers(30, 366 * DAY),
    on_error=st.sampled_from(OnError),
    check_files=st.booleans(),
)


@given(_SETTINGS, st.text(alphabet="0123456789abcdef", min_size=12, max_size=12))
def test_every_button_fits_in_64_bytes_and_every_press_keeps_settings_valid(
    settings: ChatSettings, menu_id: str
) -> None:
    for row in rows(settings):
        for option in row:
            data = encode(MenuPress(menu_id, option.choice))
            assert len(data.encode()) <= MAX_BYTES
            assert parse(data) == MenuPress(menu_id, option.choice)
            changed = apply(settings, option.choice) or settings
            assert 1 <= changed.warn_limit <= 100
            assert changed.penalty_seconds == 0 or 30 <= changed.penalty_seconds <= 366 * DAY
            assert not changed.forbid & changed.require
