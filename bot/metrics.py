"""Prometheus metrics: what the bot counts, how long the API takes, how often it retries,
how many calls at once it allows."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "segment_bot_events",
    "Photos and their outcomes: photos, recognized, refused:<rule>, failed:<kind>, "
    "limited:<scope>; api_calls; cache_hits and near_hits (among the recognized).",
    ["event"],
)
API_SECONDS = Histogram(
    "segment_bot_api_request_seconds",
    "Duration of each recognition API attempt.",
    buckets=(0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30),
)
API_RETRIES = Counter(
    "segment_bot_api_retries", "Recognition attempts that failed and were tried again.", ["kind"]
)
API_CONCURRENCY_LIMIT = Gauge(
    "segment_bot_api_concurrency_limit",
    "Recognition API calls the adaptive limiter allows in flight now.",
)
DECODE_BUDGET_IN_USE = Gauge(
    "segment_bot_decode_budget_bytes_in_use",
    "Bytes of the decode budget (DECODE_BUDGET_MB) that images being checked hold now.",
)
DECODE_BUDGET_BYTES = Gauge(
    "segment_bot_decode_budget_bytes", "The decode budget (DECODE_BUDGET_MB) in bytes."
)
DECODE_WORKERS_BUSY = Gauge(
    "segment_bot_decode_workers_busy",
    "Decode worker processes preparing an image now (of DECODE_WORKERS).",
)
DECODE_WORKERS_REPLACED = Counter(
    "segment_bot_decode_workers_replaced",
    "Decode workers ended (by their CPU or time limit, a crash, or memory that did not "
    "come back) and started again.",
)
INTAKE_BACKLOG = Gauge(
    "segment_bot_intake_backlog",
    "Updates acknowledged to Telegram and not answered yet (every replica's).",
)
INTAKE_OLDEST_SECONDS = Gauge(
    "segment_bot_intake_oldest_unanswered_seconds",
    "Age of the oldest update acknowledged to Telegram and not answered yet.",
)
INTAKE_REDELIVERIES = Counter(
    "segment_bot_intake_redeliveries",
    "Updates taken again because the worker that held them stopped before answering.",
)
INTAKE_SET_ASIDE = Counter(
    "segment_bot_intake_set_aside",
    "Updates set aside after killing their worker MAX_DELIVERIES times (or unreadable).",
)
DEPENDENCY_UP = Gauge(
    "segment_bot_dependency_up",
    "0 during an outage of a dependency (storage, telegram) as /healthz reports it, else 1.",
    ["dependency"],
)
