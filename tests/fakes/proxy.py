"""Proxies on 127.0.0.1 for the proxy tests: HTTP (CONNECT tunnels and forwarded plain
requests) and SOCKS5 (CONNECT, no authentication).

Each records where it was asked to go, and connects onward from 127.0.0.2 (still this
machine's loopback), so a fake server can tell a request that came through the proxy
from one that went around it by the peer address alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from urllib.parse import urlsplit

# Where onward connections come from: any 127.0.0.0/8 address is local on Linux.
RELAY_ADDRESS = "127.0.0.2"
# A handshake takes milliseconds; a relay may sit idle through a long poll (30 s here
# at most) before its next bytes.
HANDSHAKE_SECONDS = 10.0
IDLE_SECONDS = 60.0
CHUNK = 64 * 1024
# Hop-by-hop headers a forwarding proxy must not pass on (RFC 9110, 7.6.1).
_HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization"}

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class _Relay:
    """An asyncio server on an ephemeral port of 127.0.0.1 that relays connections."""

    scheme = ""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on 127.0.0.1."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def close(self) -> None:
        """Stop listening and cut every relay still open."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for handler in self._handlers:
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    @property
    def url(self) -> str:
        """The proxy URL, as HTTPS_PROXY or ALL_PROXY take it."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"{self.scheme}://127.0.0.1:{port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            async with asyncio.timeout(HANDSHAKE_SECONDS):
                upstream = await self._handshake(reader, writer)
            if upstream is not None:
                await _relay(reader, writer, *upstream)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            pass  # the client went away or spoke nonsense; its own test says so
        finally:
            writer.close()
            self._handlers.discard(task)

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Stream | None:
        """Agree on a target with the client; the open onward connection, or None."""
        raise NotImplementedError

    async def _connect(self, host: str, port: int) -> Stream:
        self.targets.append(f"{host}:{port}")
        return await asyncio.open_connection(host, port, local_addr=(RELAY_ADDRESS, 0))


class HttpProxy(_Relay):
    """CONNECT tunnels (for https:// targets) and forwarded requests (for http://)."""

    scheme = "http"

    def __init__(self) -> None:
        super().__init__()
        self.forwarded: list[str] = []

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Stream | None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *headers = head.split("\r\n")[:-2]
        method, target, version = request_line.split(" ")
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = await self._connect(host.strip("[]"), int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            return upstream
        # A forwarded request names its absolute URL; the origin gets the path, and one
        # request per connection (Connection: close) keeps the relay a plain byte copy.
        url = urlsplit(target)
        if url.scheme != "http" or url.hostname is None:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return None
        self.forwarded.append(f"{method} {url.path}")
        upstream_reader, upstream_writer = await self._connect(url.hostname, url.port or 80)
        path = url.path + (f"?{url.query}" if url.query else "")
        kept = [h for h in headers if h.split(":", 1)[0].strip().lower() not in _HOP_BY_HOP]
        lines = [f"{method} {path} {version}", *kept, "Connection: close", "", ""]
        upstream_writer.write("\r\n".join(lines).encode("latin-1"))
        return upstream_reader, upstream_writer


class Socks5Proxy(_Relay):
    """SOCKS5 CONNECT (RFC 1928) without authentication, for IPv4, IPv6 and names."""

    scheme = "socks5"

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Stream | None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != 5 or 0 not in methods:
            writer.write(b"\x05\xff")  # no acceptable method
            return None
        writer.write(b"\x05\x00")
        _, command, _, address_type = await reader.readexactly(4)
        match address_type:
            case 1:
                host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
            case 4:
                host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
            case 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            case _:
                writer.write(b"\x05\x08\x00\x01" + bytes(6))  # address type not supported
                return None
        port = int.from_bytes(await reader.readexactly(2), "big")
        if command != 1:
            writer.write(b"\x05\x07\x00\x01" + bytes(6))  # only CONNECT
            return None
        upstream = await self._connect(host, port)
        writer.write(b"\x05\x00\x00\x01" + bytes(6))  # succeeded; bound address unused
        return upstream


async def _relay(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways until either side closes or idles past IDLE_SECONDS."""
    copies = {
        asyncio.create_task(_copy(reader, upstream_writer)),
        asyncio.create_task(_copy(upstream_reader, writer)),
    }
    try:
        await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for copy in copies:
            copy.cancel()
        await asyncio.gather(*copies, return_exceptions=True)
        upstream_writer.close()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, TimeoutError):
        while chunk := await asyncio.wait_for(source.read(CHUNK), IDLE_SECONDS):
            sink.write(chunk)
            await sink.drain()
