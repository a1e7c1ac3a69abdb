"""Settings: defaults, validation, and start-up errors that name the variable only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_api_settings, load_settings
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
    assert str(caught.value) == "DEERAPI_API_KEY is required; TELEGRAM_BOT_TOKEN is required"


def test_malformed_setting_is_named_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token-secret-value")
    monkeypatch.setenv("DEERAPI_API_KEY", API_KEY)
    monkeypatch.setenv("API_MAX_ATTEMPTS", "many")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert "TELEGRAM_BOT_TOKEN must look like 123456:ABC-def" in message
    assert message.startswith("API_MAX_ATTEMPTS ")
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


def test_values_are_trimmed_and_base_urls_lose_a_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", f" {TOKEN}  ")  # pasted with spaces
    monkeypatch.setenv("DEERAPI_API_KEY", f"{API_KEY}\t")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", " http://127.0.0.1:8081/bot/ ")
    monkeypatch.setenv("TELEGRAM_FILE_BASE_URL", "http://127.0.0.1:8081/file/bot/")
    monkeypatch.setenv("DEERAPI_BASE_URL", "https://api.deerapi.com/")
    monkeypatch.setenv("TELEGRAM_LOCAL_MODE", " true ")
    monkeypatch.setenv("API_MAX_ATTEMPTS", " 3 ")
    monkeypatch.setenv("REPORT_CHAT_ID", "   ")  # blank: the default
    settings = load_settings(env_file=None)
    assert settings.telegram_bot_token.get_secret_value() == TOKEN
    assert settings.deerapi_api_key.get_secret_value() == API_KEY
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot"
    assert settings.telegram_file_base_url == "http://127.0.0.1:8081/file/bot"
    assert settings.deerapi_base_url == "https://api.deerapi.com"
    assert settings.telegram_local_mode is True
    assert settings.api_max_attempts == 3
    assert settings.report_chat_id is None
    assert settings.startup_retry_seconds == 60


def test_cut_outs_are_off_until_hosts_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DEERAPI_API_KEY", API_KEY)
    assert load_settings(env_file=None).cutout_hosts == frozenset()
    monkeypatch.setenv("CUTOUT_HOSTS", " CDN.Example., 127.0.0.1:8443 cdn.example ")
    hosts = load_settings(env_file=None).cutout_hosts
    assert hosts == frozenset({"cdn.example", "127.0.0.1:8443"})


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("DEERAPI_API_KEY", "Qz", "DEERAPI_API_KEY is shorter than 8 characters"),
        ("DEERAPI_API_KEY", "Qz3Xv9w", "DEERAPI_API_KEY is shorter than 8 characters"),
        ("WEBHOOK_SECRET_TOKEN", "Qzx", "WEBHOOK_SECRET_TOKEN must be 8-256 of"),
        # PTB appends the token: after a bare host it would become the port.
        ("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9", "needs a path the token is appended"),
        ("TELEGRAM_FILE_BASE_URL", "http://127.0.0.1:9/", "needs a path the token is appended"),
        ("TELEGRAM_API_BASE_URL", "127.0.0.1:8081/bot", "must start with http:// or https://"),
        ("TELEGRAM_API_BASE_URL", "http://127.0.0.1:80x/bot", "has a port that is not a number"),
        ("DEERAPI_BASE_URL", "https:///v1", "has no host name"),
        ("CUTOUT_HOSTS", "https://cdn.example/", "must list host names (or host:port)"),
        ("CUTOUT_HOSTS", "cdn.example/cutouts", "must list host names (or host:port)"),
        ("CUTOUT_HOSTS", "user@cdn.example", "must list host names (or host:port)"),
    ],
)
def test_malformed_values_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DEERAPI_API_KEY", API_KEY)
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example/hook")
    monkeypatch.setenv("WEBHOOK_SECRET_TOKEN", "a-long-enough-secret")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    assert problem in str(caught.value)
    if "KEY" in name or "SECRET" in name:
        assert value not in str(caught.value)


def test_a_token_placeholder_stands_for_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DEERAPI_API_KEY", API_KEY)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://bot{token}.example:8081")
    assert load_settings(env_file=None).telegram_api_base_url == "http://bot{token}.example:8081"


def test_the_check_command_reads_the_api_settings_without_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_api_settings(env_file=None).deerapi_api_key is None
    monkeypatch.setenv("DEERAPI_API_KEY", f" {API_KEY} ")
    monkeypatch.setenv("API_MAX_ATTEMPTS", "2")
    settings = load_api_settings(env_file=None)
    assert settings.deerapi_api_key is not None
    assert settings.deerapi_api_key.get_secret_value() == API_KEY
    assert settings.api_max_attempts == 2
    monkeypatch.setenv("DEERAPI_API_KEY", "short")
    with pytest.raises(ConfigError, match="DEERAPI_API_KEY is shorter than 8"):
        load_api_settings(env_file=None)


def test_of_a_redis_url_only_the_password_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DEERAPI_API_KEY", API_KEY)
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    assert load_settings(env_file=None).secrets() == (TOKEN, API_KEY)
    monkeypatch.setenv("REDIS_URL", "redis://:p%40ss-word-9@redis:6379/0")
    assert set(load_settings(env_file=None).secrets()) == {
        TOKEN,
        API_KEY,
        "p@ss-word-9",
        "p%40ss-word-9",
    }
    monkeypatch.setenv("REDIS_URL", "redis://:Qz9@redis:6379/0")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    assert str(caught.value) == "REDIS_URL has a password shorter than 8 characters"
