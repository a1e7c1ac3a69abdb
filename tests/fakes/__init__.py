"""Fake Telegram Bot API and fake recognition API, served for real on 127.0.0.1."""

from __future__ import annotations

from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.telegram import FakeBotApi


def bot_environment(telegram: FakeBotApi, kling: FakeRecognizer, api_key: str) -> dict[str, str]:
    """Environment variables that point a `python -m bot` process at the fakes."""
    return {
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "DEERAPI_API_KEY": api_key,
        "DEERAPI_BASE_URL": kling.base_url,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "TELEGRAM_FILE_BASE_URL": telegram.base_file_url,
    }
