"""The twin packages keep one contract: ``rnn_theano`` (Part 2) and ``gru_theano`` (Part 4).

Every check runs against both packages, with a small float64 model of each (module-scoped, so each
package compiles its per-sentence functions once): the same file names and exports, gradient checks that
return the same types, one ``train_with_sgd`` shape and callback, the same input validation and empty
sentences, the same errors, and both registered in :mod:`lmkit.registry`.
"""
import importlib
import inspect
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from lmkit import gradcheck
from lmkit.errors import TrainingError
from lmkit.registry import FORMATS, MODELS
from lmkit.tutorial_loop import Progress

C, H = 8, 4
X = [[0, 3, 5, 2], [1, 4], [6, 2, 7], [5]]
Y = [[3, 5, 2, 1], [4, 0], [2, 7, 1], [6]]
SHARED_FILES = {"__init__.py", "gradient_check.py", "train.py", "original_format.py"}
SHARED_NAMES = {  # module -> names it defines, exported by the package too
    "gradient_check": ["gradient_check", "gradient_check_theano", "gradient_errors", "numerical_gradients"],
    "train": ["train_with_sgd"],
    "original_format": ["save_model_parameters_theano", "load_model_parameters_theano", "read_model_parameters"],
}


def quiet(*args):
    pass


def rnn_twin():
    from rnn_theano import RNNTheano
    return SimpleNamespace(name="rnn_theano", model=RNNTheano(C, H, bptt_truncate=-1, dtype="float64", seed=1),
                           sgd_args=(0.01,), train_kwargs={"nepoch": 2, "evaluate_loss_after": 1},
                           format="rnn-original", keys={"U", "V", "W"})


def gru_twin():
    from gru_theano import GRUTheano
    return SimpleNamespace(name="gru_theano", model=GRUTheano(C, hidden_dim=H, dtype="float64", seed=1),
                           sgd_args=(0.01,), train_kwargs={"nepoch": 1, "callback_every": 2},
                           format="gru-original", keys={"E", "U", "W", "V", "b", "c"})


@pytest.fixture(scope="module", params=[rnn_twin, gru_twin], ids=["rnn_theano", "gru_theano"])
def twin(request):
    twin = request.param()
    twin.package = importlib.import_module(twin.name)
    twin.initial = twin.model.get_params()
    return twin


@pytest.fixture
def model(twin):
    """The package's model with its initial weights, restored after the test (which may train it)."""
    twin.model.set_params(twin.initial)
    yield twin.model
    twin.model.set_params(twin.initial)


# ---- files and names ------------------------------------------------------------------------------

def test_the_same_files_and_exports(twin):
    folder = Path(twin.package.__file__).parent
    assert SHARED_FILES <= {p.name for p in folder.glob("*.py")}
    for module, names in SHARED_NAMES.items():
        submodule = importlib.import_module(f"{twin.name}.{module}")
        for name in names:
            assert name in twin.package.__all__, name
            assert getattr(twin.package, name) is getattr(submodule, name), name
    # Written once: the packages re-export lmkit's gradient checks.
    for name in ("gradient_check", "gradient_errors", "numerical_gradients"):
        assert getattr(twin.package, name) is getattr(gradcheck, name)


def test_the_tutorials_gradient_check_has_one_signature():
    import gru_theano
    import rnn_theano

    assert (inspect.signature(rnn_theano.gradient_check_theano)
            == inspect.signature(gru_theano.gradient_check_theano))


# ---- gradient checks ------------------------------------------------------------------------------

def test_gradient_check_theano_returns_true_for_a_correct_model(twin, model):
    messages = []
    assert twin.package.gradient_check_theano(model, X[0], Y[0], log=messages.append) is True
    names = list(model.trainable_params())
    assert messages[0].startswith(f"Performing gradient check for parameter {names[0]} with size ")
    assert messages[-1] == f"Gradient check for parameter {names[-1]} passed."


def test_gradient_errors_is_keyed_by_the_trainable_parameters(twin, model):
    errors = twin.package.gradient_errors(model, X[0], Y[0])
    assert list(errors) == list(model.trainable_params())
    assert all(isinstance(e, float) and e < 1e-3 for e in errors.values()), errors  # a wrong one: ~1


# ---- training -------------------------------------------------------------------------------------

def test_train_with_sgd_returns_losses_and_the_learning_rate(twin, model):
    seen = []
    losses, lr = twin.package.train_with_sgd(model, X, Y, learning_rate=0.01, log=quiet,
                                             callback=lambda m, progress: seen.append((m, progress)),
                                             **twin.train_kwargs)
    assert isinstance(losses, list) and len(losses) == 2 and isinstance(lr, float)
    for n, loss in losses:
        assert type(n) is int and type(loss) is float
    assert [m for m, _ in seen] == [model, model]
    assert all(type(p) is Progress for _, p in seen)
    assert [(p.num_examples_seen, p.loss) for _, p in seen] == losses
    assert all(p.learning_rate == lr for _, p in seen)


def test_train_with_sgd_refuses_bad_arguments(twin, model):
    with pytest.raises(ValueError, match="4 input sentences but 3 target sentences"):
        twin.package.train_with_sgd(model, X, Y[:3], log=quiet, **twin.train_kwargs)
    every = "evaluate_loss_after" if "evaluate_loss_after" in twin.train_kwargs else "callback_every"
    with pytest.raises(ValueError, match=every):
        twin.package.train_with_sgd(model, X, Y, log=quiet, **{**twin.train_kwargs, every: 0})


def test_a_loss_that_is_not_a_number_stops_training(twin, model):
    model.set_params({**model.get_params(), "V": np.full_like(twin.initial["V"], np.nan)})
    with pytest.raises(TrainingError, match="the loss became nan"):
        twin.package.train_with_sgd(model, X, Y, log=quiet, **twin.train_kwargs)


# ---- input validation -----------------------------------------------------------------------------

def test_the_same_inputs_are_refused(twin, model):
    for bad in ([0, C], [-1, 2]):
        with pytest.raises(ValueError, match="outside the vocabulary"):
            model.predict_proba(bad)
        with pytest.raises(ValueError, match="outside the vocabulary"):
            model.ce_error(bad, [1, 2])
    for call in (model.ce_error, model.bptt, lambda x, y: model.sgd_step(x, y, *twin.sgd_args)):
        with pytest.raises(ValueError, match="x has 2 words but y has 1"):
            call([1, 2], [3])
    with pytest.raises(ValueError, match="zero words"):
        model.calculate_loss([[]], [[]])
    with pytest.raises(ValueError, match="2 input sentences but 1 target"):
        model.calculate_total_loss([[1], [2]], [[2]])


def test_an_empty_sentence_has_no_outputs_no_loss_and_no_gradient(twin, model):
    assert model.predict_proba([]).shape == (0, C)
    assert model.ce_error([], []) == 0.0
    grads = model.bptt([], [])
    assert [g.shape for g in grads] == [p.get_value().shape for p in model.trainable_params().values()]
    assert not any(g.any() for g in grads)
    before = model.get_params()
    model.sgd_step([], [], *twin.sgd_args)
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(value, before[name])
    assert model.calculate_loss([[], X[0]], [[], Y[0]]) == pytest.approx(model.ce_error(X[0], Y[0]) / 4,
                                                                          rel=1e-12)


# ---- registry -------------------------------------------------------------------------------------

def test_registered_with_the_tutorials_file_format(twin, model, tmp_path):
    assert MODELS[model.model_type] is type(model)
    keys, load = FORMATS[twin.format]
    assert keys == twin.keys
    path = tmp_path / "original.npz"
    twin.package.save_model_parameters_theano(path, model, log=quiet)
    assert set(twin.package.read_model_parameters(path)) == twin.keys
    loaded = load(path)
    assert type(loaded) is type(model)
    for name in twin.keys:
        np.testing.assert_array_equal(loaded.get_params()[name], model.get_params()[name])


def test_loading_a_tutorial_file_through_the_registry_is_quiet(twin, model, tmp_path, capsys):
    path = tmp_path / "original.npz"
    twin.package.save_model_parameters_theano(path, model, log=quiet)
    FORMATS[twin.format][1](path, mode="c")
    assert capsys.readouterr().out == ""
