"""Adaptive concurrency for calls to a rate-limited API, the way TCP and Netflix's
concurrency-limits do it: additive increase, multiplicative decrease (AIMD).

`AimdLimit` is the arithmetic alone (no clock, no event loop), so its rules can be
tested exhaustively; `AdaptiveLimiter` hands out slots under the current limit,
first come first served (retries first), and feeds each finished call back into it.

Why these rules, with the numbers that decided them (figures from
`python -m bench.adaptive`, the real Recognizer against the fake API):

- Start at 16: twice the old fixed bound of 8, which capped the bot at 10 replies/s
  at 0.8 s API latency; 16 gives 20 replies/s before the limit has learnt anything.
- Slow start, as TCP: +1 per success (the limit doubles per round of answers) until
  the first overload or latency rise, so 16 reaches 64 in two rounds (1.6 s at 0.8 s
  latency) instead of 48 rounds at +1 per round.
- Then +1 per round of `limit` successes, and only while the limit is in use (at
  least half of it in flight, as Netflix's AIMDLimit): an idle bot's limit never
  climbs to the ceiling only to meet its first burst with a wall of 429s.
- Growth pauses while the smoothed latency (1/8 of each answer, as TCP's SRTT) is
  above 1.5x the lowest round mean of the last 32 rounds (1.5 is Netflix Gradient2's
  tolerance): an API that queues instead of refusing gives more latency for no more
  throughput. A round mean alone came a round late: slow start had doubled again and
  let such an API (K = 12) see 124 calls at once. A rise in slow start halves the
  limit (the rise belongs to the limit of a round ago); afterwards it only pauses,
  never cuts: a real API's latency swings with image size, and a cut on noise would
  throttle the bot for nothing. 429s and timeouts are the signals that cut.
- Cut by x0.9 (floor 1), Netflix AIMDLimit's ratio: against an API taking K = 24
  calls at 0.8 s the bot kept 95-100 % of K / latency, where x0.8 kept 89 % (the
  sawtooth's trough is deeper) and TCP's x0.5 73 %. The price is more probing: about
  one refused call per 20-25 answers (each retried after the usual backoff, ahead
  of the queue, and not charged as an attempt), and about 55 refused calls over
  400 while following K from 16 down to 4 (`python -m bench.adaptive`).
- One cut per overload: answers to calls started before the latest cut describe the
  limit already cut and are ignored (growth included); the next cut needs a call
  started under the new limit to be refused too.
- A refusal also says how many calls the API holds: the others of ours in flight
  when it comes back (refusals come back at once, held calls after their latency).
  Any refusal, stale or not, holds the limit to that count, down to half the limit
  before the latest cut. Without it the limit walked down the x0.9 ladder while each
  step let new calls in only to be refused: when a burst's calls leave at once, slow
  start overshooting K = 16 cost 51 refused calls and K falling from 16 to 4 another
  113; with it, 17 and about 30 (tests/test_recognizer_load.py). Timeouts do not
  hold the limit so: a call timing out while few are in flight says nothing of how
  many the API takes.
- 5xx and network errors cut only three in a row (no success between): at a 1 %
  background error rate three in a row happen once in a million answers, while a
  gateway failing under load returns them to nearly every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from time import monotonic


class Signal(enum.Enum):
    """What one finished call says about the API's load."""

    SUCCESS = "success"  # answered: latency sampled, the limit may grow
    REFUSED = "refused"  # refused for load (429, Kling 1302/1303): cut, hold to in flight
    TIMEOUT = "timeout"  # timed out: cut
    ERROR = "error"  # 5xx or network failure: cut when several come in a row
    NEUTRAL = "neutral"  # says nothing about load (bad key, bad image, cancelled)


@dataclass(frozen=True)
class AimdRules:
    """The numbers of the limit's rules (the module docstring says why these)."""

    initial: int = 16
    backoff: float = 0.9
    latency_tolerance: float = 1.5
    baseline_rounds: int = 32
    error_burst: int = 3

    def __post_init__(self) -> None:
        if self.initial < 1 or not 0 < self.backoff < 1 or self.latency_tolerance < 1:
            raise ValueError(f"unusable limiter rules: {self}")


class AimdLimit:
    """The current limit and how finished calls move it; between 1 and `ceiling`."""

    def __init__(self, ceiling: int, rules: AimdRules | None = None) -> None:
        if ceiling < 1:
            raise ValueError(f"ceiling must be at least 1, not {ceiling}")
        self.ceiling = ceiling
        self._rules = rules or AimdRules()
        self._limit = float(min(self._rules.initial, ceiling))
        self._cut_from = self._limit
        # Bumped by every cut; answers to calls started before it are ignored.
        self.epoch = 0
        self._slow_start = True
        self._errors_in_a_row = 0
        self._round_means: deque[float] = deque(maxlen=self._rules.baseline_rounds)
        self._smoothed: float | None = None
        self._new_round()

    @property
    def limit(self) -> int:
        """Calls allowed in flight now."""
        return int(self._limit)

    def record(self, signal: Signal, *, epoch: int, latency: float, in_flight: int) -> None:
        """One call finished: `epoch` as it was when the call started, `latency` in
        seconds, `in_flight` counting this call."""
        if epoch == self.epoch:
            self._move(signal, latency, in_flight)
        if signal is Signal.REFUSED:
            # The other calls in flight: held by the API, or refused and on their way.
            self._hold(in_flight - 1)

    def _move(self, signal: Signal, latency: float, in_flight: int) -> None:
        match signal:
            case Signal.SUCCESS:
                self._errors_in_a_row = 0
                if self._latency_holds(latency):
                    if in_flight * 2 >= self._limit:
                        self._grow()
                elif self._slow_start:
                    # Slow start doubles per round and latency shows a round late:
                    # the rise belongs to the limit of a round ago.
                    self._slow_start = False
                    self._limit = max(1.0, self._limit / 2)
            case Signal.REFUSED | Signal.TIMEOUT:
                self._cut()
            case Signal.ERROR:
                self._errors_in_a_row += 1
                if self._errors_in_a_row >= self._rules.error_burst:
                    self._cut()
            case Signal.NEUTRAL:
                pass

    def _grow(self) -> None:
        step = 1.0 if self._slow_start else 1.0 / self._limit
        self._limit = min(float(self.ceiling), self._limit + step)

    def _hold(self, held: int) -> None:
        """At most `held` calls, the API's count, but no lower than half the limit
        before the latest cut."""
        self._limit = min(self._limit, max(float(held), self._cut_from / 2, 1.0))

    def _cut(self) -> None:
        self._cut_from = self._limit
        self._limit = max(1.0, self._limit * self._rules.backoff)
        self.epoch += 1
        self._slow_start = False
        self._errors_in_a_row = 0
        self._new_round()

    def _new_round(self) -> None:
        self._round_size = self.limit
        self._round_count = 0
        self._round_total = 0.0

    def _latency_holds(self, latency: float) -> bool:
        """Sample one answer's latency; whether the recent ones are near the baseline."""
        smoothed = self._smoothed = (
            latency if self._smoothed is None else self._smoothed + (latency - self._smoothed) / 8
        )
        self._round_count += 1
        self._round_total += latency
        if self._round_count >= self._round_size:
            self._round_means.append(self._round_total / self._round_count)
            self._new_round()
        if not self._round_means:
            return True
        return smoothed <= self._rules.latency_tolerance * min(self._round_means)


@dataclass
class Permit:
    """One slot. Set `signal` before leaving the `slot()` block; left alone, the call
    counts as NEUTRAL (so a cancelled call neither grows nor cuts)."""

    epoch: int
    # Other calls were in flight when this one started or ended: a refusal may be our
    # own overshoot, which the limiter corrects, rather than the API's limit on one call.
    crowded: bool
    signal: Signal = Signal.NEUTRAL


class AdaptiveLimiter:
    """Slots under an `AimdLimit`, handed out in arrival order, retries first.

    A retry has already waited its turn once; sent to the back of a queue that a
    burst made long, its person would wait twice. Waiting is plain asyncio
    cancellation: wrap `slot()` in `asyncio.timeout` (or a caller's `timeout_at`)
    to bound it. A cancelled waiter leaves the queue, and a slot handed to a waiter
    at the moment it was cancelled passes to the next one.
    """

    def __init__(
        self,
        ceiling: int,
        rules: AimdRules | None = None,
        *,
        on_change: Callable[[int], object] | None = None,
    ) -> None:
        self._aimd = AimdLimit(ceiling, rules)
        self._in_flight = 0
        self._retries: deque[asyncio.Future[None]] = deque()
        self._firsts: deque[asyncio.Future[None]] = deque()
        self._on_change = on_change
        if on_change is not None:
            on_change(self._aimd.limit)

    @property
    def limit(self) -> int:
        """Calls allowed in flight now."""
        return self._aimd.limit

    @property
    def in_flight(self) -> int:
        """Slots held now (may exceed `limit` just after a cut)."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Callers queued for a slot."""
        return len(self._retries) + len(self._firsts)

    @contextlib.asynccontextmanager
    async def slot(self, *, retry: bool = False) -> AsyncIterator[Permit]:
        """Hold one slot for the block; the permit's `signal` feeds the limit on exit.
        A `retry` waits ahead of first attempts."""
        await self._acquire(self._retries if retry else self._firsts)
        permit = Permit(self._aimd.epoch, crowded=self._in_flight > 1)
        started = monotonic()
        try:
            yield permit
        finally:
            permit.crowded = permit.crowded or self._in_flight > 1
            before = self._aimd.limit
            self._aimd.record(
                permit.signal,
                epoch=permit.epoch,
                latency=monotonic() - started,
                in_flight=self._in_flight,
            )
            self._in_flight -= 1
            if self._on_change is not None and self._aimd.limit != before:
                self._on_change(self._aimd.limit)
            self._wake()

    async def _acquire(self, queue: deque[asyncio.Future[None]]) -> None:
        if not self.waiting and self._in_flight < self._aimd.limit:
            self._in_flight += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():
                # `_wake` may already have dropped it from the queue.
                with contextlib.suppress(ValueError):
                    queue.remove(waiter)
            else:
                # The slot arrived together with the cancellation: pass it on.
                self._in_flight -= 1
                self._wake()
            raise

    def _wake(self) -> None:
        while self.waiting and self._in_flight < self._aimd.limit:
            waiter = (self._retries or self._firsts).popleft()
            if not waiter.done():
                self._in_flight += 1
                waiter.set_result(None)
