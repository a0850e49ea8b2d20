"""Scoring text with a trained model: per-word log-probabilities, and perplexity as SRILM defines it.

Every sentence is scored the way it was trained: the model reads ``SENTENCE_START w1 ... wn`` and is
charged ``-log p`` for each of ``w1 ... wn SENTENCE_END``, so a sentence of n words makes n + 1
predictions. A word outside the vocabulary is read as ``UNKNOWN_TOKEN`` and charged the probability of
that token. Over N sentences with W words, K of them unknown, and log-probability sums taken over

- all W + N predictions: ``ppl = exp(-sum / (W + N))``, the end token counted (SRILM's ``ppl``; the number
  every trainer here reports as "perplexity");
- the W words only: ``ppl1 = exp(-sum / W)``, the end token left out (SRILM's ``ppl1``);
- and each again with the K unknown words left out of both the sum and the count (SRILM and KenLM leave
  out-of-vocabulary words out this way), so a model is not rewarded for a large UNKNOWN class.

A model that guesses uniformly among C words has perplexity C. Perplexity does not depend on the log
base; log-probabilities are printed in the base asked for (:data:`LOG_BASES`).

Two ways to compute the per-word log-probabilities, held to each other by the tests:
:func:`word_logprobs` runs one sentence through ``model.predict_proba`` (any model, T x C values at once);
:class:`BatchScorer` runs many sentences through the model's batched recurrence (``batched_top``),
``batch`` sentences side by side and ``length`` steps at a time with the state carried across, so memory
stays ``length x batch x C`` whatever the sentence lengths.
"""
import math
import weakref
from dataclasses import dataclass

import numpy as np

LOG_BASES = {"e": 1.0, "2": math.log(2.0), "10": math.log(10.0)}  # divide a natural log by these

# Sentences longer than this are scored with the batched graph even one at a time (see word_logprobs).
LONG_SENTENCE = 512


def word_logprobs(model, encoded):
    """Natural-log probability of each predicted word of one encoded sentence (START ... END).

    Up to :data:`LONG_SENTENCE` words the model's own ``predict_proba`` gives the T x C distributions;
    a longer sentence goes through :class:`BatchScorer`, whose memory does not grow with its length.
    """
    x, y = np.asarray(encoded[:-1], dtype=np.int32), np.asarray(encoded[1:])
    if len(x) > LONG_SENTENCE and hasattr(model, "batched_top"):
        return batch_scorer(model).word_logprobs(x, y)
    probs = np.asarray(model.predict_proba(x), dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(probs[np.arange(len(y)), y])


class BatchScorer:
    """Per-word log-probabilities of many sentences through the model's batched recurrence.

    Sentences are sorted by length and scored ``batch`` at a time as the columns of a ``(T, batch)``
    array, cut into chunks of ``length`` steps; the state is carried from chunk to chunk, so each
    column's result is its whole sentence's, and no more than ``length x batch x C`` probabilities exist
    at once. In JAX the whole chunk, output layer included, is one compiled graph (``batched_nll``) and
    every chunk is padded to one shape (one compile; the padding is dropped). On the CPU backends the
    graph returns the top layer's states and :func:`lmkit.output_layer.target_logprobs` finishes in numpy,
    whose float32 ``exp`` is vectorised where PyTensor's C code calls ``exp`` once per value: 2-3x faster
    at C = 8000 (``benchmarks/README.md``, Scoring speed).
    """

    def __init__(self, model, length=128, batch=32):
        import pytensor
        import pytensor.tensor as pt

        from .backend import pytensor_mode
        from .output_layer import target_logprobs

        self.model, self.length, self.batch = model, int(length), int(batch)
        mode = pytensor_mode(getattr(model, "mode", None))
        self._padded = mode == "JAX"  # JAX compiles once per shape: every chunk gets the same one
        shape = (self.length, self.batch) if self._padded else (None, None)
        x, y = (pt.tensor(n, dtype="int32", shape=shape) for n in ("x", "y"))
        states = [pt.tensor(f"state{i}", dtype=model.dtype, shape=(model.hidden_dim, shape[1]))
                  for i in range(model.num_states())]
        if self._padded:
            nll, final = model.batched_nll(x, y, states)
            self._fn = pytensor.function([x, y, *states], [nll, *final], mode=mode)
        else:
            top, final = model.batched_top(x, states)
            weights, bias = model.output_layer()
            outputs = [top, *final, weights] + ([bias] if bias is not None else [])
            fn = pytensor.function([x, *states], outputs, mode=mode)
            n = len(final)

            def run(x, y, *states):
                top, *rest = fn(x, *states)
                final, (weights, *bias) = rest[:n], rest[n:]
                rows = np.asarray(top).transpose(0, 2, 1).reshape(-1, top.shape[1])
                nll = -target_logprobs(rows, weights, bias[0] if bias else None, y.reshape(-1))
                return [nll.reshape(y.shape), *final]

            self._fn = run

    def _columns(self, pairs):
        """Log-probabilities of up to ``batch`` ``(x, y)`` pairs scored side by side, one array per pair."""
        T = max(len(x) for x, _ in pairs)
        B = self.batch if self._padded else len(pairs)
        X, Y = np.zeros((T, B), dtype=np.int32), np.zeros((T, B), dtype=np.int32)
        for j, (x, y) in enumerate(pairs):
            X[:len(x), j], Y[:len(y), j] = x, y
        states = [np.zeros((self.model.hidden_dim, B), dtype=self.model.dtype)
                  for _ in range(self.model.num_states())]
        out = np.empty((T, B))
        for start in range(0, T, self.length):
            xs, ys = X[start:start + self.length], Y[start:start + self.length]
            n = len(xs)
            if self._padded and n < self.length:  # the last chunk, padded to the one compiled shape
                xs, ys = (np.pad(a, ((0, self.length - n), (0, 0))) for a in (xs, ys))
            nll, *states = self._fn(xs, ys, *states)
            out[start:start + n] = -np.asarray(nll, dtype=np.float64)[:n]
        return [out[:len(x), j].copy() for j, (x, _) in enumerate(pairs)]

    def sentence_logprobs(self, encoded_sentences, progress=None):
        """One array of per-word natural-log probabilities per encoded sentence, in the order given.

        ``progress``, if given, is called with ``total=`` the number of sentences and must return an
        object with ``update(n)`` and ``close()`` (``functools.partial(tqdm, desc=...)`` does).
        """
        sentences = [np.asarray(s) for s in encoded_sentences]
        return self.pair_logprobs([(s[:-1], s[1:]) for s in sentences], progress)

    def pair_logprobs(self, pairs, progress=None):
        """One array of per-word log-probabilities per ``(x, y)`` pair (inputs and targets), in the order given."""
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]))  # similar lengths side by side
        result = [None] * len(pairs)
        bar = progress(total=len(pairs)) if progress else None
        for k in range(0, len(order), self.batch):
            group = [i for i in order[k:k + self.batch] if len(pairs[i][0])]
            for i, lp in zip(group, self._columns([pairs[i] for i in group]) if group else []):
                result[i] = lp
            if bar is not None:
                bar.update(len(order[k:k + self.batch]))
        if bar is not None:
            bar.close()
        return [np.zeros(0) if r is None else r for r in result]

    def word_logprobs(self, x, y):
        """Per-word log-probabilities of one sentence given as inputs ``x`` and targets ``y``."""
        return self._columns([(np.asarray(x), np.asarray(y))])[0]


_scorers = weakref.WeakKeyDictionary()  # model -> its BatchScorer, dropped with the model


def batch_scorer(model):
    """The :class:`BatchScorer` of ``model``, compiled on first use and kept."""
    if model not in _scorers:
        _scorers[model] = BatchScorer(model)
    return _scorers[model]


def sentence_logprobs(model, encoded_sentences, progress=None):
    """Per-word log-probabilities of every sentence: the batched graph when the model has one, else one
    :func:`word_logprobs` call per sentence. ``progress`` as in :meth:`BatchScorer.sentence_logprobs`."""
    if hasattr(model, "batched_top"):
        return batch_scorer(model).sentence_logprobs(encoded_sentences, progress)
    bar = progress(total=len(encoded_sentences)) if progress else None
    result = []
    for s in encoded_sentences:
        result.append(word_logprobs(model, s))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return result


@dataclass
class Score:
    """Sums over a scored text; the perplexities are properties (definitions in the module notes)."""
    sentences: int
    words: int                      # predictions: the words plus one SENTENCE_END per sentence
    total_logprob: float            # natural log, over all predictions
    unknown: int = 0                # words read as UNKNOWN_TOKEN
    unknown_logprob: float = 0.0    # their share of total_logprob
    end_logprob: float = None       # the SENTENCE_END predictions' share (None: not recorded)

    @classmethod
    def of(cls, encoded_sentences, logprobs, unknown_index=None):
        """The sums for sentences and their per-word log-probabilities (``unknown_index``: which target
        index is UNKNOWN_TOKEN; the last prediction of every sentence is SENTENCE_END)."""
        unknown, unknown_lp, end_lp, total, words = 0, 0.0, 0.0, 0.0, 0
        for s, lp in zip(encoded_sentences, logprobs):
            total += float(lp.sum())
            words += len(lp)
            end_lp += float(lp[-1])
            if unknown_index is not None:
                is_unknown = np.asarray(s[1:-1]) == unknown_index
                unknown += int(is_unknown.sum())
                unknown_lp += float(lp[:-1][is_unknown].sum())
        return cls(len(logprobs), words, total, unknown, unknown_lp, end_lp)

    @property
    def cross_entropy(self):
        """Mean negative log-probability per prediction (SENTENCE_END included), in nats."""
        return -self.total_logprob / self.words

    @property
    def perplexity(self):
        """SRILM's ``ppl``: every prediction counted, the end token and unknown words included."""
        return float(np.exp(self.cross_entropy))

    def _ppl(self, logprob, count):
        return float(np.exp(-logprob / count)) if count > 0 else float("nan")

    @property
    def ppl1(self):
        """SRILM's ``ppl1``: the end token left out."""
        return self._ppl(self.total_logprob - self.end_logprob, self.words - self.sentences)

    @property
    def ppl_known(self):
        """``ppl`` with the unknown words left out of the sum and the count."""
        return self._ppl(self.total_logprob - self.unknown_logprob, self.words - self.unknown)

    @property
    def ppl1_known(self):
        """``ppl1`` with the unknown words left out of the sum and the count."""
        return self._ppl(self.total_logprob - self.unknown_logprob - self.end_logprob,
                         self.words - self.sentences - self.unknown)

    def as_dict(self, base="e"):
        d = {"sentences": self.sentences, "words": self.words - self.sentences, "unknown": self.unknown,
             f"logprob_{base}": self.total_logprob / LOG_BASES[base], "ppl": self.perplexity}
        if self.end_logprob is not None:
            d.update(ppl1=self.ppl1, ppl_known=self.ppl_known, ppl1_known=self.ppl1_known)
        return d

    def __str__(self):
        return (f"{self.sentences} sentences, {self.words} words: cross-entropy {self.cross_entropy:.4f} nats/word, "
                f"perplexity {self.perplexity:.2f}")


def score_corpus(model, encoded_sentences, progress=None, unknown_index=None):
    """A :class:`Score` for encoded sentences (those without a word to predict are skipped)."""
    items = [s for s in encoded_sentences if len(s) >= 2]
    return Score.of(items, sentence_logprobs(model, items, progress), unknown_index)
