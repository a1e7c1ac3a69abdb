"""What outlives a process: chat settings, quota counters, cached results, daily counts,
and moderation state (images seen per message, allowed images, warnings, reports).

One protocol per concern, each in its module here: settings, quotas, results (and calls
in flight), counts, images, warnings, reports, and the durable intake; moderation's own
state is `ModerationStore` (bot/moderation/store.py). Each part of the bot is typed
against the concerns it uses; `Storage` is all of them, `Backend` what a backend
implements. `SqliteStorage` (bot/storage/sqlite_storage.py) is the default backend (one
file, created on first start); `RedisStorage` (bot/storage/redis_storage.py) serves
replicas; `GuardedStorage` (bot/storage/guarded.py) wraps either with timeouts and
fallbacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from bot.moderation.store import ModerationStore
from bot.storage.counts import CountStore
from bot.storage.images import ImageStore
from bot.storage.intake import Intake
from bot.storage.quotas import QuotaStore
from bot.storage.reports import ReportStore
from bot.storage.results import ResultStore
from bot.storage.settings import SettingsStore
from bot.storage.warnings import WarningStore


class StorageOpenError(Exception):
    """The storage cannot be opened as configured (a path that cannot hold the database, a
    file that is not one, a malformed URL, a refused password): retrying will not help."""


class StorageUnreachable(StorageOpenError):
    """The storage server did not answer, or the database is locked: it may come back."""


class Storage(
    SettingsStore,
    QuotaStore,
    ResultStore,
    CountStore,
    ImageStore,
    WarningStore,
    ReportStore,
    Protocol,
):
    """The bot's persistent state, one protocol per concern (each consumer is typed
    against the ones it uses); every method is safe to call concurrently."""

    async def ping(self) -> None:
        """Return if the backend can be read; raise its error if not."""
        ...

    async def close(self) -> None:
        """Release the backend."""
        ...


class State(Storage, ModerationStore, Protocol):
    """The bot's state and moderation's own (a protocol each, so neither grows the other):
    what the bot's parts are given, guarded (bot/storage/guarded.py)."""


class Backend(State, Protocol):
    """What a backend implements: the state, and the durable intake on the same
    connection."""

    async def intake(self) -> Intake:
        """The durable intake (bot/storage/intake.py) kept in this backend."""
        ...

    async def add_quota(self, day: str, uses: Mapping[str, int]) -> None:
        """Add uses counted elsewhere (in memory during an outage), past any limit."""
        ...

    async def reconnect(self) -> None:
        """Drop pooled connections (after an outage they may be dead), so the next call
        makes a fresh one."""
        ...
