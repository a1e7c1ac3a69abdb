"""Near-duplicates: the fingerprint store in both backends, the in-memory index, and the
lookup's rules (gate, candidates, confirmation, expiry, failures)."""

from __future__ import annotations

import asyncio
import io
import logging
import random
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from bot.logs import FIELDS
from bot.photo import images
from bot.photo.alerts import OperatorAlerts
from bot.photo.budget import ByteBudget
from bot.photo.cache import ResultCache
from bot.photo.decoding import DecodePool
from bot.photo.fingerprint import CANDIDATE_BITS, Fingerprint, fingerprint
from bot.photo.near import NearDuplicates, NearIndex
from bot.photo.near_store import NearEntry, NearStore, RedisNearStore, SqliteNearStore
from bot.photo.outcomes import Recognized
from bot.photo.pipeline import IncomingImage, PhotoPipeline, Requester
from bot.photo.preparing import ImageWork
from bot.photo.quotas import Quotas
from bot.photo.rules import MAX_DOWNLOAD_BYTES
from bot.recognition.results import RecognitionResult
from bot.stats import Stats
from bot.storage.sqlite_storage import SqliteStorage

TTL = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def textured(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A picture with detail everywhere: random shapes on random ground."""
    rng = random.Random(seed)
    picture = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(picture)
    for _ in range(60):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        r = rng.randrange(10, 80)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return picture


def jpeg(picture: Image.Image, quality: int = 87) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality)
    return out.getvalue()


def print_of(data: bytes, photo: bool = True) -> Fingerprint:
    size = Image.open(io.BytesIO(data)).size if photo else None
    prepared = images.prepare(data, size, memory_limit=600_000_000, printed=True)
    assert prepared.fingerprint is not None
    return prepared.fingerprint


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[NearStore]:
    opened: NearStore
    if request.param == "redis":
        opened = await RedisNearStore.open(request.getfixturevalue("redis_url"), TTL)
    else:
        opened = await SqliteNearStore.open(str(tmp_path / "bot.sqlite3"))
    yield opened
    await opened.close()


async def test_store_keeps_prints_by_cursor_and_expires_them(store: NearStore) -> None:
    first = print_of(jpeg(textured(1)))
    second = print_of(jpeg(textured(2)))
    now = 1_000_000.0
    await store.add_print("sha256:a", first, now, now + 10)
    entries, cursor = await store.prints_since("", now)
    assert [(e.key, e.phash, e.aspect) for e in entries] == [
        ("sha256:a", first.phash, first.aspect)
    ]
    await store.add_print("sha256:b", second, now, now + 100)
    later, cursor = await store.prints_since(cursor, now)
    assert [e.key for e in later] == ["sha256:b"]
    assert (await store.prints_since(cursor, now))[0] == []
    assert await store.thumbnails(["sha256:a", "sha256:b", "sha256:none"], now) == {
        "sha256:a": first.thumb,
        "sha256:b": second.thumb,
    }
    # Past its expiry an entry is neither listed nor read (Redis expires the thumbnail
    # by its own clock: there only the listing is checked).
    gone = now + 50
    assert [e.key for e in (await store.prints_since("", gone))[0]] == ["sha256:b"]
    if isinstance(store, SqliteNearStore):
        assert list(await store.thumbnails(["sha256:a", "sha256:b"], gone)) == ["sha256:b"]


async def test_a_copy_is_found_in_another_replica_and_a_different_picture_is_not(
    store: NearStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    clock = Clock()
    here = NearDuplicates(store, TTL, clock)
    original = textured(3, (1280, 960))
    await here.add("sha256:original", print_of(jpeg(original)))
    await here.drain()
    # Another replica on the same store learns of it on its next lookup.
    there = NearDuplicates(store, TTL, clock)
    copy = print_of(jpeg(original.resize((800, 600)), 70))
    match = await there.find(copy)
    assert match is not None
    assert match.key == "sha256:original"
    assert await there.find(print_of(jpeg(textured(4, (1280, 960))))) is None
    # Expired with the cache.
    clock.now += TTL + 1
    assert await NearDuplicates(store, TTL, clock).find(copy) is None


async def test_near_blank_pictures_are_neither_kept_nor_matched(store: NearStore) -> None:
    near = NearDuplicates(store, TTL, Clock())
    blank = print_of(jpeg(Image.new("RGB", (800, 600), "white")))
    gradient = print_of(jpeg(Image.linear_gradient("L").resize((800, 600)).convert("RGB")))
    assert not blank.informative
    assert not gradient.informative
    await near.add("sha256:blank", blank)
    assert len(near) == 0
    assert await near.find(blank) is None
    assert await near.find(gradient) is None


class BrokenStore:
    """A store whose every call fails, as in an outage."""

    async def add_print(self, key: str, print_: Fingerprint, now: float, expires_at: float) -> None:
        raise ConnectionError

    async def prints_since(self, cursor: str, now: float) -> tuple[list[NearEntry], str]:
        raise ConnectionError

    async def thumbnails(self, keys: Sequence[str], now: float) -> dict[str, bytes]:
        raise ConnectionError

    async def close(self) -> None:
        pass


async def test_a_failing_store_makes_lookups_misses_not_errors() -> None:
    near = NearDuplicates(BrokenStore(), TTL, Clock())
    picture = print_of(jpeg(textured(5)))
    await near.add("sha256:x", picture)
    await near.drain()
    # Known in this process (the write failed, the lookup's sync fails: a miss).
    assert await near.find(picture) is None


def entry(key: str, phash: int, aspect: float = 1.0) -> NearEntry:
    return NearEntry(key, phash, aspect, expires_at=2e9)


def probe(phash: int, aspect: float = 1.0) -> Fingerprint:
    return Fingerprint(phash, aspect, bytes(4096), gradient=10.0)


@settings(max_examples=200, deadline=None)
@given(
    base=st.integers(0, 2**64 - 1),
    flips=st.sets(st.integers(0, 63), max_size=20),
)
def test_the_band_index_finds_exactly_the_hashes_within_the_candidate_distance(
    base: int, flips: set[int]
) -> None:
    index = NearIndex()
    other = base
    for bit in flips:
        other ^= 1 << bit
    index.add(entry("k", other))
    found = index.candidates(probe(base), now=0.0)
    assert bool(found) == (len(flips) <= CANDIDATE_BITS)


def test_the_index_checks_aspect_ratio_and_keeps_its_bound() -> None:
    index = NearIndex(max_entries=3)
    for n in range(5):
        index.add(entry(f"k{n}", n << 40))
    assert len(index) == 3
    assert [e.key for e in index.candidates(probe(4 << 40), 0.0)] == ["k4", "k2", "k3"]
    assert index.candidates(probe(4 << 40, aspect=1.02), 0.0) == []


def test_a_fingerprint_survives_the_workers_json() -> None:
    picture = print_of(jpeg(textured(6)))
    assert Fingerprint.from_json(picture.to_json()) == picture
    assert Fingerprint.from_json({"phash": "zz"}) is None
    assert Fingerprint.from_json({**picture.to_json(), "thumb": "AAAA"}) is None


def test_every_path_prints_the_same_picture_alike() -> None:
    """A Telegram photo (checked on a thread), a progressive file and an EXIF-rotated one
    (workers' paths), a PNG: one picture, prints that confirm each other."""
    original = textured(7, (1280, 960))
    photo = print_of(jpeg(original))
    progressive = io.BytesIO()
    original.save(progressive, "JPEG", quality=85, progressive=True)
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    original.transpose(Image.Transpose.ROTATE_90).save(rotated, "JPEG", exif=exif.tobytes())
    png = io.BytesIO()
    original.save(png, "PNG")
    from bot.photo.fingerprint import same_picture

    for data in (progressive.getvalue(), rotated.getvalue(), png.getvalue()):
        assert same_picture(photo, print_of(data, photo=False))
    flipped = print_of(jpeg(original.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    assert not same_picture(photo, flipped)
    assert fingerprint(original).aspect == pytest.approx(4 / 3)


async def test_the_pipeline_answers_a_copy_from_its_original_without_a_call(
    tmp_path: Path, log_records: list[logging.LogRecord]
) -> None:
    """A photo, then its re-encoded copy (new file, new bytes): one API call, the copy's
    outcome says near and carries the original's key (what Allow and reports use), the
    log line says cache=near, /stats counts it among the recognized; a different picture
    is called for."""
    storage = await SqliteStorage.open(str(tmp_path / "bot.sqlite3"))
    near_store = await SqliteNearStore.open(str(tmp_path / "bot.sqlite3"))
    calls: list[bytes] = []

    class Recognizer:
        async def recognize(self, image: bytes) -> RecognitionResult:
            calls.append(image)
            return RecognitionResult({"face_seg": len(calls) == 1}, f"req-{len(calls)}")

    original = textured(11, (1280, 960))
    files = {
        "a": jpeg(original),
        "b": jpeg(original.resize((800, 600)), 72),
        "c": jpeg(textured(12, (1280, 960))),
    }

    async def download(incoming: IncomingImage) -> bytes:
        return files[incoming.file_id]

    stats = Stats(storage)
    pipeline = PhotoPipeline(
        Recognizer(),
        download,
        cache=ResultCache(storage, ttl=TTL),
        quotas=Quotas(storage, per_user=0, overall=0),
        stats=stats,
        alerts=OperatorAlerts(None),
        max_concurrent_downloads=2,
        memory=ByteBudget(100_000_000),
        images=ImageWork(ByteBudget(100_000_000), DecodePool(1, 5.0), printed=True),
        deadline=10.0,
        download_limit=MAX_DOWNLOAD_BYTES,
        near=NearDuplicates(near_store, TTL),
    )
    outcomes = []
    for name in "abc":
        size = Image.open(io.BytesIO(files[name])).size
        incoming = IncomingImage(name, f"unique-{name}", len(files[name]), *size, reencoded=True)
        outcomes.append(await pipeline.run(incoming, Requester(user_id=1)))
    first, copy, other = outcomes
    assert isinstance(first, Recognized)
    assert not first.near
    assert isinstance(copy, Recognized)
    assert copy.near
    assert copy.cached
    assert copy.result == first.result
    assert copy.charge is None
    assert copy.content_keys[1] == first.content_keys[0]
    assert isinstance(other, Recognized)
    assert not other.near
    assert not other.cached
    assert len(calls) == 2
    assert stats.since_start["near_hits"] == 1
    assert stats.since_start["recognized"] == 3
    lines = [r for r in log_records if r.getMessage().startswith("image ")]
    assert [getattr(r, FIELDS)["cache"] for r in lines] == ["miss", "near", "miss"]
    # The copy's bytes sent again: answered without a call (through the original's print,
    # which is nearest; no storage read is spent on the exact key first).
    again = await pipeline.run(IncomingImage("b", "unique-b2", reencoded=True), Requester(1))
    assert isinstance(again, Recognized)
    assert again.cached
    assert len(calls) == 2
    await near_store.close()
    await storage.close()


async def test_a_copy_arriving_during_its_originals_call_waits_for_that_answer(
    tmp_path: Path,
) -> None:
    """Two uploads of one picture at once (a burst of reposts): one API call."""
    storage = await SqliteStorage.open(str(tmp_path / "bot.sqlite3"))
    near_store = await SqliteNearStore.open(str(tmp_path / "bot.sqlite3"))
    calls: list[bytes] = []

    class Slow:
        async def recognize(self, image: bytes) -> RecognitionResult:
            calls.append(image)
            await asyncio.sleep(0.5)
            return RecognitionResult({"face_seg": True}, "req-1")

    original = textured(13, (1280, 960))
    files = {"a": jpeg(original), "b": jpeg(original, 70)}

    async def download(incoming: IncomingImage) -> bytes:
        return files[incoming.file_id]

    pipeline = PhotoPipeline(
        Slow(),
        download,
        cache=ResultCache(storage, ttl=TTL),
        quotas=Quotas(storage, per_user=0, overall=0),
        stats=Stats(storage),
        alerts=OperatorAlerts(None),
        max_concurrent_downloads=2,
        memory=ByteBudget(100_000_000),
        images=ImageWork(ByteBudget(100_000_000), DecodePool(1, 5.0), printed=True),
        deadline=10.0,
        download_limit=MAX_DOWNLOAD_BYTES,
        near=NearDuplicates(near_store, TTL),
    )

    async def run(name: str, after: float) -> object:
        await asyncio.sleep(after)
        incoming = IncomingImage(name, f"u-{name}", None, 1280, 960, reencoded=True)
        return await pipeline.run(incoming, Requester(user_id=1))

    first, copy = await asyncio.gather(run("a", 0), run("b", 0.2))
    assert isinstance(copy, Recognized)
    assert copy.near
    assert isinstance(first, Recognized)
    assert copy.result == first.result
    assert len(calls) == 1
    await near_store.close()
    await storage.close()
