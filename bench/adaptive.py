"""The adaptive API concurrency limit against an API that takes K calls at once.

    python -m bench.adaptive            every setting, 3 repeats each (about 2 minutes)
    python -m bench.adaptive 1          one repeat each

The real `Recognizer` at its default settings (ceiling 128, default retry policy)
sends a burst of calls over real HTTP to the fake API on 127.0.0.1, in one of its
load modes: `refuse` takes K calls at once and answers 429 with Kling code 1303
beyond; `queue` works on K at once and queues the rest, so latency grows with load.
For each setting it prints, as medians of the repeats (spread in brackets):
throughput in the steady middle of the run (from the 20th to the 80th percentile
of completions) against the ideal K / latency, the limit sampled every 10 ms over
that middle, the 429s answered, and the calls that failed. The middle starts and
ends on a completion, and answers come in waves of about K, so it can read a few
per cent over the ideal.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.recognizer import RecognitionError, Recognizer, RetryPolicy
from tests.fakes.recognizer import FakeRecognizer, Reply

CEILING: int = Settings.model_fields["api_max_concurrent_calls"].default
IMAGE = b"\xff\xd8 a small stand-in for a JPEG \xff\xd9"
SAMPLE_SECONDS = 0.01


@dataclass(frozen=True)
class Setting:
    """One row: the API's behaviour and the burst sent to it."""

    name: str
    mode: str  # "refuse" or "queue"
    k: int
    latency: float
    calls: int
    # (calls received, new K): K changes once that many calls have arrived.
    drop: tuple[int, int] | None = None

    @property
    def final_k(self) -> int:
        """K at the end of the run."""
        return self.drop[1] if self.drop else self.k


# Ideal rates stay at or under 80 calls/s: the fake and the client share one process,
# and at 240 calls/s (K=12, 0.05 s) their own CPU time, not the limit, set the pace.
SETTINGS = (
    Setting("refuse K=12, 0.2 s", "refuse", 12, 0.2, 400),
    Setting("refuse K=32, 0.4 s", "refuse", 32, 0.4, 600),
    Setting("refuse K=24, 0.8 s", "refuse", 24, 0.8, 450),
    Setting("queue  K=12, 0.2 s", "queue", 12, 0.2, 400),
    Setting("refuse K=16->4, 0.1 s", "refuse", 16, 0.1, 400, drop=(150, 4)),
)


@dataclass(frozen=True)
class Run:
    """What one repeat of a setting measured."""

    per_second: float
    limit: float
    refused: int
    failed: int


async def _sample(read: Callable[[], int], into: list[tuple[float, int]]) -> None:
    while True:
        into.append((time.perf_counter(), read()))
        await asyncio.sleep(SAMPLE_SECONDS)


async def _drop_k(api: FakeRecognizer, after: int, k: int) -> None:
    await api.wait_received(after, within=600)
    api.max_in_flight = k


async def run_once(setting: Setting) -> Run:
    """One burst against a fresh fake API and a fresh recognizer."""
    api = FakeRecognizer(inspect_bodies=False)
    api.default = Reply(delay=setting.latency)
    if setting.mode == "refuse":
        api.max_in_flight = setting.k
    else:
        api.serve_at_once(setting.k)
    await api.start()
    done: list[float] = []
    failed = 0
    limits: list[tuple[float, int]] = []
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

            background = [
                asyncio.create_task(_sample(lambda: recognizer.concurrency_limit, limits))
            ]
            if setting.drop is not None:
                background.append(asyncio.create_task(_drop_k(api, *setting.drop)))
            await asyncio.gather(*(call() for _ in range(setting.calls)))
            for task in background:
                task.cancel()
    finally:
        await api.close()
    done.sort()
    # After a drop in K, the steady part is what follows the drop.
    first = max(setting.calls // 5, setting.drop[0] + 100 if setting.drop else 0)
    start, end = done[first], done[setting.calls * 4 // 5]
    steady = [limit for at, limit in limits if start <= at <= end]
    return Run(
        per_second=(setting.calls * 4 // 5 - first) / (end - start),
        limit=statistics.median(steady),
        refused=api.refused,
        failed=failed,
    )


def _median(values: list[float], fmt: str) -> str:
    middle = format(statistics.median(values), fmt)
    if len(values) == 1:
        return middle
    return f"{middle} [{format(min(values), fmt)}-{format(max(values), fmt)}]"


async def main(repeats: int) -> None:
    """Run every setting `repeats` times and print the table."""
    print(f"ceiling {CEILING}, default retry policy, {repeats} repeat(s); medians [spread]")
    header = ("setting", "calls", "replies/s", "ideal", "% ideal", "limit", "429s", "failed")
    rows = [header]
    for setting in SETTINGS:
        runs = [await run_once(setting) for _ in range(repeats)]
        ideal = setting.final_k / setting.latency
        rows.append(
            (
                setting.name,
                str(setting.calls),
                _median([r.per_second for r in runs], ".0f"),
                f"{ideal:.0f}",
                _median([100 * r.per_second / ideal for r in runs], ".0f"),
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
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
