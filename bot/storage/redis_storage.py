"""`Storage` in Redis, for several replicas behind one load balancer: they share chat
settings, quotas, the result cache, calls in flight, which updates were taken, and the
moderation state (images per message, allow lists, warnings, reports and their presses)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Self, cast

from redis import asyncio as aioredis
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    NoPermissionError,
    RedisError,
    ResponseError,
    WatchError,
)

from bot.http import clients as http_clients
from bot.moderation import ChatSettings
from bot.storage import StorageOpenError, StorageUnreachable
from bot.storage.redis_intake import RedisIntake
from bot.storage.redis_keys import (
    DAY_SECONDS,
    PREFIX,
    allowed_images_key,
    allowed_key,
    cache_key,
    charge_key,
    quota_key,
    settings_key,
    warnings_key,
)
from bot.storage.redis_moderation import WARNING_KEEP_SECONDS, RedisModeration

# All-or-nothing quota: refuse if any subject is at its limit, else count one for each.
# The last key names the charge (ARGV[#ARGV] is '1' when it is used): a charge counted
# under that name before is not counted again (an update run again after a crash).
_TAKE_QUOTA = """
local named = ARGV[#ARGV] == '1'
local ttl = ARGV[#ARGV - 1]
local n = #KEYS - 1
if named and redis.call('EXISTS', KEYS[#KEYS]) == 1 then
    return 0
end
for i = 1, n do
    if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[i]) then
        return i
    end
end
for i = 1, n do
    redis.call('INCR', KEYS[i])
    redis.call('EXPIRE', KEYS[i], ttl)
end
if named then
    redis.call('SET', KEYS[#KEYS], '1', 'EX', ttl)
end
return 0
"""
_REFUND_QUOTA = """
for i = 1, #KEYS - 1 do
    if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then
        redis.call('DECR', KEYS[i])
    end
end
redis.call('DEL', KEYS[#KEYS])
return 0
"""


# A group's settings and allow list move to its supergroup id in one step.
_MIGRATE = """
local function move(from, to, kind)
    if redis.call('EXISTS', from) == 1 then
        if kind == 'string' then
            redis.call('SET', to, redis.call('GET', from), 'NX')
        elseif kind == 'set' then
            redis.call('SUNIONSTORE', to, to, from)
        end
        redis.call('DEL', from)
    end
end
move(KEYS[1], KEYS[2], 'string')
move(KEYS[3], KEYS[4], 'set')
move(KEYS[5], KEYS[6], 'set')
return 0
"""

# A call's claim is ended only by the replica that holds it: one whose claim lapsed
# while it was cut off (its release waits for the outage to end, bot/storage/guard.py)
# must not end the claim another replica has taken since, or a third would call too.
_END_FLIGHT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# A claim is renewed only by the replica that holds it.
_RENEW_FLIGHT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisStorage(RedisModeration):
    """`Storage` on a Redis server; every method is safe across processes."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client
        self._take = client.register_script(_TAKE_QUOTA)
        self._refund = client.register_script(_REFUND_QUOTA)
        self._migrate = client.register_script(_MIGRATE)
        self._end_flight = client.register_script(_END_FLIGHT)
        self._renew_flight = client.register_script(_RENEW_FLIGHT)
        # What this replica writes into the claims it holds.
        self._claimant = secrets.token_hex(8)
        self._intake: RedisIntake | None = None

    @classmethod
    async def open(cls, url: str) -> Self:
        """Connect to the Redis server at `url` and check that it answers; raise
        `StorageUnreachable` if it does not, `StorageOpenError` if it refuses us."""
        try:
            client = aioredis.from_url(
                url, socket_timeout=5, socket_connect_timeout=5, decode_responses=True
            )
        except ValueError:
            # The library's message may quote the URL, and with it the password.
            raise StorageOpenError(
                "is not a Redis URL: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], "
                "rediss://... or unix://PATH"
            ) from None
        try:
            await client.ping()
            storage = cls(client)
            await storage._check_rights()
            storage._intake = await RedisIntake.open(client)
        except BaseException as exc:
            await client.aclose()
            if isinstance(exc, NoPermissionError):
                raise StorageOpenError(f"the Redis user may not {exc}") from None
            if isinstance(exc, AuthenticationError | AuthorizationError | ResponseError):
                raise StorageOpenError(f"refused by the server: {exc}") from None
            if isinstance(exc, RedisError | OSError):
                cause = http_clients.cause(exc) or f"{type(exc).__name__}: {exc}"
                raise StorageUnreachable(cause) from None
            raise
        return storage

    async def _check_rights(self) -> None:
        """Run once each kind of command the bot needs, on keys of its own, so a Redis user
        without the rights (ACL) is refused at start instead of starting "up" and failing
        every photo: scripts (quotas, claims), streams (the intake), and the plain ones.
        Raises `NoPermissionError` naming the command refused."""
        probe = f"{PREFIX}probe:{self._claimant}"
        steps: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("run scripts (EVAL/EVALSHA)", lambda: self._end_flight(keys=[probe], args=["-"])),
            ("SET/GET/DEL", lambda: self._redis.set(probe, "1", ex=60)),
            (
                "use streams (XGROUP CREATE)",
                lambda: self._redis.xgroup_create(f"{probe}:s", "g", id="0", mkstream=True),
            ),
            ("use streams (XADD)", lambda: self._redis.xadd(f"{probe}:s", {"u": "0"})),
            (
                "use streams (XREADGROUP)",
                lambda: self._redis.xreadgroup("g", "c", {f"{probe}:s": ">"}, count=1),
            ),
            (
                "use streams (XCLAIM)",
                lambda: self._redis.xclaim(f"{probe}:s", "g", "c", 0, ["0-1"]),
            ),
            ("use streams (XACK)", lambda: self._redis.xack(f"{probe}:s", "g", "0-1")),
            (
                "use streams (XINFO CONSUMERS)",
                lambda: self._redis.xinfo_consumers(f"{probe}:s", "g"),
            ),
            (
                "use streams (XGROUP DELCONSUMER)",
                lambda: self._redis.xgroup_delconsumer(f"{probe}:s", "g", "c"),
            ),
            (
                "use streams (XPENDING)",
                lambda: self._redis.xpending_range(f"{probe}:s", "g", "-", "+", 1),
            ),
            ("SET/GET/DEL", lambda: self._redis.delete(probe, f"{probe}:s")),
        ]
        for what, step in steps:
            try:
                await step()
            except NoPermissionError as exc:
                raise NoPermissionError(f"{what}: {' '.join(str(exc).split())}") from None

    async def intake(self) -> RedisIntake:
        """The durable intake on this server (its stream and group made if missing)."""
        if self._intake is None:
            self._intake = await RedisIntake.open(self._redis)
        return self._intake

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

    async def ping(self) -> None:
        """PING the server."""
        await self._redis.ping()

    async def chat_settings(self, chat_id: int) -> ChatSettings:
        """The chat's settings, or the defaults."""
        raw = await self._redis.get(settings_key(chat_id))
        return ChatSettings.from_json(str(raw)) if raw else ChatSettings()

    async def update_chat_settings(
        self, chat_id: int, change: Callable[[ChatSettings], ChatSettings | None]
    ) -> ChatSettings:
        """Optimistic transaction: retried if another replica changed the chat meanwhile."""
        key = settings_key(chat_id)
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

    async def take_quota(
        self, day: str, charges: Sequence[tuple[str, int]], once: str | None = None
    ) -> str | None:
        """Count one use against each (subject, limit), all or none, once per `once`,
        atomically."""
        keys = [quota_key(day, subject) for subject, _ in charges] + [charge_key(day, once)]
        args = [limit for _, limit in charges] + [2 * DAY_SECONDS, 1 if once else 0]
        over = int(await self._take(keys=keys, args=args))
        return charges[over - 1][0] if over else None

    async def refund_quota(
        self, day: str, subjects: Sequence[str], once: str | None = None
    ) -> None:
        """Give back one use of each subject, and forget the charge's name."""
        keys = [quota_key(day, subject) for subject in subjects] + [charge_key(day, once)]
        await self._refund(keys=keys)

    async def quota_used(self, day: str, subject: str) -> int:
        """Uses of `subject` counted on `day`."""
        raw = await self._redis.get(quota_key(day, subject))
        return int(raw or 0)

    async def add_quota(self, day: str, uses: Mapping[str, int]) -> None:
        """INCRBY each subject (counted in memory during an outage)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for subject, count in uses.items():
                pipe.incrby(quota_key(day, subject), count)
                pipe.expire(quota_key(day, subject), 2 * DAY_SECONDS)
            await pipe.execute()

    async def reconnect(self) -> None:
        """Close every pooled connection: after a restart of the server they are dead,
        and each would fail one call (58 failed calls 1.4 s after a 'back')."""
        await self._redis.connection_pool.disconnect()

    async def cached_result(self, key: str, now: float) -> str | None:
        """The cached result under `key`; Redis expires entries itself."""
        raw = await self._redis.get(cache_key(key))
        return None if raw is None else str(raw)

    async def cache_result(
        self, keys: Sequence[str], result: str, *, now: float, expires_at: float
    ) -> None:
        """Cache `result` under every key until `expires_at`."""
        ttl = max(1, int(expires_at - now))
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(cache_key(key), result, ex=ttl)
            await pipe.execute()

    async def add_count(self, day: str, name: str, count: int) -> None:
        """Add `count` to the day's counter `name`."""
        key = f"{PREFIX}counts:{day}"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, name, count)
            pipe.expire(key, 8 * DAY_SECONDS)
            await pipe.execute()

    async def counts(self, day: str) -> dict[str, int]:
        """Every counter of `day`."""
        raw = cast("dict[str, str]", await self._redis.hgetall(f"{PREFIX}counts:{day}"))
        return {name: int(value) for name, value in raw.items()}

    async def claim_flight(self, key: str, seconds: float) -> bool:
        """True if this replica may make the API call for `key` (others wait for its result)."""
        return bool(
            await self._redis.set(
                f"{PREFIX}flight:{key}",
                self._claimant,
                nx=True,
                px=max(1, int(seconds * 1000)),
            )
        )

    async def renew_flight(self, key: str, seconds: float) -> bool:
        """Extend this replica's claim on `key`; False if it is no longer this replica's."""
        renewed = await self._renew_flight(
            keys=[f"{PREFIX}flight:{key}"], args=[self._claimant, max(1, int(seconds * 1000))]
        )
        return bool(renewed)

    async def end_flight(self, key: str) -> None:
        """Let others make the call for `key` (it failed, or its result is cached), if the
        claim is still this replica's."""
        await self._end_flight(keys=[f"{PREFIX}flight:{key}"], args=[self._claimant])

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move the group's settings, allow list and warnings to its new id."""
        await self._migrate(
            keys=[
                settings_key(old_chat_id),
                settings_key(new_chat_id),
                allowed_key(old_chat_id),
                allowed_key(new_chat_id),
                allowed_images_key(old_chat_id),
                allowed_images_key(new_chat_id),
            ]
        )
        old, new = warnings_key(old_chat_id), warnings_key(new_chat_id)
        if await self._redis.exists(old):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zunionstore(new, [new, old], aggregate="MAX")
                pipe.delete(old)
                pipe.expire(new, WARNING_KEEP_SECONDS)
                await pipe.execute()

    # -- ModerationStore -------------------------------------------------------------
