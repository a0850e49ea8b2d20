"""What each speed-up of the training loop is worth, measured on whole epochs of the main command's data.

Runs ``scripts/train.py`` for two epochs per variant, each in its own process, and reports the tokens per
second of epoch 2 (epoch 1 includes the two compiles). The variants switch off one thing at a time:

- ``RNNLM_MALLOPT=0``: glibc's default allocator settings instead of :mod:`lmkit.allocator`'s;
- ``RNNLM_FUSED_OUTPUT=0``: the plain output layer graph instead of the fused Op of :mod:`lmkit.output_layer`;
- both off (what the trainer did before either existed).

    python benchmarks/loop_speed.py                       # GRU 1x128, batch 32, bptt 32, no dropout
    python benchmarks/loop_speed.py --model rnn --args "--batch-size 16" --out /tmp/loop.json

Writes a table and JSON (``--out``, default ``benchmarks/loop_speed.json``). Run on an idle machine: the
load average before each run is recorded beside its figure.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VARIANTS = [("all on", {}), ("allocator off", {"RNNLM_MALLOPT": "0"}),
            ("fused output off", {"RNNLM_FUSED_OUTPUT": "0"}),
            ("both off", {"RNNLM_MALLOPT": "0", "RNNLM_FUSED_OUTPUT": "0"})]


def epoch_speeds(stdout):
    return [float(m.group(1)) for m in re.finditer(r"^epoch \d+: .*?([0-9.]+) tokens/s", stdout, re.M)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gru")
    ap.add_argument("--args", default="--batch-size 32 --bptt 32 --dropout 0 --no-tie-weights",
                    help="more flags for scripts/train.py")
    ap.add_argument("--cores", default=None, help="taskset core list, e.g. 0 (default: no pinning)")
    ap.add_argument("--out", default=os.path.join(HERE, "loop_speed.json"))
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, env in VARIANTS:
            cmd = [sys.executable, os.path.join(REPO, "scripts", "train.py"), "--max-sentences", "20000",
                   "--vocab-size", "4000", "--model", a.model, "--epochs", "2", "--samples", "0", "--no-progress",
                   "--out", os.path.join(tmp, "m.npz"), *shlex.split(a.args)]
            if a.cores:
                cmd = ["taskset", "-c", a.cores, *cmd]
            load = os.getloadavg()[0]
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, cwd=REPO)
            if proc.returncode:
                sys.exit(f"{name}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
            speeds = epoch_speeds(proc.stdout)
            rows.append({"variant": name, "env": env, "epoch1_tokens_per_s": speeds[0],
                         "epoch2_tokens_per_s": speeds[1], "load_before": load})
            print(f"{name:18} epoch 2: {speeds[1]:8.0f} tokens/s (epoch 1 with compiles: {speeds[0]:.0f}; "
                  f"load {load:.1f})", flush=True)
    base = rows[0]["epoch2_tokens_per_s"]
    print(f"\n| variant | tokens/s (epoch 2) | relative to all on |\n|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['epoch2_tokens_per_s']:.0f} | {r['epoch2_tokens_per_s'] / base:.2f} |")
    with open(a.out, "w") as fh:
        json.dump({"model": a.model, "args": a.args, "cores": a.cores, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
