"""Settings read from the environment and an optional `.env` file.

Values are normalized before they are checked: surrounding whitespace is trimmed (a
token pasted with a trailing space works), a value left empty counts as unset, and
base URLs lose a trailing slash.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar
from urllib.parse import quote, unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
# Where python-telegram-bot puts the token in a base URL, instead of appending it.
_TOKEN_PLACE = re.compile(r"\{(token|TOKEN|bot_token|BOT_TOKEN|bot-token|BOT-TOKEN)\}")
_SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{8,256}$")
# A host name or IP address, with an optional port: an entry of CUTOUT_HOSTS.
_HOST = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?")
_QUOTES = ("'", '"')
# A secret shorter than this is a paste gone wrong, and redacting it from the logs would
# blank out every occurrence of its letters.
MIN_SECRET_LENGTH = 8


_S = TypeVar("_S", bound="ApiSettings")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable, never its value."""


class ApiSettings(BaseSettings):
    """What checking an image needs, without Telegram: the recognition API, its client's
    limits, and the download limit. `python -m bot check` reads only these."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,
        hide_input_in_errors=True,
    )

    deerapi_api_key: SecretStr | None = None
    deerapi_base_url: str = "https://api.deerapi.com"
    api_attempt_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    api_max_attempts: int = Field(default=4, ge=1, le=10)
    # A ceiling: the recognizer learns the limit below it from the API's answers
    # (bot/recognition/limiter.py); 128 is high enough not to bind (at 0.8 s, 160 calls/s).
    api_max_concurrent_calls: int = Field(default=128, ge=1, le=1024)
    api_retry_base_delay_seconds: float = Field(default=0.5, ge=0, le=30)
    api_total_deadline_seconds: float = Field(default=60.0, gt=0, le=600)
    # python-telegram-bot's local mode, for a local telegram-bot-api server: files are
    # read from the paths it gives, up to its 2000 MB instead of Telegram's 20 MB.
    telegram_local_mode: bool = False
    # Bytes that decoding images may hold at once, in every process (bot/photo/preparing.py).
    # A 48 MP HEIC, as iPhones write it, cannot be decoded reduced: the cost model
    # reserves 516 MB for it (385 MB measured), so 600 takes one with room beside it.
    # A JPEG over the budget decodes reduced instead, anything else is refused.
    decode_budget_mb: int = Field(default=600, ge=50, le=100_000)
    # Worker processes for decodes the header cannot bound (bot/photo/decoding.py): one per
    # core of the 2-core machine the bot is measured on.
    decode_workers: int = Field(default=2, ge=1, le=64)
    # CPU seconds one image's decode may use: a 48 MP phone photo's re-encode took
    # about 2 s here, a scan bomb takes minutes.
    decode_cpu_seconds: float = Field(default=5.0, ge=1, le=600)

    @model_validator(mode="before")
    @classmethod
    def _trimmed(cls, values: object) -> object:
        # Whitespace around a value is never meant; one left empty is unset.
        if not isinstance(values, dict):
            return values
        trimmed = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
        return {k: v for k, v in trimmed.items() if v != ""}

    @field_validator("deerapi_api_key", mode="before")
    @classmethod
    def _key_unquoted(cls, value: object) -> object:
        return unquoted(value)

    @field_validator("deerapi_api_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"is shorter than {MIN_SECRET_LENGTH} characters: not a whole key")
        return value

    @field_validator("deerapi_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_base_url(value)


class Settings(ApiSettings):
    """Everything the bot can be told from outside. Secrets are `SecretStr`."""

    telegram_bot_token: SecretStr
    deerapi_api_key: SecretStr
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"

    telegram_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    max_concurrent_downloads: int = Field(default=8, ge=1, le=256)
    max_concurrent_updates: int = Field(default=64, ge=1, le=1024)
    photo_deadline_seconds: float = Field(default=90.0, gt=0, le=600)
    # How long start-up keeps trying Redis and the Bot API before giving up (exit 1).
    startup_retry_seconds: float = Field(default=60.0, ge=0, le=600)
    database_path: str = "data/bot.sqlite3"
    redis_url: SecretStr | None = None
    cache_ttl_hours: float = Field(default=24.0, gt=0, le=24 * 365)
    # A re-encoded, resized or screenshotted copy of a picture recognized within the TTL
    # gets its answer without an API call (bot/photo/near.py): on, every photo's fingerprint
    # is computed in its decode and a 64x64 grey thumbnail of it kept for the TTL.
    near_duplicates: bool = True
    # Hosts whose cut-out URLs may be fetched for the "Show cut-outs" button
    # (bot/photo/cutouts.py): `host` (port 443) or `host:port`, https only. Empty, the default:
    # no button. Neither DeerAPI's page nor Kling's sample names the host its `url`s point
    # at, so none is trusted until the operator sees one in a real answer and lists it.
    cutout_hosts: Annotated[frozenset[str], NoDecode] = frozenset()
    user_daily_limit: int = Field(default=50, ge=0)
    global_daily_limit: int = Field(default=2000, ge=0)
    # A tenth of the overall limit: one busy group cannot use up the bot's day.
    group_daily_limit: int = Field(default=200, ge=0)
    admin_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    allowed_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    allowed_chat_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    allow_all_groups: bool = False
    report_chat_id: int | None = None
    per_user_in_flight: int = Field(default=2, ge=1, le=64)
    max_waiting_photos: int = Field(default=1000, ge=1)
    album_quiet_seconds: float = Field(default=1.0, gt=0, le=30)
    # Updates acknowledged to Telegram and not yet answered, across replicas: 10,000 is
    # about 3 minutes of a 50 photos/s burst, and a few MB of stored updates.
    intake_max_backlog: int = Field(default=10_000, ge=1, le=1_000_000)
    memory_budget_mb: int = Field(default=160, ge=50, le=100_000)
    admin_chat_id: int | None = None

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    webhook_url: str | None = None
    webhook_secret_token: SecretStr | None = None
    http_listen: str = "0.0.0.0"  # noqa: S104 - the container's port must be reachable
    http_port: int | None = Field(default=None, ge=0, le=65535)
    # web: receive and store updates only; worker: answer stored updates only (no webhook,
    # no polling); both: one process does both. Roles apart need the shared intake (Redis).
    role: Literal["both", "web", "worker"] = "both"

    @model_validator(mode="after")
    def _roles_apart_need_redis(self) -> Settings:
        if self.role != "both" and self.redis_url is None:
            raise ValueError(
                f"ROLE={self.role} needs REDIS_URL: with SQLite one process owns the intake"
            )
        return self

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> Settings:
        if self.webhook_url and not self.webhook_secret_token:
            raise ValueError("WEBHOOK_SECRET_TOKEN is required when WEBHOOK_URL is set")
        if self.webhook_secret_token and not _SECRET_SHAPE.match(
            self.webhook_secret_token.get_secret_value()
        ):
            raise ValueError("WEBHOOK_SECRET_TOKEN must be 8-256 of A-Z, a-z, 0-9, _ and -")
        return self

    @field_validator("admin_user_ids", "allowed_user_ids", "allowed_chat_ids", mode="before")
    @classmethod
    def _id_list(cls, value: object) -> object:
        # Comma- or space-separated ids, as people write them in .env files.
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(",", " ").split())
        return value

    @field_validator("cutout_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        # Comma- or space-separated, as the id lists; a scheme, path or user is refused so
        # that "https://cdn.example/" is not silently read as a host nobody meant.
        if not isinstance(value, str):
            return value
        hosts = frozenset(part.lower().rstrip(".") for part in value.replace(",", " ").split())
        for host in hosts:
            if not _HOST.fullmatch(host):
                raise ValueError("must list host names (or host:port), without https:// or a path")
        return hosts

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_log_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("telegram_bot_token", "webhook_secret_token", "redis_url", mode="before")
    @classmethod
    def _secrets_unquoted(cls, value: object) -> object:
        return unquoted(value)

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN_SHAPE.match(value.get_secret_value()):
            raise ValueError("must look like 123456:ABC-def (as BotFather gives it)")
        return value

    @field_validator("telegram_api_base_url", "telegram_file_base_url")
    @classmethod
    def _bot_api_url(cls, value: str) -> str:
        # python-telegram-bot appends the token (`.../bot` + token) unless the URL says
        # where it goes; after a bare host it would land in the port.
        value = http_base_url(value)
        if not urlsplit(value).path and not _TOKEN_PLACE.search(value):
            raise ValueError("needs a path the token is appended to, such as /bot")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_password_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and 0 < len(redis_password(value)) < MIN_SECRET_LENGTH:
            raise ValueError(f"has a password shorter than {MIN_SECRET_LENGTH} characters")
        return value

    def secrets(self) -> tuple[str, ...]:
        """The secret values, for log redaction (of a Redis URL, its password: the rest is
        an address the logs should show)."""
        values = [self.telegram_bot_token, self.deerapi_api_key, self.webhook_secret_token]
        found = [value.get_secret_value() for value in values if value is not None]
        if self.redis_url is not None and (password := redis_password(self.redis_url)):
            found += {password, quote(password, safe="")}
        return tuple(found)


def unquoted(value: object) -> object:
    """`value`, unless it starts or ends with a quote: `.env` loses the quotes around a
    value, but `docker run --env-file` and some shells keep them, and a key sent with
    its quotes fails at the first API call instead of at start. Never quotes the value."""
    if isinstance(value, str) and (value[:1] in _QUOTES or value[-1:] in _QUOTES):
        raise ValueError(
            "is wrapped in quotes that became part of it (docker run --env-file keeps them): "
            "remove them"
        )
    return value


def redis_password(url: SecretStr) -> str:
    """The password in a Redis URL ("" if none, or if the URL cannot be read)."""
    try:
        return unquote(urlsplit(url.get_secret_value()).password or "")
    except ValueError:
        return ""


def http_base_url(value: str) -> str:
    """`value` without a trailing slash, if it is an http(s) URL with a host and a valid
    port; else `ValueError` (whose text does not quote the value)."""
    value = value.rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ValueError("has a port that is not a number from 0 to 65535") from None
    if not parts.hostname:
        raise ValueError("has no host name")
    return value


def load_settings(env_file: str | None = ".env") -> Settings:
    """Read every setting; raise `ConfigError` with one readable line per problem."""
    return _load(Settings, env_file)


def load_api_settings(env_file: str | None = ".env") -> ApiSettings:
    """Read only what checking an image needs (no Telegram token), the same way."""
    return _load(ApiSettings, env_file)


def _load(kind: type[_S], env_file: str | None) -> _S:
    try:
        return kind(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = "_".join(str(part) for part in error["loc"]).upper()
            reason = "is required" if error["type"] == "missing" else error["msg"]
            reason = reason.removeprefix("Value error, ")
            problems.append(f"{name} {reason}" if name else reason)
        raise ConfigError("; ".join(problems)) from None
