#!/usr/bin/env bash
# One-GPU SwAV throughput, Seer vs a plain PyTorch loop of the same math, side by side
# (bench/gpu_bench.py): RegNetY-16GF b32/b64, 128GF b64, 256GF at the largest batch that
# fits, eager; 16GF and 256GF compiled. images/s, MFU (989 TFLOP/s datasheet and the
# measured matmul peak), peak memory, compile seconds, seer/plain; JSON to $OUT/gpu.json
# (or out/gpu.json). Under 8 minutes on one H200 (a time budget skips the rest).
# Needs only torch (+ numpy) and this repository: no pydantic, torchx or kubernetes.
#   PYTHON=/path/to/python bash bench/gpu.sh [--json PATH]
#   bash bench/gpu.sh --smoke      # the same code on CPU with a tiny model (no GPU needed)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
# Without an installed package, import seer.* straight from the checkout.
if ! "$PYTHON" -c "import seer.trainer.models" 2>/dev/null; then
  shim="$(mktemp -d)"
  mkdir -p "$shim/seer"
  for pkg in platform trainer; do ln -sfn "$PWD/$pkg" "$shim/seer/$pkg"; done
  export PYTHONPATH="$shim${PYTHONPATH:+:$PYTHONPATH}"
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-8}"
exec timeout 470 "$PYTHON" bench/gpu_bench.py "$@"
