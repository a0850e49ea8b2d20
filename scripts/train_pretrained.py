#!/usr/bin/env python
"""Train the models that ship with the package (``rnnlm/pretrained/``) with the project's own command, and
record how they were made.

    python scripts/train_pretrained.py               # all three, one after the other (about 75 min on 2 cores)
    python scripts/train_pretrained.py --only gru

Each model is ``rnnlm train`` with the flags of :data:`RECIPES` on the whole built-in corpus (vocabulary
8000, the project's split), seed 0, run alone on the machine and timed from process start to exit. Its best
checkpoint then becomes the shipped file:

- the weights stored as float16, nothing else of the trainer's state;
- the validation and test perplexity of those float16 weights, scored as ``rnnlm score MODEL --split``
  scores them, and the test perplexity of the first ``SUBSET`` test sentences (which the test suite checks);
- a ``provenance`` record in the metadata: the exact command, the seed, the code commit, the machine, the
  wall-clock and the number of epochs.

``models.json`` beside the files gets each one's SHA-256 and size. The code that trains should be committed
first: the commit is recorded (with ``-dirty`` when the working tree differs from it).
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMON = ["--corpus", "shakespeare", "--vocab-size", "8000", "--seed", "0", "--samples", "0", "--no-progress"]
SUBSET = 300  # test sentences scored by tests/test_pretrained.py
RECIPES = {
    # The vanilla RNN in the shape of the tutorial's trained-model-theano.npz (hidden 50, the part2 convention),
    # trained by the batched trainer; 20-minute budget.
    "part2": ["--model", "rnn", "--hidden-dim", "50", "--convention", "part2", "--dropout", "0",
              "--learning-rate", "0.004", "--lr-decay", "0.9", "--epochs", "24"],
    # The GRU in the shape of Part 4's pretrained.npz (two layers of 128, hard sigmoid, untied E and V, the part4
    # convention); 30-minute budget. Two stacked layers sat at the unigram plateau (validation perplexity
    # 300-370 after 2-4 epochs) with chunks of 16 x 32 words whatever the rate, rule or dropout tried; small
    # chunks (4 streams of 16 words: 8 times the updates) leave it within the first epoch.
    "part4": ["--model", "gru", "--layers", "2", "--hidden-dim", "128", "--gate", "hard", "--no-tie-weights",
              "--convention", "part4", "--dropout", "0", "--batch-size", "4", "--bptt", "16",
              "--learning-rate", "0.004", "--lr-decay", "0.85", "--epochs", "4"],
    # The recipe's model for a 30-minute budget on the whole corpus: one GRU layer of 256, tied, dropout 0.3.
    "gru": ["--model", "gru", "--hidden-dim", "256", "--dropout", "0.3", "--learning-rate", "0.004",
            "--lr-decay", "0.8", "--epochs", "7"],
}


def git_commit():
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine():
    """The machine in words: CPU model and count, and the JAX backend that trained."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        import jax

        backend = f"JAX on {jax.devices()[0].device_kind}"
    except Exception:  # noqa: BLE001  (no JAX: the C backend trained)
        backend = "the C backend"
    return f"{os.cpu_count()} x {cpu}, {platform.system()} {platform.machine()}, {backend}"


def train(name, folder):
    """Run ``rnnlm train`` for one recipe; returns ``(checkpoint, command, seconds)``."""
    out = folder / f"{name}.npz"
    argv = ["rnnlm", "train", *RECIPES[name], *COMMON, "--out", str(out)]
    command = " ".join(shlex.quote(a) for a in argv[:-2])  # the output folder is this run's own
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "rnnlm", *argv[1:]], cwd=REPO)
    seconds = time.time() - start
    if proc.returncode:
        raise SystemExit(f"{name}: rnnlm train failed (exit {proc.returncode})")
    best = folder / f"{name}.best.npz"
    return (best if best.exists() else out), command, seconds


def finish(name, checkpoint, command, seconds, commit):
    """Turn the trained checkpoint into the shipped file and its provenance; returns the manifest entry."""
    import numpy as np

    from lmkit.backend import configure
    from lmkit.checkpoint import load_model, save_checkpoint
    from lmkit.scoring import score_corpus
    from rnnlm.data import load_dataset
    from rnnlm.models import load_packages, model_settings
    from rnnlm.pretrained import FOLDER, sha256

    configure()
    load_packages()
    model, vocab, meta = load_model(checkpoint, mode="c", dtype="float64")
    weights = {k: v.astype(np.float16) for k, v in model.get_params().items() if k in model.trainable_params()}
    model.set_params({k: v.astype(np.float64) for k, v in weights.items()})  # the stored weights, exactly
    settings = meta["run"]["settings"]
    data = load_dataset(settings, vocab=vocab)
    valid = score_corpus(model, data.valid, unknown_index=vocab.unknown_index)
    test = score_corpus(model, data.test, unknown_index=vocab.unknown_index)
    subset = score_corpus(model, data.test[:SUBSET], unknown_index=vocab.unknown_index)
    shape = model_settings(model)
    progress = meta["run"]["progress"]
    provenance = {
        "name": name,
        "model": (f"{shape['model'].upper()} {shape['layers']}x{shape['hidden_dim']}"
                  + (", tied" if shape["tie_weights"] else "") + (f", {shape['gate']} gates" if shape["gate"] else "")),
        "parameters": int(sum(v.size for v in weights.values())),
        "storage": "float16 weights",
        "data": (f"{settings['corpus']}, vocabulary {len(vocab)}, {settings['convention']} convention; "
                 f"{len(data.train)} training, {len(data.valid)} validation, {len(data.test)} test sentences"),
        "command": command, "seed": settings["seed"], "commit": commit, "machine": machine(),
        "wall_clock_s": round(seconds, 1), "epochs": progress.get("epoch"),
        "trained_on": datetime.date.today().isoformat(),
        "valid_perplexity": valid.perplexity, "test_perplexity": test.perplexity,
        "test_subset": {"sentences": SUBSET, "perplexity": subset.perplexity},
    }
    shipped = {"model_type": meta["model_type"], "hparams": meta["hparams"], "vocab": meta["vocab"],
               "run": meta["run"], "provenance": provenance}
    FOLDER.mkdir(exist_ok=True)
    path = FOLDER / f"{name}.npz"
    save_checkpoint(path, weights, shipped)
    print(f"{name}: {path} ({path.stat().st_size / 2**20:.1f} MB), valid {valid.perplexity:.2f}, "
          f"test {test.perplexity:.2f}, {seconds / 60:.1f} min")
    return {"file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(RECIPES), action="append", help="train these only (repeatable)")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from rnnlm.pretrained import MANIFEST

    commit = git_commit()
    entries = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    with tempfile.TemporaryDirectory(prefix="pretrained-") as tmp:
        for name in args.only or list(RECIPES):
            checkpoint, command, seconds = train(name, Path(tmp))
            entries[name] = finish(name, checkpoint, command, seconds, commit)
            MANIFEST.write_text(json.dumps({k: entries[k] for k in RECIPES if k in entries}, indent=1) + "\n")


if __name__ == "__main__":
    main()
