"""Minibatches for the batched trainer: sentences packed end to end into fixed-shape chunks.

The tutorial's model reads one sentence at a time, starting from a zero hidden state. Padding sentences
of different lengths into a batch wastes work (a quarter of it on the main command's data) and gives
the compiled graph a new shape for every length. Packing keeps the model and drops both costs::

    stream 0:  S a b c E S d e E S f g h i E ...        x, y: (T, B) word indices, time-major
    stream 1:  S j k E S l m n o p E S q E ...         reset: 1 at every sentence's first word
    ...        |-- chunk 1 (T steps) --|-- chunk 2 --|  mask: 1 on real words, 0 on the tail padding

The sentences of an epoch (shuffled, seeded) are dealt into ``B`` streams of nearly equal length, laid
end to end, and cut into chunks of ``T`` steps. The trainer carries the hidden state from one chunk to the
next and the graph multiplies it by ``1 - reset_t`` before step t, so every sentence still starts from
zero: the likelihood is exactly the per-sentence model's, with no padding except at the end of each
stream and one array shape ``(T, B)`` for the whole run. Gradients stop at chunk boundaries (truncated
BPTT); a sentence that does not cross one gets exactly its per-sentence gradient.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class Batch:
    x: np.ndarray             # (T, B) int32 inputs
    y: np.ndarray             # (T, B) int32 targets
    mask: np.ndarray          # (T, B) float32, 1 on real targets
    reset: np.ndarray = None  # (T, B) float32, 1 where a sentence starts (the state is zeroed before it)
    index: int = 0            # position in the epoch
    seed: tuple = None        # what the trainer seeds this chunk's dropout masks with

    @property
    def num_tokens(self):
        return int(self.mask.sum())


def pad_batch(xs, ys, length, batch_size=None, pad_index=0):
    """One sentence per column, padded to ``length`` steps (``batch_size`` adds fully masked columns).

    Every column starts a sentence at step 0 (``reset[0] = 1``). Used by tests and benchmarks that want a
    batch of sentences side by side rather than packed streams.
    """
    rows = batch_size or len(xs)
    x = np.full((length, rows), pad_index, dtype=np.int32)
    y = np.full((length, rows), pad_index, dtype=np.int32)
    mask = np.zeros((length, rows), dtype=np.float32)
    reset = np.zeros((length, rows), dtype=np.float32)
    reset[0] = 1.0
    for b, (xi, yi) in enumerate(zip(xs, ys)):
        n = len(xi)
        x[:n, b], y[:n, b], mask[:n, b] = xi, yi, 1.0
    return Batch(x, y, mask, reset)


def deal_into_streams(lengths, num_streams):
    """Split a sequence of sentence lengths, in order, into ``num_streams`` contiguous runs of nearly equal
    total length; returns the start index of each run (plus the end). A sentence is never split."""
    lengths = np.asarray(lengths)
    total = max(int(lengths.sum()), 1)
    # Sentence i goes to the stream its midpoint falls in, floor(mid_i * B / total); streams then differ
    # from the mean length by at most about one sentence.
    mids2 = 2 * (np.cumsum(lengths) - lengths) + lengths  # twice the midpoints, in integers
    stream_of = (mids2 * num_streams) // (2 * total)
    bounds = np.searchsorted(stream_of, np.arange(num_streams + 1), side="left")
    return bounds


def packed_batches(X, Y, batch_size, length, shuffle=True, seed=0, pad_index=0):
    """All pairs ``(X[i], Y[i])`` packed into ``batch_size`` streams and cut into ``(length, batch_size)`` chunks.

    ``shuffle`` permutes the sentences first (seeded: an epoch is a function of ``seed`` alone). Empty
    sentences are skipped. Every word of every sentence appears exactly once, with ``mask`` 1.
    """
    if batch_size < 1 or length < 1:
        raise ValueError(f"batch size and chunk length must be positive, got {batch_size} and {length}")
    order = [i for i in range(len(X)) if len(X[i])]
    if shuffle:
        order = [order[i] for i in np.random.default_rng(seed).permutation(len(order))]
    if not order:
        return []
    lengths = np.array([len(X[i]) for i in order])
    bounds = deal_into_streams(lengths, batch_size)
    stream_len = max(int(lengths[bounds[b]:bounds[b + 1]].sum()) for b in range(batch_size))
    steps = -(-stream_len // length) * length  # rounded up to whole chunks
    x = np.full((steps, batch_size), pad_index, dtype=np.int32)
    y = np.full((steps, batch_size), pad_index, dtype=np.int32)
    mask = np.zeros((steps, batch_size), dtype=np.float32)
    reset = np.ones((steps, batch_size), dtype=np.float32)  # padding resets too: nothing leaks across epochs
    for b in range(batch_size):
        sentences = order[bounds[b]:bounds[b + 1]]
        if not sentences:
            continue
        n = int(lengths[bounds[b]:bounds[b + 1]].sum())
        x[:n, b] = np.concatenate([X[i] for i in sentences])
        y[:n, b] = np.concatenate([Y[i] for i in sentences])
        mask[:n, b] = 1.0
        first = np.zeros(n, dtype=np.float32)
        first[np.cumsum([0] + [len(X[i]) for i in sentences[:-1]])] = 1.0
        reset[:n, b] = first
    return [Batch(x[t:t + length], y[t:t + length], mask[t:t + length], reset[t:t + length], index=k)
            for k, t in enumerate(range(0, steps, length))]
