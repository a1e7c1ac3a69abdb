"""Entry point: `python -m bot` runs the bot until Ctrl-C or SIGTERM; `python -m bot
check FILE...` checks images without Telegram (bot/cli.py); `--help` tells the rest.

Start-up failures end the process with one line on stderr and a status (bot/startup.py):
2 for a wrong setting, 1 for a service still unreachable after STARTUP_RETRY_SECONDS.
A second process polling the same token ends the same way with status 2, after one
long-poll period of 409 Conflict (bot/tg/application.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence

from telegram.error import TelegramError

from bot import DISTRIBUTION, version
from bot.app import BotService
from bot.cli import parse_args, run_check
from bot.config import ConfigError, Settings, load_settings
from bot.logs import RedactingFormatter, configure_logging
from bot.startup import (
    EXIT_CONFIG,
    EXIT_UNREACHABLE,
    StartupFailure,
    check_proxies,
    describe,
    proxies_only_in,
    retrying,
)
from bot.tg.startup import connect

logger = logging.getLogger("bot")
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 1024 * 1024


def return_large_buffers_to_the_os() -> None:
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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # A stop during start-up (docker stop while Redis is still down) ends the retries.
    starting = asyncio.create_task(_start(settings))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        logger.info("stopped before start-up was complete")
        return
    service = starting.result()
    _freeze_what_lives_on()
    await service.run(stop)


def _freeze_what_lives_on() -> None:
    """Keep the cyclic collector away from what start-up left alive (modules, classes,
    the application), which lives as long as the process: a full collection of those
    objects took 27-45 ms, a stall of the event loop and of every photo in flight (it
    was the slowest of 20 documents in the overhead bench). Start-up's garbage goes
    first, so none of it is kept for good; later collections scan only what came since.
    """
    gc.collect()
    gc.freeze()


async def _start(settings: Settings) -> BotService:
    """Open the storage and reach the Bot API, each retried until the start-up deadline."""
    deadline = asyncio.get_running_loop().time() + settings.startup_retry_seconds
    service = await retrying(lambda: BotService.open(settings), deadline=deadline)
    try:
        await retrying(lambda: connect(service.app, settings), deadline=deadline)
    except BaseException:
        await service.close()
        raise
    return service


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (everywhere but Windows), else asyncio's own.

    The bot spends its CPU in the event loop and its HTTP clients: on uvloop a photo's
    overhead fell from 10.6 to 10.0 ms and a 9.8 MB document's from 65 to 56 ms (bench/).
    """
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (no command: the bot); return the process exit status."""
    args = parse_args(argv)
    if args.command == "check":
        return run_check(args)
    try:
        settings = load_settings()
        check_proxies(os.environ)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.secrets(), settings.log_format)
    logger.info("%s %s starting: %s", DISTRIBUTION, version(), describe(settings))
    if ignored := proxies_only_in(".env", os.environ):
        logger.warning("%s", ignored)
    return_large_buffers_to_the_os()
    redact = RedactingFormatter(settings.secrets()).redact
    try:
        with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
            runner.run(_serve(settings))
    except StartupFailure as failure:
        print(redact(failure.line()), file=sys.stderr)
        return failure.exit_status
    except TelegramError as exc:
        # A Bot API call after getMe (the menus, deleteWebhook) failed before serving.
        line = f"cannot start: the Bot API at {settings.telegram_api_base_url} failed: {exc}"
        print(redact(" ".join(line.split())), file=sys.stderr)
        return EXIT_UNREACHABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
