"""From token lists to the index arrays a model trains on.

A sentence ``[SENTENCE_START, w1, ..., wn, SENTENCE_END]`` becomes one training pair: the input
``x = [SENTENCE_START, w1, ..., wn]`` and the target ``y = [w1, ..., wn, SENTENCE_END]``, so at every step
the model predicts the word that follows.
"""
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError
from .vocab import Vocabulary


def encode(sentences, vocab):
    """Token lists -> list of int32 index arrays (unknown words become ``UNKNOWN_TOKEN``)."""
    return [vocab.encode(s) for s in sentences]


def make_xy(encoded):
    """Index arrays -> (X, Y) lists where ``Y[i]`` is ``X[i]`` shifted left by one word."""
    return [s[:-1] for s in encoded], [s[1:] for s in encoded]


def split_indices(n, valid_fraction=0.05, test_fraction=0.05, seed=0):
    """A deterministic shuffled split of ``range(n)`` into train / validation / test index arrays."""
    if not (0 <= valid_fraction < 1 and 0 <= test_fraction < 1 and valid_fraction + test_fraction < 1):
        raise DataError(f"bad split fractions valid={valid_fraction} test={test_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_valid, n_test = int(round(n * valid_fraction)), int(round(n * test_fraction))
    return order[n_valid + n_test:], order[:n_valid], order[n_valid:n_valid + n_test]


@dataclass
class Dataset:
    """A vocabulary and the encoded sentences of each split (each an int32 array with START and END)."""
    vocab: Vocabulary
    train: list
    valid: list = field(default_factory=list)
    test: list = field(default_factory=list)

    def xy(self, split="train"):
        return make_xy(getattr(self, split))

    def num_tokens(self, split="train"):
        """Predicted words in a split: every token after SENTENCE_START."""
        return int(sum(len(s) - 1 for s in getattr(self, split)))


def build_dataset(sentences, vocab_size, convention="part2", valid_fraction=0.05, test_fraction=0.05,
                  seed=0, vocab=None, min_count=1):
    """Split tokenized sentences, build the vocabulary on the training part, encode every part.

    Pass ``vocab`` to reuse a stored vocabulary (e.g. a checkpoint's) instead of building one; otherwise
    it keeps at most ``vocab_size`` words, each seen at least ``min_count`` times.
    """
    if not sentences:
        raise DataError("the corpus is empty: no sentences to train on")
    train_i, valid_i, test_i = split_indices(len(sentences), valid_fraction, test_fraction, seed)
    train = [sentences[i] for i in train_i]
    if vocab is None:
        vocab = Vocabulary.build(train, vocab_size, convention, min_count)
    return Dataset(vocab, encode(train, vocab),
                   encode([sentences[i] for i in valid_i], vocab),
                   encode([sentences[i] for i in test_i], vocab))
