"""Durable intake, Telegram's side: an update is stored (bot/storage/intake.py) before
Telegram is told it arrived, and leaves storage only once it is answered.

- Receipt: the webhook answers 200 only after `receive` stored the update (503 while the
  backlog is at its bound: Telegram sends it again later); in polling mode the updater's
  queue is a `ReceiptQueue`, whose `put` returns only once the update is stored, and the
  library moves the getUpdates offset past an update only after its `put` returned.
- Work: `run` leases stored updates (its own and those of a consumer that died) and
  feeds them to the application's queue; `BoundedUpdates` calls `begin` and `end` around
  each handler, and `end` acknowledges the update unless its handler deferred that
  (`defer`: an album item is answered with its album, after its handler returned).
- Leases: renewed every third of `LEASE_SECONDS` while an update is worked on, so a live
  worker's update is never handed to another, and a dead one's is taken over within
  `LEASE_SECONDS` of its last renewal.
- Poison: an update delivered more than `MAX_DELIVERIES` times (its worker died each time)
  is answered once with "could not check", set aside, counted and reported.
- Storage down: an update that cannot be stored is handled at once in this process, as
  before there was an intake (private photos keep their answers in an outage); it is then
  not durable: lost if this process dies before answering it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import Bot, Update
from telegram.constants import ChatType

from bot.messages import people
from bot.metrics import (
    INTAKE_BACKLOG,
    INTAKE_OLDEST_SECONDS,
    INTAKE_REDELIVERIES,
    INTAKE_SET_ASIDE,
)
from bot.storage.guard import StorageUnavailable
from bot.storage.intake import Delivery, Intake, Received
from bot.tg.admission import Admission
from bot.tg.chats import Chats
from bot.tg.outbox import Send

logger = logging.getLogger(__name__)

# A photo may take 90 s (its deadline); its lease is renewed every 3 s, so a worker that
# died leaves its updates for at most 10 s.
LEASE_SECONDS = 10.0
# A worker killed by the same update three times is enough to call the update the cause.
MAX_DELIVERIES = 3
# How long one `take` waits for a new update before looking again (under the storage
# guard's 2 s timeout).
TAKE_WAIT_SECONDS = 1.0
# While the intake is full, a polling receipt tries again after this long.
FULL_RETRY_SECONDS = 1.0
# Updates held by this process beyond its work slots: enough to keep every slot busy
# between two takes, few enough that idle replicas take the rest.
PREFETCH = 8
# An update that cannot be stored in an outage waits at most this long for room in memory.
DIRECT_WAIT_SECONDS = 5.0

OnSetAside = Callable[[Update | None, Delivery], Awaitable[None]]


@dataclass
class _Held:
    """An update leased to this process: acknowledged once its handler is done and
    nothing it deferred is still open."""

    update_id: int
    entry: str
    deliveries: int
    handler_done: bool = False
    deferred: int = 0


_current: contextvars.ContextVar[_Held | None] = contextvars.ContextVar(
    "intake_delivery", default=None
)


class DurableUpdates:
    """The receipt, leases and acknowledgements of this process's updates."""

    def __init__(
        self,
        intake: Intake,
        *,
        bot: Bot,
        queue: asyncio.Queue[Any],
        capacity: int,
        max_backlog: int,
        on_set_aside: OnSetAside,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self._intake = intake
        self._bot = bot
        self._queue = queue
        self._capacity = capacity + PREFETCH
        self._max_backlog = max_backlog
        self._on_set_aside = on_set_aside
        self._lease = lease_seconds
        self.consumer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._held: dict[int, _Held] = {}
        self._room = asyncio.Event()
        self._acks: set[asyncio.Task[None]] = set()
        # The backlog as last seen (by the gauges' refresh, or a refusal): /healthz says
        # "overloaded" while it is at its bound.
        self.backlog_seen = 0

    @property
    def held(self) -> int:
        """Updates leased to this process and not yet acknowledged."""
        return len(self._held)

    async def receive(self, update: Update, payload: str | None = None) -> Received:
        """Store an update before Telegram is told it arrived; FULL: tell Telegram to try
        later. In a storage outage the update goes straight to this process's work."""
        raw = payload if payload is not None else json.dumps(update.to_dict())
        try:
            received = await self._intake.put(update.update_id, raw, max_backlog=self._max_backlog)
        except StorageUnavailable:
            try:
                await asyncio.wait_for(self._queue.put(update), DIRECT_WAIT_SECONDS)
            except TimeoutError:
                return Received.FULL
            return Received.STORED
        if received is Received.STORED and self.backlog_seen >= self._max_backlog:
            self.backlog_seen = self._max_backlog - 1  # there was room after all
        if received is Received.DUPLICATE:
            logger.debug("update %s was taken by another replica", update.update_id)
        elif received is Received.FULL:
            self.backlog_seen = self._max_backlog
            logger.warning(
                "intake full (%d unanswered): update %s refused for now",
                self._max_backlog,
                update.update_id,
            )
        return received

    async def run(self, stop: asyncio.Event) -> None:
        """Lease stored updates and hand them to the application until `stop`."""
        renewing = asyncio.create_task(self._renew_until(stop))
        try:
            while not stop.is_set():
                room = self._capacity - len(self._held)
                if room <= 0:
                    self._room.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._room.wait(), TAKE_WAIT_SECONDS)
                    continue
                # An update about to be delivered for the MAX_DELIVERIES-th time or more is
                # taken alone among such: if it kills this worker too, the others held
                # here count one delivery more, and none of them may reach the count that
                # sets an update aside for killing its worker. Taken again after one
                # crash, updates go in bulk: a restart's backlog is not made serial.
                risky = any(held.deliveries >= MAX_DELIVERIES for held in self._held.values())
                try:
                    taken = await self._intake.take(
                        self.consumer,
                        room,
                        self._lease,
                        wait=TAKE_WAIT_SECONDS,
                        often=0 if risky else 1,
                        often_after=MAX_DELIVERIES - 1,
                    )
                except StorageUnavailable:
                    # The guard logs the outage; receipts go straight to work meanwhile.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), TAKE_WAIT_SECONDS)
                    continue
                for delivery in taken:
                    try:
                        await self._hand_over(delivery)
                    except Exception:
                        # Left leased: taken again after its lease, and set aside in time.
                        logger.exception("update %s could not be handed over", delivery.update_id)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _hand_over(self, delivery: Delivery) -> None:
        if delivery.deliveries > 1:
            INTAKE_REDELIVERIES.inc()
            logger.warning(
                "update %s delivered again (delivery %d): its worker stopped before answering",
                delivery.update_id,
                delivery.deliveries,
            )
        update = self._parse(delivery)
        if update is None or delivery.deliveries > MAX_DELIVERIES:
            await self._set_aside(update, delivery)
            return
        if update.update_id in self._held:
            return  # already being worked on here (a renewal lost in an outage)
        self._held[update.update_id] = _Held(update.update_id, delivery.entry, delivery.deliveries)
        await self._queue.put(update)

    def _parse(self, delivery: Delivery) -> Update | None:
        try:
            return Update.de_json(json.loads(delivery.payload), self._bot)
        except Exception as exc:  # stored by an older version, or damaged
            logger.error("stored update %s unreadable: %s", delivery.update_id, type(exc).__name__)
            return None

    async def _set_aside(self, update: Update | None, delivery: Delivery) -> None:
        reason = (
            f"its worker stopped {delivery.deliveries - 1} times before answering"
            if update is not None
            else "unreadable"
        )
        INTAKE_SET_ASIDE.inc()
        logger.error(
            "update %s set aside after %d deliveries: %s",
            delivery.update_id,
            delivery.deliveries,
            reason,
        )
        try:
            await self._on_set_aside(update, delivery)
        except Exception:
            logger.exception("answering a set-aside update %s failed", delivery.update_id)
        # In an outage it is delivered again once storage is back, and set aside then.
        with contextlib.suppress(StorageUnavailable):
            await self._intake.set_aside(delivery, reason)

    def begin(self, update: object) -> None:
        """A handler starts on `update` (in its own task): `defer` now applies to it."""
        if isinstance(update, Update):
            _current.set(self._held.get(update.update_id))

    async def end(self, update: object) -> None:
        """The handler of `update` returned: acknowledge it unless it deferred that."""
        if not isinstance(update, Update):
            return
        held = self._held.get(update.update_id)
        if held is None:
            return
        held.handler_done = True
        if held.deferred == 0:
            await self._acknowledge(update.update_id)

    def defer(self) -> Callable[[], None]:
        """Keep the current update unacknowledged until the returned callable is called
        (once its answer is sent by other work). A no-op outside durable delivery."""
        held = _current.get()
        if held is None:
            return lambda: None
        held.deferred += 1
        update_id = held.update_id
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            held.deferred -= 1
            if held.deferred == 0 and held.handler_done:
                ack = asyncio.create_task(self._acknowledge(update_id))
                self._acks.add(ack)
                ack.add_done_callback(self._acks.discard)

        return release

    async def _acknowledge(self, update_id: int) -> None:
        held = self._held.get(update_id)
        if held is None:
            return
        try:
            await self._intake.done([held.entry])
        except StorageUnavailable:
            # Its lease lapses and it is answered again elsewhere: rare (an outage begun
            # between the answer and this line) and better than an update never answered.
            logger.warning("update %s answered but not acknowledged (storage down)", update_id)
        finally:
            del self._held[update_id]
            self._room.set()

    async def unanswered(self) -> int:
        """Updates stored and not answered yet, across every process sharing the intake."""
        return (await self._intake.backlog()).unanswered

    async def drain(self) -> None:
        """Wait for the acknowledgements still running."""
        while self._acks:
            await asyncio.gather(*self._acks, return_exceptions=True)

    async def _renew_until(self, stop: asyncio.Event) -> None:
        """Renew this process's leases every third of a lease; refresh the backlog gauges."""
        while True:
            await asyncio.sleep(self._lease / 3)
            entries = [held.entry for held in self._held.values()]
            try:
                await self._intake.renew(self.consumer, entries, self._lease)
                backlog = await self._intake.backlog()
            except StorageUnavailable:
                continue
            self.backlog_seen = backlog.unanswered
            INTAKE_BACKLOG.set(backlog.unanswered)
            INTAKE_OLDEST_SECONDS.set(backlog.oldest_seconds)


class ReceiptQueue(asyncio.Queue[Any]):
    """The polling updater's queue: `put` returns once the update is stored, so the
    getUpdates offset moves past an update only then (and polling pauses while the intake
    is full). Nothing reads from it."""

    def __init__(self, updates: DurableUpdates) -> None:
        super().__init__()
        self._updates = updates

    async def put(self, item: Any) -> None:
        """Store the update, waiting while the intake is full."""
        if not isinstance(item, Update):
            return
        while True:
            received = await self._updates.receive(item)
            if received is not Received.FULL:
                return
            await asyncio.sleep(FULL_RETRY_SECONDS)


@dataclass(frozen=True, eq=False, kw_only=True)
class SetAsideAnswers:
    """What a set-aside update gets: its sender one "could not check" in a private chat
    (nothing in a group, where nobody asked), the operator one line."""

    chats: Chats
    admission: Admission
    operator: Send | None

    async def __call__(self, update: Update | None, delivery: Delivery) -> None:
        """Answer and report one set-aside update."""
        message = update.effective_message if update is not None else None
        if update is not None and message is not None and message.chat.type == ChatType.PRIVATE:
            await self.chats.outbox.reply(message, people.set_aside(self.admission.tr_for(update)))
        if self.operator is not None:
            await self.operator(
                f"⚠️ Update {delivery.update_id} was set aside after {delivery.deliveries} "  # noqa: S608 - an alert, not SQL
                "deliveries: the process handling it stopped each time. Look for a crash or "
                "an OOM kill in the logs around it."
            )
