"""A hostile or broken Telegram, byte by byte: both HTTP layers of the Bot API (aiohttp's
AiohttpRequest, httpx's HTTPXRequest) and both download clients meet the same raw answers
from a TCP server on 127.0.0.1 and must come out of them the same way: the same
telegram.error type or the same status and body, the same note on the health
`Dependency`, and no token in any exception's text."""

from __future__ import annotations

import asyncio
import socket
import struct
import traceback
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
from telegram.error import NetworkError
from telegram.request import BaseRequest, HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.health import Dependency
from bot.photo.rules import TooLargeToDownload
from bot.tg import download
from bot.tg.application import ObservedRequest
from bot.tg.transport import AiohttpRequest
from tests.conftest import TOKEN

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
JSON = b'{"ok":true,"result":true}'
TIMEOUT = 0.5
MB = 1024 * 1024


class RawServer:
    """Answers every connection on 127.0.0.1 with `script`; counts requests and bytes."""

    def __init__(self) -> None:
        self.script: Script = answer(JSON)
        self.requests = 0
        self.sent = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        # Room for a request line of 70 KB (a hostile file path).
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=MB)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await read_request(reader)
            self.requests += 1
            await self.script(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await self._server.wait_closed()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


async def read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            await reader.readexactly(int(value))


def answer(body: bytes, *headers: str, status: str = "200 OK", version: str = "1.1") -> Script:
    """A whole answer: status line, headers (Content-Length unless given), body."""

    async def script(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines = [f"HTTP/{version} {status}", *headers]
        framed = any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers)
        if not framed and version == "1.1":
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await finish(writer, "close" if version == "1.0" else "stall")

    return script


async def finish(writer: asyncio.StreamWriter, how: str) -> None:
    """Send what was written, then close, reset (RST) or stall."""
    await writer.drain()
    if how == "reset":
        await asyncio.sleep(0.05)  # the client reads what came before the RST first
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    elif how == "close":
        writer.close()
    else:
        await asyncio.sleep(30)


async def close_at_once(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await finish(writer, "close")


async def reset_at_once(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await finish(writer, "reset")


def part_then(how: str) -> Script:
    """Headers for 100,000 bytes, 1,000 of them, then `how`: close, reset or stall."""

    async def script(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        await finish(writer, how)

    return script


async def headers_then_stall(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    await finish(writer, "stall")


async def silence(_: asyncio.StreamReader, __: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)


async def garbage_chunks(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
    await finish(writer, "stall")


class Endless:
    """`total` bytes announced, sent while the client reads; counts what went."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __call__(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {self.total}\r\n\r\n".encode())
        block = b"\xff" * 65536
        while self.sent < self.total:
            writer.write(block)
            await writer.drain()
            self.sent += len(block)
        await asyncio.sleep(30)


@pytest.fixture
async def raw() -> AsyncIterator[RawServer]:
    started = RawServer()
    await started.start()
    yield started
    await started.close()


@dataclass
class Api:
    layer: BaseRequest
    observed: ObservedRequest
    telegram: Dependency


@pytest.fixture(params=["aiohttp", "httpx"])
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    layer: BaseRequest
    if request.param == "aiohttp":
        layer = AiohttpRequest(
            connection_pool_size=2, connect_timeout=TIMEOUT, read_timeout=TIMEOUT, pool_timeout=1
        )
    else:
        layer = HTTPXRequest(
            connection_pool_size=2,
            connect_timeout=TIMEOUT,
            read_timeout=TIMEOUT,
            write_timeout=TIMEOUT,
            pool_timeout=1,
        )
    telegram = Dependency("telegram")
    observed = ObservedRequest(layer, telegram)
    await observed.initialize()
    yield Api(layer, observed, telegram)
    await observed.shutdown()


@pytest.fixture(params=["aiohttp", "httpx"])
async def getter(request: pytest.FixtureRequest) -> AsyncIterator[download._Getter]:
    made: download._Getter = (
        download._AiohttpGetter(TIMEOUT, 2)
        if request.param == "aiohttp"
        else download._HttpxGetter(TIMEOUT, 2)
    )
    yield made
    await made.aclose()


def params() -> RequestData:
    return RequestData([RequestParameter.from_input("chat_id", 5)])


def api_url(raw: RawServer) -> str:
    return raw.url(f"/bot{TOKEN}/getMe")


def file_url(raw: RawServer) -> str:
    return raw.url(f"/file/bot{TOKEN}/photos/file_1.jpg")


def assert_no_token(exc: BaseException) -> None:
    """Neither the exception's text nor its traceback as a log line with exc_info would
    show it (chained causes included) holds the token."""
    shown = "".join(traceback.format_exception(exc))
    assert TOKEN not in shown, shown[-2000:]


async def api_outcome(api: Api, url: str) -> tuple[str, str]:
    """(the status and body, or the telegram.error raised; what the Dependency says)."""
    try:
        status, body = await api.observed.do_request(url, "POST", params())
    except NetworkError as exc:  # TimedOut included
        assert_no_token(exc)
        return type(exc).__name__, api.telegram.report()["state"]
    return f"{status} {body.decode()}", api.telegram.report()["state"]


async def download_outcome(getter: download._Getter, url: str, limit: int = 100_000) -> str:
    """The bytes read, or the error raised (its type)."""
    try:
        data = await getter(url, limit)
    except (NetworkError, TooLargeToDownload) as exc:
        assert_no_token(exc)
        return type(exc).__name__
    return data.decode()


FAILED = ("NetworkError", "down")
TIMED_OUT = ("TimedOut", "down")
ANSWERED = (f"200 {JSON.decode()}", "up")

# name: (what the server does, the outcome for the Bot API, the outcome for a download)
SAME: dict[str, tuple[Script, tuple[str, str], str]] = {
    "closes before answering": (close_at_once, FAILED, "_TryAgain"),
    "resets before answering": (reset_at_once, FAILED, "_TryAgain"),
    "closes mid-body (Content-Length too large)": (part_then("close"), FAILED, "_TryAgain"),
    "resets mid-body": (part_then("reset"), FAILED, "_TryAgain"),
    "stalls mid-body": (part_then("stall"), TIMED_OUT, "_TryAgain"),
    "sends headers then stalls": (headers_then_stall, TIMED_OUT, "_TryAgain"),
    "never answers": (silence, TIMED_OUT, "_TryAgain"),
    "garbage chunk sizes": (garbage_chunks, FAILED, "_TryAgain"),
    "illegal status line": (answer(JSON, status="abc"), FAILED, "_TryAgain"),
    "two Content-Lengths": (
        answer(JSON, f"Content-Length: {len(JSON)}", "Content-Length: 5"),
        FAILED,
        "_TryAgain",
    ),
    "negative Content-Length": (answer(JSON, "Content-Length: -1"), FAILED, "_TryAgain"),
    "HTTP/1.0, no Content-Length, body until close": (
        answer(JSON, version="1.0"),
        ANSWERED,
        JSON.decode(),
    ),
    # The Bot API's answers are inflated by both clients; a download is kept as served.
    "gzip that is not gzip": (
        answer(b"not gzip", "Content-Encoding: gzip"),
        FAILED,
        "not gzip",
    ),
    "deflate that is not deflate": (
        answer(b"not deflate", "Content-Encoding: deflate"),
        FAILED,
        "not deflate",
    ),
    "an encoding nobody knows": (
        answer(b"plain", "Content-Encoding: weird"),
        ("200 plain", "up"),
        "plain",
    ),
    # Neither follows a redirect: the library reads the 3xx, a download refuses it.
    "302 redirect": (
        answer(b"", "Location: /elsewhere", status="302 Found"),
        ("302 ", "up"),
        "BadRequest",
    ),
    "301 redirect": (
        answer(b"", "Location: /elsewhere", status="301 Moved Permanently"),
        ("301 ", "up"),
        "BadRequest",
    ),
    "status 999": (answer(JSON, status="999 Odd"), (f"999 {JSON.decode()}", "down"), "_TryAgain"),
    "headers of 4 KB": (answer(JSON, "X-Long: " + "a" * 4000), ANSWERED, JSON.decode()),
}


@pytest.mark.parametrize("name", list(SAME))
async def test_the_bot_api_layers_come_out_of_a_broken_answer_alike(
    raw: RawServer, api: Api, name: str
) -> None:
    raw.script, expected, _ = SAME[name]
    assert await api_outcome(api, api_url(raw)) == expected
    assert raw.requests == 1, "a request to the Bot API is never sent twice, nor redirected"


@pytest.mark.parametrize("name", list(SAME))
async def test_the_download_clients_come_out_of_a_broken_answer_alike(
    raw: RawServer, getter: download._Getter, name: str
) -> None:
    raw.script, _, expected = SAME[name]
    assert await download_outcome(getter, file_url(raw)) == expected


# name: (what the server does, aiohttp's outcome, httpx's outcome) for the Bot API
DIFFER: dict[str, tuple[Script, tuple[str, str], tuple[str, str]]] = {
    # aiohttp refuses a header line past 8190 bytes or more than 128 headers; httpx takes
    # 100 KB of headers. Telegram sends a dozen short ones.
    "a header of 10 KB": (answer(JSON, "X-Long: " + "a" * 10_000), FAILED, ANSWERED),
    "200 headers": (answer(JSON, *[f"X-H{i}: v" for i in range(200)]), FAILED, ANSWERED),
    # Neither asks for br; aiohttp (no brotli installed) refuses it, httpx passes it on
    # and the library then fails to read it as JSON.
    "br, never asked for": (
        answer(b"not br", "Content-Encoding: br"),
        FAILED,
        ("200 not br", "up"),
    ),
    # Both: aiohttp refuses the pair at once, h11 reads a chunk size that never ends.
    "Content-Length and chunked at once": (
        answer(JSON, "Content-Length: 3", "Transfer-Encoding: chunked"),
        FAILED,
        TIMED_OUT,
    ),
}


@pytest.mark.parametrize("name", list(DIFFER))
async def test_where_the_bot_api_layers_part(raw: RawServer, api: Api, name: str) -> None:
    raw.script, by_aiohttp, by_httpx = DIFFER[name]
    expected = by_aiohttp if isinstance(api.layer, AiohttpRequest) else by_httpx
    assert await api_outcome(api, api_url(raw)) == expected


@pytest.fixture
def unanswered() -> Iterator[str]:
    """An address on 127.0.0.1 whose listener's backlog is full: a connection to it is
    neither accepted nor refused (the kernel drops the SYN), so it can only time out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filling = []
    for _ in range(4):
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        filling.append(client)
    yield f"http://127.0.0.1:{port}"
    for client in filling:
        client.close()
    listener.close()


async def test_a_connection_never_accepted_times_out_in_both(api: Api, unanswered: str) -> None:
    assert await api_outcome(api, f"{unanswered}/bot{TOKEN}/getMe") == TIMED_OUT


async def test_a_download_never_accepted_is_tried_again_in_both(
    getter: download._Getter, unanswered: str
) -> None:
    url = f"{unanswered}/file/bot{TOKEN}/photos/file_1.jpg"
    assert await download_outcome(getter, url) == "_TryAgain"


@pytest.mark.parametrize("announced", [30 * MB, 1024 * MB])
async def test_a_download_past_the_limit_stops_reading_with_memory_bounded(
    raw: RawServer, getter: download._Getter, announced: int
) -> None:
    limit = 20 * MB
    served = Endless(announced)
    raw.script = served
    tracemalloc.start()
    try:
        assert await download_outcome(getter, file_url(raw), limit) == "TooLargeToDownload"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The chunks under the limit, and a few reads' worth more; never the whole body.
    assert peak < limit + 4 * MB
    # What the kernel's buffers took after the client stopped reading is all that went.
    assert served.sent < limit + 64 * MB


def not_found(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Awaitable[None]:
    return answer(b"", status="404 Not Found")(_, writer)


@pytest.mark.parametrize(
    "file_path",
    ["photos/a\nb.jpg", "photos/a\x00b.jpg", "photos/a\tb.jpg", "photos/" + "a" * 70_000],
    ids=["newline", "nul", "tab", "70 KB"],
)
async def test_a_file_path_no_url_can_hold_is_refused_by_both(
    raw: RawServer, getter: download._Getter, file_path: str
) -> None:
    """getFile's file_path is Telegram's to choose; a broken one (a control character, a
    URL past httpx's 64 KB) is refused like a file Telegram has not got, never retried,
    never an error of httpx's own reaching the pipeline."""
    raw.script = not_found
    assert await download_outcome(getter, raw.url(f"/file/bot{TOKEN}/{file_path}")) == "BadRequest"
