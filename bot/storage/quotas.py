"""Daily quota counters, all-or-nothing and named per charge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class QuotaStore(Protocol):
    """Daily use counters per subject (a person, a group, overall); safe to call
    concurrently."""

    async def take_quota(
        self, day: str, charges: Sequence[tuple[str, int]], once: str | None = None
    ) -> str | None:
        """Count one use against each (subject, limit), all or none; with `once`, only if
        no charge under that name was counted today (an update run again after its
        process died is not charged twice).

        Returns None when counted (or counted before), or the first subject at its limit.
        """
        ...

    async def refund_quota(
        self, day: str, subjects: Sequence[str], once: str | None = None
    ) -> None:
        """Give back one use of each subject (a call that failed costs nothing), and
        forget the charge's name."""
        ...

    async def quota_used(self, day: str, subject: str) -> int:
        """Uses of `subject` counted on `day`."""
        ...
