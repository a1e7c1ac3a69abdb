"""Many hostile files at once: the RSS of the whole process tree stays within the budget.

The bound is the issue's: idle RSS of the bot's processes (its decode workers included)
+ the decode budget + the files' own bytes (downloads in flight) + 60 MB of slack. RSS
is sampled every 5 ms from a thread, so a peak between two samples can be missed, never
invented.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import psutil
import pytest

from bot.photo import rules
from bot.photo.budget import ByteBudget
from bot.photo.decoding import DecodePool
from bot.photo.preparing import ImageWork
from tests import hostile

SLACK = 60 * 1024 * 1024
# Heavy files of every decode path, all at once.
NAMES = [
    "jpeg_scan_bomb",
    "jpeg_progressive_12mp",
    "jpeg_header_only_49mp",
    "jpeg_header_only_49mp_rot6",
    "jpeg_photo_12mp_rot6",
    "png_rgba_49mp",
    "png_rgba_49mp_rot8",
    "tiff_f_49mp",
    "tiff_rgb_49mp_rot6",
    "webp_lossless_49mp",
    "gif_49mp_1000_frames",
    "avif_48mp",
]


class _TreeRss:
    """The largest sum of RSS over this process and `pids()`, sampled until stopped."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self._pids = pids
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def now(self) -> int:
        total = 0
        try:
            pids = self._pids()
        except RuntimeError:  # the pool changed its workers while they were listed
            pids = []
        for pid in [psutil.Process().pid, *pids]:
            try:
                total += psutil.Process(pid).memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.now())

    def __enter__(self) -> _TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def files() -> list[bytes]:
    made = [hostile.CORPUS[name]() for name in NAMES]
    return [data for data in made if data is not None]


@pytest.mark.parametrize("budget_mb", [300, 600])
async def test_many_hostile_files_at_once_stay_within_the_budget(
    files: list[bytes], budget_mb: int
) -> None:
    budget = budget_mb * 1024 * 1024
    pool = DecodePool(2, cpu_seconds=30.0)
    work = ImageWork(ByteBudget(budget), pool)
    try:
        await pool.start()
        await asyncio.sleep(0.2)
        idle = _TreeRss(lambda: pool.pids).now()

        async def one(data: bytes) -> str:
            try:
                await work.prepare(data, None, owner=len(data) % 7)
            except rules.ImageRejected as reason:
                return type(reason).__name__
            return "prepared"

        # Replaced workers are measured too: the pool's list is read at each sample.
        with _TreeRss(lambda: pool.pids) as rss:
            answers = await asyncio.gather(*(one(data) for data in files))
        downloads = sum(len(data) for data in files)
    finally:
        await pool.close()
    assert len(answers) == len(files)
    assert "prepared" in answers
    assert "TooMuchWork" in answers
    over = rss.peak - idle
    print(f"budget {budget_mb} MB: peak {over / 2**20:.0f} MB over idle {idle / 2**20:.0f} MB")
    assert over <= budget + downloads + SLACK, f"{over / 2**20:.0f} MB over idle"
