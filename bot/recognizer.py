"""Async client for Kling image-recognize through DeerAPI: request, parse, retry, typed errors."""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Protocol, Self

import aiohttp
import httpx
import pybase64
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from bot import http_clients
from bot.config import ApiSettings
from bot.limiter import AdaptiveLimiter, Signal
from bot.logs import pairs
from bot.metrics import API_CONCURRENCY_LIMIT, API_RETRIES, API_SECONDS
from bot.results import RecognitionResult

ENDPOINT_PATH = "/kling/v1/videos/image-recognize"
MAX_RESPONSE_BYTES = 1_000_000
_REQUEST_ID_HEADERS = ("x-request-id", "x-oneapi-request-id", "request-id")

logger = logging.getLogger(__name__)


class ErrorKind(enum.StrEnum):
    """Why a recognition failed; decides retrying, logging level and the user's sentence."""

    AUTH = "auth"
    ACCOUNT = "account"
    PERMISSION = "permission"
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    CONTENT_POLICY = "content_policy"
    RATE_LIMITED = "rate_limited"
    IP_BLOCKED = "ip_blocked"
    SERVER = "server"
    TIMEOUT = "timeout"
    NETWORK = "network"
    BAD_RESPONSE = "bad_response"


_RETRYABLE = frozenset(
    {ErrorKind.RATE_LIMITED, ErrorKind.SERVER, ErrorKind.TIMEOUT, ErrorKind.NETWORK}
)
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
_OPERATOR_PROBLEMS = frozenset(
    {
        ErrorKind.AUTH,
        ErrorKind.ACCOUNT,
        ErrorKind.PERMISSION,
        ErrorKind.NOT_FOUND,
        ErrorKind.IP_BLOCKED,
    }
)
# Kling's documented code ranges (inclusive) and what they mean.
_KLING_CODES: tuple[tuple[int, int, ErrorKind], ...] = (
    (1000, 1004, ErrorKind.AUTH),
    (1100, 1102, ErrorKind.ACCOUNT),
    (1103, 1103, ErrorKind.PERMISSION),
    (1200, 1201, ErrorKind.INVALID_REQUEST),
    (1202, 1203, ErrorKind.NOT_FOUND),
    (1300, 1301, ErrorKind.CONTENT_POLICY),
    (1302, 1303, ErrorKind.RATE_LIMITED),
    (1304, 1304, ErrorKind.IP_BLOCKED),
    (5000, 5002, ErrorKind.SERVER),
)
# Reseller gateways name errors with words; these are the ones that matter.
_GATEWAY_WORDS: tuple[tuple[str, ErrorKind], ...] = (
    ("quota", ErrorKind.ACCOUNT),
    ("balance", ErrorKind.ACCOUNT),
    ("insufficient", ErrorKind.ACCOUNT),
    ("billing", ErrorKind.ACCOUNT),
    ("api_key", ErrorKind.AUTH),
    ("token", ErrorKind.AUTH),
    ("unauthorized", ErrorKind.AUTH),
)
_STATUS_KINDS: Mapping[int, ErrorKind] = MappingProxyType(
    {
        400: ErrorKind.INVALID_REQUEST,
        401: ErrorKind.AUTH,
        402: ErrorKind.ACCOUNT,
        403: ErrorKind.PERMISSION,
        404: ErrorKind.NOT_FOUND,
        408: ErrorKind.TIMEOUT,
        413: ErrorKind.INVALID_REQUEST,
        415: ErrorKind.INVALID_REQUEST,
        422: ErrorKind.INVALID_REQUEST,
        429: ErrorKind.RATE_LIMITED,
    }
)


class RecognitionError(Exception):
    """A failed recognition, with what an operator needs to follow it up."""

    def __init__(
        self,
        kind: ErrorKind,
        *,
        status: int | None = None,
        code: int | str | None = None,
        request_id: str | None = None,
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.kind = kind
        self.status = status
        self.code = code
        self.request_id = request_id
        self.detail = detail[:200]
        self.retry_after = retry_after
        known = pairs({"status": status, "code": code, "request_id": request_id})
        super().__init__(" ".join(part for part in (kind.value, known, self.detail) if part))

    @property
    def retryable(self) -> bool:
        """Whether another attempt may succeed."""
        return self.kind in _RETRYABLE

    @property
    def operator_problem(self) -> bool:
        """Whether the fix lies with whoever runs the bot (key, balance, plan)."""
        return self.kind in _OPERATOR_PROBLEMS


def classify(status: int, code: int | str | None) -> ErrorKind:
    """Map an HTTP status and a Kling or gateway code to an `ErrorKind`."""
    if isinstance(code, int):
        for low, high, kind in _KLING_CODES:
            if low <= code <= high:
                return kind
    elif isinstance(code, str):
        lowered = code.lower()
        for word, kind in _GATEWAY_WORDS:
            if word in lowered:
                return kind
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    if status >= 500:
        return ErrorKind.SERVER
    return ErrorKind.BAD_RESPONSE


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    is_contain: bool
    url: str | None = None


class _TaskResult(BaseModel):
    model_config = ConfigDict(extra="ignore")
    images: list[_Item] = []


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")
    task_result: _TaskResult | None = None


class _GatewayError(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message: str | None = None
    code: int | str | None = None
    type: str | None = None


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")
    code: int | str | None = None
    message: str | None = None
    data: _Data | None = None
    request_id: str | None = None
    error: _GatewayError | str | None = None


def _numeric(code: int | str | None) -> int | str | None:
    if isinstance(code, str) and code.strip().lstrip("-").isdigit():
        return int(code)
    return code


# A cut-out's URL longer than this is no CDN's: it is not kept (nor cached).
MAX_CUTOUT_URL = 2048


def parse_response(status: int, headers: Mapping[str, str], raw: bytes) -> RecognitionResult:
    """Turn one HTTP answer into a result, or raise `RecognitionError`."""
    header_request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
    retry_after = parse_retry_after(headers.get("retry-after"))
    try:
        envelope = _Envelope.model_validate_json(raw)
    except ValidationError:
        snippet = raw[:80].decode("utf-8", "replace").replace("\n", " ")
        raise RecognitionError(
            classify(status, None) if status != 200 else ErrorKind.BAD_RESPONSE,
            status=status,
            request_id=header_request_id,
            detail=f"body is not the expected JSON: {snippet!r}",
            retry_after=retry_after,
        ) from None

    request_id = envelope.request_id or header_request_id
    code = _numeric(envelope.code)
    detail = envelope.message or ""
    if isinstance(envelope.error, _GatewayError):
        code = code if code is not None else _numeric(envelope.error.code or envelope.error.type)
        detail = envelope.error.message or detail
    elif isinstance(envelope.error, str):
        detail = envelope.error

    if status == 200 and code == 0 and envelope.error is None:
        if envelope.data is None or envelope.data.task_result is None:
            raise RecognitionError(
                ErrorKind.BAD_RESPONSE,
                status=status,
                code=code,
                request_id=request_id,
                detail="success without data.task_result",
            )
        items = envelope.data.task_result.images
        segments = {item.type: item.is_contain for item in items}
        cutouts = {
            item.type: item.url
            for item in items
            if item.url and item.is_contain and len(item.url) <= MAX_CUTOUT_URL
        }
        return RecognitionResult(
            MappingProxyType(segments), request_id, cutouts=MappingProxyType(cutouts)
        )

    kind = classify(status, code)
    if status == 200 and kind == ErrorKind.BAD_RESPONSE and code is None:
        detail = detail or "no code in the body"
    raise RecognitionError(
        kind,
        status=status,
        code=code,
        request_id=request_id,
        detail=detail,
        retry_after=retry_after,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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
        picks the HTTP client (bot/http_clients.py)."""
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
        self._http: _Exchange = (
            _HttpxExchange(headers, attempt_timeout, max_concurrent_calls)
            if proxied
            else _AiohttpExchange(headers, attempt_timeout, max_concurrent_calls)
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
        body = _Body(image)
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
                            result = await self._attempt(body)
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

    async def _attempt(self, body: _Body) -> RecognitionResult:
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


# pybase64's SIMD encoder takes 7 ms for a 10 MB image where the standard library's
# takes 17 ms. The image is encoded a piece at a time as the request is sent: the
# 13 MB body of a 10 MB image is never whole in memory, and each piece (1 MB) goes
# to the socket before the next is made, so asyncio's transport never buffers (and
# copies) megabytes. An image over one piece is encoded on worker threads, each piece
# while the one before it is sent, so the event loop keeps serving.
_BASE64_PIECE = 3 * 256 * 1024
_PREFIX = b'{"image":"'
_SUFFIX = b'"}'


@dataclass(frozen=True)
class _Body:
    """The JSON request body for `image`. Base64 has no characters JSON must escape, so
    it is the encoded image between two byte strings: no JSON encoder, no joined copy."""

    image: bytes

    @property
    def length(self) -> int:
        return len(_PREFIX) + 4 * -(-len(self.image) // 3) + len(_SUFFIX)

    async def parts(self) -> AsyncIterator[bytes]:
        view = memoryview(self.image)
        if len(view) <= _BASE64_PIECE:
            # One write (one send on the socket) for a photo's whole body.
            yield _PREFIX + pybase64.b64encode(view) + _SUFFIX
            return
        yield _PREFIX
        # The next piece is encoded while this one is being sent.
        pieces = [
            view[start : start + _BASE64_PIECE] for start in range(0, len(view), _BASE64_PIECE)
        ]
        upcoming = asyncio.ensure_future(asyncio.to_thread(pybase64.b64encode, pieces[0]))
        try:
            for following in [*pieces[1:], None]:
                encoded = await upcoming
                if following is not None:
                    upcoming = asyncio.ensure_future(
                        asyncio.to_thread(pybase64.b64encode, following)
                    )
                yield encoded
        finally:
            upcoming.cancel()
        yield _SUFFIX


class _Exchange(Protocol):
    """One POST of a request body: the answer's status, headers and body (at most
    `MAX_RESPONSE_BYTES`), or `RecognitionError` (TIMEOUT, NETWORK or BAD_RESPONSE).
    Timeouts count per step, as httpx counts them: connecting, each write of the body,
    each read of the answer; a 10 MB image on a slow link may take longer in all."""

    async def post(self, url: str, body: _Body) -> tuple[int, Mapping[str, str], bytes]: ...

    async def aclose(self) -> None: ...


class _AiohttpExchange:
    """Over aiohttp, when the API is reached directly: a photo's 200 KB request cost
    0.93 ms of CPU against httpx's 1.31 (client and server on one loop, median of 3 x
    600 requests)."""

    def __init__(
        self, headers: Mapping[str, str], attempt_timeout: float, connections: int
    ) -> None:
        self._headers = dict(headers)
        self._stall = attempt_timeout
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(attempt_timeout, 10.0), sock_read=attempt_timeout
        )
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: _Body) -> tuple[int, Mapping[str, str], bytes]:
        if self._session is None:  # made inside the running loop, as aiohttp wants
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._connections, ssl=http_clients.tls()),
            )
        try:
            # aiohttp's read timeout starts once the body is sent and it has no write
            # timeout: `stall` bounds each write instead, as httpx's write timeout does.
            async with asyncio.timeout(None) as stall:
                async with self._session.post(
                    url,
                    data=_paced(body.parts(), stall, self._stall),
                    headers={"Content-Length": str(body.length)},
                    allow_redirects=False,
                ) as response:
                    raw = await _read_bounded(response.content.iter_any(), response.status)
                    return response.status, response.headers, raw
        except TimeoutError as exc:
            detail = "write stalled" if stall.expired() else http_clients.describe(exc)
            raise RecognitionError(ErrorKind.TIMEOUT, detail=detail) from None
        except aiohttp.ClientError as exc:
            raise RecognitionError(ErrorKind.NETWORK, detail=http_clients.describe(exc)) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _paced(
    parts: AsyncIterator[bytes], stall: asyncio.Timeout, seconds: float
) -> AsyncIterator[bytes]:
    """The body's parts, each given `seconds` to be written: aiohttp asks for the next
    part once the one before is written (drained to the socket's buffer)."""
    loop = asyncio.get_running_loop()
    async for part in parts:
        stall.reschedule(loop.time() + seconds)
        yield part
    stall.reschedule(None)


class _HttpxExchange:
    """Over httpx, which reads the proxy variables (bot/http_clients.py)."""

    def __init__(
        self, headers: Mapping[str, str], attempt_timeout: float, connections: int
    ) -> None:
        self._client = httpx.AsyncClient(
            headers=dict(headers),
            timeout=httpx.Timeout(attempt_timeout, connect=min(attempt_timeout, 10.0)),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            # No transport of its own: given one, httpx would ignore HTTPS_PROXY and the
            # other proxy variables (tests/e2e/test_proxies.py).
        )

    async def post(self, url: str, body: _Body) -> tuple[int, Mapping[str, str], bytes]:
        try:
            async with self._client.stream(
                "POST", url, content=body.parts(), headers={"Content-Length": str(body.length)}
            ) as response:
                raw = await _read_bounded(response.aiter_bytes(), response.status_code)
                return response.status_code, response.headers, raw
        except httpx.TimeoutException as exc:
            raise RecognitionError(ErrorKind.TIMEOUT, detail=http_clients.describe(exc)) from None
        except httpx.TransportError as exc:
            raise RecognitionError(ErrorKind.NETWORK, detail=http_clients.describe(exc)) from None

    async def aclose(self) -> None:
        await self._client.aclose()


async def _read_bounded(chunks: AsyncIterator[bytes], status: int) -> bytes:
    read: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise RecognitionError(
                ErrorKind.BAD_RESPONSE,
                status=status,
                detail=f"response body over {MAX_RESPONSE_BYTES} bytes",
            )
        read.append(chunk)
    return b"".join(read)
