"""Fetching the API's cut-out images: only from allowed hosts, bounded, checked as images.

Kling's answer may carry a `url` per segment (a cut-out it keeps for 30 days). Those
URLs come from the API's answer, so they are treated like anything a stranger sends:
only `https` to a host on `CUTOUT_HOSTS` is fetched, a redirect is followed only to
another allowed https URL (at most `MAX_REDIRECTS`), each download stops at
`MAX_CUTOUT_BYTES` and `CUTOUT_TIMEOUT_SECONDS`, and the bytes go through the same
bounded image check as a person's photo (`ImageWork`). A URL that breaks any rule is
never requested.

(The "Show cut-outs" button that uses this is not built yet: see README.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from urllib.parse import urljoin, urlsplit

import httpx

from bot.photo.images import PreparedImage
from bot.photo.preparing import ImageWork
from bot.photo.rules import ImageRejected

logger = logging.getLogger(__name__)

# A cut-out is a PNG of one segment of a photo the API accepted (at most 10 MB itself).
MAX_CUTOUT_BYTES = 10_000_000
CUTOUT_TIMEOUT_SECONDS = 15.0
MAX_REDIRECTS = 3


class CutoutUnavailable(Exception):
    """The cut-out could not be had: expired (an HTTP error), off the allow-list, too
    big, too slow, or not an image. The reason is for the log; people are told "no
    longer available"."""


def allowed(url: str, hosts: Collection[str]) -> bool:
    """Whether `url` may be requested at all: https, no credentials, an allowed host (on
    port 443, or on the port its allow-list entry names: `host:port`)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return False
    listed = {h.lower().rstrip(".") for h in hosts}
    where = host if port in (None, 443) else f"{host}:{port}"
    return parts.scheme == "https" and not parts.username and not parts.password and where in listed


class CutoutFetcher:
    """Downloads cut-outs from allowed hosts with one HTTP client, and checks them."""

    def __init__(
        self,
        hosts: Collection[str],
        images: ImageWork,
        client: httpx.AsyncClient | None = None,
        *,
        max_bytes: int = MAX_CUTOUT_BYTES,
        timeout: float = CUTOUT_TIMEOUT_SECONDS,
    ) -> None:
        self.hosts = frozenset(hosts)
        self._images = images
        # Redirects are followed here, one allow-list check each, never by the client.
        self._client = client or httpx.AsyncClient(follow_redirects=False, timeout=timeout)
        self._max_bytes = max_bytes
        self._timeout = timeout

    async def fetch(self, url: str) -> PreparedImage:
        """The cut-out at `url`, checked as an image; `CutoutUnavailable` otherwise."""
        try:
            async with asyncio.timeout(self._timeout):
                data = await self._download(url)
            prepared, _ = await self._images.prepare(data, None)
        except ImageRejected as reason:
            raise CutoutUnavailable(f"not an image we accept: {type(reason).__name__}") from None
        except TimeoutError:
            raise CutoutUnavailable(f"no answer within {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise CutoutUnavailable(type(exc).__name__) from None
        return prepared

    async def _download(self, url: str) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            if not allowed(url, self.hosts):
                raise CutoutUnavailable("not an allowed https host")
            async with self._client.stream("GET", url) as response:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    url = urljoin(url, location)
                    continue
                if response.status_code != 200:
                    raise CutoutUnavailable(f"HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self._max_bytes:
                    raise CutoutUnavailable(f"{declared} bytes, over {self._max_bytes}")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise CutoutUnavailable(f"over {self._max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        raise CutoutUnavailable(f"more than {MAX_REDIRECTS} redirects")

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
