"""The image's HEALTHCHECK command, `python -m bot.healthcheck`, against the real bot polling."""

from __future__ import annotations

import asyncio
import os
import sys

from bot.app import BotService
from bot.config import Settings
from tests.conftest import free_port
from tests.e2e.harness import running


async def healthcheck(port: int) -> tuple[int | None, str]:
    """Run the check as Docker does; its exit status and stderr."""
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    env = os.environ | {
        "HTTP_LISTEN": "127.0.0.1",
        "HTTP_PORT": str(port),
        # Set for the bot's own outgoing calls; the local probe must not go through it.
        "HTTP_PROXY": dead_proxy,
        "http_proxy": dead_proxy,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.healthcheck",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    return process.returncode, stderr.decode()


async def test_a_polling_bot_with_a_port_is_healthy_and_a_stopped_one_is_not(
    settings: Settings,
) -> None:
    port = free_port()
    polling = settings.model_copy(update={"http_listen": "127.0.0.1", "http_port": port})
    assert polling.webhook_url is None
    async with running(await BotService.open(polling)):
        assert await healthcheck(port) == (0, "")

    status, stderr = await healthcheck(port)

    assert status == 1
    assert stderr.startswith(f"unhealthy: http://127.0.0.1:{port}/livez: ")
    assert stderr.count("\n") == 1, "one line, no traceback"
