"""The batched training step on the GPU against the same step on the CPU (run on the GPU machine).

Both devices get the same model (same seed), the same packed chunk of the main command's data and the same
dropout-free step, in float32 with ``jax_default_matmul_precision="highest"`` (GPUs otherwise multiply
float32 matrices in TF32). Checked: the chunk's summed loss, the gradient norm, and the weights after one
SGD step (lr 0.5, so the update is visible; Adam's first step is close to a sign function), each within ``--rtol`` (1e-4) relative. Writes JSON (``--out``); exits 1 on disagreement.

    python benchmarks/gpu/agreement.py --out gpu-out/agreement.json
    python benchmarks/gpu/agreement.py --dry-run        # CPU only: the same code against itself (for tests)
"""
import argparse
import json
import os
import sys

os.environ.setdefault("PYTENSOR_FLAGS", "floatX=float32")

from lmkit.backend import configure  # noqa: E402

configure()  # the project's process settings, before JAX starts

import jax  # noqa: E402

jax.config.update("jax_default_matmul_precision", "highest")

import numpy as np  # noqa: E402


def one_step(device, model_name, C, H, chunk):
    """Loss, gradient norm and weights after one step of a fresh model, with every array on ``device``."""
    from gru_theano import GRUTheano, LSTMTheano
    from lmkit.trainer import BatchedTrainer
    from rnn_theano import RNNTheano

    with jax.default_device(device):
        if model_name == "rnn":
            model = RNNTheano(C, H, bptt_truncate=-1, mode="jax", dtype="float32", seed=0)
        else:
            cls = GRUTheano if model_name == "gru" else LSTMTheano
            model = cls(C, H, num_layers=1, mode="jax", dtype="float32", seed=0)
        T, B = chunk.x.shape
        # devices=[device]: the step's inputs and weights placed on this device (a mesh of one)
        trainer = BatchedTrainer(model, "sgd", clip=5.0, bptt=T, batch_size=B, mode="jax",
                                 devices=None if device is None else [device])
        loss, norm = trainer.train_batch(chunk, 0.5)
        weights = {k: np.asarray(v.get_value()) for k, v in trainer.params.items()}
        platform = jax.devices()[0].platform if device is None else device.platform
    return {"loss": loss, "norm": norm, "weights": weights, "platform": platform}


def relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="rnn,gru,lstm")
    ap.add_argument("--hidden-dim", type=int, default=128)
    ap.add_argument("--vocab-size", type=int, default=4000)
    ap.add_argument("--max-sentences", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=32)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--dry-run", action="store_true", help="compare the CPU with itself (no GPU needed)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from lmkit.data.batching import packed_batches
    from rnnlm.data import load_dataset

    data = load_dataset({"corpus": "shakespeare", "vocab_size": args.vocab_size, "convention": "part2",
                         "max_sentences": args.max_sentences, "valid_fraction": 0.05, "test_fraction": 0.05,
                         "split_seed": 0, "no_cache": False})
    X, Y = data.xy("train")
    chunk = packed_batches(X, Y, args.batch_size, args.bptt, shuffle=False)[1]  # a chunk with carried sentences

    cpu = jax.devices("cpu")[0]
    accel = cpu if args.dry_run else jax.devices()[0]
    results, ok = {"jax": jax.__version__, "devices": [str(d) for d in jax.devices()], "rtol": args.rtol,
                   "models": {}}, True
    for name in args.models.split(","):
        a = one_step(accel, name, len(data.vocab), args.hidden_dim, chunk)
        b = one_step(cpu, name, len(data.vocab), args.hidden_dim, chunk)
        row = {"platforms": [a["platform"], b["platform"]], "loss": [a["loss"], b["loss"]],
               "norm": [a["norm"], b["norm"]], "loss_rel": relative(a["loss"], b["loss"]),
               "norm_rel": relative(a["norm"], b["norm"]),
               "weights_rel": max(relative(a["weights"][k], b["weights"][k]) for k in a["weights"])}
        row["agree"] = max(row["loss_rel"], row["norm_rel"], row["weights_rel"]) <= args.rtol
        ok &= row["agree"]
        results["models"][name] = row
        print(f"{name}: {a['platform']} loss {a['loss']:.6f} vs {b['platform']} {b['loss']:.6f} "
              f"(rel {row['loss_rel']:.1e}); grad norm rel {row['norm_rel']:.1e}; weights after one SGD step "
              f"rel {row['weights_rel']:.1e} -> {'agree' if row['agree'] else 'DISAGREE'}", flush=True)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
