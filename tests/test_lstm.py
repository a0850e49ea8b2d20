"""LSTMTheano: layout, equations against numpy, gradients, RMSprop, files.

Same plan as ``test_gru.py``: a few module-scoped float64 models whose functions compile on first use.
"""
import numpy as np
import pytest

from gru_theano import GRUTheano, LSTMTheano, load_model_parameters_theano, numerical_gradients, \
    save_model_parameters_theano
from lmkit.errors import CheckpointError

from .helpers import QUIET, randomized

pytestmark = pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS")

C, H = 10, 4
X = [0, 3, 7, 3, 9, 1, 5]
Y = [3, 7, 3, 9, 1, 5, 2]


@pytest.fixture(scope="module")
def lstm():
    """D == H, two layers, logistic gates: stacked layout with 8 blocks (i, f, o, g per layer)."""
    return randomized(LSTMTheano(C, hidden_dim=H, dtype="float64", seed=0), seed=20)


@pytest.fixture(scope="module")
def lstm_1layer():
    """One layer, narrower word vectors (per-layer layout), hard-sigmoid gates."""
    return randomized(LSTMTheano(C, hidden_dim=5, embed_dim=3, num_layers=1, gate="hard",
                                 dtype="float64", seed=1), seed=21)


@pytest.fixture(scope="module")
def lstm_3layer():
    return randomized(LSTMTheano(C, hidden_dim=H, num_layers=3, dtype="float64", seed=2), seed=22)


def np_sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def np_hard_sigmoid(a):
    return np.clip(0.2 * a + 0.5, 0.0, 1.0)


def numpy_lstm_probs(p, x, num_layers, gate):
    """The blog's LSTM equations, written out in numpy; blocks per layer: i, f, o, g."""
    if "U" in p:
        layers = [(p["U"][4 * l:4 * l + 4], p["W"][4 * l:4 * l + 4], p["b"][4 * l:4 * l + 4])
                  for l in range(num_layers)]
    else:
        layers = [(p[f"U{l}"], p[f"W{l}"], p[f"b{l}"]) for l in range(1, num_layers + 1)]
    hidden = layers[0][1].shape[1]
    cells = [np.zeros(hidden) for _ in layers]
    states = [np.zeros(hidden) for _ in layers]
    out = []
    for word in x:
        inp = p["E"][:, word]
        for l, (U, W, b) in enumerate(layers):
            i = gate(U[0] @ inp + W[0] @ states[l] + b[0])
            f = gate(U[1] @ inp + W[1] @ states[l] + b[1])
            o = gate(U[2] @ inp + W[2] @ states[l] + b[2])
            g = np.tanh(U[3] @ inp + W[3] @ states[l] + b[3])
            cells[l] = cells[l] * f + g * i
            states[l] = np.tanh(cells[l]) * o
            inp = states[l]
        logits = p["V"] @ inp + p["c"]
        e = np.exp(logits - logits.max())
        out.append(e / e.sum())
    return np.array(out)


def test_layout_and_forget_bias():
    model = LSTMTheano(C, hidden_dim=H, dtype="float64", seed=0)
    params = model.get_params()
    assert {k: v.shape for k, v in params.items() if not k.startswith("m")} == {
        "E": (H, C), "U": (8, H, H), "W": (8, H, H), "b": (8, H), "V": (C, H), "c": (C,)}
    # Forget gates (blocks 1 and 5) start at 1, everything else at 0 (the project's choice, see lstm_theano.py).
    expected_b = np.zeros((8, H))
    expected_b[[1, 5]] = 1.0
    np.testing.assert_array_equal(params["b"], expected_b)
    assert model.hparams()["gate"] == "sigmoid"
    narrow = LSTMTheano(C, hidden_dim=5, embed_dim=3, num_layers=2, dtype="float64", seed=0).get_params()
    assert narrow["U1"].shape == (4, 5, 3) and narrow["U2"].shape == (4, 5, 5)
    np.testing.assert_array_equal(narrow["b2"][1], np.ones(5))


@pytest.mark.parametrize("fixture, gate", [("lstm", np_sigmoid), ("lstm_1layer", np_hard_sigmoid)])
def test_forward_pass_matches_numpy_equations(request, fixture, gate):
    model = request.getfixturevalue(fixture)
    probs = model.predict(X)
    expected = numpy_lstm_probs(model.get_params(), X, model.num_layers, gate)
    assert probs.shape == (len(X), C)
    np.testing.assert_allclose(probs, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(model.predict_proba(X), probs)
    np.testing.assert_array_equal(model.predict_class(X), np.argmax(expected, axis=1))


def test_random_init_loss_is_log_vocabulary_size():
    """Same argument as for the GRU: E within +-0.032 keeps the logits near 0, so o is ~uniform."""
    vocab = 1000
    model = LSTMTheano(vocab, hidden_dim=4, dtype="float64", seed=0)
    rng = np.random.RandomState(1)
    sentences = [rng.randint(0, vocab, size=n) for n in (15, 22, 30, 9)]
    loss = model.calculate_loss([s[:-1] for s in sentences], [s[1:] for s in sentences])
    assert abs(loss - np.log(vocab)) < 1e-2


@pytest.mark.parametrize("fixture", ["lstm", "lstm_1layer", "lstm_3layer"])
def test_gradients_match_central_differences(request, fixture):
    model = request.getfixturevalue(fixture)
    analytic = dict(zip(model.params, model.bptt(X, Y)))
    numeric = numerical_gradients(model, X, Y, h=1e-5)
    assert set(analytic) == set(numeric) == set(model.params)
    for name in model.params:
        assert np.abs(numeric[name]).max() > 1e-5, f"{name}: gradient too small to check anything"
        np.testing.assert_allclose(analytic[name], numeric[name], rtol=1e-5, atol=1e-8, err_msg=name)


def test_sgd_step_is_the_tutorials_rmsprop(lstm):
    saved = lstm.get_params()
    try:
        rng = np.random.RandomState(5)
        start = dict(saved)
        for name in lstm.params:
            start["m" + name] = rng.uniform(0, 0.01, saved[name].shape)
        lstm.set_params(start)
        grads = dict(zip(lstm.params, lstm.bptt(X, Y)))
        lr, decay = 0.01, 0.85
        lstm.sgd_step(X, Y, lr, decay)
        after = lstm.get_params()
        for name, g in grads.items():
            m = decay * start["m" + name] + (1 - decay) * g ** 2
            np.testing.assert_allclose(after["m" + name], m, rtol=1e-12, atol=1e-15, err_msg="m" + name)
            np.testing.assert_allclose(after[name], start[name] - lr * g / np.sqrt(m + 1e-6),
                                       rtol=1e-12, atol=1e-15, err_msg=name)
        assert np.max(np.abs(after["W"] - start["W"])) > 1e-4
    finally:
        lstm.set_params(saved)


def test_set_params_rejects_wrong_shapes(lstm):
    good = lstm.get_params()
    gru_shaped = GRUTheano(C, hidden_dim=H, dtype="float64", seed=0).get_params()
    with pytest.raises(ValueError, match="U has shape"):
        lstm.set_params(gru_shaped)  # 6 blocks where an LSTM needs 8
    with pytest.raises(ValueError, match="missing"):
        lstm.set_params({k: v for k, v in good.items() if k != "E"})
    for name, value in lstm.get_params().items():
        np.testing.assert_array_equal(value, good[name])


def test_original_format_with_lstm_class(tmp_path, lstm):
    path = tmp_path / "lstm-original.npz"
    save_model_parameters_theano(path, lstm, **QUIET)
    loaded = load_model_parameters_theano(path, model_class=LSTMTheano, **QUIET)
    assert isinstance(loaded, LSTMTheano) and loaded.num_layers == 2
    for name in lstm.params:
        np.testing.assert_array_equal(loaded.get_params()[name], lstm.get_params()[name])
    with pytest.raises(CheckpointError, match="multiple of 3"):  # 8 blocks are no GRU
        load_model_parameters_theano(path, **QUIET)
