"""`python -m bot ...` as a child process of the test, its stderr read as it comes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import SECRETS

# Every run ends well within this, or the process hung.
ENDS_WITHIN = 30


def clean_environment(**overrides: str) -> dict[str, str]:
    """The test process's environment without any bot setting or proxy, plus `overrides`."""
    settings = {name.upper() for name in Settings.model_fields}
    kept = {
        name: value
        for name, value in os.environ.items()
        if name not in settings and not name.lower().endswith("_proxy")
    }
    return kept | {"STARTUP_RETRY_SECONDS": "2"} | overrides


class BotProcess:
    """`python -m bot ARGS` with its stderr read line by line as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._new_line = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, env: dict[str, str], *args: str, cwd: Path) -> BotProcess:
        """Start it in `cwd` (no .env there)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            cwd=cwd,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            async with self._new_line:
                self.lines.append(raw.decode().rstrip("\n"))
                self._new_line.notify_all()

    async def wait_for(self, text: str, within: float = 20) -> None:
        """Wait until a line of stderr contains `text`."""
        try:
            async with asyncio.timeout(within), self._new_line:
                await self._new_line.wait_for(lambda: any(text in line for line in self.lines))
        except TimeoutError:
            pytest.fail(f"no {text!r} within {within} s in stderr: {self.lines}")

    async def end(self, within: float = ENDS_WITHIN) -> tuple[int, list[str], str]:
        """Exit status, stderr lines and stdout, once it has exited by itself."""
        assert self.process.stdout is not None
        stdout = await asyncio.wait_for(self.process.stdout.read(), within)
        status = await asyncio.wait_for(self.process.wait(), within)
        await self._reader
        return status, self.lines, stdout.decode()

    def kill(self) -> None:
        """Kill it if it is still running."""
        if self.process.returncode is None:
            self.process.kill()


@contextlib.asynccontextmanager
async def bot_process(env: dict[str, str], *args: str, cwd: Path) -> AsyncIterator[BotProcess]:
    """A started `python -m bot`, killed at the end if a test left it running."""
    bot = await BotProcess.start(env, *args, cwd=cwd)
    try:
        yield bot
    finally:
        bot.kill()
        await bot.process.wait()


async def run_bot(env: dict[str, str], *args: str, cwd: Path) -> tuple[int, list[str], str]:
    """Run to the end: exit status, stderr lines, stdout."""
    async with bot_process(env, *args, cwd=cwd) as bot:
        return await bot.end()


def assert_one_clean_line(lines: list[str], *more_secrets: str) -> str:
    """The single line on stderr (LOG_LEVEL=ERROR hides the retries), without a
    traceback or a secret; returned."""
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    for secret in (*SECRETS, *more_secrets):
        assert secret not in lines[0]
    return lines[0]
