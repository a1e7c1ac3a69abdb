"""What the bot's HTTP clients share: which client a request goes through, the
certificates both trust, and a network error an operator can act on, without its text.

The bot is bound by its event loop's CPU. aiohttp (already the webhook's server)
parses HTTP in C and needs no anyio cancel scope per read: a small request costs it
about a fifth of httpx's CPU. So the Bot API, file downloads and the recognition API
go through aiohttp when the bot reaches them directly, and through httpx when proxy
variables are set: httpx reads HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY,
socks5:// included (tests/e2e/test_proxies.py), which aiohttp does not.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from urllib.request import getproxies

import aiohttp
import httpx


def proxied() -> bool:
    """Whether any proxy variable is set (as urllib reads them: any case, NO_PROXY too)."""
    return bool(getproxies())


def tls() -> ssl.SSLContext:
    """The certificates httpx trusts (SSL_CERT_FILE or SSL_CERT_DIR if set, else certifi's),
    so both clients trust the same ones."""
    return httpx.create_ssl_context()


def describe(exc: BaseException) -> str:
    """An HTTP client's error without its text, which may hold the URL and so the bot's
    token: where it could not connect to and why (DNS, refused, TLS, timeout) when that
    is known, else the error's class."""
    named = cause(exc)
    host = _host(exc)
    if named is None:
        return f"{type(exc).__module__.partition('.')[0]}.{type(exc).__name__}"
    return f"{host}: {named}" if host else named


def cause(exc: BaseException) -> str | None:
    """Why a connection failed, in the words an operator looks up: a DNS lookup that
    failed, a connection refused, a TLS handshake or certificate, a timeout; None for
    anything else. aiohttp, httpx and redis-py all keep the socket's own error in the
    exception's chain, so one reading serves every dependency."""
    other: str | None = None
    for error in _chain(exc):
        if isinstance(error, aiohttp.ClientSSLError):
            continue  # aiohttp's wrapper (an SSLError too): the ssl module's error follows
        if isinstance(error, socket.gaierror):
            # EAI_NONAME ("Name or service not known"), EAI_AGAIN (no DNS server answered)
            return f"DNS lookup failed ({error.strerror})"
        if isinstance(error, ConnectionRefusedError):
            return "connection refused (nothing listening on that port?)"
        if isinstance(error, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({error.verify_message})"
        if isinstance(error, ssl.SSLError):
            # What a TLS client reads when the server answers in plain text.
            hint = " (a server without TLS?)" if error.reason == "WRONG_VERSION_NUMBER" else ""
            reason = (error.reason or "").lower().replace("_", " ") or error.strerror
            return f"TLS handshake failed ({reason}){hint}"
        if isinstance(error, TimeoutError | httpx.TimeoutException):
            return "timed out connecting" if _connecting(exc) else "timed out waiting for an answer"
        if type(error).__module__ == "builtins" and isinstance(error, OSError) and error.strerror:
            other = other or f"cannot connect ({error.strerror})"  # no route, reset, ...
    return other


def _connecting(exc: BaseException) -> bool:
    """Whether a timeout came while connecting (a host that drops packets) rather than
    waiting for an answer (a server that accepted and hangs)."""
    return any(
        isinstance(error, aiohttp.ConnectionTimeoutError | httpx.ConnectTimeout)
        # redis-py says so only in words
        or str(error).startswith("Timeout connecting")
        for error in _chain(exc)
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the errors it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _host(exc: BaseException) -> str | None:
    """The host and port an error is about, where the client says (never the path)."""
    for error in _chain(exc):
        if isinstance(error, aiohttp.ClientConnectorError):
            return f"{error.host}:{error.port}"
        if isinstance(error, httpx.RequestError):
            try:
                url = error.request.url
            except RuntimeError:  # raised outside a request
                return None
            return f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    return None
