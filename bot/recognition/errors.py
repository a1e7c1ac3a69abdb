"""Why a recognition failed, as the API and its gateways say it: the kinds, the error an
operator follows up, and the mapping from HTTP status and code to kind."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from bot.logs import pairs


class ErrorKind(enum.StrEnum):
    """Why a recognition failed; decides retrying, logging level and the user's sentence."""

    AUTH = "auth"
    ACCOUNT = "account"
    PERMISSION = "permission"
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    CONTENT_POLICY = "content_policy"
    RATE_LIMITED = "rate_limited"
    IP_BLOCKED = "ip_blocked"
    SERVER = "server"
    TIMEOUT = "timeout"
    NETWORK = "network"
    BAD_RESPONSE = "bad_response"


_RETRYABLE = frozenset(
    {ErrorKind.RATE_LIMITED, ErrorKind.SERVER, ErrorKind.TIMEOUT, ErrorKind.NETWORK}
)
_OPERATOR_PROBLEMS = frozenset(
    {
        ErrorKind.AUTH,
        ErrorKind.ACCOUNT,
        ErrorKind.PERMISSION,
        ErrorKind.NOT_FOUND,
        ErrorKind.IP_BLOCKED,
    }
)
# Kling's documented code ranges (inclusive) and what they mean.
_KLING_CODES: tuple[tuple[int, int, ErrorKind], ...] = (
    (1000, 1004, ErrorKind.AUTH),
    (1100, 1102, ErrorKind.ACCOUNT),
    (1103, 1103, ErrorKind.PERMISSION),
    (1200, 1201, ErrorKind.INVALID_REQUEST),
    (1202, 1203, ErrorKind.NOT_FOUND),
    (1300, 1301, ErrorKind.CONTENT_POLICY),
    (1302, 1303, ErrorKind.RATE_LIMITED),
    (1304, 1304, ErrorKind.IP_BLOCKED),
    (5000, 5002, ErrorKind.SERVER),
)
# Reseller gateways name errors with words; these are the ones that matter.
_GATEWAY_WORDS: tuple[tuple[str, ErrorKind], ...] = (
    ("quota", ErrorKind.ACCOUNT),
    ("balance", ErrorKind.ACCOUNT),
    ("insufficient", ErrorKind.ACCOUNT),
    ("billing", ErrorKind.ACCOUNT),
    ("api_key", ErrorKind.AUTH),
    ("token", ErrorKind.AUTH),
    ("unauthorized", ErrorKind.AUTH),
)
_STATUS_KINDS: Mapping[int, ErrorKind] = MappingProxyType(
    {
        400: ErrorKind.INVALID_REQUEST,
        401: ErrorKind.AUTH,
        402: ErrorKind.ACCOUNT,
        403: ErrorKind.PERMISSION,
        404: ErrorKind.NOT_FOUND,
        408: ErrorKind.TIMEOUT,
        413: ErrorKind.INVALID_REQUEST,
        415: ErrorKind.INVALID_REQUEST,
        422: ErrorKind.INVALID_REQUEST,
        429: ErrorKind.RATE_LIMITED,
    }
)


class RecognitionError(Exception):
    """A failed recognition, with what an operator needs to follow it up."""

    def __init__(
        self,
        kind: ErrorKind,
        *,
        status: int | None = None,
        code: int | str | None = None,
        request_id: str | None = None,
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.kind = kind
        self.status = status
        self.code = code
        self.request_id = request_id
        self.detail = detail[:200]
        self.retry_after = retry_after
        known = pairs({"status": status, "code": code, "request_id": request_id})
        super().__init__(" ".join(part for part in (kind.value, known, self.detail) if part))

    @property
    def retryable(self) -> bool:
        """Whether another attempt may succeed."""
        return self.kind in _RETRYABLE

    @property
    def operator_problem(self) -> bool:
        """Whether the fix lies with whoever runs the bot (key, balance, plan)."""
        return self.kind in _OPERATOR_PROBLEMS


def classify(status: int, code: int | str | None) -> ErrorKind:
    """Map an HTTP status and a Kling or gateway code to an `ErrorKind`."""
    if isinstance(code, int):
        for low, high, kind in _KLING_CODES:
            if low <= code <= high:
                return kind
    elif isinstance(code, str):
        lowered = code.lower()
        for word, kind in _GATEWAY_WORDS:
            if word in lowered:
                return kind
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    if status >= 500:
        return ErrorKind.SERVER
    return ErrorKind.BAD_RESPONSE
