"""`python -m bot`'s command line: with no command it runs the bot; `check FILE...` runs
image files through the bot's own rules, conversions and API client, without Telegram.
A folder stands for every file under it (hidden ones aside), in sorted order
(bot/check_input.py).

`check` reads the DEERAPI_*, API_* and TELEGRAM_LOCAL_MODE settings (from the
environment and `.env`, as the bot does) and never needs TELEGRAM_BOT_TOKEN. For each
file it prints what the bot would send (format, bytes, pixel size, what it changed) and
the sentence a person would read: the summary, or why the image is refused; or, when the
API failed, what failed and what to look at (DNS, refused, TLS, timeout, the key), not
the person's "busy". `--offline` checks and converts but calls no API (no key needed).
What the decoders wrote to stderr while a file was checked (libtiff and Pillow warnings)
is counted under its name; `--verbose` shows the lines.

Exit status: 0 every file recognized (offline: every file would be sent), 1 some file
refused, 2 usage (a missing file, no DEERAPI_API_KEY without --offline, a malformed
setting), 3 the API failed for some file (this wins over 1).

`--json` prints one JSON object instead:
    {"exit_status": 0,
     "files": [{"file": "a.heic",
                "outcome": "recognized" | "accepted" | "refused" | "failed",
                "bytes": 1234567,
                "sent": {"format": "HEIF", "mime": "image/jpeg", "bytes": 812345,
                         "width": 4032, "height": 3024, "changes": ["converted"]} | null,
                "segments": {"head_seg": true, ...} | null,
                "request_id": "..." | null,
                "refusal": "TooSmall" | null,
                "error": {"kind": "auth", "status": 401, "code": 1000,
                          "request_id": "...", "detail": "..."} | null,
                "message": "the sentence a person would read (failed: the operator's)",
                "warnings": ["what a decoder warned of", ...]}]}
"accepted" is --offline's "would be sent"; "sent" is null when the file is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot import DISTRIBUTION, version
from bot.check_input import StderrCapture, expand, python_warnings
from bot.clock import utc_now
from bot.config import ConfigError, load_api_settings
from bot.i18n import Translations
from bot.logs import pairs
from bot.messages.people import change_note, refusal, reply_for
from bot.messages.units import megabytes
from bot.photo.budget import ByteBudget
from bot.photo.decoding import DecodePool
from bot.photo.frames import WorkerFault
from bot.photo.images import PreparedImage
from bot.photo.outcomes import Recognized
from bot.photo.preparing import ImageWork
from bot.photo.rules import ImageRejected, check_declared, download_limit
from bot.recognition.client import Recognizer
from bot.recognition.errors import ErrorKind, RecognitionError
from bot.startup import check_proxies, proxies_only_in

EXIT_RECOGNIZED = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_API_FAILED = 3
PROG = "python -m bot"

Outcome = Literal["recognized", "accepted", "refused", "failed"]


def parser() -> argparse.ArgumentParser:
    """The command line: options, and the `check` command."""
    top = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [-h] [--version] [check ...]",
        description=(
            "A Telegram bot that tells which segments (head, face, clothing, main object) "
            "the Kling image-recognize API finds in a photo. With no command it runs the "
            "bot with the settings from the environment and ./.env (see .env.example) "
            "until Ctrl-C or SIGTERM."
        ),
        epilog=(
            "Exit status of the bot: 0 stopped cleanly, 2 a setting is wrong, 1 Redis or "
            "the Bot API did not answer within STARTUP_RETRY_SECONDS."
        ),
    )
    top.add_argument("--version", action="version", version=f"{DISTRIBUTION} {version()}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser(
        "check",
        # Named in full: argparse would build it from the top-level usage line.
        prog=f"{PROG} check",
        help="check image files as the bot would, without Telegram",
        description=(
            "Check image files with the bot's own rules, conversions and API client, "
            "without Telegram: print what would be sent and the summary a person would "
            "read. Reads DEERAPI_*, API_* and TELEGRAM_LOCAL_MODE settings from the "
            "environment and ./.env; no bot token needed."
        ),
        epilog=(
            "Exit status: 0 all recognized (or, offline, all would be sent), 1 some "
            "refused, 2 usage, 3 the API failed."
        ),
    )
    check.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        type=Path,
        help="image files, or folders (every file under them, in sorted order)",
    )
    check.add_argument(
        "--offline", action="store_true", help="check and convert only; do not call the API"
    )
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument(
        "--verbose", action="store_true", help="show each file's decoder warnings, not a count"
    )
    return top


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; --help, --version and usage errors exit here."""
    return parser().parse_args(argv)


@dataclass
class FileReport:
    """What `check` found for one file."""

    file: Path
    outcome: Outcome
    size: int
    message: str
    sent: PreparedImage | None = None
    segments: dict[str, bool] | None = None
    request_id: str | None = None
    refusal: str | None = None
    error: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The file's entry in `--json` output (shape in the module doc)."""
        sent = self.sent
        return {
            "file": str(self.file),
            "outcome": self.outcome,
            "bytes": self.size,
            "sent": None
            if sent is None
            else {
                "format": sent.source_format,
                "mime": sent.mime,
                "bytes": len(sent.data),
                "width": sent.width,
                "height": sent.height,
                "changes": sorted(change.value for change in sent.changes),
            },
            "segments": self.segments,
            "request_id": self.request_id,
            "refusal": self.refusal,
            "error": self.error,
            "message": self.message,
            "warnings": self.warnings,
        }

    def as_text(self, verbose: bool = False) -> str:
        """The file's lines in plain output: its decoder warnings counted, or with
        `verbose` each (repeats once, with their count)."""
        lines = [f"{self.file}: {self.outcome}, {_size(self.size)}"]
        sent = self.sent
        if sent is not None:
            changes = ", ".join(sorted(change.value for change in sent.changes)) or "unchanged"
            lines.append(
                f"  would send: {sent.mime} from {sent.source_format}, {sent.width} x "
                f"{sent.height} px, {_size(len(sent.data))} ({changes})"
            )
        lines += [f"  {line}" for line in self.message.splitlines() if line]
        if self.error:
            lines.append(f"  error: {pairs(self.error)}")
        elif self.request_id:
            lines.append(f"  request_id: {self.request_id}")
        if self.warnings and not verbose:
            count = len(self.warnings)
            lines.append(f"  {count} decoder warning{'s' * (count != 1)} (--verbose shows them)")
        elif self.warnings:
            for line, times in Counter(self.warnings).items():
                lines.append(f"  decoder warning: {line}" + (f" ({times} times)" * (times > 1)))
        return "\n".join(lines)


def run_check(args: argparse.Namespace) -> int:
    """`check FILE...`: print a report per file; return the exit status."""
    files, unreadable = expand(args.files)
    if unreadable:
        print(f"{PROG} check: cannot read {', '.join(unreadable)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = load_api_settings()
        if not args.offline:
            check_proxies(os.environ)  # read by the API client's httpx
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not args.offline and (ignored := proxies_only_in(".env", os.environ)):
        print(f"{PROG} check: warning: {ignored}", file=sys.stderr)
    recognizer: Recognizer | None = None
    if not args.offline:
        if settings.deerapi_api_key is None:
            print(
                f"{PROG} check: DEERAPI_API_KEY is required to call the API "
                "(or check with --offline)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        recognizer = Recognizer.for_settings(settings, settings.deerapi_api_key)
        # Its failure line would land among the file's decoder warnings; the report's
        # error line says the same.
        logging.getLogger("bot.recognition.client").setLevel(logging.CRITICAL)
    limit = download_limit(settings.telegram_local_mode)
    # The bot's own limits: one worker (files are checked one at a time), the same budget.
    work = ImageWork(
        ByteBudget(settings.decode_budget_mb * 1_000_000),
        DecodePool(1, settings.decode_cpu_seconds),
    )
    try:
        with StderrCapture() as stderr:
            base_url = settings.deerapi_base_url
            reports = asyncio.run(_check_all(files, recognizer, limit, work, base_url, stderr))
    except WorkerFault as fault:
        print(f"{PROG} check: {fault}", file=sys.stderr)
        return EXIT_USAGE
    status = exit_status(reports)
    if args.json:
        document = {"exit_status": status, "files": [r.as_json() for r in reports]}
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(report.as_text(args.verbose) for report in reports))
    return status


def exit_status(reports: Sequence[FileReport]) -> int:
    """3 if the API failed for any file, else 1 if any was refused, else 0."""
    outcomes = {report.outcome for report in reports}
    if "failed" in outcomes:
        return EXIT_API_FAILED
    if "refused" in outcomes:
        return EXIT_REFUSED
    return EXIT_RECOGNIZED


async def _check_all(
    files: Sequence[Path],
    recognizer: Recognizer | None,
    limit: int,
    work: ImageWork,
    base_url: str,
    stderr: StderrCapture,
) -> list[FileReport]:
    tr = Translations()  # English: the operator's language
    reports: list[FileReport] = []
    try:
        for path in files:
            with python_warnings() as caught:
                report = await _check_one(path, recognizer, limit, tr, work, base_url)
            report.warnings = [
                f"{w.category.__name__}: {' '.join(str(w.message).split())}" for w in caught
            ]
            report.warnings += stderr.take()
            reports.append(report)
        return reports
    finally:
        await work.decoders.close()
        if recognizer is not None:
            await recognizer.aclose()


async def _check_one(
    path: Path,
    recognizer: Recognizer | None,
    limit: int,
    tr: Translations,
    work: ImageWork,
    base_url: str,
) -> FileReport:
    size = (await asyncio.to_thread(path.stat)).st_size
    try:
        # The same order as the bot: the size Telegram would declare, then the bytes.
        check_declared(file_size=size, width=None, height=None, limit=limit)
        prepared, _ = await work.prepare(await asyncio.to_thread(path.read_bytes), None)
    except ImageRejected as reason:
        name = type(reason).__name__
        return FileReport(path, "refused", size, refusal(reason, tr), refusal=name)
    if recognizer is None:
        return FileReport(path, "accepted", size, change_note(prepared, tr), sent=prepared)
    try:
        result = await recognizer.recognize(prepared.data)
    except RecognitionError as error:
        return FileReport(
            path,
            "failed",
            size,
            failure_line(error, base_url),
            sent=prepared,
            request_id=error.request_id,
            error={
                "kind": error.kind.value,
                "status": error.status,
                "code": error.code,
                "request_id": error.request_id,
                "detail": error.detail,
            },
        )
    return FileReport(
        path,
        "recognized",
        size,
        reply_for(Recognized(result, prepared), tr, utc_now()),
        sent=prepared,
        segments=dict(result.segments),
        request_id=result.request_id,
    )


def failure_line(error: RecognitionError, base_url: str) -> str:
    """What the operator reads when the API failed: what to look at, rather than the
    sentence for a person ("busy right now", "the operator has been told")."""
    if error.operator_problem:
        return (
            f"The API refused this bot's account ({error.kind.value}): check DEERAPI_API_KEY "
            "and the account's balance, plan and IP allow list at DeerAPI."
        )
    match error.kind:
        case ErrorKind.NETWORK | ErrorKind.TIMEOUT:
            return f"The API at {base_url} could not be reached: {error.detail}."
        case ErrorKind.RATE_LIMITED | ErrorKind.SERVER:
            return "The API is overloaded or failing; try again later."
        case ErrorKind.CONTENT_POLICY:
            return "The API refused this image under its content policy."
        case ErrorKind.INVALID_REQUEST:
            return "The API could not process this image."
        case _:
            return f"The answer from {base_url} is not the Kling API's: check DEERAPI_BASE_URL."


def _size(size: int) -> str:
    return f"{megabytes(size):.1f} MB ({size:,} bytes)"
