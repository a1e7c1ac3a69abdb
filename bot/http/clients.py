"""What the bot's HTTP clients share: which client a request goes through, the
certificates both trust, and an aiohttp error an operator can read without its text.

The bot is bound by its event loop's CPU. aiohttp (already the webhook's server)
parses HTTP in C and needs no anyio cancel scope per read: a small request costs it
about a fifth of httpx's CPU. So the Bot API, file downloads and the recognition API
go through aiohttp when the bot reaches them directly, and through httpx when proxy
variables are set: httpx reads HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY,
socks5:// included (tests/e2e/test_proxies.py), which aiohttp does not.
"""

from __future__ import annotations

import os
import ssl
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


def describe(exc: aiohttp.ClientError) -> str:
    """The error without its text, which may hold the URL and so the bot's token; where
    it could not connect to, and why, is kept."""
    detail = f"aiohttp.{type(exc).__name__}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = exc.os_error
        reason = os.strerror(error.errno) if error.errno else error.strerror
        detail += f": cannot connect to {exc.host}:{exc.port} ({reason})"
    return detail
