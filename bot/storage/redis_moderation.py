"""Moderation's state in Redis: images per message, allow lists, warnings, reports and
their presses, and `ModerationStore`'s own (once-keys, pending confirmations, migrations)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import cast

from redis import asyncio as aioredis

from bot.storage.redis_keys import (
    DAY_SECONDS,
    PREFIX,
    allowed_images_key,
    allowed_key,
    pending_key,
    presses_key,
    report_key,
    warnings_key,
)

# A chat's warnings live as long as the newest one counts; reports a day past their expiry.
WARNING_KEEP_SECONDS = 31 * DAY_SECONDS
REPORT_KEEP_SECONDS = 8 * DAY_SECONDS
# Where a group went is needed while reports made before its migration can be pressed.
MIGRATION_KEEP_SECONDS = REPORT_KEEP_SECONDS


class RedisModeration:
    """Part of `RedisStorage`: its client is this class's too."""

    _redis: aioredis.Redis

    async def remember_image(
        self, chat_id: int, message_id: int, image_key: str, expires_at: float
    ) -> bool:
        """True if the message's image is new or swapped."""
        ttl = max(1, int(expires_at - time.time()))
        key = f"{PREFIX}msgimg:{chat_id}:{message_id}"
        previous = await self._redis.set(key, image_key, ex=ttl, get=True)
        return previous != image_key

    async def allow_image(self, chat_id: int, keys: Sequence[str]) -> None:
        """Put one image on the chat's allow list (counted by its first key)."""
        if not keys:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(allowed_key(chat_id), *keys)
            pipe.sadd(allowed_images_key(chat_id), keys[0])
            await pipe.execute()

    async def is_allowed(self, chat_id: int, keys: Sequence[str]) -> bool:
        """Whether any of the keys is allowed in the chat."""
        if not keys:
            return False
        found = await self._redis.smismember(allowed_key(chat_id), list(keys))
        return any(int(flag) for flag in found)

    async def allowed_count(self, chat_id: int) -> int:
        """How many images the chat allows."""
        return int(await self._redis.scard(allowed_images_key(chat_id)))

    async def reset_allowed(self, chat_id: int) -> None:
        """Empty the chat's allow list."""
        await self._redis.delete(allowed_key(chat_id), allowed_images_key(chat_id))

    async def add_warning(self, chat_id: int, author_id: int, at: float, since: float) -> int:
        """Count a warning; return the author's warnings since `since`."""
        key = warnings_key(chat_id)
        member = f"{author_id}:{at!r}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {member: at})
            pipe.zremrangebyscore(key, "-inf", f"({since!r}")
            pipe.expire(key, WARNING_KEEP_SECONDS)
            await pipe.execute()
        return await self.warning_count(chat_id, author_id, since)

    async def remove_warning(self, chat_id: int, author_id: int, at: float) -> None:
        """Withdraw the warning given at `at`."""
        await self._redis.zrem(warnings_key(chat_id), f"{author_id}:{at!r}")

    async def warning_count(self, chat_id: int, author_id: int, since: float) -> int:
        """The author's warnings since `since`."""
        scored = await self._redis.zrangebyscore(warnings_key(chat_id), since, "+inf")
        prefix = f"{author_id}:"
        return sum(1 for member in scored if str(member).startswith(prefix))

    async def reset_warnings(self, chat_id: int, author_id: int) -> None:
        """Forget the author's warnings in the chat."""
        key = warnings_key(chat_id)
        prefix = f"{author_id}:"
        members = [
            str(m) for m in await self._redis.zrange(key, 0, -1) if str(m).startswith(prefix)
        ]
        if members:
            await self._redis.zrem(key, *members)

    async def save_report(self, report_id: str, report: str, expires_at: float) -> None:
        """Keep a report until `expires_at` (Redis drops it a day later)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            key = report_key(report_id)
            pipe.hset(key, mapping={"report": report, "expires_at": repr(expires_at)})
            pipe.expire(key, max(1, int(expires_at - time.time())) + DAY_SECONDS)
            await pipe.execute()

    async def load_report(self, report_id: str, now: float) -> str | None:
        """The report unless unknown or expired."""
        raw = cast("dict[str, str]", await self._redis.hgetall(report_key(report_id)))
        if not raw or float(raw["expires_at"]) <= now:
            return None
        return raw["report"]

    async def claim_press(self, report_id: str, verb: str, record: str) -> str | None:
        """None if this press of `verb` is the first, else the first one's record."""
        key = presses_key(report_id)
        if await self._redis.hsetnx(key, verb, record):
            await self._redis.expire(key, REPORT_KEEP_SECONDS)
            return None
        earlier = await self._redis.hget(key, verb)
        return record if earlier is None else str(earlier)

    async def presses(self, report_id: str) -> dict[str, str]:
        """Every press on a report, by verb."""
        raw = cast("dict[str, str]", await self._redis.hgetall(presses_key(report_id)))
        return dict(raw)

    async def release_press(self, report_id: str, verb: str) -> None:
        """Forget a press that did not take effect."""
        await self._redis.hdel(presses_key(report_id), verb)

    async def first_time(self, key: str, expires_at: float) -> bool:
        """True once per key until it expires (SET NX with the expiry)."""
        seconds = max(1, int(expires_at - time.time()))
        return bool(await self._redis.set(f"{PREFIX}once:{key}", "1", nx=True, ex=seconds))

    async def save_pending(self, pending_id: str, record: str, expires_at: float) -> None:
        """Keep a pending record until `expires_at`."""
        seconds = max(1, int(expires_at - time.time()))
        await self._redis.set(pending_key(pending_id), record, ex=seconds)

    async def load_pending(self, pending_id: str, now: float) -> str | None:
        """The record unless unknown or expired (Redis expires it itself)."""
        raw = await self._redis.get(pending_key(pending_id))
        return None if raw is None else str(raw)

    async def note_migration(self, old_chat_id: int, new_chat_id: int) -> None:
        """Remember where a group went, as long as its reports can be pressed."""
        await self._redis.set(
            f"{PREFIX}migrated:{old_chat_id}", str(new_chat_id), ex=MIGRATION_KEEP_SECONDS
        )

    async def migrated_to(self, chat_id: int) -> int | None:
        """The supergroup a group became, if it did."""
        raw = await self._redis.get(f"{PREFIX}migrated:{chat_id}")
        return None if raw is None else int(raw)
