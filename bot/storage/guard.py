"""The outage machinery under `GuardedStorage` (bot/storage/guarded.py) and
`GuardedIntake`: a timeout on every call, one outage noted once, a ping until storage is
back, and what is owed to it then (quota counted in memory, calls in flight to release)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bot.health import Dependency
from bot.http import clients as http_clients
from bot.storage import Backend
from bot.storage.intake import Backlog, Delivery, Intake, Received

logger = logging.getLogger(__name__)

T = TypeVar("T")

# SQLite answers in about a millisecond and Redis on a LAN in less: a call that takes
# 2 s is a hung backend, and 2 s is small against a photo's 90 s deadline.
CALL_TIMEOUT = 2.0
# While down, storage is pinged once a second.
PROBE_INTERVAL = 1.0
# Flights waiting to be released after an outage.
UNRELEASED_FLIGHTS = 1_000


class StorageUnavailable(Exception):
    """Storage cannot be reached and the operation has no fallback."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"storage unavailable for {operation}")
        self.operation = operation


class StorageRefused(StorageUnavailable):
    """Storage works but refused this call's value: the caller gets the fallback (or this
    error), and nothing is marked down."""

    def __init__(self, operation: str) -> None:
        super().__init__(operation)
        self.args = (f"storage refused a value for {operation}",)


class Guard:
    """Calls to a backend under a timeout, each `_required` or with a fallback (`_or`);
    the backend's health noted from them."""

    def __init__(
        self,
        inner: Backend,
        health: Dependency,
        *,
        timeout: float = CALL_TIMEOUT,
        probe_interval: float = PROBE_INTERVAL,
    ) -> None:
        self._inner = inner
        self._health = health
        self._timeout = timeout
        self._probe_interval = probe_interval
        self._pinging: asyncio.Task[None] | None = None
        self._quota = MemoryQuota()
        self._unreleased: OrderedDict[str, None] = OrderedDict()

    async def _required(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call`'s result; `StorageUnavailable` if storage is down, fails or times out."""
        if self._health.down:
            raise StorageUnavailable(operation)
        try:
            async with asyncio.timeout(self._timeout):
                result = await call()
        except (OverflowError, sqlite3.IntegrityError) as exc:
            # One bad value (a chat id of -2**70 does not fit SQLite's 64 bits, a
            # constraint) is that update's problem: storage is fine. Counted as an outage,
            # it turned /healthz 503 for every update.
            logger.warning("storage refused a value in %s: %s", operation, self._describe(exc))
            raise StorageRefused(operation) from exc
        # Each backend fails its own way (OSError, TimeoutError, sqlite3.Error, redis's
        # RedisError, aiosqlite's ValueError on a closed connection): all mean no storage.
        except Exception as exc:
            self._health.failed(f"{operation}: {self._describe(exc)}")
            if self._pinging is None or self._pinging.done():
                self._pinging = asyncio.create_task(self._ping_until_back())
            raise StorageUnavailable(operation) from exc
        if not self._health.down:  # a call begun before the outage proves nothing
            self._health.succeeded()
        return result

    async def _ping_until_back(self) -> None:
        """In an outage: ping once per interval; end it once a ping on fresh connections
        answers and the quota counted in memory is written."""
        while True:
            await asyncio.sleep(self._probe_interval)
            try:
                async with asyncio.timeout(self._timeout):
                    # Fresh connections first: after a restart of Redis the pooled ones
                    # are dead, and "back" was followed by 58 failed calls 1.4 s later.
                    await self._inner.reconnect()
                    await self._inner.ping()
                    # Then what was counted in memory, so the limits hold across
                    # replicas again (20 people with a limit of 4 got 6 checks each).
                    await self._write_back_quota()
            except Exception as exc:
                self._health.failed(f"ping: {self._describe(exc)}")
                continue
            # Released before the outage is declared over: "back" then means the calls
            # it left locked are free again, which is what a replica reading the health
            # (or a test) takes it to mean.
            await self._release_unreleased()
            self._health.succeeded()
            # Nothing is counted in memory once the outage is over; a charge counted
            # while the lines above ran is written now (a failure: at the next outage).
            try:
                async with asyncio.timeout(self._timeout):
                    await self._write_back_quota()
            except Exception as exc:
                logger.warning("quota counted in an outage not written: %s", self._describe(exc))
            return

    async def _write_back_quota(self) -> None:
        """Add the uses counted in memory to storage; kept for the next try if it fails."""
        day, uses = self._quota.unwritten()
        if not uses:
            return
        try:
            await self._inner.add_quota(day, uses)
        except BaseException:
            self._quota.unwrite(day, uses)
            raise
        logger.info(
            "quota counted in memory during the outage written: %d uses", sum(uses.values())
        )

    async def _or(
        self, operation: str, call: Callable[[], Awaitable[T]], fallback: Callable[[], T]
    ) -> T:
        """`call`'s result, or `fallback()`'s when storage is unavailable."""
        try:
            return await self._required(operation, call)
        except StorageUnavailable:
            return fallback()

    def _release_later(self, key: str) -> None:
        self._unreleased[key] = None
        if len(self._unreleased) > UNRELEASED_FLIGHTS:
            self._unreleased.popitem(last=False)  # its lock expires by itself

    async def _release_unreleased(self) -> None:
        """Release the calls whose release failed in the outage that just ended."""
        while self._unreleased:
            key = next(iter(self._unreleased))
            try:
                async with asyncio.timeout(self._timeout):
                    await self._inner.end_flight(key)
            except Exception as exc:
                logger.warning("could not release a call in flight: %s", self._describe(exc))
                return
            del self._unreleased[key]

    def _describe(self, exc: BaseException) -> str:
        """One line: the exception's type and message (a timeout has no message), or the
        network's cause (DNS, refused, TLS) named as such."""
        if isinstance(exc, TimeoutError) and not str(exc):
            return f"no answer within {self._timeout:g} s"
        return http_clients.cause(exc) or f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True, eq=False)
class GuardedIntake:
    """The durable intake behind the same guard: one outage, one health, one timeout.
    Every call is required (there is no stand-in for a stored update): `receive` then
    hands the update straight to work, `take` waits (bot/tg/intake.py)."""

    guard: Guard
    inner: Intake

    async def put(self, update_id: int, payload: str, *, max_backlog: int) -> Received:
        """Store an update; `StorageUnavailable` in an outage."""
        return await self.guard._required(
            "intake put", lambda: self.inner.put(update_id, payload, max_backlog=max_backlog)
        )

    async def take(
        self,
        consumer: str,
        count: int,
        lease: float,
        wait: float = 0.0,
        *,
        often: int = 0,
        often_after: int | None = None,
    ) -> list[Delivery]:
        """Lease updates; `StorageUnavailable` in an outage."""
        return await self.guard._required(
            "intake take",
            lambda: self.inner.take(
                consumer, count, lease, wait, often=often, often_after=often_after
            ),
        )

    async def renew(self, consumer: str, entries: Sequence[str], lease: float) -> None:
        """Renew leases; `StorageUnavailable` in an outage."""
        await self.guard._required(
            "intake renew", lambda: self.inner.renew(consumer, entries, lease)
        )

    async def done(self, entries: Sequence[str]) -> None:
        """Acknowledge; `StorageUnavailable` in an outage."""
        await self.guard._required("intake done", lambda: self.inner.done(entries))

    async def set_aside(self, delivery: Delivery, reason: str) -> None:
        """Set aside; `StorageUnavailable` in an outage."""
        await self.guard._required(
            "intake set_aside", lambda: self.inner.set_aside(delivery, reason)
        )

    async def backlog(self) -> Backlog:
        """The backlog; `StorageUnavailable` in an outage."""
        return await self.guard._required("intake backlog", self.inner.backlog)


class MemoryQuota:
    """Quota counted in this process while storage is down; see the module docstring.
    `unwritten` hands what was counted since the last write to storage once it is back."""

    def __init__(self) -> None:
        self._day = ""
        self._used: Counter[str] = Counter()
        self._unwritten: Counter[str] = Counter()

    def take(self, day: str, charges: Sequence[tuple[str, int]]) -> str | None:
        """Count one use of each (subject, limit), all or none; the first subject at its
        limit, or None."""
        if day != self._day:
            self._day, self._used, self._unwritten = day, Counter(), Counter()
        for subject, limit in charges:
            if self._used[subject] >= limit:
                return subject
        self._used.update(subject for subject, _ in charges)
        self._unwritten.update(subject for subject, _ in charges)
        return None

    def refund(self, day: str, subjects: Sequence[str]) -> None:
        """Give back one use of each subject counted here today."""
        if day == self._day:
            for subject in subjects:
                self._used[subject] = max(0, self._used[subject] - 1)
                self._unwritten[subject] -= 1

    def unwritten(self) -> tuple[str, dict[str, int]]:
        """The day and the uses counted since the last call (net of refunds), forgotten
        here: the caller writes them."""
        uses = {subject: count for subject, count in self._unwritten.items() if count > 0}
        self._unwritten = Counter()
        return self._day, uses

    def unwrite(self, day: str, uses: dict[str, int]) -> None:
        """Take back uses whose write failed, to be written next time."""
        if day == self._day:
            self._unwritten.update(uses)
