"""The recognition API's request on the wire: its JSON body encoded as it is sent, and one
POST over aiohttp (direct) or httpx (behind a proxy), its answer read through the one
bounded read (bot/http/bounded.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx
import pybase64

from bot.http import clients as http_clients
from bot.http.bounded import BodyTooLarge, read_bounded
from bot.recognition.errors import ErrorKind, RecognitionError

MAX_RESPONSE_BYTES = 1_000_000


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
class Body:
    """The JSON request body for `image`. Base64 has no characters JSON must escape, so
    it is the encoded image between two byte strings: no JSON encoder, no joined copy.
    `sent` is called once the last part has been handed to the connection: from then
    on the API has the call (bot/recognition/call_slots.py counts it as the API's)."""

    image: bytes
    sent: Callable[[], None]

    @property
    def length(self) -> int:
        return len(_PREFIX) + 4 * -(-len(self.image) // 3) + len(_SUFFIX)

    async def parts(self) -> AsyncIterator[bytes]:
        view = memoryview(self.image)
        if len(view) <= _BASE64_PIECE:
            # One write (one send on the socket) for a photo's whole body.
            yield _PREFIX + pybase64.b64encode(view) + _SUFFIX
        else:
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
        # Both clients ask for a part after the last only once that one is written
        # (aiohttp) or handed to the connection (httpx), and read the answer after.
        self.sent()


class Exchange(Protocol):
    """One POST of a request body: the answer's status, headers and body (at most
    `MAX_RESPONSE_BYTES`), or `RecognitionError` (TIMEOUT, NETWORK or BAD_RESPONSE).
    Timeouts count per step, as httpx counts them: connecting, each write of the body,
    each read of the answer; a 10 MB image on a slow link may take longer in all."""

    async def post(self, url: str, body: Body) -> tuple[int, Mapping[str, str], bytes]: ...

    async def aclose(self) -> None: ...


class AiohttpExchange:
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

    async def post(self, url: str, body: Body) -> tuple[int, Mapping[str, str], bytes]:
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
                    raw = await _read_answer(response.content.iter_any(), response.status)
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


class HttpxExchange:
    """Over httpx, which reads the proxy variables (bot/http/clients.py)."""

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

    async def post(self, url: str, body: Body) -> tuple[int, Mapping[str, str], bytes]:
        try:
            async with self._client.stream(
                "POST", url, content=body.parts(), headers={"Content-Length": str(body.length)}
            ) as response:
                raw = await _read_answer(response.aiter_bytes(), response.status_code)
                return response.status_code, response.headers, raw
        except httpx.TimeoutException as exc:
            raise RecognitionError(ErrorKind.TIMEOUT, detail=http_clients.describe(exc)) from None
        except httpx.TransportError as exc:
            raise RecognitionError(ErrorKind.NETWORK, detail=http_clients.describe(exc)) from None

    async def aclose(self) -> None:
        await self._client.aclose()


async def _read_answer(chunks: AsyncIterator[bytes], status: int) -> bytes:
    try:
        return await read_bounded(chunks, MAX_RESPONSE_BYTES)
    except BodyTooLarge:
        raise RecognitionError(
            ErrorKind.BAD_RESPONSE,
            status=status,
            detail=f"response body over {MAX_RESPONSE_BYTES} bytes",
        ) from None
