"""Storage that degrades instead of failing: every call has a timeout and a defined fallback.

`GuardedStorage` wraps either backend. A call that fails or takes longer than
`CALL_TIMEOUT` marks storage down (one WARNING) and gets its method's fallback; while
storage is down, every call falls back at once, so an outage costs no waiting, and a
background task pings the backend once a second: the first ping answered ends the
outage (one WARNING). Only a ping ends it: some calls succeed without touching storage
(SQLite's claims, its settings copy), so their success proves nothing; and the pings do
not wait for traffic, which a load balancer stops sending while /healthz says 503.

What the bot does while storage is down, method by method:
- chat settings: the last ones this process read, else the defaults (so a group that
  never asked for moderation stays silent); changing them is refused ("try again");
- quotas: counted in this process's memory, with the same limits. Chosen over refusing
  every photo because a storage blip would otherwise stop the bot's one job, and the
  cost stays bounded: at worst one extra day's allowance per process for an outage
  that lasts the whole day. Counts made during an outage are not written back;
- the result cache: every lookup misses and nothing is stored (each photo costs a call);
- calls in flight: this process takes them (with replicas, an image may then be paid
  twice); a call whose release failed is released when storage is back, so its
  image's next copy does not wait for the lock to lapse;
- the intake (`GuardedIntake`): an update that cannot be stored is handled at once by
  the process that received it (bot/tg/intake.py);
- daily counts and quota reports: `StorageUnavailable`; the stats keep their counts for
  the next flush, and a person who asked reads "try again in a minute".

Adding a `Storage` method: one method here that calls `_or` with its fallback, or
`_required` when there is none. mypy fails until it exists, since `BotService` uses this
class as its `Storage`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from bot import http_clients
from bot.health import Dependency
from bot.moderation import ChatSettings
from bot.storage import Backend
from bot.storage.intake import Backlog, Delivery, Intake, Received

logger = logging.getLogger(__name__)

T = TypeVar("T")

# SQLite answers in about a millisecond and Redis on a LAN in less: a call that takes
# 2 s is a hung backend, and 2 s is small against a photo's 90 s deadline.
CALL_TIMEOUT = 2.0
# While down, storage is pinged once a second.
PROBE_INTERVAL = 1.0
# Chat settings remembered for an outage, and flights waiting to be released after one.
REMEMBERED_CHATS = 10_000
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


class GuardedStorage:
    """A `Storage` around another one: timeouts, fallbacks and outage reporting."""

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
        self._settings: OrderedDict[int, ChatSettings] = OrderedDict()
        self._quota = _MemoryQuota()
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

    async def chat_settings(self, chat_id: int) -> ChatSettings:
        """The chat's settings; in an outage the last ones read, else the defaults."""
        settings = await self._or(
            "chat_settings",
            lambda: self._inner.chat_settings(chat_id),
            lambda: self._settings.get(chat_id, ChatSettings()),
        )
        self._remember(chat_id, settings)
        return settings

    async def update_chat_settings(
        self, chat_id: int, change: Callable[[ChatSettings], ChatSettings | None]
    ) -> ChatSettings:
        """Change the settings in storage; refused in an outage. An exception `change` raises
        is the caller's, not the backend's: it leaves the settings as they are and is raised
        again here, never taken for an outage (one person's typo once took storage "down"
        for every chat and turned /healthz 503)."""
        raised: list[Exception] = []

        def changing(current: ChatSettings) -> ChatSettings | None:
            try:
                return change(current)
            except Exception as exc:
                raised.append(exc)
                return None

        settings = await self._required(
            "update_chat_settings", lambda: self._inner.update_chat_settings(chat_id, changing)
        )
        if raised:
            raise raised[0]
        self._remember(chat_id, settings)
        return settings

    async def take_quota(
        self, day: str, charges: Sequence[tuple[str, int]], once: str | None = None
    ) -> str | None:
        """Count in storage; in an outage, in this process's memory."""
        return await self._or(
            "take_quota",
            lambda: self._inner.take_quota(day, charges, once),
            lambda: self._quota.take(day, charges),
        )

    async def refund_quota(
        self, day: str, subjects: Sequence[str], once: str | None = None
    ) -> None:
        """Give back in storage; in an outage, in memory."""
        await self._or(
            "refund_quota",
            lambda: self._inner.refund_quota(day, subjects, once),
            lambda: self._quota.refund(day, subjects),
        )

    async def quota_used(self, day: str, subject: str) -> int:
        """Uses counted in storage; unknown in an outage."""
        return await self._required("quota_used", lambda: self._inner.quota_used(day, subject))

    async def cached_result(self, key: str, now: float) -> str | None:
        """A cached result; a miss in an outage."""
        return await self._or(
            "cached_result", lambda: self._inner.cached_result(key, now), lambda: None
        )

    async def cache_result(
        self, keys: Sequence[str], result: str, *, now: float, expires_at: float
    ) -> None:
        """Cache a result; nothing in an outage."""
        await self._or(
            "cache_result",
            lambda: self._inner.cache_result(keys, result, now=now, expires_at=expires_at),
            lambda: None,
        )

    async def add_count(self, day: str, name: str, count: int) -> None:
        """Add to a daily counter; refused in an outage (the caller keeps the count)."""
        await self._required("add_count", lambda: self._inner.add_count(day, name, count))

    async def counts(self, day: str) -> dict[str, int]:
        """The day's counters; refused in an outage."""
        return await self._required("counts", lambda: self._inner.counts(day))

    async def claim_flight(self, key: str, seconds: float) -> bool:
        """Claim the call for `key`; this process's in an outage."""
        return await self._or(
            "claim_flight", lambda: self._inner.claim_flight(key, seconds), lambda: True
        )

    async def renew_flight(self, key: str, seconds: float) -> bool:
        """Renew the claim on `key`; in an outage this process keeps calling (the claim may
        lapse meanwhile, and another replica may then call too, which beats a wait)."""
        return await self._or(
            "renew_flight", lambda: self._inner.renew_flight(key, seconds), lambda: True
        )

    async def end_flight(self, key: str) -> None:
        """Release the call for `key`; in an outage, as soon as storage is back."""
        await self._or(
            "end_flight", lambda: self._inner.end_flight(key), lambda: self._release_later(key)
        )

    async def remember_image(
        self, chat_id: int, message_id: int, image_key: str, expires_at: float
    ) -> bool:
        """Note a message's image; in an outage every image counts as new (an edit may then
        be judged twice, which beats a swapped photo slipping through)."""
        return await self._or(
            "remember_image",
            lambda: self._inner.remember_image(chat_id, message_id, image_key, expires_at),
            lambda: True,
        )

    # Moderation state has no safe stand-in: without it the bot must not act (an allowed
    # image deleted, a warning lost, a press taken twice), so each of these is refused in
    # an outage; the moderator then leaves the photo alone and a press says "try again".
    async def allow_image(self, chat_id: int, keys: Sequence[str]) -> None:
        """Allow an image; refused in an outage."""
        await self._required("allow_image", lambda: self._inner.allow_image(chat_id, keys))

    async def is_allowed(self, chat_id: int, keys: Sequence[str]) -> bool:
        """Whether an image is allowed; refused in an outage."""
        return await self._required("is_allowed", lambda: self._inner.is_allowed(chat_id, keys))

    async def allowed_count(self, chat_id: int) -> int:
        """How many images a chat allows; refused in an outage."""
        return await self._required("allowed_count", lambda: self._inner.allowed_count(chat_id))

    async def reset_allowed(self, chat_id: int) -> None:
        """Empty a chat's allow list; refused in an outage."""
        await self._required("reset_allowed", lambda: self._inner.reset_allowed(chat_id))

    async def add_warning(self, chat_id: int, author_id: int, at: float, since: float) -> int:
        """Count a warning; refused in an outage."""
        return await self._required(
            "add_warning", lambda: self._inner.add_warning(chat_id, author_id, at, since)
        )

    async def remove_warning(self, chat_id: int, author_id: int, at: float) -> None:
        """Withdraw a warning; refused in an outage."""
        await self._required(
            "remove_warning", lambda: self._inner.remove_warning(chat_id, author_id, at)
        )

    async def warning_count(self, chat_id: int, author_id: int, since: float) -> int:
        """An author's warnings; refused in an outage."""
        return await self._required(
            "warning_count", lambda: self._inner.warning_count(chat_id, author_id, since)
        )

    async def reset_warnings(self, chat_id: int, author_id: int) -> None:
        """Forget an author's warnings; refused in an outage."""
        await self._required(
            "reset_warnings", lambda: self._inner.reset_warnings(chat_id, author_id)
        )

    async def save_report(self, report_id: str, report: str, expires_at: float) -> None:
        """Keep a report; refused in an outage."""
        await self._required(
            "save_report", lambda: self._inner.save_report(report_id, report, expires_at)
        )

    async def load_report(self, report_id: str, now: float) -> str | None:
        """A report; refused in an outage."""
        return await self._required("load_report", lambda: self._inner.load_report(report_id, now))

    async def claim_press(self, report_id: str, verb: str, record: str) -> str | None:
        """Claim a press; refused in an outage."""
        return await self._required(
            "claim_press", lambda: self._inner.claim_press(report_id, verb, record)
        )

    async def presses(self, report_id: str) -> dict[str, str]:
        """A report's presses; refused in an outage."""
        return await self._required("presses", lambda: self._inner.presses(report_id))

    async def release_press(self, report_id: str, verb: str) -> None:
        """Forget a press; refused in an outage."""
        await self._required("release_press", lambda: self._inner.release_press(report_id, verb))

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a group's state; refused in an outage."""
        await self._required(
            "migrate_chat", lambda: self._inner.migrate_chat(old_chat_id, new_chat_id)
        )

    # -- ModerationStore: each refused in an outage, like the moderation state above ---

    async def first_time(self, key: str, expires_at: float) -> bool:
        """Claim a once-only key; refused in an outage (the caller keeps its own memory)."""
        return await self._required("first_time", lambda: self._inner.first_time(key, expires_at))

    async def save_pending(self, pending_id: str, record: str, expires_at: float) -> None:
        """Keep a pending record; refused in an outage."""
        await self._required(
            "save_pending", lambda: self._inner.save_pending(pending_id, record, expires_at)
        )

    async def load_pending(self, pending_id: str, now: float) -> str | None:
        """A pending record; refused in an outage."""
        return await self._required(
            "load_pending", lambda: self._inner.load_pending(pending_id, now)
        )

    async def note_migration(self, old_chat_id: int, new_chat_id: int) -> None:
        """Remember a migration; refused in an outage."""
        await self._required(
            "note_migration", lambda: self._inner.note_migration(old_chat_id, new_chat_id)
        )

    async def migrated_to(self, chat_id: int) -> int | None:
        """Where a group went; refused in an outage."""
        return await self._required("migrated_to", lambda: self._inner.migrated_to(chat_id))

    async def ping(self) -> None:
        """Check the backend answers; `StorageUnavailable` if not."""
        await self._required("ping", self._inner.ping)

    async def close(self) -> None:
        """Stop pinging and close the backend; a failure to close is logged, not raised."""
        if self._pinging is not None:
            self._pinging.cancel()
        try:
            async with asyncio.timeout(self._timeout):
                await self._inner.close()
        except Exception as exc:
            logger.warning("storage did not close cleanly: %s", self._describe(exc))

    def _remember(self, chat_id: int, settings: ChatSettings) -> None:
        self._settings[chat_id] = settings
        self._settings.move_to_end(chat_id)
        if len(self._settings) > REMEMBERED_CHATS:
            self._settings.popitem(last=False)

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


class GuardedIntake:
    """The durable intake behind the same guard: one outage, one health, one timeout.
    Every call is required (there is no stand-in for a stored update): `receive` then
    hands the update straight to work, `take` waits (bot/tg/intake.py)."""

    def __init__(self, guard: GuardedStorage, inner: Intake) -> None:
        self._guard = guard
        self._inner = inner

    async def put(self, update_id: int, payload: str, *, max_backlog: int) -> Received:
        """Store an update; `StorageUnavailable` in an outage."""
        return await self._guard._required(
            "intake put", lambda: self._inner.put(update_id, payload, max_backlog=max_backlog)
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
        return await self._guard._required(
            "intake take",
            lambda: self._inner.take(
                consumer, count, lease, wait, often=often, often_after=often_after
            ),
        )

    async def renew(self, consumer: str, entries: Sequence[str], lease: float) -> None:
        """Renew leases; `StorageUnavailable` in an outage."""
        await self._guard._required(
            "intake renew", lambda: self._inner.renew(consumer, entries, lease)
        )

    async def done(self, entries: Sequence[str]) -> None:
        """Acknowledge; `StorageUnavailable` in an outage."""
        await self._guard._required("intake done", lambda: self._inner.done(entries))

    async def set_aside(self, delivery: Delivery, reason: str) -> None:
        """Set aside; `StorageUnavailable` in an outage."""
        await self._guard._required(
            "intake set_aside", lambda: self._inner.set_aside(delivery, reason)
        )

    async def backlog(self) -> Backlog:
        """The backlog; `StorageUnavailable` in an outage."""
        return await self._guard._required("intake backlog", self._inner.backlog)


class _MemoryQuota:
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
