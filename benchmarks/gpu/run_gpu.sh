#!/usr/bin/env bash
# The GPU run, in at most 9 minutes: the CPU/GPU agreement check; a profile of one training step
# (benchmarks/gpu/profile_step.py, jax.profiler); bench.py's per-step rows with PyTorch on the same GPU
# (cuDNN's GRU and LSTM) and the tutorial's per-sentence SGD step (the blog measured 23 ms on its GPU);
# the README main command against PyTorch's word_language_model at the same wall-clock, both on the GPU
# (benchmarks/vs_pytorch.py); the throughput against --devices. A second call with --recipe trains
# `rnnlm train` on the whole corpus for 5 minutes with a GPU recipe. Each step writes into $OUT (or
# ./gpu-out). Run ON the GPU machine from the repository root with the wheels from
# benchmarks/gpu/fetch_wheels.sh carried in .whl (device tool: carry [".whl"], command
# `bash benchmarks/gpu/run_gpu.sh`). That machine has Python 3.12, CUDA builds of JAX and PyTorch, numpy
# and matplotlib, but neither PyTensor nor the data packages, and no network.
#
#   bash benchmarks/gpu/run_gpu.sh            # on the GPU machine (at most 9 minutes)
#   bash benchmarks/gpu/run_gpu.sh --recipe   # then, the 5-minute GPU recipe on the whole corpus
#   bash benchmarks/gpu/run_gpu.sh --dry-run  # here, on the CPU, tiny sizes: checks the script itself
set -uo pipefail
DRY=0; [[ "${1:-}" == "--dry-run" ]] && DRY=1
RECIPE=0; [[ "${1:-}" == "--recipe" ]] && RECIPE=1
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
LOG=run  # every step's output in run.log: at most 8 files come back from the device machine
status=0
step() {  # step NAME TIMEOUT CMD...: run one part, log it, remember a failure, go on with the next
  local name=$1 limit=$2; shift 2
  echo "=== $name: $*" | tee -a "$OUT/steps.log"
  local start=$SECONDS
  # LOG=other appends to other.log instead: at most 8 files come back from the device machine
  timeout "$limit" "$@" 2>&1 | tee -a "$OUT/${LOG:-$name}.log"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$OUT/steps.log"
  [[ $rc == 0 ]] || status=1
}

if [[ $DRY == 1 ]]; then
  PY=${PYTHON:-python}
  AGREE=(--dry-run --models gru --max-sentences 600 --vocab-size 200 --hidden-dim 16 --batch-size 8 --bptt 8)
  PROFILE=(--dry-run)
  BENCH=(--quick --parts sentence,batched,torch --modes jax --models rnn --batches 4)
  VERSUS=(--quick --parts quality --torch-device cpu --max-sentences 400 --vocab-size 150 --ours-epochs 1)
  DEVICES=(--quick --devices 1,2 --modes strong)  # the script forces two host devices: the sharded path
  RECIPE_FLAGS=(--max-sentences 600 --vocab-size 200 --epochs 1 --hidden-dim 16 --batch-size 8 --bptt 8)
else
  PY=python3
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "carry the wheels of benchmarks/gpu/fetch_wheels.sh as .whl"; exit 2; }
  export PYTHONPATH=/tmp/site:$PWD RNNLM_CACHE_DIR=/tmp/rnnlm-cache
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$OUT/steps.log"
  AGREE=()
  PROFILE=()
  BENCH=(--parts sentence,batched,torch --modes jax --models rnn,gru,lstm --batches 32,64,256)
  VERSUS=(--parts quality --torch-device cuda)  # the README main command; PyTorch gets its wall-clock
  DEVICES=(--devices 1,2,4,8,all)  # the main command's model; counts above the GPUs present are skipped
  # A GPU recipe for the whole corpus: wider, longer chunks, more streams (each step fills the GPU better).
  RECIPE_FLAGS=(--vocab-size 8000 --hidden-dim 512 --batch-size 64 --bptt 64 --dropout 0.4 --learning-rate 0.003
                --lr-decay 0.8 --epochs 12)
fi
$PY -c "import jax, pytensor; print('jax', jax.__version__, jax.devices(), 'pytensor', pytensor.__version__)" \
  | tee -a "$OUT/steps.log"

if [[ $RECIPE == 1 ]]; then
  step recipe 330 $PY scripts/train.py "${RECIPE_FLAGS[@]}" --mode jax --out "$OUT/recipe.npz" --samples 3 --no-progress
  rm -f "$OUT"/recipe.npz "$OUT"/recipe.best.npz
  exit $status
fi
step agreement 60 $PY benchmarks/gpu/agreement.py "${AGREE[@]}" --out "$OUT/agreement.json"
step profile 60 $PY benchmarks/gpu/profile_step.py "${PROFILE[@]}" --out "$OUT/profile.json"
step bench 150 $PY benchmarks/bench.py "${BENCH[@]}" --out "$OUT/bench-gpu.json"
if $PY -c "import torch" 2>/dev/null; then
  step versus 180 $PY benchmarks/vs_pytorch.py "${VERSUS[@]}" --out "$OUT/vs_pytorch.json" --png ''
else   # a dry run where PyTorch is not installed (benchmarks/requirements.txt has it)
  echo "=== versus: skipped, PyTorch is not installed" | tee -a "$OUT/steps.log" "$OUT/run.log"
fi
step devices 60 $PY benchmarks/devices_scaling.py "${DEVICES[@]}" --out "$OUT/devices.json"
if [[ $DRY == 1 ]]; then  # the recipe's command, at tiny sizes
  step recipe 120 $PY scripts/train.py "${RECIPE_FLAGS[@]}" --mode jax --out "$OUT/recipe.npz" --samples 0 --no-progress
  rm -f "$OUT"/recipe.npz "$OUT"/recipe.best.npz "$OUT"/recipe.png
fi
exit $status
