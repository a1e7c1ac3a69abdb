"""The pipe between the decode pool and a worker (bot/photo/decode_worker.py): each
message a JSON header, with the payload's size, then the payload. Blocking on the
worker's side, asynchronous on the pool's; what crosses it is a job, or a reply with
the prepared image, a refusal or the name of what crashed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

from bot.photo import images, rules
from bot.photo.fingerprint import Fingerprint

_HEADER = struct.Struct(">I")
_MAX_HEADER = 64 * 1024


class WorkerFault(Exception):
    """A worker broke the protocol or could not be started."""


@dataclass(frozen=True)
class WorkerReply:
    """A worker's answer: RSS before the image, at its peak and after (bytes), and
    either the prepared image's description, a refusal, or the name of what crashed."""

    start: int
    peak: int
    rss: int
    mime: str | None = None
    width: int = 0
    height: int = 0
    source_format: str = ""
    changes: list[str] = field(default_factory=list)
    rejected: dict[str, Any] | None = None
    crashed: str | None = None
    fingerprint: dict[str, Any] | None = None


def write_frame(stream: BinaryIO, header: dict[str, Any], payload: bytes) -> None:
    """One message: its JSON header's length, the header (with the payload's size), the
    payload. Blocking: the worker's side."""
    encoded = json.dumps({**header, "size": len(payload)}).encode()
    stream.write(_HEADER.pack(len(encoded)) + encoded)
    stream.write(payload)
    stream.flush()


def read_frame(stream: BinaryIO) -> tuple[dict[str, Any], bytes] | None:
    """The next message, or None at the end of the stream. Blocking: the worker's side."""
    prefix = stream.read(_HEADER.size)
    if len(prefix) < _HEADER.size:
        return None
    header = json.loads(stream.read(_HEADER.unpack(prefix)[0]))
    payload = stream.read(header["size"])
    return header, payload


def encode_rejection(reason: rules.ImageRejected) -> dict[str, Any]:
    """A refusal as JSON: its class name and its numbers (or its text)."""
    if dataclasses.is_dataclass(reason):
        return {"kind": type(reason).__name__, "fields": dataclasses.asdict(reason)}
    return {"kind": type(reason).__name__, "text": str(reason)}


def decode_rejection(value: object) -> rules.ImageRejected:
    """The refusal a worker sent; anything unexpected reads as a damaged file."""
    kinds: dict[str, type[rules.ImageRejected]] = {
        kind.__name__: kind for kind in _subclasses(rules.ImageRejected)
    }
    try:
        assert isinstance(value, dict)
        kind = kinds[value["kind"]]
        if "fields" in value:
            fields = dict(value["fields"])
            if kind is rules.TooMuchWork:
                fields["what"] = rules.Work(fields["what"])
            return kind(**fields)
        return kind(str(value["text"]))
    except (AssertionError, KeyError, TypeError, ValueError):
        return rules.CorruptImage("the decoder's answer could not be read")


def _subclasses(kind: type[rules.ImageRejected]) -> list[type[rules.ImageRejected]]:
    found = []
    for sub in kind.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


async def send_frame(stdin: asyncio.StreamWriter, header: dict[str, Any], data: bytes) -> None:
    """One message to a worker. The pool's side."""
    encoded = json.dumps({**header, "size": len(data)}).encode()
    stdin.write(_HEADER.pack(len(encoded)) + encoded)
    stdin.write(data)
    await stdin.drain()


async def receive_frame(stdout: asyncio.StreamReader) -> tuple[dict[str, Any], bytes]:
    """A worker's next message, checked before it is read. The pool's side."""
    (length,) = _HEADER.unpack(await stdout.readexactly(_HEADER.size))
    if length > _MAX_HEADER:
        raise WorkerFault(f"a header of {length} bytes")
    header = json.loads(await stdout.readexactly(length))
    size = header.get("size") if isinstance(header, dict) else None
    if not isinstance(size, int) or not 0 <= size <= rules.MAX_UPLOAD_BYTES:
        raise WorkerFault("a reply of no valid size")
    return header, await stdout.readexactly(size)


def prepared(reply: WorkerReply, payload: bytes) -> images.PreparedImage:
    """The prepared image a reply describes; `CorruptImage` if it does not read."""
    mime: Literal["image/jpeg", "image/png"] = (
        "image/png" if reply.mime == "image/png" else "image/jpeg"
    )
    try:
        changes = frozenset(images.Change(value) for value in reply.changes)
    except (TypeError, ValueError):
        changes = None
    if reply.mime not in ("image/jpeg", "image/png") or not payload or changes is None:
        raise rules.CorruptImage("the decoder's answer could not be read")
    # A fingerprint that does not read is left out: the image is still good to send.
    fingerprint = Fingerprint.from_json(reply.fingerprint) if reply.fingerprint else None
    return images.PreparedImage(
        payload, mime, reply.width, reply.height, reply.source_format, changes, fingerprint
    )
