"""The house rules the linter enforces: Telegram types stay in the Telegram layer."""

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
def test_telegram_outside_the_telegram_layer_fails_the_lint(source: str) -> None:
    assert "TID251" in _ruff_findings("bot/photo/pipeline.py", source)


@pytest.mark.parametrize("filename", ["bot/tg/photos.py", "bot/app.py", "bot/__main__.py"])
def test_the_telegram_layer_and_the_composition_root_may_import_it(filename: str) -> None:
    assert "TID251" not in _ruff_findings(filename, "from telegram import Bot\n\nBot\n")
