"""Recognition results kept for a while, and the claims on calls in flight."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ResultStore(Protocol):
    """Results by key, and one claim per key on the call that makes one; safe to call
    concurrently."""

    async def cached_result(self, key: str, now: float) -> str | None:
        """The cached result under `key` unless expired."""
        ...

    async def cache_result(
        self, keys: Sequence[str], result: str, *, now: float, expires_at: float
    ) -> None:
        """Cache `result` under every key until `expires_at`; may drop rows expired by `now`."""
        ...

    async def claim_flight(self, key: str, seconds: float) -> bool:
        """True if this process may make the API call for `key` now."""
        ...

    async def renew_flight(self, key: str, seconds: float) -> bool:
        """Extend this process's claim on `key` to `seconds` from now; False if it is no
        longer this process's (it lapsed and another took it)."""
        ...

    async def end_flight(self, key: str) -> None:
        """The call for `key` is over (its result cached, or failed)."""
        ...
