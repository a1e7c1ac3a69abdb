"""Proxies from the standard variables: the whole bot, both HTTP clients, through a proxy.

python-telegram-bot's HTTPXRequest and the recognition API's client are httpx clients
built with trust_env on and no transport of their own, so httpx reads HTTPS_PROXY,
HTTP_PROXY, ALL_PROXY and NO_PROXY when the bot starts; socks5:// works through the
httpx[socks] extra. The fakes serve HTTPS as the real services do (a test CA trusted
through SSL_CERT_FILE, which httpx also honours), so HTTPS_PROXY is exercised the way
production uses it: a CONNECT tunnel. A relayed request reaches a fake from 127.0.0.2,
a direct one from 127.0.0.1, so "every request went through the proxy" is checked too.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trustme

from bot.app import BotService
from bot.config import Settings
from tests.e2e.harness import running
from tests.fakes.proxy import RELAY_ADDRESS, HttpProxy, Socks5Proxy
from tests.fakes.recognizer import PATH as RECOGNIZE_PATH
from tests.fakes.recognizer import FakeRecognizer
from tests.fakes.server import LocalServer
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg

CHAT = 5005


@pytest.fixture
def fake_tls(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ssl.SSLContext | None:
    """HTTPS fakes with a certificate from a test CA that SSL_CERT_FILE makes trusted;
    a test parametrized with `fake_tls=False` gets plain HTTP."""
    if not getattr(request, "param", True):
        return None
    ca = trustme.CA()
    ca_file = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
async def proxy(request: pytest.FixtureRequest) -> AsyncIterator[HttpProxy | Socks5Proxy]:
    """An HTTP proxy, or with the parameter "socks5" a SOCKS5 one, on 127.0.0.1."""
    started = Socks5Proxy() if getattr(request, "param", "http") == "socks5" else HttpProxy()
    await started.start()
    yield started
    await started.close()


def origin(fake: LocalServer) -> str:
    """host:port of a fake, as a proxy is asked for it."""
    return urlsplit(fake.root).netloc


async def answer_one_photo(settings: Settings, telegram: FakeBotApi) -> None:
    """Start the bot (its clients read the proxy variables now) and have it answer a photo:
    getMe, setMyCommands, getUpdates, getFile, the download, the API call, sendMessage."""
    async with running(await BotService.open(settings)):
        telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))
        [reply] = await telegram.wait_sent(CHAT)
    assert reply["text"].startswith("Found 4 of 4 segments")


@pytest.mark.parametrize(
    ("fake_tls", "proxy", "variable", "url_scheme"),
    [
        # Production: https:// services, an http:// proxy asked to CONNECT.
        (True, "http", "HTTPS_PROXY", "http"),
        (True, "socks5", "ALL_PROXY", "socks5"),
        (True, "socks5", "ALL_PROXY", "socks5h"),
        # A local Bot API server is often plain http://: HTTP_PROXY forwards to it.
        (False, "http", "HTTP_PROXY", "http"),
    ],
    indirect=["fake_tls", "proxy"],
)
async def test_every_request_goes_through_the_proxy_the_variable_names(
    settings: Settings,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    proxy: HttpProxy | Socks5Proxy,
    variable: str,
    url_scheme: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(variable, f"{url_scheme}://{urlsplit(proxy.url).netloc}")
    if variable == "HTTP_PROXY":
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # not for http:// addresses

    await answer_one_photo(settings, telegram)

    assert set(proxy.targets) == {origin(telegram), origin(kling)}
    assert telegram.peers == kling.peers == {RELAY_ADDRESS}, "a request went around the proxy"
    assert len(kling.received) == 1
    if isinstance(proxy, HttpProxy) and telegram.root.startswith("https://"):
        assert proxy.forwarded == [], "https is tunnelled, never forwarded in the clear"
    elif isinstance(proxy, HttpProxy):
        methods = {line.rsplit("/", 1)[-1] for line in proxy.forwarded}
        assert {"getMe", "getUpdates", "getFile", "sendMessage"} <= methods
        assert f"POST {RECOGNIZE_PATH}" in proxy.forwarded
        assert any(line.startswith("GET /file/bot") for line in proxy.forwarded)


async def test_no_proxy_lets_named_hosts_go_direct(
    settings: Settings,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    proxy: HttpProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")

    await answer_one_photo(settings, telegram)

    assert proxy.targets == []
    assert telegram.peers == kling.peers == {"127.0.0.1"}
