"""Peak RSS of the bot process while many people send a large document at once.

    python -m bench.memory [PEOPLE] [MEGABYTES]

Defaults: 50 people, 15 MB JPEG documents (which must be re-compressed to fit
the API's 10 MB), fake API latency 0.8 s.
"""

from __future__ import annotations

import asyncio
import sys

from bench.harness import now, running_bot
from tests.imagegen import jpeg

MB = 1_000_000


def large_jpeg(target_bytes: int) -> bytes:
    """A noisy JPEG just over `target_bytes` (noise keeps it from compressing)."""
    side = 1500
    while True:
        data = jpeg(side, side, noise=True, quality=95)
        if len(data) >= target_bytes:
            return data
        side = int(side * (target_bytes / len(data)) ** 0.5) + 16


async def measure(people: int, megabytes: float, *, latency: float = 0.8) -> dict[str, float]:
    """Send `people` documents of about `megabytes` at once; return figures."""
    data = large_jpeg(int(megabytes * MB))
    async with running_bot(api_latency=latency) as rig:
        baseline = rig.rss.peak
        started = now()
        for person in range(people):
            chat = 10_000 + person
            rig.telegram.push(rig.telegram.document_update(chat, data, file_name="big.jpg"))
        await rig.telegram.wait_delivered(people, within=600)
        elapsed = now() - started
        texts = [m["text"] for m in rig.telegram.delivered]
    answered = sum(text.startswith("Found") for text in texts)
    return {
        "people": people,
        "document_mb": len(data) / MB,
        "baseline_rss_mb": baseline / MB,
        "peak_rss_mb": rig.rss.peak / MB,
        "answered_ok": answered,
        "seconds": elapsed,
    }


def main() -> None:
    """Print the figures."""
    people = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    megabytes = float(sys.argv[2]) if len(sys.argv) > 2 else 15.0
    figures = asyncio.run(measure(people, megabytes))
    for key, value in figures.items():
        print(f"{key:>18}: {value:.1f}" if isinstance(value, float) else f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
