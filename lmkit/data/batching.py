"""Length-bucketed, padded and masked minibatches for the batched trainer.

Sentences of similar length are grouped so little compute goes to padding, and every batch is padded to
its bucket's upper bound so that only a few distinct array shapes ever reach the compiled graph (JAX
compiles once per shape). Arrays are *time-major*, shape ``(T, B)``, the layout ``scan`` iterates over.
``mask[t, b]`` is 1.0 where ``y[t, b]`` is a real target and 0.0 on padding.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class Batch:
    x: np.ndarray     # (T, B) int32 inputs
    y: np.ndarray     # (T, B) int32 targets
    mask: np.ndarray  # (T, B) float32, 1 on real targets

    @property
    def num_tokens(self):
        return int(self.mask.sum())


def bucket_length(n, bucket_width):
    """The padded length for a sequence of ``n`` steps: ``n`` rounded up to a multiple of the width."""
    return -(-n // bucket_width) * bucket_width


def pad_batch(xs, ys, length, batch_size=None, pad_index=0):
    """Stack sequences into a time-major padded batch; ``batch_size`` adds fully masked rows."""
    rows = batch_size or len(xs)
    x = np.full((length, rows), pad_index, dtype=np.int32)
    y = np.full((length, rows), pad_index, dtype=np.int32)
    mask = np.zeros((length, rows), dtype=np.float32)
    for b, (xi, yi) in enumerate(zip(xs, ys)):
        n = len(xi)
        x[:n, b], y[:n, b], mask[:n, b] = xi, yi, 1.0
    return Batch(x, y, mask)


def bucketed_batches(X, Y, batch_size, bucket_width=8, shuffle=True, seed=0, full_batches=False,
                     pad_index=0):
    """Minibatches over all pairs ``(X[i], Y[i])``.

    ``shuffle`` shuffles sentences within buckets and the order of batches (seeded, so an epoch is
    reproducible); ``full_batches`` pads the last batch of a bucket with masked rows so that every batch
    has exactly ``batch_size`` columns.
    """
    rng = np.random.default_rng(seed)
    buckets = {}
    for i, xi in enumerate(X):
        if len(xi):
            buckets.setdefault(bucket_length(len(xi), bucket_width), []).append(i)
    batches = []
    for length in sorted(buckets):
        members = np.array(buckets[length])
        if shuffle:
            members = rng.permutation(members)
        for start in range(0, len(members), batch_size):
            chosen = members[start:start + batch_size]
            batches.append(pad_batch([X[i] for i in chosen], [Y[i] for i in chosen], length,
                                     batch_size if full_batches else None, pad_index))
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches
