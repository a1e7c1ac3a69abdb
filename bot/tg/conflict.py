"""A second process polling the same token, told apart from an overlapping restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from http import HTTPStatus

from bot.config import Settings
from bot.startup import Misconfigured

# Telegram's long-poll period as the bot asks for it (getUpdates' timeout, in seconds).
LONG_POLL_TIMEOUT = 30


class PollingConflict:
    """Whether another process polls this token and this one is the newcomer.

    Telegram serves getUpdates to one caller per token: the superseded call is answered
    409 Conflict, so two pollers both see 409s in turn. During an overlapping restart
    (the old process drains while the new one starts) the newcomer sees them only until
    the old one stops polling, seconds. A process that has polled cleanly before a
    conflict is the running bot and keeps running (Telegram shows as down in /healthz
    meanwhile); one that has not, and still meets 409s more than one long-poll period
    (30 s) after the first, is the newcomer: `superseded` is set. A stretch of more than
    one period without a 409 ends a conflict.
    """

    def __init__(
        self, period: float = LONG_POLL_TIMEOUT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._period = period
        self._clock = clock
        self._established = False  # has polled cleanly with no conflict going on
        self._first: float | None = None  # the current conflict's first 409
        self._last: float | None = None  # its latest
        self.superseded = asyncio.Event()

    def answered(self, status: int) -> None:
        """getUpdates came back with `status`."""
        if self.superseded.is_set():
            return  # the verdict stands while the newcomer drains
        now = self._clock()
        over = self._last is None or now - self._last > self._period
        if status != HTTPStatus.CONFLICT:
            if over:
                self._established, self._first = True, None
            return
        if over or self._first is None:
            self._first = now
        self._last = now
        if not self._established and self.lasted > self._period:
            self.superseded.set()

    @property
    def lasted(self) -> float:
        """Seconds from the current conflict's first 409 to its latest (0: none)."""
        if self._first is None or self._last is None:
            return 0.0
        return self._last - self._first

    def failure(self, settings: Settings) -> Misconfigured:
        """The one line the newcomer exits with (status 2: starting it again cannot help)."""
        return Misconfigured(
            "TELEGRAM_BOT_TOKEN",
            settings.telegram_api_base_url,
            f"another process is polling updates for this bot (getUpdates answered "
            f"409 Conflict for {self.lasted:.0f} s): run one polling process per token, "
            "or several in webhook mode (WEBHOOK_URL) behind a load balancer",
        )
