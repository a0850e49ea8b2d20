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

Importing this module changes nothing. :func:`configure` makes the process-wide settings the project
runs with, once, before PyTensor or JAX start: the ``rnnlm`` command calls it first thing, and so do the
notebooks (``nbsettings``), the benchmarks and the test suite (``tests/conftest.py``). A script of your own
that uses the packages directly calls it too, or lives with the libraries' defaults.
"""
import logging
import os
import warnings


def configure(blas_threads=None):
    """The process settings of the project, made once (later calls change nothing); returns what was set.

    - glibc's allocator tuned for XLA's CPU buffers (:mod:`lmkit.allocator`; ``RNNLM_MALLOPT=0`` skips it);
      it must come before JAX allocates anything.
    - numpy's OpenBLAS on ``blas_threads`` threads (:func:`limit_blas_threads`; default
      ``$RNNLM_BLAS_THREADS``, else 1).
    - Two expected warnings silenced: PyTensor's, that it found no BLAS to link its C code against (it then
      calls numpy's matrix products; README says how to link OpenBLAS), and JAX's about PyTensor 3.0.7's
      gather gradient, which scatters a float64 zero into float32 buffers (cast safely; harmless at the
      pinned versions).
    """
    global _configured
    if _configured is None:
        from .allocator import tune_malloc

        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS installation")
        logging.getLogger("pytensor.tensor.blas").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message="scatter inputs have incompatible types", category=FutureWarning)
        _configured = {"malloc_tuned": tune_malloc(), "blas_threads": limit_blas_threads(blas_threads)}
    return _configured


_configured = None


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


MODES = {"c": "CVM", "numba": "NUMBA", "jax": "JAX", "python": "FAST_COMPILE"}


def pytensor_mode(name=None):
    """PyTensor's mode string for a user-facing backend name (``None``: ``$RNNLM_MODE``, else ``c``)."""
    name = (name or os.environ.get("RNNLM_MODE") or "c").lower()
    if name not in MODES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(MODES)}")
    if MODES[name] == "JAX":
        from .pytensor_internals import fix_jax_reduction_dtype, install_jax_scan

        fix_jax_reduction_dtype()   # PyTensor 3.0.7's JAX sums come back in the wrong dtype
        install_jax_scan()          # scans whose steps' element-wise work XLA vectorises on a CPU
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
