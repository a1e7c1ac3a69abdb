"""`Storage` in Redis, for several replicas behind one load balancer: they share chat
settings, quotas, the result cache, calls in flight, which updates were taken, and the
moderation state (images per message, allow lists, warnings, reports and their presses)."""

from __future__ import annotations

import secrets
import time
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

from bot import http_clients
from bot.moderation import ChatSettings
from bot.storage import StorageOpenError, StorageUnreachable
from bot.storage.redis_intake import RedisIntake

_PREFIX = "segment-bot:"
_DAY_SECONDS = 24 * 3600
# A chat's warnings live as long as the newest one counts; reports a day past their expiry.
_WARNING_KEEP_SECONDS = 31 * _DAY_SECONDS
_REPORT_KEEP_SECONDS = 8 * _DAY_SECONDS
# Where a group went is needed while reports made before its migration can be pressed.
_MIGRATION_KEEP_SECONDS = _REPORT_KEEP_SECONDS
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
# while it was cut off (its release waits for the outage to end, guarded_storage.py)
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


class RedisStorage:
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
        probe = f"{_PREFIX}probe:{self._claimant}"
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

    async def take_quota(
        self, day: str, charges: Sequence[tuple[str, int]], once: str | None = None
    ) -> str | None:
        """Count one use against each (subject, limit), all or none, once per `once`,
        atomically."""
        keys = [_quota_key(day, subject) for subject, _ in charges] + [_charge_key(day, once)]
        args = [limit for _, limit in charges] + [2 * _DAY_SECONDS, 1 if once else 0]
        over = int(await self._take(keys=keys, args=args))
        return charges[over - 1][0] if over else None

    async def refund_quota(
        self, day: str, subjects: Sequence[str], once: str | None = None
    ) -> None:
        """Give back one use of each subject, and forget the charge's name."""
        keys = [_quota_key(day, subject) for subject in subjects] + [_charge_key(day, once)]
        await self._refund(keys=keys)

    async def quota_used(self, day: str, subject: str) -> int:
        """Uses of `subject` counted on `day`."""
        raw = await self._redis.get(_quota_key(day, subject))
        return int(raw or 0)

    async def add_quota(self, day: str, uses: Mapping[str, int]) -> None:
        """INCRBY each subject (counted in memory during an outage)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for subject, count in uses.items():
                pipe.incrby(_quota_key(day, subject), count)
                pipe.expire(_quota_key(day, subject), 2 * _DAY_SECONDS)
            await pipe.execute()

    async def reconnect(self) -> None:
        """Close every pooled connection: after a restart of the server they are dead,
        and each would fail one call (58 failed calls 1.4 s after a 'back')."""
        await self._redis.connection_pool.disconnect()

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

    async def claim_flight(self, key: str, seconds: float) -> bool:
        """True if this replica may make the API call for `key` (others wait for its result)."""
        return bool(
            await self._redis.set(
                f"{_PREFIX}flight:{key}",
                self._claimant,
                nx=True,
                px=max(1, int(seconds * 1000)),
            )
        )

    async def renew_flight(self, key: str, seconds: float) -> bool:
        """Extend this replica's claim on `key`; False if it is no longer this replica's."""
        renewed = await self._renew_flight(
            keys=[f"{_PREFIX}flight:{key}"], args=[self._claimant, max(1, int(seconds * 1000))]
        )
        return bool(renewed)

    async def end_flight(self, key: str) -> None:
        """Let others make the call for `key` (it failed, or its result is cached), if the
        claim is still this replica's."""
        await self._end_flight(keys=[f"{_PREFIX}flight:{key}"], args=[self._claimant])

    async def remember_image(
        self, chat_id: int, message_id: int, image_key: str, expires_at: float
    ) -> bool:
        """True if the message's image is new or swapped."""
        ttl = max(1, int(expires_at - time.time()))
        key = f"{_PREFIX}msgimg:{chat_id}:{message_id}"
        previous = await self._redis.set(key, image_key, ex=ttl, get=True)
        return previous != image_key

    async def allow_image(self, chat_id: int, keys: Sequence[str]) -> None:
        """Put one image on the chat's allow list (counted by its first key)."""
        if not keys:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(_allowed_key(chat_id), *keys)
            pipe.sadd(_allowed_images_key(chat_id), keys[0])
            await pipe.execute()

    async def is_allowed(self, chat_id: int, keys: Sequence[str]) -> bool:
        """Whether any of the keys is allowed in the chat."""
        if not keys:
            return False
        found = await self._redis.smismember(_allowed_key(chat_id), list(keys))
        return any(int(flag) for flag in found)

    async def allowed_count(self, chat_id: int) -> int:
        """How many images the chat allows."""
        return int(await self._redis.scard(_allowed_images_key(chat_id)))

    async def reset_allowed(self, chat_id: int) -> None:
        """Empty the chat's allow list."""
        await self._redis.delete(_allowed_key(chat_id), _allowed_images_key(chat_id))

    async def add_warning(self, chat_id: int, author_id: int, at: float, since: float) -> int:
        """Count a warning; return the author's warnings since `since`."""
        key = _warnings_key(chat_id)
        member = f"{author_id}:{at!r}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {member: at})
            pipe.zremrangebyscore(key, "-inf", f"({since!r}")
            pipe.expire(key, _WARNING_KEEP_SECONDS)
            await pipe.execute()
        return await self.warning_count(chat_id, author_id, since)

    async def remove_warning(self, chat_id: int, author_id: int, at: float) -> None:
        """Withdraw the warning given at `at`."""
        await self._redis.zrem(_warnings_key(chat_id), f"{author_id}:{at!r}")

    async def warning_count(self, chat_id: int, author_id: int, since: float) -> int:
        """The author's warnings since `since`."""
        scored = await self._redis.zrangebyscore(_warnings_key(chat_id), since, "+inf")
        prefix = f"{author_id}:"
        return sum(1 for member in scored if str(member).startswith(prefix))

    async def reset_warnings(self, chat_id: int, author_id: int) -> None:
        """Forget the author's warnings in the chat."""
        key = _warnings_key(chat_id)
        prefix = f"{author_id}:"
        members = [
            str(m) for m in await self._redis.zrange(key, 0, -1) if str(m).startswith(prefix)
        ]
        if members:
            await self._redis.zrem(key, *members)

    async def save_report(self, report_id: str, report: str, expires_at: float) -> None:
        """Keep a report until `expires_at` (Redis drops it a day later)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            key = _report_key(report_id)
            pipe.hset(key, mapping={"report": report, "expires_at": repr(expires_at)})
            pipe.expire(key, max(1, int(expires_at - time.time())) + _DAY_SECONDS)
            await pipe.execute()

    async def load_report(self, report_id: str, now: float) -> str | None:
        """The report unless unknown or expired."""
        raw = cast("dict[str, str]", await self._redis.hgetall(_report_key(report_id)))
        if not raw or float(raw["expires_at"]) <= now:
            return None
        return raw["report"]

    async def claim_press(self, report_id: str, verb: str, record: str) -> str | None:
        """None if this press of `verb` is the first, else the first one's record."""
        key = _presses_key(report_id)
        if await self._redis.hsetnx(key, verb, record):
            await self._redis.expire(key, _REPORT_KEEP_SECONDS)
            return None
        earlier = await self._redis.hget(key, verb)
        return record if earlier is None else str(earlier)

    async def presses(self, report_id: str) -> dict[str, str]:
        """Every press on a report, by verb."""
        raw = cast("dict[str, str]", await self._redis.hgetall(_presses_key(report_id)))
        return dict(raw)

    async def release_press(self, report_id: str, verb: str) -> None:
        """Forget a press that did not take effect."""
        await self._redis.hdel(_presses_key(report_id), verb)

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move the group's settings, allow list and warnings to its new id."""
        await self._migrate(
            keys=[
                _settings_key(old_chat_id),
                _settings_key(new_chat_id),
                _allowed_key(old_chat_id),
                _allowed_key(new_chat_id),
                _allowed_images_key(old_chat_id),
                _allowed_images_key(new_chat_id),
            ]
        )
        old, new = _warnings_key(old_chat_id), _warnings_key(new_chat_id)
        if await self._redis.exists(old):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zunionstore(new, [new, old], aggregate="MAX")
                pipe.delete(old)
                pipe.expire(new, _WARNING_KEEP_SECONDS)
                await pipe.execute()

    # -- ModerationStore -------------------------------------------------------------

    async def first_time(self, key: str, expires_at: float) -> bool:
        """True once per key until it expires (SET NX with the expiry)."""
        seconds = max(1, int(expires_at - time.time()))
        return bool(await self._redis.set(f"{_PREFIX}once:{key}", "1", nx=True, ex=seconds))

    async def save_pending(self, pending_id: str, record: str, expires_at: float) -> None:
        """Keep a pending record until `expires_at`."""
        seconds = max(1, int(expires_at - time.time()))
        await self._redis.set(_pending_key(pending_id), record, ex=seconds)

    async def load_pending(self, pending_id: str, now: float) -> str | None:
        """The record unless unknown or expired (Redis expires it itself)."""
        raw = await self._redis.get(_pending_key(pending_id))
        return None if raw is None else str(raw)

    async def note_migration(self, old_chat_id: int, new_chat_id: int) -> None:
        """Remember where a group went, as long as its reports can be pressed."""
        await self._redis.set(
            f"{_PREFIX}migrated:{old_chat_id}", str(new_chat_id), ex=_MIGRATION_KEEP_SECONDS
        )

    async def migrated_to(self, chat_id: int) -> int | None:
        """The supergroup a group became, if it did."""
        raw = await self._redis.get(f"{_PREFIX}migrated:{chat_id}")
        return None if raw is None else int(raw)


def _pending_key(pending_id: str) -> str:
    return f"{_PREFIX}pending:{pending_id}"


def _allowed_key(chat_id: int) -> str:
    return f"{_PREFIX}allowed:{chat_id}"


def _allowed_images_key(chat_id: int) -> str:
    return f"{_PREFIX}allowed-images:{chat_id}"


def _warnings_key(chat_id: int) -> str:
    return f"{_PREFIX}warnings:{chat_id}"


def _report_key(report_id: str) -> str:
    return f"{_PREFIX}report:{report_id}"


def _presses_key(report_id: str) -> str:
    return f"{_PREFIX}presses:{report_id}"


def _settings_key(chat_id: int) -> str:
    return f"{_PREFIX}settings:{chat_id}"


def _quota_key(day: str, subject: str) -> str:
    return f"{_PREFIX}quota:{day}:{subject}"


def _charge_key(day: str, once: str | None) -> str:
    return f"{_PREFIX}charge:{day}:{once or ''}"


def _cache_key(key: str) -> str:
    return f"{_PREFIX}cache:{key}"
