"""The API client against the fake API over real HTTP: parsing, errors, retries, bounds."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from bot.recognition.client import Recognizer, RetryPolicy
from bot.recognition.errors import ErrorKind, RecognitionError, classify
from bot.recognition.parsing import parse_response, parse_retry_after
from bot.recognition.results import Segment
from tests.conftest import API_KEY
from tests.fakes.recognizer import FakeRecognizer, Reply, kling_error, success

IMAGE = b"\xff\xd8 pretend jpeg bytes \xff\xd9"


@pytest.fixture(params=[False, True], ids=["aiohttp", "httpx"])
def proxied(request: pytest.FixtureRequest) -> bool:
    """Each test runs on both HTTP clients: aiohttp's (direct) and httpx's (proxy variables
    set)."""
    return bool(request.param)


@pytest.fixture
async def client(kling: FakeRecognizer, proxied: bool) -> AsyncIterator[Recognizer]:
    async with Recognizer(
        base_url=kling.base_url + "/",
        api_key=API_KEY,
        attempt_timeout=0.5,
        max_concurrent_calls=2,
        policy=RetryPolicy(max_attempts=3, base_delay=0.01, total_deadline=5),
        proxied=proxied,
    ) as recognizer:
        yield recognizer


def _parse(status: int, body: object, headers: dict[str, str] | None = None) -> object:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_response(status, httpx.Headers(headers or {}), raw)


# -- parsing -------------------------------------------------------------


def test_items_are_read_by_type_and_extras_ignored() -> None:
    body = success(head=False, face=True, extra={"hand_seg": True})
    body["data"]["task_result"]["images"].reverse()
    body["surprise"] = {"nested": 1}
    result = _parse(200, body)
    assert result.contains(Segment.FACE) is True  # type: ignore[attr-defined]
    assert result.contains(Segment.HEAD) is False  # type: ignore[attr-defined]
    assert result.segments["hand_seg"] is True  # type: ignore[attr-defined]
    assert result.request_id == "req-ok"  # type: ignore[attr-defined]


def test_request_id_may_be_absent_and_a_segment_unreported() -> None:
    body = success(request_id=None)
    del body["data"]["task_result"]["images"][1]
    result = _parse(200, body)
    assert result.request_id is None  # type: ignore[attr-defined]
    assert result.contains(Segment.FACE) is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (200, kling_error(1301), ErrorKind.CONTENT_POLICY, 1301),
        (200, {"code": "1102", "message": "arrears"}, ErrorKind.ACCOUNT, 1102),
        (401, {"error": {"message": "bad key", "type": "invalid_api_key"}}, ErrorKind.AUTH, None),
        (
            429,
            {"error": {"message": "quota", "code": "insufficient_user_quota"}},
            ErrorKind.ACCOUNT,
            "insufficient_user_quota",
        ),
        (429, {"error": "slow down"}, ErrorKind.RATE_LIMITED, None),
        (502, b"<html>Bad Gateway</html>", ErrorKind.SERVER, None),
        (200, b"<html>oops</html>", ErrorKind.BAD_RESPONSE, None),
        (200, {"code": 0, "message": "SUCCEED"}, ErrorKind.BAD_RESPONSE, 0),
        (200, {"message": "no code"}, ErrorKind.BAD_RESPONSE, None),
    ],
)
def test_failure_shapes_are_all_understood(
    status: int, body: object, kind: ErrorKind, code: object
) -> None:
    with pytest.raises(RecognitionError) as caught:
        _parse(status, body, {"X-Request-Id": "hdr-1"})
    assert caught.value.kind is kind
    assert caught.value.status == status
    if code is not None:
        assert caught.value.code == code
    assert caught.value.request_id in ("req-err", "hdr-1")


@pytest.mark.parametrize(
    ("status", "code", "kind", "retryable"),
    [
        (401, 1000, ErrorKind.AUTH, False),
        (401, 1004, ErrorKind.AUTH, False),
        (429, 1100, ErrorKind.ACCOUNT, False),
        (429, 1102, ErrorKind.ACCOUNT, False),
        (403, 1103, ErrorKind.PERMISSION, False),
        (400, 1200, ErrorKind.INVALID_REQUEST, False),
        (400, 1201, ErrorKind.INVALID_REQUEST, False),
        (404, 1202, ErrorKind.NOT_FOUND, False),
        (404, 1203, ErrorKind.NOT_FOUND, False),
        (400, 1300, ErrorKind.CONTENT_POLICY, False),
        (400, 1301, ErrorKind.CONTENT_POLICY, False),
        (429, 1302, ErrorKind.RATE_LIMITED, True),
        (429, 1303, ErrorKind.RATE_LIMITED, True),
        (429, 1304, ErrorKind.IP_BLOCKED, False),
        (500, 5000, ErrorKind.SERVER, True),
        (503, 5001, ErrorKind.SERVER, True),
        (504, 5002, ErrorKind.SERVER, True),
        (502, None, ErrorKind.SERVER, True),
        (429, None, ErrorKind.RATE_LIMITED, True),
    ],
)
def test_kling_error_table(status: int, code: int | None, kind: ErrorKind, retryable: bool) -> None:
    assert classify(status, code) is kind
    assert RecognitionError(kind).retryable is retryable


def test_retry_after_in_seconds_and_as_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (parse_retry_after(later) or 0) <= 30
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# -- over HTTP -----------------------------------------------------------


async def test_request_carries_the_key_and_raw_base64(
    client: Recognizer, kling: FakeRecognizer
) -> None:
    result = await client.recognize(IMAGE)
    assert result.contains(Segment.OBJECT) is True
    [request] = kling.received
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.image == base64.b64encode(IMAGE).decode()
    assert request.decoded == IMAGE


@pytest.mark.parametrize("size", [1, 2, 786_431, 786_432, 786_433, 2_500_001])
async def test_a_body_sent_in_pieces_is_the_whole_image_in_base64(
    client: Recognizer, kling: FakeRecognizer, size: int
) -> None:
    image = bytes(n % 251 for n in range(size))
    kling.answer(Reply(status=503, body={"code": None, "message": "busy"}))
    await client.recognize(image)
    assert [request.decoded == image for request in kling.received] == [True, True], (
        "a retry sends the whole body again"
    )
    assert kling.received[0].headers["Content-Length"] == str(len(kling.received[0].image) + 12)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_transient_statuses_are_retried(
    client: Recognizer, kling: FakeRecognizer, status: int
) -> None:
    kling.answer(Reply(status=status, body={"code": None, "message": "busy"}))
    await client.recognize(IMAGE)
    assert len(kling.received) == 2


async def test_out_of_balance_429_is_not_retried_and_logged_at_error(
    client: Recognizer, kling: FakeRecognizer, log_records: list[logging.LogRecord]
) -> None:
    kling.default = Reply(status=429, body=kling_error(1101, "arrears", "req-9"))
    with pytest.raises(RecognitionError) as caught:
        await client.recognize(IMAGE)
    assert caught.value.operator_problem
    assert len(kling.received) == 1
    [line] = [r for r in log_records if r.getMessage().startswith("recognition failed")]
    assert line.levelno == logging.ERROR
    assert "status=429 code=1101 request_id=req-9" in line.getMessage()


async def test_gives_up_after_the_attempt_limit(
    client: Recognizer, kling: FakeRecognizer, log_records: list[logging.LogRecord]
) -> None:
    kling.default = Reply(status=503, body=kling_error(5001, "maintenance"))
    with pytest.raises(RecognitionError) as caught:
        await client.recognize(IMAGE)
    assert caught.value.kind is ErrorKind.SERVER
    assert len(kling.received) == 3
    failures = [r for r in log_records if r.getMessage().startswith("recognition failed")]
    assert len(failures) == 1, "a failure is logged once, however many attempts"


async def test_retry_after_is_honoured(client: Recognizer, kling: FakeRecognizer) -> None:
    kling.answer(Reply(status=429, body={"message": "slow"}, headers={"Retry-After": "0.3"}))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.recognize(IMAGE)
    assert loop.time() - started >= 0.3
    assert len(kling.received) == 2


async def test_retry_after_beyond_the_cap_gives_up_at_once(
    client: Recognizer, kling: FakeRecognizer
) -> None:
    kling.answer(Reply(status=429, body={"message": "slow"}, headers={"Retry-After": "120"}))
    with pytest.raises(RecognitionError) as caught:
        await client.recognize(IMAGE)
    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert len(kling.received) == 1


async def test_hang_past_the_timeout_is_retried(client: Recognizer, kling: FakeRecognizer) -> None:
    kling.answer(Reply(delay=2.0))
    result = await client.recognize(IMAGE)
    assert result.contains(Segment.HEAD) is True
    assert len(kling.received) == 2


async def test_dropped_connection_is_retried(client: Recognizer, kling: FakeRecognizer) -> None:
    kling.answer(Reply(drop=True))
    await client.recognize(IMAGE)
    assert len(kling.received) == 2


async def test_unreachable_api_is_a_network_error(proxied: bool) -> None:
    async with Recognizer(
        base_url="http://127.0.0.1:9",
        api_key=API_KEY,
        attempt_timeout=0.5,
        max_concurrent_calls=1,
        policy=RetryPolicy(max_attempts=2, base_delay=0.01),
        proxied=proxied,
    ) as recognizer:
        with pytest.raises(RecognitionError) as caught:
            await recognizer.recognize(IMAGE)
    assert caught.value.kind is ErrorKind.NETWORK


async def test_an_upload_the_api_stops_reading_times_out_and_is_retried(proxied: bool) -> None:
    """A server that takes the connection but never reads the body: the socket's buffers
    fill and the write stalls. Each attempt ends after the attempt timeout (aiohttp has no
    write timeout of its own), not at the photo's deadline."""
    connections = 0
    held: list[asyncio.StreamWriter] = []

    async def never_read(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        held.append(writer)

    server = await asyncio.start_server(never_read, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    image = bytes(12 * 1024 * 1024)  # 16 MB of Base64: more than loopback buffers hold
    try:
        async with Recognizer(
            base_url=f"http://127.0.0.1:{port}",
            api_key=API_KEY,
            attempt_timeout=0.3,
            max_concurrent_calls=1,
            policy=RetryPolicy(max_attempts=2, base_delay=0.01, total_deadline=3),
            proxied=proxied,
        ) as recognizer:
            with pytest.raises(RecognitionError) as caught:
                await recognizer.recognize(image)
    finally:
        for writer in held:
            writer.transport.abort()
        server.close()
        await server.wait_closed()
    assert caught.value.kind is ErrorKind.TIMEOUT
    assert connections == 2  # the first attempt timed out; the deadline did not end it


async def test_simultaneous_calls_are_bounded(client: Recognizer, kling: FakeRecognizer) -> None:
    kling.default = Reply(delay=0.1)
    await asyncio.gather(*(client.recognize(IMAGE) for _ in range(8)))
    assert kling.peak_in_flight == 2
    assert len(kling.received) == 8


async def test_total_deadline_bounds_all_attempts(kling: FakeRecognizer, proxied: bool) -> None:
    kling.default = Reply(delay=1.0)
    async with Recognizer(
        base_url=kling.base_url,
        api_key=API_KEY,
        attempt_timeout=5,
        max_concurrent_calls=1,
        policy=RetryPolicy(max_attempts=5, total_deadline=0.3),
        proxied=proxied,
    ) as recognizer:
        with pytest.raises(RecognitionError) as caught:
            await recognizer.recognize(IMAGE)
    assert caught.value.kind is ErrorKind.TIMEOUT


async def test_the_fake_api_flags_a_url_instead_of_base64(kling: FakeRecognizer) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(
            kling.base_url + "/kling/v1/videos/image-recognize",
            json={"image": "https://api.telegram.org/file/bot123:abc/photos/1.jpg"},
        )
    assert kling.violations == [
        "image is not raw Base64: 'https://api.telegram.org/file/bot123:abc/photos/1.jpg'"
    ]
    kling.violations.clear()
