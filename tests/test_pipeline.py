"""The data path without Telegram: what reaches the API and what comes back."""

from __future__ import annotations

import asyncio

from bot.budget import ByteBudget
from bot.images import MAX_DOWNLOAD_BYTES, TooSmall
from bot.pipeline import (
    DeadlineExceeded,
    DownloadError,
    Failed,
    IncomingImage,
    PhotoPipeline,
    Recognised,
    Refused,
    memory_cost,
)
from bot.recognizer import ErrorKind, RecognitionError, RecognitionResult
from tests.imagegen import jpeg

DATA = jpeg(640, 480)


class _Recognizer:
    def __init__(self, delay: float = 0.0, error: RecognitionError | None = None) -> None:
        self.calls: list[bytes] = []
        self.delay = delay
        self.error = error

    async def recognize(self, image: bytes) -> RecognitionResult:
        self.calls.append(image)
        await asyncio.sleep(self.delay)
        if self.error:
            raise self.error
        return RecognitionResult({"head_seg": True})


def _pipeline(recognizer: _Recognizer, download: object, deadline: float = 5.0) -> PhotoPipeline:
    return PhotoPipeline(
        recognizer,
        download,  # type: ignore[arg-type]
        max_concurrent_downloads=2,
        memory=ByteBudget(100_000_000),
        decode_memory=ByteBudget(100_000_000),
        deadline=deadline,
    )


async def _serve(_: IncomingImage) -> bytes:
    return DATA


async def test_downloaded_bytes_are_recognised() -> None:
    recognizer = _Recognizer()
    outcome = await _pipeline(recognizer, _serve).run(IncomingImage("f", "u"))
    assert isinstance(outcome, Recognised)
    assert recognizer.calls == [DATA]


async def test_declared_size_refuses_without_download_or_api_call() -> None:
    downloads: list[IncomingImage] = []

    async def download(incoming: IncomingImage) -> bytes:
        downloads.append(incoming)
        return DATA

    recognizer = _Recognizer()
    outcome = await _pipeline(recognizer, download).run(
        IncomingImage("f", "u", width=200, height=900)
    )
    assert outcome == Refused(TooSmall(200, 900))
    assert not downloads
    assert not recognizer.calls


async def test_download_and_api_failures_become_outcomes() -> None:
    async def broken(_: IncomingImage) -> bytes:
        raise DownloadError("NetworkError")

    outcome = await _pipeline(_Recognizer(), broken).run(IncomingImage("f", "u"))
    assert isinstance(outcome, Failed)
    assert isinstance(outcome.error, DownloadError)

    error = RecognitionError(ErrorKind.SERVER, status=503)
    outcome = await _pipeline(_Recognizer(error=error), _serve).run(IncomingImage("f", "u"))
    assert outcome == Failed(error)


async def test_the_per_photo_deadline_covers_the_whole_path() -> None:
    outcome = await _pipeline(_Recognizer(delay=5), _serve, deadline=0.2).run(
        IncomingImage("f", "u")
    )
    assert isinstance(outcome, Failed)
    assert isinstance(outcome.error, DeadlineExceeded)


async def test_downloads_are_bounded() -> None:
    active = peak = 0

    async def slow(_: IncomingImage) -> bytes:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return DATA

    pipeline = _pipeline(_Recognizer(), slow)
    await asyncio.gather(
        *(pipeline.run(IncomingImage(str(i), str(i), file_size=len(DATA))) for i in range(6))
    )
    assert peak == 2


async def test_bytes_in_flight_are_bounded_by_the_memory_budget() -> None:
    active = peak = 0

    class _Slow(_Recognizer):
        async def recognize(self, image: bytes) -> RecognitionResult:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.05)
            active -= 1
            return await super().recognize(image)

    size = 10_000_000
    pipeline = PhotoPipeline(
        _Slow(),
        _serve,
        max_concurrent_downloads=8,
        memory=ByteBudget(3 * memory_cost(size)),
        decode_memory=ByteBudget(100_000_000),
        deadline=5,
    )
    await asyncio.gather(
        *(pipeline.run(IncomingImage(str(i), str(i), file_size=size)) for i in range(8))
    )
    assert peak == 3


def test_unknown_size_reserves_for_the_largest_download() -> None:
    assert memory_cost(None) == memory_cost(MAX_DOWNLOAD_BYTES) > memory_cost(1_000_000)
