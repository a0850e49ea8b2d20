"""Tests of the PyTensor RNN, the training loop and the tutorial's parameter-file format.

Every PyTensor model compiles its functions on first use, which costs seconds the first time a graph is
seen; the models are therefore module-scoped and shared, and each test sets the weights it needs.
"""
from pathlib import Path

import numpy as np
import pytest

from lmkit.errors import CheckpointError, TrainingError
from lmkit.tutorial_loop import Progress
from rnn_theano import (RNNNumpy, RNNTheano, gradient_check_theano, load_model_parameters_theano,
                        save_model_parameters_theano, train_with_sgd)

from .helpers import markov_corpus

C, H, K = 10, 5, 3          # vocabulary, hidden size, truncation of the truncated model
PRETRAINED = Path(__file__).resolve().parents[2] / "shared/data/trained-model-theano.npz"


def quiet(msg):
    pass


def last_k_reference(params, x, y, k):
    """What ``scan(truncate_gradient=k)`` should give, computed without PyTensor.

    Forward from the zero state, keep ``s_{T-k-1}`` as a constant, and backpropagate (fully) the loss
    of the last ``k`` outputs only. Returns ``[dU, dV, dW]``.
    """
    U, V, W = params["U"], params["V"], params["W"]
    T = len(x)
    s = np.zeros((T + 1, U.shape[0]))
    o = np.zeros((T, U.shape[1]))
    for t in range(T):
        s[t] = np.tanh(U[:, x[t]] + W @ s[t - 1])
        z = V @ s[t]
        o[t] = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    dU, dV, dW = np.zeros_like(U), np.zeros_like(V), np.zeros_like(W)
    first = max(0, T - k)
    carry = np.zeros(U.shape[0])                   # dL/ds_t arriving from later steps
    for t in reversed(range(first, T)):
        err = o[t].copy()
        err[y[t]] -= 1.0                           # dL_t/dz_t for softmax + cross-entropy
        dV += np.outer(err, s[t])
        delta = (V.T @ err + carry) * (1 - s[t] ** 2)
        dU[:, x[t]] += delta
        dW += np.outer(delta, s[t - 1])
        carry = W.T @ delta
    return [dU, dV, dW]


@pytest.fixture(scope="module")
def numpy_model():
    return RNNNumpy(C, H, bptt_truncate=-1, seed=3)


@pytest.fixture(scope="module")
def full_model():
    return RNNTheano(C, H, bptt_truncate=-1, dtype="float64", seed=3)


@pytest.fixture(scope="module")
def trunc_model():
    return RNNTheano(C, H, bptt_truncate=K, dtype="float64", seed=3)


@pytest.fixture
def weights():
    """Fresh weights (those of seed 3) loaded into the shared models before a test."""
    return RNNNumpy(C, H, seed=3).get_params()


def sentences(lengths, seed=11):
    rng = np.random.RandomState(seed)
    return [(list(rng.randint(0, C, T)), list(rng.randint(0, C, T))) for T in lengths]


# ---- construction ---------------------------------------------------------------------------------

def test_same_seed_gives_the_numpy_models_weights(full_model, weights):
    fresh = RNNTheano(C, H, dtype="float64", seed=3)
    for name, value in fresh.get_params().items():
        np.testing.assert_array_equal(value, weights[name])
    assert fresh.U.get_value().dtype == np.float64
    f32 = RNNTheano(C, H, dtype="float32", seed=3)
    np.testing.assert_array_equal(f32.get_params()["V"], weights["V"].astype(np.float32))


def test_unknown_backend_is_refused_at_construction():
    with pytest.raises(ValueError, match="unknown backend"):
        RNNTheano(C, H, mode="cuda")


# ---- numpy and PyTensor agree ---------------------------------------------------------------------

def test_outputs_loss_and_full_gradients_match_numpy(numpy_model, full_model, weights):
    numpy_model.set_params(weights)
    full_model.set_params(weights)
    for x, y in sentences([1, 2, 5, 9]):
        o = full_model.forward_propagation(x)
        np.testing.assert_allclose(o, numpy_model.forward_propagation(x)[0], rtol=0, atol=1e-14)
        np.testing.assert_array_equal(full_model.predict(x), numpy_model.predict(x))
        np.testing.assert_array_equal(full_model.predict_proba(x), o)
        assert full_model.ce_error(x, y) == pytest.approx(numpy_model.calculate_total_loss([x], [y]),
                                                          rel=1e-13)
        for got, want in zip(full_model.bptt(x, y), numpy_model.bptt(x, y)):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    X, Y = zip(*sentences([3, 4]))
    assert full_model.calculate_loss(X, Y) == pytest.approx(numpy_model.calculate_loss(X, Y), rel=1e-13)


def test_sgd_step_matches_numpy_and_accepts_a_python_float(numpy_model, full_model, weights):
    numpy_model.set_params(weights)
    full_model.set_params(weights)
    (x, y), = sentences([6])
    numpy_model.sgd_step(x, y, 0.1)
    full_model.sgd_step(x, y, 0.1)
    for name, value in full_model.get_params().items():
        np.testing.assert_allclose(value, numpy_model.get_params()[name], rtol=0, atol=1e-13)
        assert not np.array_equal(value, weights[name])


def test_gradient_check_theano_passes_with_full_bptt(full_model, weights, capsys):
    full_model.set_params(weights)
    (x, y), = sentences([6])
    assert gradient_check_theano(full_model, x, y) is True
    assert "Gradient check for parameter U passed." in capsys.readouterr().out
    for name, value in full_model.get_params().items():          # weights restored
        np.testing.assert_array_equal(value, weights[name])


def test_gradient_check_theano_flags_a_truncated_gradient(trunc_model, weights, capsys):
    trunc_model.set_params(weights)
    (x, y), = sentences([K + 3])
    assert gradient_check_theano(trunc_model, x, y) is False
    assert "Gradient Check ERROR" in capsys.readouterr().out


def test_truncated_models_agree_while_the_sentence_has_at_most_k_words(weights, trunc_model):
    numpy_trunc = RNNNumpy(C, H, bptt_truncate=K)
    numpy_trunc.set_params(weights)
    trunc_model.set_params(weights)
    for x, y in sentences(range(1, K + 1)):
        for got, want in zip(trunc_model.bptt(x, y), numpy_trunc.bptt(x, y)):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    # One word more: numpy still backpropagates everything (T <= K + 1), scan drops output 0.
    (x, y), = sentences([K + 1])
    dV_scan = trunc_model.bptt(x, y)[1]
    dV_numpy = numpy_trunc.bptt(x, y)[1]
    assert np.abs(dV_scan - dV_numpy).max() > 1e-3


def test_scan_truncation_keeps_only_the_last_k_outputs(weights, trunc_model, numpy_model):
    trunc_model.set_params(weights)
    numpy_model.set_params(weights)
    for x, y in sentences([K + 1, K + 4, 12], seed=5):
        T = len(x)
        got = trunc_model.bptt(x, y)
        for g, want in zip(got, last_k_reference(weights, x, y, K)):
            np.testing.assert_allclose(g, want, rtol=0, atol=1e-13)
        # dV spelled out: only outputs T-K..T-1 contribute (o_t - onehot(y_t)) s_t^T.
        o, s = numpy_model.forward_propagation(x)
        dV = sum(np.outer(o[t] - np.eye(C)[y[t]], s[t]) for t in range(T - K, T))
        np.testing.assert_allclose(got[1], dV, rtol=0, atol=1e-13)
        full_dV = numpy_model.bptt(x, y)[1]
        assert np.abs(got[1] - full_dV).max() > 1e-3


def test_random_init_loss_is_close_to_ln_vocabulary_size():
    # Same argument as in test_rnn_numpy: nearly uniform outputs at init; 200 words put the mean
    # within ~0.002 of ln C, so 1e-2 is a safe yet failing bound for a badly scaled model.
    word_dim = 1000
    m = RNNTheano(word_dim, 10, dtype="float64", seed=0)
    rng = np.random.RandomState(1)
    X = [rng.randint(0, word_dim, 10) for _ in range(20)]
    Y = [rng.randint(0, word_dim, 10) for _ in range(20)]
    assert abs(m.calculate_loss(X, Y) - np.log(word_dim)) < 1e-2


def test_inputs_are_checked_before_reaching_the_graph(full_model):
    with pytest.raises(ValueError, match="outside the vocabulary"):
        full_model.forward_propagation([1, C])
    with pytest.raises(ValueError, match="words but y has"):
        full_model.ce_error([1, 2], [3])
    assert full_model.forward_propagation([]).shape == (0, C)
    assert full_model.ce_error([], []) == 0.0


def test_float32_model_takes_a_python_learning_rate():
    m = RNNTheano(C, H, bptt_truncate=K, dtype="float32", seed=3)
    before = m.get_params()["V"]
    m.sgd_step([0, 4, 2, 7], [4, 2, 7, 1], 0.5)
    after = m.get_params()["V"]
    assert after.dtype == np.float32
    assert np.abs(after - before).max() > 1e-4


# ---- training loop --------------------------------------------------------------------------------

class ScriptedModel:
    """Stands in for a model: returns scripted losses and records the learning rate of every step."""

    def __init__(self, losses):
        self.losses = list(losses)
        self.rates = []

    def calculate_loss(self, X, Y):
        return self.losses.pop(0)

    def sgd_step(self, x, y, learning_rate):
        self.rates.append(learning_rate)


def test_learning_rate_halves_exactly_when_an_evaluated_loss_rises():
    model = ScriptedModel([3.0, 2.0, 2.5, 2.5, 2.4, 2.6])
    log = []
    losses, lr = train_with_sgd(model, [[0], [1]], [[1], [0]], learning_rate=1.0, nepoch=6,
                                evaluate_loss_after=1, log=log.append)
    assert [loss for _, loss in losses] == [3.0, 2.0, 2.5, 2.5, 2.4, 2.6]
    assert [n for n, _ in losses] == [0, 2, 4, 6, 8, 10]
    # rises at evaluations 3 (2.0 -> 2.5) and 6 (2.4 -> 2.6); an equal loss (2.5 -> 2.5) is no rise
    assert model.rates == [1.0] * 4 + [0.5] * 6 + [0.25] * 2
    assert lr == 0.25
    assert [m for m in log if m.startswith("Setting")] == ["Setting learning rate to 0.500000",
                                                          "Setting learning rate to 0.250000"]
    assert log[0].endswith(": Loss after num_examples_seen=0 epoch=0: 3.000000")


def test_loss_is_evaluated_every_n_epochs_and_reported_to_the_callback():
    model = ScriptedModel([3.0, 2.0, 1.0])
    seen = []
    losses, lr = train_with_sgd(model, [[0]] * 3, [[1]] * 3, learning_rate=0.1, nepoch=5,
                                evaluate_loss_after=2, log=quiet,
                                callback=lambda m, progress: seen.append((m, progress)))
    assert losses == [(0, 3.0), (6, 2.0), (12, 1.0)]
    assert seen == [(model, Progress(0, 0, 0, 3.0, 0.1)), (model, Progress(6, 2, 0, 2.0, 0.1)),
                    (model, Progress(12, 4, 0, 1.0, 0.1))]
    assert len(model.rates) == 15 and lr == 0.1


def test_the_callback_sees_the_learning_rate_the_next_epoch_uses():
    model = ScriptedModel([3.0, 4.0])
    seen = []
    train_with_sgd(model, [[0]], [[1]], learning_rate=1.0, nepoch=2, evaluate_loss_after=1, log=quiet,
                   callback=lambda m, progress: seen.append(progress.learning_rate))
    assert seen == [1.0, 0.5] and model.rates == [1.0, 0.5]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="2 input sentences but 1 target"):
        train_with_sgd(ScriptedModel([1.0]), [[0], [1]], [[1]], log=quiet)
    with pytest.raises(ValueError, match="evaluate_loss_after"):
        train_with_sgd(ScriptedModel([1.0]), [[0]], [[1]], evaluate_loss_after=0, log=quiet)


def test_progress_wraps_each_epochs_sentences():
    model = ScriptedModel([3.0])
    wrapped = []

    def progress(pairs):
        pairs = list(pairs)
        wrapped.append(pairs)
        return pairs

    train_with_sgd(model, [[0], [2]], [[1], [3]], nepoch=2, evaluate_loss_after=5, log=quiet,
                   progress=progress)
    assert wrapped == [[([0], [1]), ([2], [3])]] * 2
    assert len(model.rates) == 4


def test_training_stops_on_a_nan_loss():
    with pytest.raises(TrainingError, match="nan"):
        train_with_sgd(ScriptedModel([2.0, float("nan")]), [[0]], [[1]], nepoch=2,
                       evaluate_loss_after=1, log=quiet)


def test_training_on_a_markov_corpus_lowers_the_loss_as_numpy_does(full_model):
    X, Y = markov_corpus(100, 12, seed=0)
    theano = RNNTheano(12, 6, bptt_truncate=-1, dtype="float64", seed=0)
    reference = RNNNumpy(12, 6, bptt_truncate=-1, seed=0)
    kwargs = dict(learning_rate=0.05, nepoch=5, evaluate_loss_after=1, log=quiet)
    losses, _ = train_with_sgd(theano, X, Y, **kwargs)
    reference_losses, _ = train_with_sgd(reference, X, Y, **kwargs)
    final = theano.calculate_loss(X, Y)
    assert abs(losses[0][1] - np.log(12)) < 0.05
    assert final < 0.5 * losses[0][1]             # ln 12 = 2.48 -> about 1.0 (chain entropy ~0.7)
    np.testing.assert_allclose([l for _, l in losses], [l for _, l in reference_losses], rtol=1e-10)
    assert final == pytest.approx(reference.calculate_loss(X, Y), rel=1e-10)


# ---- the tutorial's parameter files ---------------------------------------------------------------

def test_save_then_load_round_trips_bit_for_bit(tmp_path, full_model, weights):
    full_model.set_params(weights)
    path = tmp_path / "model"                        # no .npz suffix: written exactly here
    save_model_parameters_theano(path, full_model, log=quiet)
    assert path.exists() and set(np.load(path).files) == {"U", "V", "W"}
    loaded = load_model_parameters_theano(path, log=quiet)
    assert isinstance(loaded, RNNTheano) and loaded.dtype == "float64"
    for name, value in loaded.get_params().items():
        assert value.dtype == weights[name].dtype
        assert value.tobytes() == weights[name].tobytes()
    same_size = RNNNumpy(C, H, seed=1)
    assert load_model_parameters_theano(path, same_size, log=quiet) is same_size
    np.testing.assert_array_equal(same_size.W, weights["W"])


def test_loading_a_file_of_another_size_builds_that_size(tmp_path, full_model, weights):
    other = RNNNumpy(C + 2, H + 2, seed=0)
    path = tmp_path / "bigger.npz"
    save_model_parameters_theano(path, other, log=quiet)
    full_model.set_params(weights)
    log = []
    loaded = load_model_parameters_theano(path, full_model, log=log.append)
    assert loaded is not full_model and isinstance(loaded, RNNTheano)
    assert (loaded.word_dim, loaded.hidden_dim) == (C + 2, H + 2)
    assert loaded.bptt_truncate == full_model.bptt_truncate
    np.testing.assert_array_equal(loaded.get_params()["U"], other.U)
    np.testing.assert_array_equal(full_model.get_params()["U"], weights["U"])   # untouched
    assert "building a new RNNTheano" in log[0]
    fresh = load_model_parameters_theano(path, log=quiet)
    assert fresh.U.get_value().shape == (H + 2, C + 2)


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("case, message", [
    ("absent", "no such checkpoint file"),
    ("not_npz", "not a readable .npz"),
    ("missing_key", "missing array W"),
    ("u_not_2d", "U should be a 2-D matrix"),
    ("v_shape", "V has shape (5, 10)"),
    ("w_shape", "W has shape (5, 4)"),
    ("ints", "U should hold floats"),
    ("nan", "V contains NaN"),
    ("pickled", "refused to load"),
])
def test_bad_files_raise_checkpoint_error(tmp_path, case, message):
    rng = np.random.RandomState(0)
    U, V, W = rng.rand(H, C), rng.rand(C, H), rng.rand(H, H)
    path = tmp_path / f"{case}.npz"
    if case == "not_npz":
        path.write_text("U V W, but as text")
    elif case == "missing_key":
        _write(path, U=U, V=V)
    elif case == "u_not_2d":
        _write(path, U=U.ravel(), V=V, W=W)
    elif case == "v_shape":
        _write(path, U=U, V=V.T, W=W)
    elif case == "w_shape":
        _write(path, U=U, V=V, W=W[:, :4])
    elif case == "ints":
        _write(path, U=np.ones((H, C), dtype=np.int64), V=V, W=W)
    elif case == "nan":
        V[2, 3] = np.nan
        _write(path, U=U, V=V, W=W)
    elif case == "pickled":
        _write(path, U=np.array([{"a": 1}], dtype=object), V=V, W=W)
    with pytest.raises(CheckpointError) as info:
        load_model_parameters_theano(path, log=quiet)
    assert str(path) in str(info.value)
    assert message in str(info.value)


@pytest.mark.skipif(not PRETRAINED.exists(), reason=f"{PRETRAINED} not present")
def test_the_tutorials_pretrained_model_loads_and_predicts_distributions():
    model = load_model_parameters_theano(PRETRAINED, log=quiet)
    assert model.U.get_value().shape == (50, 8000)
    assert (model.word_dim, model.hidden_dim) == (8000, 50)
    assert model.dtype == "float32"
    o = model.predict_proba([0, 17, 5, 1200, 3])
    assert o.shape == (5, 8000)
    assert np.all(o >= 0)
    np.testing.assert_allclose(o.sum(axis=1), 1.0, rtol=0, atol=1e-5)
    # trained, not uniform: the model is confident about some next words
    assert o.max() > 10 / 8000


# ---- checkpoint protocol --------------------------------------------------------------------------

def test_get_set_params_and_constructor_protocol(full_model, weights):
    params = full_model.get_params()
    params["W"][0, 0] += 1.0                          # get_params returns copies
    assert full_model.W.get_value()[0, 0] != params["W"][0, 0]
    full_model.set_params(weights)
    np.testing.assert_array_equal(full_model.get_params()["W"], weights["W"])
    with pytest.raises(ValueError, match="'U' has shape"):
        full_model.set_params({**weights, "U": np.zeros((C, H))})
    with pytest.raises(ValueError, match="missing parameter 'V'"):
        full_model.set_params({"U": weights["U"], "W": weights["W"]})
    assert full_model.hparams() == {"word_dim": C, "hidden_dim": H, "bptt_truncate": -1}
    assert RNNTheano.model_type == "RNNTheano" and RNNNumpy.model_type == "RNNNumpy"
    rebuilt = RNNTheano(**full_model.hparams(), mode="c", dtype="float64")
    assert rebuilt.hparams() == full_model.hparams()
