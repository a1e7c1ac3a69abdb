"""What can stop the bot before it serves, each told as one line: the setting, its address
(never a password or the token) and the cause.

A wrong setting (`Misconfigured`) ends start-up at once with exit status 2. A service
that does not answer (`Unreachable`: Redis down, the Bot API unreachable) is tried
again with capped exponential backoff until `STARTUP_RETRY_SECONDS` have passed since
start, then start-up ends with exit status 1: a network blip at boot does not kill the
service, and a service that stays down does not hang it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import ClassVar, TypeVar

import httpx
from pydantic_settings.sources import read_env_file

from bot.config import ConfigError, Settings
from bot.recognition.client import RetryPolicy
from bot.storage import Backend, StorageOpenError, StorageUnreachable
from bot.storage.sqlite_storage import SqliteStorage

logger = logging.getLogger(__name__)

EXIT_UNREACHABLE = 1
EXIT_CONFIG = 2
# 1, 2, 4, 8, then every 10 s (less up to a quarter, so replicas restarted together
# spread out): about 9 attempts in the default minute.
BACKOFF = RetryPolicy(base_delay=1.0, max_delay=10.0)
# The proxy variables httpx reads (urllib's rules: any case; lower case wins).
PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")
NO_PROXY = "no_proxy"
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")

_T = TypeVar("_T")


class StartupFailure(Exception):
    """Start-up cannot go on: which setting, at which address, and why."""

    exit_status: ClassVar[int]
    lead: ClassVar[str]

    def __init__(self, setting: str, address: str, cause: str) -> None:
        self.setting = setting
        self.address = address
        self.cause = cause
        super().__init__(self.line())

    def line(self) -> str:
        """The one line for stderr."""
        return f"{self.lead}: {self.what()}"

    def what(self) -> str:
        """The setting, its address and the cause."""
        return f"{self.setting} ({self.address}): {self.cause}"


class Misconfigured(StartupFailure):
    """A setting is wrong: trying again will not help."""

    exit_status = EXIT_CONFIG
    lead = "configuration error"


class Unreachable(StartupFailure):
    """A service did not answer; it may later."""

    exit_status = EXIT_UNREACHABLE
    lead = "cannot start"

    def gave_up(self, attempts: int, seconds: float) -> Unreachable:
        """The same failure, saying how long it was tried."""
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        return Unreachable(
            self.setting, self.address, f"{self.cause} (gave up after {tries} in {seconds:.0f} s)"
        )


def redact_url(url: str) -> str:
    """`url` with its user info masked (`redis://:***@host:6379/0`, `http://user:***@proxy`).

    Everything before the last "@" counts as user info, so a password with a raw "/" or
    "@" in it is masked too.
    """
    scheme, separator, rest = url.rpartition("://")
    if not separator:
        scheme, rest = "", url
    userinfo, at, host_and_path = rest.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    masked = f"{user}:***" if colon else "***"
    return f"{scheme}{separator}{masked}@{host_and_path}"


def check_proxies(environ: Mapping[str, str]) -> None:
    """Refuse a proxy variable httpx could not use (it would fail inside the first HTTP
    client the bot builds, with a traceback quoting the URL and its password)."""
    for name, value in sorted(environ.items()):
        value = value.strip()
        if name.lower() not in PROXY_VARIABLES or not value:
            continue
        # httpx reads "host:3128" as http://host:3128.
        url = value if "://" in value else f"http://{value}"
        problem = _proxy_problem(url)
        if problem:
            raise ConfigError(f"{name} ({redact_url(value)}) {problem}")


def proxies_only_in(env_file: str, environ: Mapping[str, str]) -> str | None:
    """A warning when `env_file` sets a proxy variable (any case) that the environment
    does not: the settings come from both, but httpx reads proxies from the environment
    only, so such a line is silently ignored (a bot behind a proxy then waits out
    STARTUP_RETRY_SECONDS for "cannot start"). Names only: a proxy URL may hold a password."""
    path = Path(env_file)
    if not path.is_file():
        return None
    proxies = (*PROXY_VARIABLES, NO_PROXY)
    present = {name.lower() for name, value in environ.items() if value.strip()}
    ignored = sorted(
        name
        # Read as the settings read it (pydantic-settings' own parser).
        for name, value in read_env_file(path, encoding="utf-8", case_sensitive=True).items()
        if name.lower() in proxies and (value or "").strip() and name.lower() not in present
    )
    if not ignored:
        return None
    return (
        f"{env_file} sets {', '.join(ignored)}, which is ignored: proxies are read from the "
        "environment only (export it, or pass it to Docker with -e or --env-file)"
    )


def _proxy_problem(url: str) -> str | None:
    scheme = url.partition("://")[0].lower()
    if scheme not in _PROXY_SCHEMES:
        return "must start with http://, https://, socks5:// or socks5h://"
    try:
        proxy = httpx.Proxy(url)
    except (httpx.InvalidURL, ValueError):
        return "is not a valid URL (a port that is not a number?)"
    if not proxy.url.host:
        return "has no host name"
    return None


async def open_storage(settings: Settings) -> Backend:
    """The storage the settings name: Redis if REDIS_URL is set, else SQLite."""
    setting, address = storage_address(settings)
    opening: Awaitable[Backend]
    if settings.redis_url is not None:
        # Imported only when used: the Redis client is 6 MB of resident memory that a
        # bot on SQLite never needs (the 50 x 15 MB JPEG peak is measured against 300 MB).
        from bot.storage.redis_storage import RedisStorage

        opening = RedisStorage.open(settings.redis_url.get_secret_value())
    else:
        opening = SqliteStorage.open(settings.database_path)
    try:
        return await opening
    except StorageUnreachable as exc:
        raise Unreachable(setting, address, str(exc)) from None
    except StorageOpenError as exc:
        raise Misconfigured(setting, address, str(exc)) from None


async def retrying(attempt: Callable[[], Awaitable[_T]], *, deadline: float) -> _T:
    """`attempt()`, tried again while it raises `Unreachable` and the next try would start
    before `deadline` (loop clock). The first attempt runs to its clients' own timeouts;
    later ones are cut at the deadline. The first failure is logged at WARNING, later
    ones at INFO; the last is raised, saying how long it was tried."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    attempts = 0
    last: Unreachable | None = None
    while True:
        attempts += 1
        try:
            if last is None:
                result = await attempt()
            else:
                async with asyncio.timeout_at(deadline):
                    result = await attempt()
        except Unreachable as failure:
            last = failure
        except TimeoutError:
            if last is None:  # only later attempts run under the deadline
                raise
            # Cut at the deadline: the cause is still the last one seen.
        else:
            if attempts > 1:
                logger.info("start-up: reached after %d attempts", attempts)
            return result
        delay = BACKOFF.backoff(attempts)
        if loop.time() + delay >= deadline:
            raise last.gave_up(attempts, loop.time() - started)
        logger.log(
            logging.WARNING if attempts == 1 else logging.INFO,
            "start-up: %s; trying again in %.1f s (until %.0f s after start)",
            last.what(),
            delay,
            deadline - started,
        )
        await asyncio.sleep(delay)


def storage_address(settings: Settings) -> tuple[str, str]:
    """The setting that names the storage, and its address without a password."""
    if settings.redis_url is not None:
        return "REDIS_URL", redact_url(settings.redis_url.get_secret_value())
    return "DATABASE_PATH", os.path.abspath(settings.database_path)


def describe(settings: Settings) -> str:
    """What this process is about to serve, for the first log line (no secrets)."""
    setting, address = storage_address(settings)
    storage = f"{'Redis' if setting == 'REDIS_URL' else 'SQLite'} at {address}"
    mode = "webhook" if settings.webhook_url else "long polling"
    local = ", local Bot API server mode" if settings.telegram_local_mode else ""
    return f"{mode}{local}, Bot API at {settings.telegram_api_base_url}, {storage}"
