"""Beam search, greedy search and nucleus sampling, on tiny models whose every sentence can be listed."""
import itertools

import numpy as np
import pytest

from lmkit.data import MASK_TOKEN, SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary
from lmkit.errors import RNNLMError
from lmkit.sampling import Hypothesis, adjust, beam_search, generate_sentences, greedy

from .helpers import ReadsHistory, TableModel

PART2 = Vocabulary([SENTENCE_START, SENTENCE_END, "a", "b", "c", UNKNOWN_TOKEN], "part2")
PART4 = Vocabulary([MASK_TOKEN, UNKNOWN_TOKEN, "c", "b", "a", SENTENCE_START, SENTENCE_END], "part4")


class HistoryModel(ReadsHistory):
    """Every history (the whole sentence so far) has its own fixed random next-word distribution.

    Unlike a bigram table, the best continuation depends on everything before it, which is what search has
    to cope with in a real model. START, MASK and UNKNOWN get probability too, so banning them matters.
    SENTENCE_END gets about ``end`` more per word so far, so the best sentences are neither empty nor endless.
    """

    def __init__(self, vocab, seed=0, end=0.15):
        self.size, self.end, self.seed, self.end_share = len(vocab), vocab.index[SENTENCE_END], seed, end

    def distribution(self, history):
        rng = np.random.default_rng([self.seed, len(history), *history])
        p = rng.dirichlet(np.ones(self.size))
        share = min(0.9, (0.02 + self.end_share * (len(history) - 1)) * rng.uniform(0.5, 1.5))
        p[self.end] = 0.0
        p *= (1 - share) / p.sum()
        p[self.end] = share
        return p.astype(np.float32)

    def predict_proba(self, x):
        x = [int(i) for i in x]
        return np.stack([self.distribution(x[: t + 1]) for t in range(len(x))])


def generated_logprob(model, vocab, sentence, prefix_length):
    """log p of the tokens after START and the prefix, up to and including END, under the raw model."""
    probs = np.asarray(model.predict_proba(np.asarray(sentence[:-1], dtype=np.int32)), dtype=np.float64)
    steps = range(prefix_length, len(sentence) - 1)  # predicting sentence[t + 1] from sentence[: t + 1]
    return float(sum(np.log(probs[t, sentence[t + 1]]) for t in steps))


def enumerate_all(model, vocab, prefix=(), min_length=0, max_length=6, length_penalty=0.0):
    """Every sentence the rules allow, as Hypothesis, best first (by the length-normalised score)."""
    words = [w for w in vocab.words if w not in (SENTENCE_START, SENTENCE_END, MASK_TOKEN, UNKNOWN_TOKEN)]
    start = [vocab.index[SENTENCE_START], *vocab.encode(prefix).tolist()]
    found = []
    for k in range(0, max_length - len(start) + 1):  # START, prefix and k words within max_length tokens
        if len(prefix) + k < min_length:
            continue
        for tail in itertools.product(words, repeat=k):
            sentence = start + vocab.encode(tail).tolist() + [vocab.index[SENTENCE_END]]
            lp = generated_logprob(model, vocab, sentence, len(prefix))
            found.append(Hypothesis([*prefix, *tail], lp, lp / (k + 1) ** length_penalty))
    return sorted(found, key=lambda h: -h.score)


def assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.words == w.words
        assert g.logprob == pytest.approx(w.logprob, rel=1e-12)
        assert g.score == pytest.approx(w.score, rel=1e-12)


# ------------------------------------------------------------------------------------- exact beam search

@pytest.mark.parametrize("vocab", [PART2, PART4], ids=["part2", "part4"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_beam_covering_every_path_finds_the_best_sentence(vocab, seed):
    model = HistoryModel(vocab, seed)
    want = enumerate_all(model, vocab, max_length=6)
    assert len(want) == 1 + 3 + 9 + 27 + 81 + 243
    got = beam_search(model, vocab, width=300, max_length=6)
    assert_same(got, want[:1])
    assert greedy(model, vocab, max_length=6).logprob <= got[0].logprob


def test_the_tiny_model_is_a_real_test_of_search():
    """Greedy search misses the best sentence on some of the models above, and the best are not empty."""
    for vocab in (PART2, PART4):
        bests = [beam_search(HistoryModel(vocab, seed), vocab, width=300, max_length=6)[0] for seed in range(3)]
        greedies = [greedy(HistoryModel(vocab, seed), vocab, max_length=6) for seed in range(3)]
        assert all(b.words for b in bests)
        assert any(g.words != b.words for g, b in zip(greedies, bests))


@pytest.mark.parametrize("length_penalty", [0.0, 0.6, 1.0])
def test_the_n_best_come_in_order_with_and_without_length_normalisation(length_penalty):
    model = HistoryModel(PART2, seed=3)
    want = enumerate_all(model, PART2, max_length=6, length_penalty=length_penalty)
    got = beam_search(model, PART2, width=300, n_best=7, max_length=6, length_penalty=length_penalty)
    assert_same(got, want[:7])
    assert [h.score for h in got] == sorted((h.score for h in got), reverse=True)


def test_length_normalisation_changes_the_winner():
    """The check above is only worth something if normalising picks a different (longer) sentence."""
    model = HistoryModel(PART2, seed=3)
    plain = beam_search(model, PART2, width=300, max_length=6)[0]
    normalised = beam_search(model, PART2, width=300, max_length=6, length_penalty=1.0)[0]
    assert len(normalised.words) > len(plain.words)
    assert normalised.score == pytest.approx(normalised.logprob / (len(normalised.words) + 1))


@pytest.mark.parametrize("length_penalty", [0.0, 0.7])
def test_exact_search_with_prefix_and_min_length(length_penalty):
    model = HistoryModel(PART2, seed=4)
    prefix = ["b", "c"]
    want = enumerate_all(model, PART2, prefix=prefix, min_length=3, max_length=6, length_penalty=length_penalty)
    got = beam_search(model, PART2, width=100, n_best=3, prefix=prefix, min_length=3, max_length=6,
                      length_penalty=length_penalty)
    assert_same(got, want[:3])
    assert all(h.words[:2] == prefix and len(h.words) >= 3 for h in got)


def test_search_stops_once_the_finished_beat_every_open_hypothesis():
    """With END at 0.9 everywhere, the empty sentence wins at the first step: one model step (reading START),
    not 30."""
    table = np.full((6, 6), 0.1 / 4)
    table[:, 1] = 0.9
    model = TableModel(table)
    best = beam_search(model, PART2, width=50, max_length=30)
    assert best[0].words == [] and best[0].logprob == pytest.approx(np.log(np.float32(0.9)))
    assert model.steps == [1]


def test_a_real_rnn_agrees_with_enumeration():
    from rnn_theano import RNNTheano

    model = RNNTheano(len(PART2), hidden_dim=4, mode="c", dtype="float64", seed=7)
    want = enumerate_all(model, PART2, max_length=5, length_penalty=0.5)
    got = beam_search(model, PART2, width=100, n_best=3, max_length=5, length_penalty=0.5)
    assert_same(got, want[:3])


# ------------------------------------------------------------------------------------------------ greedy

@pytest.mark.parametrize("vocab", [PART2, PART4], ids=["part2", "part4"])
@pytest.mark.parametrize("rules", ["part2", "part4"])
@pytest.mark.parametrize("prefix,min_length", [((), 0), ((), 4), (("a",), 2), (("c", "a", "b"), 0)])
def test_greedy_is_a_beam_of_width_one(vocab, rules, prefix, min_length):
    for seed in range(4):
        model = HistoryModel(vocab, seed)
        g = greedy(model, vocab, min_length=min_length, rules=rules, prefix=prefix, max_length=40)
        [b] = beam_search(model, vocab, width=1, min_length=min_length, rules=rules, prefix=prefix,
                          max_length=40)
        assert g == b
        assert g.words[: len(prefix)] == list(prefix) and len(g.words) >= min_length
        assert not {SENTENCE_START, SENTENCE_END, MASK_TOKEN, UNKNOWN_TOKEN} & set(g.words[len(prefix):])
        sentence = vocab.encode([SENTENCE_START, *g.words, SENTENCE_END]).tolist()
        assert g.logprob == pytest.approx(generated_logprob(model, vocab, sentence, len(prefix)), rel=1e-12)


def test_greedy_follows_the_likeliest_chain_and_skips_unknown():
    table = np.full((6, 6), 0.02)
    table[0, 5] = 0.9          # UNKNOWN is the likeliest first word, but is never generated
    table[0, 3] = 0.5          # so "b" comes first
    table[3, 2] = 0.6          # then "a"
    table[2, 1] = 0.7          # then END
    model = TableModel(table / table.sum(1, keepdims=True))
    for rules in ("part2", "part4"):
        assert greedy(model, PART2, rules=rules).words == ["b", "a"]
        assert beam_search(model, PART2, width=3, rules=rules)[0].words == ["b", "a"]


def test_ties_go_to_the_lower_word_index_in_greedy_and_beam():
    table = np.full((6, 6), 0.1)
    table[:, 2] = table[:, 3] = 0.25   # "a" and "b" tie as the likeliest word after anything
    table[2, 1] = table[3, 1] = 0.3    # and END is likeliest after either
    model = TableModel(table / table.sum(1, keepdims=True))
    assert greedy(model, PART2).words == ["a"]
    assert beam_search(model, PART2, width=1)[0].words == ["a"]
    assert [h.words for h in beam_search(model, PART2, width=2, n_best=2)] == [["a"], ["b"]]


def test_the_beam_is_one_batch_of_at_most_width_hypotheses():
    """One model step per length, its batch the beam: with END unlikely and no early stop, exactly ``width``."""
    table = np.full((6, 6), 0.99 / 5)
    table[:, 1] = 0.01
    model = TableModel(table)
    beam_search(model, PART2, width=2, max_length=8, length_penalty=0.5)
    assert model.steps == [1] + [2] * 7   # START alone, then two hypotheses at each of 7 more lengths


# ---------------------------------------------------------------------------------------- stop rules

def test_min_length_holds_back_the_end_and_prefix_words_count():
    table = np.full((6, 6), 0.1 / 4)
    table[:, 1] = 0.9          # END is by far the likeliest word after anything
    model = TableModel(table)
    assert len(greedy(model, PART2, min_length=3).words) == 3
    assert [len(h.words) for h in beam_search(model, PART2, width=4, n_best=2, min_length=3)] == [3, 3]
    h = greedy(model, PART2, min_length=3, prefix=["c", "c"])
    assert h.words[:2] == ["c", "c"] and len(h.words) == 3
    # Only the third word and END were generated; the prefix is given, not scored.
    t = model.table.astype(np.float64)
    third = PART2.index[h.words[2]]
    assert h.logprob == pytest.approx(np.log(t[4, third]) + np.log(t[third, 1]))
    [b] = beam_search(model, PART2, width=4, min_length=3, prefix=["c", "c"])
    assert b.words[:2] == ["c", "c"] and len(b.words) == 3


def test_max_length_counts_start_and_prefix_like_the_sampler():
    table = np.full((6, 6), 0.1 / 4)
    table[:, 1] = 0.9
    model = TableModel(table)
    # START + 3 words fill max_length 4; END may still follow, as in sample_sentence.
    unlikely_end = np.full((6, 6), 0.1)
    unlikely_end[:, 2] = 0.5
    for h in (greedy(TableModel(unlikely_end), PART2, max_length=4),
              beam_search(TableModel(unlikely_end), PART2, width=1, max_length=4)[0]):
        assert h.words == ["a", "a", "a"]   # END is the only word allowed after max_length tokens
    assert len(beam_search(model, PART2, width=3, min_length=3, max_length=4)[0].words) == 3
    assert len(greedy(model, PART2, min_length=3, max_length=4).words) == 3
    with pytest.raises(RNNLMError, match="no sentence of at least 4 words within 4 tokens"):
        beam_search(model, PART2, width=3, min_length=4, max_length=4)
    with pytest.raises(RNNLMError, match="no sentence of at least 4 words within 4 tokens"):
        greedy(model, PART2, min_length=4, max_length=4)
    for search in (beam_search, greedy):
        with pytest.raises(RNNLMError, match="within 3 tokens"):
            search(model, PART2, prefix=["a", "b", "c"], max_length=3)


def test_a_model_that_never_ends_fails_clearly():
    never_ends = np.zeros((6, 6))
    never_ends[:, 2:5] = 1 / 3
    model = TableModel(never_ends)
    with pytest.raises(RNNLMError, match="within 10 tokens"):
        beam_search(model, PART2, width=5, max_length=10)
    with pytest.raises(RNNLMError, match="within 10 tokens"):
        greedy(model, PART2, max_length=10)
    only_unknown = np.zeros((6, 6))
    only_unknown[:, 5] = 1.0
    with pytest.raises(RNNLMError, match="no probability"):
        greedy(TableModel(only_unknown), PART2)
    with pytest.raises(RNNLMError):
        beam_search(TableModel(only_unknown), PART2)


def test_bad_settings_are_rejected():
    model = HistoryModel(PART2)
    for kwargs in ({"width": 0}, {"n_best": 0}, {"length_penalty": -1.0}, {"rules": "part3"}):
        with pytest.raises(ValueError):
            beam_search(model, PART2, **kwargs)
    with pytest.raises(ValueError):
        greedy(model, PART2, rules="part3")


# ---------------------------------------------------------------------------------------- nucleus (top-p)

def support(p):
    return set(np.flatnonzero(p).tolist())


def test_top_p_keeps_exactly_the_nucleus():
    p = np.array([0.1, 0.4, 0.2, 0.3])
    np.testing.assert_allclose(adjust(p, top_p=0.4), [0, 1, 0, 0])
    np.testing.assert_allclose(adjust(p, top_p=0.5), [0, 4 / 7, 0, 3 / 7])
    np.testing.assert_allclose(adjust(p, top_p=0.7), [0, 4 / 7, 0, 3 / 7])   # the mass may reach top_p exactly
    np.testing.assert_allclose(adjust(p, top_p=0.71), [0, 4 / 9, 2 / 9, 3 / 9])
    np.testing.assert_allclose(adjust(np.array([0.5, 0.3, 0.2]), top_p=0.8), [0.625, 0.375, 0])
    # Ties at the cutoff are all kept, whatever their order.
    assert support(adjust(np.array([0.2, 0.4, 0.2, 0.2]), top_p=0.5)) == {0, 1, 2, 3}
    assert support(adjust(np.array([0.3, 0.1, 0.3, 0.3]), top_p=0.3)) == {0, 2, 3}
    # The mass is measured after banned words and temperature.
    assert support(adjust(np.array([0.5, 0.3, 0.2]), banned=[0], top_p=0.6)) == {1}
    assert support(adjust(np.array([0.5, 0.3, 0.2]), top_p=0.6)) == {0, 1}
    assert support(adjust(np.array([0.5, 0.3, 0.2]), temperature=0.5, top_p=0.6)) == {0}
    # With top-k, a word is kept only if both keep it.
    assert support(adjust(p, top_k=1, top_p=0.9)) == {1}
    assert support(adjust(p, top_k=3, top_p=0.5)) == {1, 3}


def test_top_p_of_one_changes_nothing_and_bad_values_raise():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.dirichlet(np.ones(50)).astype(np.float32)
        p[rng.integers(0, 50, 5)] = 0.0
        for kwargs in ({}, {"temperature": 0.7}, {"top_k": 10}, {"banned": [0, 3]}):
            np.testing.assert_array_equal(adjust(p, top_p=1.0, **kwargs), adjust(p, **kwargs))
    for bad in (0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="top_p"):
            adjust(np.array([0.5, 0.5]), top_p=bad)
    with pytest.raises(ValueError, match="top_p"):
        generate_sentences(HistoryModel(PART2), PART2, n=1, min_length=0, top_p=0.0)


def test_sampling_with_top_p_stays_in_the_nucleus():
    # Rows: the previous word; columns START, END, a, b, c, UNKNOWN. After START and UNKNOWN are banned
    # the allowed words have 0.4, 0.3, 0.2 and 0.1 of the mass, so top_p=0.6 keeps the likeliest two.
    allowed = {0: [0.1, 0.4, 0.3, 0.2], 2: [0.4, 0.1, 0.2, 0.3],
               3: [0.3, 0.4, 0.1, 0.2], 4: [0.4, 0.1, 0.3, 0.2]}
    table = np.full((6, 6), 1 / 6)
    for prev, row in allowed.items():
        table[prev] = [0.05, *(0.65 * np.array(row)), 0.3]
    model = TableModel(table)
    banned = [PART2.index[SENTENCE_START], PART2.unknown_index]
    nucleus = {prev: support(adjust(model.table[prev], banned=banned, top_p=0.6)) for prev in allowed}
    assert nucleus == {0: {2, 3}, 2: {1, 4}, 3: {1, 2}, 4: {1, 3}}
    sentences = generate_sentences(model, PART2, n=200, min_length=0, seed=3, top_p=0.6)
    assert generate_sentences(model, PART2, n=200, min_length=0, seed=3, top_p=0.6) == sentences
    seen = {prev: set() for prev in allowed}
    for words in sentences:
        s = PART2.encode([SENTENCE_START, *words, SENTENCE_END]).tolist()
        for prev, nxt in zip(s, s[1:]):
            seen[prev].add(nxt)
    assert seen == nucleus   # never outside the nucleus, and every word of it drawn
