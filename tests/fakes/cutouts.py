"""A fake host of the API's cut-out images: HTTPS on 127.0.0.1 with a certificate made
for the test alone, recording every path asked for.

`tls()` makes a throwaway certificate authority in memory (trustme): the server's context,
and the client context that trusts it, to give the bot's cut-out client as its `verify`.
Nothing is written to disk and no key is ever committed.
"""

from __future__ import annotations

import ssl

import trustme
from aiohttp import web

from tests.fakes.server import LocalServer
from tests.imagegen import png


def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context for 127.0.0.1, client context trusting it only)."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


class CutoutHost(LocalServer):
    """Serves `/<name>.png` as a 400x400 PNG; once `expired`, every link answers 403 as a
    link past its 30 days does. Scripted paths test the fetcher's rules: `/moved` (a
    redirect on the host), `/away` (to a host off the list), `/plain` (to http), `/big`,
    `/text...` (not an image), `/busy...` (a 503 that may pass); any other path is an
    expired link."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.expired = False

    def routes(self, app: web.Application) -> None:
        """Every path."""
        app.router.add_get("/{tail:.*}", self._serve)

    @property
    def host(self) -> str:
        """The entry for CUTOUT_HOSTS: 127.0.0.1:PORT."""
        return self.root.removeprefix("https://")

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.asked.append(path)
        if self.expired:
            return web.Response(status=403)
        if path == "/moved":
            raise web.HTTPFound("/head.png")
        if path == "/away":
            raise web.HTTPFound("https://elsewhere.example/head.png")
        if path == "/plain":
            raise web.HTTPFound(f"http://127.0.0.1:{request.url.port}/head.png")
        if path == "/big":
            return web.Response(body=b"\x89PNG" + bytes(2_000_000))
        if path.startswith("/text"):
            return web.Response(text="not an image")
        if path.startswith("/busy"):
            return web.Response(status=503)
        if path.endswith(".png") and path != "/expired.png":
            return web.Response(body=png(400, 400), content_type="image/png")
        return web.Response(status=403)
