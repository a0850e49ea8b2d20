"""The three matrix products of the output layer's forward + backward (N = T*B rows, H, C), timed alone:
numpy (OpenBLAS, 1 thread) and jax.jit(jnp.dot), including the transposed-operand forms the backward
pass uses. ``python benchmarks/gemm_shapes.py [N]``; set XLA_FLAGS before to change XLA's threading."""
import os, sys, time, statistics
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import numpy as np
from threadpoolctl import threadpool_limits
import jax, jax.numpy as jnp

N = int(sys.argv[1]) if len(sys.argv) > 1 else 640
C, H = 8000, 100
rng = np.random.default_rng(0)
h = rng.standard_normal((N, H), dtype=np.float32)
V = rng.standard_normal((C, H), dtype=np.float32)
P = rng.standard_normal((N, C), dtype=np.float32)


def med(fn, n=9):
    fn(); fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts)


flops = 2.0 * N * H * C
cases = {"logits = h @ V.T": (lambda a, b, c: a @ b.T, (h, V, P)),
         "dh = P @ V": (lambda a, b, c: c @ b, (h, V, P)),
         "dV = P.T @ h": (lambda a, b, c: c.T @ a, (h, V, P))}
with threadpool_limits(1, user_api="blas"):
    for label, (f, args) in cases.items():
        m, mn = med(lambda: f(*args))
        print(f"numpy 1T  N={N} {label:18s} {m*1e3:7.2f} ms  {flops/m/1e9:6.1f} GFLOP/s (min {flops/mn/1e9:6.1f})")
jargs = [jnp.asarray(a) for a in (h, V, P)]
for label, (f, _) in cases.items():
    g = jax.jit(f)
    m, mn = med(lambda: g(*jargs).block_until_ready())
    print(f"jax       N={N} {label:18s} {m*1e3:7.2f} ms  {flops/m/1e9:6.1f} GFLOP/s (min {flops/mn/1e9:6.1f})  XLA_FLAGS={os.environ.get('XLA_FLAGS')}")
