"""A real redis-server that a test can stop, pause and start again on the same port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest


def redis_binary() -> str:
    """The redis-server to run; skips the test where there is none, except in CI, where
    scripts/test installs it and a missing one is a failure."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing; scripts/test should have installed it")
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    return binary


class RedisProcess:
    """redis-server on 127.0.0.1. With `data_dir` it saves its data when stopped and loads
    it when started again, as a default install does; without, it keeps nothing."""

    def __init__(self, data_dir: Path | None = None, *args: str) -> None:
        self._binary = redis_binary()
        self._data_dir = data_dir
        self._args = args  # more server options, e.g. "--requirepass", "..."
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis://127.0.0.1:PORT/0"""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        persistence = (
            ["--dir", str(self._data_dir), "--save", "3600 1"]
            if self._data_dir is not None
            else ["--save", ""]
        )
        self._process = subprocess.Popen(
            [
                self._binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "no",
                *persistence,
                *self._args,
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it (it saves its data first if it keeps any)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)  # a paused server cannot stop
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def pause(self) -> None:
        """Freeze the server: connections stay open and nothing is answered."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server answer again."""
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)
