"""A running bot, in-process, wired to the fake servers through its real HTTP layers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import BotService
from bot.config import Settings
from tests.e2e.harness import running


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[BotService]:
    """The real BotService polling the fake Bot API until the test ends."""
    async with running(await BotService.open(settings)) as service:
        yield service
