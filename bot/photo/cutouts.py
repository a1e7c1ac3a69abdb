"""Fetching the API's cut-out images: only from allowed hosts, bounded, checked as images.

Kling's answer may carry a `url` per segment (a cut-out it keeps for 30 days). Those
URLs come from the API's answer, so they are treated like anything a stranger sends:
only `https` to a host on `CUTOUT_HOSTS` is fetched, a redirect is followed only to
another allowed https URL (at most `MAX_REDIRECTS`), each download stops at
`MAX_CUTOUT_BYTES` and `CUTOUT_TIMEOUT_SECONDS`, and the bytes go through the same
bounded image check as a person's photo (`ImageWork`). A URL that breaks any rule is
never requested.

A "Show cut-outs" button offers them (`CutoutOffers`): its data holds a random id, the
offer stored under it names who asked and the cache keys of the result, and the URLs are
read from the cached result at the press, so no button can be made to fetch another URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import KW_ONLY, dataclass, replace
from urllib.parse import urljoin, urlsplit

import httpx

from bot.moderation.store import ModerationStore
from bot.photo.budget import ByteBudget
from bot.photo.cache import ResultCache
from bot.photo.images import PreparedImage
from bot.photo.preparing import ImageWork
from bot.photo.rules import ImageRejected
from bot.recognition.results import RecognitionResult

logger = logging.getLogger(__name__)

# A cut-out is a PNG of one segment of a photo the API accepted (at most 10 MB itself).
MAX_CUTOUT_BYTES = 10_000_000
CUTOUT_TIMEOUT_SECONDS = 15.0
MAX_REDIRECTS = 3
# Kling keeps a cut-out for 30 days after the call that made it.
KEPT_SECONDS = 30 * 24 * 3600
# sendMediaGroup takes 2 to 10 items (one cut-out goes as a plain photo), and a photo's
# width + height may be at most 10,000 px (its 10 MB and 1:20 are within the API's
# own input rules, which `ImageWork` holds every cut-out to).
MAX_ALBUM = 10
MAX_PHOTO_SIDES = 10_000


class Why(enum.Enum):
    """What a failed cut-out means for its offer."""

    EXPIRED = "expired"  # the host answered 4xx, as for a link past its 30 days
    PASSING = "passing"  # a timeout, a network error, the host's 5xx: try again later
    REFUSED = "refused"  # this one breaks a rule (size, image, redirect): the rest go


class CutoutUnavailable(Exception):
    """The cut-out could not be had: expired, off the allow-list, too big, too slow, or
    not an image we accept (`why`). The reason is for the log."""

    def __init__(self, reason: str, *, why: Why = Why.REFUSED) -> None:
        super().__init__(reason)
        self.why = why


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
        self.max_bytes = max_bytes
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
            raise CutoutUnavailable(
                f"no answer within {self._timeout:g} s", why=Why.PASSING
            ) from None
        except httpx.HTTPError as exc:
            raise CutoutUnavailable(type(exc).__name__, why=Why.PASSING) from None
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
                    # A link past its 30 days answers 4xx; a 5xx may pass.
                    status = response.status_code
                    why = Why.PASSING if status >= 500 else Why.EXPIRED
                    raise CutoutUnavailable(f"HTTP {status}", why=why)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise CutoutUnavailable(f"{declared} bytes, over {self.max_bytes}")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise CutoutUnavailable(f"over {self.max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        raise CutoutUnavailable(f"more than {MAX_REDIRECTS} redirects")

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


@dataclass(frozen=True)
class Offer:
    """A "Show cut-outs" button's state: who may press it, the cache keys of the result
    whose URLs it shows, and how many sends were tried (a failed send frees the next)."""

    asker: int
    keys: tuple[str, ...]
    expires_at: float
    tries: int = 0
    gone: bool = False

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(
            {
                "asker": self.asker,
                "keys": list(self.keys),
                "expires_at": self.expires_at,
                "tries": self.tries,
                "gone": self.gone,
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> Offer:
        """The offer `to_json` stored."""
        data = json.loads(raw)
        return cls(
            int(data["asker"]),
            tuple(data["keys"]),
            float(data["expires_at"]),
            int(data["tries"]),
            bool(data["gone"]),
        )


@dataclass(frozen=True)
class Cutout:
    """One cut-out fetched and checked, with the segment type it shows."""

    segment: str
    image: PreparedImage


@dataclass(frozen=True)
class NotYours:
    """Someone other than the asker pressed: nothing is fetched or sent."""


@dataclass(frozen=True)
class Gone:
    """The links are no longer available: the offer or the cached result expired, or
    the host refused (`reason`, for the log)."""

    reason: str


@dataclass(frozen=True)
class Unreachable:
    """The host did not answer well this time (`reason`, for the log): try again later."""

    reason: str


@dataclass(frozen=True)
class Taken:
    """An earlier press is sending (or has sent) these cut-outs."""


@dataclass(frozen=True)
class Ready:
    """This press is the one that sends: the cut-outs, in the API's order."""

    cutouts: tuple[Cutout, ...]


Press = NotYours | Gone | Unreachable | Taken | Ready


def fetchable(result: RecognitionResult, hosts: Collection[str]) -> list[tuple[str, str]]:
    """(segment type, URL) of the cut-outs that may be fetched, at most an album's worth."""
    return [(kind, url) for kind, url in result.cutouts.items() if allowed(url, hosts)][:MAX_ALBUM]


@dataclass(frozen=True, eq=False)
class CutoutOffers:
    """Makes offers and answers presses on them, once each across replicas.

    An offer lasts as long as its links can: 30 days from the API call, less the age of
    a cached result (at most the cache's TTL, when it came from the cache). A press
    claims the offer's current try (`first_time`), so a double tap or a second replica
    sends nothing twice; a send that Telegram did not take frees the next try.
    """

    store: ModerationStore
    cache: ResultCache
    fetcher: CutoutFetcher
    memory: ByteBudget
    _: KW_ONLY
    cache_ttl: float
    clock: Callable[[], float] = time.time

    async def offer(
        self, asker: int, keys: Sequence[str], result: RecognitionResult, *, cached: bool
    ) -> str | None:
        """The id of a new offer of `result`'s cut-outs to `asker`; None when there is
        nothing the bot may fetch (no URL, none on the allow-list, or too old to last)."""
        if not keys or not fetchable(result, self.fetcher.hosts):
            return None
        now = self.clock()
        expires_at = now + KEPT_SECONDS - (self.cache_ttl if cached else 0.0)
        if expires_at <= now:
            return None
        offer_id = secrets.token_hex(8)
        offer = Offer(asker, tuple(keys), expires_at)
        await self.store.save_pending(_key(offer_id), offer.to_json(), expires_at)
        return offer_id

    @contextlib.asynccontextmanager
    async def press(self, offer_id: str, presser: int) -> AsyncIterator[Press]:
        """What a press by `presser` comes to; a `Ready` press's images stay inside the
        memory budget until the block ends."""
        offer = await self._load(offer_id)
        if offer is None or offer.gone:
            yield Gone("the offer expired")
            return
        if presser != offer.asker:
            yield NotYours()
            return
        if not await self.store.first_time(_claim(offer_id, offer.tries), offer.expires_at):
            yield Taken()
            return
        result = await self._result(offer.keys)
        urls = [] if result is None else fetchable(result, self.fetcher.hosts)
        if not urls:
            await self._gone(offer_id, offer)
            yield Gone("the cached result expired")
            return
        # The kept cut-outs, plus one download's chunks and their joined copy. An expired
        # link ends the offer; one that may pass leaves it for a later press; one that
        # breaks a rule is left out of the album.
        async with self.memory.hold((len(urls) + 2) * self.fetcher.max_bytes):
            # Every download ends (each is bounded) before the budget is given back.
            got = await asyncio.gather(
                *(self._fetch(kind, url) for kind, url in urls), return_exceptions=True
            )
            failures = [f for f in got if isinstance(f, BaseException)]
            unexpected = [f for f in failures if not isinstance(f, CutoutUnavailable)]
            if unexpected:
                raise unexpected[0]
            why = {f.why: str(f) for f in failures if isinstance(f, CutoutUnavailable)}
            cutouts = tuple(c for c in got if isinstance(c, Cutout))
            if Why.PASSING in why and Why.EXPIRED not in why:
                await self.retry_later(offer_id)
                yield Unreachable(why[Why.PASSING])
            elif Why.EXPIRED in why or not cutouts:
                await self._gone(offer_id, offer)
                yield Gone(why.get(Why.EXPIRED) or why[Why.REFUSED])
            else:
                if failures:  # sent without the ones that break a rule
                    left_out = why[Why.REFUSED]
                    logger.info("cut-outs %s: %d left out: %s", offer_id, len(failures), left_out)
                yield Ready(cutouts)

    async def retry_later(self, offer_id: str) -> None:
        """The send failed: let the asker's next press try again."""
        offer = await self._load(offer_id)
        if offer is not None:
            await self._save(offer_id, replace(offer, tries=offer.tries + 1))

    async def _fetch(self, kind: str, url: str) -> Cutout:
        image = await self.fetcher.fetch(url)
        if image.width + image.height > MAX_PHOTO_SIDES:
            raise CutoutUnavailable(f"{image.width} x {image.height} px, over a photo's sides")
        return Cutout(kind, image)

    async def _result(self, keys: Sequence[str]) -> RecognitionResult | None:
        for key in keys:
            if (result := await self.cache.get(key)) is not None:
                return result
        return None

    async def _gone(self, offer_id: str, offer: Offer) -> None:
        await self._save(offer_id, replace(offer, gone=True))

    async def _load(self, offer_id: str) -> Offer | None:
        raw = await self.store.load_pending(_key(offer_id), self.clock())
        return None if raw is None else Offer.from_json(raw)

    async def _save(self, offer_id: str, offer: Offer) -> None:
        await self.store.save_pending(_key(offer_id), offer.to_json(), offer.expires_at)


def _key(offer_id: str) -> str:
    return f"cutouts:{offer_id}"


def _claim(offer_id: str, tries: int) -> str:
    return f"cutouts:{offer_id}:{tries}"
