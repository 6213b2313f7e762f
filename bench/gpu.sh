#!/usr/bin/env bash
# Model-only and pipeline fps per execution provider (CUDA; TensorRT FP16) and batch
# size, on a CUDA machine, in under 10 minutes (bench/gpu.py keeps a 9-minute budget).
#
#   bench/gpu.sh             # on the GPU machine, from the repository root or anywhere
#   bench/gpu.sh --dry-run   # the same code on the CPU provider, a few frames (tests)
#
# Needs an onnxruntime build with the GPU providers in the environment's Python
# (onnxruntime-gpu; TensorRT libraries for the TensorRT provider). Engines are cached
# under $FIELDPROOF_TRT_CACHE (default ~/.cache/fieldproof/tensorrt) as the agent does.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3

if [ "${1:-}" = "--dry-run" ]; then
    exec "$PYTHON" bench/gpu.py --dry-run --json
fi

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
    || echo "nvidia-smi not found: no CUDA driver here"
"$PYTHON" -c 'import onnxruntime as o; print("onnxruntime", o.__version__, o.get_available_providers())'
echo "== fps per provider and batch (one JSON line each)"
timeout 580 "$PYTHON" bench/gpu.py --providers "${PROVIDERS:-cuda,tensorrt-fp16}" \
    --batches "${BATCHES:-1,2,4,8}" --frames "${FRAMES:-200}" --budget-s 480
