"""Addresses that fail each way an operator must tell apart, all on 127.0.0.1 but one:
a name no DNS resolves, a port nothing listens on, a plain-HTTP server asked for TLS,
and a server that accepts connections and never answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from tests.conftest import free_port

# RFC 6761 reserves .invalid: no resolver may answer it, online or not.
UNRESOLVABLE = "nonexistent.invalid"

# What each failure reads as, whichever client met it (bot/http_clients.cause).
WORDS = {
    "dns": "DNS lookup failed",
    "refused": "connection refused",
    "tls": "TLS handshake failed (wrong version number) (a server without TLS?)",
    "timeout": "timed out waiting for an answer",
}


@contextmanager
def silent_port() -> Iterator[int]:
    """A port whose connections the kernel completes (the listen backlog) and nobody
    ever reads or answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield int(server.getsockname()[1])


@contextmanager
def address(failure: str, plain_http_port: int) -> Iterator[tuple[str, int]]:
    """The host and port that fail as `failure` (a key of `WORDS`); `plain_http_port`:
    an HTTP server's, which a TLS client's hello gets a plain-text answer from."""
    match failure:
        case "dns":
            yield UNRESOLVABLE, 443
        case "refused":
            yield "127.0.0.1", free_port()
        case "tls":
            yield "127.0.0.1", plain_http_port
        case _:
            with silent_port() as port:
                yield "127.0.0.1", port
