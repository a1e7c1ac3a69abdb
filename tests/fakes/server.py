"""What both fakes share: an aiohttp app served on an ephemeral port of 127.0.0.1."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer

MAX_REQUEST_BYTES = 64 * 1024 * 1024


class LocalServer:
    """Subclasses add their routes in `routes`; `start`/`close` serve them."""

    _server: TestServer | None = None

    def routes(self, app: web.Application) -> None:
        """Add the fake's routes to `app`."""
        raise NotImplementedError

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1 (no access log: URLs hold the token)."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        self.routes(app)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server(access_log=None)

    async def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            await self._server.close()

    @property
    def root(self) -> str:
        """http://127.0.0.1:PORT"""
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")
