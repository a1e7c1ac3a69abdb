"""One HTTP answer of the recognition API read: a result, or a `RecognitionError`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.recognition.errors import ErrorKind, RecognitionError, classify
from bot.recognition.results import RecognitionResult

_REQUEST_ID_HEADERS = ("x-request-id", "x-oneapi-request-id", "request-id")


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    is_contain: bool
    url: str | None = None


class _TaskResult(BaseModel):
    model_config = ConfigDict(extra="ignore")
    images: list[_Item] = []


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")
    task_result: _TaskResult | None = None


class _GatewayError(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message: str | None = None
    code: int | str | None = None
    type: str | None = None


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")
    code: int | str | None = None
    message: str | None = None
    data: _Data | None = None
    request_id: str | None = None
    error: _GatewayError | str | None = None


def _numeric(code: int | str | None) -> int | str | None:
    if isinstance(code, str) and code.strip().lstrip("-").isdigit():
        return int(code)
    return code


# A cut-out's URL longer than this is no CDN's: it is not kept (nor cached).
MAX_CUTOUT_URL = 2048


def parse_response(status: int, headers: Mapping[str, str], raw: bytes) -> RecognitionResult:
    """Turn one HTTP answer into a result, or raise `RecognitionError`."""
    header_request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
    retry_after = parse_retry_after(headers.get("retry-after"))
    try:
        envelope = _Envelope.model_validate_json(raw)
    except ValidationError:
        snippet = raw[:80].decode("utf-8", "replace").replace("\n", " ")
        raise RecognitionError(
            classify(status, None) if status != 200 else ErrorKind.BAD_RESPONSE,
            status=status,
            request_id=header_request_id,
            detail=f"body is not the expected JSON: {snippet!r}",
            retry_after=retry_after,
        ) from None

    request_id = envelope.request_id or header_request_id
    code = _numeric(envelope.code)
    detail = envelope.message or ""
    if isinstance(envelope.error, _GatewayError):
        code = code if code is not None else _numeric(envelope.error.code or envelope.error.type)
        detail = envelope.error.message or detail
    elif isinstance(envelope.error, str):
        detail = envelope.error

    if status == 200 and code == 0 and envelope.error is None:
        if envelope.data is None or envelope.data.task_result is None:
            raise RecognitionError(
                ErrorKind.BAD_RESPONSE,
                status=status,
                code=code,
                request_id=request_id,
                detail="success without data.task_result",
            )
        items = envelope.data.task_result.images
        segments = {item.type: item.is_contain for item in items}
        cutouts = {
            item.type: item.url
            for item in items
            if item.url and item.is_contain and len(item.url) <= MAX_CUTOUT_URL
        }
        return RecognitionResult(
            MappingProxyType(segments), request_id, cutouts=MappingProxyType(cutouts)
        )

    kind = classify(status, code)
    if status == 200 and kind == ErrorKind.BAD_RESPONSE and code is None:
        detail = detail or "no code in the body"
    raise RecognitionError(
        kind,
        status=status,
        code=code,
        request_id=request_id,
        detail=detail,
        retry_after=retry_after,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
