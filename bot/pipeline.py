"""The data path from a received image to its outcome: download, check, recognise.

Free of Telegram types: the Telegram layer hands in an `IncomingImage` and a
download function and gets back an `Outcome` to put into words.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.budget import ByteBudget
from bot.images import (
    MAX_DOWNLOAD_BYTES,
    ImageRejected,
    PreparedImage,
    check_declared,
    inspect,
    prepare,
)
from bot.recognizer import RecognitionError, RecognitionResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncomingImage:
    """What Telegram tells about an image before it is downloaded."""

    file_id: str
    file_unique_id: str
    file_size: int | None = None
    width: int | None = None
    height: int | None = None


class DownloadError(Exception):
    """The image could not be fetched from Telegram."""


class DeadlineExceeded(Exception):
    """The whole path took longer than the per-photo deadline."""


class RecognizerLike(Protocol):
    """What the pipeline needs of the API client."""

    async def recognize(self, image: bytes) -> RecognitionResult: ...


Downloader = Callable[[IncomingImage], Awaitable[bytes]]

# Copies of an image alive at once on its path: the HTTP response, the
# library's bytearray and our bytes while downloading; later the bytes, the
# prepared bytes and the Base64 JSON body (4/3 the size).
COPIES_IN_FLIGHT = 4
BASE_COST = 256 * 1024


def memory_cost(declared_size: int | None) -> int:
    """Bytes to reserve for one image, from the size Telegram declares."""
    size = MAX_DOWNLOAD_BYTES if declared_size is None else declared_size
    return BASE_COST + COPIES_IN_FLIGHT * min(size, MAX_DOWNLOAD_BYTES)


@dataclass(frozen=True)
class Recognised:
    """The API answered: the result, and the image as it was sent."""

    result: RecognitionResult
    image: PreparedImage


@dataclass(frozen=True)
class Refused:
    """The image breaks a rule that cannot be fixed; no API call was made."""

    reason: ImageRejected


@dataclass(frozen=True)
class Failed:
    """Telegram or the API failed, or time ran out."""

    error: RecognitionError | DownloadError | DeadlineExceeded


Outcome = Recognised | Refused | Failed


class PhotoPipeline:
    """Runs one image through the path, under the process-wide bounds."""

    def __init__(
        self,
        recognizer: RecognizerLike,
        download: Downloader,
        *,
        max_concurrent_downloads: int,
        memory: ByteBudget,
        decode_memory: ByteBudget,
        deadline: float,
    ) -> None:
        self._recognizer = recognizer
        self._download = download
        self._downloads = asyncio.Semaphore(max_concurrent_downloads)
        self._memory = memory
        self._decode_memory = decode_memory
        self._deadline = deadline

    async def run(self, incoming: IncomingImage) -> Outcome:
        """Download, check, normalise and recognise one image; never raises for bad input."""
        try:
            async with asyncio.timeout(self._deadline):
                check_declared(
                    file_size=incoming.file_size, width=incoming.width, height=incoming.height
                )
                async with self._memory.hold(memory_cost(incoming.file_size)):
                    return await self._fetch_and_recognise(incoming)
        except ImageRejected as reason:
            logger.info("image refused: %s %s", type(reason).__name__, reason)
            return Refused(reason)
        except (RecognitionError, DownloadError) as error:
            return Failed(error)
        except TimeoutError:
            logger.warning("photo deadline of %.0fs exceeded", self._deadline)
            return Failed(DeadlineExceeded(f"{self._deadline:g}s"))

    async def _fetch_and_recognise(self, incoming: IncomingImage) -> Recognised:
        async with self._downloads:
            data = await self._download(incoming)
        # The header tells what decoding will cost before any pixel is decoded;
        # this budget is taken while the image's own bytes are held, never the
        # other way round, so the two budgets cannot deadlock.
        inspection = await asyncio.to_thread(inspect, data)
        async with self._decode_memory.hold(inspection.working_memory):
            prepared = await asyncio.to_thread(prepare, data)
        del data
        result = await self._recognizer.recognize(prepared.data)
        return Recognised(result, prepared)
