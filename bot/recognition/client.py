"""Async client for Kling image-recognize through DeerAPI: request, parse, retry, typed errors."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Self

from pydantic import SecretStr

from bot.config import ApiSettings
from bot.http import clients as http_clients
from bot.logs import pairs
from bot.metrics import API_CONCURRENCY_LIMIT, API_RETRIES, API_SECONDS
from bot.recognition.call_slots import AdaptiveLimiter
from bot.recognition.errors import ErrorKind, RecognitionError
from bot.recognition.exchange import AiohttpExchange, Body, Exchange, HttpxExchange
from bot.recognition.limiter import Signal
from bot.recognition.parsing import parse_response
from bot.recognition.results import RecognitionResult

ENDPOINT_PATH = "/kling/v1/videos/image-recognize"

logger = logging.getLogger(__name__)

# What a failed attempt tells the concurrency limiter; other kinds (a bad key, a
# refused image) say nothing about the API's load and neither grow nor cut.
_LOAD_SIGNALS: Mapping[ErrorKind, Signal] = MappingProxyType(
    {
        ErrorKind.RATE_LIMITED: Signal.REFUSED,
        ErrorKind.TIMEOUT: Signal.TIMEOUT,
        ErrorKind.SERVER: Signal.ERROR,
        ErrorKind.NETWORK: Signal.ERROR,
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts, backoff and the ceilings that keep a chat from waiting."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = 20.0
    total_deadline: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Capped exponential delay after the `attempt`-th failure, with jitter."""
        delay = min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay)
        # Jitter only spreads retries in time; it is not a security matter.
        return delay * (1 - 0.25 * random.random())  # noqa: S311


class Recognizer:
    """One per process: a pooled HTTP client and an adaptive bound on simultaneous API calls
    (`max_concurrent_calls` is its ceiling)."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        attempt_timeout: float,
        max_concurrent_calls: int,
        policy: RetryPolicy,
        proxied: bool | None = None,
    ) -> None:
        """`proxied`: whether proxy variables are set (None: read the environment), which
        picks the HTTP client (bot/http/clients.py)."""
        self._url = base_url.rstrip("/") + ENDPOINT_PATH
        self._policy = policy
        self._slots = AdaptiveLimiter(max_concurrent_calls, on_change=API_CONCURRENCY_LIMIT.set)
        headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if proxied is None:
            proxied = http_clients.proxied()
        # The pool allows the ceiling, so the adaptive limit alone decides.
        self._http: Exchange = (
            HttpxExchange(headers, attempt_timeout, max_concurrent_calls)
            if proxied
            else AiohttpExchange(headers, attempt_timeout, max_concurrent_calls)
        )

    @classmethod
    def for_settings(cls, settings: ApiSettings, api_key: SecretStr) -> Self:
        """The client the settings describe (the bot and `python -m bot check` share it)."""
        return cls(
            base_url=settings.deerapi_base_url,
            api_key=api_key.get_secret_value(),
            attempt_timeout=settings.api_attempt_timeout_seconds,
            max_concurrent_calls=settings.api_max_concurrent_calls,
            policy=RetryPolicy(
                max_attempts=settings.api_max_attempts,
                base_delay=settings.api_retry_base_delay_seconds,
                total_deadline=settings.api_total_deadline_seconds,
            ),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    @property
    def concurrency_limit(self) -> int:
        """API calls allowed in flight now, as the adaptive limiter has learnt it."""
        return self._slots.limit

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def recognize(self, image: bytes) -> RecognitionResult:
        """Send raw JPEG/PNG bytes; return the result or raise `RecognitionError` (logged)."""
        attempts = 0
        # Attempts that count against `max_attempts`: all but our own overshoots.
        charged = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._policy.total_deadline
        try:
            # The deadline bounds the waits for a slot as well as the attempts.
            async with asyncio.timeout_at(deadline):
                while True:
                    attempts += 1
                    async with self._slots.slot(retry=attempts > 1) as permit:
                        try:
                            result = await self._attempt(Body(image, sent=permit.sent))
                        except RecognitionError as error:
                            permit.signal = _LOAD_SIGNALS.get(error.kind, Signal.NEUTRAL)
                            failure = error
                        else:
                            permit.signal = Signal.SUCCESS
                            return replace(result, attempts=attempts)
                    # A call refused for load while others of ours were in flight is
                    # our overshoot: the limiter has cut for it, and the retry waits
                    # for a slot under the lower limit. It does not use up an attempt,
                    # or the limiter's probing could fail a photo that a retry saves;
                    # the deadline still bounds it. Refused while alone, it counts.
                    if not (failure.kind is ErrorKind.RATE_LIMITED and permit.crowded):
                        charged += 1
                    delay = self._retry_delay(failure, charged)
                    if delay is None or loop.time() + delay >= deadline:
                        raise failure
                    API_RETRIES.labels(failure.kind.value).inc()
                    logger.info(
                        "recognition attempt %d failed (%s); retrying in %.2fs, "
                        "concurrency limit %d",
                        attempts,
                        _known(failure),
                        delay,
                        self._slots.limit,
                    )
                    await asyncio.sleep(delay)
        except TimeoutError:
            timeout = RecognitionError(
                ErrorKind.TIMEOUT,
                detail=f"timed out: no answer within {self._policy.total_deadline:g}s",
            )
            self._log_failure(timeout, attempts)
            raise timeout from None
        except RecognitionError as error:
            self._log_failure(error, attempts)
            raise

    async def _attempt(self, body: Body) -> RecognitionResult:
        started = time.perf_counter()
        try:
            status, headers, raw = await self._http.post(self._url, body)
        finally:
            API_SECONDS.observe(time.perf_counter() - started)
        return parse_response(status, headers, raw)

    def _retry_delay(self, error: RecognitionError, charged: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        policy = self._policy
        if not error.retryable or charged >= policy.max_attempts:
            return None
        if error.retry_after is not None:
            if error.retry_after > policy.retry_after_cap:
                return None
            return error.retry_after
        return policy.backoff(max(charged, 1))

    @staticmethod
    def _log_failure(error: RecognitionError, attempts: int) -> None:
        logger.log(
            logging.ERROR if error.operator_problem else logging.WARNING,
            "recognition failed: %s attempts=%d detail=%s",
            _known(error),
            attempts,
            error.detail,
        )


def _known(error: RecognitionError) -> str:
    """The error's kind, status, code and request id as `key=value`, those it has."""
    return pairs(
        {
            "kind": error.kind,
            "status": error.status,
            "code": error.code,
            "request_id": error.request_id,
        }
    )
