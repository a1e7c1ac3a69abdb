"""`python -m bot.healthcheck`: exit 0 when the bot in this container answers /livez with 200.

It asks /livez, not /healthz: Docker (and Swarm, which restarts an unhealthy task) should
call the process unhealthy only when restarting it could help, that is when its event
loop no longer answers. A storage or Telegram outage makes /healthz answer 503, which is
for the load balancer to route around, not a reason to restart every replica at once.

The Docker image's HEALTHCHECK runs it (the slim base has no curl). It reads only
HTTP_LISTEN and HTTP_PORT, the way the bot does, so a check never needs the secrets or
the rest of the settings, and imports nothing but the standard library: it runs every
15 s for the life of the container.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Mapping
from http.client import HTTPException

# The port the bot serves on when HTTP_PORT is empty in webhook mode (bot.app.DEFAULT_HTTP_PORT,
# not imported: that would load Telegram and aiohttp on every check).
DEFAULT_PORT = "8080"
# Under the HEALTHCHECK --timeout of 5 s, so a hung bot is reported by this line, not killed.
TIMEOUT_SECONDS = 4.0
_ANY_ADDRESS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104


def livez_url(env: Mapping[str, str]) -> str:
    """Where the bot's /livez listens, given its environment."""
    listen = env.get("HTTP_LISTEN", "").strip()
    host = _ANY_ADDRESS.get(listen, listen)
    if ":" in host:
        host = f"[{host}]"
    port = env.get("HTTP_PORT", "").strip() or DEFAULT_PORT
    return f"http://{host}:{port}/livez"


def check(url: str) -> str | None:
    """None when `url` answers 200; otherwise why not, in one line."""
    # No proxies: HTTP_PROXY set for the bot's outgoing calls must not catch a local probe.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=TIMEOUT_SECONDS) as response:
            status: int = response.status
    # Refused, timed out or an error status (HTTPError is an OSError); HTTPException: a
    # malformed port or a garbled answer.
    except (OSError, HTTPException) as exc:
        return f"{url}: {exc}"
    return None if status == 200 else f"{url}: HTTP {status}"


def main() -> int:
    """Exit status for Docker: 0 healthy, 1 not (with the reason on stderr)."""
    problem = check(livez_url(os.environ))
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
