"""A fake Kling image-recognize API on 127.0.0.1 that records requests and answers as scripted."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import LocalServer

PATH = "/kling/v1/videos/image-recognize"
SEGMENT_TYPES = ("head_seg", "face_seg", "cloth_seg", "object_seg")


def success(
    *,
    head: bool = True,
    face: bool = True,
    cloth: bool = True,
    obj: bool = True,
    extra: dict[str, bool] | None = None,
    request_id: str | None = "req-ok",
    cutouts_at: str = "https://cdn.example",
    elsewhere: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A success body shaped like Kling's sample (with the per-item `url` it documents):
    each segment's cut-out at `cutouts_at`/<type>.png, or under the base `elsewhere` names
    for its type (a host off the allow-list)."""
    flags = dict(zip(SEGMENT_TYPES, (head, face, cloth, obj), strict=True)) | (extra or {})
    bases = elsewhere or {}
    images = [
        {"type": kind, "is_contain": found, "url": f"{bases.get(kind, cutouts_at)}/{kind}.png"}
        for kind, found in flags.items()
    ]
    body: dict[str, Any] = {
        "code": 0,
        "message": "SUCCEED",
        "data": {"task_result": {"images": images}, "final_unit_deduction": "1"},
    }
    if request_id is not None:
        body["request_id"] = request_id
    return body


def lognormal(median: float, sigma: float, seed: int = 21) -> Callable[[], float]:
    """Per-call latencies drawn from a lognormal: `median` seconds, log-spread `sigma`
    (its mean is median x exp(sigma^2 / 2)). Seeded, so runs draw the same sequence."""
    rng = random.Random(seed)
    return lambda: median * math.exp(rng.gauss(0.0, sigma))


def kling_error(code: int, message: str = "error", request_id: str = "req-err") -> dict[str, Any]:
    """A Kling failure body."""
    return {"code": code, "message": message, "request_id": request_id, "data": None}


@dataclass
class Reply:
    """One scripted answer: a JSON body (dict), raw text/bytes, or a dropped connection."""

    status: int = 200
    body: dict[str, Any] | str | bytes = field(default_factory=success)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


@dataclass
class Received:
    """One request as the fake got it."""

    headers: dict[str, str]
    image: str
    decoded: bytes | None


class FakeRecognizer(LocalServer):
    """Answers scripted replies in order, then `default` for every later call.

    Two load modes, off by default: `max_in_flight` takes at most that many calls
    at once and refuses the rest with 429 and Kling code 1303 (counted in
    `refused`), as Kling does past a resource pack's concurrency; `serve_at_once(n)`
    works on n calls at once and queues the rest, so latency grows with the calls
    in flight, as an API that queues instead of refusing. `latency`, when set, draws
    each taken call's delay instead of the reply's (a real API's latency varies per
    call; assign another to step it), and `delays` keeps what it drew.
    """

    def __init__(self, *, inspect_bodies: bool = True) -> None:
        # The bench turns inspection off, so the fake's own JSON and Base64 work
        # on 13 MB bodies is not counted as the bot's overhead.
        self.inspect_bodies = inspect_bodies
        self.received: list[Received] = []
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.violations: list[str] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.max_in_flight: int | None = None
        self.refused = 0
        self.latency: Callable[[], float] | None = None
        self.delays: list[float] = []
        self._workers: asyncio.Semaphore | None = None
        self._arrived = asyncio.Condition()

    def routes(self, app: web.Application) -> None:
        """The one endpoint."""
        app.router.add_post(PATH, self._recognize)

    @property
    def base_url(self) -> str:
        """The value for DEERAPI_BASE_URL."""
        return self.root

    async def wait_received(self, count: int, within: float = 10.0) -> None:
        """Wait until `count` requests have arrived (answered or not)."""
        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)

    def serve_at_once(self, workers: int) -> None:
        """Work on `workers` calls at once; later ones wait for a free worker."""
        self._workers = asyncio.Semaphore(workers)

    def answer(self, *replies: Reply) -> None:
        """Script the next answers, in order."""
        self.script.extend(replies)

    async def _recognize(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if not self.inspect_bodies:
            self.received.append(Received(dict(request.headers), "", None))
            return await self._answer(request)
        image = ""
        try:
            image = str(json.loads(raw)["image"])
        except (ValueError, KeyError, TypeError):
            self.violations.append("body is not JSON with an image field")
        # A URL (Telegram's file URLs hold the bot token) or a data: URI can never
        # be valid Base64: ':' and '.' are outside its alphabet.
        try:
            decoded: bytes | None = base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError):
            decoded = None
            self.violations.append(f"image is not raw Base64: {image[:60]!r}")
        self.received.append(Received(dict(request.headers), image, decoded))
        return await self._answer(request)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        async with self._arrived:
            self._arrived.notify_all()

        if self.max_in_flight is not None and self.in_flight >= self.max_in_flight:
            self.refused += 1
            return web.json_response(
                kling_error(1303, "concurrency over the resource pack's limit"), status=429
            )
        reply = self.script.popleft() if self.script else self.default
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            delay = reply.delay
            if self.latency is not None:
                delay = self.latency()
                self.delays.append(delay)
            async with self._workers or contextlib.nullcontext():
                if delay:
                    await asyncio.sleep(delay)
        finally:
            self.in_flight -= 1
        if reply.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if isinstance(reply.body, dict):
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        return web.Response(
            body=reply.body, status=reply.status, headers=reply.headers, content_type="text/html"
        )
