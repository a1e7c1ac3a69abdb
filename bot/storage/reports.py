"""Moderation reports and the presses of their buttons."""

from __future__ import annotations

from typing import Protocol


class ReportStore(Protocol):
    """Reports kept until they expire, and the first press of each verb; safe to call
    concurrently."""

    async def save_report(self, report_id: str, report: str, expires_at: float) -> None:
        """Keep (or replace) a moderation report until `expires_at`."""
        ...

    async def load_report(self, report_id: str, now: float) -> str | None:
        """The report unless unknown or expired."""
        ...

    async def claim_press(self, report_id: str, verb: str, record: str) -> str | None:
        """Record the first press of `verb` on a report, once across every process: None
        when this press is the one that counts, else the record of the one that did."""
        ...

    async def presses(self, report_id: str) -> dict[str, str]:
        """Every press recorded on a report, by verb."""
        ...

    async def release_press(self, report_id: str, verb: str) -> None:
        """Forget a press that could not take effect, so it can be tried again."""
        ...
