#!/usr/bin/env bash
# Create or refresh the repository's virtual environment (.venv). Idempotent: when
# pyproject.toml has not changed since the last successful install, it does nothing.
# Needs only the package registries (PyPI). Used by scripts/quickstart and scripts/test.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: Seer needs Python >= 3.11 (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi

stamp=.venv/.seer-installed
want="$(cat pyproject.toml constraints/ci.txt | sha256sum | cut -d' ' -f1)"
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# pyproject.toml declares a torch range; constraints/ci.txt pins the exact version (the CPU
# wheel here). On a GPU machine install the CUDA build first; see README "GPU machines".
.venv/bin/python -m pip install --quiet -c constraints/ci.txt -e ".[test]"
echo "$want" > "$stamp"
