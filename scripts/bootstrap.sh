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
echo "Setting up .venv (first run or changed dependencies; about 2 minutes)..." >&2
# The installers' own chatter (pip notices, setuptools build warnings) goes to a log that is
# shown only if something fails: what a newcomer sees first is the project's own output.
log=.venv-bootstrap.log
{
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  # pyproject.toml declares a torch range; constraints/ci.txt pins the exact version (the CPU
  # wheel here). On a GPU machine install the CUDA build first; see README "GPU machines".
  .venv/bin/python -m pip install --quiet -c constraints/ci.txt -e ".[test]"
} >"$log" 2>&1 || {
  echo "error: setting up .venv failed; the installer said:" >&2
  tail -n 40 "$log" >&2
  exit 1
}
mv "$log" .venv/bootstrap.log
echo "$want" > "$stamp"
