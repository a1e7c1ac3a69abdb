# Sourced by scripts/run, scripts/test and scripts/lock: make .venv from the lock files.
# Usage: ensure_venv main | ensure_venv dev [stale-ok]
# Installs exactly what requirements/ pins, each file checked against its hash
# (pip --require-hashes), then the bot itself without dependencies. It reinstalls, into a
# fresh .venv so nothing unpinned lingers, only when the lock files or the interpreter
# changed. It refuses a lock older than pyproject.toml's dependencies (run ./scripts/lock);
# `stale-ok` is for scripts/lock itself, which needs the old lock's uv to make the new one.
ensure_venv() {
    local kind="$1"
    local python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "Python 3.11 or newer is needed (tried: $python); set PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    if [ "${2:-}" != "stale-ok" ] \
        && [ "$("$python" scripts/lock_inputs.py digest)" != "$(cat requirements/pyproject-deps.sha256)" ]; then
        echo "pyproject.toml's dependencies changed since requirements/ was locked: run ./scripts/lock" >&2
        exit 1
    fi
    local want have="" have_kind=""
    want="$({ "$python" -VV; cat requirements/main.txt requirements/dev.txt requirements/build.txt; } \
        | sha256sum | cut -d' ' -f1)"
    [ -f .venv/.locked ] && read -r have have_kind < .venv/.locked
    if [ "$have" = "$want" ] && { [ "$have_kind" = "$kind" ] || [ "$have_kind" = dev ]; }; then
        return  # the dev install holds everything the main one does
    fi
    if [ -n "${VENV_NO_INSTALL:-}" ]; then
        # tests/test_readme.py runs ./scripts/run this way: never rebuild under a test run.
        echo ".venv is not what the lock files pin: run ./scripts/test to rebuild it" >&2
        exit 3
    fi
    if [ "$have" != "$want" ]; then
        rm -rf .venv
        "$python" -m venv .venv
    fi
    local pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
    "${pip[@]}" --require-hashes -r "requirements/$kind.txt" -r requirements/build.txt
    # The build backend comes from build.txt above, not from an unpinned isolated build.
    "${pip[@]}" --no-deps --no-build-isolation -e .
    echo "$want $kind" > .venv/.locked
}
