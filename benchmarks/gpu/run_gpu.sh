#!/usr/bin/env bash
# Run ON the GPU machine, from the repository root (the device tool: carry .whl, command `bash benchmarks/gpu/run_gpu.sh`).
# Installs the carried wheels, then a short GRU training in JAX mode and the batched benchmark on the GPU.
# Results land in $OUT (or ./gpu-out when run elsewhere).
set -euo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 RNNLM_CACHE_DIR=/tmp/rnnlm-cache
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import jax; print('jax', jax.__version__, jax.devices())" | tee -a "$OUT/gpu.txt"
# A short training run: whole default corpus, GRU C=8000 H=128, batch 64, two epochs.
timeout 300 python3 scripts/train.py --model gru --mode jax --batch-size 64 --bptt 16 --epochs 2 \
  --vocab-size 8000 --out "$OUT/gru-gpu.npz" --no-progress 2>&1 | tee "$OUT/train.log"
# The batched rows of the benchmark, JAX only (no PyTorch comparison there: its wheel is not carried).
timeout 240 python3 benchmarks/bench.py --parts batched,eval --modes jax --models rnn,gru,lstm --batches 32,64,256 \
  --out "$OUT/bench-gpu.json" 2>&1 | tee "$OUT/bench.log"
