"""The step-by-step API every model has (``initial_state``, ``step``): the same distributions as reading the
whole prefix with ``predict_proba``, for every model class, one sentence or several side by side, and the
search and sampling built on it against the same search run on the whole-prefix model."""
import numpy as np
import pytest

from gru_theano import GRUTheano, LSTMTheano
from lmkit.data import MASK_TOKEN, SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary
from lmkit.sampling import beam_search, generate_sentences, greedy
from rnn_theano import RNNNumpy, RNNTheano

from .helpers import ReadsHistory

C = 9
MODELS = {
    "numpy rnn": lambda: RNNNumpy(C, 5, seed=1),
    "rnn": lambda: RNNTheano(C, 5, bptt_truncate=-1, mode="c", dtype="float64", seed=1),
    "gru 2 layers": lambda: GRUTheano(C, 4, num_layers=2, mode="c", dtype="float64", seed=2),
    "lstm, embed 3": lambda: LSTMTheano(C, 4, embed_dim=3, num_layers=2, mode="c", dtype="float64", seed=3),
    "gru tied": lambda: GRUTheano(C, 4, num_layers=1, tie_weights=True, mode="c", dtype="float64", seed=4),
}


def whole_prefix_logprobs(model, x):
    return np.log(np.asarray(model.predict_proba(np.asarray(x, dtype=np.int32)), dtype=np.float64))


@pytest.fixture(scope="module", params=list(MODELS))
def model(request):
    return MODELS[request.param]()


def test_one_word_at_a_time_gives_the_distributions_of_the_whole_prefix(model):
    x = [0, 3, 5, 2, 8, 8, 4, 1, 6]
    state, got = model.initial_state(1), []
    for word in x:
        state, logp = model.step(state, [word])
        assert logp.shape == (1, C)
        got.append(logp[0])
    np.testing.assert_allclose(np.array(got), whole_prefix_logprobs(model, x), rtol=1e-10, atol=1e-12)


def test_sentences_side_by_side_are_read_independently(model):
    sentences = np.array([[0, 3, 5, 2, 7], [0, 8, 1, 1, 2], [0, 2, 2, 6, 4]])
    state = model.initial_state(3)
    for t in range(sentences.shape[1]):
        state, logp = model.step(state, sentences[:, t])
        for i, x in enumerate(sentences):
            np.testing.assert_allclose(logp[i], whole_prefix_logprobs(model, x[:t + 1])[-1], rtol=1e-10, atol=1e-12)
    # The state keeps the batch on its last axis: selecting columns selects sentences.
    picked = [s[..., [2, 0]] for s in state]
    _, logp = model.step(picked, [3, 3])
    np.testing.assert_allclose(logp[0], whole_prefix_logprobs(model, [*sentences[2], 3])[-1], rtol=1e-10)
    np.testing.assert_allclose(logp[1], whole_prefix_logprobs(model, [*sentences[0], 3])[-1], rtol=1e-10)


def test_jax_pads_a_batch_to_a_power_of_two_and_agrees_with_c():
    c_model = GRUTheano(C, 4, num_layers=2, mode="c", dtype="float32", seed=5)
    jax_model = GRUTheano(C, 4, num_layers=2, mode="jax", dtype="float32", seed=5)
    words = [0, 4, 7]
    c_state, c_logp = c_model.step(c_model.initial_state(3), words)
    jax_state, jax_logp = jax_model.step(jax_model.initial_state(3), words)
    assert jax_logp.shape == (3, C) and [np.shape(s) for s in jax_state] == [(4, 3)] * 2
    np.testing.assert_allclose(jax_logp, c_logp, rtol=1e-4, atol=1e-5)
    jax_state, jax_logp = jax_model.step(jax_state, [1, 2, 3])
    c_state, c_logp = c_model.step(c_state, [1, 2, 3])
    np.testing.assert_allclose(jax_logp, c_logp, rtol=1e-4, atol=1e-5)


VOCAB = Vocabulary([MASK_TOKEN, UNKNOWN_TOKEN, "a", "b", "c", "d", "e", SENTENCE_START, SENTENCE_END], "part4")


class WholePrefix(ReadsHistory):
    """The same model, read the old way: the whole prefix again at every word."""

    def __init__(self, model):
        self.predict_proba = model.predict_proba


@pytest.mark.parametrize("name", ["rnn", "gru 2 layers"])
def test_search_and_sampling_on_the_step_api_equal_the_whole_prefix_model(name):
    model = MODELS[name]()
    reference = WholePrefix(model)
    for search in (lambda m: [greedy(m, VOCAB, min_length=2, max_length=12)],
                   lambda m: beam_search(m, VOCAB, width=4, n_best=3, min_length=1, max_length=10,
                                         prefix=["c"])):
        got, want = search(model), search(reference)
        assert [h.words for h in got] == [h.words for h in want]
        np.testing.assert_allclose([h.logprob for h in got], [h.logprob for h in want], rtol=1e-9)
    sample = lambda m: generate_sentences(m, VOCAB, n=5, min_length=1, rules="part2", seed=3,  # noqa: E731
                                          temperature=0.8, top_p=0.95)
    assert sample(model) == sample(reference)
