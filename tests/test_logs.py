"""Log output never carries a secret, whoever logs it and however."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args, get_type_hints

import pytest

from bot.logs import REDACTED, JsonFormatter, RedactingFormatter, configure_logging
from bot.photo.images import Change, PreparedImage
from bot.photo.outcomes import (
    DeadlineExceeded,
    DownloadError,
    Failed,
    Limited,
    Outcome,
    Recognized,
    Refused,
    outcome_name,
)
from bot.photo.pipeline import Origin, Source, _Steps
from bot.photo.quotas import QuotaExceeded
from bot.photo.rules import (
    BadAspectRatio,
    CorruptImage,
    HiddenPayload,
    ImageRejected,
    NotAnImage,
    TooLargeToDownload,
    TooManyPixels,
    TooMuchWork,
    TooSmall,
    Work,
)
from bot.recognition.errors import ErrorKind, RecognitionError
from bot.recognition.results import RecognitionResult
from tests.conftest import API_KEY, TOKEN


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"failed for https://api.telegram.org/bot{TOKEN}/getMe")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.LogRecord("telegram", logging.ERROR, __file__, 1, message, args, exc_info)


def test_secrets_are_blanked_in_messages_arguments_and_tracebacks() -> None:
    formatter = RedactingFormatter((TOKEN, API_KEY))
    text = formatter.format(_record("url %s key %s", f"/bot{TOKEN}/x", API_KEY, exc=True))
    assert TOKEN not in text
    assert API_KEY not in text
    assert text.count(REDACTED) == 3
    assert "RuntimeError" in text


def test_http_client_request_lines_are_silenced() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", (TOKEN,))
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING
        assert isinstance(root.handlers[0].formatter, RedactingFormatter)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def _image_record() -> logging.LogRecord:
    record = logging.LogRecord(
        "bot.photo.pipeline", logging.INFO, __file__, 1, "image %s", ("ok",), None
    )
    record.fields = {
        "outcome": "recognized",
        "chat": 5,
        "changes": [],
        "reason": "a b",
        "empty": "",
        "absent": None,
        "k": API_KEY,
    }
    return record


def test_fields_follow_the_text_line_and_fill_a_json_object() -> None:
    text = RedactingFormatter((API_KEY,)).format(_image_record())
    assert text.endswith(
        'image ok outcome=recognized chat=5 changes=- reason="a b" empty="" k=[REDACTED]'
    )

    entry = json.loads(JsonFormatter((API_KEY,)).format(_image_record()))
    assert entry["message"] == "image ok"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "bot.photo.pipeline"
    assert entry["outcome"] == "recognized"
    assert entry["chat"] == 5
    assert entry["k"] == REDACTED
    assert entry["changes"] == []
    assert "absent" not in entry
    assert entry["time"].endswith("+00:00")


def test_a_json_line_keeps_its_traceback_on_one_line() -> None:
    line = JsonFormatter((TOKEN,)).format(_record("boom", exc=True))
    assert "\n" not in line
    assert "RuntimeError" in json.loads(line)["traceback"]
    assert TOKEN not in line


def _all_subclasses(kind: type[ImageRejected]) -> set[type[ImageRejected]]:
    found = set(kind.__subclasses__())
    return found.union(*(_all_subclasses(sub) for sub in found))


RESULT = RecognitionResult({"head_seg": True}, "req-1", attempts=2)
RESETS = datetime(2026, 1, 2, tzinfo=UTC)
REFUSALS: list[ImageRejected] = [
    NotAnImage(),
    CorruptImage(),
    HiddenPayload(),
    TooLargeToDownload(30_000_000, 20_971_520),
    TooSmall(200, 200),
    BadAspectRatio(300, 1000),
    TooManyPixels(),
    TooMuchWork(Work.CPU, None, 5.0),
]
EVERY_OUTCOME: list[Outcome] = [
    Recognized(RESULT),
    Recognized(RESULT, cached=True),
    Recognized(RESULT, cached=True, near=True),
    *(Refused(reason) for reason in REFUSALS),
    *(Limited(QuotaExceeded(scope, 50, RESETS)) for scope in ("user", "group", "global")),
    *(Failed(RecognitionError(kind, status=503)) for kind in ErrorKind),
    Failed(DownloadError("BadRequest")),
    Failed(DeadlineExceeded("90s")),
]
# How a text line's values read back: the types the JSON line carries.
INTEGERS = {"update", "chat", "user", "bytes_in", "bytes_out", "attempts", "status"}
LISTS = {"changes"}
ENUMS = {"outcome", "source", "cache"}


def test_every_outcome_is_in_the_list() -> None:
    """The list above is every member of the union, every refusal, scope and failure."""
    assert {type(o) for o in EVERY_OUTCOME} == set(get_args(Outcome))
    assert {type(r) for r in REFUSALS} == _all_subclasses(ImageRejected)
    scopes = get_args(get_type_hints(QuotaExceeded.__init__)["scope"])
    assert {o.exceeded.scope for o in EVERY_OUTCOME if isinstance(o, Limited)} == set(scopes)
    failures = [o.error for o in EVERY_OUTCOME if isinstance(o, Failed)]
    assert {type(e) for e in failures} == set(get_args(get_type_hints(Failed)["error"]))
    kinds = {e.kind for e in failures if isinstance(e, RecognitionError)}
    assert kinds == set(ErrorKind)


def _documented_outcomes() -> list[str]:
    """The first column of the README's outcome table, under "Logs"."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    logs = readme.split("\n## Logs", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", logs, flags=re.MULTILINE)


def _text_fields(line: str) -> dict[str, object]:
    """The `key=value` pairs after a text line's message, typed as documented."""
    fields: dict[str, object] = {}
    for key, raw in re.findall(r' (\w+)=("(?:[^"\\]|\\.)*"|\S+)', line.split(": ", 1)[1]):
        value = json.loads(raw) if raw.startswith('"') else raw
        if key in INTEGERS:
            fields[key] = int(value)
        elif key.endswith("_ms"):
            fields[key] = float(value)
        elif key in LISTS:
            fields[key] = [] if value == "-" else value.split(",")
        else:
            fields[key] = value
    return fields


@pytest.mark.parametrize("outcome", EVERY_OUTCOME, ids=outcome_name)
@pytest.mark.parametrize("source", list(Source))
def test_one_line_per_image_reads_the_same_in_text_and_json(
    outcome: Outcome, source: Source, caplog: pytest.LogCaptureFixture
) -> None:
    """Both formats carry the same fields with the same types; the outcome is one the
    README documents; enum values have no spaces; nothing reads None."""
    steps = _Steps()
    if not isinstance(outcome, Refused | Limited):
        image = PreparedImage(b"", "image/jpeg", 800, 600, "WEBP", frozenset({Change.CONVERTED}))
        steps.prepared, steps.bytes_in, steps.bytes_out = image, 1000, 900
        steps.millis["prepare"] = 2.5
    caplog.set_level(logging.INFO, logger="bot.photo.pipeline")
    steps.log(outcome, Origin(source, update_id=7, chat_id=-100, user_id=None))
    [record] = caplog.records

    text = RedactingFormatter(()).format(record)
    entry = json.loads(JsonFormatter(()).format(record))
    assert entry["message"] == f"image {entry['outcome']}"
    assert "None" not in text
    assert None not in entry.values()
    parsed = _text_fields(text)
    carried = {k: v for k, v in entry.items() if k not in {"time", "level", "logger", "message"}}
    assert parsed == carried
    assert entry["outcome"] == outcome_name(outcome) in _documented_outcomes()
    assert entry["source"] == source.value
    assert "user" not in entry, "absent, not None"
    for name in ENUMS & entry.keys():
        assert " " not in entry[name]
    if isinstance(outcome, Recognized):
        assert entry["changes"] == ["converted"]
        assert entry["cache"] == ("near" if outcome.near else "hit" if outcome.cached else "miss")
    else:
        assert "cache" not in entry


def test_the_readme_lists_exactly_the_outcomes() -> None:
    documented = _documented_outcomes()
    assert len(documented) == len(set(documented))
    assert set(documented) == {outcome_name(o) for o in EVERY_OUTCOME}
