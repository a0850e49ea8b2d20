"""The shared layer every model of the project uses: data, batched training, checkpoints, scoring, sampling.

Importing it tunes glibc's allocator for XLA (see :mod:`lmkit.allocator`), before JAX allocates anything.
"""
from .allocator import tune_malloc

tune_malloc()
