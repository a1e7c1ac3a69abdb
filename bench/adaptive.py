"""The adaptive API concurrency limit against an API that refuses, queues or has room.

    python -m bench.adaptive              every setting, 3 repeats each (about 20 minutes)
    python -m bench.adaptive 1            one repeat each
    python -m bench.adaptive 3 lognormal  only the settings whose name holds "lognormal"

The real `Recognizer` at its default settings (ceiling 128, default retry policy)
sends a burst of calls over real HTTP to the fake API on 127.0.0.1, in one of its
load modes: `refuse` takes K calls at once and answers 429 with Kling code 1303
beyond; `queue` works on K at once and queues the rest, so latency grows with load;
`room` takes every call. Latency is constant, or drawn per call from a lognormal
(median, sigma; seeded), and may step 10x after a warm-up of 40 calls answered at
the first latency. For each setting it prints, as medians of the repeats (spread in
brackets):

- throughput over the whole burst, from its first call to its last answer, against
  the ideal min(ceiling, K) / mean latency (after a drop in K, the time at the first
  K for the calls before it and at the second for the rest);
- `bound`: what a client holding exactly min(ceiling, K) calls from the first one
  would reach on the same latencies, as a share of the ideal. No limiter beats it:
  the last answers trail the burst by the slowest latencies of its last calls,
  about 10 s at sigma 1. The 60 s total deadline caps how long a burst may be and
  so how far that tail can be diluted (not shown after a drop in K);
- `% drawn` and its `bound`: the same two against the ideal at the mean of the
  latencies the API drew in that burst rather than the lognormal's mean. The
  draws are seeded, and 300 draws at sigma 1 have a mean 6 % above the
  lognormal's (1.75 s against 1.65), 3,000 draws 6 % below: the first reading
  flatters or penalizes a row by that much, the second does not;
- `held %`: in the steady middle (from the 20th to the 80th percentile of
  completions; after a drop in K, what follows it), the calls the API was working
  on, sampled every 10 ms, against min(ceiling, final K). By Little's law
  throughput is calls worked on / mean latency, so this is the limiter's share of
  the ideal with neither slow start nor the tail in it (over the whole burst it
  would equal `% drawn`). Throughput counted between completions read up to 109 %
  of the ideal at sigma 1: the slowest answers of the middle's calls fall after it;
- the limit sampled over that middle, the 429s answered, the calls that failed.

The fake and the client share one process: each call costs them about 0.45 ms of
CPU (1,800 calls/s with the limit pinned at 128 and 50 ms latency), so the ideal
rates here, 320 calls/s at most, are within reach on one core; shared with other
work they were not quite: the 0.1 s step down against K = 32 held 89-91 %.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.recognition.client import Recognizer, RetryPolicy
from bot.recognition.errors import RecognitionError
from tests.fakes.recognizer import FakeRecognizer, lognormal

CEILING: int = Settings.model_fields["api_max_concurrent_calls"].default
IMAGE = b"\xff\xd8 a small stand-in for a JPEG \xff\xd9"
SAMPLE_SECONDS = 0.01
WARM_UP_CALLS = 40


@dataclass(frozen=True)
class Setting:
    """One row: the API's behaviour and the burst sent to it."""

    name: str
    mode: str  # "refuse", "queue" or "room"
    k: int  # calls the API takes at once (unused for "room")
    latency: float  # seconds: constant, or the lognormal's median
    calls: int
    sigma: float = 0.0  # the lognormal's log-spread; 0 for a constant latency
    # (calls received, new K): K changes once that many calls have arrived.
    drop: tuple[int, int] | None = None
    # Latency of WARM_UP_CALLS answered before the burst, which then gets `latency`.
    warm_up: float | None = None

    @property
    def width(self) -> int:
        """Calls the API can work on at once at the end of the run, within the ceiling."""
        if self.mode == "room":
            return CEILING
        return min(CEILING, self.drop[1] if self.drop else self.k)

    @property
    def mean_latency(self) -> float:
        """Seconds per call on average."""
        return self.latency * math.exp(self.sigma**2 / 2)

    @property
    def ideal(self) -> float:
        """Calls per second over the whole burst at min(ceiling, K) / mean latency, K
        changing after the drop's first calls."""
        if self.drop is None:
            return self.width / self.mean_latency
        before, k = self.drop
        seconds = before / min(CEILING, self.k) + (self.calls - before) / min(CEILING, k)
        return self.calls / (seconds * self.mean_latency)


# Bursts with room for 128 calls are long, so that slow start from 16 and the tail
# weigh little; they stay short of the 60 s deadline, which also bounds the wait
# for a slot. K = 4 after the drop serves 2.4 calls/s at a 1 s median: the last of
# 300 calls would outwait the deadline, hence its 0.1 s median. The step up with
# room runs twice: 1,500 calls (9 s at the ideal), where slow start from the
# warm-up's limit (about 40) to 128 costs about a round of 0.8 s, and 4,800 (30 s).
# With room, the step down is 4 -> 0.4 s, not 1 -> 0.1: 1,280 calls/s would make
# the client's own CPU time (0.45 ms a call, with the fake) the bottleneck.
SETTINGS = (
    Setting("refuse K=12, 0.2 s", "refuse", 12, 0.2, 400),
    Setting("refuse K=32, 0.4 s", "refuse", 32, 0.4, 600),
    Setting("refuse K=24, 0.8 s", "refuse", 24, 0.8, 450),
    Setting("queue  K=12, 0.2 s", "queue", 12, 0.2, 400),
    Setting("refuse K=16->4, 0.1 s", "refuse", 16, 0.1, 400, drop=(150, 4)),
    Setting("room, 0.08 -> 0.8 s", "room", 0, 0.8, 1500, warm_up=0.08),
    Setting("room, 0.08 -> 0.8 s, longer", "room", 0, 0.8, 4800, warm_up=0.08),
    Setting("room, 4 -> 0.4 s", "room", 0, 0.4, 6000, warm_up=4.0),
    Setting("refuse K=32, 0.1 -> 1 s", "refuse", 32, 1.0, 400, warm_up=0.1),
    Setting("refuse K=32, 1 -> 0.1 s", "refuse", 32, 0.1, 1200, warm_up=1.0),
    Setting("room, lognormal 1 s, sigma 0.3", "room", 0, 1.0, 4000, sigma=0.3),
    Setting("room, lognormal 1 s, sigma 0.6", "room", 0, 1.0, 3000, sigma=0.6),
    Setting("room, lognormal 1 s, sigma 1", "room", 0, 1.0, 3000, sigma=1.0),
    Setting("refuse K=12, lognormal 1 s, sigma 0.3", "refuse", 12, 1.0, 300, sigma=0.3),
    Setting("refuse K=12, lognormal 1 s, sigma 1", "refuse", 12, 1.0, 300, sigma=1.0),
    Setting("refuse K=32, lognormal 1 s, sigma 0.3", "refuse", 32, 1.0, 600, sigma=0.3),
    Setting("refuse K=32, lognormal 1 s, sigma 1", "refuse", 32, 1.0, 600, sigma=1.0),
    Setting("refuse K=16->4, lognormal 0.1 s, sigma 1", "refuse", 16, 0.1, 400, 1.0, drop=(150, 4)),
)


@dataclass(frozen=True)
class Run:
    """What one repeat of a setting measured."""

    per_second: float
    bound: float | None
    # Seconds: the mean of the latencies the API drew for this burst.
    drawn_mean: float
    held: float
    limit: float
    refused: int
    failed: int


async def _sample(read: Callable[[], tuple[int, int]], into: list[tuple[float, int, int]]) -> None:
    while True:
        into.append((time.perf_counter(), *read()))
        await asyncio.sleep(SAMPLE_SECONDS)


async def _drop_k(api: FakeRecognizer, after: int, k: int) -> None:
    await api.wait_received(after, within=600)
    api.max_in_flight = k


def _draw(setting: Setting, latency: float) -> Callable[[], float]:
    if setting.sigma:
        return lognormal(latency, setting.sigma)
    return lambda: latency


def _bound_seconds(delays: list[float], width: int) -> float:
    """The time a client holding `width` calls at once from the first would take to
    get every answer, calls sent in order."""
    free = [0.0] * width
    for delay in delays:
        heapq.heappush(free, heapq.heappop(free) + delay)
    return max(free)


async def run_once(setting: Setting) -> Run:
    """One burst against a fresh fake API and a fresh recognizer."""
    api = FakeRecognizer(inspect_bodies=False)
    if setting.mode == "refuse":
        api.max_in_flight = setting.k
    elif setting.mode == "queue":
        api.serve_at_once(setting.k)
    await api.start()
    done: list[float] = []
    failed = 0
    # (when, the limit, calls the API works on)
    samples: list[tuple[float, int, int]] = []
    try:
        async with Recognizer(
            base_url=api.base_url,
            api_key="bench-key",
            attempt_timeout=30,
            max_concurrent_calls=CEILING,
            policy=RetryPolicy(),
        ) as recognizer:

            async def call() -> None:
                nonlocal failed
                try:
                    await recognizer.recognize(IMAGE)
                except RecognitionError:
                    failed += 1
                done.append(time.perf_counter())

            if setting.warm_up is not None:
                api.latency = _draw(setting, setting.warm_up)
                await asyncio.gather(*(call() for _ in range(WARM_UP_CALLS)))
                done.clear()
            api.latency = _draw(setting, setting.latency)
            drawn, refused = len(api.delays), api.refused
            background = [
                asyncio.create_task(
                    _sample(
                        lambda: (
                            recognizer.concurrency_limit,
                            min(api.in_flight, setting.width),
                        ),
                        samples,
                    )
                )
            ]
            if setting.drop is not None:
                background.append(asyncio.create_task(_drop_k(api, *setting.drop)))
            began = time.perf_counter()
            await asyncio.gather(*(call() for _ in range(setting.calls)))
            for task in background:
                task.cancel()
    finally:
        await api.close()
    done.sort()
    # After a drop in K, the steady part is what follows the drop.
    first = max(setting.calls // 5, setting.drop[0] + 100 if setting.drop else 0)
    start, end = done[first], done[setting.calls * 4 // 5]
    steady = [(limit, held) for at, limit, held in samples if start <= at <= end]
    whole = setting.calls / (done[-1] - began)
    bound = None
    delays = api.delays[drawn:]
    # Not after a drop in K, nor when calls failed before the API drew their latency.
    if setting.drop is None and len(delays) >= setting.calls:
        bound = setting.calls / _bound_seconds(delays[: setting.calls], setting.width)
    return Run(
        per_second=whole,
        bound=bound,
        drawn_mean=statistics.fmean(delays),
        held=statistics.fmean(held for _, held in steady) / setting.width,
        limit=statistics.median(limit for limit, _ in steady),
        refused=api.refused - refused,
        failed=failed,
    )


def _median(values: list[float], fmt: str) -> str:
    middle = format(statistics.median(values), fmt)
    if len(values) == 1:
        return middle
    return f"{middle} [{format(min(values), fmt)}-{format(max(values), fmt)}]"


async def main(repeats: int, only: str = "") -> None:
    """Run every setting (whose name holds `only`) `repeats` times and print the table."""
    print(f"ceiling {CEILING}, default retry policy, {repeats} repeat(s); medians [spread]")
    header = (
        "setting",
        "calls",
        "replies/s",
        "ideal",
        "% ideal",
        "% bound",
        "% drawn",
        "% bound",
        "held %",
        "limit",
        "429s",
        "failed",
    )
    rows = [header]
    for setting in SETTINGS:
        if only not in setting.name:
            continue
        runs = [await run_once(setting) for _ in range(repeats)]
        ideal = setting.ideal
        bounds = [r.bound for r in runs if r.bound is not None]
        # The ideal again at the mean of the latencies each run drew.
        drawn = [(r, ideal * setting.mean_latency / r.drawn_mean) for r in runs]
        rows.append(
            (
                setting.name,
                str(setting.calls),
                _median([r.per_second for r in runs], ".0f"),
                f"{ideal:.0f}",
                _median([100 * r.per_second / ideal for r in runs], ".0f"),
                _median([100 * b / ideal for b in bounds], ".0f") if bounds else "-",
                _median([100 * r.per_second / at for r, at in drawn], ".0f"),
                _median([100 * r.bound / at for r, at in drawn if r.bound], ".0f")
                if bounds
                else "-",
                _median([100 * r.held for r in runs], ".0f"),
                _median([r.limit for r in runs], ".1f"),
                _median([float(r.refused) for r in runs], ".0f"),
                _median([float(r.failed) for r in runs], ".0f"),
            )
        )
        print(" | ".join(rows[-1]), flush=True)
    print()
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3, *sys.argv[2:3]))
