"""Which PyTensor backend compiles the graphs.

PyTensor can turn one symbolic graph into code for several backends. The names users type map to
PyTensor's own mode names here, so every model and script accepts the same ``--mode`` values.

- ``c``: PyTensor's C backend (``CVM``). Compiled C ops are cached on disk per op, so a second process
  starts in about a second; the default for the per-sentence tutorial models.
- ``numba``: PyTensor's default ``FAST_RUN``. Fast once compiled, but a graph with ``scan`` takes 20-70 s
  to compile and is recompiled in every new process.
- ``jax``: ``jax.jit`` of the whole graph; the GPU route. ``scan`` needs a static sequence length, so it
  compiles once per distinct length.
- ``python``: ``FAST_COMPILE``, the slow reference; useful for debugging.

The environment variable ``RNNLM_MODE`` changes the default everywhere.

pip installs PyTensor without a BLAS library to link its C code against; it then calls numpy's matrix
products through the C API instead and warns about it in every process. That is expected here, so the
warning is silenced; README says how to link a system OpenBLAS instead.
"""
import logging
import os
import warnings

warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS installation")
logging.getLogger("pytensor.tensor.blas").setLevel(logging.ERROR)
# PyTensor 3.0.7's JAX translation of the gather gradient (AdvancedIncSubtensor1) scatters a float64 zero
# into float32 buffers; JAX 0.10 casts it safely and warns on every compile. Harmless at the pinned versions.
warnings.filterwarnings("ignore", message="scatter inputs have incompatible types", category=FutureWarning)


def limit_blas_threads(n=None):
    """Run numpy's OpenBLAS on ``n`` threads (default ``$RNNLM_BLAS_THREADS``, else 1).

    The recurrences multiply small matrices thousands of times; on a 2-core machine with anything else
    running, OpenBLAS's worker threads then spend their time waiting for each other. Measured here: one
    GRU layer's backward pass over 20 steps of a 32-sentence batch took 1.9 s with 2 threads under load
    and 0.02 s with 1.
    """
    n = int(n or os.environ.get("RNNLM_BLAS_THREADS", 1))
    import numpy  # noqa: F401  (loads numpy's OpenBLAS, so that there is a library to limit)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n, user_api="blas")
    return n


limit_blas_threads()

MODES = {"c": "CVM", "numba": "NUMBA", "jax": "JAX", "python": "FAST_COMPILE"}
DEFAULT_MODE = os.environ.get("RNNLM_MODE", "c")


def pytensor_mode(name=None):
    """PyTensor's mode string for a user-facing backend name (``None`` means the default)."""
    name = (name or DEFAULT_MODE).lower()
    if name not in MODES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(MODES)}")
    return MODES[name]


def default_batched_mode():
    """The batched trainer's default backend: ``RNNLM_MODE`` if set, else JAX when installed, else C.

    JAX compiles the whole training step (scan included) into one XLA program; on this project's 2-core
    reference machine it was the fastest CPU backend for minibatches (see ``benchmarks/``), and it is the
    only route to a GPU.
    """
    if os.environ.get("RNNLM_MODE"):
        return os.environ["RNNLM_MODE"]
    try:
        import jax  # noqa: F401
    except ImportError:
        return "c"
    return "jax"
