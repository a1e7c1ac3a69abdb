"""The data path from a received image to its outcome.

check what Telegram declares → cached? → download → prepare within the decode budget
(bot/photo/preparing.py) → cached or in flight? → quota → recognize → cache; then count and
alert.

Free of Telegram types: the Telegram layer hands in an `IncomingImage`, who
asks, and a download function, and gets back an `Outcome` to put into words.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Protocol

from bot.logs import FIELDS
from bot.photo.alerts import OperatorAlerts
from bot.photo.budget import ByteBudget
from bot.photo.cache import ResultCache, file_key
from bot.photo.images import PreparedImage
from bot.photo.near import NearDuplicates
from bot.photo.outcomes import (
    DeadlineExceeded,
    DownloadError,
    Failed,
    Limited,
    Outcome,
    Recognized,
    Refused,
    cache_name,
    outcome_name,
)
from bot.photo.preparing import ImageWork
from bot.photo.quotas import Charge, QuotaExceeded, Quotas
from bot.photo.rules import ImageRejected, check_declared
from bot.recognition.errors import RecognitionError
from bot.recognition.results import RecognitionResult
from bot.stats import Stats

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncomingImage:
    """What Telegram tells about an image before it is downloaded."""

    file_id: str
    file_unique_id: str
    file_size: int | None = None
    width: int | None = None
    height: int | None = None
    # A photo Telegram re-encoded itself (not a file sent as is): its bytes get the
    # cheaper integrity check when they match the declared size (see images.prepare).
    reencoded: bool = False

    @property
    def photo_size(self) -> tuple[int, int] | None:
        """The size Telegram declared for a photo it re-encoded, else None."""
        if self.reencoded and self.width and self.height:
            return self.width, self.height
        return None


class Source(enum.StrEnum):
    """What kind of message an image came in."""

    PHOTO = "photo"
    FILE = "file"
    ALBUM = "album_item"
    EDIT = "edit"
    CHECK = "check"
    MODERATION = "moderation"


@dataclass(frozen=True)
class Origin:
    """Where an image came from, as plain values for its log line."""

    source: Source
    update_id: int | None = None
    chat_id: int | None = None
    user_id: int | None = None


PHOTO = Origin(Source.PHOTO)


@dataclass(frozen=True)
class Requester:
    """Who pays for the call: a person's daily limit, a moderated group's, or (neither)
    only the overall one."""

    user_id: int | None
    exempt: bool = False
    group_id: int | None = None


class RecognizerLike(Protocol):
    """What the pipeline needs of the API client."""

    async def recognize(self, image: bytes) -> RecognitionResult: ...


Downloader = Callable[[IncomingImage], Awaitable[bytes]]

# Copies of an image alive at once on its path: the chunks read and their
# joined bytes while downloading; later the bytes, the prepared bytes (when
# re-encoded) and a few 1 MB Base64 pieces. The rest is slack for the
# allocator: with 4, 100 people sending a 9.8 MB PNG peak at about 175 MB RSS.
COPIES_IN_FLIGHT = 4
BASE_COST = 256 * 1024


def memory_cost(declared_size: int | None, download_limit: int) -> int:
    """Bytes to reserve for one image, from the size Telegram declares (the most it may
    download when it declares none)."""
    size = download_limit if declared_size is None else declared_size
    return BASE_COST + COPIES_IN_FLIGHT * min(size, download_limit)


class PhotoPipeline:
    """Runs one image through the path, under the process-wide bounds."""

    def __init__(
        self,
        recognizer: RecognizerLike,
        download: Downloader,
        *,
        cache: ResultCache,
        quotas: Quotas,
        stats: Stats,
        alerts: OperatorAlerts,
        max_concurrent_downloads: int,
        memory: ByteBudget,
        images: ImageWork,
        deadline: float,
        download_limit: int,
        near: NearDuplicates | None = None,
    ) -> None:
        self._recognizer = recognizer
        self._download = download
        self._cache = cache
        self._quotas = quotas
        self._stats = stats
        self._alerts = alerts
        self._downloads = asyncio.Semaphore(max_concurrent_downloads)
        self._memory = memory
        self._images = images
        self._deadline = deadline
        self._download_limit = download_limit
        self._near = near

    async def run(
        self, incoming: IncomingImage, requester: Requester, origin: Origin = PHOTO
    ) -> Outcome:
        """Take one image through the path; never raises for bad input or failing services.

        Every outcome is counted, shown to the operator alerts and logged in one line
        here, once, whoever asked for the image (a person, /check or moderation).
        """
        self._stats.count("photos")
        steps = _Steps()
        # Whose decodes share a fair part of the workers: the sender, else the group.
        owner = origin.user_id or requester.user_id or requester.group_id
        # The charge is named by update and image: a re-run of the update (its process died
        # before answering) is not charged again.
        once = None if origin.update_id is None else f"{origin.update_id}:{incoming.file_unique_id}"
        outcome = await self._run(incoming, requester, steps, owner, once)
        self._stats.count(outcome_name(outcome))
        match cache_name(outcome):
            case "hit":
                self._stats.count("cache_hits")
            case "near":
                self._stats.count("near_hits")
        steps.log(outcome, origin)
        await self._alerts.observe(outcome)
        return outcome

    async def refund(self, outcome: Outcome) -> None:
        """Give back what an outcome cost its person (the answer never reached them)."""
        if isinstance(outcome, Recognized) and outcome.charge is not None:
            await self._quotas.refund(outcome.charge)

    async def _run(
        self,
        incoming: IncomingImage,
        requester: Requester,
        steps: _Steps,
        owner: int | None,
        once: str | None = None,
    ) -> Outcome:
        charge: Charge | None = None
        try:
            async with asyncio.timeout(self._deadline):
                check_declared(
                    file_size=incoming.file_size,
                    width=incoming.width,
                    height=incoming.height,
                    limit=self._download_limit,
                )
                cached = await self._cache.get(file_key(incoming.file_unique_id))
                if cached is not None:
                    return Recognized(cached, cached=True)
                # Charged before the download, so a person over their limit costs no
                # bandwidth; given back below unless a call was made for this person.
                if not requester.exempt:
                    charge = await self._quotas.take(requester.user_id, requester.group_id, once)
                async with self._memory.hold(memory_cost(incoming.file_size, self._download_limit)):
                    recognized = await self._fetch_and_recognize(incoming, owner, steps)
                if recognized.cached:
                    return recognized
                kept, charge = charge, None
                return replace(recognized, charge=kept)
        except ImageRejected as reason:
            return Refused(reason)
        except QuotaExceeded as exceeded:
            return Limited(exceeded)
        except (RecognitionError, DownloadError) as error:
            return Failed(error)
        except TimeoutError:
            return Failed(DeadlineExceeded(f"{self._deadline:g}s"))
        finally:
            if charge is not None:
                await asyncio.shield(self._quotas.refund(charge))

    async def _fetch_and_recognize(
        self, incoming: IncomingImage, owner: int | None, steps: _Steps
    ) -> Recognized:
        async with self._downloads:
            with steps.timing("download"):
                data = await self._download(incoming)
        steps.bytes_in = len(data)
        # The decode budget is taken while the image's own bytes are held, never the
        # other way round, so the two budgets cannot deadlock.
        with steps.timing("prepare"):
            ready = await self._images.prepare(data, incoming.photo_size, owner=owner)
        del data
        prepared, sent_key = ready
        del ready
        # The outcome and the log line describe the image; its bytes stay inside the
        # memory budget they were counted in (an answer may wait for its turn to be sent).
        described = steps.prepared = replace(prepared, data=b"")
        steps.bytes_out = len(prepared.data)
        this_file = file_key(incoming.file_unique_id)
        near, print_ = self._near, prepared.fingerprint
        registered = False
        if print_ is not None and near is not None:
            with steps.timing("near"):
                copy = await self._near_copy(prepared, sent_key, [this_file, sent_key])
            if copy is not None:
                return replace(copy, image=described)
            # Known before its call: a copy arriving meanwhile waits for this answer.
            registered = near.begin(sent_key, print_)
        try:
            with steps.timing("api"):
                result, cached = await self._cache.shared(
                    sent_key, lambda: self._recognize(prepared.data), also=[this_file]
                )
        except BaseException:
            if registered and near is not None:
                near.abandon(sent_key)
            raise
        if registered and near is not None and print_ is not None:
            await near.commit(sent_key, print_)
        if cached:
            # Remember this Telegram file too, so its next copy needs no download.
            await self._cache.put([this_file], result)
        return Recognized(result, described, cached=cached, content_keys=(sent_key,))

    async def _near_copy(
        self, prepared: PreparedImage, sent_key: str, keys: list[str]
    ) -> Recognized | None:
        """The result of the stored picture this one is a copy of, kept under this one's
        own keys too (its next exact copy is then an ordinary hit); None when no stored
        picture is this one, or the nearest is these very bytes (the shared call below
        answers those from the cache: no storage read is spent on it here)."""
        assert self._near is not None
        assert prepared.fingerprint is not None
        match = await self._near.find(prepared.fingerprint)
        if match is None or match.key == sent_key:
            return None
        # Stored, or being asked for by this process now (the copy came during its call).
        result = await self._cache.get(match.key) or await self._cache.in_flight(match.key)
        if result is None:
            return None  # expired before its fingerprint did, or its call failed
        await self._cache.put(keys, result)
        return Recognized(result, cached=True, content_keys=(sent_key, match.key), near=True)

    async def _recognize(self, image: bytes) -> RecognitionResult:
        self._stats.count("api_calls")
        return await self._recognizer.recognize(image)


class _Steps:
    """What one image's path measured, for its log line."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.millis: dict[str, float] = {}
        self.bytes_in = 0
        self.bytes_out = 0
        self.prepared: PreparedImage | None = None

    @contextlib.contextmanager
    def timing(self, step: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.millis[step] = round((time.perf_counter() - began) * 1000, 1)

    def log(self, outcome: Outcome, origin: Origin) -> None:
        # None (a field that does not apply) is left out of the line (bot/logs.py).
        fields: dict[str, object | None] = {
            "outcome": outcome_name(outcome),
            "source": origin.source.value,
            "update": origin.update_id,
            "chat": origin.chat_id,
            "user": origin.user_id,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            # As `check --json` writes them; absent when no image was prepared.
            "changes": sorted(c.value for c in self.prepared.changes) if self.prepared else None,
            "cache": cache_name(outcome),
        }
        match outcome:
            case Recognized(result=result, cached=cached):
                fields |= {
                    "attempts": 0 if cached else result.attempts,
                    "request_id": result.request_id,
                }
            case Failed(error=RecognitionError() as error):
                fields |= {"request_id": error.request_id, "status": error.status}
            case Refused(reason=reason):
                fields["reason"] = str(reason) or None  # NotAnImage has no numbers
        fields |= {f"{step}_ms": ms for step, ms in self.millis.items()}
        fields["total_ms"] = round((time.perf_counter() - self.started) * 1000, 1)
        logger.info("image %s", fields["outcome"], extra={FIELDS: fields})
