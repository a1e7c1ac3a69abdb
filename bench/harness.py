"""Run the real bot as a subprocess against the fake servers, and measure it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.fakes import bot_environment
from tests.fakes.recognizer import FakeRecognizer, Reply
from tests.fakes.telegram import FakeBotApi

TOKEN = "123456:BENCH-token-for-the-fakes-only"
API_KEY = "bench-deerapi-key-for-the-fakes"
ROOT = Path(__file__).resolve().parents[1]


def tree_rss(process: psutil.Process) -> int:
    """The resident memory of `process` and every process below it (its decode workers)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total


def tree_cpu_seconds(process: psutil.Process) -> float:
    """CPU time (user + system) of `process`, of its children alive now and of those it has
    reaped (a decode worker ended by its limits and replaced still counts)."""
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
    return float(total)


@dataclass
class RssSampler:
    """Samples the resident memory of a process tree every `interval` seconds; keeps the peak."""

    pid: int
    interval: float = 0.01
    peak: int = 0
    samples: list[int] = field(default_factory=list)

    async def run(self) -> None:
        """Sample until cancelled."""
        process = psutil.Process(self.pid)
        with contextlib.suppress(psutil.Error):
            while True:
                rss = tree_rss(process)
                self.peak = max(self.peak, rss)
                self.samples.append(rss)
                await asyncio.sleep(self.interval)


@dataclass
class Rig:
    """The fakes, the bot process and its memory sampler."""

    telegram: FakeBotApi
    kling: FakeRecognizer
    process: asyncio.subprocess.Process
    rss: RssSampler

    def cpu_seconds(self) -> float:
        """CPU time (user + system, every thread) the bot and its workers have used so far."""
        return tree_cpu_seconds(psutil.Process(self.process.pid))


@contextlib.asynccontextmanager
async def running_bot(
    *, api_latency: float, extra_env: dict[str, str] | None = None, module: str = "bot"
) -> AsyncIterator[Rig]:
    """Start both fakes and `python -m MODULE` pointed at them; stop everything afterwards."""
    telegram = FakeBotApi(TOKEN)
    kling = FakeRecognizer(inspect_bodies=False)
    kling.default = Reply(delay=api_latency)
    await telegram.start()
    await kling.start()
    env = os.environ | bot_environment(telegram, kling, API_KEY) | (extra_env or {})
    workdir = tempfile.TemporaryDirectory(prefix="bench-")
    env["DATABASE_PATH"] = str(Path(workdir.name) / "bot.sqlite3")
    # Run in an empty folder so no developer's .env leaks in; bench/ is found via PYTHONPATH.
    env["PYTHONPATH"] = str(ROOT)
    # The default log level (INFO: a line per image) is part of what is measured; the
    # lines go to a file rather than the terminal, which would be slower.
    log = (Path(workdir.name) / "bot.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, cwd=workdir.name, env=env, stderr=log
    )
    sampler = RssSampler(process.pid)
    sampling = asyncio.create_task(sampler.run())
    try:
        await asyncio.wait_for(telegram.polled.wait(), 30)
        yield Rig(telegram, kling, process, sampler)
    finally:
        sampling.cancel()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
        await telegram.close()
        await kling.close()
        log.close()
        if process.returncode not in (0, None):
            tail = (Path(workdir.name) / "bot.log").read_text(errors="replace")[-2000:]
            print(f"the bot exited with {process.returncode}; its log ends:\n{tail}")
        workdir.cleanup()


def now() -> float:
    """Monotonic seconds, the clock the fakes stamp calls with."""
    return time.monotonic()
