"""Every metric that deploy/'s alert rules and Grafana dashboard name, with every label
value they match exactly, exists in the real bot's /metrics: `python -m bot` is run
against the fakes, sent photos with each outcome the rules watch, and scraped."""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from pathlib import Path

import httpx
import yaml
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from bot.recognition.errors import ErrorKind
from tests.conftest import API_KEY, free_port
from tests.e2e.processes import bot_process, clean_environment
from tests.fakes import bot_environment
from tests.fakes.recognizer import FakeRecognizer, Reply
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg, textured

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
CHAT = 5005
# A metric with its label matchers: segment_bot_events_total{event=~"failed:.*"}.
SELECTOR = re.compile(r"\b(segment_bot_\w+)(?:\{([^}]*)\})?")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def expressions() -> dict[str, list[str]]:
    """Every PromQL expression of the alert rules and the dashboard, by where it is."""
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    found = {
        f"alert {rule['alert']}": [rule["expr"]]
        for group in rules["groups"]
        for rule in group["rules"]
    }
    for path in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            found[f"{path.name}: {panel['title']}"] = [t["expr"] for t in panel["targets"]]
    return found


def _jpeg(picture: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality)
    return out.getvalue()


async def test_every_metric_the_rules_and_dashboard_name_is_served(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path
) -> None:
    port = free_port()
    env = clean_environment(
        **bot_environment(telegram, kling, API_KEY),
        DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
        HTTP_LISTEN="127.0.0.1",
        HTTP_PORT=str(port),
        API_MAX_ATTEMPTS="1",
        GLOBAL_DAILY_LIMIT="2",
        LOG_LEVEL="WARNING",
    )
    original = textured(31)
    sends = [
        (_jpeg(original, 87), (1280, 960), None),  # recognized
        (_jpeg(original, 87), (1280, 960), None),  # the same bytes: cache_hits
        (_jpeg(original.resize((800, 600)), 72), (800, 600), None),  # near_hits
        (jpeg(900, 900, seed=2), (900, 900), Reply(status=500)),  # failed:server
        (jpeg(900, 900, seed=3), (900, 900), None),  # recognized: 2 of 2 calls today
        (jpeg(900, 900, seed=4), (900, 900), None),  # limited:global
        (jpeg(250, 400), (250, 400), None),  # refused: too small
    ]
    async with bot_process(env, cwd=tmp_path):
        for count, (data, size, reply) in enumerate(sends, start=1):
            if reply is not None:
                kling.answer(reply)
            telegram.push(telegram.photo_update(CHAT, data, *size))
            await telegram.wait_sent(CHAT, count, within=30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            exposition = (await http.get("/metrics")).text

    served: dict[str, str] = {}  # every name a query may use, to its family's name
    labels: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for family in text_string_to_metric_families(exposition):
        for suffix in SUFFIXES.get(family.type, ("",)):
            served[family.name + suffix] = family.name
        for sample in family.samples:
            served[sample.name] = family.name
            for name, value in sample.labels.items():
                labels[family.name][name].add(value)
    events = labels["segment_bot_events"]["event"]
    assert {"recognized", "cache_hits", "near_hits", "failed:server", "limited:global"} <= events
    assert any(event.startswith("refused:") for event in events)

    named = 0
    for where, exprs in expressions().items():
        selectors = [s for expr in exprs for s in SELECTOR.findall(expr)]
        assert selectors or "up{" in " ".join(exprs), f"{where} names no metric"
        for metric, matchers in selectors:
            named += 1
            assert metric in served, f"{where}: {metric} is not in /metrics"
            family = served[metric]
            for label, op, value in MATCHER.findall(matchers):
                assert label in labels[family], f"{where}: {metric} has no label {label}"
                if op == "=":
                    assert value in labels[family][label], f"{where}: {label}={value!r} never seen"
                if op == "=~":
                    _assert_can_match(where, value, labels[family][label])
    assert named >= 20


def _assert_can_match(where: str, pattern: str, seen: set[str]) -> None:
    """An alternation of API error kinds must name real kinds; any other regex must match
    a value the bot served."""
    kinds = re.fullmatch(r"failed:\(([\w|]+)\)", pattern)
    if kinds:
        known = {kind.value for kind in ErrorKind}
        assert set(kinds.group(1).split("|")) <= known, f"{where}: {pattern} names no error kind"
        return
    assert any(re.fullmatch(pattern, value) for value in seen), f"{where}: {pattern} matches none"
