"""Generating sentences from any model that has ``predict_proba(x) -> (T, C)`` next-word distributions.

Every method continues ``SENTENCE_START`` followed by an optional ``prefix`` (words, already tokenized and
lowercase; prefix words count towards ``min_length`` and ``max_length``) and follows the same stop rules:

- ``SENTENCE_START`` and ``<MASK/>`` are never generated, and a sentence ends at ``SENTENCE_END``;
- ``UNKNOWN_TOKEN``, under the tutorial's two rule sets: ``part2`` draws again whenever it comes up
  (the same as sampling from the distribution with UNKNOWN removed and the rest renormalised, which is
  what the code does); ``part4`` abandons the sentence as soon as it is drawn;
- a sentence still unfinished after ``max_length`` tokens (START and prefix included) is abandoned, so a
  finished sentence holds at most ``max_length`` tokens before its ``SENTENCE_END``.

Sampling (:func:`generate_sentences`, one draw at a time in :func:`sample_sentence`): draw each next word
from the model's distribution as reshaped by :func:`adjust`: ``temperature`` (<1 sharper, >1 flatter),
``top_k`` (only the k likeliest words) and ``top_p`` (nucleus sampling: only the smallest set of likeliest
words holding at least ``top_p`` of the probability). Sentences shorter than ``min_length`` words are
drawn again; a seed makes the output repeatable. Probabilities are handled in float64 and renormalised,
so float32 model outputs never make the sampler fail.

Search (:func:`beam_search` and :func:`greedy`) looks for likely sentences instead of drawing them, and
returns :class:`Hypothesis` objects: the words, their log-probability and the score they are ranked by.
Scores use the model's raw probabilities (natural log, nothing renormalised after words are banned).
For search, both rule sets mean the same: a hypothesis is never extended by ``UNKNOWN_TOKEN`` (``part2``
would draw again, ``part4`` would abandon the sentence). ``SENTENCE_END`` is not allowed before
``min_length`` words, and no word but ``SENTENCE_END`` once a hypothesis holds ``max_length`` tokens, so
search only finds sentences the sampler could keep, and never wastes a step on one it would abandon.

- :func:`beam_search` extends each of its ``width`` hypotheses by every allowed word and keeps the
  ``width`` likeliest extensions; those that end leave the beam for a pool of finished sentences, of
  which it returns the ``n_best`` best. ``length_penalty`` divides the log-probability by (number of
  generated tokens) ** ``length_penalty``, so that longer sentences are not always ranked below shorter
  ones; 0 ranks by plain log-probability.
- :func:`greedy` takes the single likeliest allowed word at every step: a beam of width 1.
"""
from typing import List, NamedTuple

import numpy as np

from .data import SENTENCE_END, SENTENCE_START, MASK_TOKEN
from .errors import RNNLMError

RULES = ("part2", "part4")


def check_rules(rules):
    if rules not in RULES:
        raise ValueError(f"rules must be one of {RULES}")


def never_generated(vocab):
    """Indices no method ever generates inside a sentence: SENTENCE_START and <MASK/>."""
    return [vocab.index[SENTENCE_START]] + ([vocab.index[MASK_TOKEN]] if MASK_TOKEN in vocab else [])


def start_of_sentence(vocab, prefix):
    """SENTENCE_START followed by the prefix words, as a list of indices."""
    return [vocab.index[SENTENCE_START], *vocab.encode(prefix).tolist()]


# ---------------------------------------------------------------------------------------------- sampling

def nucleus_cutoff(p, top_p):
    """The smallest probability kept by nucleus sampling on the distribution ``p`` (summing to 1).

    The likeliest words are taken until their mass reaches ``top_p``; every word as likely as the last
    one taken is kept too, so ties at the cutoff never depend on the order of the words.
    """
    descending = np.sort(p)[::-1]
    needed = int(np.searchsorted(np.cumsum(descending), top_p - 1e-12))  # tolerance for rounding
    return descending[min(needed, len(p) - 1)]


def adjust(probs, temperature=1.0, top_k=None, banned=(), top_p=None):
    """A float64 distribution from model probabilities after banned words, temperature, top-k and top-p.

    Top-k and top-p are both measured on the distribution after banned words and temperature; a word is
    kept only if both keep it, and the kept words are renormalised.
    """
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError("top_p must be in (0, 1]")
    p = np.asarray(probs, dtype=np.float64).copy()
    p[list(banned)] = 0.0
    if temperature != 1.0:
        if temperature <= 0:
            raise ValueError("temperature must be positive")
        with np.errstate(divide="ignore"):
            logits = np.log(p) / temperature
        p = np.exp(logits - logits.max())
    total = p.sum()
    if not np.isfinite(total) or total <= 0:
        raise RNNLMError("the model gives no probability to any allowed word (NaN weights?)")
    keep = np.ones(len(p), dtype=bool)
    if top_k:
        keep &= p >= np.partition(p, -top_k)[-top_k]
    if top_p is not None:
        q = p / total
        keep &= q >= nucleus_cutoff(q, top_p)
    p[~keep] = 0.0
    return p / p.sum()


def sample_sentence(model, vocab, rng, rules="part2", temperature=1.0, top_k=None, prefix=(), max_length=100,
                    top_p=None):
    """One sentence as a list of word indices from START to END, or ``None`` if the rules abandon it."""
    end, unk = vocab.index[SENTENCE_END], vocab.unknown_index
    banned = never_generated(vocab) + ([unk] if rules == "part2" else [])
    sentence = start_of_sentence(vocab, prefix)
    while sentence[-1] != end:
        if len(sentence) > max_length:
            return None
        probs = model.predict_proba(np.asarray(sentence, dtype=np.int32))[-1]
        word = int(rng.choice(len(probs), p=adjust(probs, temperature, top_k, banned, top_p)))
        if word == unk:  # only reachable under the part4 rules
            return None
        sentence.append(word)
    return sentence


def generate_sentences(model, vocab, n=10, min_length=7, rules="part2", seed=None, temperature=1.0,
                       top_k=None, prefix=(), max_length=100, max_attempts=1000, top_p=None):
    """``n`` sampled sentences (lists of words, without START/END) of at least ``min_length`` words."""
    check_rules(rules)
    rng = np.random.default_rng(seed)
    sentences = []
    for _ in range(n):
        for _attempt in range(max_attempts):
            s = sample_sentence(model, vocab, rng, rules, temperature, top_k, prefix, max_length, top_p)
            if s is not None and len(s) - 2 >= min_length:
                sentences.append(vocab.decode(s[1:-1]))
                break
        else:
            raise RNNLMError(f"no sentence of at least {min_length} words in {max_attempts} attempts "
                             "(lower the minimum length, or train the model longer)")
    return sentences


# ------------------------------------------------------------------------------------------------ search

class Hypothesis(NamedTuple):
    """A sentence found by search.

    ``words``: the sentence without START/END, prefix included. ``logprob``: the natural log-probability
    of the generated tokens (the prefix is given, not generated; SENTENCE_END is counted). ``score``: what
    hypotheses are ranked by, ``logprob / generated_tokens ** length_penalty``.
    """
    words: List[str]
    logprob: float
    score: float


def next_logprobs(model, vocab, sentence, min_length, max_length):
    """Raw log-probabilities of the next word after ``sentence`` (indices); -inf where the rules forbid it."""
    probs = np.asarray(model.predict_proba(np.asarray(sentence, dtype=np.int32))[-1], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.where(probs > 0, np.log(probs), -np.inf)  # NaN and zero probabilities are never taken
    logp[never_generated(vocab) + [vocab.unknown_index]] = -np.inf
    end = vocab.index[SENTENCE_END]
    if len(sentence) >= max_length:  # one more word and the sampler would abandon the sentence
        logp[np.arange(len(logp)) != end] = -np.inf
    if len(sentence) - 1 < min_length or len(sentence) > max_length:  # words so far: prefix in, START out
        logp[end] = -np.inf
    return logp


def finished_hypothesis(vocab, sentence, logprob, prefix_length, length_penalty):
    """The :class:`Hypothesis` of a finished ``sentence`` (indices from START to END)."""
    generated = len(sentence) - 1 - prefix_length  # the words after the prefix, and SENTENCE_END
    score = logprob / generated ** length_penalty
    return Hypothesis(vocab.decode(sentence[1:-1]), float(logprob), float(score))


def beam_search(model, vocab, width=5, n_best=1, min_length=0, rules="part2", prefix=(), max_length=100,
                length_penalty=0.0):
    """The ``n_best`` best sentences (a list of :class:`Hypothesis`, best first) found by beam search.

    Each step extends every hypothesis in the beam by every allowed word and keeps the ``width``
    likeliest extensions (ties: the earlier hypothesis, then the lower word index); those ending with
    SENTENCE_END move to the finished pool. The search stops when the beam is empty or, with
    ``length_penalty`` 0, as soon as ``n_best`` finished sentences score at least as well as the best
    hypothesis left (log-probabilities only go down as sentences grow). A beam at least as wide as the
    number of possible sentences finds the best ones exactly.
    """
    check_rules(rules)
    if width < 1 or n_best < 1:
        raise ValueError("width and n_best must be at least 1")
    if length_penalty < 0:
        raise ValueError("length_penalty must be at least 0")
    end = vocab.index[SENTENCE_END]
    beam = [(0.0, start_of_sentence(vocab, prefix))]  # (logprob, indices), best first
    finished = []                                      # Hypothesis, best first, at most n_best
    while beam:
        if length_penalty == 0 and len(finished) == n_best and finished[-1].score >= beam[0][0]:
            break
        extensions = []
        for logprob, sentence in beam:
            logp = next_logprobs(model, vocab, sentence, min_length, max_length)
            # Only this hypothesis's `width` best extensions can be among the `width` best overall.
            for word in np.argsort(-logp, kind="stable")[:width]:
                if np.isfinite(logp[word]):
                    extensions.append((logprob + logp[word], sentence + [int(word)]))
        extensions = sorted(extensions, key=lambda h: -h[0])[:width]
        finished += [finished_hypothesis(vocab, s, lp, len(prefix), length_penalty)
                     for lp, s in extensions if s[-1] == end]
        finished = sorted(finished, key=lambda h: -h.score)[:n_best]
        beam = [(lp, s) for lp, s in extensions if s[-1] != end]
    if not finished:
        raise RNNLMError(f"beam search found no sentence of at least {min_length} words within {max_length} "
                         "tokens (allow longer sentences, or ask for fewer words)")
    return finished


def greedy(model, vocab, min_length=0, rules="part2", prefix=(), max_length=100):
    """The sentence made of the likeliest allowed next word at every step, as one :class:`Hypothesis`."""
    check_rules(rules)
    end = vocab.index[SENTENCE_END]
    sentence = start_of_sentence(vocab, prefix)
    logprob = 0.0
    while sentence[-1] != end:
        logp = next_logprobs(model, vocab, sentence, min_length, max_length)
        word = int(np.argmax(logp))
        if not np.isfinite(logp[word]):
            if len(sentence) >= max_length:
                raise RNNLMError(f"greedy search found no sentence of at least {min_length} words within "
                                 f"{max_length} tokens (allow longer sentences, or ask for fewer words)")
            raise RNNLMError("the model gives no probability to any allowed word (NaN weights?)")
        sentence.append(word)
        logprob += logp[word]
    return finished_hypothesis(vocab, sentence, logprob, len(prefix), 0.0)
