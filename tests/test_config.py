"""Settings: defaults, validation, and start-up errors that name the variable only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from tests.conftest import API_KEY, TOKEN

_VARS = tuple(name.upper() for name in Settings.model_fields)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _VARS:
        monkeypatch.delenv(name, raising=False)


def test_defaults_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DEERAPI_API_KEY", API_KEY)
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings(env_file=None)
    assert settings.deerapi_base_url == "https://api.deerapi.com"
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
    assert settings.log_level == "DEBUG"
    assert TOKEN not in repr(settings)
    assert API_KEY not in repr(settings)
    assert settings.secrets() == (TOKEN, API_KEY)


def test_env_file_is_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nDEERAPI_API_KEY={API_KEY}\n")
    assert load_settings(env_file=str(env)).deerapi_api_key.get_secret_value() == API_KEY


def test_env_example_lists_every_setting_and_parses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    example = Path(__file__).parents[1] / ".env.example"
    lines = example.read_text().splitlines()
    assigned = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    # `# NAME=default`: shown but left unset, for the Docker image to set its own.
    shown = {match[1] for line in lines if (match := re.fullmatch(r"# ([A-Z_]+)=.*", line))}
    assert assigned | shown == {name.upper() for name in Settings.model_fields}
    assert not assigned & shown
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DEERAPI_API_KEY", API_KEY)
    uncommented = tmp_path / ".env"
    uncommented.write_text("\n".join(re.sub(r"^# ([A-Z_]+=)", r"\1", line) for line in lines))
    for env_file in (example, uncommented):
        settings = load_settings(env_file=str(env_file))
        assert settings.admin_chat_id is None
        assert settings == Settings(_env_file=None)  # type: ignore[call-arg]


def test_missing_settings_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    assert str(caught.value) == "TELEGRAM_BOT_TOKEN is required; DEERAPI_API_KEY is required"


def test_malformed_setting_is_named_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token-secret-value")
    monkeypatch.setenv("DEERAPI_API_KEY", API_KEY)
    monkeypatch.setenv("API_MAX_ATTEMPTS", "many")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert message.startswith("TELEGRAM_BOT_TOKEN ")
    assert "API_MAX_ATTEMPTS " in message
    assert "not-a-token-secret-value" not in message


def test_start_up_with_a_missing_setting_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _VARS}
    env["DEERAPI_API_KEY"] = API_KEY
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "configuration error: TELEGRAM_BOT_TOKEN is required"
    ]
