"""Start-up refuses what cannot work, in one line with exit status 2 and no traceback:
a database file or folder this user may not write, a database with corrupt pages past
its schema, a Redis user without the rights the bot needs."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import API_KEY
from tests.e2e.processes import ENDS_WITHIN, assert_one_clean_line, clean_environment, run_bot
from tests.fakes import bot_environment
from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.telegram import FakeBotApi

SETPRIV = shutil.which("setpriv")
NOBODY = 65534


@pytest.fixture
def quiet(telegram: FakeBotApi, kling: FakeRecognizer) -> dict[str, str]:
    return clean_environment(**bot_environment(telegram, kling, API_KEY), LOG_LEVEL="ERROR")


def _can_drop_to_nobody() -> bool:
    if SETPRIV is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        [
            SETPRIV,
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            sys.executable,
            "-c",
            # The same interpreter as ours, with the bot's dependencies: an interpreter
            # under a home only root may read (pyenv in /root) runs for nobody with
            # another standard library (3.11.2's, where redis wants async_timeout).
            f"import sys, bot.app; sys.exit(sys.version_info[:3] != {tuple(sys.version_info[:3])})",
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return probe.returncode == 0


async def _run_as_nobody(env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    """`python -m bot` as user nobody (root may write any file: only another user shows
    what a read-only file does)."""
    assert SETPRIV is not None
    process = await asyncio.create_subprocess_exec(
        SETPRIV,
        f"--reuid={NOBODY}",
        f"--regid={NOBODY}",
        "--clear-groups",
        sys.executable,
        "-m",
        "bot",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), ENDS_WITHIN)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stderr.decode().splitlines()


def _made_by_the_bot(path: Path) -> None:
    """What the bot leaves: WAL mode, its tables, no -wal or -shm after a clean stop."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE chat_settings (chat_id INTEGER PRIMARY KEY, settings TEXT)")
    db.close()


needs_nobody = pytest.mark.skipif(
    not _can_drop_to_nobody(),
    reason="needs root, setpriv, and an interpreter user nobody can run as it is",
)


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder nobody can reach (pytest's own are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="segment-bot-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_nobody
async def test_a_read_only_database_file_the_bot_made_is_refused(
    quiet: dict[str, str], open_folder: Path
) -> None:
    tmp_path = open_folder
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o777)  # -wal and -shm may be made: only the file itself is read-only
    database = folder / "bot.sqlite3"
    _made_by_the_bot(database)
    os.chown(database, NOBODY, NOBODY)
    database.chmod(0o444)
    status, lines = await _run_as_nobody(quiet | {"DATABASE_PATH": str(database)}, tmp_path)
    assert status == 2
    line = assert_one_clean_line(lines)
    assert line.startswith(f"configuration error: DATABASE_PATH ({database}): attempt to write")


@needs_nobody
async def test_a_new_database_in_a_folder_that_cannot_be_written_is_refused(
    quiet: dict[str, str], open_folder: Path
) -> None:
    tmp_path = open_folder
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o555)
    database = folder / "bot.sqlite3"
    status, lines = await _run_as_nobody(quiet | {"DATABASE_PATH": str(database)}, tmp_path)
    assert status == 2
    line = assert_one_clean_line(lines)
    assert line.startswith(f"configuration error: DATABASE_PATH ({database}): unable to open")


async def test_a_database_with_corrupt_data_pages_is_refused(
    quiet: dict[str, str], tmp_path: Path
) -> None:
    """The schema reads fine; a table's pages do not."""
    database = tmp_path / "bot.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE chat_settings (chat_id INTEGER PRIMARY KEY, settings TEXT)")
        db.executemany(
            "INSERT INTO chat_settings VALUES (?, ?)", [(n, "{}" + " " * 900) for n in range(60)]
        )
    db.close()
    data = bytearray(database.read_bytes())
    data[-8 * 4096 : -4 * 4096] = b"\xa5" * (4 * 4096)  # data pages, not page 1
    database.write_bytes(bytes(data))
    status, lines, _ = await run_bot(quiet | {"DATABASE_PATH": str(database)}, cwd=tmp_path)
    assert status == 2
    line = assert_one_clean_line(lines)
    assert line.startswith(f"configuration error: DATABASE_PATH ({database}): ")
    assert "malformed" in line


@pytest.mark.parametrize(
    ("denied", "named"),
    [("-@scripting", "EVAL"), ("-@stream", "XGROUP")],
    ids=["no scripts", "no streams"],
)
async def test_a_redis_user_without_the_rights_the_bot_needs_is_refused(
    quiet: dict[str, str], tmp_path: Path, redis_url: str, denied: str, named: str
) -> None:
    with redis.Redis.from_url(redis_url) as admin:
        admin.execute_command(
            "ACL", "SETUSER", "limited", "on", ">limited-pass", "~*", "&*", "+@all", denied
        )
    try:
        url = redis_url.replace("redis://", "redis://limited:limited-pass@")
        status, lines, _ = await run_bot(
            quiet | {"REDIS_URL": url, "DATABASE_PATH": str(tmp_path / "x.sqlite3")},
            cwd=tmp_path,
        )
    finally:
        with redis.Redis.from_url(redis_url) as admin:
            admin.execute_command("ACL", "DELUSER", "limited")
    assert status == 2
    line = assert_one_clean_line(lines, "limited-pass")
    assert line.startswith("configuration error: REDIS_URL (redis://limited:***@")
    assert named in line
