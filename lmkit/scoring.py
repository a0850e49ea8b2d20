"""Scoring text with a trained model: log-probabilities, cross-entropy and perplexity.

Every sentence is scored the way it was trained: the model reads ``SENTENCE_START w1 ... wn`` and is
charged ``-log p`` for each of ``w1 ... wn SENTENCE_END``. Perplexity is ``exp`` of the mean charge per
predicted word, so a model that guesses uniformly among C words has perplexity C.
"""
from dataclasses import dataclass

import numpy as np


def word_logprobs(model, encoded):
    """Natural-log probability of each predicted word of one encoded sentence (START ... END)."""
    x, y = np.asarray(encoded[:-1], dtype=np.int32), np.asarray(encoded[1:])
    probs = np.asarray(model.predict_proba(x), dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(probs[np.arange(len(y)), y])


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
