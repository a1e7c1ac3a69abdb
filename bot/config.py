"""Settings read from the environment and an optional `.env` file."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable, never its value."""


class Settings(BaseSettings):
    """Everything the bot can be told from outside. Secrets are `SecretStr`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,
        hide_input_in_errors=True,
    )

    telegram_bot_token: SecretStr
    deerapi_api_key: SecretStr
    deerapi_base_url: str = "https://api.deerapi.com"
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"

    api_attempt_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    api_max_attempts: int = Field(default=4, ge=1, le=10)
    # A ceiling: the recognizer learns the limit below it from the API's answers
    # (bot/limiter.py); 128 is high enough not to bind (at 0.8 s, 160 calls/s).
    api_max_concurrent_calls: int = Field(default=128, ge=1, le=1024)
    api_retry_base_delay_seconds: float = Field(default=0.5, ge=0, le=30)
    api_total_deadline_seconds: float = Field(default=60.0, gt=0, le=600)
    telegram_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    max_concurrent_downloads: int = Field(default=8, ge=1, le=256)
    max_concurrent_updates: int = Field(default=64, ge=1, le=1024)
    photo_deadline_seconds: float = Field(default=90.0, gt=0, le=600)
    database_path: str = "data/bot.sqlite3"
    redis_url: SecretStr | None = None
    cache_ttl_hours: float = Field(default=24.0, gt=0, le=24 * 365)
    user_daily_limit: int = Field(default=50, ge=0)
    global_daily_limit: int = Field(default=2000, ge=0)
    # A tenth of the overall limit: one busy group cannot use up the bot's day.
    group_daily_limit: int = Field(default=200, ge=0)
    admin_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    allowed_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    allowed_chat_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    report_chat_id: int | None = None
    per_user_in_flight: int = Field(default=2, ge=1, le=64)
    max_waiting_photos: int = Field(default=1000, ge=1)
    album_quiet_seconds: float = Field(default=1.0, gt=0, le=30)
    memory_budget_mb: int = Field(default=160, ge=50, le=100_000)
    decode_budget_mb: int = Field(default=120, ge=50, le=100_000)
    admin_chat_id: int | None = None

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    webhook_url: str | None = None
    webhook_secret_token: SecretStr | None = None
    http_listen: str = "0.0.0.0"  # noqa: S104 - the container's port must be reachable
    http_port: int | None = Field(default=None, ge=0, le=65535)

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> Settings:
        if self.webhook_url and not self.webhook_secret_token:
            raise ValueError("WEBHOOK_SECRET_TOKEN is required when WEBHOOK_URL is set")
        if self.webhook_secret_token and not _SECRET_SHAPE.match(
            self.webhook_secret_token.get_secret_value()
        ):
            raise ValueError("WEBHOOK_SECRET_TOKEN must be 1-256 of A-Z, a-z, 0-9, _ and -")
        return self

    @field_validator("admin_user_ids", "allowed_user_ids", "allowed_chat_ids", mode="before")
    @classmethod
    def _id_list(cls, value: object) -> object:
        # Comma- or space-separated ids, as people write them in .env files.
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(",", " ").split())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN_SHAPE.match(value.get_secret_value()):
            raise ValueError("must look like 123456:ABC-def (as BotFather gives it)")
        return value

    @field_validator("deerapi_api_key")
    @classmethod
    def _key_not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("deerapi_base_url", "telegram_api_base_url", "telegram_file_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("deerapi_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        # The endpoint path is appended with its own leading slash.
        return value.rstrip("/")

    def secrets(self) -> tuple[str, ...]:
        """The secret values, for log redaction."""
        values = [
            self.telegram_bot_token,
            self.deerapi_api_key,
            self.webhook_secret_token,
            self.redis_url,  # may hold a password
        ]
        return tuple(value.get_secret_value() for value in values if value is not None)


def load_settings(env_file: str | None = ".env") -> Settings:
    """Read settings; raise `ConfigError` with one readable line per problem."""
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = "_".join(str(part) for part in error["loc"]).upper()
            reason = "is required" if error["type"] == "missing" else error["msg"]
            reason = reason.removeprefix("Value error, ")
            problems.append(f"{name} {reason}" if name else reason)
        raise ConfigError("; ".join(problems)) from None
