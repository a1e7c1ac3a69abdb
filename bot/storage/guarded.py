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
from collections import OrderedDict
from collections.abc import Callable, Sequence

from bot.health import Dependency
from bot.moderation import ChatSettings
from bot.storage import Backend
from bot.storage.guard import CALL_TIMEOUT, PROBE_INTERVAL
from bot.storage.guarded_moderation import GuardedModeration

logger = logging.getLogger(__name__)

# Chat settings remembered for an outage.
REMEMBERED_CHATS = 10_000


class GuardedStorage(GuardedModeration):
    """A `Storage` around another one: timeouts, fallbacks and outage reporting."""

    def __init__(
        self,
        inner: Backend,
        health: Dependency,
        *,
        timeout: float = CALL_TIMEOUT,
        probe_interval: float = PROBE_INTERVAL,
    ) -> None:
        super().__init__(inner, health, timeout=timeout, probe_interval=probe_interval)
        self._settings: OrderedDict[int, ChatSettings] = OrderedDict()

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

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a group's state; refused in an outage."""
        await self._required(
            "migrate_chat", lambda: self._inner.migrate_chat(old_chat_id, new_chat_id)
        )

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
