"""Recognition results kept for a while, and identical images in flight sharing one call.

Results live in `Storage` (shared by replicas) with an in-process front: a result
for a key never changes while it is fresh (the same file or the same bytes always
get the same answer), so a copy of what this process stored is correct in every
replica until the expiry it was stored with. Reads from storage are not copied
into the front: their expiry is unknown here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from types import MappingProxyType

from bot.recognition.errors import ErrorKind, RecognitionError
from bot.recognition.results import RecognitionResult
from bot.storage.results import ResultStore

logger = logging.getLogger(__name__)

# A result is about 200 bytes: 10,000 of them take about 4 MB and cover a day of
# a busy bot's repeats within the default 24 h TTL.
FRONT_SIZE = 10_000
# Writes to storage that may run behind the replies before a reply waits for its own.
MAX_PENDING_WRITES = 64
# A replica's claim on an image's call lives this long unless renewed, and its holder
# renews it every third of it while the call runs: a live call keeps its key however long
# it takes (a photo may take 90 s), and the key of a holder that died is free within 6 s
# instead of the 30 s a waiter used to wait (issue 20).
FLIGHT_LEASE_SECONDS = 6.0


def file_key(file_unique_id: str) -> str:
    """Cache key for a Telegram file (the same file forwarded or sent again)."""
    return f"file:{file_unique_id}"


def bytes_key(data: bytes) -> str:
    """Cache key for the exact bytes sent to the API."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ResultCache:
    """Results by key for `ttl` seconds, in `Storage`; one API call per key at a time."""

    def __init__(
        self,
        storage: ResultStore,
        ttl: float,
        clock: Callable[[], float] = time.time,
        *,
        lease_seconds: float = FLIGHT_LEASE_SECONDS,
        wait_seconds: float = 120.0,
        poll_seconds: float = 0.1,
    ) -> None:
        """`lease_seconds`: how long a claim on a key outlives its last renewal (so a
        holder that died frees it); `wait_seconds`: how long another process's call is
        waited for before this one makes its own."""
        self._storage = storage
        self._ttl = ttl
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds
        self._clock = clock
        # Bounded by the number of photos in flight: an entry lives for one call.
        self._flights: dict[str, asyncio.Future[RecognitionResult]] = {}
        self._front: OrderedDict[str, tuple[RecognitionResult, float]] = OrderedDict()
        self._writes: set[asyncio.Task[None]] = set()
        # The claims this process holds, each renewed by a task until its flight ends.
        self._renewing: dict[str, asyncio.Task[None]] = {}

    async def get(self, key: str) -> RecognitionResult | None:
        """The cached result for `key`, if fresh."""
        now = self._clock()
        kept = self._in_front(key, now)
        if kept is not None:
            return kept
        raw = await self._storage.cached_result(key, now)
        if raw is None:
            return None
        data = json.loads(raw)
        return RecognitionResult(
            MappingProxyType(dict(data["segments"])),
            data["request_id"],
            cutouts=MappingProxyType(dict(data.get("cutouts") or {})),
        )

    def _in_front(self, key: str, now: float) -> RecognitionResult | None:
        kept = self._front.get(key)
        if kept is None:
            return None
        result, expires_at = kept
        if expires_at <= now:
            del self._front[key]
            return None
        self._front.move_to_end(key)
        return result

    def _remember(self, keys: Sequence[str], result: RecognitionResult, expires_at: float) -> None:
        for key in keys:
            self._front[key] = (result, expires_at)
            self._front.move_to_end(key)
        while len(self._front) > FRONT_SIZE:
            self._front.popitem(last=False)

    async def _wait_for_other_process(self, key: str) -> tuple[RecognitionResult | None, bool]:
        """With replicas, one process makes the call: others poll for its result and take
        over if it ends without one, or once they have waited `wait_seconds` (so a lock
        left by a process that died cannot make them miss their own deadline).

        Returns (the other process's result, False), or (None, whether this process now
        holds the key) when this process is to make the call.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._wait_seconds
        while not await self._storage.claim_flight(key, self._lease_seconds):
            if loop.time() >= give_up:
                return None, False
            await asyncio.sleep(self._poll_seconds)
            cached = await self.get(key)
            if cached is not None:
                return cached, False
        self._renewing[key] = asyncio.create_task(self._renew(key))
        return None, True

    async def _renew(self, key: str) -> None:
        """Renew the claim on `key` every third of its lease until cancelled."""
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            try:
                if not await self._storage.renew_flight(key, self._lease_seconds):
                    logger.warning("a shared call's claim lapsed while it ran")
                    return
            except Exception as exc:
                logger.warning("renewing a shared call's claim failed: %s", type(exc).__name__)

    async def _end_flight(self, key: str) -> None:
        """Stop renewing the claim on `key` and release it."""
        renewing = self._renewing.pop(key, None)
        if renewing is not None:
            renewing.cancel()
        await self._storage.end_flight(key)

    async def put(self, keys: Sequence[str], result: RecognitionResult) -> None:
        """Keep `result` under every key for the TTL: at once in this process, in storage
        behind the caller (see `_write_behind`)."""
        await self._write_behind(keys, result, None)

    async def _write_behind(
        self, keys: Sequence[str], result: RecognitionResult, flight: str | None
    ) -> None:
        """Put `result` in the front now and write it to storage in a task of its own, then
        end the replicas' `flight` (if any): a reply need not wait for the write, and no
        caller falls between the two (this process reads the front; other replicas wait
        for the flight, which ends only after the write). Past `MAX_PENDING_WRITES` the
        caller waits for its own write."""
        now = self._clock()
        self._remember(keys, result, now + self._ttl)
        write = asyncio.create_task(self._write(keys, result, now, flight))
        if len(self._writes) >= MAX_PENDING_WRITES:
            await asyncio.shield(write)
            return
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)

    async def _write(
        self, keys: Sequence[str], result: RecognitionResult, now: float, flight: str | None
    ) -> None:
        raw = json.dumps(
            {
                "segments": dict(result.segments),
                "request_id": result.request_id,
                "cutouts": dict(result.cutouts),
            }
        )
        try:
            await self._storage.cache_result(keys, raw, now=now, expires_at=now + self._ttl)
        except Exception as exc:
            # The answer is already given and kept in this process; only other replicas
            # and a restart miss it.
            logger.warning("result cache write failed: %s", type(exc).__name__)
        if flight is None:
            return
        try:
            await self._end_flight(flight)
        except Exception as exc:
            # Other replicas wait for the claim to lapse (`lease_seconds`), then call.
            logger.warning("ending a shared call's claim failed: %s", type(exc).__name__)

    async def in_flight(self, key: str) -> RecognitionResult | None:
        """The result of this process's call for `key` when one is running (waited for),
        else None; None too when that call fails (the caller makes its own)."""
        flight = self._flights.get(key)
        if flight is None:
            return None
        try:
            return await asyncio.shield(flight)
        except Exception:
            return None

    async def drain(self) -> None:
        """Wait for the writes still running behind their replies (before closing storage)."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def shared(
        self,
        key: str,
        compute: Callable[[], Awaitable[RecognitionResult]],
        also: Sequence[str] = (),
    ) -> tuple[RecognitionResult, bool]:
        """The result for `key`: cached, joined from a call in flight, or computed once
        and cached under `key` and `also` before the flight ends, so no later caller
        can fall between the two (the storage write itself runs behind the reply).

        Returns (result, True) when no new call was made for this caller.
        """
        # A call for this key that ended while storage was read is in the front (it is
        # put there before its flight ends): without the second look the front was
        # checked before it ended and the flights after, and the image was sent again
        # (602 calls for 600 distinct images in one bench run of three).
        cached = await self.get(key) or self._in_front(key, self._clock())
        if cached is not None:
            return cached, True
        flight = self._flights.get(key)
        if flight is not None:
            return await asyncio.shield(flight), True
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            elsewhere, holding = await self._wait_for_other_process(key)
            if holding:
                # Read again once the key is ours: the replica that held it may have
                # stored its result and let go between our read and our claim, and the
                # image was paid twice (7 of 9 bursts of 400 photos on 4 replicas).
                try:
                    elsewhere = await self.get(key)
                except BaseException:
                    await asyncio.shield(self._end_flight(key))
                    raise
                if elsewhere is not None:
                    await asyncio.shield(self._end_flight(key))
            if elsewhere is not None:
                flight.set_result(elsewhere)
                return elsewhere, True
            try:
                result = await compute()
            except BaseException:
                if holding:
                    await asyncio.shield(self._end_flight(key))
                raise
            await self._write_behind([key, *also], result, flight=key if holding else None)
        except asyncio.CancelledError:
            flight.set_exception(
                RecognitionError(ErrorKind.TIMEOUT, detail="shared call was cancelled")
            )
            raise
        except BaseException as exc:
            flight.set_exception(exc)
            raise
        else:
            flight.set_result(result)
            return result, False
        finally:
            del self._flights[key]
            # Mark a failure as seen: with no follower waiting, asyncio would
            # otherwise warn that the exception was never retrieved.
            if flight.done() and not flight.cancelled():
                flight.exception()
