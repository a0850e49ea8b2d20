"""Scoring text with a trained model: log-probabilities, cross-entropy and perplexity.

Every sentence is scored the way it was trained: the model reads ``SENTENCE_START w1 ... wn`` and is
charged ``-log p`` for each of ``w1 ... wn SENTENCE_END``. Perplexity is ``exp`` of the mean charge per
predicted word, so a model that guesses uniformly among C words has perplexity C.
"""
import weakref
from dataclasses import dataclass

import numpy as np


# Sentences longer than this are scored in chunks of this many words (see ChunkedScorer).
LONG_SENTENCE = 512


def word_logprobs(model, encoded):
    """Natural-log probability of each predicted word of one encoded sentence (START ... END).

    Up to :data:`LONG_SENTENCE` words the model's own ``predict_proba`` gives the T x C distributions;
    a longer sentence goes through :class:`ChunkedScorer`, whose memory does not grow with its length.
    """
    x, y = np.asarray(encoded[:-1], dtype=np.int32), np.asarray(encoded[1:])
    if len(x) > LONG_SENTENCE and hasattr(model, "batched_nll"):
        return chunked_scorer(model).word_logprobs(x, y)
    probs = np.asarray(model.predict_proba(x), dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(probs[np.arange(len(y)), y])


class ChunkedScorer:
    """Per-word log-probabilities of a sentence of any length, ``length`` words at a time.

    Runs the model's batched graph (``batched_nll``) on one column: the state is carried from chunk to
    chunk, so the result is the whole sentence's, and no more than ``length x C`` values exist at once.
    """

    def __init__(self, model, length=LONG_SENTENCE):
        import pytensor
        import pytensor.tensor as pt

        from .backend import pytensor_mode

        self.model, self.length = model, int(length)
        mode = pytensor_mode(getattr(model, "mode", None))
        shape = (self.length, 1) if mode == "JAX" else (None, None)  # JAX compiles one shape
        x, y = (pt.tensor(n, dtype="int32", shape=shape) for n in ("x", "y"))
        states = [pt.tensor(f"state{i}", dtype=model.dtype, shape=(model.hidden_dim, shape[1]))
                  for i in range(model.num_states())]
        nll, final = model.batched_nll(x, y, states)
        self._fn = pytensor.function([x, y, *states], [nll, *final], mode=mode)
        self._padded = mode == "JAX"

    def word_logprobs(self, x, y):
        states = [np.zeros((self.model.hidden_dim, 1), dtype=self.model.dtype)
                  for _ in range(self.model.num_states())]
        out = []
        for start in range(0, len(x), self.length):
            xs, ys = x[start:start + self.length], y[start:start + self.length]
            n = len(xs)
            if self._padded and n < self.length:  # the last chunk, padded; its padding is dropped below
                xs, ys = np.pad(xs, (0, self.length - n)), np.pad(ys, (0, self.length - n))
            nll, *states = self._fn(xs[:, None].astype(np.int32), ys[:, None].astype(np.int32), *states)
            out.append(-np.asarray(nll, dtype=np.float64)[:n, 0])
        return np.concatenate(out)


_scorers = weakref.WeakKeyDictionary()  # model -> its ChunkedScorer, dropped with the model


def chunked_scorer(model):
    """The :class:`ChunkedScorer` of ``model``, compiled on first use and kept."""
    if model not in _scorers:
        _scorers[model] = ChunkedScorer(model)
    return _scorers[model]


def sentence_logprob(model, encoded):
    return float(word_logprobs(model, encoded).sum())


@dataclass
class Score:
    sentences: int
    words: int              # predicted words, SENTENCE_END included
    total_logprob: float    # natural log

    @property
    def cross_entropy(self):
        """Mean negative log-probability per predicted word, in nats."""
        return -self.total_logprob / self.words

    @property
    def perplexity(self):
        return float(np.exp(self.cross_entropy))

    def __str__(self):
        return (f"{self.sentences} sentences, {self.words} words: cross-entropy {self.cross_entropy:.4f} nats/word, "
                f"perplexity {self.perplexity:.2f}")


def score_corpus(model, encoded_sentences, progress=None):
    """Score many encoded sentences; ``progress`` wraps the iterable (e.g. tqdm)."""
    items = [s for s in encoded_sentences if len(s) >= 2]
    total, words = 0.0, 0
    for s in (progress(items) if progress else items):
        lp = word_logprobs(model, s)
        total += float(lp.sum())
        words += len(lp)
    return Score(len(items), words, total)
