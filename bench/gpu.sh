#!/usr/bin/env bash
# SwAV throughput on ONE GPU (H200: < 10 min): RegNetY-3.2GF, -16GF, -128GF, synthetic
# multi-crop data (2x224 + 4x96), FSDP2 bf16 + channels_last + torch.compile.
# Prints images/s, MFU (vs 989 TFLOPS bf16 dense) and peak memory.
# Needs a CUDA build of torch: PYTHON=/path/to/python bash bench/gpu.sh
# Without CUDA (or with --dry-run) it runs a short CPU path that only checks the script.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-8}"
exec timeout 590 "$PYTHON" bench/gpu_throughput.py "$@"
