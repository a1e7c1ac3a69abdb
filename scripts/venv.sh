# Sourced by scripts/run and scripts/test: make .venv with this project installed.
# Usage: ensure_venv "" | ensure_venv "dev". Reinstalls only when pyproject.toml changed.
ensure_venv() {
    local extra="$1"
    local python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "Python 3.11 or newer is needed (tried: $python); set PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    if [ ! -x .venv/bin/python ]; then
        "$python" -m venv .venv
    fi
    local target="."
    [ -n "$extra" ] && target=".[${extra}]"
    local stamp=".venv/.installed-${extra:-base}"
    local want
    want="$(.venv/bin/python -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"
    # The dev install holds everything the base one does.
    if [ -z "$extra" ] && [ -f .venv/.installed-dev ] && [ "$(cat .venv/.installed-dev)" = "$want" ]; then
        return
    fi
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
        echo "$want" > "$stamp"
    fi
}
