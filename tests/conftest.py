"""Fixtures shared by every test: the fake servers, settings that point at them, a log audit."""

from __future__ import annotations

import logging
import os
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from bot.config import Settings
from bot.logs import RedactingFormatter
from bot.storage.sqlite_storage import SqliteStorage
from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.telegram import FakeBotApi
from tests.redis_process import RedisProcess

# Shaped like real secrets so the bot's validation accepts them; valid nowhere.
TOKEN = "123456:TEST-token-for-the-fakes-only"
API_KEY = "test-deerapi-key-for-the-fakes-only"
SECRETS = (TOKEN, API_KEY)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's HTTP clients honour *_PROXY (as urllib reads them: any case); one set on
    a developer's machine must not catch the fakes' traffic. Proxy tests set their own."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture
def fake_tls() -> ssl.SSLContext | None:
    """TLS for the fake servers: none, plain HTTP, unless a test module overrides this."""
    return None


@pytest.fixture
async def telegram(fake_tls: ssl.SSLContext | None) -> AsyncIterator[FakeBotApi]:
    """A fake Bot API on 127.0.0.1 for `TOKEN`."""
    fake = FakeBotApi(TOKEN)
    await fake.start(fake_tls)
    yield fake
    await fake.close()
    leaked = [c for c in fake.calls if any(s in repr(c.params) for s in SECRETS)]
    assert not leaked, f"a secret reached Telegram: {leaked[:1]}"


@pytest.fixture
async def kling(fake_tls: ssl.SSLContext | None) -> AsyncIterator[FakeRecognizer]:
    """A fake recognition API on 127.0.0.1."""
    fake = FakeRecognizer()
    await fake.start(fake_tls)
    yield fake
    await fake.close()
    assert not fake.violations, fake.violations


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A real redis-server on 127.0.0.1 for the session; its URL.

    Skipped where redis-server is missing, except in CI (see `redis_binary`).
    """
    server = RedisProcess()
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test's own, to stop, pause and start again; it keeps its
    data across a stop, as a default install does."""
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's Redis, emptied for this test."""
    with redis.Redis.from_url(redis_server) as client:
        client.flushall()
    return redis_server


@pytest.fixture
async def storage() -> AsyncIterator[SqliteStorage]:
    """A fresh in-memory database."""
    opened = await SqliteStorage.open(":memory:")
    yield opened
    await opened.close()


@pytest.fixture
def settings(telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path) -> Settings:
    """Settings that point the bot at the fakes, with test-sized delays."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TOKEN,  # type: ignore[arg-type]
        deerapi_api_key=API_KEY,  # type: ignore[arg-type]
        deerapi_base_url=kling.base_url,
        telegram_api_base_url=telegram.base_url,
        telegram_file_base_url=telegram.base_file_url,
        api_retry_base_delay_seconds=0.01,
        api_attempt_timeout_seconds=2,
        api_total_deadline_seconds=8,
        photo_deadline_seconds=10,
        telegram_timeout_seconds=5,
        database_path=str(tmp_path / "bot.sqlite3"),
        album_quiet_seconds=0.3,
    )


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def log_records() -> Iterator[list[logging.LogRecord]]:
    """Every log record of the test, at DEBUG; afterwards, proof that none leaks a secret.

    Our own loggers (`bot.*`) must never format a secret at all. A library may
    (python-telegram-bot logs its token URL at DEBUG); what the bot's formatter
    emits for those must still be clean.
    """
    collector = _Collector()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    try:
        yield collector.records
    finally:
        root.removeHandler(collector)
        root.setLevel(old_level)
    plain = logging.Formatter("%(name)s %(message)s")
    emitted = RedactingFormatter(SECRETS)
    for record in collector.records:
        raw = plain.format(record)
        if record.name.startswith("bot"):
            assert not any(s in raw for s in SECRETS), f"bot logged a secret: {record.name}"
        assert not any(s in emitted.format(record) for s in SECRETS), record.name
