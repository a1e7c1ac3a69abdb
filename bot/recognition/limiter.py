"""Adaptive concurrency for calls to a rate-limited API, the way TCP and Netflix's
concurrency-limits do it: additive increase, multiplicative decrease (AIMD).

`AimdLimit` is the arithmetic alone (no clock, no event loop), so its rules can be
tested exhaustively; `AdaptiveLimiter` (bot/recognition/call_slots.py) hands out slots
under the current limit, first come first served (retries first), and feeds each
finished call back into it.

Why these rules, with the numbers that decided them (figures from
`python -m bench.adaptive`, the real Recognizer against the fake API):

- Start at 16: twice the old fixed bound of 8, which capped the bot at 10 replies/s
  at 0.8 s API latency; 16 gives 20 replies/s before the limit has learnt anything.
- Slow start, as TCP: +1 per success (the limit doubles per round of answers) until
  the first overload or a latency rise found ours, so 16 reaches 64 in two rounds (1.6 s at 0.8 s
  latency) instead of 48 rounds at +1 per round.
- Then +1 per round of `limit` successes, and only while the limit is in use (at
  least half of it in flight, as Netflix's AIMDLimit): an idle bot's limit never
  climbs to the ceiling only to meet its first burst with a wall of 429s.
- Latency counts only as evidence of our own load: each answer is filed with the
  load it met, and latency is compared across a rise in that load of at least
  1.5x, between the current round (from its 8th answer on) and a reference round.
  The baseline was the smallest round mean of 32 rounds, and after 40 fast answers
  a 10x slower API read as our overload: growth paused for 32 rounds, and 1,500
  calls at 0.8 s after 40 at 80 ms got 19 % of 128 / 0.8 s (limit 21); now 86 %,
  where a client holding 128 calls from the first would get 98 %: slow start from
  the warm-up's limit (about 40) takes two rounds of 0.8 s to reach 128 (over
  4,800 calls, 94 % against 99 %). Now:
  - latency is compared within a busy spell only: an answer with nothing else in
    flight drops the reference and the round in progress. A reference kept from
    a warm-up's first round (loads 1 to 16, 7 on average, at 0.1 s) made a 10x
    slower API that refuses beyond 32 read as our queue (load^1.5 over 32 / 7),
    and the limit went back to 16 for a round: 87 % of 32 / latency, where the
    rule before this one got 95 %; now 94 % (96 % for a client holding 32 from
    the first). A round left open by a warm-up at 80 ms also mixed its answers
    with the next burst's at 0.8 s;
  - latency rising no faster than load^0.5 (an API with room: flat) is no signal;
  - rising faster than load^2 is the API slowing, not a queue of ours: a queue
    at most doubles latency when our load doubles (load^1; 2 leaves room for the
    answers that lag behind the load they started with), where a 10x slower API
    reads as load^3.3 or more over a doubling. The round becomes the new reference
    and growth goes on;
  - in between, the limit goes back for one round to the reference's load, or
    half the risen load if that is higher (answers to calls started above it are
    ignored). If latency comes at least half as far back down as it rose for that
    much load, the API queues: slow start ends there, and growth goes on by
    rounds, checked the same way at each 1.5x. If not, the API slowed on its own
    and the limit returns to where it was. Going back all the way to the first
    round of a burst (then filed at 7 on average) cost a round at 7 of 32.
  Rises count only beyond 3 standard errors of the two rounds' mean log latency:
  per-call latency drawn from a lognormal (median 1 s, sigma 1) then does not read
  as a rise, where round means against their min held the limit at 43 and 1,370
  of 3,000 calls outwaited the 60 s deadline; now the limit reaches 128 and the
  burst gets 74 % of 128 / mean latency, all answered, against 77 % for a client
  holding 128 from the first (the slowest answers trail by about 10 s). An API
  queueing K = 12 calls saw about 77 calls at once, once, in slow start; then
  the limit stayed at about 2x K (0 refusals, 99 % of K / latency).
- Cut by x0.9 (floor 1), Netflix AIMDLimit's ratio: against an API taking K = 24
  calls at 0.8 s the bot kept 95-100 % of K / latency, where x0.8 kept 89 % (the
  sawtooth's trough is deeper) and TCP's x0.5 73 %. The price is more probing:
  about one refused call per 45 answers with the slower probe below (each retried
  after the usual backoff, ahead of the queue, and not charged as an attempt), and
  about 40 refused calls over 400 while following K from 16 down to 4
  (`python -m bench.adaptive`).
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
- A call is the API's once its request is handed over whole (`Permit.sent`);
  before that it is ours: connecting, encoding, waiting for our own event loop.
  A refusal holds the limit to the others the API has, not to every slot held.
  A client short of CPU holds many slots the API never sees: over httpx (about
  9 ms of CPU a call while it opened connections, the fake on the same loop) the
  limit reached 106 while the API held 9, and when K fell from 16 to 4 each
  refusal held the limit to the slots less one, a walk down one call at a time:
  99-106 refused calls in 1 run of 4 or 5 (and in CI), now 25-31; with the client
  on a quarter of a core, 85-104 then and 24-85 now. Growth is not gated on it:
  the calls slow start grants together wait up to 0.16 s to be sent, so growth
  needing half the limit sent cut the step to 0.8 s with room from 87 % to 81 %,
  and no growth for a call that waited half its time on our side stalled the
  limit at 54 with room in 3 runs of 4 of the load tests.
- Growth past the count the API held at its latest refusal is 4x slower, for one
  call: at a steady K the limit went K - 1, K, K + 1, refused a call and started
  over about every round; now it stays at K four times as long. Refused calls
  fell from 16 to 9 of 400 at K = 12, 15 to 8 of 300 at K = 12 with sigma 1, 42
  to 23 following K from 16 to 4 with sigma 1, and no row lost throughput. An API
  that takes more is found a few rounds later than before, then as fast.
- 5xx and network errors cut only three in a row (no success between): at a 1 %
  background error rate three in a row happen once in a million answers, while a
  gateway failing under load returns them to nearly every call.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class Signal(enum.Enum):
    """What one finished call says about the API's load."""

    SUCCESS = "success"  # answered: latency sampled, the limit may grow
    REFUSED = "refused"  # refused for load (429, Kling 1302/1303): cut, hold to those sent
    TIMEOUT = "timeout"  # timed out: cut
    ERROR = "error"  # 5xx or network failure: cut when several come in a row
    NEUTRAL = "neutral"  # says nothing about load (bad key, bad image, cancelled)


@dataclass(frozen=True)
class AimdRules:
    """The numbers of the limit's rules (the module docstring says why these)."""

    initial: int = 16
    backoff: float = 0.9
    # Latency rising faster than our load to this power may be a queue of ours...
    elasticity: float = 0.5
    # ... and faster than to this power is the API slowing.
    slowing: float = 2.0
    # The rise in our load that latency is compared across.
    load_step: float = 1.5
    # Standard errors of the two rounds' mean log latency the rise must pass by.
    confidence: float = 3.0
    # Answers in the current round before it is compared (and in a round at least).
    min_round: int = 8
    error_burst: int = 3
    # Growth past the count the API held at its latest refusal is this many times
    # slower, for one call.
    probe: float = 4.0

    def __post_init__(self) -> None:
        if (
            self.initial < 1
            or not 0 < self.backoff < 1
            or not 0 < self.elasticity < self.slowing
            or self.load_step <= 1
            or self.confidence < 0
            or self.min_round < 2
            or self.probe < 1
        ):
            raise ValueError(f"unusable limiter rules: {self}")


class _Round:
    """Answers summed over one round: log latency and log of our load when each call
    started (its in-flight count, itself included)."""

    def __init__(self) -> None:
        self.count = 0
        self._load = 0.0
        self._latency = 0.0
        self._squares = 0.0

    def add(self, latency: float, load: int) -> None:
        # A clock's zero has no log: a microsecond is below any API's latency.
        y = math.log(max(latency, 1e-6))
        self.count += 1
        self._load += math.log(max(load, 1))
        self._latency += y
        self._squares += y * y

    @property
    def load(self) -> float:
        """Mean log load."""
        return self._load / self.count

    @property
    def latency(self) -> float:
        """Mean log latency."""
        return self._latency / self.count

    @property
    def spread(self) -> float:
        """Sum of squared deviations of log latency from its mean."""
        return max(0.0, self._squares - self._latency * self.latency)


@dataclass
class _Suspect:
    """A latency rise that came with our load, being checked at the earlier load."""

    reference: _Round
    risen: _Round
    limit: float


class AimdLimit:
    """The current limit and how finished calls move it; between 1 and `ceiling`."""

    def __init__(self, ceiling: int, rules: AimdRules | None = None) -> None:
        if ceiling < 1:
            raise ValueError(f"ceiling must be at least 1, not {ceiling}")
        self.ceiling = ceiling
        self._rules = rules or AimdRules()
        self._limit = float(min(self._rules.initial, ceiling))
        self._cut_from = self._limit
        # The count the API held at its latest refusal, until the limit passes it.
        self._held: float | None = None
        # Bumped by every cut; answers to calls started before it are ignored.
        self.epoch = 0
        self._slow_start = True
        self._errors_in_a_row = 0
        self._reference: _Round | None = None
        self._suspect: _Suspect | None = None
        self._new_round()

    @property
    def limit(self) -> int:
        """Calls allowed in flight now."""
        return int(self._limit)

    def record(
        self,
        signal: Signal,
        *,
        epoch: int,
        latency: float,
        in_flight: int,
        at_api: int,
        started_with: int,
    ) -> None:
        """One call finished: `epoch` as it was when the call started, `latency` in
        seconds, `in_flight` counting this call, `at_api` those of them the API had
        whole (sent, not yet answered; this call counted too), `started_with` the
        calls in flight when it started, itself included."""
        if epoch == self.epoch:
            self._move(signal, latency, in_flight, started_with)
        if signal is Signal.REFUSED:
            # The others the API had: held by it, or refused and on their way back.
            self._hold(at_api - 1)
        if in_flight <= 1:
            # Nothing else in flight: latency is compared within a busy spell only.
            self._reference = None
            self._new_round()

    def _move(self, signal: Signal, latency: float, in_flight: int, started_with: int) -> None:
        match signal:
            case Signal.SUCCESS:
                self._errors_in_a_row = 0
                self._sample(latency, started_with)
                # No growth while a rise is checked at the earlier load.
                if self._suspect is None and in_flight * 2 >= self._limit:
                    self._grow()
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
        if self._held is not None and self._limit >= self._held:
            step /= self._rules.probe
            if self._limit + step >= self._held + 1:
                # The API took a call more than it held then: grow as before.
                self._held = None
        self._limit = min(float(self.ceiling), self._limit + step)

    def _hold(self, held: int) -> None:
        """At most `held` calls, the API's count, but no lower than half the limit
        before the latest cut."""
        self._limit = min(self._limit, max(float(held), self._cut_from / 2, 1.0))
        self._held = float(max(held, 1))

    def _cut(self) -> None:
        self._cut_from = self._limit
        self._limit = max(1.0, self._limit * self._rules.backoff)
        self._slow_start = False
        self._errors_in_a_row = 0
        self._suspect = None
        self._restart()

    def _restart(self) -> None:
        """Answers to calls started before now are ignored from here on."""
        self.epoch += 1
        self._new_round()

    def _new_round(self) -> None:
        self._round = _Round()
        self._round_size = max(self.limit, self._rules.min_round)

    def _sample(self, latency: float, started_with: int) -> None:
        current = self._round
        current.add(latency, started_with)
        if self._suspect is not None:
            if current.count >= self._round_size:
                self._verdict(self._suspect, current)
                self._suspect = None
                self._new_round()
        elif self._reference is None:
            if current.count >= self._round_size:
                self._reference = current
                self._new_round()
        elif current.count >= self._rules.min_round and self._rose(
            self._reference, current, self._rules.elasticity
        ):
            if self._rose(self._reference, current, self._rules.slowing):
                # No queue of ours does that: the API slowed.
                self._reference = current
                self._new_round()
                return
            # Latency rose with our load: go back for a round, to the reference's
            # load or half the risen one (a deep step back costs a round at a limit
            # too low). Whether latency comes back down with it says whose it was.
            self._suspect = _Suspect(self._reference, current, self._limit)
            back = math.exp(max(self._reference.load, current.load - math.log(2)))
            self._limit = max(1.0, min(self._limit, round(back)))
            self._restart()
        elif current.count >= self._round_size:
            # A reference stays while our load grows less than a step past it, so
            # that growth by rounds is compared across a step too.
            more_load = current.load - self._reference.load
            if not 0 <= more_load < math.log(self._rules.load_step):
                self._reference = current
            self._new_round()

    def _rose(self, reference: _Round, current: _Round, elasticity: float) -> bool:
        """Whether latency rose from `reference` to `current` faster than our load to the
        power `elasticity`, by `confidence` standard errors, over at least a load step."""
        rules = self._rules
        more_load = current.load - reference.load
        if more_load < math.log(rules.load_step):
            return False
        excess = current.latency - reference.latency - elasticity * more_load
        deviations = (reference.spread + current.spread) / (reference.count + current.count - 2)
        error = math.sqrt(deviations * (1 / reference.count + 1 / current.count))
        return excess > rules.confidence * error

    def _verdict(self, suspect: _Suspect, back: _Round) -> None:
        """The round back at a lower load ended."""
        self._reference = back
        risen, reference = suspect.risen, suspect.reference
        elasticity = (risen.latency - reference.latency) / (risen.load - reference.load)
        fell = risen.latency - back.latency
        if fell * 2 >= elasticity * (risen.load - back.load):
            # Latency came at least half as far back down as it rose for that much
            # load: the rise was ours. The API queues; grow by rounds from here.
            self._slow_start = False
        else:
            # It stayed up: the API slowed on its own. Carry on where we were.
            self._limit = max(self._limit, suspect.limit)
