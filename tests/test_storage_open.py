"""Opening storage that cannot be used fails with a typed error and a cause, and leaves no
connection (or the thread that serves it) behind."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage import StorageOpenError, StorageUnreachable
from bot.storage.redis_storage import RedisStorage
from bot.storage.sqlite_storage import SqliteStorage
from tests.conftest import free_port
from tests.redis_process import RedisProcess

PASSWORD = "hunter2-redis-password"


def corrupt_database(path: Path) -> None:
    """A real SQLite file whose pages after the header are overwritten."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
        db.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 50)
    data = bytearray(path.read_bytes())
    data[100 : 3 * 4096] = b"\xff" * (3 * 4096 - 100)
    path.write_bytes(bytes(data))


def _room_for_a_folder(tmp_path: Path) -> str:
    (tmp_path / "a-file").write_text("not a folder")
    return str(tmp_path / "a-file" / "bot.sqlite3")


def _a_folder(tmp_path: Path) -> str:
    (tmp_path / "bot.sqlite3").mkdir()
    return str(tmp_path / "bot.sqlite3")


def _not_a_database(tmp_path: Path) -> str:
    (tmp_path / "bot.sqlite3").write_bytes(b"these bytes are no SQLite database at all " * 100)
    return str(tmp_path / "bot.sqlite3")


def _corrupt(tmp_path: Path) -> str:
    corrupt_database(tmp_path / "bot.sqlite3")
    return str(tmp_path / "bot.sqlite3")


@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (_room_for_a_folder, "cannot create its folder"),
        (_a_folder, "is a folder, not a database file"),
        (_not_a_database, "file is not a database"),
        (_corrupt, "database disk image is malformed"),
    ],
)
async def test_a_path_that_cannot_hold_the_database_is_refused_without_leftovers(
    tmp_path: Path, make: object, cause: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    threads = set(threading.enumerate())
    with pytest.raises(StorageOpenError) as caught:
        await SqliteStorage.open(path)
    assert not isinstance(caught.value, StorageUnreachable)
    assert cause in str(caught.value)
    # aiosqlite's thread is not a daemon: one left running keeps the process from exiting.
    for thread in set(threading.enumerate()) - threads:
        thread.join(timeout=5)
        assert not thread.is_alive(), f"{thread.name} outlived the failed open"


async def test_a_database_locked_by_another_process_may_be_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bot.sqlite3"
    await (await SqliteStorage.open(str(path))).close()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    connect = sqlite3.connect
    # Without SQLite's 5 s busy wait: the outcome is the same, sooner.
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, **k | {"timeout": 0}))
    try:
        with pytest.raises(StorageUnreachable, match="locked"):
            await SqliteStorage.open(str(path))
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{PASSWORD}@127.0.0.1:notaport/0",
        f"http://:{PASSWORD}@127.0.0.1:6379/0",
    ],
)
async def test_a_malformed_redis_url_is_refused_without_quoting_it(url: str) -> None:
    with pytest.raises(StorageOpenError) as caught:
        await RedisStorage.open(url)
    assert not isinstance(caught.value, StorageUnreachable)
    assert "is not a Redis URL" in str(caught.value)
    assert PASSWORD not in str(caught.value)


async def test_a_redis_server_that_does_not_answer_is_unreachable() -> None:
    with pytest.raises(StorageUnreachable) as caught:
        await RedisStorage.open(f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")
    assert "connection refused" in str(caught.value)
    assert PASSWORD not in str(caught.value)


@pytest.fixture(scope="module")
def redis_with_password() -> Iterator[str]:
    """A redis-server of its own that wants PASSWORD; its host:port."""
    server = RedisProcess(None, "--requirepass", PASSWORD)
    server.start()
    yield f"127.0.0.1:{server.port}"
    server.stop()


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("redis://:not-the-password@{server}/0", "refused by the server: "),
        ("redis://{server}/0", "refused by the server: "),  # no password at all
        (f"redis://:{PASSWORD}@{{server}}/999", "DB index is out of range"),
    ],
)
async def test_a_redis_server_that_refuses_us_is_a_setting_to_fix(
    redis_with_password: str, url: str, cause: str
) -> None:
    with pytest.raises(StorageOpenError) as caught:
        await RedisStorage.open(url.format(server=redis_with_password))
    assert not isinstance(caught.value, StorageUnreachable)
    assert cause in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert "not-the-password" not in str(caught.value)


async def test_the_right_password_opens(redis_with_password: str) -> None:
    storage = await RedisStorage.open(f"redis://:{PASSWORD}@{redis_with_password}/0")
    assert await storage.quota_used("2026-11-25", "user:1") == 0
    await storage.close()
