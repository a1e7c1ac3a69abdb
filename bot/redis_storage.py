"""`Storage` in Redis, for several replicas behind one load balancer: they share chat
settings, quotas, the result cache, calls in flight and which updates were taken."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Self, cast

from redis import asyncio as aioredis
from redis.exceptions import WatchError

from bot.moderation import ChatSettings

_PREFIX = "segment-bot:"
_DAY_SECONDS = 24 * 3600
_UPDATE_SECONDS = 24 * 3600  # Telegram keeps undelivered updates for 24 h
# All-or-nothing quota: refuse if any subject is at its limit, else count one for each.
_TAKE_QUOTA = """
for i, key in ipairs(KEYS) do
    if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i]) then
        return i
    end
end
for _, key in ipairs(KEYS) do
    redis.call('INCR', key)
    redis.call('EXPIRE', key, ARGV[#ARGV])
end
return 0
"""
_REFUND_QUOTA = """
for _, key in ipairs(KEYS) do
    if tonumber(redis.call('GET', key) or '0') > 0 then
        redis.call('DECR', key)
    end
end
return 0
"""


class RedisStorage:
    """`Storage` on a Redis server; every method is safe across processes."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client
        self._take = client.register_script(_TAKE_QUOTA)
        self._refund = client.register_script(_REFUND_QUOTA)

    @classmethod
    async def open(cls, url: str) -> Self:
        """Connect to the Redis server at `url` and check that it answers."""
        client = aioredis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, decode_responses=True
        )
        await client.ping()
        return cls(client)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

    async def ping(self) -> None:
        """PING the server."""
        await self._redis.ping()

    async def chat_settings(self, chat_id: int) -> ChatSettings:
        """The chat's settings, or the defaults."""
        raw = await self._redis.get(_settings_key(chat_id))
        return ChatSettings.from_json(str(raw)) if raw else ChatSettings()

    async def update_chat_settings(
        self, chat_id: int, change: Callable[[ChatSettings], ChatSettings | None]
    ) -> ChatSettings:
        """Optimistic transaction: retried if another replica changed the chat meanwhile."""
        key = _settings_key(chat_id)
        async with self._redis.pipeline() as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    current = ChatSettings.from_json(str(raw)) if raw else ChatSettings()
                    changed = change(current)
                    if changed is None or changed == current:
                        await pipe.unwatch()  # type: ignore[no-untyped-call]
                        return current
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, changed.to_json())
                    await pipe.execute()
                    return changed
                except WatchError:
                    continue

    async def take_quota(self, day: str, charges: Sequence[tuple[str, int]]) -> str | None:
        """Count one use against each (subject, limit), all or none, atomically."""
        keys = [_quota_key(day, subject) for subject, _ in charges]
        args = [limit for _, limit in charges] + [2 * _DAY_SECONDS]
        over = int(await self._take(keys=keys, args=args))
        return charges[over - 1][0] if over else None

    async def refund_quota(self, day: str, subjects: Sequence[str]) -> None:
        """Give back one use of each subject."""
        await self._refund(keys=[_quota_key(day, subject) for subject in subjects])

    async def quota_used(self, day: str, subject: str) -> int:
        """Uses of `subject` counted on `day`."""
        raw = await self._redis.get(_quota_key(day, subject))
        return int(raw or 0)

    async def cached_result(self, key: str, now: float) -> str | None:
        """The cached result under `key`; Redis expires entries itself."""
        raw = await self._redis.get(_cache_key(key))
        return None if raw is None else str(raw)

    async def cache_result(
        self, keys: Sequence[str], result: str, *, now: float, expires_at: float
    ) -> None:
        """Cache `result` under every key until `expires_at`."""
        ttl = max(1, int(expires_at - now))
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(_cache_key(key), result, ex=ttl)
            await pipe.execute()

    async def add_count(self, day: str, name: str, count: int) -> None:
        """Add `count` to the day's counter `name`."""
        key = f"{_PREFIX}counts:{day}"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, name, count)
            pipe.expire(key, 8 * _DAY_SECONDS)
            await pipe.execute()

    async def counts(self, day: str) -> dict[str, int]:
        """Every counter of `day`."""
        raw = cast("dict[str, str]", await self._redis.hgetall(f"{_PREFIX}counts:{day}"))
        return {name: int(value) for name, value in raw.items()}

    async def claim_update(self, update_id: int) -> bool:
        """True for the one replica that takes this update first."""
        return bool(
            await self._redis.set(f"{_PREFIX}update:{update_id}", 1, nx=True, ex=_UPDATE_SECONDS)
        )

    async def claim_flight(self, key: str, seconds: float) -> bool:
        """True if this replica may make the API call for `key` (others wait for its result)."""
        return bool(
            await self._redis.set(
                f"{_PREFIX}flight:{key}", 1, nx=True, px=max(1, int(seconds * 1000))
            )
        )

    async def end_flight(self, key: str) -> None:
        """Let others make the call for `key` (it failed, or its result is cached)."""
        await self._redis.delete(f"{_PREFIX}flight:{key}")


def _settings_key(chat_id: int) -> str:
    return f"{_PREFIX}settings:{chat_id}"


def _quota_key(day: str, subject: str) -> str:
    return f"{_PREFIX}quota:{day}:{subject}"


def _cache_key(key: str) -> str:
    return f"{_PREFIX}cache:{key}"
