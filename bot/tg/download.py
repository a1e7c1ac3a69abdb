"""Fetching an image's bytes through the Bot API, with failures mapped to pipeline errors."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import aiohttp
import httpx
from telegram import Bot
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.http import clients as http_clients
from bot.http.bounded import BodyTooLarge, read_bounded
from bot.photo.outcomes import DownloadError
from bot.photo.pipeline import IncomingImage
from bot.photo.rules import TooLargeToDownload

logger = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 2


class _TryAgain(NetworkError):
    """The file's connection failed or was cut short, or the server erred: worth another
    attempt (python-telegram-bot's own download raised NetworkError for these too)."""


class TelegramDownloader:
    """The pipeline's `Downloader` over getFile and the file URL.

    A file served over HTTP is read through a client of its own rather than
    python-telegram-bot's `File.download_to_memory`: that keeps the bytes in an httpx
    Response caught in a reference cycle, alive until the garbage collector runs
    (tracemalloc, 100 people sending a 9.8 MB PNG: six downloads alive where four were
    admitted). Read here, the bytes belong to the pipeline alone and go when it lets
    them go. A path on a local Bot API server's disk (local mode only) is read on a
    worker thread, refused unread when it is over the limit.

    The client is aiohttp's (already the webhook's server) when no proxy is set: a
    130 KB GET costs it a fifth of httpx's CPU, and the bot is bound by its event
    loop's CPU. With proxy variables set (HTTPS_PROXY, ALL_PROXY, NO_PROXY, ...) it is
    httpx's, which reads them all, socks5:// included, like the other clients
    (tests/e2e/test_proxies.py).
    """

    def __init__(
        self,
        bot: Bot,
        timeout: float,
        limit: int,
        max_connections: int = 8,
        *,
        proxied: bool | None = None,
    ) -> None:
        """`proxied`: whether proxy variables are set (None: read the environment)."""
        self._bot = bot
        self._timeout = timeout
        # Bytes the Bot API serves a bot: 20 MB, or 2000 MB from a local server, which
        # hands out a path on its disk that python-telegram-bot reads (local mode).
        self._limit = limit
        if proxied is None:
            proxied = http_clients.proxied()
        self._get: _Getter = (
            _HttpxGetter(timeout, max_connections)
            if proxied
            else _AiohttpGetter(timeout, max_connections)
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._get.aclose()

    async def __call__(self, incoming: IncomingImage) -> bytes:
        """Return the file's bytes or raise `DownloadError` / `TooLargeToDownload`.

        getFile and the download are idempotent, so a network failure is tried again once.
        """
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                return await self._fetch(incoming)
            except BadRequest as exc:
                if "too big" in exc.message.lower():
                    size = incoming.file_size or self._limit + 1
                    raise TooLargeToDownload(size, self._limit) from None
                logger.warning("download refused by Telegram: %s", exc.message)
                raise DownloadError(exc.message) from None
            except TelegramError as exc:
                retry = attempt < DOWNLOAD_ATTEMPTS and isinstance(exc, NetworkError)
                logger.warning(
                    "download attempt %d failed: %s: %s%s",
                    attempt,
                    type(exc).__name__,
                    exc.message,
                    "; retrying" if retry else "",
                )
                if not retry:
                    raise DownloadError(type(exc).__name__) from None
        raise AssertionError("unreachable")

    async def _fetch(self, incoming: IncomingImage) -> bytes:
        file = await self._bot.get_file(incoming.file_id, read_timeout=self._timeout)
        if file.file_size and file.file_size > self._limit:
            raise TooLargeToDownload(file.file_size, self._limit)
        if not file.file_path:
            raise BadRequest("Telegram gave no file path")
        if not file.file_path.startswith(("http://", "https://")):
            # python-telegram-bot reads any existing file getFile names, local mode or
            # not: only a local Bot API server may make the bot read its own disk.
            if not self._bot.local_mode:
                raise BadRequest("Telegram gave a path on this machine's disk")
            return await asyncio.to_thread(_read_local, Path(file.file_path), self._limit)
        # get_file has made file_path the whole URL (it holds the token: never logged,
        # never in an exception's text).
        return await self._get(file.file_path, self._limit)


class _Getter(Protocol):
    """One HTTP GET of a whole file, at most `limit` bytes: `TooLargeToDownload` past it,
    `_TryAgain` for a failed connection or a 5xx, `BadRequest` for any other non-200."""

    async def __call__(self, url: str, limit: int) -> bytes: ...

    async def aclose(self) -> None: ...


def _check_status(status: int) -> None:
    if status >= 500:
        raise _TryAgain(f"file download answered HTTP {status}")
    if status != 200:
        raise BadRequest(f"file download answered HTTP {status}")


async def _read_file(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """A download's chunks, refused as soon as they pass the limit; joined once."""
    try:
        return await read_bounded(chunks, limit)
    except BodyTooLarge as exc:
        raise TooLargeToDownload(exc.size, exc.limit) from None


class _AiohttpGetter:
    def __init__(self, timeout: float, max_connections: int) -> None:
        # Per step, as httpx counts it: a 20 MB file on a slow link may take longer
        # than `timeout` in all, as long as no connect or read stalls that long.
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, url: str, limit: int) -> bytes:
        if self._session is None:  # made inside the running loop, as aiohttp wants
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._max_connections, ssl=http_clients.tls()),
                # The bytes as served, like httpx's aiter_raw: nothing is inflated.
                auto_decompress=False,
            )
        try:
            async with self._session.get(url, allow_redirects=False) as response:
                _check_status(response.status)
                return await _read_file(response.content.iter_any(), limit)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _TryAgain(http_clients.describe(exc)) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _HttpxGetter:
    def __init__(self, timeout: float, max_connections: int) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def __call__(self, url: str, limit: int) -> bytes:
        try:
            async with self._client.stream("GET", url) as response:
                _check_status(response.status_code)
                return await _read_file(response.aiter_raw(), limit)
        except httpx.TransportError as exc:
            raise _TryAgain(http_clients.describe(exc)) from None
        except httpx.InvalidURL:
            # getFile's file_path with a control character, or past 64 KB: no request can
            # carry it, so it is refused like a file Telegram has not got (aiohttp sends it
            # escaped and gets the 404). Not a TransportError: it escaped every handler.
            raise BadRequest("Telegram gave a file path no URL can hold") from None

    async def aclose(self) -> None:
        await self._client.aclose()


def _read_local(path: Path, limit: int) -> bytes:
    """A file a local Bot API server saved, read off the event loop and refused before
    reading when it is over `limit` (python-telegram-bot's own download read up to
    2000 MB on the loop and checked the size afterwards)."""
    try:
        with path.open("rb") as saved:
            size = os.fstat(saved.fileno()).st_size
            if size > limit:
                raise TooLargeToDownload(size, limit)
            data = saved.read(limit + 1)
    except OSError as exc:
        raise BadRequest(
            f"the local Bot API server's file cannot be read: {exc.strerror}"
        ) from None
    if len(data) > limit:  # it grew while being read
        raise TooLargeToDownload(len(data), limit)
    return data
