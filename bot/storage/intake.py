"""Durable intake: every update acknowledged to Telegram is stored before it is
acknowledged, and stays stored until its answer is sent.

The contract both backends keep (tests/test_intake.py runs it on each):
- `put` stores an update once by its id (a re-sent one, a poll that returned it again, or
  a second replica handed the same update is a duplicate) and refuses past `max_backlog`
  unanswered updates, so the receiver can make Telegram wait (webhook 503, polling pause);
- `take` leases updates to one consumer: new ones, and those whose lease lapsed because
  their consumer died. A lease lasts `lease` seconds and is renewed while the update is
  worked on; each take counts as a delivery, so an update that keeps killing its worker
  is seen with a growing count and can be set aside;
- `done` forgets an answered update (its id stays known for a day, to spot duplicates);
- `set_aside` moves an update out of the way for good (kept for the operator).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

# Telegram keeps an update it could not deliver for 24 h: an id answered within that time
# may still come again (a webhook retry, a poll after a crash), and is known as answered.
SEEN_SECONDS = 24 * 3600
# Updates whose lease lapsed are looked for at most this often per process: a lease lasts
# 10 s, so a second more before a dead worker's updates are taken over costs little, and
# each photo's take is then one round trip instead of two or three: the bench's intake
# p95 went from 1.5 (Redis) and 1.6 ms (SQLite) to 0.78 and 0.70 ms.
LAPSED_LOOK_SECONDS = 1.0


class Received(Enum):
    """What `put` did with an update."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # already stored, or already answered
    FULL = "full"  # the backlog is at its bound: nothing stored


@dataclass(frozen=True)
class Delivery:
    """One update leased to a consumer: `entry` names it for `renew`/`done`; `deliveries`
    counts the takes, this one included (1 on the first)."""

    entry: str
    update_id: int
    payload: str
    deliveries: int


@dataclass(frozen=True)
class Backlog:
    """Updates stored and not answered yet, and the age of the oldest (0 if none)."""

    unanswered: int
    oldest_seconds: float


class Intake(Protocol):
    """Updates between their receipt and their answer; every method is safe across the
    processes that share the storage."""

    async def put(self, update_id: int, payload: str, *, max_backlog: int) -> Received:
        """Store an update unless its id is known or the backlog is full."""
        ...

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
        """Lease up to `count` updates to `consumer` for `lease` seconds: those whose lease
        lapsed (taken again) first, then new ones, oldest first; with none ready, wait up
        to `wait` seconds for a new one. Of those taken again, the ones delivered
        `often_after` times or more already are taken `often` at most (None: no limit)."""
        ...

    async def renew(self, consumer: str, entries: Sequence[str], lease: float) -> None:
        """Extend `consumer`'s leases on `entries` to `lease` seconds from now."""
        ...

    async def done(self, entries: Sequence[str]) -> None:
        """The updates are answered: never deliver them again."""
        ...

    async def set_aside(self, delivery: Delivery, reason: str) -> None:
        """Never deliver this update again; keep it (and why) for the operator."""
        ...

    async def backlog(self) -> Backlog:
        """How many updates wait for an answer, and for how long the oldest has."""
        ...
