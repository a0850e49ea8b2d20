"""Where one training step of the batched trainer spends its time on this machine's JAX device.

Times the whole step of the README recipe's model at the given sizes, then its parts alone, each as one
jitted JAX program on the same device: the output layer (the fused Op: logits, loss, dL/dh, dL/dV), the
recurrence (the layer's scan, forward and backward), and the optimizer's update. A trace of a few steps is
written with ``jax.profiler`` (a TensorBoard/Perfetto trace, packed into one ``.tar.gz`` so that it comes
back from the device machine).

    python benchmarks/gpu/profile_step.py --out gpu-out/profile.json            # on the GPU machine
    python benchmarks/gpu/profile_step.py --dry-run --out /tmp/profile.json      # here: tiny sizes, the CPU
"""
import argparse
import json
import os
import sys
import tarfile
import tempfile
import time

os.environ.setdefault("PYTENSOR_FLAGS", "floatX=float32")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from lmkit.backend import configure  # noqa: E402

configure()  # the project's process settings, before JAX starts

import jax  # noqa: E402
import numpy as np  # noqa: E402


def timed(fn, *args, repeats=20):
    """Median seconds of ``fn(*args)`` (results waited for), after two untimed calls."""
    for _ in range(2):
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--bptt", type=int, default=32)
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes, for checking the script on a CPU")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.dry_run:
        args.vocab, args.hidden, args.batch, args.bptt = 300, 16, 4, 8

    from types import SimpleNamespace

    import jax.numpy as jnp
    from jax import lax

    from gru_theano import GRUTheano
    from lmkit.trainer import BatchedTrainer

    C, H, B, T = args.vocab, args.hidden, args.batch, args.bptt
    model = GRUTheano(C, H, num_layers=1, tie_weights=True, mode="jax", dtype="float32", seed=0)
    trainer = BatchedTrainer(model, "adam", clip=5.0, bptt=T, batch_size=B, mode="jax", dropout=0.3)
    rng = np.random.default_rng(0)
    chunk = SimpleNamespace(x=rng.integers(0, C, (T, B)).astype(np.int32), y=rng.integers(0, C, (T, B)).astype(np.int32),
                            mask=np.ones((T, B), np.float32), reset=np.zeros((T, B), np.float32),
                            num_tokens=T * B, seed=(0, 0, 0))
    trainer.train_batch(chunk, 1e-3)  # compiles
    start = time.perf_counter()
    steps = 20
    for _ in range(steps):
        trainer.train_batch(chunk, 1e-3)
    jax.block_until_ready(trainer.carry)
    step_s = (time.perf_counter() - start) / steps

    # The parts, each as its own jitted program on the same device and sizes.
    key = jax.random.PRNGKey(0)
    h = jax.random.normal(key, (T * B, H), jnp.float32)
    V = jax.random.normal(key, (C, H), jnp.float32) * 0.05
    c = jnp.zeros((C,), jnp.float32)
    y = jnp.asarray(chunk.y.reshape(-1))

    @jax.jit
    def output_layer(h, V, c, y):
        def loss(h, V, c):
            z = h @ V.T + c
            return jnp.sum(jax.nn.logsumexp(z, axis=-1) - jnp.take_along_axis(z, y[:, None], 1)[:, 0])
        return jax.value_and_grad(loss, argnums=(0, 1, 2))(h, V, c)

    W = jax.random.normal(key, (3, H, H), jnp.float32) * 0.05
    a = jax.random.normal(key, (T, 3, H, B), jnp.float32)

    @jax.jit
    def recurrence(a, W):
        def loss(a, W):
            def step(s, a_t):
                z = jnp.clip(0.2 * (a_t[0] + W[0] @ s) + 0.5, 0, 1)
                r = jnp.clip(0.2 * (a_t[1] + W[1] @ s) + 0.5, 0, 1)
                hh = jnp.tanh(a_t[2] + W[2] @ (s * r))
                s = (1 - z) * hh + z * s
                return s, s
            _, states = lax.scan(step, jnp.zeros((H, B), jnp.float32), a)
            return jnp.sum(states)
        return jax.value_and_grad(loss, argnums=(0, 1))(a, W)

    parts = {"step (train_batch, host to host)": step_s,
             "output layer, forward and backward": timed(output_layer, h, V, c, y),
             "GRU recurrence (scan), forward and backward": timed(recurrence, a, W)}
    with tempfile.TemporaryDirectory() as folder:
        jax.profiler.start_trace(folder)
        for _ in range(3):
            trainer.train_batch(chunk, 1e-3)
        jax.block_until_ready(trainer.carry)
        jax.profiler.stop_trace()
        trace = os.path.splitext(args.out)[0] + "-trace.tar.gz"
        with tarfile.open(trace, "w:gz") as tar:
            tar.add(folder, arcname="trace")
    report = {"device": str(jax.devices()[0]), "sizes": {"C": C, "H": H, "B": B, "T": T},
              "ms": {k: round(1000 * v, 3) for k, v in parts.items()},
              "words_per_second": round(T * B / step_s), "trace": os.path.basename(trace)}
    print(json.dumps(report, indent=1))
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main()
