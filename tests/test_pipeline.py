"""The data path without Telegram: what reaches the API, what is cached, what is counted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.photo.alerts import OperatorAlerts
from bot.photo.budget import ByteBudget
from bot.photo.cache import ResultCache
from bot.photo.decoding import DecodePool
from bot.photo.outcomes import DeadlineExceeded, DownloadError, Failed, Limited, Recognized, Refused
from bot.photo.pipeline import IncomingImage, PhotoPipeline, Requester, memory_cost
from bot.photo.preparing import ImageWork
from bot.photo.quotas import Quotas
from bot.photo.rules import MAX_DOWNLOAD_BYTES, TooMuchWork, TooSmall
from bot.recognition.errors import ErrorKind, RecognitionError
from bot.recognition.results import RecognitionResult
from bot.stats import Stats
from bot.storage.sqlite_storage import SqliteStorage
from tests import hostile
from tests.imagegen import jpeg

DATA = jpeg(640, 480)
PERSON = Requester(user_id=7)


class _Recognizer:
    def __init__(self, delay: float = 0.0, error: RecognitionError | None = None) -> None:
        self.calls: list[bytes] = []
        self.delay = delay
        self.error = error
        self.active = self.peak = 0

    async def recognize(self, image: bytes) -> RecognitionResult:
        self.calls.append(image)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.active -= 1
        if self.error:
            raise self.error
        return RecognitionResult({"head_seg": True})


class _Files:
    """A download function over a dict of file ids, counting what it fetched."""

    def __init__(self, files: dict[str, bytes] | None = None, delay: float = 0.0) -> None:
        self.files = files or {}
        self.fetched: list[str] = []
        self.delay = delay
        self.active = self.peak = 0

    async def __call__(self, incoming: IncomingImage) -> bytes:
        self.fetched.append(incoming.file_id)
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(self.delay)
        self.active -= 1
        return self.files.get(incoming.file_id, DATA)


def _pipeline(
    storage: SqliteStorage,
    recognizer: _Recognizer,
    download: _Files,
    *,
    decoders: DecodePool | None = None,
    deadline: float = 5.0,
    per_user: int = 0,
    overall: int = 0,
    memory: int = 100_000_000,
    stats: Stats | None = None,
    alerts: OperatorAlerts | None = None,
) -> PhotoPipeline:
    # A pool starts its workers only for an image that needs one; none of these does
    # unless it passes its own (and closes it).
    decoders = decoders or DecodePool(1, cpu_seconds=5.0)
    return PhotoPipeline(
        recognizer,
        download,
        cache=ResultCache(storage, ttl=3600),
        quotas=Quotas(storage, per_user=per_user, overall=overall),
        stats=stats or Stats(storage),
        alerts=alerts or OperatorAlerts(None),
        max_concurrent_downloads=2,
        memory=ByteBudget(memory),
        images=ImageWork(ByteBudget(100_000_000), decoders),
        deadline=deadline,
        download_limit=MAX_DOWNLOAD_BYTES,
    )


def _image(n: int, size: int | None = None) -> IncomingImage:
    return IncomingImage(f"file-{n}", f"unique-{n}", file_size=size)


async def test_downloaded_bytes_are_recognised(storage: SqliteStorage) -> None:
    recognizer = _Recognizer()
    outcome = await _pipeline(storage, recognizer, _Files()).run(_image(1), PERSON)
    assert isinstance(outcome, Recognized)
    assert recognizer.calls == [DATA]


async def test_declared_size_refuses_without_download_or_api_call(
    storage: SqliteStorage,
) -> None:
    files, recognizer = _Files(), _Recognizer()
    outcome = await _pipeline(storage, recognizer, files).run(
        IncomingImage("f", "u", width=200, height=900), PERSON
    )
    assert outcome == Refused(TooSmall(200, 900))
    assert not files.fetched
    assert not recognizer.calls


async def test_download_and_api_failures_become_outcomes(storage: SqliteStorage) -> None:
    class _Broken(_Files):
        async def __call__(self, incoming: IncomingImage) -> bytes:
            raise DownloadError("NetworkError")

    outcome = await _pipeline(storage, _Recognizer(), _Broken()).run(_image(1), PERSON)
    assert isinstance(outcome, Failed)
    assert isinstance(outcome.error, DownloadError)

    error = RecognitionError(ErrorKind.SERVER, status=503)
    outcome = await _pipeline(storage, _Recognizer(error=error), _Files()).run(_image(2), PERSON)
    assert outcome == Failed(error)


async def test_the_per_photo_deadline_covers_the_whole_path(storage: SqliteStorage) -> None:
    pipeline = _pipeline(storage, _Recognizer(delay=5), _Files(), deadline=0.2)
    outcome = await pipeline.run(_image(1), PERSON)
    assert isinstance(outcome, Failed)
    assert isinstance(outcome.error, DeadlineExceeded)


async def test_downloads_are_bounded(storage: SqliteStorage) -> None:
    files = _Files(delay=0.05)
    pipeline = _pipeline(storage, _Recognizer(), files)
    await asyncio.gather(*(pipeline.run(_image(i, len(DATA)), PERSON) for i in range(6)))
    assert files.peak == 2


async def test_bytes_in_flight_are_bounded_by_the_memory_budget(storage: SqliteStorage) -> None:
    size = 10_000_000
    files = _Files({f"file-{i}": jpeg(640, 480, seed=i) for i in range(8)})
    recognizer = _Recognizer(delay=0.3)
    pipeline = _pipeline(
        storage, recognizer, files, memory=3 * memory_cost(size, MAX_DOWNLOAD_BYTES)
    )
    await asyncio.gather(*(pipeline.run(_image(i, size), PERSON) for i in range(8)))
    assert recognizer.peak == 3
    assert len(recognizer.calls) == 8


def test_unknown_size_reserves_for_the_largest_download() -> None:
    limit = MAX_DOWNLOAD_BYTES
    assert memory_cost(None, limit) == memory_cost(limit, limit) > memory_cost(1_000_000, limit)
    local = 100 * limit
    assert memory_cost(None, local) == memory_cost(local, local) > memory_cost(limit, local)


async def test_the_same_telegram_file_is_recognised_once(storage: SqliteStorage) -> None:
    files, recognizer = _Files(), _Recognizer()
    pipeline = _pipeline(storage, recognizer, files)
    first = await pipeline.run(_image(1), PERSON)
    second = await pipeline.run(_image(1), PERSON)
    assert isinstance(first, Recognized)
    assert not first.cached
    assert second == Recognized(first.result, cached=True)
    assert len(files.fetched) == 1
    assert len(recognizer.calls) == 1


async def test_the_same_bytes_under_another_file_id_are_recognised_once(
    storage: SqliteStorage,
) -> None:
    files, recognizer = _Files(), _Recognizer()
    pipeline = _pipeline(storage, recognizer, files)
    await pipeline.run(_image(1), PERSON)
    outcome = await pipeline.run(_image(2), PERSON)
    assert isinstance(outcome, Recognized)
    assert outcome.cached
    assert files.fetched == ["file-1", "file-2"]
    assert len(recognizer.calls) == 1


async def test_identical_images_at_the_same_time_share_one_call(storage: SqliteStorage) -> None:
    recognizer = _Recognizer(delay=0.5)
    pipeline = _pipeline(storage, recognizer, _Files())
    outcomes = await asyncio.gather(*(pipeline.run(_image(i, len(DATA)), PERSON) for i in range(5)))
    assert all(isinstance(o, Recognized) for o in outcomes)
    assert len(recognizer.calls) == 1
    assert sum(o.cached for o in outcomes if isinstance(o, Recognized)) == 4


async def test_a_failed_shared_call_fails_every_waiter_and_is_not_cached(
    storage: SqliteStorage,
) -> None:
    error = RecognitionError(ErrorKind.SERVER, status=503)
    recognizer = _Recognizer(delay=0.5, error=error)
    pipeline = _pipeline(storage, recognizer, _Files())
    outcomes = await asyncio.gather(*(pipeline.run(_image(i, len(DATA)), PERSON) for i in range(3)))
    assert outcomes == [Failed(error)] * 3
    recognizer.error = None
    assert isinstance(await pipeline.run(_image(9), PERSON), Recognized)
    assert len(recognizer.calls) == 2


async def test_a_person_over_the_daily_limit_costs_no_call(storage: SqliteStorage) -> None:
    files = _Files({f"file-{i}": jpeg(640, 480, seed=i) for i in range(4)})
    recognizer = _Recognizer()
    pipeline = _pipeline(storage, recognizer, files, per_user=2)
    outcomes = [await pipeline.run(_image(i), PERSON) for i in range(3)]
    assert [type(o) for o in outcomes] == [Recognized, Recognized, Limited]
    limited = outcomes[2]
    assert isinstance(limited, Limited)
    assert limited.exceeded.scope == "user"
    assert limited.exceeded.resets_at.time() == datetime.min.time()
    assert limited.exceeded.resets_at > datetime.now(UTC)
    assert len(recognizer.calls) == 2
    assert files.fetched == ["file-0", "file-1"], "refused before the download"
    other = await pipeline.run(_image(3), Requester(user_id=8))
    assert isinstance(other, Recognized), "another person has their own limit"
    again = await pipeline.run(_image(0), PERSON)
    assert again == Recognized(outcomes[0].result, cached=True), "a cache hit stays free"


async def test_bot_admins_are_exempt_and_failed_calls_are_refunded(
    storage: SqliteStorage,
) -> None:
    files = _Files({f"file-{i}": jpeg(640, 480, seed=i) for i in range(4)})
    error = RecognitionError(ErrorKind.SERVER, status=503)
    recognizer = _Recognizer(error=error)
    pipeline = _pipeline(storage, recognizer, files, per_user=1, overall=1)
    assert isinstance(await pipeline.run(_image(0), PERSON), Failed)
    recognizer.error = None
    assert isinstance(await pipeline.run(_image(1), PERSON), Recognized), "refunded"
    over = await pipeline.run(_image(2), Requester(user_id=9))
    assert isinstance(over, Limited)
    assert over.exceeded.scope == "global"
    exempt = await pipeline.run(_image(3), Requester(user_id=9, exempt=True))
    assert isinstance(exempt, Recognized)


@pytest.mark.parametrize("repeat", [1, 2])
async def test_stats_count_photos_calls_and_hits(storage: SqliteStorage, repeat: int) -> None:
    stats = Stats(storage)
    pipeline = _pipeline(storage, _Recognizer(), _Files(), stats=stats)
    for _ in range(repeat):
        await pipeline.run(_image(1), PERSON)
    await pipeline.run(IncomingImage("f", "u", width=10, height=10), PERSON)
    expected = {
        "photos": repeat + 1,
        "api_calls": 1,
        "recognized": repeat,
        "refused:TooSmall": 1,
    } | ({"cache_hits": 1} if repeat == 2 else {})
    assert dict(stats.since_start) == expected
    assert await stats.today() == expected


async def test_every_outcome_reaches_the_operator_alerts_once(storage: SqliteStorage) -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    bad_key = RecognitionError(ErrorKind.AUTH, status=401, code=1001)
    pipeline = _pipeline(storage, _Recognizer(error=bad_key), _Files(), alerts=OperatorAlerts(send))
    outcome = await pipeline.run(_image(1), PERSON)

    assert outcome == Failed(bad_key)
    assert len(sent) == 1
    assert "auth (HTTP 401, code 1001" in sent[0]


async def test_a_shared_call_charges_each_person_by_their_own_quota(
    storage: SqliteStorage,
) -> None:
    same = jpeg(640, 480, seed=5)
    files = _Files({"spent": jpeg(640, 480, seed=4), "a": same, "b": same, "c": same}, delay=0.05)
    recognizer = _Recognizer(delay=0.2)
    quotas = Quotas(storage, per_user=1, overall=0)
    pipeline = _pipeline(storage, recognizer, files, per_user=1)
    out_of_checks, with_checks, also_with_checks = Requester(1), Requester(2), Requester(3)
    await pipeline.run(IncomingImage("spent", "u-spent"), out_of_checks)

    outcomes = await asyncio.gather(
        pipeline.run(IncomingImage("a", "u-a"), out_of_checks),
        pipeline.run(IncomingImage("b", "u-b"), with_checks),
        pipeline.run(IncomingImage("c", "u-c"), also_with_checks),
    )

    assert isinstance(outcomes[0], Limited), "the person out of checks is refused"
    assert isinstance(outcomes[1], Recognized), "never refused because of someone else"
    assert isinstance(outcomes[2], Recognized)
    assert len(recognizer.calls) == 2, "one call for the spent image, one shared"
    charged = [o.charge is not None for o in outcomes[1:] if isinstance(o, Recognized)]
    assert charged.count(True) == 1, "only the person whose call was made pays"
    left = [(await quotas.remaining(n)).user for n in (2, 3)]
    assert sorted(left) == [0, 1]


async def test_a_refund_gives_back_what_an_undelivered_answer_cost(
    storage: SqliteStorage,
) -> None:
    pipeline = _pipeline(storage, _Recognizer(), _Files(), per_user=1)
    outcome = await pipeline.run(_image(1), PERSON)
    assert isinstance(outcome, Recognized)
    assert outcome.charge is not None
    await pipeline.refund(outcome)
    assert (await Quotas(storage, per_user=1, overall=0).remaining(7)).user == 1


async def test_a_file_that_takes_too_much_work_is_a_refusal_of_its_own_kind(
    storage: SqliteStorage, caplog: pytest.LogCaptureFixture
) -> None:
    stats = Stats(storage)
    recognizer = _Recognizer()
    files = _Files({"file-1": hostile.scan_bomb(5000)})
    caplog.set_level("INFO", logger="bot.photo.pipeline")
    outcome = await _pipeline(storage, recognizer, files, stats=stats).run(_image(1), PERSON)
    assert isinstance(outcome, Refused)
    assert isinstance(outcome.reason, TooMuchWork)
    assert not recognizer.calls
    assert stats.since_start["refused:TooMuchWork"] == 1
    [line] = [r for r in caplog.records if r.name == "bot.photo.pipeline"]
    assert line.getMessage() == "image refused:TooMuchWork"
