"""The command line as a process: --help and --version never start the bot, and `check`
runs files through the bot's rules and API client (against the fake API) without
Telegram, with the documented output and exit statuses."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image, TiffImagePlugin

from tests import hostile
from tests.conftest import API_KEY
from tests.e2e.processes import clean_environment, run_bot
from tests.e2e.unreachable import WORDS, address
from tests.fakes.recognizer import FakeRecognizer, Reply, kling_error, success
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import image_bytes, jpeg, png

MIB = 1024 * 1024


@pytest.fixture
def api(kling: FakeRecognizer) -> dict[str, str]:
    """`check`'s environment: the API settings only (no bot token anywhere)."""
    return clean_environment(
        DEERAPI_API_KEY=API_KEY,
        DEERAPI_BASE_URL=kling.base_url,
        API_RETRY_BASE_DELAY_SECONDS="0.01",
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A photo that passes as it is, one to convert, one too small, one too big."""
    made = {
        "photo.jpg": jpeg(800, 600),
        "screenshot.webp": image_bytes(1200, 900, "WEBP"),
        "icon.png": png(200, 200),
        "scan.jpg": jpeg(4000, 3000, noise=True, quality=100),  # over 20 MB
    }
    paths = {}
    for name, data in made.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    assert paths["scan.jpg"].stat().st_size > 20 * MIB
    return paths


async def test_help_and_version_never_start_the_bot(
    telegram: FakeBotApi, kling: FakeRecognizer, tmp_path: Path
) -> None:
    # A complete environment, as on a production host: --help must not start polling.
    env = clean_environment(
        TELEGRAM_BOT_TOKEN=telegram.token,
        DEERAPI_API_KEY=API_KEY,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_FILE_BASE_URL=telegram.base_file_url,
        DEERAPI_BASE_URL=kling.base_url,
    )
    status, lines, stdout = await run_bot(env, "--help", cwd=tmp_path)
    assert (status, lines) == (0, [])
    assert stdout.startswith("usage: python -m bot [-h] [--version] [check ...]")
    assert "check image files as the bot would, without Telegram" in stdout
    assert "STARTUP_RETRY_SECONDS" in stdout

    status, lines, stdout = await run_bot(env, "check", "--help", cwd=tmp_path)
    assert (status, lines) == (0, [])
    assert stdout.startswith("usage: python -m bot check [-h] [--offline] [--json] [--verbose]")
    assert "--offline" in stdout
    assert "--json" in stdout

    status, lines, stdout = await run_bot(env, "--version", cwd=tmp_path)
    assert (status, lines, stdout) == (0, [], "photo-segment-bot 0.1.0\n")

    status, lines, _ = await run_bot(env, "--no-such-option", cwd=tmp_path)
    assert status == 2
    assert lines[-1] == "python -m bot: error: unrecognized arguments: --no-such-option"
    assert not telegram.calls, "nothing reached the Bot API"
    assert not kling.received


async def test_offline_check_needs_no_key_and_tells_what_would_be_sent(
    files: dict[str, Path], tmp_path: Path
) -> None:
    env = clean_environment()  # no key, no token
    paths = [str(files[name]) for name in ("photo.jpg", "screenshot.webp", "icon.png")]
    status, lines, stdout = await run_bot(env, "check", "--offline", *paths, cwd=tmp_path)

    assert status == 1, "one file refused"
    assert lines == []
    photo, webp, icon = stdout.split("\n\n")
    assert photo.startswith(f"{files['photo.jpg']}: accepted, 0.1 MB (")
    assert "  would send: image/jpeg from JPEG, 800 x 600 px, " in photo
    assert "(unchanged)" in photo
    assert "would send: image/jpeg from WEBP, 1200 x 900 px" in webp
    assert "(converted)" in webp
    assert "Your image was converted from WEBP to JPEG before the check." in webp
    assert icon.startswith(f"{files['icon.png']}: refused, ")
    assert "This image is 200 x 200 px; each side must be at least 300 px." in icon


async def test_offline_check_of_acceptable_files_exits_0(
    files: dict[str, Path], tmp_path: Path
) -> None:
    status, _, _ = await run_bot(
        clean_environment(), "check", "--offline", str(files["photo.jpg"]), cwd=tmp_path
    )
    assert status == 0


async def test_the_download_limit_follows_local_mode(
    files: dict[str, Path], tmp_path: Path
) -> None:
    scan = str(files["scan.jpg"])
    status, _, stdout = await run_bot(clean_environment(), "check", "--offline", scan, cwd=tmp_path)
    assert status == 1
    assert "Telegram lets bots download at most 20 MB." in stdout

    local = clean_environment(TELEGRAM_LOCAL_MODE="true")
    status, _, stdout = await run_bot(local, "check", "--offline", "--json", scan, cwd=tmp_path)
    assert status == 0
    [report] = json.loads(stdout)["files"]
    assert report["outcome"] == "accepted"
    assert report["sent"]["mime"] == "image/jpeg"
    assert report["sent"]["bytes"] <= 10_000_000
    assert set(report["sent"]["changes"]) & {"shrunk", "recompressed"}


async def test_online_check_calls_the_api_and_prints_the_summary(
    api: dict[str, str], files: dict[str, Path], kling: FakeRecognizer, tmp_path: Path
) -> None:
    kling.answer(Reply(body=success(face=False, obj=False, request_id="req-cli-1")))
    status, lines, stdout = await run_bot(api, "check", str(files["photo.jpg"]), cwd=tmp_path)

    assert status == 0
    assert lines == []
    assert stdout.splitlines()[2:] == [
        "  Found 2 of 4 segments in this image:",
        "  ✅ Head (face with hair)",
        "  ✅ Clothing",
        "  ❌ Face",
        "  ❌ Main object",
        "  request_id: req-cli-1",
    ]
    [sent] = kling.received
    assert sent.decoded == files["photo.jpg"].read_bytes(), "sent byte for byte, as the bot does"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"


async def test_json_output_has_the_documented_shape(
    api: dict[str, str], files: dict[str, Path], kling: FakeRecognizer, tmp_path: Path
) -> None:
    paths = [str(files[name]) for name in ("photo.jpg", "screenshot.webp", "icon.png")]
    status, _, stdout = await run_bot(api, "check", "--json", *paths, cwd=tmp_path)

    document = json.loads(stdout)
    assert status == document["exit_status"] == 1
    photo, webp, icon = document["files"]
    assert photo == {
        "file": paths[0],
        "outcome": "recognized",
        "bytes": files["photo.jpg"].stat().st_size,
        "sent": {
            "format": "JPEG",
            "mime": "image/jpeg",
            "bytes": files["photo.jpg"].stat().st_size,
            "width": 800,
            "height": 600,
            "changes": [],
        },
        "segments": {"head_seg": True, "face_seg": True, "cloth_seg": True, "object_seg": True},
        "request_id": "req-ok",
        "refusal": None,
        "error": None,
        "message": photo["message"],
        "warnings": [],
    }
    assert photo["message"].startswith("Found 4 of 4 segments in this image:")
    assert webp["sent"]["changes"] == ["converted"]
    assert icon["outcome"] == "refused"
    assert icon["refusal"] == "TooSmall"
    assert icon["sent"] is None
    assert len(kling.received) == 2, "the refused file never reaches the API"


async def test_an_api_failure_exits_3_and_says_why(
    api: dict[str, str], files: dict[str, Path], kling: FakeRecognizer, tmp_path: Path
) -> None:
    kling.answer(Reply(status=401, body=kling_error(1000, "invalid api key", "req-bad-key")))
    paths = [str(files["photo.jpg"]), str(files["icon.png"])]
    status, _, stdout = await run_bot(api, "check", *paths, cwd=tmp_path)

    assert status == 3, "an API failure wins over a refusal"
    failed = stdout.split("\n\n")[0]
    assert "The API refused this bot's account (auth): check DEERAPI_API_KEY" in failed
    assert "The operator has been told" not in stdout, "that is for people in chats"
    assert "  error: kind=auth status=401 code=1000 request_id=req-bad-key" in failed
    assert "None" not in stdout
    assert API_KEY not in stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["check", "--offline", "missing.jpg"],
            {},
            "python -m bot check: cannot read missing.jpg (no such file or folder)",
        ),
        (
            ["check", "--offline", "empty"],
            {},
            "python -m bot check: cannot read empty (a folder with no files)",
        ),
        (["check", "photo.jpg"], {}, "DEERAPI_API_KEY is required to call the API"),
        (["check"], {}, "python -m bot check: error: the following arguments are required: FILE"),
        (
            ["check", "--offline", "photo.jpg"],
            {"API_MAX_ATTEMPTS": "many"},
            "configuration error: API_MAX_ATTEMPTS",
        ),
        (
            ["check", "photo.jpg"],
            {"DEERAPI_API_KEY": API_KEY, "HTTPS_PROXY": "ftp://user:hunter2-proxy@proxy:21"},
            "configuration error: HTTPS_PROXY (ftp://user:***@proxy:21) must start with",
        ),
    ],
)
async def test_usage_errors_exit_2(
    files: dict[str, Path], tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    (tmp_path / "empty" / ".git").mkdir(parents=True)
    status, lines, stdout = await run_bot(clean_environment(**env), *args, cwd=tmp_path)
    assert status == 2
    assert stdout == ""
    assert message in lines[-1]
    assert "Traceback" not in "\n".join(lines)


async def test_offline_check_of_hostile_files_refuses_them_within_the_budget(
    tmp_path: Path,
) -> None:
    # Each decodes to hundreds of MB from a few bytes, or takes minutes of CPU.
    made = {
        "lossless.webp": hostile.webp_lossless_flat(),  # 962 MB by the model: over 600
        "bomb.jpg": hostile.scan_bomb(5000),
        "float.tif": hostile.tiff_flat(7000, 7000, "F"),  # 494 MB: converted
    }
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    env = clean_environment()
    status, lines, stdout = await run_bot(env, "check", "--offline", "--json", *made, cwd=tmp_path)
    assert status == 1
    assert not [line for line in lines if "Traceback" in line]
    reports = {Path(r["file"]).name: r for r in json.loads(stdout)["files"]}
    assert reports["lossless.webp"]["refusal"] == "TooMuchWork"
    assert "send it as a photo" in reports["lossless.webp"]["message"]
    assert reports["bomb.jpg"]["refusal"] == "TooMuchWork"
    assert reports["float.tif"]["outcome"] == "accepted"


@pytest.mark.parametrize("failure", sorted(WORDS))
async def test_an_api_out_of_reach_is_named_by_its_cause(
    files: dict[str, Path], kling: FakeRecognizer, tmp_path: Path, failure: str
) -> None:
    """DNS, refused, TLS and timeout each read as such to the operator, not as the
    "busy right now" a person reads."""
    plain_http = urlsplit(kling.base_url).port
    assert plain_http is not None
    with address(failure, plain_http) as (host, port):
        scheme = "https" if failure in ("dns", "tls") else "http"
        url = f"{scheme}://{host}:{port}"
        env = clean_environment(
            DEERAPI_API_KEY=API_KEY,
            DEERAPI_BASE_URL=url,
            API_MAX_ATTEMPTS="1",
            API_ATTEMPT_TIMEOUT_SECONDS="1",
        )
        status, lines, stdout = await run_bot(env, "check", str(files["photo.jpg"]), cwd=tmp_path)
    assert status == 3
    assert lines == []
    said = stdout.splitlines()[2]
    assert said.startswith(f"  The API at {url} could not be reached: ")
    assert WORDS[failure] in said
    assert "busy" not in stdout
    assert not kling.received


async def test_a_folder_is_checked_file_by_file_in_sorted_order(tmp_path: Path) -> None:
    folder = tmp_path / "sent"
    (folder / "b" / ".thumbnails").mkdir(parents=True)
    (folder / "b" / "2.jpg").write_bytes(jpeg(800, 600))
    (folder / "b" / ".thumbnails" / "2.jpg").write_bytes(png(50, 50))
    (folder / "a.png").write_bytes(png(200, 200))
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "c.txt").write_text("not an image")
    status, lines, stdout = await run_bot(
        clean_environment(), "check", "--offline", "--json", "sent", cwd=tmp_path
    )
    assert status == 1
    assert lines == []
    reports = json.loads(stdout)["files"]
    assert [r["file"] for r in reports] == ["sent/a.png", "sent/b/2.jpg", "sent/c.txt"]
    assert [r["outcome"] for r in reports] == ["refused", "accepted", "refused"]
    assert reports[2]["refusal"] == "NotAnImage"


def _jpeg_with_corrupt_exif() -> bytes:
    """A JPEG whose EXIF says its data runs past the end (checked in the bot's process)."""
    exif = b"Exif\0\0MM\0*\0\0\0\x08\0\x02\x01\x0f\0\x02\0\0\0\xff\0\0\0\0"
    out = io.BytesIO()
    Image.new("RGB", (400, 400), (120, 30, 200)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def _tiff_with_a_tag_past_its_end() -> bytes:
    """A TIFF (converted in a decode worker) whose Software tag points past the file."""
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[305] = "a scanner"
    out = io.BytesIO()
    Image.new("RGB", (400, 400), (30, 120, 200)).save(out, "TIFF", tiffinfo=tags)
    data = bytearray(out.getvalue())
    directory = struct.unpack_from("<I", data, 4)[0]
    for entry in range(struct.unpack_from("<H", data, directory)[0]):
        at = directory + 2 + 12 * entry
        if struct.unpack_from("<H", data, at)[0] == 305:
            struct.pack_into("<I", data, at + 8, 10_000_000)
    return bytes(data)


async def test_decoder_warnings_are_told_under_their_files_name(tmp_path: Path) -> None:
    """Warnings the decoders print (from Python or C, here or in a worker) are counted
    in each file's report, shown with --verbose, and never loose on stderr."""
    (tmp_path / "a.jpg").write_bytes(_jpeg_with_corrupt_exif())
    (tmp_path / "b.jpg").write_bytes(jpeg(800, 600))
    (tmp_path / "c.tif").write_bytes(_tiff_with_a_tag_past_its_end())
    (tmp_path / "d.jpg").write_bytes(_jpeg_with_corrupt_exif())
    names = ["a.jpg", "b.jpg", "c.tif", "d.jpg"]
    env = clean_environment()
    status, lines, stdout = await run_bot(env, "check", "--offline", *names, cwd=tmp_path)
    assert (status, lines) == (0, [])
    a, b, c, d = stdout.split("\n\n")
    assert a.splitlines()[-1] == "  2 decoder warnings (--verbose shows them)"
    assert "decoder warning" not in b
    assert c.splitlines()[-1].endswith(" (--verbose shows them)")
    assert d.splitlines()[-1] == "  2 decoder warnings (--verbose shows them)", "each file's own"

    status, lines, stdout = await run_bot(
        env, "check", "--offline", "--verbose", *names, cwd=tmp_path
    )
    assert (status, lines) == (0, [])
    a, b, c, d = stdout.split("\n\n")
    assert "  decoder warning: UserWarning: Corrupt EXIF data." in a
    assert "  decoder warning: UserWarning: Truncated File Read" in c
    assert str(tmp_path) not in stdout

    status, _, stdout = await run_bot(env, "check", "--offline", "--json", *names, cwd=tmp_path)
    reports = json.loads(stdout)["files"]
    assert [len(r["warnings"]) > 0 for r in reports] == [True, False, True, True]


async def test_a_proxy_set_only_in_env_file_is_warned_of(
    files: dict[str, Path], api: dict[str, str], kling: FakeRecognizer, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "https_proxy=http://user:hunter2-proxy@127.0.0.1:3128\nNO_PROXY=localhost\n"
    )
    status, lines, _ = await run_bot(
        api | {"NO_PROXY": "127.0.0.1"}, "check", str(files["photo.jpg"]), cwd=tmp_path
    )
    assert status == 0, "the proxy in .env is not used"
    [line] = lines
    assert line.startswith("python -m bot check: warning: .env sets https_proxy, which is ignored")
    assert "hunter2-proxy" not in line
