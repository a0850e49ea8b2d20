"""Generating sentences from any model that has ``predict_proba(x) -> (T, C)`` next-word distributions.

The tutorial's two rule sets:

- ``part2``: start from ``SENTENCE_START``, sample from the softmax, draw again whenever
  ``UNKNOWN_TOKEN`` comes up, stop at ``SENTENCE_END``; keep only sentences of at least ``min_length``
  words. (Drawing again until the word is not UNKNOWN is the same as sampling from the distribution with
  UNKNOWN removed and the rest renormalised, which is what the code does.)
- ``part4``: the same, but a sentence is abandoned as soon as ``UNKNOWN_TOKEN`` is drawn or it grows
  past ``max_length`` tokens.

Beyond the tutorial: ``temperature`` (<1 sharper, >1 flatter), ``top_k`` (sample among the k likeliest
words only), a ``prefix`` of words to continue, and a seed for repeatable output. Probabilities are
handled in float64 and renormalised, so float32 model outputs never make the sampler fail.
"""
import numpy as np

from .data import SENTENCE_END, SENTENCE_START, MASK_TOKEN
from .errors import RNNLMError

RULES = ("part2", "part4")


def adjust(probs, temperature=1.0, top_k=None, banned=()):
    """A float64 distribution from model probabilities after temperature, top-k and banned words."""
    p = np.asarray(probs, dtype=np.float64).copy()
    p[list(banned)] = 0.0
    if temperature != 1.0:
        if temperature <= 0:
            raise ValueError("temperature must be positive")
        with np.errstate(divide="ignore"):
            logits = np.log(p) / temperature
        p = np.exp(logits - logits.max())
    if top_k:
        cutoff = np.partition(p, -top_k)[-top_k]
        p[p < cutoff] = 0.0
    total = p.sum()
    if not np.isfinite(total) or total <= 0:
        raise RNNLMError("the model gives no probability to any allowed word (NaN weights?)")
    return p / total


def sample_sentence(model, vocab, rng, rules="part2", temperature=1.0, top_k=None, prefix=(), max_length=100):
    """One sentence as a list of word indices from START to END, or ``None`` if the rules abandon it."""
    start, end, unk = vocab.index[SENTENCE_START], vocab.index[SENTENCE_END], vocab.unknown_index
    banned = [start] + ([vocab.index[MASK_TOKEN]] if MASK_TOKEN in vocab else [])  # never inside a sentence
    if rules == "part2":
        banned.append(unk)
    sentence = [start, *vocab.encode(prefix).tolist()]
    while sentence[-1] != end:
        if len(sentence) > max_length:
            return None
        probs = model.predict_proba(np.asarray(sentence, dtype=np.int32))[-1]
        word = int(rng.choice(len(probs), p=adjust(probs, temperature, top_k, banned)))
        if word == unk:  # only reachable under the part4 rules
            return None
        sentence.append(word)
    return sentence


def generate_sentences(model, vocab, n=10, min_length=7, rules="part2", seed=None, temperature=1.0,
                       top_k=None, prefix=(), max_length=100, max_attempts=1000):
    """``n`` sentences (lists of words, without START/END) of at least ``min_length`` words.

    ``prefix`` is a list of words (already tokenized, lowercase) that every sentence starts with.
    """
    if rules not in RULES:
        raise ValueError(f"rules must be one of {RULES}")
    rng = np.random.default_rng(seed)
    sentences = []
    for _ in range(n):
        for _attempt in range(max_attempts):
            s = sample_sentence(model, vocab, rng, rules, temperature, top_k, prefix, max_length)
            if s is not None and len(s) - 2 >= min_length:
                sentences.append(vocab.decode(s[1:-1]))
                break
        else:
            raise RNNLMError(f"no sentence of at least {min_length} words in {max_attempts} attempts "
                             "(lower the minimum length, or train the model longer)")
    return sentences
