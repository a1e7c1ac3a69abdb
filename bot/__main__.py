"""Entry point: `python -m bot` runs the bot with long polling until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import signal
import sys

from telegram.error import InvalidToken, NetworkError

from bot.app import BotService
from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure_logging

EXIT_CONFIG = 2
EXIT_UNREACHABLE = 1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 1024 * 1024


def _return_large_buffers_to_the_os() -> None:
    """Pin glibc's mmap threshold so multi-megabyte image buffers are unmapped when freed.

    By default glibc raises the threshold after each large free, so later
    15 MB buffers come from the heap and stay resident after they die: with 50
    large documents at once that left the process ~175 MB above its live set.
    """
    libc_name = ctypes.util.find_library("c")
    if sys.platform != "linux" or libc_name is None:
        return
    mallopt = getattr(ctypes.CDLL(libc_name), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)


async def _serve(settings: Settings) -> None:
    service = await BotService.open(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await service.run(stop)


def main() -> int:
    """Run the bot; return the process exit status."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.secrets(), settings.log_format)
    _return_large_buffers_to_the_os()
    try:
        asyncio.run(_serve(settings))
    except InvalidToken:
        # The library's message quotes the token; say it in our own words.
        print("configuration error: TELEGRAM_BOT_TOKEN was rejected by Telegram", file=sys.stderr)
        return EXIT_CONFIG
    except NetworkError as exc:
        print(f"cannot reach the Telegram Bot API: {type(exc).__name__}", file=sys.stderr)
        return EXIT_UNREACHABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
