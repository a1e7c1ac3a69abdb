"""Recognition results kept for a while, and identical images in flight sharing one call."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from types import MappingProxyType

from bot.recognizer import ErrorKind, RecognitionError
from bot.results import RecognitionResult
from bot.storage import Storage


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
        storage: Storage,
        ttl: float,
        clock: Callable[[], float] = time.time,
        *,
        flight_seconds: float = 120.0,
        wait_seconds: float | None = None,
        poll_seconds: float = 0.1,
    ) -> None:
        """`flight_seconds`: the longest a call can take, after which its key is free even
        if its holder never released it; `wait_seconds`: how long another process's call
        is waited for before this one makes its own (default: `flight_seconds`)."""
        self._storage = storage
        self._ttl = ttl
        self._flight_seconds = flight_seconds
        self._wait_seconds = flight_seconds if wait_seconds is None else wait_seconds
        self._poll_seconds = poll_seconds
        self._clock = clock
        # Bounded by the number of photos in flight: an entry lives for one call.
        self._flights: dict[str, asyncio.Future[RecognitionResult]] = {}

    async def get(self, key: str) -> RecognitionResult | None:
        """The cached result for `key`, if fresh."""
        raw = await self._storage.cached_result(key, self._clock())
        if raw is None:
            return None
        data = json.loads(raw)
        return RecognitionResult(MappingProxyType(dict(data["segments"])), data["request_id"])

    async def _wait_for_other_process(self, key: str) -> tuple[RecognitionResult | None, bool]:
        """With replicas, one process makes the call: others poll for its result and take
        over if it ends without one, or once they have waited `wait_seconds` (so a lock
        left by a process that died cannot make them miss their own deadline).

        Returns (the other process's result, False), or (None, whether this process now
        holds the key) when this process is to make the call.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._wait_seconds
        while not await self._storage.claim_flight(key, self._flight_seconds):
            if loop.time() >= give_up:
                return None, False
            await asyncio.sleep(self._poll_seconds)
            cached = await self.get(key)
            if cached is not None:
                return cached, False
        return None, True

    async def put(self, keys: Sequence[str], result: RecognitionResult) -> None:
        """Keep `result` under every key for the TTL."""
        raw = json.dumps({"segments": dict(result.segments), "request_id": result.request_id})
        now = self._clock()
        await self._storage.cache_result(keys, raw, now=now, expires_at=now + self._ttl)

    async def shared(
        self,
        key: str,
        compute: Callable[[], Awaitable[RecognitionResult]],
        also: Sequence[str] = (),
    ) -> tuple[RecognitionResult, bool]:
        """The result for `key`: cached, joined from a call in flight, or computed once
        and cached under `key` and `also` before the flight ends, so no later caller
        can fall between the two.

        Returns (result, True) when no new call was made for this caller.
        """
        cached = await self.get(key)
        if cached is not None:
            return cached, True
        flight = self._flights.get(key)
        if flight is not None:
            return await asyncio.shield(flight), True
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            elsewhere, holding = await self._wait_for_other_process(key)
            if elsewhere is not None:
                flight.set_result(elsewhere)
                return elsewhere, True
            try:
                result = await compute()
                await self.put([key, *also], result)
            finally:
                if holding:
                    await asyncio.shield(self._storage.end_flight(key))
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
