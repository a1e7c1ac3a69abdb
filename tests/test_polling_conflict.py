"""Two pollers on one token: the newcomer gives up after one long-poll period of 409s,
a brief conflict (an overlapping restart) passes, and the running bot never gives up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.tg.conflict import LONG_POLL_TIMEOUT, PollingConflict

CONFLICT = 409
OK = 200


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _polled(answers: list[tuple[float, int]]) -> PollingConflict:
    """A conflict watcher told `answers`: (seconds after the previous one, status)."""
    clock = Clock()
    conflict = PollingConflict(clock=clock)
    for gap, status in answers:
        clock.now += gap
        conflict.answered(status)
    return conflict


# python-telegram-bot's retry loop after errors: 1 s, then x1.5 up to 30 s.
BACKOFF = [0.0, 1.0, 1.5, 2.25, 3.375, 5.06, 7.59, 11.39, 17.09]


def test_a_newcomer_meeting_409s_for_longer_than_a_long_poll_gives_up() -> None:
    answers = [(gap, CONFLICT) for gap in BACKOFF]
    conflict = _polled(answers[:-2])
    assert conflict.lasted < LONG_POLL_TIMEOUT
    assert not conflict.superseded.is_set()
    conflict = _polled(answers)
    assert conflict.lasted > LONG_POLL_TIMEOUT
    assert conflict.superseded.is_set()


def test_answers_in_between_do_not_save_a_newcomer() -> None:
    """Two pollers take turns: each sometimes gets its updates, mostly 409s."""
    answers = [(3.0, OK if i % 3 == 2 else CONFLICT) for i in range(14)]
    assert _polled(answers).superseded.is_set()


def test_a_brief_conflict_then_clean_polling_is_a_restart_that_passes() -> None:
    restart = [(gap, CONFLICT) for gap in BACKOFF[:5]] + [(5.0, OK)]
    clean = [(LONG_POLL_TIMEOUT / 2, OK)] * 4
    # A later conflict is another process come along: this one polls by then.
    later = [(gap, CONFLICT) for gap in BACKOFF * 3]
    conflict = _polled(restart + clean + later)
    assert conflict.lasted > LONG_POLL_TIMEOUT
    assert not conflict.superseded.is_set()


def test_conflicts_more_than_a_period_apart_are_separate() -> None:
    lone = [(LONG_POLL_TIMEOUT + 1, CONFLICT)] * 5
    conflict = _polled(lone)
    assert conflict.lasted == 0
    assert not conflict.superseded.is_set()


@given(
    st.lists(
        st.tuples(st.floats(0, 3 * LONG_POLL_TIMEOUT), st.sampled_from([CONFLICT, OK, 401, 502]))
    )
)
def test_a_bot_that_polled_cleanly_first_is_never_superseded(
    answers: list[tuple[float, int]],
) -> None:
    assert not _polled([(0.0, OK), *answers]).superseded.is_set()


@given(st.lists(st.tuples(st.floats(0, 3 * LONG_POLL_TIMEOUT), st.sampled_from([CONFLICT, OK]))))
def test_only_a_process_whose_first_poll_conflicted_is_superseded_and_not_at_once(
    answers: list[tuple[float, int]],
) -> None:
    conflict = _polled(answers)
    if conflict.superseded.is_set():
        assert answers[0][1] == CONFLICT
        assert conflict.lasted > LONG_POLL_TIMEOUT
