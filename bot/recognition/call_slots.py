"""Slots for the API's calls under the adaptive limit (bot/recognition/limiter.py): handed
out first come first served, retries first, each finished call fed back into the limit."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from time import monotonic

from bot.recognition.limiter import AimdLimit, AimdRules, Signal

# A slot as handed over: the limit's epoch and the calls in flight, itself included.
_Grant = tuple[int, int]


@dataclass
class Permit:
    """One slot. Set `signal` before leaving the `slot()` block; left alone, the call
    counts as NEUTRAL (so a cancelled call neither grows nor cuts)."""

    epoch: int
    # Other calls were in flight when this one started or ended: a refusal may be our
    # own overshoot, which the limiter corrects, rather than the API's limit on one call.
    crowded: bool
    _on_sent: Callable[[], None] = field(repr=False)
    signal: Signal = Signal.NEUTRAL
    # Whether `sent` was called: the API has the whole request.
    delivered: bool = False

    def sent(self) -> None:
        """The request has been handed to the connection whole: until the answer, the
        call is the API's, no longer waiting on our side (connecting, encoding, or for
        our own event loop)."""
        if not self.delivered:
            self.delivered = True
            self._on_sent()


class AdaptiveLimiter:
    """Slots under an `AimdLimit`, handed out in arrival order, retries first.

    A retry has already waited its turn once; sent to the back of a queue that a
    burst made long, its person would wait twice. Waiting is plain asyncio
    cancellation: wrap `slot()` in `asyncio.timeout` (or a caller's `timeout_at`)
    to bound it. A cancelled waiter leaves the queue, and a slot handed to a waiter
    at the moment it was cancelled passes to the next one.
    """

    def __init__(
        self,
        ceiling: int,
        rules: AimdRules | None = None,
        *,
        on_change: Callable[[int], object] | None = None,
    ) -> None:
        self._aimd = AimdLimit(ceiling, rules)
        self._in_flight = 0
        # Of those, the calls whose request the API has whole (`Permit.sent`).
        self._at_api = 0
        self._retries: deque[asyncio.Future[_Grant]] = deque()
        self._firsts: deque[asyncio.Future[_Grant]] = deque()
        self._on_change = on_change
        if on_change is not None:
            on_change(self._aimd.limit)

    @property
    def limit(self) -> int:
        """Calls allowed in flight now."""
        return self._aimd.limit

    @property
    def in_flight(self) -> int:
        """Slots held now (may exceed `limit` just after a cut)."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Callers queued for a slot."""
        return len(self._retries) + len(self._firsts)

    @contextlib.asynccontextmanager
    async def slot(self, *, retry: bool = False) -> AsyncIterator[Permit]:
        """Hold one slot for the block; the permit's `signal` feeds the limit on exit.
        A `retry` waits ahead of first attempts."""
        epoch, started_with = await self._acquire(self._retries if retry else self._firsts)
        permit = Permit(epoch, crowded=self._in_flight > 1, _on_sent=self._sent)
        started = monotonic()
        try:
            yield permit
        finally:
            permit.crowded = permit.crowded or self._in_flight > 1
            before = self._aimd.limit
            self._aimd.record(
                permit.signal,
                epoch=permit.epoch,
                latency=monotonic() - started,
                in_flight=self._in_flight,
                # An answer says the API had the call, sent whole or not (a server
                # may answer before it has read a request).
                at_api=self._at_api + (not permit.delivered),
                started_with=started_with,
            )
            self._in_flight -= 1
            self._at_api -= permit.delivered
            if self._on_change is not None and self._aimd.limit != before:
                self._on_change(self._aimd.limit)
            self._wake()

    def _sent(self) -> None:
        self._at_api += 1

    async def _acquire(self, queue: deque[asyncio.Future[_Grant]]) -> _Grant:
        if not self.waiting and self._in_flight < self._aimd.limit:
            self._in_flight += 1
            return self._grant()
        waiter: asyncio.Future[_Grant] = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():
                # `_wake` may already have dropped it from the queue.
                with contextlib.suppress(ValueError):
                    queue.remove(waiter)
            else:
                # The slot arrived together with the cancellation: pass it on.
                self._in_flight -= 1
                self._wake()
            raise

    def _wake(self) -> None:
        while self.waiting and self._in_flight < self._aimd.limit:
            waiter = (self._retries or self._firsts).popleft()
            if not waiter.done():
                self._in_flight += 1
                waiter.set_result(self._grant())

    def _grant(self) -> _Grant:
        # Taken as the slot is handed over, not when its waiter runs: a cut or a
        # step back in between must not file the call under the new epoch.
        return self._aimd.epoch, self._in_flight
