"""Daily limits on API calls: per person, per moderated group and for the whole bot,
reset at 00:00 UTC."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.clock import utc_now
from bot.storage.quotas import QuotaStore

GLOBAL = "global"


class QuotaExceeded(Exception):
    """A daily limit is used up."""

    def __init__(
        self, scope: Literal["user", "group", "global"], limit: int, resets_at: datetime
    ) -> None:
        self.scope = scope
        self.limit = limit
        self.resets_at = resets_at
        super().__init__(f"{scope} daily limit of {limit} reached")


@dataclass(frozen=True)
class Charge:
    """Uses counted for one API call, to give back if the call fails."""

    day: str
    subjects: tuple[str, ...]
    once: str | None = None


@dataclass(frozen=True)
class Remaining:
    """What is left today; None where there is no limit."""

    user: int | None
    overall: int | None
    resets_at: datetime


@dataclass(frozen=True, eq=False)
class Quotas:
    """Counts API calls against the limits; a limit of 0 means none."""

    storage: QuotaStore
    _: KW_ONLY
    per_user: int
    overall: int
    per_group: int = 0
    clock: Callable[[], datetime] = utc_now

    def resets_at(self) -> datetime:
        """The next 00:00 UTC."""
        today = self.clock().astimezone(UTC).date()
        return datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)

    def _day(self) -> str:
        return self.clock().astimezone(UTC).date().isoformat()

    async def take(
        self, user_id: int | None, group_id: int | None = None, once: str | None = None
    ) -> Charge:
        """Count one call for a person and/or a moderated group (neither: only the overall
        limit); raise if any is over, counting none. A charge named `once` that was
        counted before today is not counted again."""
        charges = []
        if self.overall:
            charges.append((GLOBAL, self.overall))
        if user_id is not None and self.per_user:
            charges.append((_user(user_id), self.per_user))
        if group_id is not None and self.per_group:
            charges.append((_group(group_id), self.per_group))
        day = self._day()
        if charges:
            over = await self.storage.take_quota(day, charges, once)
            if over == GLOBAL:
                raise QuotaExceeded("global", self.overall, self.resets_at())
            if over is not None and over.startswith("group:"):
                raise QuotaExceeded("group", self.per_group, self.resets_at())
            if over is not None:
                raise QuotaExceeded("user", self.per_user, self.resets_at())
        return Charge(day, tuple(subject for subject, _ in charges), once)

    async def refund(self, charge: Charge) -> None:
        """Give back what `take` counted."""
        if charge.subjects:
            await self.storage.refund_quota(charge.day, charge.subjects, charge.once)

    async def remaining(self, user_id: int) -> Remaining:
        """Calls left today for `user_id` and overall."""
        day = self._day()
        user = overall = None
        if self.per_user:
            user = max(0, self.per_user - await self.storage.quota_used(day, _user(user_id)))
        if self.overall:
            overall = max(0, self.overall - await self.storage.quota_used(day, GLOBAL))
        return Remaining(user, overall, self.resets_at())


def _user(user_id: int) -> str:
    return f"user:{user_id}"


def _group(chat_id: int) -> str:
    return f"group:{chat_id}"
