"""`Intake` in Redis: a Stream with one consumer group, as Redis made it for this.

`put` is XADD (behind a SET NX on the update's id, so an update handed to several
replicas, or re-sent by Telegram, is stored once); workers XREADGROUP; an answered update
is XACKed and XDELed, so the stream holds exactly the unanswered updates and its length
is the backlog (no MAXLEN trimming, which could drop an update not yet answered); the
entries of a consumer that died stay pending, and once idle for a lease a live one takes
them (XPENDING with IDLE gives their delivery counts, XCLAIM with the same minimum idle
time takes them; XAUTOCLAIM cannot choose by count). A live worker renews its leases
with XCLAIM ... JUSTID (which resets the idle time without counting a delivery).

Persistence: an update is Telegram's to forget once stored here, so Redis must keep what
it acknowledged. With `appendonly yes` and `appendfsync everysec` a crash of Redis itself
(not of a bot process) can lose the last second of updates; `appendfsync always` loses
none at the cost of one fsync per write; RDB snapshots alone lose everything since the
last snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import ResponseError

from bot.storage import intake
from bot.storage.intake import SEEN_SECONDS, Backlog, Delivery, Received

PREFIX = "segment-bot:"
STREAM = f"{PREFIX}intake"
SET_ASIDE_STREAM = f"{PREFIX}intake:set-aside"
GROUP = "workers"
# Every process start is a new consumer in the group: one with nothing pending and idle
# for an hour is gone, and is forgotten (looked for every 600 takes, about 10 minutes of
# an idle worker), so the group does not grow with every restart.
CONSUMER_FORGOTTEN_AFTER_MS = 3600 * 1000
_FORGET_EVERY_TAKES = 600
# Pending entries looked at per take for those idle past a lease: a dead replica leaves
# at most its work slots and prefetch (72 by default).
_PENDING_SCAN = 200
# Set-aside updates kept for the operator: the newest thousand.
_SET_ASIDE_KEPT = 1000

_PUT = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[3]) then
    return -1
end
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[4]) then
    return 0
end
redis.call('XADD', KEYS[1], '*', 'u', ARGV[1], 'p', ARGV[2])
return 1
"""

# Renew only the entries still pending for this consumer: XCLAIM alone would take back an
# entry that another consumer claimed after this one's lease lapsed.
_RENEW = """
for i = 3, #ARGV do
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
    if pending[1] and pending[1][2] == ARGV[2] then
        redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    end
end
return 0
"""


class RedisIntake:
    """`Intake` on a Redis client (`decode_responses=True`)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client
        self._put = client.register_script(_PUT)
        self._renew = client.register_script(_RENEW)
        self._takes = 0
        self._next_lapsed_look = 0.0

    @classmethod
    async def open(cls, client: aioredis.Redis) -> RedisIntake:
        """Create the stream and its group if they are not there yet."""
        intake = cls(client)
        await intake._create_group()
        return intake

    async def _create_group(self) -> None:
        try:
            await self._redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def put(self, update_id: int, payload: str, *, max_backlog: int) -> Received:
        """XADD unless the id was seen in the last day or the stream is at its bound."""
        result = int(
            await self._put(
                keys=[STREAM, f"{PREFIX}seen:{update_id}"],
                args=[update_id, payload, max_backlog, SEEN_SECONDS],
            )
        )
        if result < 0:
            return Received.FULL
        return Received.STORED if result else Received.DUPLICATE

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
        """Entries idle past a lease (XPENDING, XCLAIM), then new ones (XREADGROUP, waiting up
        to `wait` seconds when there are none)."""
        if count <= 0:
            return []
        self._takes += 1
        if self._takes % _FORGET_EVERY_TAKES == 0:
            await self.forget_gone_consumers()
        try:
            return await self._take(consumer, count, lease, wait, often, often_after)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self._create_group()  # the stream was deleted under us (FLUSHALL)
            return []

    async def _take(
        self,
        consumer: str,
        count: int,
        lease: float,
        wait: float,
        often: int,
        often_after: int | None,
    ) -> list[Delivery]:
        lease_ms = max(1, int(lease * 1000))
        # Entries idle past a lease (their consumer died), with their delivery counts:
        # XPENDING's IDLE filter, then XCLAIM of those chosen (XAUTOCLAIM cannot choose by
        # count). XCLAIM's own min-idle keeps an entry renewed meanwhile with its holder.
        pending: Any = []
        if time.monotonic() >= self._next_lapsed_look:
            self._next_lapsed_look = time.monotonic() + intake.LAPSED_LOOK_SECONDS
            pending = await self._redis.xpending_range(
                STREAM, GROUP, "-", "+", _PENDING_SCAN, idle=lease_ms
            )
        chosen: list[Any] = []
        often_taken = 0
        for entry in pending:
            if len(chosen) >= count:
                break
            if often_after is not None and int(entry["times_delivered"]) >= often_after:
                if often_taken >= often:
                    continue
                often_taken += 1
            chosen.append(str(entry["message_id"]))
        deliveries: list[Delivery] = []
        if chosen:
            claimed: Any = await self._redis.xclaim(STREAM, GROUP, consumer, lease_ms, chosen)
            counts = {str(e["message_id"]): int(e["times_delivered"]) for e in pending}
            deliveries = [
                Delivery(entry, int(fields["u"]), fields["p"], counts.get(entry, 0) + 1)
                for entry, fields in claimed
                if fields
            ]
        room = count - len(deliveries)
        if room > 0:  # then new ones
            block = int(wait * 1000) if not deliveries and wait > 0 else None
            read: Any = await self._redis.xreadgroup(
                GROUP, consumer, {STREAM: ">"}, count=room, block=block
            )
            for _, entries in read or []:
                deliveries.extend(
                    Delivery(entry, int(fields["u"]), fields["p"], 1)
                    for entry, fields in entries
                    if fields
                )
        return deliveries

    async def forget_gone_consumers(self) -> int:
        """Delete the group's consumers with nothing pending, idle past
        `CONSUMER_FORGOTTEN_AFTER_MS`; how many."""
        consumers: Any = await self._redis.xinfo_consumers(STREAM, GROUP)
        gone = [
            str(consumer["name"])
            for consumer in consumers
            if int(consumer["pending"]) == 0 and int(consumer["idle"]) > CONSUMER_FORGOTTEN_AFTER_MS
        ]
        for name in gone:
            await self._redis.xgroup_delconsumer(STREAM, GROUP, name)
        return len(gone)

    async def renew(self, consumer: str, entries: Sequence[str], lease: float) -> None:
        """Reset the idle time of the consumer's own pending entries."""
        if entries:
            await self._renew(keys=[STREAM], args=[GROUP, consumer, *entries])

    async def done(self, entries: Sequence[str]) -> None:
        """XACK and XDEL: the stream keeps only what is unanswered."""
        if not entries:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(STREAM, GROUP, *entries)
            pipe.xdel(STREAM, *entries)
            await pipe.execute()

    async def set_aside(self, delivery: Delivery, reason: str) -> None:
        """Copy the update to the set-aside stream, then drop it from the intake."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                SET_ASIDE_STREAM,
                {
                    "u": delivery.update_id,
                    "p": delivery.payload,
                    "deliveries": delivery.deliveries,
                    "reason": reason,
                },
                maxlen=_SET_ASIDE_KEPT,
                approximate=True,
            )
            pipe.xack(STREAM, GROUP, delivery.entry)
            pipe.xdel(STREAM, delivery.entry)
            await pipe.execute()

    async def backlog(self) -> Backlog:
        """XLEN, and the age of the first entry's id (its time of receipt)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xlen(STREAM)
            pipe.xrange(STREAM, count=1)
            length, first = await pipe.execute()
        if not first:
            return Backlog(int(length), 0.0)
        received_ms = int(str(first[0][0]).split("-")[0])
        return Backlog(int(length), max(0.0, time.time() - received_ms / 1000))
