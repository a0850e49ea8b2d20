"""One sentence in, checked: the input validation and the corpus losses of every per-sentence model.

The tutorial's models take a sentence as a list of word indices ``x`` and its next words ``y``. Both
packages (``rnn_theano``, ``gru_theano``) check them here, so every model refuses the same inputs with the
same messages and treats an empty sentence the same way: no words, no loss, no gradient.
"""
import numpy as np


def as_indices(words, word_dim, what="x"):
    """A sentence as a 1-D int32 array of word indices, refusing indices outside ``[0, word_dim)``.

    An empty sentence is accepted (an empty array). A negative index would otherwise silently pick a word
    from the end of the vocabulary, and one past the end would fail deep inside a compiled function.
    """
    arr = np.asarray(words)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D sequence of word indices, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int32)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{what} must hold integer word indices, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= word_dim:
        raise ValueError(f"{what} holds word index {arr.min() if arr.min() < 0 else arr.max()}, "
                         f"outside the vocabulary [0, {word_dim})")
    return arr.astype(np.int32)


class SentenceLosses:
    """The corpus-level half of the tutorial's interface, written once for every model.

    A model provides ``word_dim`` and ``ce_error(x, y)`` (the summed cross-entropy of one sentence; 0.0 for
    an empty one) and gets the input check :meth:`_xy` and the losses over a corpus.
    """

    def _xy(self, x, y):
        """``(x, y)`` as checked index arrays of the same length (``ValueError`` otherwise)."""
        x = as_indices(x, self.word_dim)
        y = as_indices(y, self.word_dim, "y")
        if len(y) != len(x):
            raise ValueError(f"x has {len(x)} words but y has {len(y)}")
        return x, y

    def calculate_total_loss(self, X, Y):
        """Cross-entropy summed over every word of every sentence: ``-sum log o_t[y_t]``."""
        if len(X) != len(Y):
            raise ValueError(f"{len(X)} input sentences but {len(Y)} target sentences")
        return float(np.sum([self.ce_error(x, y) for x, y in zip(X, Y)]))

    def calculate_loss(self, X, Y):
        """Cross-entropy per word. A model that guesses uniformly over ``C`` words scores ``ln C``."""
        num_words = sum(len(y) for y in Y)
        if num_words == 0:
            raise ValueError("cannot average the loss over zero words")
        return self.calculate_total_loss(X, Y) / num_words
