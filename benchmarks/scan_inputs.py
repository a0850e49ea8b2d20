"""How fast a ``scan`` step's element-wise work runs when it reads its inputs from ``xs``: ``jax.lax.scan``
against :func:`lmkit.pytensor_internals.prefetching_scan` (float32, JAX on the CPU).

The step is an LSTM layer's gate arithmetic for a batch (H x B values per gate, four gates read from the
step's slice of a ``(T, 4, H, B)`` input): with ``--dot`` the recurrent product ``W s`` as well, with
``--grad`` the gradient of a sum of the outputs too (JAX's own backward loop). A third row reads the same
slice from a loop-invariant array, the speed the arithmetic has when nothing is sliced per step.

Usage::

    taskset -c 0 python benchmarks/scan_inputs.py            # one pinned core
    python benchmarks/scan_inputs.py --hidden 256 --batch 64 --out /tmp/scan_inputs.json

Writes a table and JSON (``--out``, default ``benchmarks/scan_inputs.json``).
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=60, help="timed calls per variant, alternating (default 60)")
    ap.add_argument("--out", default=os.path.join(HERE, "scan_inputs.json"))
    args = ap.parse_args(argv)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    sys.path.insert(0, ROOT)
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax import lax

    from lmkit.pytensor_internals import prefetching_scan

    T, H, B = args.steps, args.hidden, args.batch
    rng = np.random.default_rng(0)
    xs = jnp.asarray(rng.normal(size=(T, 4, H, B)).astype(np.float32))
    W = jnp.asarray(rng.normal(scale=H ** -0.5, size=(4 * H, H)).astype(np.float32))
    zero = jnp.zeros((H, B), jnp.float32)

    def cell(carry, a, dot):
        c, s = carry
        r = (W @ s).reshape(4, H, B) if dot else (s, s, s, s)
        i, f, o = (jax.nn.sigmoid(a[k] + r[k]) for k in range(3))
        c = c * f + jnp.tanh(a[3] + r[3]) * i
        s = jnp.tanh(c) * o
        return (c, s), s

    def layer(scan, dot):
        return lambda x: scan(lambda carry, a: cell(carry, a, dot), (zero, zero), x)[1]

    def invariant(dot):   # every step reads xs[0], a loop-invariant array: no per-step slice
        return lambda x: lax.scan(lambda carry, _: cell(carry, x[0], dot), (zero, zero), None, length=T)[1]

    def with_grad(fn):
        return jax.grad(lambda x: jnp.sum(fn(x) ** 2))

    rows = []
    for dot in (False, True):
        for grad in (False, True):
            variants = {"lax.scan": layer(lax.scan, dot), "prefetching_scan": layer(prefetching_scan, dot),
                        "loop-invariant input": invariant(dot)}
            if grad:
                variants = {k: with_grad(v) for k, v in variants.items() if k != "loop-invariant input"}
            fns = {k: jax.jit(v) for k, v in variants.items()}
            outs = {k: jax.block_until_ready(f(xs)) for k, f in fns.items()}
            np.testing.assert_allclose(outs["prefetching_scan"], outs["lax.scan"], rtol=1e-6, atol=1e-6)
            times = {k: [] for k in fns}
            for i in range(args.repeats):
                for k in (list(fns) if i % 2 == 0 else list(fns)[::-1]):
                    t0 = time.perf_counter()
                    jax.block_until_ready(fns[k](xs))
                    times[k].append(time.perf_counter() - t0)
            for k, ts in times.items():
                rows.append({"variant": k, "dot": dot, "grad": grad, "us_per_step_median": statistics.median(ts) / T * 1e6,
                             "us_per_step_min": min(ts) / T * 1e6})
    print(f"scan of {T} steps, LSTM gates on 4 x {H} x {B} values, float32, jax {jax.__version__}")
    print(f"{'variant':22s} {'W s':>4s} {'grad':>5s} {'us/step':>9s} {'min':>8s}")
    for r in rows:
        print(f"{r['variant']:22s} {'yes' if r['dot'] else 'no':>4s} {'yes' if r['grad'] else 'no':>5s} "
              f"{r['us_per_step_median']:9.1f} {r['us_per_step_min']:8.1f}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"config": vars(args), "jax": jax.__version__, "rows": rows}, fh, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
