"""The adaptive concurrency limiter: its arithmetic for any sequence of answers, and its
slots (FIFO, deadlines, cancellation) on a real event loop."""

from __future__ import annotations

import asyncio
import heapq
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.recognition.call_slots import AdaptiveLimiter
from bot.recognition.exchange import Body
from bot.recognition.limiter import AimdLimit, AimdRules, Signal

LATENCY = 0.05


def _feed(
    aimd: AimdLimit,
    signal: Signal,
    count: int = 1,
    latency: float = LATENCY,
    load: int | None = None,
    epoch: int | None = None,
    *,
    at_api: int | None = None,
) -> None:
    """`count` answers to calls started now (or in `epoch`) with `load` calls in
    flight (the limit if None), with the limit fully in use and, unless `at_api`
    says how many, all of it sent."""
    epoch = aimd.epoch if epoch is None else epoch
    for _ in range(count):
        aimd.record(
            signal,
            epoch=epoch,
            latency=latency,
            in_flight=aimd.limit,
            at_api=aimd.limit if at_api is None else at_api,
            started_with=aimd.limit if load is None else load,
        )


# -- the arithmetic ------------------------------------------------------

answers = st.lists(
    st.tuples(
        st.sampled_from(Signal),
        st.booleans(),  # started before the latest cut
        st.floats(0.001, 30),
        st.integers(0, 300),
        st.integers(0, 300),
        st.integers(0, 300),
    ),
    max_size=300,
)


@given(ceiling=st.integers(1, 300), history=answers)
def test_the_limit_stays_between_one_and_the_ceiling(
    ceiling: int, history: list[tuple[Signal, bool, float, int, int, int]]
) -> None:
    aimd = AimdLimit(ceiling)
    assert aimd.limit == min(16, ceiling)
    for signal, stale, latency, in_flight, at_api, started_with in history:
        aimd.record(
            signal,
            epoch=aimd.epoch - stale,
            latency=latency,
            in_flight=in_flight,
            at_api=at_api,
            started_with=started_with,
        )
        assert 1 <= aimd.limit <= ceiling


@given(refusals=st.integers(1, 200), errors=st.integers(0, 200))
def test_one_overload_cuts_once_however_many_calls_it_refuses(refusals: int, errors: int) -> None:
    aimd = AimdLimit(128)
    epoch = aimd.epoch
    for signal in [Signal.REFUSED] * refusals + [Signal.ERROR] * errors:
        aimd.record(signal, epoch=epoch, latency=LATENCY, in_flight=16, at_api=16, started_with=16)
    assert aimd.limit == 14  # 16 x 0.9 = 14.4
    _feed(aimd, Signal.REFUSED)
    assert aimd.limit == 12, "a call started after the cut and refused cuts again"


def test_answers_to_calls_started_before_a_cut_neither_grow_nor_cut() -> None:
    aimd = AimdLimit(128)
    before = aimd.epoch
    _feed(aimd, Signal.REFUSED)
    for _ in range(50):
        aimd.record(
            Signal.SUCCESS,
            epoch=before,
            latency=LATENCY,
            in_flight=14,
            at_api=14,
            started_with=14,
        )
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
        aimd.record(
            Signal.REFUSED,
            epoch=epoch,
            latency=LATENCY,
            in_flight=in_flight,
            at_api=in_flight,
            started_with=32,
        )
    assert aimd.epoch == epoch + 1, "one cut"
    assert aimd.limit == limit


def test_refusals_hold_the_limit_to_the_calls_the_api_has_not_to_ours() -> None:
    aimd = AimdLimit(128)
    _feed(aimd, Signal.SUCCESS, 48)
    assert aimd.limit == 64
    epoch = aimd.epoch
    # Every slot held, 6 calls at the API (4 held, 2 refused on their way back): each
    # refusal says so, however many of ours wait to be sent.
    _feed(aimd, Signal.REFUSED, 2, epoch=epoch, at_api=6)
    assert aimd.limit == 32, "held to 5, but no lower than half the 64 before the cut"
    _feed(aimd, Signal.REFUSED)
    assert aimd.limit == 28, "a call started after the cut and refused cuts again: 32 x 0.9"


@pytest.mark.parametrize(("probe", "expected"), [(1.0, [13, 13]), (4.0, [50, 14])])
def test_growth_past_what_the_api_held_is_slower_for_one_call(
    probe: float, expected: list[int]
) -> None:
    aimd = AimdLimit(128, AimdRules(probe=probe))
    aimd.record(Signal.REFUSED, epoch=0, latency=LATENCY, in_flight=13, at_api=13, started_with=13)
    assert aimd.limit == 12, "cut to 14, held to the 12 the API held"
    answers = []
    for target in (13, 14):
        count = 0
        while aimd.limit < target:
            _feed(aimd, Signal.SUCCESS)
            count += 1
        answers.append(count)
    # Probing past 12 costs `probe` rounds instead of one (a refusal each, at a
    # steady K); past 13 the API took more than it held, and growth is as before.
    assert answers == expected


def test_a_timeout_cuts_without_holding_the_limit_to_the_calls_in_flight() -> None:
    aimd = AimdLimit(128)
    _feed(aimd, Signal.SUCCESS, 16)
    aimd.record(
        Signal.TIMEOUT,
        epoch=aimd.epoch,
        latency=5.0,
        in_flight=3,
        at_api=3,
        started_with=3,
    )
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
    # Timeouts: a refusal would also hold the limit and slow the growth past it.
    _feed(aimd, Signal.TIMEOUT, overloads)
    for answers, limit in rounds:
        _feed(aimd, Signal.SUCCESS, answers)
        assert aimd.limit == limit


def test_an_idle_limit_does_not_grow() -> None:
    aimd = AimdLimit(128)
    for _ in range(100):
        aimd.record(
            Signal.SUCCESS,
            epoch=aimd.epoch,
            latency=LATENCY,
            in_flight=7,
            at_api=7,
            started_with=7,
        )
    assert aimd.limit == 16, "7 of 16 in flight: less than half in use"


def _two_rounds(aimd: AimdLimit, latency: float) -> int:
    """A round at 16 in flight and 0.1 s, then 8 answers at twice the load and
    `latency`; the limit before the second round."""
    _feed(aimd, Signal.SUCCESS, 16, latency=0.1, load=16)
    grown = aimd.limit
    _feed(aimd, Signal.SUCCESS, 8, latency=latency, load=32)
    return grown


def test_latency_rising_with_our_load_is_checked_at_the_earlier_load_and_ends_slow_start() -> None:
    aimd = AimdLimit(128)
    assert _two_rounds(aimd, 0.2) == 32, "slow start doubled"
    # Twice the load, twice the latency (8 answers in): back to 16 for a round.
    assert (aimd.limit, aimd.epoch) == (16, 1)
    _feed(aimd, Signal.SUCCESS, 100, latency=0.2, load=32, epoch=0)
    assert aimd.limit == 16, "answers to calls started above 16 are ignored"
    _feed(aimd, Signal.SUCCESS, 16, latency=0.1, load=16)
    assert aimd.limit == 16, "latency came back down: ours, no growth in the test round"
    _feed(aimd, Signal.SUCCESS, 16, latency=0.1, load=16)
    assert aimd.limit == 17, "slow start is over: +1 per round"


def test_latency_that_stays_up_at_the_earlier_load_was_the_api_slowing() -> None:
    aimd = AimdLimit(128)
    _two_rounds(aimd, 0.2)
    assert aimd.limit == 16
    _feed(aimd, Signal.SUCCESS, 16, latency=0.2, load=16)
    assert aimd.limit == 39, "back to where it was: 32, +7 until the 8th answer found the rise"
    _feed(aimd, Signal.SUCCESS, 39, latency=0.2, load=39)
    assert aimd.limit == 78, "still in slow start"


def test_latency_rising_faster_than_our_load_is_the_api_slowing_with_no_check() -> None:
    aimd = AimdLimit(128)
    _two_rounds(aimd, 1.0)
    assert (aimd.limit, aimd.epoch) == (40, 0), "10x for 2x the load: no queue does that"
    _feed(aimd, Signal.SUCCESS, 40, latency=1.0, load=40)
    assert aimd.limit == 80, "compared with the slow round: no rise, still doubling"


@pytest.mark.parametrize("latency", [0.05, 0.1, 0.12], ids=["faster", "same", "noise"])
def test_latency_that_does_not_rise_with_our_load_lets_slow_start_double(latency: float) -> None:
    aimd = AimdLimit(128)
    _two_rounds(aimd, latency)
    assert (aimd.limit, aimd.epoch) == (40, 0)


def test_growth_by_rounds_is_checked_across_a_load_step_too() -> None:
    aimd = AimdLimit(128)
    _feed(aimd, Signal.REFUSED)
    assert aimd.limit == 14
    # The API queues: latency follows our load from here.
    for _ in range(20):
        _feed(aimd, Signal.SUCCESS, aimd.limit, latency=0.01 * aimd.limit)
        if aimd.epoch > 1:
            break
    assert aimd.limit == 14, "past 21 (1.5 x 14), back to 14 for a round"
    _feed(aimd, Signal.SUCCESS, 14, latency=0.14)
    assert aimd.limit == 14


# -- the limit against simulated APIs ---------------------------------------

Latency = Callable[[random.Random], float]


@dataclass(order=True)
class _Call:
    end: float
    seq: int
    start: float = field(compare=False)
    epoch: int = field(compare=False)
    load: int = field(compare=False)
    refused: bool = field(compare=False)


def _drive(
    aimd: AimdLimit,
    calls: int,
    latency: Latency,
    *,
    refuse_above: int | None = None,
    queue_above: int | None = None,
) -> list[int]:
    """Send `calls` at once through `aimd` to a simulated API, in virtual time: it
    refuses calls beyond `refuse_above` at once (retried 0.25 s later, ahead of the
    others), or works on `queue_above` at once and queues the rest. Returns the limit
    after each answer."""
    rng = random.Random(21)
    waiting, retries, in_flight, at_api, seq, now = calls, 0, 0, 0, 0, 0.0
    answers: list[_Call] = []
    retry_at: list[float] = []
    workers = [0.0] * (queue_above or 0)
    limits: list[int] = []
    while True:
        while (waiting or retries) and in_flight < aimd.limit:
            retries, waiting = (retries - 1, waiting) if retries else (retries, waiting - 1)
            in_flight += 1
            seq += 1
            refused = refuse_above is not None and at_api >= refuse_above
            end = now + 0.001
            if not refused:
                at_api += 1
                end = now + latency(rng)
                if workers:
                    end = max(now, heapq.heappop(workers)) + end - now
                    heapq.heappush(workers, end)
            heapq.heappush(answers, _Call(end, seq, now, aimd.epoch, in_flight, refused))
        if retry_at and (not answers or retry_at[0] <= answers[0].end):
            now = heapq.heappop(retry_at)
            retries += 1
            continue
        if not answers:
            return limits
        call = heapq.heappop(answers)
        now = call.end
        aimd.record(
            Signal.REFUSED if call.refused else Signal.SUCCESS,
            epoch=call.epoch,
            latency=now - call.start,
            in_flight=in_flight,
            # The simulated client sends each call whole at once.
            at_api=in_flight,
            started_with=call.load,
        )
        in_flight -= 1
        if call.refused:
            heapq.heappush(retry_at, now + 0.25)
        else:
            at_api -= 1
            limits.append(aimd.limit)


def _constant(seconds: float) -> Latency:
    return lambda _: seconds


def _lognormal(sigma: float) -> Latency:
    return lambda rng: math.exp(rng.gauss(0, sigma))


@pytest.mark.parametrize(
    ("warm_up", "latency"),
    [
        (None, _constant(0.8)),
        (_constant(0.01), _constant(0.8)),
        (_constant(0.08), _constant(0.8)),
        (_constant(1.0), _constant(0.1)),
        (None, _lognormal(0.3)),
        (None, _lognormal(0.6)),
        (None, _lognormal(1.0)),
        (_constant(0.01), _lognormal(0.6)),
    ],
    ids=[
        "0.8s",
        "0.8s-after-10ms",
        "0.8s-after-80ms",
        "0.1s-after-1s",
        "lognormal-0.3",
        "lognormal-0.6",
        "lognormal-1",
        "lognormal-0.6-after-10ms",
    ],
)
def test_an_api_with_room_gets_the_ceiling_whatever_its_latency_does(
    warm_up: Latency | None, latency: Latency
) -> None:
    # The old rule held the smallest round mean of 32 rounds as its baseline: after
    # fast answers, or on noise alone, it stalled at a limit of 8-42.
    aimd = AimdLimit(128)
    if warm_up is not None:
        _drive(aimd, 40, warm_up)
    limits = _drive(aimd, 600, latency)
    assert max(limits[:300]) == 128, "the ceiling within the first half of the burst"
    assert limits[-1] == 128
    assert limits == sorted(limits), "never a step back: nothing here is our own queue"


@pytest.mark.parametrize(
    ("latency", "highest"),
    [(_constant(0.2), 80), (_lognormal(0.3), 80), (_lognormal(1.0), 80)],
    ids=["0.2s", "lognormal-0.3", "lognormal-1"],
)
def test_an_api_that_queues_keeps_the_limit_within_a_few_times_what_it_serves(
    latency: Latency, highest: int
) -> None:
    limits = _drive(AimdLimit(128), 400, latency, queue_above=12)
    assert max(limits) <= highest, "slow start's one overshoot, undone"
    assert 6 <= limits[-1] <= 48
    assert max(limits[100:]) <= 48


@pytest.mark.parametrize("k", [12, 32])
@pytest.mark.parametrize("latency", [_constant(0.4), _lognormal(1.0)], ids=["0.4s", "lognormal-1"])
def test_an_api_that_refuses_is_followed_whatever_its_latency(k: int, latency: Latency) -> None:
    limits = _drive(AimdLimit(128), 600, latency, refuse_above=k)
    assert k * 3 // 4 <= statistics.median(limits[100:]) <= k + 2


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
    # The API held none: growth past that is 4x slower, 6 answers instead of 1.
    _feed(aimd, Signal.SUCCESS, 5)
    assert aimd.limit == 1
    _feed(aimd, Signal.SUCCESS)
    assert aimd.limit == 2


@pytest.mark.parametrize(
    "rules",
    [
        {"initial": 0},
        {"backoff": 1.0},
        {"backoff": 0.0},
        {"elasticity": 2.0},
        {"elasticity": 0.0},
        {"load_step": 1.0},
        {"min_round": 1},
        {"probe": 0.5},
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


async def test_a_refusal_holds_the_limit_to_the_calls_sent() -> None:
    limiter = AdaptiveLimiter(128)
    refuse = asyncio.Event()
    calls: list[asyncio.Task[None]] = []

    async def call(send: bool, signal: Signal) -> None:
        async with limiter.slot() as permit:
            if send:
                permit.sent()
            await refuse.wait()
            permit.signal = signal

    # 16 slots: 5 calls sent (one to be refused), 11 still ours.
    for i in range(16):
        signal = Signal.REFUSED if i == 0 else Signal.NEUTRAL
        calls.append(asyncio.create_task(call(i < 5, signal)))
    await asyncio.sleep(0)
    refuse.set()
    await calls[0]
    assert limiter.limit == 8, "held to the 4 others sent, but no lower than half of 16"
    await asyncio.gather(*calls)


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


@pytest.mark.parametrize(
    ("warm_up", "latency"),
    [(_constant(0.1), _constant(1.0)), (_constant(1.0), _constant(0.1))],
    ids=["10x-slower", "10x-faster"],
)
def test_an_api_that_refuses_is_followed_through_a_latency_step(
    warm_up: Latency, latency: Latency
) -> None:
    aimd = AimdLimit(128)
    _drive(aimd, 40, warm_up, refuse_above=32)
    limits = _drive(aimd, 400, latency, refuse_above=32)
    # The warm-up's first round was filed at loads 1 to 16 (7 on average): 10x slower
    # against 32 then read as our own queue, and the limit went back to 16 for a round.
    assert min(limits[32:]) >= 32 * 3 // 4
    assert 24 <= statistics.median(limits) <= 34


@pytest.mark.parametrize("size", [1_000, 3 * 1024 * 1024], ids=["one-part", "pieces"])
async def test_a_body_says_it_was_sent_once_after_its_last_part(size: int) -> None:
    seen: list[str] = []
    body = Body(b"\xff" * size, sent=lambda: seen.append("sent"))
    async for part in body.parts():
        seen.append(f"{len(part)} bytes")
    assert seen.count("sent") == 1
    assert seen[-1] == "sent", "only once the last part was asked for"
    assert len(seen) > (3 if size > 1_000 else 1)
