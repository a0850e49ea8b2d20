"""Tests of the numpy RNN: initialisation, forward pass, loss, hand-written BPTT and its truncation."""
import numpy as np
import pytest

from rnn_theano.rnn_numpy import RNNNumpy, softmax, uniform_init

from .helpers import markov_corpus

C, H = 10, 5          # vocabulary and hidden sizes: small, so finite differences over every weight are cheap


def loss_from_state(U, V, W, s_start, x, y):
    """Reference: summed cross-entropy of ``x -> y`` when the recurrence starts from ``s_start``."""
    s, loss = s_start, 0.0
    for x_t, y_t in zip(x, y):
        s = np.tanh(U[:, x_t] + W @ s)
        z = V @ s
        loss += np.log(np.sum(np.exp(z))) - z[y_t]
    return loss


def finite_difference_gradients(f, params, h=1e-5):
    """Central differences of ``f(U, V, W)`` with respect to every entry of every parameter."""
    grads = []
    for i, p in enumerate(params):
        g = np.zeros_like(p)
        for ix in np.ndindex(p.shape):
            plus = [q.copy() for q in params]
            minus = [q.copy() for q in params]
            plus[i][ix] += h
            minus[i][ix] -= h
            g[ix] = (f(*plus) - f(*minus)) / (2 * h)
        grads.append(g)
    return grads


@pytest.fixture
def model():
    return RNNNumpy(C, H, bptt_truncate=-1, seed=3)


@pytest.fixture
def sentence():
    rng = np.random.RandomState(7)
    return list(rng.randint(0, C, 7)), list(rng.randint(0, C, 7))


# ---- initialisation -------------------------------------------------------------------------------

def test_init_draws_u_v_w_in_order_from_the_tutorial_ranges():
    m = RNNNumpy(C, H, seed=5)
    rng = np.random.RandomState(5)
    U = rng.uniform(-1 / np.sqrt(C), 1 / np.sqrt(C), (H, C))
    V = rng.uniform(-1 / np.sqrt(H), 1 / np.sqrt(H), (C, H))
    W = rng.uniform(-1 / np.sqrt(H), 1 / np.sqrt(H), (H, H))
    np.testing.assert_array_equal(m.U, U)
    np.testing.assert_array_equal(m.V, V)
    np.testing.assert_array_equal(m.W, W)
    assert m.U.dtype == np.float64


def test_seed_none_uses_the_global_generator_like_the_tutorial():
    np.random.seed(10)
    a = RNNNumpy(C, H)
    np.random.seed(10)
    U, V, W = uniform_init(C, H)
    np.testing.assert_array_equal(a.U, U)
    np.testing.assert_array_equal(a.W, W)
    b = RNNNumpy(C, H)                        # the global stream moved on: new weights
    assert not np.array_equal(a.U, b.U)


# ---- forward pass and loss ------------------------------------------------------------------------

def test_forward_propagation_follows_the_equations(model, sentence):
    x, _ = sentence
    o, s = model.forward_propagation(x)
    assert o.shape == (len(x), C) and s.shape == (len(x) + 1, H)
    np.testing.assert_array_equal(s[-1], np.zeros(H))           # the initial state is stored last
    state = np.zeros(H)
    for t, x_t in enumerate(x):
        state = np.tanh(model.U @ np.eye(C)[x_t] + model.W @ state)   # U times a one-hot vector
        np.testing.assert_allclose(s[t], state, rtol=0, atol=1e-14)
        np.testing.assert_allclose(o[t], softmax(model.V @ state), rtol=0, atol=1e-14)
    np.testing.assert_allclose(o.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(model.predict(x), np.argmax(o, axis=1))
    np.testing.assert_array_equal(model.predict_proba(x), o)


def test_softmax_is_stable_for_large_inputs():
    p = softmax(np.array([1000.0, 1000.0, -1000.0]))
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0], rtol=0, atol=1e-15)


def test_loss_is_summed_cross_entropy_and_per_word_average(model):
    X = [[0, 3, 4], [2, 9]]
    Y = [[3, 4, 1], [9, 1]]
    expected = sum(loss_from_state(model.U, model.V, model.W, np.zeros(H), x, y) for x, y in zip(X, Y))
    assert model.calculate_total_loss(X, Y) == pytest.approx(expected, rel=1e-12)
    assert model.calculate_loss(X, Y) == pytest.approx(expected / 5, rel=1e-12)


def test_random_init_loss_is_close_to_ln_vocabulary_size():
    # At initialisation the logits z = V s_t are small (U ~ 1/sqrt(C) keeps s_t small, V ~ 1/sqrt(H)):
    # for C = 1000, H = 10 their spread within one step is at most ~0.14 and their std ~0.03. For a
    # target unrelated to them, -log o_t[y] = ln C + log(mean exp z) - z_y averages to ln C + var(z)/2
    # (~5e-4), with per-word noise ~std(z), i.e. ~0.002 over 200 words: 1e-2 is a ~5 sigma margin,
    # while a badly scaled init (U x30, V x5) is off by ~1.
    word_dim = 1000
    m = RNNNumpy(word_dim, 10, seed=0)
    rng = np.random.RandomState(1)
    X = [rng.randint(0, word_dim, 10) for _ in range(20)]
    Y = [rng.randint(0, word_dim, 10) for _ in range(20)]
    assert abs(m.calculate_loss(X, Y) - np.log(word_dim)) < 1e-2


def test_inputs_are_checked(model):
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.forward_propagation([0, C])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.forward_propagation([-1, 2])
    with pytest.raises(ValueError, match="words but y has"):
        model.bptt([0, 1, 2], [1, 2])
    with pytest.raises(ValueError, match="zero words"):
        model.calculate_loss([[]], [[]])


# ---- BPTT -----------------------------------------------------------------------------------------

def test_full_bptt_matches_finite_differences(model, sentence):
    x, y = sentence
    expected = finite_difference_gradients(
        lambda U, V, W: loss_from_state(U, V, W, np.zeros(H), x, y), [model.U, model.V, model.W])
    for got, want in zip(model.bptt(x, y), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_gradient_check_passes_and_can_fail(model, sentence, capsys):
    x, y = sentence
    before = model.get_params()
    assert model.gradient_check(x, y) is True
    out = capsys.readouterr().out
    assert "Gradient check for parameter W passed." in out
    for name, value in model.get_params().items():                 # weights restored
        np.testing.assert_array_equal(value, before[name])
    real_bptt = model.bptt
    model.bptt = lambda x, y: [g * 1.1 for g in real_bptt(x, y)]   # a 10% wrong gradient
    assert model.gradient_check(x, y) is False
    assert "Gradient Check ERROR: parameter=U" in capsys.readouterr().out


def test_truncated_bptt_backpropagates_each_output_through_k_earlier_steps():
    # Reference built independently: output t's gradient is that of its own loss L_t alone, with the
    # recurrence restarted at the state s_{t-k-1} held constant (the truncation cut).
    k, T = 2, 7
    m = RNNNumpy(C, H, bptt_truncate=k, seed=4)
    rng = np.random.RandomState(8)
    x, y = rng.randint(0, C, T), rng.randint(0, C, T)
    _, s = m.forward_propagation(x)
    expected = [np.zeros_like(p) for p in (m.U, m.V, m.W)]
    for t in range(T):
        start = max(0, t - k)
        s_start = s[start - 1].copy()              # s[-1] is the zero initial state
        loss_t = lambda U, V, W: (loss_from_state(U, V, W, s_start, x[start:t + 1], y[start:t + 1])
                                  - loss_from_state(U, V, W, s_start, x[start:t], y[start:t]))
        for acc, g in zip(expected, finite_difference_gradients(loss_t, [m.U, m.V, m.W])):
            acc += g
    for got, want in zip(m.bptt(x, y), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_truncation_changes_nothing_up_to_k_plus_one_words_and_then_does():
    k = 2
    trunc = RNNNumpy(C, H, bptt_truncate=k, seed=4)
    full = RNNNumpy(C, H, bptt_truncate=-1, seed=4)
    x, y = [3, 1, 4, 1, 5], [1, 4, 1, 5, 9]
    for T in range(1, k + 2):
        for a, b in zip(trunc.bptt(x[:T], y[:T]), full.bptt(x[:T], y[:T])):
            np.testing.assert_array_equal(a, b)
    # k + 2 words: the last output loses step 0. Its dW term there is delta s_{-1}^T = 0 (the zero
    # initial state), so only dU changes; with k + 3 words a step with a nonzero state is cut too.
    dU_t, dV_t, dW_t = trunc.bptt(x[:k + 2], y[:k + 2])
    dU_f, dV_f, dW_f = full.bptt(x[:k + 2], y[:k + 2])
    np.testing.assert_array_equal(dV_t, dV_f)       # every output still reaches V in full
    np.testing.assert_allclose(dW_t, dW_f, rtol=0, atol=1e-15)
    assert np.abs(dU_t - dU_f).max() > 1e-3
    dU_t, dV_t, dW_t = trunc.bptt(x[:k + 3], y[:k + 3])
    dU_f, dV_f, dW_f = full.bptt(x[:k + 3], y[:k + 3])
    np.testing.assert_array_equal(dV_t, dV_f)
    assert np.abs(dW_t - dW_f).max() > 1e-3


def test_minus_one_means_full_bptt_not_no_gradient(model, sentence):
    x, y = sentence
    dU, _, dW = model.bptt(x, y)
    assert np.abs(dU).max() > 1e-3 and np.abs(dW).max() > 1e-3
    long_k = RNNNumpy(C, H, bptt_truncate=100, seed=3)
    for a, b in zip(model.bptt(x, y), long_k.bptt(x, y)):
        np.testing.assert_array_equal(a, b)


# ---- SGD ------------------------------------------------------------------------------------------

def test_sgd_step_moves_against_the_gradient(model, sentence):
    x, y = sentence
    before = model.get_params()
    grads = model.bptt(x, y)
    loss_before = model.calculate_total_loss([x], [y])
    model.sgd_step(x, y, 0.01)
    for name, g in zip("UVW", grads):
        np.testing.assert_allclose(getattr(model, name), before[name] - 0.01 * g, rtol=0, atol=1e-15)
    assert model.calculate_total_loss([x], [y]) < loss_before


def test_training_on_a_markov_corpus_lowers_the_loss():
    from rnn_theano.train import train_with_sgd
    X, Y = markov_corpus(100, 12, seed=0)
    m = RNNNumpy(12, 6, bptt_truncate=-1, seed=0)
    initial = m.calculate_loss(X, Y)
    assert abs(initial - np.log(12)) < 0.05
    losses, _ = train_with_sgd(m, X, Y, learning_rate=0.05, nepoch=5, evaluate_loss_after=1,
                               log=lambda msg: None)
    assert [n for n, _ in losses] == [0, 100, 200, 300, 400]
    assert m.calculate_loss(X, Y) < 0.5 * initial    # ln 12 = 2.48 -> about 1.0 (chain entropy ~0.7)


# ---- checkpoint protocol --------------------------------------------------------------------------

def test_get_set_params_round_trip_and_validation(model):
    params = model.get_params()
    assert set(params) == {"U", "V", "W"}
    params["U"][0, 0] += 1.0                        # a copy: the model is not touched
    assert model.U[0, 0] != params["U"][0, 0]
    other = RNNNumpy(C, H, seed=99)
    other.set_params(params)
    np.testing.assert_array_equal(other.U, params["U"])
    np.testing.assert_array_equal(other.W, params["W"])
    with pytest.raises(ValueError, match="'V' has shape"):
        other.set_params({**params, "V": np.zeros((H, C))})
    with pytest.raises(ValueError, match="missing parameter 'W'"):
        other.set_params({"U": params["U"], "V": params["V"]})
    rebuilt = RNNNumpy(**model.hparams(), mode="c", dtype=None)
    assert rebuilt.hparams() == {"word_dim": C, "hidden_dim": H, "bptt_truncate": -1}
