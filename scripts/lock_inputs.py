"""What requirements/ is locked from: the dependency tables of pyproject.toml.

    python scripts/lock_inputs.py digest          their SHA-256
    python scripts/lock_inputs.py build-requires  the build backend's requirements, one a line

scripts/lock stores the digest in requirements/pyproject-deps.sha256 and scripts/venv.sh
refuses to install a lock whose digest differs, so a dependency added to pyproject.toml
without re-locking fails at once with the fix instead of as an ImportError in a test.
Only these tables count: editing tool settings in pyproject.toml needs no new lock.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def inputs() -> dict[str, Any]:
    """The parts of pyproject.toml that decide what the lock files hold."""
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    project = data["project"]
    return {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "build-system.requires": data.get("build-system", {}).get("requires", []),
    }


def main(argv: list[str]) -> int:
    """Print what the one argument asks for."""
    match argv:
        case ["digest"]:
            canonical = json.dumps(inputs(), sort_keys=True, separators=(",", ":"))
            print(hashlib.sha256(canonical.encode()).hexdigest())
        case ["build-requires"]:
            print("\n".join(inputs()["build-system.requires"]))
        case _:
            print("usage: lock_inputs.py digest|build-requires", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
