"""What /healthz reports: each dependency's state as the bot's own calls saw it, the load,
and whether this process can serve.

Nothing here makes a call of its own. Storage and Telegram are judged by the calls the
bot makes anyway (a failure marks one down, the next success marks it up again), the
recognition API by the kinds of its last outcomes. An outage is logged twice, once when
it starts and once when it ends, however many calls fail in between.

Which states answer 503 (take this replica out of a load balancer): starting, stopping,
storage down, overloaded. Telegram down and the API failing are reported in the body but
answer 200: every replica shares them, so routing elsewhere or restarting cannot help,
and the bot still answers what it can (polling resumes by itself, people are told the
service is busy).
"""

from __future__ import annotations

import enum
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.photo.pipeline import RecognizerLike
from bot.recognition.errors import RecognitionError
from bot.recognition.results import RecognitionResult

logger = logging.getLogger(__name__)

# Enough calls to tell a failing API from one unlucky photo, few enough that a
# recovery shows within a minute of ordinary traffic.
API_WINDOW = 20
OK = "ok"


class Dependency:
    """Up or down, from the outcomes of real calls; logs once when an outage starts and
    once when it ends.

    `failures_to_down` consecutive failures make an outage, for a dependency whose single
    calls may fail for their own reasons (one download timing out is not Telegram down).
    """

    def __init__(
        self,
        name: str,
        *,
        failures_to_down: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._failures_to_down = failures_to_down
        self._clock = clock
        self._up: bool | None = None  # None: no call has ended yet
        self._failures = 0  # in a row
        self._since = clock()
        self._cause = ""

    @property
    def down(self) -> bool:
        """Whether an outage is in progress."""
        return self._up is False

    def succeeded(self) -> None:
        """A call went through."""
        now = self._clock()
        if self._up is False:
            logger.warning(
                "%s is back after %.0f s (%d failed calls)",
                self.name,
                now - self._since,
                self._failures,
            )
        if self._up is not True:
            self._since = now
        self._up = True
        self._failures = 0

    def failed(self, cause: str) -> None:
        """A call failed because of the dependency; `cause` is one line, no secrets."""
        self._failures += 1
        self._cause = cause
        if self._up is not False and self._failures >= self._failures_to_down:
            self._up = False
            self._since = self._clock()
            logger.warning("%s is unavailable: %s", self.name, cause)

    def report(self) -> dict[str, Any]:
        """`state` (unknown, up, down); while down, since when, why and how many calls failed."""
        if self._up is None:
            return {"state": "unknown"}
        if self._up:
            return {"state": "up"}
        return {
            "state": "down",
            "for_seconds": round(self._clock() - self._since),
            "cause": self._cause,
            "failed_calls": self._failures,
        }


class RecentOutcomes:
    """The kinds of the last API calls: `ok` or the error kind."""

    def __init__(self, size: int = API_WINDOW) -> None:
        self._kinds: deque[str] = deque(maxlen=size)

    def record(self, kind: str) -> None:
        """One call ended as `kind`."""
        self._kinds.append(kind)

    @property
    def failing(self) -> bool:
        """At least half of the recent calls failed."""
        failed = sum(kind != OK for kind in self._kinds)
        return bool(self._kinds) and 2 * failed >= len(self._kinds)

    def report(self) -> dict[str, Any]:
        """`state` (unknown, ok, failing) and the recent calls by kind."""
        if not self._kinds:
            return {"state": "unknown"}
        return {"state": "failing" if self.failing else OK, "recent": dict(Counter(self._kinds))}


@dataclass(frozen=True, eq=False)
class ObservedRecognizer:
    """The API client with every call's outcome recorded for /healthz."""

    inner: RecognizerLike
    outcomes: RecentOutcomes

    async def recognize(self, image: bytes) -> RecognitionResult:
        """Recognize through the wrapped client; note how it went."""
        try:
            result = await self.inner.recognize(image)
        except RecognitionError as error:
            self.outcomes.record(error.kind.value)
            raise
        self.outcomes.record(OK)
        return result


class Phase(enum.Enum):
    """Where the process is in its life."""

    STARTING = "starting"
    SERVING = "serving"
    STOPPING = "stopping"


@dataclass(frozen=True)
class Load:
    """Updates being worked on and waiting to be, against their bounds."""

    working: int
    working_limit: int
    queued: int  # the intake's backlog, every replica's (bot/tg/intake.py)
    queue_limit: int  # INTAKE_MAX_BACKLOG

    @property
    def overloaded(self) -> bool:
        """The intake is full: polling is paused and the webhook answers 503."""
        return self.queued >= self.queue_limit


def _idle() -> Load:
    return Load(0, 1, 0, 1)


class Health:
    """Everything /healthz says, and whether it answers 200 or 503."""

    def __init__(
        self,
        *,
        storage: Dependency,
        telegram: Dependency,
        api: RecentOutcomes,
        load: Callable[[], Load] = _idle,
    ) -> None:
        self.storage = storage
        self.telegram = telegram
        self.api = api
        self.load = load
        self.phase = Phase.STARTING

    def report(self) -> tuple[bool, dict[str, Any]]:
        """(whether this process can serve, the JSON body)."""
        load = self.load()
        blocking = []
        if self.phase is not Phase.SERVING:
            blocking.append(self.phase.value)
        if self.storage.down:
            blocking.append("storage down")
        if load.overloaded:
            blocking.append("overloaded")
        degraded = []
        if self.telegram.down:
            degraded.append("telegram down")
        if self.api.failing:
            degraded.append("api failing")
        status = "unavailable" if blocking else "degraded" if degraded else "ok"
        body = {
            "status": status,
            "problems": blocking + degraded,
            "storage": self.storage.report(),
            "telegram": self.telegram.report(),
            "api": self.api.report(),
            "updates": {
                "working": load.working,
                "working_limit": load.working_limit,
                "queued": load.queued,
                "queue_limit": load.queue_limit,
            },
        }
        return not blocking, body
