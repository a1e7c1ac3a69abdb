"""`python -m bot` while another process polls the same token: Telegram answers 409
Conflict to the superseded getUpdates. Persistent, the newcomer exits 2 with one line;
brief (an overlapping restart), it polls on and answers."""

from __future__ import annotations

import signal
from pathlib import Path

from bot.tg.conflict import LONG_POLL_TIMEOUT
from tests.conftest import API_KEY
from tests.e2e.processes import ENDS_WITHIN, assert_one_clean_line, bot_process, clean_environment
from tests.fakes import bot_environment
from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.telegram import FakeBotApi, Fault
from tests.imagegen import jpeg

CHAT = 4004
# Telegram's words to the superseded call.
CONFLICT = Fault(
    status=409,
    description="Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
)


def _environment(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path, **settings: str
) -> dict[str, str]:
    return clean_environment(
        **bot_environment(telegram, kling, API_KEY),
        DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
        **settings,
    )


async def test_a_second_poller_that_stays_in_conflict_exits_2_with_one_line(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path
) -> None:
    # More 409s than python-telegram-bot's backoff (1 s, x1.5 up to 30 s) asks for in 60 s.
    telegram.fail("getUpdates", *[CONFLICT] * 40)
    env = _environment(telegram, kling, tmp_path, LOG_LEVEL="ERROR")
    async with bot_process(env, cwd=tmp_path) as bot:
        status, lines, _ = await bot.end(within=LONG_POLL_TIMEOUT + ENDS_WITHIN)
    assert status == 2
    line = assert_one_clean_line(lines)
    assert line.startswith("configuration error: TELEGRAM_BOT_TOKEN")
    assert "another process is polling updates for this bot" in line
    assert "409 Conflict" in line
    polls = [call.at for call in telegram.calls_to("getUpdates")]
    assert polls[-1] - polls[0] > LONG_POLL_TIMEOUT, "gave up within one long-poll period"
    assert len(telegram.faults["getUpdates"]) > 0, "every poll it made was answered 409"


async def test_a_brief_conflict_during_an_overlapping_restart_is_not_fatal(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path
) -> None:
    # The old process stops polling after about 5 s of python-telegram-bot's backoff.
    telegram.fail("getUpdates", *[CONFLICT] * 4)
    env = _environment(telegram, kling, tmp_path)
    async with bot_process(env, cwd=tmp_path) as bot:
        await bot.wait_for("bot @segment_bot is running")
        await telegram.wait_until(lambda: not telegram.faults["getUpdates"], within=30)
        telegram.push(telegram.photo_update(CHAT, jpeg(800, 800), 800, 800))
        [answer] = await telegram.wait_sent(CHAT, within=30)
        assert answer["text"].startswith("Found 4 of 4 segments")
        assert bot.process.returncode is None, "the conflict ended the bot"
        bot.process.send_signal(signal.SIGTERM)
        status, lines, _ = await bot.end()
    assert status == 0
    assert any("Telegram is unavailable: HTTP 409 Conflict" in line for line in lines)
    assert not [line for line in lines if "Traceback" in line or "configuration error" in line]
