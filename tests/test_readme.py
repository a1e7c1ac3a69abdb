"""The README tells the truth: its settings table is `config.py`'s, its links land, and
every code block is run or parsed here, or marked illustrative.

Code blocks by info string: `text` is illustrative (sample output, a synopsis, a tree
whose paths are checked below); `dotenv` is loaded through the real settings; `json`
is parsed; `console` is run and its output compared; `bash` lines are each run (or
proved to be what CI runs), unless an `<!-- illustrative ... -->` comment stands right
above the block.
"""

from __future__ import annotations

import gettext
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.messages.summary import summarize
from bot.recognition.results import RecognitionResult
from tests.imagegen import image_bytes, jpeg, png

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^( *)```(\S*)\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    kind: str
    body: str
    illustrative: bool
    line: int


def blocks() -> list[Block]:
    found = []
    for match in FENCE.finditer(README):
        before = README[: match.start()].rstrip().splitlines()
        marked = bool(before) and before[-1].strip().startswith("<!-- illustrative")
        indent = len(match.group(1))
        body = "".join(line[indent:] for line in match.group(3).splitlines(keepends=True))
        line = README.count("\n", 0, match.start()) + 1
        found.append(Block(match.group(2), body, marked, line))
    return found


def of_kind(kind: str) -> list[Block]:
    return [block for block in blocks() if block.kind == kind and not block.illustrative]


def test_every_block_says_what_it_is() -> None:
    kinds = {block.kind for block in blocks()}
    assert "" not in kinds, "a code block without an info string: run it or mark it `text`"
    assert kinds <= {"text", "dotenv", "json", "console", "bash"}, kinds


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n#", start + len(title) + 5)
    return README[start:end]


def test_the_settings_table_lists_every_setting_once() -> None:
    rows = re.findall(r"^\| `([A-Z0-9_]+)`", section("Settings"), re.MULTILINE)
    assert len(rows) == len(set(rows)), "a setting listed twice"
    assert set(rows) == {name.upper() for name in Settings.model_fields}


def test_the_settings_tables_defaults_are_the_real_ones() -> None:
    for name, field in Settings.model_fields.items():
        row = re.search(rf"^\| `{name.upper()}`[^|]*\| ([^|]+) \|", section("Settings"), re.M)
        assert row is not None, name
        default = field.default
        if isinstance(default, bool):
            shown = {"on", "off", "true", "false"} & set(re.findall(r"`(\w+)`", row.group(1)))
            assert shown, (name, row.group(1))
            assert shown <= ({"on", "true"} if default else {"off", "false"}), name
        elif isinstance(default, int | float | str) and default != "":
            literal = f"{default:g}" if isinstance(default, float) else str(default)
            assert f"`{literal}`" in row.group(1) or f"`{default}`" in row.group(1), (name, row)


def test_links_within_the_readme_land_on_a_heading() -> None:
    headings = {
        re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        for title in re.findall(r"^#+ (.+)$", README, re.MULTILINE)
    }
    for target in re.findall(r"\]\(#([^)]+)\)", README):
        assert target in headings, target
    for target in re.findall(r"\]\(([^)#:]+)\)", README):
        assert (ROOT / target).exists(), target


def test_the_files_it_names_exist() -> None:
    path = r"`((?:bot|tests|bench|scripts|deploy)/[\w/.-]+\.(?:py|md|ya?ml|sh|json|po|txt))`"
    named = set(re.findall(path, README))
    assert len(named) > 10
    assert not {path for path in named if not (ROOT / path).exists()}


def test_dotenv_blocks_are_settings_the_bot_accepts(tmp_path: Path) -> None:
    required = {"TELEGRAM_BOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"}
    required["DEERAPI_API_KEY"] = "sk-a-long-enough-key"
    assert of_kind("dotenv")
    for block in of_kind("dotenv"):
        lines = dict(line.split("=", 1) for line in block.body.splitlines() if line.strip())
        env_file = tmp_path / f"{block.line}.env"
        env_file.write_text("\n".join(f"{k}={v}" for k, v in (required | lines).items()))
        settings = Settings(_env_file=str(env_file))  # type: ignore[call-arg]
        for key, value in lines.items():
            got = getattr(settings, key.lower())
            shown = got.get_secret_value() if hasattr(got, "get_secret_value") else got
            assert str(shown).lower() == value.lower(), (block.line, key)


def test_json_blocks_parse() -> None:
    assert of_kind("json")
    for block in of_kind("json"):
        json.loads(block.body)


def test_the_sample_summary_is_what_the_bot_writes() -> None:
    sample = blocks()[0]
    result = RecognitionResult(
        {"head_seg": True, "cloth_seg": True, "face_seg": False, "object_seg": False}
    )
    assert sample.body.rstrip("\n") == summarize(result, gettext.NullTranslations())


def test_the_layout_tree_names_files_that_exist() -> None:
    tree = next(b for b in blocks() if b.kind == "text" and b.body.startswith("bot/"))
    parents: list[tuple[int, str]] = []
    listed: set[str] = set()
    for line in tree.body.splitlines():
        entry = re.match(r"^( *)(\S+)(?:\s|$)", line)
        if entry is None or not re.fullmatch(r"[\w.]+/|[\w.]+\.py", entry.group(2)):
            continue  # a description's continuation line
        depth = len(entry.group(1))
        parents = [(d, p) for d, p in parents if d < depth]
        path = "".join(p for _, p in parents) + entry.group(2)
        assert (ROOT / path).exists(), f"README's layout names {path}, which does not exist"
        if path.endswith("/"):
            parents.append((depth, entry.group(2)))
        listed.add(path)
    modules = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot").rglob("*.py")
        if path.name != "__init__.py" and len(path.relative_to(ROOT).parts) == 2
    }
    packages = {f"{p.parent.relative_to(ROOT)}/" for p in (ROOT / "bot").glob("*/__init__.py")}
    assert modules | packages <= listed, "a module or package the layout does not name"


def test_ci_runs_the_readmes_test_command() -> None:
    bash = of_kind("bash")
    commands = [line.split("#")[0].strip() for block in bash for line in block.body.splitlines()]
    assert "./scripts/test" in commands
    assert "exec ./scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_the_readmes_run_command_starts_the_cli() -> None:
    """`./scripts/run` with arguments goes to `python -m bot`: `--version` answers at once
    (the bare command runs the bot until stopped, so it is asked for its version)."""
    bash = of_kind("bash")
    commands = [line.split("#")[0].strip() for block in bash for line in block.body.splitlines()]
    assert set(commands) - {""} == {"./scripts/run", "./scripts/test"}, "a new command: run it"
    done = subprocess.run(
        ["./scripts/run", "--version"],
        cwd=ROOT,
        env=os.environ | {"VENV_NO_INSTALL": "1"},  # never rebuild .venv under the tests
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_the_check_example_is_the_real_output(tmp_path: Path) -> None:
    (example,) = of_kind("console")
    command, *expected = example.body.splitlines()
    assert command.startswith("$ python -m bot check --offline ")
    files = {
        "photo.jpg": jpeg(800, 600),
        "screenshot.webp": image_bytes(1200, 900, "WEBP"),
        "icon.png": png(200, 200),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    env = {k: v for k, v in os.environ.items() if k.upper() not in _setting_names()}
    done = subprocess.run(
        [sys.executable, *command.split()[2:]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr  # one file refused
    assert done.stdout.rstrip("\n").splitlines() == expected


def _setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields} | {"HTTPS_PROXY", "HTTP_PROXY"}
