"""Figures for the bot against the fakes: overhead, throughput, memory, cache, fairness.

    python -m bench.run                 every scenario (about 8 minutes on 2 cores)
    python -m bench.run overhead cache  just those

Each scenario starts the real bot (`python -m bot`) as its own process against
the fake Bot API and the fake recognition API, with the API's latency set, and
prints one table at the end.
"""

from __future__ import annotations

import asyncio
import io
import struct
import sys
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import psutil

from bench.harness import Rig, now, running_bot
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg, png

MB = 1_000_000


# -- distinct images, cheaply --------------------------------------------


def jpeg_variant(base: bytes, n: int) -> bytes:
    """`base` with a comment segment naming `n`: a valid, distinct JPEG, same pixels."""
    text = f"variant {n}".encode()
    return base[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + base[2:]


def png_variant(base: bytes, n: int) -> bytes:
    """`base` with a tEXt chunk naming `n`, before IEND: a valid, distinct PNG."""
    payload = b"Comment\x00" + f"variant {n}".encode()
    body = b"tEXt" + payload
    chunk = struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))
    return base[:-12] + chunk + base[-12:]


def big_png(target: int) -> bytes:
    """A noisy PNG just under `target` bytes."""
    side = int((target / 3) ** 0.5)
    while True:
        data = png(side, side, noise=True)
        if len(data) <= target:
            return data
        side -= 8


def big_jpeg(target: int) -> bytes:
    """A noisy JPEG just over `target` bytes."""
    side = 1500
    while True:
        data = jpeg(side, side, noise=True, quality=95)
        if len(data) >= target:
            return data
        side = int(side * (target / len(data)) ** 0.5) + 16


# -- measuring -----------------------------------------------------------


@dataclass
class Sent:
    """One photo pushed to the fake Bot API."""

    chat_id: int
    message_id: int
    update_id: int


def push_photo(telegram: FakeBotApi, chat_id: int, data: bytes, size: tuple[int, int]) -> Sent:
    """Push a photo update; remember how to find its reply."""
    update = telegram.photo_update(chat_id, data, *size)
    update_id = telegram.push(update)
    return Sent(chat_id, update["message"]["message_id"], update_id)


def push_document(telegram: FakeBotApi, chat_id: int, data: bytes) -> Sent:
    """Push a file update."""
    update = telegram.document_update(chat_id, data, file_name="big.png")
    update_id = telegram.push(update)
    return Sent(chat_id, update["message"]["message_id"], update_id)


def reply_latencies(telegram: FakeBotApi, sent: list[Sent]) -> list[float]:
    """Seconds from each update being served by getUpdates to its reply arriving."""
    replied_at = {
        (int(call.params["chat_id"]), int(call.params["reply_parameters"]["message_id"])): call.at
        for call in telegram.calls_to("sendMessage")
        if "reply_parameters" in call.params
    }
    return [replied_at[(s.chat_id, s.message_id)] - telegram.served_at[s.update_id] for s in sent]


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


Row = tuple[str, str, str]  # figure, value, target


async def sequential_overhead(
    rig: Rig, make: Callable[[int], Sent], count: int, latency: float
) -> list[float]:
    """Send one image at a time; return each reply's latency minus the API's."""
    sent = []
    for n in range(count):
        sent.append(make(n))
        await rig.telegram.wait_delivered(n + 1, within=60)
    return [1000 * (t - latency) for t in reply_latencies(rig.telegram, sent)]


async def overhead() -> list[Row]:
    """Bot overhead per photo and per 9.9 MB PNG document, p50 and p95."""
    latency = 0.1
    rows: list[Row] = []
    base = jpeg(1280, 960)
    async with running_bot(api_latency=latency) as rig:
        ms = await sequential_overhead(
            rig,
            lambda n: push_photo(rig.telegram, 100 + n, jpeg_variant(base, n), (1280, 960)),
            60,
            latency,
        )
    rows.append(("overhead, 1280 px JPEG photo, p50", f"{percentile(ms, 0.5):.1f} ms", ""))
    rows.append(("overhead, 1280 px JPEG photo, p95", f"{percentile(ms, 0.95):.1f} ms", "<= 10"))

    document = big_png(9_900_000)
    async with running_bot(api_latency=latency) as rig:
        ms = await sequential_overhead(
            rig,
            lambda n: push_document(rig.telegram, 500 + n, png_variant(document, n)),
            20,
            latency,
        )
    size = len(document) / MB
    rows.append((f"overhead, {size:.1f} MB PNG document, p50", f"{percentile(ms, 0.5):.1f} ms", ""))
    rows.append(
        (f"overhead, {size:.1f} MB PNG document, p95", f"{percentile(ms, 0.95):.1f} ms", "<= 80")
    )
    return rows


async def burst(module: str, photos: int, users: int, extra: dict[str, str]) -> tuple[float, Rig]:
    """`photos` distinct photos from `users` people at once; return replies/s."""
    base = jpeg(1280, 960)
    async with running_bot(api_latency=0.8, extra_env=extra, module=module) as rig:
        started = now()
        for n in range(photos):
            push_photo(rig.telegram, 1000 + n % users, jpeg_variant(base, n), (1280, 960))
        await rig.telegram.wait_delivered(photos, within=900)
        elapsed = now() - started
    return photos / elapsed, rig


async def throughput() -> list[Row]:
    """Replies/s for 500 photos from 100 people at 0.8 s API latency, and the naive bot's."""
    ours, rig = await burst("bot", 500, 100, {"API_MAX_CONCURRENT_CALLS": "32"})
    naive, _ = await burst("bench.naive_bot", 40, 10, {})
    return [
        ("replies/s, 500 photos, 100 people, API 0.8 s", f"{ours:.1f}", ">= 27"),
        ("replies/s, naive bot (sequential, full decode)", f"{naive:.2f}", ""),
        ("ratio to the naive bot", f"{ours / naive:.0f}x", ">= 20x"),
        ("peak RSS during the 500-photo burst", f"{rig.rss.peak / MB:.0f} MB", ""),
    ]


async def memory(people: int = 100, document: bytes | None = None) -> list[Row]:
    """Peak RSS with `people` sending a large document at once (all distinct)."""
    data = document or big_png(9_900_000)
    async with running_bot(api_latency=0.8) as rig:
        started = now()
        for n in range(people):
            push_document(
                rig.telegram,
                2000 + n,
                png_variant(data, n) if data[:4] == b"\x89PNG" else jpeg_variant(data, n),
            )
        await rig.telegram.wait_delivered(people, within=900)
        elapsed = now() - started
        answered = sum(m["text"].startswith("Found") for m in rig.telegram.delivered)
    kind = "PNG" if data[:4] == b"\x89PNG" else "JPEG"
    label = f"peak RSS, {people} people x {len(data) / MB:.1f} MB {kind} at once"
    return [
        (label, f"{rig.rss.peak / MB:.0f} MB", "<= 350" if people == 100 else ""),
        ("  answered / seconds", f"{answered}/{people} in {elapsed:.0f} s", ""),
    ]


async def memory15() -> list[Row]:
    """The hostile-input case: 50 people x 15 MB JPEG that must be re-compressed."""
    return await memory(50, big_jpeg(15_000_000))


async def cache() -> list[Row]:
    """API calls for 1000 photos of which 40 % repeat earlier ones."""
    base = jpeg(1280, 960)
    async with running_bot(api_latency=0.8, extra_env={"API_MAX_CONCURRENT_CALLS": "32"}) as rig:
        telegram = rig.telegram
        originals: list[dict] = []
        for n in range(1000):
            chat = 3000 + n % 100
            if n % 5 in (1, 3) and originals:
                # Every other repeat forwards the same Telegram file; the rest re-upload
                # the same bytes under a new file id.
                earlier = originals[(n * 7) % len(originals)]
                if n % 2:
                    telegram.push(telegram.message(chat, photo=earlier["message"]["photo"]))
                else:
                    data = telegram.files[earlier["message"]["photo"][-1]["file_id"]]
                    telegram.push(telegram.photo_update(chat, data, 1280, 960))
            else:
                update = telegram.photo_update(chat, jpeg_variant(base, n), 1280, 960)
                telegram.push(update)
                originals.append(update)
        await telegram.wait_delivered(1000, within=900)
    return [
        (
            "API calls for 1000 photos, 40 % repeats",
            str(len(rig.kling.received)),
            f"= {len(originals)}",
        ),
    ]


async def fairness() -> list[Row]:
    """A second person's photo while one person's 100-photo burst runs."""
    base = jpeg(1280, 960)
    async with running_bot(api_latency=0.8) as rig:
        alone = push_photo(rig.telegram, 4000, jpeg_variant(base, 10_000), (1280, 960))
        await rig.telegram.wait_delivered(1, within=60)
        for n in range(100):
            push_photo(rig.telegram, 4001, jpeg_variant(base, n), (1280, 960))
        await asyncio.sleep(1.0)
        other = push_photo(rig.telegram, 4002, jpeg_variant(base, 20_000), (1280, 960))
        await rig.telegram.wait_delivered(102, within=900)
        normal, during = reply_latencies(rig.telegram, [alone, other])
    return [
        ("single photo alone, reply latency", f"{normal * 1000:.0f} ms", ""),
        ("single photo during a 100-photo burst", f"{during * 1000:.0f} ms", "~ alone"),
    ]


async def flood(photos: int = 2000) -> list[Row]:
    """2,000 photos from 2,000 private chats at once, default settings: every one answered
    and none after its deadline, with the typing sign and getFile calls counted."""
    base = jpeg(1280, 960)
    async with running_bot(api_latency=0.8) as rig:
        telegram = rig.telegram
        started = now()
        for n in range(photos):
            push_photo(telegram, 10_000 + n, jpeg_variant(base, n), (1280, 960))
        await telegram.wait_delivered(photos, within=1800)
        elapsed = now() - started
        cpu = psutil.Process(rig.process.pid).cpu_times()
    texts = [m["text"] for m in telegram.delivered]
    answered = sum(text.startswith("Found") for text in texts)
    timed_out = sum(text.startswith("This is taking too long") for text in texts)
    return [
        (f"flood: {photos} photos, {photos} chats, API 0.8 s", f"{elapsed:.0f} s", ""),
        ("  answered / timed out", f"{answered} / {timed_out}", f"{photos} / 0"),
        (
            "  sendChatAction / getFile",
            f"{len(telegram.calls_to('sendChatAction'))} / {len(telegram.calls_to('getFile'))}",
            "",
        ),
        ("  bot CPU seconds", f"{cpu.user + cpu.system:.0f} s", ""),
        ("  peak RSS", f"{rig.rss.peak / MB:.0f} MB", ""),
    ]


SCENARIOS: dict[str, Callable[[], Awaitable[list[Row]]]] = {
    "overhead": overhead,
    "throughput": throughput,
    "memory": memory,
    "memory15": memory15,
    "cache": cache,
    "fairness": fairness,
    "flood": flood,
}


def main() -> None:
    """Run the chosen scenarios and print the table."""
    chosen = sys.argv[1:] or list(SCENARIOS)
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        sys.exit(f"unknown scenario {unknown[0]}; choose from {', '.join(SCENARIOS)}")
    rows: list[Row] = []
    started = now()
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows += asyncio.run(SCENARIOS[name]())
    width = max(len(row[0]) for row in rows)
    out = io.StringIO()
    out.write(f"{'figure':<{width}}  {'value':>14}  target\n")
    for figure, value, target in rows:
        out.write(f"{figure:<{width}}  {value:>14}  {target}\n")
    out.write(f"(all scenarios took {now() - started:.0f} s)\n")
    print(out.getvalue(), end="")


if __name__ == "__main__":
    main()
