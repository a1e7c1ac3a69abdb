"""What both fakes share: an aiohttp app served on an ephemeral port of 127.0.0.1."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

MAX_REQUEST_BYTES = 64 * 1024 * 1024


class LocalServer:
    """Subclasses add their routes in `routes`; `start`/`close` serve them."""

    _server: TestServer | None = None
    # Addresses requests came from: the proxy tests tell relayed from direct ones by it.
    peers: set[str]

    def routes(self, app: web.Application) -> None:
        """Add the fake's routes to `app`."""
        raise NotImplementedError

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        """Listen on an ephemeral port of 127.0.0.1 (no access log: URLs hold the token);
        with `tls`, over HTTPS as the real services are."""
        self.peers = set()

        @web.middleware
        async def record_peer(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            self.peers.add(request.remote or "")
            return await handler(request)

        app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[record_peer])
        self.routes(app)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server(access_log=None, ssl=tls)

    async def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            await self._server.close()

    @property
    def root(self) -> str:
        """http://127.0.0.1:PORT (https:// with TLS)"""
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")
