"""Operator alerts: one message per incident, not one per photo."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from bot.photo.outcomes import Failed, Outcome, Recognized
from bot.recognition.errors import ErrorKind, RecognitionError

Send = Callable[[str], Awaitable[None]]


class OperatorAlerts:
    """Watches outcomes; tells the admin chat when an operator problem starts.

    An incident of one kind (bad key, no balance, ...) is reported once and
    again only after `repeat_after` seconds; any success ends all incidents.
    """

    def __init__(self, send: Send | None, *, repeat_after: float = 3600.0) -> None:
        self._send = send
        self._repeat_after = repeat_after
        self._reported: dict[ErrorKind, float] = {}

    async def observe(self, outcome: Outcome) -> None:
        """Look at one photo's outcome; maybe send one alert."""
        if isinstance(outcome, Recognized):
            self._reported.clear()
            return
        if not isinstance(outcome, Failed) or not isinstance(outcome.error, RecognitionError):
            return
        error = outcome.error
        if not error.operator_problem or self._send is None:
            return
        now = time.monotonic()
        last = self._reported.get(error.kind)
        if last is not None and now - last < self._repeat_after:
            return
        # Set before awaiting, so photos failing at the same moment send one alert.
        self._reported[error.kind] = now
        await self._send(alert_text(error))


def alert_text(error: RecognitionError) -> str:
    """What the operator reads: the kind, the identifiers and where to look."""
    return (
        f"⚠️ Recognition is failing: {error.kind.value} "
        f"(HTTP {error.status}, code {error.code}, request_id {error.request_id}). "
        "People are told the service is misconfigured until this is fixed: "
        "check the DeerAPI key, balance and plan."
    )
