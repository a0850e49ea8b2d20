"""Sampling rules and scoring arithmetic, checked on a bigram table whose probabilities are known exactly."""
import numpy as np
import pytest

from lmkit.data import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary
from lmkit.errors import RNNLMError
from lmkit.sampling import adjust, generate_sentences, sample_sentence
from lmkit.scoring import Score, score_corpus, word_logprobs

from .helpers import ReadsHistory

WORDS = [SENTENCE_START, SENTENCE_END, "a", "b", "c", UNKNOWN_TOKEN]


class BigramModel(ReadsHistory):
    """p(next | previous word) from a fixed table; the same interface as the real models."""

    def __init__(self, table):
        self.table = np.asarray(table, dtype=np.float32)

    def predict_proba(self, x):
        return self.table[np.asarray(x)]


def make_table(seed=0, unk=0.3, end=0.1):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.1, 1.0, size=(6, 6))
    t[:, 0] = 0.0          # never predict SENTENCE_START
    t[:, 1] = end * t.sum(axis=1) / (1 - end)
    t[:, 5] = unk * t.sum(axis=1) / (1 - unk)
    return t / t.sum(axis=1, keepdims=True)


@pytest.fixture()
def vocab():
    return Vocabulary(WORDS)


def test_adjust_temperature_topk_and_renormalisation():
    p = np.array([0.5, 0.3, 0.2], dtype=np.float32)
    assert adjust(p).dtype == np.float64 and adjust(p).sum() == pytest.approx(1.0, abs=1e-15)
    sharp = adjust(p, temperature=0.5)
    np.testing.assert_allclose(sharp, p.astype(float) ** 2 / (p.astype(float) ** 2).sum())
    np.testing.assert_allclose(adjust(p, top_k=2), [0.625, 0.375, 0.0])
    np.testing.assert_allclose(adjust(p, banned=[0]), [0.0, 0.6, 0.4])
    with pytest.raises(RNNLMError, match="no probability"):
        adjust(np.array([np.nan, np.nan]))


def test_part2_rules_never_emit_unknown_and_honour_min_length(vocab):
    model = BigramModel(make_table(unk=0.6))
    sentences = generate_sentences(model, vocab, n=30, min_length=4, rules="part2", seed=1)
    assert len(sentences) == 30
    for s in sentences:
        assert len(s) >= 4
        assert UNKNOWN_TOKEN not in s and SENTENCE_START not in s and SENTENCE_END not in s


def test_part4_rules_abandon_on_unknown_and_length(vocab):
    rng = np.random.default_rng(0)
    always_unk = np.zeros((6, 6))
    always_unk[:, 5] = 1.0
    assert sample_sentence(BigramModel(always_unk), vocab, rng, rules="part4") is None
    never_ends = np.zeros((6, 6))
    never_ends[:, 2] = 1.0
    assert sample_sentence(BigramModel(never_ends), vocab, rng, rules="part4", max_length=10) is None
    sentences = generate_sentences(BigramModel(make_table()), vocab, n=20, min_length=2, rules="part4", seed=2)
    assert all(UNKNOWN_TOKEN not in s and len(s) >= 2 for s in sentences)


def test_sampling_follows_the_model_distribution(vocab):
    table = make_table(seed=3)
    model = BigramModel(table)
    rng = np.random.default_rng(5)
    firsts = [sample_sentence(model, vocab, rng, rules="part2", max_length=1000) for _ in range(4000)]
    counts = np.bincount([s[1] for s in firsts], minlength=6)
    expected = adjust(table[0], banned=[5])
    observed = counts / counts.sum()
    np.testing.assert_allclose(observed, expected, atol=0.03)


def test_seed_prefix_and_top1(vocab):
    model = BigramModel(make_table(seed=4))
    a = generate_sentences(model, vocab, n=5, min_length=1, seed=11)
    b = generate_sentences(model, vocab, n=5, min_length=1, seed=11)
    assert a == b
    prefixed = generate_sentences(model, vocab, n=5, min_length=2, seed=3, prefix=["c", "a"])
    assert all(s[:2] == ["c", "a"] for s in prefixed)
    chain = make_table(seed=5)
    for prev, nxt in ((0, 2), (2, 3), (3, 1)):  # the likeliest path: START a b END
        chain[prev, nxt] += 2.0
    greedy = generate_sentences(BigramModel(chain / chain.sum(1, keepdims=True)), vocab, n=3, min_length=0,
                                top_k=1, max_attempts=1)
    assert greedy == [["a", "b"]] * 3


def test_impossible_min_length_fails_clearly(vocab):
    mostly_ends = np.full((6, 6), 0.1 / 4)
    mostly_ends[:, 1] = 0.9
    with pytest.raises(RNNLMError, match="no sentence of at least 3 words in 5 attempts"):
        generate_sentences(BigramModel(mostly_ends), vocab, n=1, min_length=3, max_attempts=5, seed=0)


def test_a_forced_attempt_is_not_repeated(vocab):
    """When every word of a rejected attempt was the only one possible (END certain, or a temperature so low
    that one word takes all the mass), every further attempt would repeat it: sampling stops at once."""
    ends_at_once = np.zeros((6, 6))
    ends_at_once[:, 1] = 1.0
    model = BigramModel(ends_at_once)
    with pytest.raises(RNNLMError, match="deterministic here .* the same 0-word sentence every time"):
        generate_sentences(model, vocab, n=1, min_length=3, max_attempts=1000)
    assert len(model.steps) == 1                      # one attempt (reading START), not 1000
    cold = BigramModel(make_table(seed=2, end=0.5))
    with pytest.raises(RNNLMError, match="deterministic here .*temperature 1e-30"):
        generate_sentences(cold, vocab, n=1, min_length=20, temperature=1e-30, max_attempts=1000)
    assert len(cold.steps) < 100                      # one attempt's words, not 1000 attempts'


def test_scoring_matches_hand_computed_logprobs(vocab):
    table = make_table(seed=6)
    model = BigramModel(table)
    s1 = vocab.encode([SENTENCE_START, "a", "b", SENTENCE_END])
    s2 = vocab.encode([SENTENCE_START, "c", SENTENCE_END])
    t = table.astype(np.float32).astype(np.float64)
    lp1 = np.log(t[0, 2]) + np.log(t[2, 3]) + np.log(t[3, 1])
    lp2 = np.log(t[0, 4]) + np.log(t[4, 1])
    assert word_logprobs(model, s1).sum() == pytest.approx(lp1, rel=1e-12)
    score = score_corpus(model, [s1, s2])
    assert (score.sentences, score.words) == (2, 5)
    assert score.cross_entropy == pytest.approx(-(lp1 + lp2) / 5, rel=1e-12)
    assert score.perplexity == pytest.approx(np.exp(-(lp1 + lp2) / 5), rel=1e-12)


def test_uniform_model_has_perplexity_c(vocab):
    model = BigramModel(np.full((6, 6), 1 / 6))
    score = score_corpus(model, [vocab.encode([SENTENCE_START, "a", "b", "c", SENTENCE_END])])
    assert score.perplexity == pytest.approx(6.0, rel=1e-6)


def test_a_long_sentence_is_scored_in_chunks_without_its_t_by_c_distributions():
    """Above LONG_SENTENCE words the scorer carries the state across chunks of the batched graph: the same
    log-probabilities as the per-sentence graph, and predict_proba is never asked for the whole sentence."""
    import lmkit.scoring as scoring
    from gru_theano import GRUTheano

    model = GRUTheano(11, hidden_dim=4, num_layers=2, dtype="float64", seed=0)
    sentence = np.random.default_rng(0).integers(2, 11, size=1300)
    sentence[0], sentence[-1] = 0, 1
    want = np.log(model.predict_proba(sentence[:-1])[np.arange(1299), sentence[1:]])
    real = model.predict_proba
    model.predict_proba = lambda x: (_ for _ in ()).throw(AssertionError(f"T x C for {len(x)} words"))
    try:
        got = scoring.word_logprobs(model, sentence)
    finally:
        model.predict_proba = real
    assert len(got) == 1299 and scoring.LONG_SENTENCE < 1299
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_chunked_scoring_in_jax_pads_the_last_chunk_and_agrees_with_c():
    import lmkit.scoring as scoring
    from rnn_theano import RNNTheano

    c_model = RNNTheano(9, 5, bptt_truncate=-1, dtype="float32", seed=2, mode="c")
    jax_model = RNNTheano(9, 5, bptt_truncate=-1, dtype="float32", seed=2, mode="jax")
    sentence = np.random.default_rng(1).integers(2, 9, size=700)  # one full chunk of 512 and a padded one
    sentence[0], sentence[-1] = 0, 1
    want = np.log(np.asarray(c_model.predict_proba(sentence[:-1]), np.float64)[np.arange(699), sentence[1:]])
    np.testing.assert_allclose(scoring.batch_scorer(jax_model).word_logprobs(sentence[:-1], sentence[1:]), want,
                               rtol=1e-4)


def test_sampler_never_emits_mask_or_start_and_its_seed_matters():
    """A Part 4 vocabulary has <MASK/> at 0; a model that puts most of its mass on <MASK/> and START must still
    never produce them. Different seeds give different sentences (a sampler that ignored its seed would not)."""
    from lmkit.data import MASK_TOKEN

    words = [MASK_TOKEN, UNKNOWN_TOKEN, SENTENCE_START, SENTENCE_END, "a", "b", "c"]
    vocab = Vocabulary(words)
    table = np.full((7, 7), 0.02)
    table[:, 0] = 0.5   # <MASK/>
    table[:, 2] = 0.3   # SENTENCE_START
    table[:, 3] = 0.05  # SENTENCE_END
    model = BigramModel(table / table.sum(axis=1, keepdims=True))
    sentences = generate_sentences(model, vocab, n=40, min_length=1, rules="part2", seed=0)
    assert all(MASK_TOKEN not in s and SENTENCE_START not in s and len(s) >= 1 for s in sentences)
    other = generate_sentences(model, vocab, n=40, min_length=1, rules="part2", seed=1)
    assert other != sentences


def test_ppl_and_ppl1_with_and_without_unknown_words_by_hand(vocab):
    """SRILM's definitions on two sentences whose every probability is known: 'a UNK' and 'c'."""
    table = make_table(seed=3)
    model = BigramModel(table)
    unk = vocab.unknown_index
    s1 = vocab.encode([SENTENCE_START, "a", "zzz", SENTENCE_END])   # zzz is not in the vocabulary
    s2 = vocab.encode([SENTENCE_START, "c", SENTENCE_END])
    assert s1[2] == unk
    with np.errstate(divide="ignore"):  # column 0 (SENTENCE_START) has probability 0
        t = np.log(table.astype(np.float32).astype(np.float64))
    a, u, end1 = t[0, 2], t[2, unk], t[unk, 1]
    c, end2 = t[0, 4], t[4, 1]
    score = score_corpus(model, [s1, s2], unknown_index=unk)
    assert (score.sentences, score.words, score.unknown) == (2, 5, 1)
    assert score.perplexity == pytest.approx(np.exp(-(a + u + end1 + c + end2) / 5), rel=1e-12)
    assert score.ppl1 == pytest.approx(np.exp(-(a + u + c) / 3), rel=1e-12)
    assert score.ppl_known == pytest.approx(np.exp(-(a + end1 + c + end2) / 4), rel=1e-12)
    assert score.ppl1_known == pytest.approx(np.exp(-(a + c) / 2), rel=1e-12)
    assert score.as_dict("10")["logprob_10"] == pytest.approx((a + u + end1 + c + end2) / np.log(10), rel=1e-12)


def test_batched_scoring_agrees_with_the_per_sentence_graph_in_bounded_chunks():
    """The batched graph, sentences side by side in chunks of `length` steps with the state carried, against
    one predict_proba per sentence; no chunk the graph sees is longer than `length` or wider than `batch`."""
    import lmkit.scoring as scoring
    from gru_theano import GRUTheano

    model = GRUTheano(13, hidden_dim=5, num_layers=2, dtype="float64", seed=1, mode="c")
    rng = np.random.default_rng(4)
    sentences = []
    for n in (1, 2, 9, 30, 4, 17, 3, 25):
        s = rng.integers(2, 13, size=n + 2)
        s[0], s[-1] = 0, 1
        sentences.append(s)
    scorer = scoring.BatchScorer(model, length=8, batch=3)
    shapes, fn = [], scorer._fn
    scorer._fn = lambda x, y, *states: shapes.append(x.shape) or fn(x, y, *states)
    got = scorer.sentence_logprobs(sentences)
    for s, lp in zip(sentences, got):
        np.testing.assert_allclose(lp, scoring.word_logprobs(model, s), rtol=1e-10)
    assert shapes and max(t for t, _ in shapes) <= 8 and max(b for _, b in shapes) <= 3
    assert sum(1 for t, _ in shapes) >= 30 // 8  # the long sentence really went in several chunks
    whole = Score.of(sentences, got, unknown_index=12)
    assert whole.words == sum(len(s) - 1 for s in sentences)
