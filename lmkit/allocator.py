"""glibc's allocator, tuned for XLA's CPU buffers before JAX allocates any.

XLA's CPU client allocates every buffer with plain ``malloc`` and keeps no cache of its own. The output
layer's ``N x C`` float32 buffers (1024 x 4000 = 16 MiB in the main command) are above glibc's mmap
threshold (at most 32 MiB, and adaptive), so every call maps fresh pages from the kernel and every page
is zeroed again on first touch: measured with ``perf``, 41% of the output layer's time went to page
faults and page clearing. Three settings keep freed memory inside the process for reuse instead::

    M_MMAP_THRESHOLD = 1 GiB      large blocks come from the heap, not from fresh mmaps
    M_TRIM_THRESHOLD = 2 GiB - 1  freed memory at the top of the heap is not handed back at once
    M_ARENA_MAX      = 1          one heap, so XLA's worker threads reuse each other's freed blocks

Measured on the 2-core reference machine: ``jnp.exp`` on 1280 x 8000 went from 20 ms to 3.5 ms and a
batched training step ran 1.5-1.8x faster; any one setting alone did nothing. The price is memory that
stays mapped after a large buffer is freed, which a training or scoring process reuses at the next step.

They are applied by :func:`lmkit.backend.configure` (the command line, the notebooks and the benchmarks
call it before JAX starts). ``RNNLM_MALLOPT=0`` leaves glibc's defaults (for comparisons); on a C library
other than glibc nothing happens.
"""
import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
SETTINGS = ((M_MMAP_THRESHOLD, 1 << 30), (M_TRIM_THRESHOLD, 2 ** 31 - 1), (M_ARENA_MAX, 1))

applied = False


def tune_malloc():
    """Apply :data:`SETTINGS` through ``mallopt``; returns whether they were applied."""
    global applied
    if applied or os.environ.get("RNNLM_MALLOPT", "1") == "0":
        return applied
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows): nothing to tune
        return False
    applied = all(mallopt(param, value) == 1 for param, value in SETTINGS)
    return applied
