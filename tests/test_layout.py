"""The house rules: Telegram types stay in the Telegram layer (the linter enforces it), and
no module in bot/ grows past what one reader takes in at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff_findings(filename: str, source: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--stdin-filename", filename, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    return result.stdout


@pytest.mark.parametrize(
    "source",
    ["from telegram import Bot\n\nBot\n", "import telegram.error\n\ntelegram.error\n"],
)
@pytest.mark.parametrize(
    "filename", ["bot/photo/pipeline.py", "bot/app.py", "bot/messages/people.py", "bot/cli.py"]
)
def test_telegram_outside_the_telegram_layer_fails_the_lint(filename: str, source: str) -> None:
    # bot/app.py builds the bot and no longer runs it: running is bot/tg/application.py's.
    assert "TID251" in _ruff_findings(filename, source)


@pytest.mark.parametrize(
    "filename", ["bot/tg/photos.py", "bot/tg/application.py", "bot/__main__.py"]
)
def test_the_telegram_layer_and_the_entry_point_may_import_it(filename: str) -> None:
    assert "TID251" not in _ruff_findings(filename, "from telegram import Bot\n\nBot\n")


# A module past this does more than one job: split it along a seam (the map in the
# README's layout: photo/, recognition/, http/, messages/ by reader, storage/ per
# concern), not at a count of lines.
MAX_MODULE_LINES = 400


def test_no_module_in_bot_is_over_the_line_limit() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in (ROOT / "bot").rglob("*.py")
    }
    assert len(sizes) > 50, "the walk found the package"
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
