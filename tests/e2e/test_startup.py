"""`python -m bot` as a process, started the wrong ways: each wrong setting, unreachable
service or unusable path ends it with one line on stderr naming the setting, the address
and the cause (no traceback, no secret) and its exit status, within a bounded time; a
service that comes back during the retry window is used."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import API_KEY, SECRETS, free_port
from tests.e2e.processes import (
    ENDS_WITHIN,
    BotProcess,
    assert_one_clean_line,
    bot_process,
    clean_environment,
    run_bot,
)
from tests.e2e.unreachable import WORDS, address
from tests.fakes import bot_environment
from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.telegram import FakeBotApi, Fault
from tests.imagegen import jpeg
from tests.redis_process import RedisProcess
from tests.test_storage_open import corrupt_database

PASSWORD = "hunter2-redis-password"
CHAT = 5005


async def answer_a_photo_and_stop(bot: BotProcess, telegram: FakeBotApi) -> tuple[int, list[str]]:
    """Once the bot runs, a photo is answered; then SIGTERM: exit status and stderr lines."""
    await bot.wait_for("bot @segment_bot is running")
    telegram.push(telegram.photo_update(CHAT, jpeg(800, 800), 800, 800))
    [reply] = await telegram.wait_sent(CHAT, within=20)
    assert reply["text"].startswith("Found 4 of 4 segments")
    bot.process.send_signal(signal.SIGTERM)
    status, lines, _ = await bot.end()
    return status, lines


@pytest.fixture
def quiet(telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path) -> dict[str, str]:
    """An environment that would start the bot against the fakes, logging only errors."""
    return clean_environment(
        **bot_environment(telegram, kling, API_KEY),
        DATABASE_PATH=str(tmp_path / "data" / "bot.sqlite3"),
        LOG_LEVEL="ERROR",
    )


@pytest.mark.parametrize(
    ("name", "value", "shown", "cause"),
    [
        (
            "TELEGRAM_API_BASE_URL",
            "http://127.0.0.1:{port}/bot",
            "http://127.0.0.1:{port}/bot",
            "connection refused (nothing listening on that port?)",
        ),
        (
            "REDIS_URL",
            f"redis://:{PASSWORD}@127.0.0.1:{{port}}/0",
            "redis://:***@127.0.0.1:{port}/0",
            "connection refused (nothing listening on that port?)",
        ),
    ],
)
async def test_an_unreachable_service_is_tried_again_then_named(
    quiet: dict[str, str], tmp_path: Path, name: str, value: str, shown: str, cause: str
) -> None:
    port = free_port()
    # 5 s: room for a second attempt (1 s of backoff) after a first that a busy machine
    # slowed past 1 s (it gave up after one attempt in 2 s under -n 2).
    env = quiet | {name: value.format(port=port), "STARTUP_RETRY_SECONDS": "5"}
    status, lines, _ = await run_bot(env, cwd=tmp_path)
    assert status == 1
    line = assert_one_clean_line(lines, PASSWORD)
    assert line.startswith(f"cannot start: {name} ({shown.format(port=port)}): ")
    assert cause.format(port=port) in line
    assert "(gave up after " in line
    assert "(gave up after 1 attempt " not in line, "tried again"


@pytest.mark.parametrize("failure", sorted(WORDS))
@pytest.mark.parametrize("name", ["TELEGRAM_API_BASE_URL", "REDIS_URL"])
async def test_an_unreachable_service_is_named_by_its_cause(
    quiet: dict[str, str], telegram: FakeBotApi, tmp_path: Path, name: str, failure: str
) -> None:
    """DNS, refused, TLS and timeout each read as such, for the Bot API and for Redis."""
    plain_http = urlsplit(telegram.base_url).port
    assert plain_http is not None
    with address(failure, plain_http) as (host, port):
        if name == "REDIS_URL":
            scheme = "rediss" if failure == "tls" else "redis"
            value = f"{scheme}://:{PASSWORD}@{host}:{port}/0"
        else:
            scheme = "https" if failure in ("dns", "tls") else "http"
            value = f"{scheme}://{host}:{port}/bot"
        env = quiet | {name: value, "STARTUP_RETRY_SECONDS": "0", "TELEGRAM_TIMEOUT_SECONDS": "1"}
        status, lines, _ = await run_bot(env, cwd=tmp_path)
    assert status == 1
    line = assert_one_clean_line(lines, PASSWORD)
    assert line.startswith(f"cannot start: {name} (")
    assert WORDS[failure] in line
    assert "Unknown error" not in line


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        # python-telegram-bot would append the token to the port.
        (
            "TELEGRAM_API_BASE_URL",
            "http://127.0.0.1:9",
            "configuration error: TELEGRAM_API_BASE_URL needs a path the token is appended to",
        ),
        (
            "DEERAPI_API_KEY",
            "Qz3Xv9",
            "configuration error: DEERAPI_API_KEY is shorter than 8 characters",
        ),
        (
            "REDIS_URL",
            f"redis://:{PASSWORD}@127.0.0.1:notaport/0",
            "configuration error: REDIS_URL (redis://:***@127.0.0.1:notaport/0): is not a Redis",
        ),
        (
            "HTTPS_PROXY",
            f"ftp://user:{PASSWORD}@127.0.0.1:21",
            "configuration error: HTTPS_PROXY (ftp://user:***@127.0.0.1:21) must start with",
        ),
        (
            "https_proxy",
            f"http://user:{PASSWORD}@127.0.0.1:port",
            "configuration error: https_proxy (http://user:***@127.0.0.1:port) is not a valid",
        ),
    ],
)
async def test_a_malformed_setting_is_one_line_and_exit_2(
    quiet: dict[str, str], tmp_path: Path, name: str, value: str, expected: str
) -> None:
    status, lines, _ = await run_bot(quiet | {name: value}, cwd=tmp_path)
    assert status == 2
    assert assert_one_clean_line(lines, PASSWORD, value).startswith(expected)


def _parent_is_a_file(tmp_path: Path) -> Path:
    (tmp_path / "data").write_text("a file where the folder should be")
    return tmp_path / "data" / "bot.sqlite3"


def _a_folder(tmp_path: Path) -> Path:
    (tmp_path / "bot.sqlite3").mkdir()
    return tmp_path / "bot.sqlite3"


def _not_a_database(tmp_path: Path) -> Path:
    (tmp_path / "bot.sqlite3").write_text("notes.txt, renamed by mistake\n" * 200)
    return tmp_path / "bot.sqlite3"


def _corrupt(tmp_path: Path) -> Path:
    corrupt_database(tmp_path / "bot.sqlite3")
    return tmp_path / "bot.sqlite3"


@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (_parent_is_a_file, "cannot create its folder: "),
        (_a_folder, "is a folder, not a database file"),
        (_not_a_database, "file is not a database"),
        (_corrupt, "database disk image is malformed"),
    ],
)
async def test_a_database_path_that_cannot_be_used_is_one_line_and_exit_2(
    quiet: dict[str, str], tmp_path: Path, make: object, cause: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    # Ending at all is the point: a connection left open kept the process alive.
    status, lines, _ = await run_bot(quiet | {"DATABASE_PATH": str(path)}, cwd=tmp_path)
    assert status == 2
    line = assert_one_clean_line(lines)
    assert line.startswith(f"configuration error: DATABASE_PATH ({path}): {cause}")


UNSHARE = shutil.which("unshare")


def _can_mount_read_only() -> bool:
    if UNSHARE is None:
        return False
    probe = subprocess.run(
        [UNSHARE, "-m", "sh", "-c", "mount -t tmpfs tmpfs /mnt && mount -o remount,ro /mnt"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return probe.returncode == 0


def _written_by_the_bot(path: Path) -> None:
    """The bot's own database: WAL mode, so reading it needs a -shm file."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE chat_settings (chat_id INTEGER PRIMARY KEY, settings TEXT)")
    # A WAL database left by a clean shutdown has no -wal or -shm file.
    db.close()


def _rollback_journal(path: Path) -> None:
    """A database in SQLite's default mode, copied from elsewhere."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE chat_settings (chat_id INTEGER PRIMARY KEY, settings TEXT)")
    db.close()


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs unshare -m (root) to mount")
@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (_written_by_the_bot, "unable to open database file (SQLite writes -wal and -shm"),
        (_rollback_journal, "attempt to write a readonly database"),
        (corrupt_database, "database disk image is malformed"),
    ],
)
async def test_a_database_on_a_read_only_filesystem_is_one_line_and_exit_2(
    quiet: dict[str, str], tmp_path: Path, make: object, cause: str
) -> None:
    # Tests run as root, who may write any file: a read-only mount is what stops root.
    original = tmp_path / "bot.sqlite3"
    make(original)  # type: ignore[operator]
    mount = tmp_path / "read-only"
    mount.mkdir()
    database_path = mount / "bot.sqlite3"
    script = (
        f"mount -t tmpfs tmpfs {mount} && cp {original} {database_path} && "
        f"mount -o remount,ro {mount} && exec {sys.executable} -m bot"
    )
    assert UNSHARE is not None
    process = await asyncio.create_subprocess_exec(
        UNSHARE,
        "-m",
        "sh",
        "-c",
        script,
        cwd=tmp_path,
        env=quiet | {"DATABASE_PATH": str(database_path)},
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), ENDS_WITHIN)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 2
    line = assert_one_clean_line(stderr.decode().splitlines())
    assert line.startswith(f"configuration error: DATABASE_PATH ({database_path}): {cause}")


async def test_a_redis_that_comes_up_during_the_retries_is_used(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path
) -> None:
    redis = RedisProcess()  # its port is chosen now; the server starts later
    env = clean_environment(
        **bot_environment(telegram, kling, API_KEY),
        REDIS_URL=redis.url,
        STARTUP_RETRY_SECONDS="30",
    )
    async with bot_process(env, cwd=tmp_path) as bot:
        await bot.wait_for("start-up: REDIS_URL (redis://127.0.0.1:")
        await asyncio.to_thread(redis.start)
        try:
            status, lines = await answer_a_photo_and_stop(bot, telegram)
        finally:
            redis.stop()
    assert status == 0
    warnings = [line for line in lines if " WARNING bot.startup: " in line]
    assert len(warnings) == 1, "the first failure at WARNING, the rest at INFO"
    assert "Traceback" not in "\n".join(lines)


async def test_settings_with_stray_spaces_and_slashes_start_and_log_the_version(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path
) -> None:
    env = clean_environment(**bot_environment(telegram, kling, API_KEY))
    env |= {
        "TELEGRAM_BOT_TOKEN": f" {telegram.token}  ",
        "TELEGRAM_API_BASE_URL": f"{telegram.base_url}/ ",
        "TELEGRAM_FILE_BASE_URL": f"{telegram.base_file_url}/",
        "DEERAPI_BASE_URL": f"{kling.base_url}/",
        "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
        "STARTUP_RETRY_SECONDS": "30",
    }
    # The first two getMe calls meet a 502: a blip at boot is waited out.
    telegram.fail("getMe", Fault(502, "Bad Gateway"), Fault(502, "Bad Gateway"))
    async with bot_process(env, cwd=tmp_path) as bot:
        status, lines = await answer_a_photo_and_stop(bot, telegram)
    assert status == 0
    assert len(telegram.calls_to("getMe")) == 3
    text = "\n".join(lines)
    assert " INFO bot: photo-segment-bot 0.1.0 starting: long polling, Bot API at " in text
    assert f"start-up: TELEGRAM_API_BASE_URL ({telegram.base_url}): Bad Gateway" in text
    assert "Traceback" not in text
    assert not [s for s in SECRETS if s in text]


async def test_a_refused_token_is_named_without_the_token(
    quiet: dict[str, str], tmp_path: Path, telegram: FakeBotApi
) -> None:
    other = "654321:ANOTHER-token-the-fake-does-not-know"
    status, lines, _ = await run_bot(quiet | {"TELEGRAM_BOT_TOKEN": other}, cwd=tmp_path)
    assert status == 2
    assert assert_one_clean_line(lines, other) == (
        f"configuration error: TELEGRAM_BOT_TOKEN ({telegram.base_url}): "
        "refused by the Bot API: Unauthorized"
    )


async def test_a_base_url_that_is_no_bot_api_is_named(
    quiet: dict[str, str], tmp_path: Path, kling: FakeRecognizer
) -> None:
    # A web server that answers 404 in plain text: python-telegram-bot logs a traceback
    # for the body it cannot parse, which the start-up keeps off stderr.
    address = f"{kling.root}/bot"
    status, lines, _ = await run_bot(quiet | {"TELEGRAM_API_BASE_URL": address}, cwd=tmp_path)
    assert status == 2
    assert assert_one_clean_line(lines) == (
        f"configuration error: TELEGRAM_API_BASE_URL ({address}): "
        "answered 404 Not Found: not a Bot API address (.../bot)"
    )


async def test_a_webhook_url_telegram_refuses_is_named(
    quiet: dict[str, str], tmp_path: Path, telegram: FakeBotApi
) -> None:
    telegram.fail("setWebhook", Fault(400, "Bad Request: bad webhook: HTTPS url must be provided"))
    env = quiet | {
        "WEBHOOK_URL": "http://bot.example/hook",
        "WEBHOOK_SECRET_TOKEN": "webhook-secret-for-tests",
        "HTTP_LISTEN": "127.0.0.1",
        "HTTP_PORT": str(free_port()),
    }
    status, lines, _ = await run_bot(env, cwd=tmp_path)
    assert status == 2
    assert assert_one_clean_line(lines, "webhook-secret-for-tests") == (
        "configuration error: WEBHOOK_URL (http://bot.example/hook): refused by the Bot API: "
        "Bad webhook: https url must be provided"
    )


async def test_a_port_already_taken_is_named(quiet: dict[str, str], tmp_path: Path) -> None:
    taken = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = taken.sockets[0].getsockname()[1]
    try:
        env = quiet | {"HTTP_LISTEN": "127.0.0.1", "HTTP_PORT": str(port)}
        status, lines, _ = await run_bot(env, cwd=tmp_path)
    finally:
        taken.close()
        await taken.wait_closed()
    assert status == 2
    assert assert_one_clean_line(lines).startswith(
        f"configuration error: HTTP_PORT (127.0.0.1:{port}): cannot listen: "
    )


async def test_sigterm_during_the_retries_stops_at_once(
    quiet: dict[str, str], tmp_path: Path
) -> None:
    env = quiet | {
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{free_port()}/bot",
        "STARTUP_RETRY_SECONDS": "120",
        "LOG_LEVEL": "WARNING",
    }
    async with bot_process(env, cwd=tmp_path) as bot:
        await bot.wait_for("start-up: TELEGRAM_API_BASE_URL")
        bot.process.send_signal(signal.SIGTERM)
        status, lines, _ = await bot.end(within=10)
    assert status == 0
    assert "Traceback" not in "\n".join(lines)


async def test_a_proxy_set_only_in_env_file_is_warned_of_at_start(
    quiet: dict[str, str], telegram: FakeBotApi, tmp_path: Path
) -> None:
    """httpx reads proxies from the environment only: a proxy line in .env is ignored,
    and the operator behind a proxy is told so at once, not after the start-up retries."""
    (tmp_path / ".env").write_text(f"HTTPS_PROXY=http://user:{PASSWORD}@127.0.0.1:3128\n")
    env = quiet | {"LOG_LEVEL": "INFO"}
    async with bot_process(env, cwd=tmp_path) as bot:
        await bot.wait_for("which is ignored: proxies are read from the environment only")
        status, lines = await answer_a_photo_and_stop(bot, telegram)
    assert status == 0
    [warning] = [line for line in lines if "HTTPS_PROXY" in line]
    assert "WARNING bot: .env sets HTTPS_PROXY, which is ignored" in warning
    assert PASSWORD not in warning

    # Set in the environment too: that one is used, nothing to warn of.
    env |= {"HTTPS_PROXY": "http://127.0.0.1:3128", "NO_PROXY": "127.0.0.1"}
    async with bot_process(env, cwd=tmp_path) as bot:
        status, lines = await answer_a_photo_and_stop(bot, telegram)
    assert status == 0
    assert not [line for line in lines if "ignored" in line]


@pytest.mark.parametrize("where", ["environment", ".env"])
@pytest.mark.parametrize("name", ["TELEGRAM_BOT_TOKEN", "DEERAPI_API_KEY"])
async def test_a_secret_in_quotes_is_refused_in_one_line(
    quiet: dict[str, str], tmp_path: Path, name: str, where: str
) -> None:
    """Quotes kept around a secret (`docker run --env-file` keeps them; in .env, quotes
    inside quotes) would be sent with it and fail at the first call."""
    secret = quiet[name]
    if where == "environment":
        env = quiet | {name: f'"{secret}"'}
    else:
        env = {key: value for key, value in quiet.items() if key != name}
        (tmp_path / ".env").write_text(f"{name}='\"{secret}\"'\n")
    status, lines, _ = await run_bot(env, cwd=tmp_path)
    assert status == 2
    line = assert_one_clean_line(lines, secret)
    assert line == (
        f"configuration error: {name} is wrapped in quotes that became part of it "
        "(docker run --env-file keeps them): remove them"
    )
