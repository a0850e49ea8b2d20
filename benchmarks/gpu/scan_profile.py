"""How the batched training step's time grows with the sequence length, on whatever JAX device is default.

If the step time grows linearly with T at a fixed batch, the per-step work of ``scan`` (forward and the
symbolic backward scan) dominates rather than the output layer's matrix products. Prints one line per T
and writes JSON (``--out``).

    python benchmarks/gpu/scan_profile.py --out gpu-out/scan_profile.json
"""
import argparse
import json
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="5,20,40")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()

    from lmkit.backend import configure

    configure()  # the project's process settings, before JAX starts
    import jax

    from gru_theano import GRUTheano
    from lmkit.data.batching import pad_batch
    from lmkit.trainer import BatchedTrainer

    rows = []
    rng = np.random.default_rng(0)
    for T in map(int, a.lengths.split(",")):
        model = GRUTheano(a.vocab, 128, num_layers=2, mode="jax", dtype="float32", seed=0)
        trainer = BatchedTrainer(model, "sgd", clip=5.0, bptt=T, batch_size=a.batch, mode="jax")
        X = [rng.integers(0, a.vocab, T).astype(np.int32) for _ in range(a.batch)]
        batch = pad_batch(X, X, T)
        start = time.perf_counter()
        trainer.train_batch(batch, 0.01)
        compile_s = time.perf_counter() - start
        times = []
        for _ in range(a.repeats):
            start = time.perf_counter()
            trainer.train_batch(batch, 0.01)  # reads the loss back, so the step is complete
            times.append(time.perf_counter() - start)
        where = getattr(trainer.params["E"].get_value(), "devices", lambda: "host")()
        row = {"T": T, "batch": a.batch, "ms": 1e3 * float(np.median(times)), "compile_s": compile_s,
               "params_on": str(where), "backend": jax.default_backend()}
        rows.append(row)
        print(f"T={T:3d} B={a.batch}: {row['ms']:8.1f} ms/step ({row['ms'] / T:.2f} ms per time step), "
              f"compile {compile_s:.1f} s, weights on {row['params_on']}", flush=True)
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
