"""Decodes that the header cannot bound run in worker processes, which can be ended.

A thread cannot be stopped, and a decoder that never returns to Python cannot be
interrupted: a progressive JPEG that repeats one scan 200,000 times held a core for
138 s. So every decode whose cost depends on more than the header shows (re-encodes,
progressive and multi-scan JPEGs: see `inspection.Inspection.isolated`) runs in a worker
(`bot.photo.decode_worker`) that ends itself past its CPU limit (a timer, then the kernel),
whose address space is limited to what the decode reserved from the budget, and that
the pool kills when the photo's deadline passes or its wall-clock limit does. A worker
that died is replaced; one whose memory did not come back after an image is replaced
too, so the RSS of the whole process tree stays within idle + the decode budget.

Fair share: one person's images hold at most half the workers (at least one), so two
files from one person leave a worker for everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass
from typing import Any

from bot.metrics import DECODE_WORKERS_REPLACED
from bot.photo import images, rules
from bot.photo.frames import (
    WorkerFault,
    WorkerReply,
    decode_rejection,
    prepared,
    receive_frame,
    send_frame,
)

logger = logging.getLogger(__name__)

PEAK_UNKNOWN = -1
# A worker whose RSS stays this far over its idle RSS after an image is replaced:
# glibc keeps freed heap for reuse, and a retired worker gives it all back.
RECYCLE_OVER_IDLE = 24 * 1024 * 1024
# Wall-clock seconds a decode may take per CPU second it may use: workers run at a lower
# priority than the bot, so on a busy machine they get less than a core each.
WALL_PER_CPU_SECOND = 4.0
WALL_SLACK_SECONDS = 2.0
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 2.0
_RESPAWN_PAUSE = 1.0
# Workers start with glibc's allocator told to map every allocation over 64 KB on its
# own (returned to the kernel when freed, instead of kept in the heap: its adaptive
# threshold otherwise climbs to 32 MB after the first big image), and one arena.
_WORKER_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "1"}


@dataclass(frozen=True)
class DecodeStats:
    """What one worker decode measured, for the log line and the bench."""

    peak_bytes: int  # the worker's peak RSS over its RSS when idle (the file's copy included)
    reserved: int
    seconds: float


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, process: asyncio.subprocess.Process, idle_rss: int) -> None:
        self.process = process
        self.idle_rss = idle_rss
        self.retired = False  # killed, or to be replaced after its image

    @classmethod
    async def start(cls) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.photo.decode_worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, **_WORKER_ENV},
            # Out of the terminal's process group: Ctrl-C is the bot's to handle.
            start_new_session=True,
        )
        try:
            async with asyncio.timeout(_START_TIMEOUT):
                ready, _ = await cls._read(process)
        except BaseException:
            process.kill()
            await process.wait()
            raise
        rss = ready.get("rss")
        return cls(process, rss if isinstance(rss, int) else 0)

    async def run(self, header: dict[str, Any], data: bytes) -> tuple[WorkerReply, bytes]:
        stdin = self.process.stdin
        assert stdin is not None
        await send_frame(stdin, header, data)
        fields, payload = await self._read(self.process)
        try:
            reply = WorkerReply(**{k: v for k, v in fields.items() if k != "size"})
        except TypeError:
            raise WorkerFault("a reply with unknown fields") from None
        return reply, payload

    @staticmethod
    async def _read(process: asyncio.subprocess.Process) -> tuple[dict[str, Any], bytes]:
        stdout = process.stdout
        assert stdout is not None
        return await receive_frame(stdout)

    def kill(self) -> None:
        self.retired = True
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    async def stop(self) -> None:
        """Close its input (it exits at the end of its stream), killed if it lingers."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            async with asyncio.timeout(_STOP_TIMEOUT):
                await self.process.wait()
        except TimeoutError:
            self.kill()
            await self.process.wait()


class DecodePool:
    """A fixed number of decode workers, each image on one of them under its limits."""

    def __init__(self, workers: int, cpu_seconds: float) -> None:
        if workers < 1:
            raise ValueError("at least one worker")
        self.size = workers
        self.cpu_seconds = cpu_seconds
        self.share = max(1, workers // 2)
        self.replaced = 0
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._owners: Counter[Hashable] = Counter()
        self._changed = asyncio.Condition()
        self._spawning: set[asyncio.Task[None]] = set()
        self._starting = asyncio.Lock()
        self._started = False
        self._closed = False

    async def start(self) -> None:
        """Start every worker (else the first image that needs one does); `WorkerFault`
        if one cannot be started."""
        async with self._starting:
            if not self._started:
                await self._start_all()
                self._started = True

    async def _start_all(self) -> None:
        try:
            started = await asyncio.gather(*(_Worker.start() for _ in range(self.size)))
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            await self.close()
            raise WorkerFault(f"cannot start a decode worker: {exc}") from None
        self._idle.extend(started)

    @property
    def busy_pids(self) -> list[int]:
        """The process ids of the workers decoding an image now."""
        return [worker.process.pid for worker in self._busy]

    @property
    def pids(self) -> list[int]:
        """The workers' process ids (for measuring the process tree)."""
        return [worker.process.pid for worker in (*self._idle, *self._busy)]

    async def prepare(
        self,
        data: bytes,
        photo_size: tuple[int, int] | None,
        *,
        memory_limit: int,
        reserve: int,
        owner: Hashable = None,
        printed: bool = False,
    ) -> tuple[images.PreparedImage, DecodeStats]:
        """Prepare `data` in a worker allowed `reserve` bytes and `cpu_seconds`; raise
        `ImageRejected` for what the image is (`TooMuchWork` when a limit ended it)."""
        header = {
            "photo_size": list(photo_size) if photo_size else None,
            "memory_limit": memory_limit,
            "reserve": reserve,
            "cpu_seconds": self.cpu_seconds,
            "printed": printed,
        }
        began = time.perf_counter()
        async with self._worker(owner) as worker:
            reply, payload = await self._run(worker, header, data)
        stats = DecodeStats(
            max(0, reply.peak - worker.idle_rss), reserve, time.perf_counter() - began
        )
        if reply.rejected is not None:
            raise decode_rejection(reply.rejected)
        if reply.crashed is not None:
            logger.warning("a decoder raised %s; the image is refused as damaged", reply.crashed)
            raise rules.CorruptImage(reply.crashed)
        return prepared(reply, payload), stats

    async def _run(
        self, worker: _Worker, header: dict[str, Any], data: bytes
    ) -> tuple[WorkerReply, bytes]:
        wall = self.cpu_seconds * WALL_PER_CPU_SECOND + WALL_SLACK_SECONDS
        try:
            async with asyncio.timeout(wall):
                reply, payload = await worker.run(header, data)
        except TimeoutError:
            worker.kill()
            raise rules.TooMuchWork(rules.Work.TIME, None, wall) from None
        except (asyncio.IncompleteReadError, ConnectionError, WorkerFault, ValueError):
            raise await self._ended(worker) from None
        except BaseException:
            # Cancelled (the photo's deadline, a shutdown): nothing may go on burning
            # CPU for a photo that has been answered.
            worker.kill()
            raise
        if reply.rss > worker.idle_rss + RECYCLE_OVER_IDLE:
            worker.kill()
        return reply, payload

    async def _ended(self, worker: _Worker) -> rules.ImageRejected:
        """Why a worker stopped answering, as the refusal its image gets. Its exit status is
        awaited before anything signals it: `Popen.send_signal` polls first, and a poll
        that reaps the process leaves asyncio's watcher to report status 255."""
        worker.retired = True
        try:
            async with asyncio.timeout(_STOP_TIMEOUT):
                status = await worker.process.wait()
        except TimeoutError:  # alive but broke the protocol
            worker.kill()
            status = -signal.SIGKILL
        if status in (-signal.SIGPROF, -signal.SIGXCPU):
            return rules.TooMuchWork(rules.Work.CPU, None, self.cpu_seconds)
        if status == -signal.SIGKILL:
            # Killed from outside: the kernel's OOM killer, or an operator.
            return rules.TooMuchWork(rules.Work.MEMORY, None, 0)
        logger.warning("a decode worker ended with status %s", status)
        return rules.CorruptImage(f"the decoder ended with status {status}")

    @contextlib.asynccontextmanager
    async def _worker(self, owner: Hashable) -> AsyncIterator[_Worker]:
        await self.start()
        async with self._changed:
            while True:
                await self._changed.wait_for(
                    lambda: bool(self._idle) and (owner is None or self._owners[owner] < self.share)
                )
                worker = self._idle.pop()
                if worker.process.returncode is None:
                    break
                # Died while idle (killed from outside): its image is not this one's.
                self._replace(worker)
            self._busy.add(worker)
            self._owners[owner] += 1
        try:
            yield worker
        finally:
            self._busy.discard(worker)
            self._owners[owner] -= 1
            if self._owners[owner] <= 0:
                del self._owners[owner]
            if worker.process.returncode is None and not worker.retired:
                async with self._changed:
                    self._idle.append(worker)
                    self._changed.notify_all()
            else:
                self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        if self._closed:
            return
        self.replaced += 1
        DECODE_WORKERS_REPLACED.inc()
        task = asyncio.get_running_loop().create_task(self._respawn(worker))
        self._spawning.add(task)
        task.add_done_callback(self._spawning.discard)

    async def _respawn(self, dead: _Worker) -> None:
        with contextlib.suppress(ProcessLookupError):
            await dead.process.wait()
        while not self._closed:
            try:
                worker = await _Worker.start()
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                logger.error("cannot start a decode worker (%s); trying again", exc)
                await asyncio.sleep(_RESPAWN_PAUSE)
                continue
            if self._closed:
                await worker.stop()
                return
            async with self._changed:
                self._idle.append(worker)
                self._changed.notify_all()
            return

    async def close(self) -> None:
        """Stop every worker; a decode still running is killed."""
        self._closed = True
        for task in list(self._spawning):
            task.cancel()
        await asyncio.gather(*self._spawning, return_exceptions=True)
        for worker in self._busy:
            worker.kill()
        await asyncio.gather(*(w.stop() for w in (*self._idle, *self._busy)))
        self._idle.clear()
