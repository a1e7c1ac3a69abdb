"""The adaptive concurrency limiter: its arithmetic for any sequence of answers, and its
slots (FIFO, deadlines, cancellation) on a real event loop."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.limiter import AdaptiveLimiter, AimdLimit, AimdRules, Signal

LATENCY = 0.05


def _feed(aimd: AimdLimit, signal: Signal, count: int = 1, latency: float = LATENCY) -> None:
    """`count` answers to calls started now, with the limit fully in use."""
    epoch = aimd.epoch
    for _ in range(count):
        aimd.record(signal, epoch=epoch, latency=latency, in_flight=aimd.limit)


# -- the arithmetic ------------------------------------------------------

answers = st.lists(
    st.tuples(
        st.sampled_from(Signal),
        st.booleans(),  # started before the latest cut
        st.floats(0.001, 30),
        st.integers(0, 300),
    ),
    max_size=300,
)


@given(ceiling=st.integers(1, 300), history=answers)
def test_the_limit_stays_between_one_and_the_ceiling(
    ceiling: int, history: list[tuple[Signal, bool, float, int]]
) -> None:
    aimd = AimdLimit(ceiling)
    assert aimd.limit == min(16, ceiling)
    for signal, stale, latency, in_flight in history:
        aimd.record(signal, epoch=aimd.epoch - stale, latency=latency, in_flight=in_flight)
        assert 1 <= aimd.limit <= ceiling


@given(refusals=st.integers(1, 200), errors=st.integers(0, 200))
def test_one_overload_cuts_once_however_many_calls_it_refuses(refusals: int, errors: int) -> None:
    aimd = AimdLimit(128)
    epoch = aimd.epoch
    for signal in [Signal.REFUSED] * refusals + [Signal.ERROR] * errors:
        aimd.record(signal, epoch=epoch, latency=LATENCY, in_flight=16)
    assert aimd.limit == 14  # 16 x 0.9 = 14.4
    _feed(aimd, Signal.REFUSED)
    assert aimd.limit == 12, "a call started after the cut and refused cuts again"


def test_answers_to_calls_started_before_a_cut_neither_grow_nor_cut() -> None:
    aimd = AimdLimit(128)
    before = aimd.epoch
    _feed(aimd, Signal.REFUSED)
    for _ in range(50):
        aimd.record(Signal.SUCCESS, epoch=before, latency=LATENCY, in_flight=14)
    assert aimd.limit == 14


@pytest.mark.parametrize(("held", "limit"), [(20, 20), (12, 16)], ids=["held", "half"])
def test_refusals_hold_the_limit_to_the_calls_the_api_held_down_to_half(
    held: int, limit: int
) -> None:
    aimd = AimdLimit(128)
    _feed(aimd, Signal.SUCCESS, 16)
    assert aimd.limit == 32, "slow start doubled"
    epoch = aimd.epoch
    # 32 in flight, the API holds `held`: the others come back refused, one by one.
    for in_flight in range(32, held, -1):
        aimd.record(Signal.REFUSED, epoch=epoch, latency=LATENCY, in_flight=in_flight)
    assert aimd.epoch == epoch + 1, "one cut"
    assert aimd.limit == limit


def test_a_timeout_cuts_without_holding_the_limit_to_the_calls_in_flight() -> None:
    aimd = AimdLimit(128)
    _feed(aimd, Signal.SUCCESS, 16)
    aimd.record(Signal.TIMEOUT, epoch=aimd.epoch, latency=5.0, in_flight=3)
    assert aimd.limit == 28, "32 x 0.9: three in flight say nothing of what the API takes"


@given(signals=st.lists(st.just(Signal.NEUTRAL), max_size=50))
def test_neutral_answers_change_nothing(signals: list[Signal]) -> None:
    aimd = AimdLimit(128)
    for signal in signals:
        _feed(aimd, signal)
    assert (aimd.limit, aimd.epoch) == (16, 0)


@pytest.mark.parametrize(
    ("overloads", "rounds"),
    [
        (0, [(16, 32), (32, 64), (64, 100)]),
        (1, [(0, 14), (14, 15), (15, 16)]),
    ],
    ids=["slow-start-doubles-up-to-the-ceiling", "after-a-cut-one-per-round"],
)
def test_growth_per_round_of_answers(overloads: int, rounds: list[tuple[int, int]]) -> None:
    aimd = AimdLimit(100)
    _feed(aimd, Signal.REFUSED, overloads)
    for answers, limit in rounds:
        _feed(aimd, Signal.SUCCESS, answers)
        assert aimd.limit == limit


def test_an_idle_limit_does_not_grow() -> None:
    aimd = AimdLimit(128)
    for _ in range(100):
        aimd.record(Signal.SUCCESS, epoch=aimd.epoch, latency=LATENCY, in_flight=7)
    assert aimd.limit == 16, "7 of 16 in flight: less than half in use"


def test_a_latency_rise_ends_slow_start_halving_its_overshoot_then_pauses_growth() -> None:
    aimd = AimdLimit(128, AimdRules(initial=8))
    _feed(aimd, Signal.SUCCESS, 8, latency=0.1)
    assert aimd.limit == 16
    # The smoothed latency (1/8 of each new answer) passes 1.5 x 0.1 at the third.
    _feed(aimd, Signal.SUCCESS, 3, latency=0.3)
    assert aimd.limit == 9, "(16 + 2) / 2"
    _feed(aimd, Signal.SUCCESS, 100, latency=0.3)
    assert aimd.limit == 9, "latency three times the baseline: paused"
    _feed(aimd, Signal.SUCCESS, 100, latency=0.12)
    assert 9 < aimd.limit < 18, "back within 1.5 x 0.1: grows, by +1 per round now"


def test_a_slower_api_becomes_the_new_baseline() -> None:
    aimd = AimdLimit(128, AimdRules(initial=4, baseline_rounds=3))
    _feed(aimd, Signal.SUCCESS, 4, latency=0.1)
    assert aimd.limit == 8
    _feed(aimd, Signal.SUCCESS, 11, latency=1.0)
    assert aimd.limit == 4, "halved on leaving slow start, then paused"
    _feed(aimd, Signal.SUCCESS, 30, latency=1.0)
    assert aimd.limit > 4, "the fast round has left the three-round window"


def test_server_errors_cut_only_in_a_burst() -> None:
    aimd = AimdLimit(128)
    for _ in range(10):
        _feed(aimd, Signal.ERROR, 2)
        _feed(aimd, Signal.SUCCESS)
    assert aimd.epoch == 0
    _feed(aimd, Signal.ERROR, 3)
    assert aimd.epoch == 1


def test_the_floor_is_one() -> None:
    aimd = AimdLimit(128)
    for _ in range(30):
        _feed(aimd, Signal.REFUSED)
    assert aimd.limit == 1
    _feed(aimd, Signal.SUCCESS)
    assert aimd.limit == 2


@pytest.mark.parametrize(
    "rules",
    [
        {"initial": 0},
        {"backoff": 1.0},
        {"backoff": 0.0},
        {"latency_tolerance": 0.9},
    ],
)
def test_unusable_rules_are_refused(rules: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="unusable"):
        AimdRules(**rules)  # type: ignore[arg-type]


# -- the slots -----------------------------------------------------------


async def _hold(limiter: AdaptiveLimiter, release: asyncio.Event, order: list[int], i: int) -> None:
    async with limiter.slot():
        order.append(i)
        await release.wait()


async def test_waiters_get_slots_in_arrival_order() -> None:
    limiter = AdaptiveLimiter(2)
    release = asyncio.Event()
    order: list[int] = []
    holders = [asyncio.create_task(_hold(limiter, release, order, i)) for i in range(2)]
    await asyncio.sleep(0)
    queued = []
    for i in range(2, 8):
        queued.append(asyncio.create_task(_hold(limiter, asyncio.Event(), order, i)))
        await asyncio.sleep(0)
    assert (limiter.in_flight, limiter.waiting) == (2, 6)

    release.set()
    await asyncio.gather(*holders)
    await asyncio.sleep(0)
    assert order == [0, 1, 2, 3]
    for task in queued:
        task.cancel()
    await asyncio.gather(*queued, return_exceptions=True)
    assert (limiter.in_flight, limiter.waiting) == (0, 0)


async def test_retries_wait_ahead_of_first_attempts_in_their_own_order() -> None:
    limiter = AdaptiveLimiter(1)
    order: list[str] = []
    release = asyncio.Event()

    async def call(name: str, *, retry: bool = False, hold: asyncio.Event | None = None) -> None:
        async with limiter.slot(retry=retry):
            order.append(name)
            if hold is not None:
                await hold.wait()

    tasks = [asyncio.create_task(call("holder", hold=release))]
    for name, retry in [("a", False), ("r1", True), ("b", False), ("r2", True)]:
        tasks.append(asyncio.create_task(call(name, retry=retry)))
        await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["holder", "r1", "r2", "a", "b"]


async def test_a_deadline_ends_the_wait_and_leaves_no_trace() -> None:
    limiter = AdaptiveLimiter(1)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(limiter, release, [], 0))
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01), limiter.slot():
            pytest.fail("got a slot that was taken")
    assert (limiter.in_flight, limiter.waiting) == (1, 0)
    release.set()
    await holder
    async with limiter.slot():
        assert limiter.in_flight == 1


async def test_a_slot_handed_over_as_its_waiter_is_cancelled_passes_on() -> None:
    limiter = AdaptiveLimiter(1)
    order: list[int] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with limiter.slot():
            order.append(0)
            await release.wait()
        # The slot has just been handed to `unlucky`, which has not run yet.
        unlucky.cancel()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    unlucky = asyncio.create_task(_hold(limiter, asyncio.Event(), order, 1))
    await asyncio.sleep(0)
    next_in_line = asyncio.create_task(_hold(limiter, asyncio.Event(), order, 2))
    await asyncio.sleep(0)
    release.set()
    await first
    with pytest.raises(asyncio.CancelledError):
        await unlucky
    await asyncio.sleep(0)
    assert order == [0, 2]
    assert limiter.in_flight == 1
    next_in_line.cancel()
    await asyncio.gather(next_in_line, return_exceptions=True)
    assert (limiter.in_flight, limiter.waiting) == (0, 0)


async def test_the_gauge_follows_the_limit() -> None:
    seen: list[int] = []
    limiter = AdaptiveLimiter(8, AimdRules(initial=2), on_change=seen.append)
    for _ in range(2):
        async with limiter.slot() as permit:
            permit.signal = Signal.REFUSED
    assert seen == [2, 1]
    assert limiter.limit == 1


def test_crowded_tells_whether_others_were_in_flight() -> None:
    async def scenario() -> tuple[bool, bool]:
        limiter = AdaptiveLimiter(4)
        async with limiter.slot() as first, limiter.slot() as second:
            return first.crowded, second.crowded

    assert asyncio.run(scenario()) == (False, True)


# Each step: (a retry?, ticks the call holds its slot, its signal, ticks before it is
# cancelled or None). Ticks are event-loop turns: a run is deterministic, with no clock.
calls = st.lists(
    st.tuples(
        st.booleans(),
        st.integers(0, 5),
        st.sampled_from(Signal),
        st.one_of(st.none(), st.integers(0, 6)),
    ),
    min_size=1,
    max_size=40,
)


@given(ceiling=st.integers(1, 20), initial=st.integers(1, 20), plan=calls)
def test_slots_never_exceed_the_limit_nor_leak_whatever_is_cancelled(
    ceiling: int, initial: int, plan: list[tuple[bool, int, Signal, int | None]]
) -> None:
    async def scenario() -> None:
        limits: list[int] = []
        limiter = AdaptiveLimiter(ceiling, AimdRules(initial=initial), on_change=limits.append)

        async def call(retry: bool, hold: int, signal: Signal) -> None:
            async with limiter.slot(retry=retry) as permit:
                assert limiter.in_flight <= max(limits)
                for _ in range(hold):
                    await asyncio.sleep(0)
                permit.signal = signal

        tasks = []
        for retry, hold, signal, cancel_after in plan:
            task = asyncio.create_task(call(retry, hold, signal))
            tasks.append(task)
            if cancel_after is not None:
                asyncio.get_running_loop().call_soon(_cancel_later, task, cancel_after)
        await asyncio.gather(*tasks, return_exceptions=True)
        assert (limiter.in_flight, limiter.waiting) == (0, 0)
        assert all(1 <= limit <= ceiling for limit in limits)

    asyncio.run(scenario())


def _cancel_later(task: asyncio.Task[None], ticks: int) -> None:
    if ticks == 0:
        task.cancel()
    else:
        asyncio.get_running_loop().call_soon(_cancel_later, task, ticks - 1)
