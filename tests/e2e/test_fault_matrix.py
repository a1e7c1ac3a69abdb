"""Every way the API fails, through the whole bot: retried or not, the right sentence,
one log line with status, code and request_id, and operator alerts once per incident."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.app import BotService
from bot.config import Settings
from tests.fakes.recognizer import FakeRecognizer, Reply, kling_error
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg

CHAT = 4004
ADMIN_CHAT = -100999
MAX_ATTEMPTS = 3
BUSY = "The recognition service is busy right now. Please try again in a minute."
MISCONFIGURED = "The recognition service is not set up correctly on this bot."
POLICY = "The recognition service refused this image under its content policy."
INVALID = "The recognition service could not process this image. Please try another one."
UNREADABLE = "The recognition service gave an answer I could not read."


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"admin_chat_id": ADMIN_CHAT, "api_max_attempts": MAX_ATTEMPTS}
    )


def _failures(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.getMessage().startswith("recognition failed")]


async def _send_photo(telegram: FakeBotApi) -> str:
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))
    [reply] = await telegram.wait_sent(CHAT)
    return str(reply["text"])


@dataclass(frozen=True)
class KlingRow:
    status: int
    code: int
    sentence: str
    retried: bool
    operator: bool = False


KLING_TABLE = [
    *(KlingRow(401, code, MISCONFIGURED, False, True) for code in range(1000, 1005)),
    *(KlingRow(429, code, MISCONFIGURED, False, True) for code in range(1100, 1103)),
    KlingRow(403, 1103, MISCONFIGURED, False, True),
    KlingRow(400, 1200, INVALID, False),
    KlingRow(400, 1201, INVALID, False),
    KlingRow(404, 1202, MISCONFIGURED, False, True),
    KlingRow(404, 1203, MISCONFIGURED, False, True),
    KlingRow(400, 1300, POLICY, False),
    KlingRow(400, 1301, POLICY, False),
    KlingRow(429, 1302, BUSY, True),
    KlingRow(429, 1303, BUSY, True),
    KlingRow(429, 1304, MISCONFIGURED, False, True),
    KlingRow(500, 5000, BUSY, True),
    KlingRow(503, 5001, BUSY, True),
    KlingRow(504, 5002, BUSY, True),
]


@pytest.mark.parametrize("row", KLING_TABLE, ids=lambda r: f"{r.status}-{r.code}")
async def test_every_kling_code(
    row: KlingRow,
    bot: BotService,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    log_records: list[logging.LogRecord],
) -> None:
    kling.default = Reply(status=row.status, body=kling_error(row.code, "x", f"rid-{row.code}"))

    text = await _send_photo(telegram)

    assert text.startswith(row.sentence)
    assert len(kling.received) == (MAX_ATTEMPTS if row.retried else 1)
    [line] = _failures(log_records)
    assert f"status={row.status} code={row.code} request_id=rid-{row.code}" in line.getMessage()
    assert line.levelno == (logging.ERROR if row.operator else logging.WARNING)
    alerts = telegram.sent_to(ADMIN_CHAT)
    assert len(alerts) == (1 if row.operator else 0)
    if row.operator:
        assert f"request_id rid-{row.code}" in alerts[0]["text"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retried_then_answered(
    status: int, bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    kling.answer(Reply(status=status, body=b"<html><h1>Server Error</h1></html>"))

    text = await _send_photo(telegram)

    assert text.startswith("Found 4 of 4 segments")
    assert len(kling.received) == 2


@pytest.mark.parametrize(
    "retry_after",
    [
        "1",
        format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True),
    ],
    ids=["seconds", "http-date"],
)
async def test_429_with_retry_after_is_honoured(
    retry_after: str, bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    kling.answer(Reply(status=429, body={"message": "slow"}, headers={"Retry-After": retry_after}))

    text = await _send_photo(telegram)

    assert text.startswith("Found 4 of 4 segments")
    assert len(kling.received) == 2


async def test_hang_past_the_timeout_then_success(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    kling.answer(Reply(delay=3.0))  # the attempt timeout in tests is 2 s

    assert (await _send_photo(telegram)).startswith("Found 4 of 4")
    assert len(kling.received) == 2


async def test_api_that_always_hangs_gives_busy(
    bot: BotService,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    log_records: list[logging.LogRecord],
) -> None:
    kling.default = Reply(delay=3.0)

    assert (await _send_photo(telegram)) == BUSY
    [line] = _failures(log_records)
    assert "kind=timeout" in line.getMessage()


async def test_dropped_connection_then_success(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    kling.answer(Reply(drop=True))

    assert (await _send_photo(telegram)).startswith("Found 4 of 4")
    assert len(kling.received) == 2


async def test_html_error_page_under_200_is_not_retried(
    bot: BotService,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    log_records: list[logging.LogRecord],
) -> None:
    kling.default = Reply(status=200, body=b"<!doctype html><title>Gateway</title>")

    assert (await _send_photo(telegram)).startswith(UNREADABLE)
    assert len(kling.received) == 1
    [line] = _failures(log_records)
    assert "kind=bad_response status=200" in line.getMessage()


async def test_reseller_error_body_for_a_bad_key_alerts_once_per_incident(
    bot: BotService,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
) -> None:
    kling.default = Reply(
        status=401,
        body={"error": {"message": "invalid token", "type": "invalid_api_key"}},
        headers={"X-Request-Id": "gw-7"},
    )
    for count in (1, 2, 3):
        telegram.push(telegram.photo_update(CHAT, jpeg(640, 640, seed=count), 640, 640))
        replies = await telegram.wait_sent(CHAT, count)
        assert replies[-1]["text"].startswith(MISCONFIGURED)
    [alert] = telegram.sent_to(ADMIN_CHAT)
    assert "auth" in alert["text"]
    assert "request_id gw-7" in alert["text"]

    # A success ends the incident; the next failure is a new one.
    kling.answer(Reply())
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640, seed=4), 640, 640))
    await telegram.wait_sent(CHAT, 4)
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640, seed=5), 640, 640))
    await telegram.wait_sent(CHAT, 5)
    assert len(telegram.sent_to(ADMIN_CHAT)) == 2
