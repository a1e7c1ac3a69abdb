"""Fetching an image's bytes through the Bot API, with failures mapped to pipeline errors."""

from __future__ import annotations

import io
import logging

from telegram import Bot
from telegram.error import BadRequest, NetworkError, TelegramError
from typing_extensions import Buffer

from bot.images import TooLargeToDownload
from bot.outcomes import DownloadError
from bot.pipeline import IncomingImage

logger = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 2


class TelegramDownloader:
    """The pipeline's `Downloader` over getFile and the file URL."""

    def __init__(self, bot: Bot, timeout: float, limit: int) -> None:
        self._bot = bot
        self._timeout = timeout
        # Bytes the Bot API serves a bot: 20 MB, or 2000 MB from a local server, which
        # hands out a path on its disk that python-telegram-bot reads (local mode).
        self._limit = limit

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
        kept = _KeepBytes()
        await file.download_to_memory(kept, read_timeout=self._timeout)
        if len(kept.data) > self._limit:
            raise TooLargeToDownload(len(kept.data), self._limit)
        return kept.data


class _KeepBytes(io.BytesIO):
    """A download target that keeps the library's bytes instead of copying them:
    two fewer copies of every 20 MB file."""

    data = b""

    def write(self, buffer: Buffer, /) -> int:
        """Keep `buffer` (python-telegram-bot writes a whole file at once, as bytes)."""
        self.data = bytes(buffer)
        return len(self.data)
