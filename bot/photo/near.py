"""Near-duplicates: a picture already recognized, arriving as other bytes, costs no call.

The result cache knows a picture by its Telegram file and the SHA-256 of its bytes; a
re-encoded, resized or screenshotted copy has neither. Here its fingerprint
(bot/photo/fingerprint.py) finds the stored picture it is a copy of, whose result key the
pipeline then reads from the cache. A false match would give someone another picture's
answer, so a candidate counts only once its thumbnail confirms it (`same_picture`).

Lookup: every replica keeps the stored 64-bit hashes in memory, indexed by four 16-bit
bands. Two hashes within 12 bits agree within 3 bits on at least one band (12 bits
spread over 4 bands), so probing each band's values within 3 bits (697 a band) finds
every candidate without a scan. Thumbnails are read from the store for candidates only.
Store failures and timeouts make a lookup a miss: a near-duplicate saves money, and is
never worth a photo's answer.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from bot.photo.fingerprint import (
    CANDIDATE_BITS,
    MAX_ASPECT_DIFF,
    MIN_GRADIENT,
    Fingerprint,
    same_picture,
)
from bot.photo.near_store import NearEntry, NearStore

logger = logging.getLogger(__name__)

_BANDS = 4
_BAND_BITS = 16
_BAND_MASK = (1 << _BAND_BITS) - 1
_PROBE_BITS = CANDIDATE_BITS // _BANDS
# Every 16-bit mask of at most `_PROBE_BITS` set bits: 1 + 16 + 120 + 560 = 697.
_PROBES = tuple(
    sum(1 << bit for bit in bits)
    for count in range(_PROBE_BITS + 1)
    for bits in itertools.combinations(range(_BAND_BITS), count)
)
# A replica holds this many hashes at most (about 300 bytes each in Python: 60 MB);
# past it the oldest go first. 200,000 pictures is several days of a busy bot.
MAX_ENTRIES = 200_000
# Candidates whose thumbnails are read for one picture: copies sit within 2 bits
# (95 %), unrelated pictures rarely within 12; more than this is a pattern (a
# chessboard), not a copy.
MAX_CANDIDATES = 8
# How often a lookup first reads what other replicas stored: a copy arriving at another
# replica within this time of its original costs one call, never a wrong answer.
SYNC_SECONDS = 0.5
STORE_TIMEOUT = 1.0
# Batches of `SYNC_BATCH` a lookup reads at most: a replica that was away catches up
# over several lookups, none of which waits for more than a few thousand rows.
SYNC_BATCHES = 2
LOAD_TIMEOUT = 30.0
MAX_PENDING_WRITES = 64


class NearIndex:
    """The stored pictures' hashes in memory, found by Hamming distance through bands."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, NearEntry] = OrderedDict()
        # Per band: the band's value -> {key: whole hash} of the entries that have it.
        self._bands: list[dict[int, dict[str, int]]] = [{} for _ in range(_BANDS)]

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: NearEntry) -> None:
        self.discard(entry.key)
        self._entries[entry.key] = entry
        for band, value in enumerate(_split(entry.phash)):
            self._bands[band].setdefault(value, {})[entry.key] = entry.phash
        while len(self._entries) > self._max:
            self.discard(next(iter(self._entries)))

    def discard(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for band, value in enumerate(_split(entry.phash)):
            keys = self._bands[band].get(value)
            if keys is not None:
                keys.pop(key, None)
                if not keys:
                    del self._bands[band][value]

    def candidates(self, print_: Fingerprint, now: float) -> list[NearEntry]:
        """Fresh entries within `CANDIDATE_BITS` and of the same aspect ratio, nearest
        first, at most `MAX_CANDIDATES`."""
        wanted = print_.phash
        close: dict[str, int] = {}
        for band, value in enumerate(_split(wanted)):
            buckets = self._bands[band]
            for probe in _PROBES:
                keys = buckets.get(value ^ probe)
                if keys:
                    for key, phash in keys.items():
                        bits = (phash ^ wanted).bit_count()
                        if bits <= CANDIDATE_BITS:
                            close[key] = bits
        near = []
        for key, bits in close.items():
            entry = self._entries[key]
            if entry.expires_at > now and abs(entry.aspect / print_.aspect - 1) <= MAX_ASPECT_DIFF:
                near.append((bits, entry))
        near.sort(key=lambda pair: pair[0])
        return [entry for _, entry in near[:MAX_CANDIDATES]]


def _split(phash: int) -> list[int]:
    return [(phash >> (band * _BAND_BITS)) & _BAND_MASK for band in range(_BANDS)]


@dataclass(frozen=True)
class NearMatch:
    """The stored picture a new one is a copy of: its result cache key."""

    key: str


class NearDuplicates:
    """Finds the stored picture a fingerprint is a copy of; stores new ones."""

    def __init__(
        self,
        store: NearStore,
        ttl: float,
        clock: Callable[[], float] = time.time,
        *,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._index = NearIndex(max_entries)
        self._cursor = ""
        self._synced_at = -SYNC_SECONDS
        self._syncing = asyncio.Lock()
        self._writes: set[asyncio.Task[None]] = set()
        # Thumbnails whose write is still running: a copy arriving meanwhile finds them.
        self._thumbs: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._index)

    async def find(self, print_: Fingerprint) -> NearMatch | None:
        """The stored picture `print_` is a copy of, if any (None on any store failure)."""
        if not print_.informative:
            return None
        now = self._clock()
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                await self._sync(now)
                candidates = self._index.candidates(print_, now)
                if not candidates:
                    return None
                wanted = [c.key for c in candidates if c.key not in self._thumbs]
                thumbs = await self._store.thumbnails(wanted, now) if wanted else {}
                thumbs |= {c.key: self._thumbs[c.key] for c in candidates if c.key in self._thumbs}
        except Exception as exc:
            logger.warning("near-duplicate lookup failed: %s", type(exc).__name__)
            return None
        for candidate in candidates:
            thumb = thumbs.get(candidate.key)
            if thumb is None:
                continue
            # Stored prints passed the information gate when they were added.
            stored = Fingerprint(candidate.phash, candidate.aspect, thumb, MIN_GRADIENT)
            if same_picture(stored, print_):
                return NearMatch(candidate.key)
        return None

    def begin(self, key: str, print_: Fingerprint) -> bool:
        """Know a picture whose call is about to be made, in this process at once, so a
        copy arriving during the call finds it (and waits for its result, not paying a
        second call); True if this caller registered it and is to `commit` or `abandon`
        it. A picture under the information gate is never kept: it could not be matched.
        """
        if not print_.informative or key in self._thumbs:
            return False
        self._thumbs[key] = print_.thumb
        expires_at = self._clock() + self._ttl
        self._index.add(NearEntry(key, print_.phash, print_.aspect, expires_at))
        return True

    def abandon(self, key: str) -> None:
        """The call for a `begin`-registered picture failed: forget it."""
        self._thumbs.pop(key, None)
        self._index.discard(key)

    async def commit(self, key: str, print_: Fingerprint) -> None:
        """Store a `begin`-registered picture's fingerprint, its result now cached, for
        the TTL. The store's write runs behind the reply (0.3-1 ms of SQLite a photo),
        unless `MAX_PENDING_WRITES` are running already."""
        now = self._clock()
        write = asyncio.create_task(self._write(key, print_, now, now + self._ttl))
        if len(self._writes) >= MAX_PENDING_WRITES:
            await asyncio.shield(write)
            return
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)

    async def add(self, key: str, print_: Fingerprint) -> None:
        """`begin` and `commit` at once: a picture whose result is cached already."""
        if self.begin(key, print_):
            await self.commit(key, print_)

    async def _write(self, key: str, print_: Fingerprint, now: float, expires_at: float) -> None:
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                await self._store.add_print(key, print_, now, expires_at)
        except Exception as exc:
            # Kept in this process still; other replicas and a restart miss it.
            logger.warning("near-duplicate store write failed: %s", type(exc).__name__)
        finally:
            self._thumbs.pop(key, None)

    async def drain(self) -> None:
        """Wait for the writes still running behind their replies (before closing)."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def load(self) -> None:
        """Read every fresh fingerprint in the store (at start: 100,000 take about a
        second); a failure leaves the rest to the lookups' syncs."""
        try:
            async with asyncio.timeout(LOAD_TIMEOUT):
                await self._sync(self._clock(), batches=None)
        except Exception as exc:
            logger.warning("near-duplicate index not loaded: %s", type(exc).__name__)

    async def _sync(self, now: float, batches: int | None = SYNC_BATCHES) -> None:
        """Read what was stored since the last look (by any replica), at most every
        `SYNC_SECONDS`, at most `batches` batches (None: all there is)."""
        if batches is not None and now - self._synced_at < SYNC_SECONDS:
            return
        async with self._syncing:
            if batches is not None and now - self._synced_at < SYNC_SECONDS:
                return
            for _ in itertools.count() if batches is None else range(batches):
                cursor = self._cursor
                entries, self._cursor = await self._store.prints_since(cursor, now)
                for entry in entries:
                    self._index.add(entry)
                if self._cursor == cursor:
                    break
            self._synced_at = now
