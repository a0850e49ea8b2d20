"""Generating sentences from a model read one word at a time: sampling, greedy search and beam search.

Every model of the project has the step API (:mod:`lmkit.batched`): ``initial_state(batch)`` and
``step(state, words) -> (new_state, logprobs)``, the state holding the batch on the last axis of each of
its arrays. A sentence of T words therefore costs T steps, whatever its length (re-reading the whole
prefix for every word, as ``predict_proba`` would, costs T(T+1)/2).

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
drawn again, unless every word of the rejected attempt was forced (one possible word at every step): then
every further attempt would repeat it, and sampling stops with a one-line error. A seed makes the output
repeatable. Probabilities are handled in float64 and renormalised, so float32 model outputs never make the
sampler fail.

Search (:func:`beam_search` and :func:`greedy`) looks for likely sentences instead of drawing them, and
returns :class:`Hypothesis` objects: the words, their log-probability and the score they are ranked by.
Scores use the model's raw log-probabilities (natural log, nothing renormalised after words are banned).
For search, both rule sets mean the same: a hypothesis is never extended by ``UNKNOWN_TOKEN`` (``part2``
would draw again, ``part4`` would abandon the sentence). ``SENTENCE_END`` is not allowed before
``min_length`` words, and no word but ``SENTENCE_END`` once a hypothesis holds ``max_length`` tokens, so
search only finds sentences the sampler could keep, and never wastes a step on one it would abandon.

- :func:`beam_search` extends each of its ``width`` hypotheses by every allowed word and keeps the
  ``width`` likeliest extensions; those that end leave the beam for a pool of finished sentences, of
  which it returns the ``n_best`` best. The hypotheses of the beam are one batch of the step API, and the
  extensions are chosen in O(width x C) per step (a partition, not a sort of every candidate).
  ``length_penalty`` divides the log-probability by (number of generated tokens) ** ``length_penalty``,
  so that longer sentences are not always ranked below shorter ones; 0 ranks by plain log-probability.
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


def read(model, words):
    """The model's state after reading ``words`` (indices) of one sentence, and its log-distribution of the
    next word (float64, C)."""
    state = model.initial_state(1)
    for word in words:
        state, logp = model.step(state, [word])
    return state, np.asarray(logp[0], dtype=np.float64)


def sample_sentence(model, vocab, rng, rules="part2", temperature=1.0, top_k=None, prefix=(), max_length=100,
                    top_p=None):
    """One sentence as a list of word indices from START to END, or ``None`` if the rules abandon it."""
    end, unk = vocab.index[SENTENCE_END], vocab.unknown_index
    banned = never_generated(vocab) + ([unk] if rules == "part2" else [])
    sentence = start_of_sentence(vocab, prefix)
    state, logp = read(model, sentence)                  # the model reads START and the prefix
    while sentence[-1] != end:
        if len(sentence) > max_length:
            return None
        p = adjust(np.exp(logp), temperature, top_k, banned, top_p)
        word = int(rng.choice(len(p), p=p))
        if word == unk:  # only reachable under the part4 rules
            return None
        sentence.append(word)
        if word != end:
            state, logp = model.step(state, [word])      # one more word read: O(1) per word
            logp = np.asarray(logp[0], dtype=np.float64)
    return sentence


class Draws:
    """The random generator of one sampling attempt, noting whether any draw had a choice (two or more
    possible words): an attempt without one is what every further attempt would repeat."""

    def __init__(self, rng):
        self.rng, self.free = rng, False

    def choice(self, n, p):
        self.free = self.free or np.count_nonzero(p) > 1
        return self.rng.choice(n, p=p)


def generate_sentences(model, vocab, n=10, min_length=7, rules="part2", seed=None, temperature=1.0,
                       top_k=None, prefix=(), max_length=100, max_attempts=1000, top_p=None):
    """``n`` sampled sentences (lists of words, without START/END) of at least ``min_length`` words."""
    check_rules(rules)
    rng = np.random.default_rng(seed)
    sentences = []
    for _ in range(n):
        for _attempt in range(max_attempts):
            draws = Draws(rng)
            s = sample_sentence(model, vocab, draws, rules=rules, temperature=temperature, top_k=top_k,
                                prefix=prefix, max_length=max_length, top_p=top_p)
            if s is not None and len(s) - 2 >= min_length:
                sentences.append(vocab.decode(s[1:-1]))
                break
            if not draws.free:
                what = (f"the same {len(s) - 2}-word sentence" if s is not None
                        else "the same sentence, which the rules abandon")
                raise RNNLMError(f"sampling is deterministic here (one possible word at every step, temperature "
                                 f"{temperature:g}) and gives {what} every time; raise the temperature, lower the "
                                 "minimum length, or use greedy search")
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


def allowed_logprobs(vocab, logp, length, min_length, max_length):
    """The raw log-probabilities ``logp`` (B, C) of the next word after sentences of ``length`` tokens (START
    and prefix included), float64, with -inf wherever the rules forbid a word (NaN is never taken either)."""
    logp = np.asarray(logp, dtype=np.float64).copy()
    logp[np.isnan(logp)] = -np.inf
    logp[:, never_generated(vocab) + [vocab.unknown_index]] = -np.inf
    end = vocab.index[SENTENCE_END]
    if length >= max_length:  # one more word and the sampler would abandon the sentence
        logp[:, np.arange(logp.shape[1]) != end] = -np.inf
    if length - 1 < min_length or length > max_length:  # words so far: prefix in, START out
        logp[:, end] = -np.inf
    return logp


def best_extensions(totals, width):
    """Flat indices (row * C + word) of the ``width`` largest finite ``totals`` (B, C), best first; ties go
    to the earlier row, then the lower word index. O(B x C): a partition finds the cut, and only the
    candidates at or above it are sorted."""
    flat = totals.ravel()
    k = min(width, int(np.isfinite(flat).sum()))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    cut = -np.partition(-flat, k - 1)[k - 1]               # the k-th largest value
    candidates = np.flatnonzero(flat >= cut)                # every tie at the cut included
    return candidates[np.lexsort((candidates, -flat[candidates]))][:k]


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
    SENTENCE_END move to the finished pool, the others are read by the model as one batch. The search
    stops when the beam is empty or, with ``length_penalty`` 0, as soon as ``n_best`` finished sentences
    score at least as well as the best hypothesis left (log-probabilities only go down as sentences grow).
    A beam at least as wide as the number of possible sentences finds the best ones exactly.
    """
    check_rules(rules)
    if width < 1 or n_best < 1:
        raise ValueError("width and n_best must be at least 1")
    if length_penalty < 0:
        raise ValueError("length_penalty must be at least 0")
    end = vocab.index[SENTENCE_END]
    sentences = [start_of_sentence(vocab, prefix)]     # the beam: token lists, best first,
    logprobs = np.zeros(1)                             # their log-probabilities,
    state, logp = read(model, sentences[0])            # and the model's state and next-word log-probabilities
    logp = logp[None]
    finished = []                                      # Hypothesis, best first, at most n_best
    while True:
        totals = logprobs[:, None] + allowed_logprobs(vocab, logp, len(sentences[0]), min_length, max_length)
        rows, words = np.divmod(best_extensions(totals, width), totals.shape[1])
        extended = [(float(totals[r, w]), sentences[r] + [int(w)], r) for r, w in zip(rows, words)]
        finished += [finished_hypothesis(vocab, s, lp, len(prefix), length_penalty)
                     for lp, s, _ in extended if s[-1] == end]
        finished = sorted(finished, key=lambda h: -h.score)[:n_best]
        going_on = [(lp, s, r) for lp, s, r in extended if s[-1] != end]
        if not going_on or (length_penalty == 0 and len(finished) == n_best and finished[-1].score >= going_on[0][0]):
            break
        logprobs = np.array([lp for lp, _, _ in going_on])
        sentences = [s for _, s, _ in going_on]
        parents = [r for _, _, r in going_on]
        state, logp = model.step([a[..., parents] for a in state], [s[-1] for s in sentences])
    if not finished:
        raise RNNLMError(f"beam search found no sentence of at least {min_length} words within {max_length} "
                         "tokens (allow longer sentences, or ask for fewer words)")
    return finished


def greedy(model, vocab, min_length=0, rules="part2", prefix=(), max_length=100):
    """The sentence made of the likeliest allowed next word at every step, as one :class:`Hypothesis`."""
    check_rules(rules)
    end = vocab.index[SENTENCE_END]
    sentence = start_of_sentence(vocab, prefix)
    state, logp = read(model, sentence)
    logprob = 0.0
    while sentence[-1] != end:
        allowed = allowed_logprobs(vocab, logp[None], len(sentence), min_length, max_length)[0]
        word = int(np.argmax(allowed))
        if not np.isfinite(allowed[word]):
            if len(sentence) >= max_length:
                raise RNNLMError(f"greedy search found no sentence of at least {min_length} words within "
                                 f"{max_length} tokens (allow longer sentences, or ask for fewer words)")
            raise RNNLMError("the model gives no probability to any allowed word (NaN weights?)")
        sentence.append(word)
        logprob += allowed[word]
        if word != end:
            state, logp = model.step(state, [word])
            logp = np.asarray(logp[0], dtype=np.float64)
    return finished_hypothesis(vocab, sentence, logprob, len(prefix), 0.0)
