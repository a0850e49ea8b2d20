#!/usr/bin/env bash
# The GPU run: the README main command on the GPU, the CPU/GPU agreement check, the batched throughput
# benchmark and the throughput against --devices (benchmarks/devices_scaling.py), each writing into $OUT
# (or ./gpu-out). Run ON the GPU machine from the repository root with
# the wheels from benchmarks/gpu/fetch_wheels.sh carried in .whl (device tool: carry [".whl"], command
# `bash benchmarks/gpu/run_gpu.sh`). That machine has Python 3.12, a CUDA build of JAX, numpy and
# matplotlib, but neither PyTensor nor the data packages, and no network.
#
#   bash benchmarks/gpu/run_gpu.sh            # on the GPU machine (at most 9 minutes)
#   bash benchmarks/gpu/run_gpu.sh --dry-run  # here, on the CPU, tiny sizes: checks the script itself
set -uo pipefail
DRY=0; [[ "${1:-}" == "--dry-run" ]] && DRY=1
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
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
  TRAIN=(--max-sentences 600 --vocab-size 200 --epochs 1 --hidden-dim 16 --batch-size 8 --bptt 8)
  AGREE=(--dry-run --models gru --max-sentences 600 --vocab-size 200 --hidden-dim 16 --batch-size 8 --bptt 8)
  BENCH=(--quick --parts eval --modes jax --models rnn --batches 4)
  DEVICES=(--quick --devices 1,2 --modes strong)  # the script forces two host devices: the sharded path
else
  PY=python3
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "carry the wheels of benchmarks/gpu/fetch_wheels.sh as .whl"; exit 2; }
  export PYTHONPATH=/tmp/site:$PWD RNNLM_CACHE_DIR=/tmp/rnnlm-cache
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$OUT/steps.log"
  TRAIN=(--max-sentences 20000 --vocab-size 4000)  # the README main command
  AGREE=()
  BENCH=(--parts batched,eval --modes jax --models rnn,gru,lstm --batches 32,64,256)
  DEVICES=(--devices 1,2,4,8,all)  # the main command's model; counts above the GPUs present are skipped
fi
$PY -c "import jax, pytensor; print('jax', jax.__version__, jax.devices(), 'pytensor', pytensor.__version__)" \
  | tee -a "$OUT/steps.log"

step agreement 120 $PY benchmarks/gpu/agreement.py "${AGREE[@]}" --out "$OUT/agreement.json"
step train 180 $PY scripts/train.py "${TRAIN[@]}" --mode jax --out "$OUT/main.npz" --samples 0 --no-progress
step bench 150 $PY benchmarks/bench.py "${BENCH[@]}" --out "$OUT/bench-gpu.json"
LOG=bench step devices 90 $PY benchmarks/devices_scaling.py "${DEVICES[@]}" --out "$OUT/devices.json"
rm -f "$OUT"/main.npz "$OUT"/main.best.npz  # at most 8 files come back: logs, JSON and the loss-curve PNG
exit $status
