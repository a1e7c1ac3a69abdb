"""HTTP for the Bot API: aiohttp's client when the bot reaches Telegram directly, httpx's
(python-telegram-bot's own HTTPXRequest) when proxy variables are set (why:
bot/http/clients.py). Under cProfile python-telegram-bot's httpx requests (getUpdates,
getFile, sendMessage) took 46 % of the event loop's time per photo.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.http.bounded import BodyTooLarge, read_bounded
from bot.http.clients import describe, tls

# The Bot API's largest answer is getUpdates with its 100 updates: a few hundred KB, a
# few MB at worst (4,096-character texts with entities). 32 MB is far past that, and
# still a bound on what a broken or hostile endpoint can make the bot hold.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class PoolTimeout(Exception):
    """Every connection was busy for the whole pool timeout: the request was never sent."""


class AiohttpRequest(BaseRequest):
    """python-telegram-bot's HTTP layer on aiohttp, with HTTPXRequest's contract: the
    connect, read and pool timeouts, `TimedOut` for a timeout, `NetworkError` for any
    other failure, and the status and body of every answer, errors included, for the
    library to read."""

    def __init__(
        self,
        *,
        connection_pool_size: int,
        connect_timeout: float,
        read_timeout: float,
        pool_timeout: float,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._pool_timeout = pool_timeout
        # The pool bound is kept here rather than by aiohttp's connector, so waiting for a
        # free connection has its own timeout and error, as in httpx.
        self._pool = asyncio.Semaphore(connection_pool_size)
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the connection pool (inside the running loop, as aiohttp wants)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ssl=tls()),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make one request; return its status and body."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        # The parameters are a few hundred bytes that the kernel takes at once, so
        # the write timeout has nothing to bound (aiohttp has none either).
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=_given(connect_timeout, self._connect_timeout),
            sock_read=_given(read_timeout, self._read_timeout),
        )
        try:
            async with asyncio.timeout(_given(pool_timeout, self._pool_timeout)):
                await self._pool.acquire()
        except TimeoutError:
            raise TimedOut(
                "Pool timeout: all connections in the pool are busy; the request was not sent"
            ) from PoolTimeout()
        try:
            async with self._session.request(
                method, url, data=_body(request_data), timeout=timeout, allow_redirects=False
            ) as response:
                return response.status, await read_bounded(
                    response.content.iter_any(), MAX_ANSWER_BYTES
                )
        except BodyTooLarge as exc:
            raise NetworkError(f"the Bot API's answer passed {exc.limit} bytes") from None
        # Not chained (`from None`): aiohttp's text for a malformed answer or a connect
        # timeout holds the URL, and so the token, and a traceback logged with exc_info
        # would show it; httpx's never does. `describe` keeps what an operator needs.
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors too
            raise TimedOut(describe(exc)) from None
        except aiohttp.ClientError as exc:
            raise NetworkError(describe(exc)) from None
        finally:
            self._pool.release()


def _given(value: Any, default: float | None) -> float | None:
    """A timeout the caller passed (None: no limit), or the default if it passed none."""
    if value is BaseRequest.DEFAULT_NONE:
        return default
    return None if value is None else float(value)


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """The parameters form-encoded, as HTTPXRequest sends them; multipart with any files."""
    if request_data is None:
        return None
    if not request_data.contains_files:
        return request_data.json_parameters
    form = aiohttp.FormData(request_data.json_parameters)
    for name, (filename, content, content_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=content_type)
    return form
