"""GRUTheano: layout and initialisation, gate wiring against numpy, gradients, RMSprop, files.

Compiling a PyTensor graph with ``scan`` costs seconds, so the models are module-scoped fixtures and the
tests share them; every function is compiled lazily, on first use. All models that are compared with
numpy are float64.
"""
import numpy as np
import pytest

from gru_theano import (GRUTheano, hard_sigmoid, load_model_parameters_theano,
                        numerical_gradients, save_model_parameters_theano)
from lmkit import checkpoint
from lmkit.errors import CheckpointError

from .helpers import QUIET, randomized

pytestmark = pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS")

C, H = 10, 4                      # vocabulary and hidden size of the small test models
X = [0, 3, 7, 3, 9, 1, 5]         # a sentence with a repeated word
Y = [3, 7, 3, 9, 1, 5, 2]         # its next words


@pytest.fixture(scope="module")
def gru():
    """The tutorial's architecture at toy size: D == H, two layers, hard sigmoid, stacked layout."""
    return randomized(GRUTheano(C, hidden_dim=H, dtype="float64", seed=0), seed=10)


@pytest.fixture(scope="module")
def gru_1layer():
    """One layer, word vectors narrower than the state (per-layer layout), logistic gates."""
    return randomized(GRUTheano(C, hidden_dim=5, embed_dim=3, num_layers=1, gate="sigmoid",
                                dtype="float64", seed=1), seed=11)


@pytest.fixture(scope="module")
def gru_3layer():
    """Three stacked layers in the stacked layout (U, W of 9 blocks)."""
    return randomized(GRUTheano(C, hidden_dim=H, num_layers=3, dtype="float64", seed=2), seed=12)


# ------------------------------------------------------------------------------------------------
# An independent numpy GRU, written from the equations
# ------------------------------------------------------------------------------------------------
def np_hard_sigmoid(a):
    return np.clip(0.2 * a + 0.5, 0.0, 1.0)


def np_sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def layers_of(p, num_layers):
    """(U, W, b) per layer from either documented layout."""
    if "U" in p:
        return [(p["U"][3 * l:3 * l + 3], p["W"][3 * l:3 * l + 3], p["b"][3 * l:3 * l + 3])
                for l in range(num_layers)]
    return [(p[f"U{l}"], p[f"W{l}"], p[f"b{l}"]) for l in range(1, num_layers + 1)]


def numpy_gru_probs(p, x, num_layers, gate, reset_after_W=False):
    """o_t for every t; ``reset_after_W=True`` is the classic wiring mistake, for a negative control."""
    layers = layers_of(p, num_layers)
    hidden = p["W"].shape[1] if "W" in p else p["W1"].shape[1]
    states = [np.zeros(hidden) for _ in layers]
    out = []
    for word in x:
        inp = p["E"][:, word]
        for l, (U, W, b) in enumerate(layers):
            s_prev = states[l]
            z = gate(U[0] @ inp + W[0] @ s_prev + b[0])
            r = gate(U[1] @ inp + W[1] @ s_prev + b[1])
            recurrent = (W[2] @ s_prev) * r if reset_after_W else W[2] @ (s_prev * r)
            h = np.tanh(U[2] @ inp + recurrent + b[2])
            states[l] = (1 - z) * h + z * s_prev
            inp = states[l]
        logits = p["V"] @ inp + p["c"]
        e = np.exp(logits - logits.max())
        out.append(e / e.sum())
    return np.array(out)


# ------------------------------------------------------------------------------------------------
# Layout and initialisation (no compiling)
# ------------------------------------------------------------------------------------------------
def test_default_layout_is_the_tutorials():
    model = GRUTheano(C, hidden_dim=H, dtype="float64", seed=0)
    shapes = {k: v.shape for k, v in model.get_params().items()}
    weights = {"E": (H, C), "U": (6, H, H), "W": (6, H, H), "b": (6, H), "V": (C, H), "c": (C,)}
    assert shapes == {**weights, **{"m" + k: s for k, s in weights.items()}}
    assert list(model.params) == ["E", "U", "W", "b", "V", "c"]  # the order of bptt()'s gradients
    assert model.hparams() == {"word_dim": C, "hidden_dim": H, "embed_dim": H, "num_layers": 2,
                               "bptt_truncate": -1, "gate": "hard"}


def test_per_layer_layout_when_embedding_is_narrower():
    model = GRUTheano(C, hidden_dim=5, embed_dim=3, num_layers=2, dtype="float64", seed=0)
    shapes = {k: v.shape for k, v in model.get_params().items() if not k.startswith("m")}
    assert shapes == {"E": (3, C), "U1": (3, 5, 3), "U2": (3, 5, 5), "W1": (3, 5, 5), "W2": (3, 5, 5),
                      "b1": (3, 5), "b2": (3, 5), "V": (C, 5), "c": (C,)}


def test_initialisation_draws_like_the_tutorial():
    np.random.seed(3)
    model = GRUTheano(50, hidden_dim=6, dtype="float64")
    np.random.seed(3)
    e, h = np.sqrt(1 / 50), np.sqrt(1 / 6)
    expected = {"E": np.random.uniform(-e, e, (6, 50)), "U": np.random.uniform(-h, h, (6, 6, 6)),
                "W": np.random.uniform(-h, h, (6, 6, 6)), "V": np.random.uniform(-h, h, (50, 6)),
                "b": np.zeros((6, 6)), "c": np.zeros(50)}
    params = model.get_params()
    for name, value in expected.items():
        np.testing.assert_array_equal(params[name], value, err_msg=name)
        np.testing.assert_array_equal(params["m" + name], 0 * value)
    same = GRUTheano(50, hidden_dim=6, dtype="float64", seed=5).get_params()["U"]
    np.testing.assert_array_equal(same, GRUTheano(50, hidden_dim=6, dtype="float64", seed=5).get_params()["U"])
    assert not np.array_equal(same, GRUTheano(50, hidden_dim=6, dtype="float64", seed=6).get_params()["U"])


def test_constructor_rejects_bad_arguments():
    with pytest.raises(ValueError, match="gate"):
        GRUTheano(C, hidden_dim=H, gate="relu")
    with pytest.raises(ValueError, match="bptt_truncate"):
        GRUTheano(C, hidden_dim=H, bptt_truncate=0)
    with pytest.raises(ValueError, match="num_layers"):
        GRUTheano(C, hidden_dim=H, num_layers=0)
    with pytest.raises(ValueError, match="backend"):
        GRUTheano(C, hidden_dim=H, mode="cuda")


def test_float32_model_stays_float32():
    model = GRUTheano(C, hidden_dim=H, dtype="float32", seed=0)
    assert all(v.dtype == np.float32 for v in model.get_params().values())


# ------------------------------------------------------------------------------------------------
# The forward pass
# ------------------------------------------------------------------------------------------------
def test_hard_sigmoid_is_theanos_on_a_grid():
    import pytensor
    import pytensor.tensor as pt

    grid = np.concatenate([np.linspace(-6, 6, 1201), [-2.5, 2.5, 0.0, -1e-9, 1e-9]])
    a = pt.dvector("a")
    got = pytensor.function([a], hard_sigmoid(a), mode="CVM")(grid)
    np.testing.assert_allclose(got, np.clip(0.2 * grid + 0.5, 0, 1), rtol=0, atol=1e-15)
    assert got.min() == 0.0 and got.max() == 1.0 and got[grid == 0.0][0] == 0.5
    assert hard_sigmoid(pt.fvector()).dtype == "float32"  # constants do not upcast float32 graphs


@pytest.mark.parametrize("fixture, gate", [("gru", np_hard_sigmoid), ("gru_1layer", np_sigmoid)])
def test_forward_pass_matches_numpy_equations(request, fixture, gate):
    model = request.getfixturevalue(fixture)
    p = model.get_params()
    probs = model.predict(X)
    expected = numpy_gru_probs(p, X, model.num_layers, gate)
    assert probs.shape == (len(X), C)
    np.testing.assert_allclose(probs, expected, rtol=1e-12, atol=1e-14)
    # Negative control: the wiring W (s_prev) * r instead of W (s_prev * r) gives other outputs.
    wrong = numpy_gru_probs(p, X, model.num_layers, gate, reset_after_W=True)
    assert np.max(np.abs(wrong - expected)) > 1e-4
    np.testing.assert_array_equal(model.predict_class(X), np.argmax(expected, axis=1))
    np.testing.assert_array_equal(model.predict_proba(X), probs)


def test_ce_error_is_summed_negative_log_probability(gru):
    probs = gru.predict(X)
    expected = -np.sum(np.log(probs[np.arange(len(Y)), Y]))
    assert gru.ce_error(X, Y) == pytest.approx(expected, rel=1e-12)
    assert gru.calculate_total_loss([X, X], [Y, Y]) == pytest.approx(2 * expected, rel=1e-12)
    assert gru.calculate_loss([X, X], [Y, Y]) == pytest.approx(expected / len(Y), rel=1e-12)


def test_random_init_loss_is_log_vocabulary_size():
    """A fresh model predicts (almost) uniformly, so each word costs ln C.

    E starts within +-1/sqrt(C) = 0.032 for C = 1000, so the states stay around 0.03 or less and the
    logits V s + c around 0.01: the softmax is uniform to about 1e-4, whatever the target words. That is
    far inside the 1e-2 tolerance, while a wrong normalisation or a loss that is not divided per word
    misses by far more than that.
    """
    vocab = 1000
    model = GRUTheano(vocab, hidden_dim=4, dtype="float64", seed=0)
    rng = np.random.RandomState(0)
    sentences = [rng.randint(0, vocab, size=n) for n in (12, 20, 30, 25, 13)]
    X_, Y_ = [s[:-1] for s in sentences], [s[1:] for s in sentences]
    assert abs(model.calculate_loss(X_, Y_) - np.log(vocab)) < 1e-2


# ------------------------------------------------------------------------------------------------
# Gradients and the RMSprop step
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fixture", ["gru", "gru_1layer", "gru_3layer"])
def test_gradients_match_central_differences(request, fixture):
    model = request.getfixturevalue(fixture)
    before = model.get_params()
    analytic = dict(zip(model.params, model.bptt(X, Y)))
    numeric = numerical_gradients(model, X, Y, h=1e-5)
    assert set(analytic) == set(numeric) == set(model.params)
    for name in model.params:
        assert np.abs(numeric[name]).max() > 1e-5, f"{name}: gradient too small to check anything"
        np.testing.assert_allclose(analytic[name], numeric[name], rtol=1e-5, atol=1e-8, err_msg=name)
    for name, value in model.get_params().items():  # the check put every weight back
        np.testing.assert_array_equal(value, before[name])


def test_truncated_bptt_cuts_the_recurrence_but_not_the_output_layer(gru_1layer):
    """Documented behaviour of bptt_truncate=k: V and c see every word, U/W/b/E only the last k steps."""
    truncated = GRUTheano(C, hidden_dim=5, embed_dim=3, num_layers=1, gate="sigmoid", dtype="float64",
                          bptt_truncate=2)
    truncated.set_params(gru_1layer.get_params())
    full = dict(zip(gru_1layer.params, gru_1layer.bptt(X, Y)))
    cut = dict(zip(truncated.params, truncated.bptt(X, Y)))
    np.testing.assert_allclose(cut["V"], full["V"], rtol=1e-12)
    np.testing.assert_allclose(cut["c"], full["c"], rtol=1e-12)
    for name in ("E", "U1", "W1", "b1"):
        assert np.max(np.abs(cut[name] - full[name])) > 1e-6, name
    # The first words (outside the last 2 steps) get no embedding gradient at all.
    early_only = sorted(set(X[:-2]) - set(X[-2:]))
    assert np.all(cut["E"][:, early_only] == 0) and np.any(full["E"][:, early_only] != 0)


def numpy_rmsprop(params, grads, lr, decay):
    new = dict(params)
    for name, g in grads.items():
        m = decay * params["m" + name] + (1 - decay) * g ** 2
        new["m" + name] = m
        new[name] = params[name] - lr * g / np.sqrt(m + 1e-6)
    return new


def test_sgd_step_is_the_tutorials_rmsprop(gru):
    saved = gru.get_params()
    try:
        rng = np.random.RandomState(4)
        start = dict(saved)
        for name in gru.params:  # non-zero caches, so the decay of the old cache is tested too
            start["m" + name] = rng.uniform(0, 0.01, saved[name].shape)
        gru.set_params(start)
        current = start
        for lr, decay in ((0.01, 0.8), (0.003, None)):  # second step: the default decay 0.9
            grads = dict(zip(gru.params, gru.bptt(X, Y)))
            expected = numpy_rmsprop(current, grads, lr, 0.9 if decay is None else decay)
            if decay is None:
                gru.sgd_step(X, Y, lr)
            else:
                gru.sgd_step(X, Y, lr, decay)
            current = gru.get_params()
            assert set(current) == set(expected)
            for name in expected:
                np.testing.assert_allclose(current[name], expected[name], rtol=1e-12, atol=1e-15,
                                           err_msg=name)
        assert np.max(np.abs(current["U"] - start["U"])) > 1e-4  # the steps did move the weights
    finally:
        gru.set_params(saved)


# ------------------------------------------------------------------------------------------------
# Parameters and files
# ------------------------------------------------------------------------------------------------
def test_set_params_rejects_wrong_shapes_and_names(gru):
    good = gru.get_params()
    for bad, message in (({**good, "U": good["U"][:3]}, "shape"),
                         ({**good, "V": good["V"].T}, "shape"),
                         ({k: v for k, v in good.items() if k != "c"}, "missing"),
                         ({k: v for k, v in good.items() if k != "mW"}, "missing"),
                         ({**good, "U1": good["U"]}, "unexpected")):
        with pytest.raises(ValueError, match=message):
            gru.set_params(bad)
    for name, value in gru.get_params().items():  # nothing was half-applied
        np.testing.assert_array_equal(value, good[name])


def test_original_format_round_trip(tmp_path, gru, gru_3layer):
    path = tmp_path / "GRU-original.npz"
    save_model_parameters_theano(path, gru, **QUIET)
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["E", "U", "V", "W", "b", "c"]
        assert data["U"].shape == (6, H, H)
    loaded = load_model_parameters_theano(path, **QUIET)
    assert isinstance(loaded, GRUTheano)
    assert (loaded.word_dim, loaded.hidden_dim, loaded.num_layers) == (C, H, 2)
    for name, value in gru.get_params().items():
        if name.startswith("m"):
            assert not loaded.get_params()[name].any()  # the format has no caches
        else:
            assert loaded.get_params()[name].tobytes() == value.tobytes(), name
    # The tutorial's argument order (model, path), a 3-layer model, and a float32 file.
    save_model_parameters_theano(gru_3layer, tmp_path / "three.npz", **QUIET)
    assert load_model_parameters_theano(tmp_path / "three.npz", **QUIET).num_layers == 3
    small = GRUTheano(C, hidden_dim=H, dtype="float32", seed=0)
    save_model_parameters_theano(tmp_path / "f32.npz", small, **QUIET)
    again = load_model_parameters_theano(tmp_path / "f32.npz", **QUIET)
    assert again.dtype == "float32"
    np.testing.assert_array_equal(again.get_params()["W"], small.get_params()["W"])


def test_original_format_needs_the_stacked_layout(tmp_path, gru_1layer):
    with pytest.raises(ValueError, match="embed_dim"):
        save_model_parameters_theano(tmp_path / "x.npz", gru_1layer, **QUIET)
    assert not (tmp_path / "x.npz").exists()


def good_arrays():
    rng = np.random.RandomState(0)
    return {"E": rng.randn(H, C), "U": rng.randn(6, H, H), "W": rng.randn(6, H, H),
            "V": rng.randn(C, H), "b": rng.randn(6, H), "c": rng.randn(C)}


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("c"), "missing c"),
    (lambda a: a.update(extra=np.zeros(3)), "unexpected extra"),
    (lambda a: a.update(V=np.zeros((C + 1, H))), "V has shape"),
    (lambda a: a.update(b=np.zeros((6, H + 1))), "b has shape"),
    (lambda a: a.update(U=np.zeros((6, H))), "U should have 3 dimensions"),
    (lambda a: a.update(U=np.zeros((5, H, H)), W=np.zeros((5, H, H)), b=np.zeros((5, H))), "multiple of 3"),
    (lambda a: a.update(E=np.zeros((H + 1, C))), "as wide as"),
    (lambda a: a.update(c=np.arange(C)), "floats"),
    (lambda a: a["W"].__setitem__((0, 0, 0), np.nan), "NaN"),
])
def test_original_format_rejects_bad_files(tmp_path, change, message):
    arrays = good_arrays()
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match=message):
        load_model_parameters_theano(path, **QUIET)


def test_original_format_rejects_unreadable_files(tmp_path):
    with pytest.raises(CheckpointError, match="no such"):
        load_model_parameters_theano(tmp_path / "absent.npz", **QUIET)
    (tmp_path / "text.npz").write_text("not a zip file")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_model_parameters_theano(tmp_path / "text.npz", **QUIET)
    arrays = good_arrays()
    arrays["E"] = np.array([{"payload": 1}], dtype=object)  # needs pickle to read back
    np.savez(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(CheckpointError, match="refused"):
        load_model_parameters_theano(tmp_path / "pickled.npz", **QUIET)
    checkpoint.save_model(tmp_path / "ours.npz", GRUTheano(C, hidden_dim=H, seed=0))
    with pytest.raises(CheckpointError, match="load_model"):
        load_model_parameters_theano(tmp_path / "ours.npz", **QUIET)
