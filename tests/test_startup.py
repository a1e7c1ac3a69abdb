"""Start-up's pieces: addresses without secrets, proxy variables, the bounded retry."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.config import ConfigError, Settings
from bot.startup import (
    Misconfigured,
    Unreachable,
    check_proxies,
    describe,
    redact_url,
    retrying,
)
from tests.conftest import API_KEY, TOKEN

PASSWORD = "hunter2-secret"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"redis://:{PASSWORD}@redis:6379/0", "redis://:***@redis:6379/0"),
        (f"redis://user:{PASSWORD}@redis:6379/0", "redis://user:***@redis:6379/0"),
        (f"redis://{PASSWORD}@redis", "redis://***@redis"),
        (f"http://u:{PASSWORD}/with@at@proxy:3128", "http://u:***@proxy:3128"),
        (f"u:{PASSWORD}@proxy:3128", "u:***@proxy:3128"),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
    ],
)
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        (
            {"HTTPS_PROXY": f"ftp://u:{PASSWORD}@proxy:21"},
            "HTTPS_PROXY (ftp://u:***@proxy:21) must",
        ),
        (
            {"https_proxy": f"http://u:{PASSWORD}@proxy:port"},
            "https_proxy (http://u:***@proxy:port)",
        ),
        ({"ALL_PROXY": "socks4://proxy:1080"}, "ALL_PROXY (socks4://proxy:1080) must start"),
        ({"HTTP_PROXY": "http://:3128"}, "HTTP_PROXY (http://:3128) has no host name"),
    ],
)
def test_a_proxy_variable_httpx_cannot_use_is_named(environ: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_proxies(environ)
    assert str(caught.value).startswith(problem)
    assert PASSWORD not in str(caught.value)


def test_usable_proxy_variables_pass() -> None:
    check_proxies(
        {
            "HTTPS_PROXY": "http://user:pass@proxy:3128",
            "http_proxy": "proxy:3128",  # httpx reads it as http://proxy:3128
            "ALL_PROXY": "socks5h://127.0.0.1:1080",
            "NO_PROXY": "localhost,127.0.0.1",
            "FTP_PROXY": "anything: httpx does not read it",
            "HTTPS_PROXY_NOTE": "not a proxy variable",
            "https_proxy": " ",
        }
    )


class _Attempts:
    """Fails as scripted, then answers."""

    def __init__(self, *failures: Exception, delay: float = 0.0) -> None:
        self.failures = list(failures)
        self.delay = delay
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.failures:
            raise self.failures.pop(0)
        return "open"


DOWN = Unreachable("REDIS_URL", "redis://redis:6379/0", "ConnectionError: refused")


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff of 0.05 s, 0.1 s, ... capped at 0.2 s: the policy's shape, test-sized."""
    from bot import startup

    monkeypatch.setattr(startup, "BACKOFF", startup.RetryPolicy(base_delay=0.05, max_delay=0.2))


@pytest.mark.usefixtures("fast_backoff")
async def test_a_service_that_comes_back_is_used(
    log_records: list[logging.LogRecord],
) -> None:
    attempt = _Attempts(DOWN, DOWN, DOWN)
    loop = asyncio.get_running_loop()
    assert await retrying(attempt, deadline=loop.time() + 10) == "open"
    assert attempt.calls == 4
    retries = [r for r in log_records if r.name == "bot.startup"]
    assert [r.levelno for r in retries] == [logging.WARNING, logging.INFO, logging.INFO, 20]
    assert "REDIS_URL (redis://redis:6379/0): ConnectionError: refused" in retries[0].message
    assert "reached after 4 attempts" in retries[-1].message


@pytest.mark.usefixtures("fast_backoff")
async def test_a_service_that_stays_down_is_given_up_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot import startup

    delays: list[float] = []
    policy = startup.BACKOFF

    class Recorded:
        def backoff(self, attempts: int) -> float:
            delays.append(policy.backoff(attempts))
            return delays[-1]

    monkeypatch.setattr(startup, "BACKOFF", Recorded())
    attempt = _Attempts(*[DOWN] * 100)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(Unreachable) as caught:
        await retrying(attempt, deadline=started + 1.0)
    # Every failure asked for a delay; every one but the last was slept, within the
    # deadline, and the last would have ended past it. (How many fit depends on the
    # machine's speed: 6 to 8 on a quiet one.)
    assert attempt.calls == len(delays) >= 2
    assert sum(delays[:-1]) < 1.0
    assert loop.time() - started + delays[-1] >= 1.0, "given up only when the next would miss"
    assert caught.value.exit_status == 1
    assert caught.value.line().startswith(
        "cannot start: REDIS_URL (redis://redis:6379/0): ConnectionError: refused (gave up after "
    )
    assert f"gave up after {attempt.calls} attempts" in caught.value.line()


@pytest.mark.usefixtures("fast_backoff")
async def test_an_attempt_that_hangs_is_cut_at_the_deadline() -> None:
    attempt = _Attempts(DOWN, delay=0.0)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def first_fails_then_hangs() -> str:
        if attempt.calls:
            await asyncio.sleep(60)
        return await attempt()

    with pytest.raises(Unreachable, match=r"ConnectionError: refused \(gave up after 2 attempts"):
        await retrying(first_fails_then_hangs, deadline=started + 0.5)
    assert loop.time() - started < 2


async def test_a_wrong_setting_is_not_tried_again() -> None:
    wrong = Misconfigured("DATABASE_PATH", "/data/bot.sqlite3", "file is not a database")
    attempt = _Attempts(wrong)
    loop = asyncio.get_running_loop()
    with pytest.raises(Misconfigured) as caught:
        await retrying(attempt, deadline=loop.time() + 10)
    assert attempt.calls == 1
    assert caught.value.exit_status == 2
    assert caught.value.line() == (
        "configuration error: DATABASE_PATH (/data/bot.sqlite3): file is not a database"
    )


async def test_no_retry_time_means_one_attempt() -> None:
    attempt = _Attempts(DOWN, DOWN)
    loop = asyncio.get_running_loop()
    with pytest.raises(Unreachable, match=r"gave up after 1 attempt in 0 s\)$"):
        await retrying(attempt, deadline=loop.time())
    assert attempt.calls == 1


def test_the_first_log_line_names_what_is_served_without_secrets() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TOKEN,  # type: ignore[arg-type]
        deerapi_api_key=API_KEY,  # type: ignore[arg-type]
        redis_url=f"redis://:{PASSWORD}@redis:6379/0",  # type: ignore[arg-type]
        telegram_local_mode=True,
    )
    assert describe(settings) == (
        "long polling, local Bot API server mode, Bot API at https://api.telegram.org/bot, "
        "Redis at redis://:***@redis:6379/0"
    )
