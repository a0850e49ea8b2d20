"""theano_compat: Theano's API on PyTensor, and ``rnnlm run-theano``.

- Every name the layer maps is checked against its definition in numpy (one graph per group, compiled
  with the python backend: these checks are about the graph, not the backend); so are the details a change
  of the layer could lose silently (defaults of 0, inputs called by name, ``go_backwards``, scan's taps).
- Theano-style models (``tests/theano_style/``: the tutorial's vanilla RNN and two-layer GRU, written
  only against Theano's API) agree with the project's ``RNNTheano`` and ``GRUTheano`` on the same
  weights: outputs, losses, gradients, and their SGD / RMSprop steps against the update rules (C, float64).
- ``import theano`` before and after ``install()``, and with a real Theano on the path, in subprocesses.
- ``rnnlm run-theano`` on a small script with a sibling import and its own argv, on C and JAX (fresh
  processes), and the one-line errors (uncovered API, Python 2 file, real Theano) through the command.
"""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import theano_compat
from lmkit.errors import RNNLMError
from theano_compat import NotProvidedError, TheanoTypeError, TheanoValueError
from theano_compat.settings import function_mode

from .conftest import REPO

pytestmark = pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS")

theano = theano_compat.theano
T = theano_compat.tensor
C, H = 8, 4
X = [0, 3, 7, 3, 5, 1]       # a sentence with a repeated word
Y = [3, 7, 3, 5, 1, 2]       # its next words
STYLE = REPO / "tests" / "theano_style"
RUN = "from rnnlm.cli import main; main()"


def compiled(inputs, outputs, **kwargs):
    return theano.function(inputs, outputs, mode="FAST_COMPILE", **kwargs)


def close(a, b, tol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


# ------------------------------------------------------------------------------------------------
# Each mapped function against its definition
# ------------------------------------------------------------------------------------------------
def test_nnet_functions_match_theanos_definitions():
    rng = np.random.RandomState(0)
    v, m = rng.randn(5) * 3, rng.randn(3, 5) * 3
    p = np.exp(m) / np.exp(m).sum(1, keepdims=True)
    q = rng.dirichlet(np.ones(5), size=3)
    y = np.array([4, 0, 2], dtype=np.int32)
    sv, sm, sp, sq, sy = T.dvector("v"), T.dmatrix("m"), T.dmatrix("p"), T.dmatrix("q"), T.ivector("y")
    nnet = T.nnet
    outs = [nnet.softmax(sv), nnet.softmax(sm), nnet.sigmoid(sm), nnet.hard_sigmoid(sm), nnet.relu(sm),
            nnet.relu(sm, 0.1), nnet.softplus(sm), nnet.categorical_crossentropy(sp, sy),
            nnet.categorical_crossentropy(sp, sq), nnet.binary_crossentropy(nnet.sigmoid(sm), sq)]
    got = compiled([sv, sm, sp, sq, sy], outs)(v, m, p, q, y)
    sig = 1 / (1 + np.exp(-m))
    expected = [np.exp(v)[None] / np.exp(v).sum(), p, sig, np.clip(0.2 * m + 0.5, 0, 1), np.maximum(m, 0),
                np.where(m > 0, m, 0.1 * m), np.log1p(np.exp(m)), -np.log(p[np.arange(3), y]),
                -(q * np.log(p)).sum(1), -(q * np.log(sig) + (1 - q) * np.log(1 - sig))]
    assert got[0].shape == (1, 5)  # Theano's softmax turns a vector into a one-row matrix
    for g, e in zip(got, expected):
        close(g, e)
    # One-hot targets give the same as integer targets, as in Theano.
    onehot = np.eye(5)[y]
    close(compiled([sp, sq], nnet.categorical_crossentropy(sp, sq))(p, onehot), expected[7])


def test_hard_sigmoid_dtype_and_gradient_as_theano():
    assert T.nnet.hard_sigmoid(T.fvector()).dtype == "float32"
    assert T.nnet.hard_sigmoid(T.ivector()).dtype == "float64"   # Theano's upgrade_to_float
    assert T.nnet.hard_sigmoid(T.bvector()).dtype == "float32"
    x = T.dvector("x")
    a = np.array([-4.0, -1.0, 0.0, 1.0, 3.0])
    g = compiled([x], T.grad(T.sum(T.nnet.hard_sigmoid(x)), x))(a)
    close(g, [0.0, 0.2, 0.2, 0.2, 0.0])                          # flat where it saturates


def test_nnet_refuses_what_theano_refused():
    with pytest.raises(TheanoValueError, match="1-d or 2-d"):
        T.nnet.softmax(T.tensor3())
    with pytest.raises(TheanoValueError):
        T.nnet.softmax(T.ivector())
    with pytest.raises(TheanoTypeError, match="matrix required"):
        T.nnet.categorical_crossentropy(T.dvector(), T.iscalar())
    with pytest.raises(TheanoTypeError, match="integer vector required"):
        T.nnet.categorical_crossentropy(T.dmatrix(), T.dvector())
    with pytest.raises(TheanoTypeError, match="rank mismatch"):
        T.nnet.categorical_crossentropy(T.dmatrix(), T.dtensor3())


def test_tensor_names_match_numpy():
    rng = np.random.RandomState(1)
    a, b = rng.randn(3, 4), rng.randn(3, 4)
    pos, w, iv = np.abs(a) + 0.1, rng.randn(4, 2), np.array([1, 2], dtype=np.int32)
    sa, sb, sp, sw, si = T.dmatrix("a"), T.dmatrix("b"), T.dmatrix("p"), T.dmatrix("w"), T.ivector("i")
    cases = [
        (T.tanh(sa), np.tanh(a)), (T.exp(sa), np.exp(a)), (T.log(sp), np.log(pos)), (T.sqrt(sp), np.sqrt(pos)),
        (T.sqr(sa), a ** 2), (T.abs_(sa), np.abs(a)), (T.maximum(sa, sb), np.maximum(a, b)),
        (T.minimum(sa, sb), np.minimum(a, b)), (T.clip(sa, -0.5, 0.5), np.clip(a, -0.5, 0.5)),
        (T.switch(T.gt(sa, sb), sa, sb), np.where(a > b, a, b)), (T.eq(sa, sa), a == a), (T.neq(sa, sb), a != b),
        (T.ge(sa, sb), a >= b), (T.lt(sa, sb), a < b), (T.le(sa, sb), a <= b),
        (T.sum(sa), a.sum()), (T.sum(sa, axis=1), a.sum(1)), (T.mean(sa, axis=0), a.mean(0)), (T.max(sa), a.max()),
        (T.min(sa, axis=1), a.min(1)), (T.argmax(sa, axis=1), a.argmax(1)), (T.argmax(sa), a.argmax()),
        (T.argmin(sa, axis=0), a.argmin(0)), (T.dot(sa, sw), a @ w), (sa.dot(sw), a @ w),
        (T.zeros((2, 3)), np.zeros((2, 3))), (T.ones(3), np.ones(3)), (T.zeros_like(sa), np.zeros_like(a)),
        (T.ones_like(sa), np.ones_like(a)), (T.arange(5), np.arange(5)), (T.arange(1, 7, 2), np.arange(1, 7, 2)),
        (T.concatenate([sa, sb], axis=1), np.concatenate([a, b], 1)), (T.stack([sa, sb]), np.stack([a, b])),
        (T.stack(sa, sb), np.stack([a, b])), (T.cast(sa, "int32"), a.astype("int32")),
        (T.shape_padleft(si, 1), iv[None]), (T.constant(2.5) * sa, 2.5 * a), (T.as_tensor_variable(iv), iv),
    ]
    got = compiled([sa, sb, sp, sw, si], [c[0] for c in cases], on_unused_input="ignore")(a, b, pos, w, iv)
    for (var, want), g in zip(cases, got):
        assert np.asarray(g).shape == np.shape(want), var
        close(g, want)
    assert T.cast(sa, "int32").dtype == "int32"
    assert T.zeros(3).dtype == T.scalar().dtype == theano.config.floatX   # floatX defaults, as in Theano
    assert (T.ivector().dtype, T.imatrix().ndim, T.ftensor3().dtype, T.tensor3().ndim) == ("int32", 2, "float32", 3)


def test_gradient_functions():
    x, w = T.dvector("x"), T.dvector("w")
    a, b = np.array([-2.0, 0.3, 1.5]), np.array([3.0, -0.5, -4.0])
    cost = T.sum(T.tanh(x) * w)
    outs = [T.grad(cost, x), theano.grad(cost, x), theano.gradient.grad(cost, w),
            T.grad(T.sum(theano.gradient.grad_clip(x, -1.0, 1.0) * w), x),
            T.grad(T.sum(theano.gradient.disconnected_grad(x) * x), x),
            T.grad(T.sum(theano.gradient.zero_grad(x) * x), x)]
    got = compiled([x, w], outs)(a, b)
    d = (1 - np.tanh(a) ** 2) * b
    for g, e in zip(got, [d, d, np.tanh(a), np.clip(b, -1, 1), a, a]):
        close(g, e)


def test_scan_returns_the_pair_with_none_and_dict_outputs_info():
    x, s0 = T.dvector("x"), T.dscalar("s0")
    (doubled, total), updates = theano.scan(lambda x_t, acc: [2 * x_t, acc + x_t], sequences=x,
                                            outputs_info=[None, dict(initial=s0)])
    assert len(updates) == 0 and hasattr(updates, "items")
    one, _ = theano.scan(lambda x_t: x_t + 1, sequences=x)          # one output: a variable, not a list
    mapped, _ = theano.map(lambda x_t: x_t ** 2, sequences=x)
    # truncate_gradient=k: only the last k steps send gradient (with the output inside the loop).
    decayed, _ = theano.scan(lambda x_t, acc: acc * 0.5 + x_t, sequences=x, outputs_info=[dict(initial=s0)],
                             truncate_gradient=2)
    a = np.array([1.0, 2.0, 3.0])
    got = compiled([x, s0], [doubled, total, one, mapped, T.grad(decayed[-1], x)])(a, 10.0)
    for g, e in zip(got, [2 * a, 10 + np.cumsum(a), a + 1, a ** 2, [0.0, 0.5, 1.0]]):
        close(g, e)
    with pytest.raises(NotProvidedError, match="return_steps"):
        theano.scan(lambda x_t, acc: acc + x_t, sequences=x, outputs_info=[dict(initial=s0, return_steps=1)])


def test_function_param_defaults_keywords_and_theanos_call_errors():
    x, lr, decay = T.dscalar("x"), T.dscalar("lr"), T.dscalar("decay")
    f = compiled([x, theano.Param(lr, default=0.5), theano.In(decay, value=0.9)], x * 100 + lr * 10 + decay)
    close(f(1.0), 105.9)
    close(f(1.0, 0.2), 102.9)
    close(f(1.0, decay=0.1), 105.1)                     # by name, the trailing default of lr kept
    close(f(x=2.0, lr=0.0, decay=0.0), 200.0)
    assert f["decay"] == 0.9
    f["decay"] = 0.3
    close(f(1.0), 105.3)
    with pytest.raises(TypeError, match="Missing required input: x"):
        f(lr=1.0)
    with pytest.raises(TypeError, match="Multiple values for input: lr"):
        f(1.0, 0.5, lr=0.5)
    with pytest.raises(TypeError, match="Too many parameters"):
        f(1.0, 2.0, 3.0, 4.0)
    with pytest.raises(TypeError, match="Unknown input or state: rate"):
        f(1.0, rate=3.0)
    with pytest.raises(NotProvidedError, match="theano.shared"):
        theano.In(x, value=1.0, update=x + 1)
    assert f.maker is f.pytensor_function.maker        # the rest is PyTensor's function


def test_function_updates_shared_and_modes():
    s = theano.shared(np.zeros(2), name="s")
    step = T.dvector("step")
    f = compiled([step], s.sum(), updates=[(s, s + step)])
    f(np.ones(2))
    close(f(np.ones(2)), 2.0)
    close(s.get_value(), [2.0, 2.0])
    saved = theano_compat.default_mode()
    try:
        theano_compat.set_default_mode("python")
        assert function_mode(None) == function_mode("FAST_RUN") == "FAST_COMPILE"
        theano_compat.set_default_mode("c")
        assert function_mode(None) == "CVM" and function_mode("jax") == "JAX"
        assert function_mode("FAST_COMPILE") == "FAST_COMPILE"
        with pytest.raises(TheanoValueError, match="unknown backend"):
            theano_compat.set_default_mode("gpu")
        with pytest.raises(NotProvidedError, match="profile=True"):
            function_mode("ProfileMode")
    finally:
        theano_compat.set_default_mode(saved)


def test_the_backends_are_lmkits_own_table(monkeypatch):
    from lmkit.backend import MODES

    saved = theano_compat.default_mode()
    try:
        for name, pytensor_mode in MODES.items():       # every --mode name, as default and as mode=
            theano_compat.set_default_mode(name.upper())
            assert theano_compat.default_mode() == name
            assert function_mode(None) == function_mode("FAST_RUN") == function_mode(name) == pytensor_mode
        # The layer reads lmkit's table itself (no copy): a backend added there is accepted at once.
        monkeypatch.setitem(MODES, "reference", "FAST_COMPILE")
        theano_compat.set_default_mode("reference")
        assert function_mode(None) == "FAST_COMPILE"
    finally:
        theano_compat.set_default_mode(saved)


def test_config_floatx_reads_and_sets_pytensor():
    import pytensor

    assert theano.config.floatX == pytensor.config.floatX
    saved = pytensor.config.floatX
    try:
        theano.config.floatX = "float32"
        assert pytensor.config.floatX == "float32" and T.scalar().dtype == "float32"
    finally:
        pytensor.config.floatX = saved
    with pytest.raises(NotProvidedError, match="--mode jax"):
        theano.config.device


def test_uncovered_names_raise_one_line_naming_the_replacement():
    for get, name, hint in [(lambda: theano.sandbox, "theano.sandbox", "--mode jax"),
                            (lambda: T.nnet.conv2d, "theano.tensor.nnet.conv2d", "pytensor.tensor.signal"),
                            (lambda: T.nnet.logsoftmax, "theano.tensor.nnet.logsoftmax", "log_softmax"),
                            (lambda: theano.ifelse, "theano.ifelse", "pytensor.ifelse.ifelse"),
                            (lambda: T.tensordot, "theano.tensor.tensordot", "pytensor.tensor.tensordot"),
                            (lambda: theano.gradient.nosuch, "theano.gradient.nosuch", "no PyTensor counterpart")]:
        with pytest.raises(NotProvidedError) as info:
            get()
        message = str(info.value)
        assert message.startswith(name + ": not provided") and hint in message and "\n" not in message
        assert isinstance(info.value, RNNLMError) and isinstance(info.value, AttributeError)
    assert not hasattr(T.nnet, "conv2d") and hasattr(T.nnet, "softmax")
    assert "compat" in theano.__version__
    assert theano.tensor is T and T.nnet is theano_compat.nnet and theano.gradient is theano_compat.gradient


# ------------------------------------------------------------------------------------------------
# Semantics a change of the layer could lose without any test above noticing
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def zero_defaults():
    """``x * 100 + lr * 10 + decay``: lr a ``Param`` named rate with default 0, decay an ``In`` named
    decay_rate with value 0 (one compile for the tests below)."""
    x, lr, decay = T.dscalar("x"), T.dscalar("lr"), T.dscalar("decay")
    return compiled([x, theano.Param(lr, default=0, name="rate"), theano.In(decay, value=0, name="decay_rate")],
                    x * 100 + lr * 10 + decay)


def test_a_param_default_of_zero_is_a_default(zero_defaults):
    close(zero_defaults(1.0, decay_rate=3.0), 103.0)             # rate left out: 0
    assert zero_defaults["rate"] == 0


def test_an_in_value_of_zero_is_a_default(zero_defaults):
    close(zero_defaults(1.0, 2.0), 120.0)                         # decay_rate left out: 0
    assert zero_defaults["decay_rate"] == 0


def test_params_and_ins_are_called_by_the_name_they_were_given(zero_defaults):
    close(zero_defaults(x=1.0, rate=2.0, decay_rate=3.0), 123.0)
    with pytest.raises(TypeError, match="Unknown input or state: lr"):   # the variable's own name is not it
        zero_defaults(1.0, lr=2.0)


SEQ = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
A0 = np.array([1.0, 3.0])                                          # a[-2], a[-1]


@pytest.fixture(scope="module")
def recurrences():
    """One compiled function, three loops over SEQ whose results depend on direction, taps and their order."""
    x, a0 = T.dvector("x"), T.dvector("a0")
    backwards, _ = theano.map(lambda x_t: x_t ** 2 + x_t, sequences=x, go_backwards=True)
    every_other, _ = theano.scan(lambda x_t, a_tm2: a_tm2 + x_t, sequences=x,
                                 outputs_info=[dict(initial=a0, taps=[-2])])
    fibonacci_like, _ = theano.scan(lambda a_tm1, a_tm2: a_tm1 + 2 * a_tm2, n_steps=len(SEQ),
                                    outputs_info=[dict(initial=a0, taps=[-1, -2])])
    got = compiled([x, a0], [backwards, every_other, fibonacci_like])(SEQ, A0)
    return dict(zip(("backwards", "every_other", "fibonacci_like"), got))


def test_map_go_backwards_runs_from_the_last_element(recurrences):
    close(recurrences["backwards"], (SEQ ** 2 + SEQ)[::-1])


def test_scan_taps_minus_two_feeds_back_the_output_two_steps_before(recurrences):
    a = list(A0)
    for x_t in SEQ:
        a.append(a[-2] + x_t)                                      # a_t = a_{t-2} + x_t: two interleaved sums
    close(recurrences["every_other"], a[2:])


def test_scan_taps_are_passed_to_the_step_in_the_order_given(recurrences):
    a = list(A0)
    for _ in SEQ:
        a.append(a[-1] + 2 * a[-2])                                # a_t = a_{t-1} + 2 a_{t-2}, from 1, 3
    close(recurrences["fibonacci_like"], a[2:])


# ------------------------------------------------------------------------------------------------
# Theano-style models against the project's own
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def style():
    """The modules in tests/theano_style, imported the way a Theano-era script is: with ``import theano``.

    The layer is installed only while they are imported (they keep what they imported), compiling on C.
    """
    saved = theano_compat.default_mode()
    theano_compat.set_default_mode("c")
    assert theano_compat.install()
    modules = {}
    try:
        for name in ("rnn_style", "gru_style"):
            spec = importlib.util.spec_from_file_location(f"theano_style_{name}", STYLE / f"{name}.py")
            modules[name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(modules[name])
    finally:
        theano_compat.uninstall()
    yield modules
    theano_compat.set_default_mode(saved)


def test_theano_style_rnn_agrees_with_rnn_theano(style):
    from rnn_theano import RNNTheano

    project = RNNTheano(C, H, bptt_truncate=-1, dtype="float64", mode="c", seed=0)
    model = style["rnn_style"].RNNTheanoStyle(C, H, bptt_truncate=-1, seed=1)
    params = project.get_params()
    for name in ("U", "V", "W"):
        getattr(model, name).set_value(params[name])
    x, y = np.array(X, dtype=np.int32), np.array(Y, dtype=np.int32)
    close(model.forward_propagation(x), project.forward_propagation(x))
    np.testing.assert_array_equal(model.predict(x), project.predict(x))
    close(model.ce_error(x, y), project.ce_error(x, y))
    close(model.ce_error(x[:1], y[:1]), project.ce_error(x[:1], y[:1]))      # a one-word sentence
    for g, e in zip(model.bptt(x[:1], y[:1]), project.bptt(x[:1], y[:1])):
        close(g, e)
    grads = project.bptt(x, y)
    for g, e in zip(model.bptt(x, y), grads):
        close(g, e)
    model.sgd_step(x, y, 0.05)                           # p <- p - lr * dL/dp
    for name, g in zip(("U", "V", "W"), grads):
        close(getattr(model, name).get_value(), params[name] - 0.05 * g)


def test_theano_style_gru_agrees_with_gru_theano(style):
    from gru_theano import GRUTheano

    project = GRUTheano(C, hidden_dim=H, num_layers=2, dtype="float64", mode="c", seed=0)
    params = project.get_params()
    rng = np.random.RandomState(3)
    params["b"] = rng.uniform(-3, 3, params["b"].shape)   # wide enough that some hard-sigmoid gates saturate
    params["c"] = rng.uniform(-1, 1, params["c"].shape)
    project.set_params(params)
    names = ("E", "U", "W", "b", "V", "c")
    model = style["gru_style"].GRUTheanoStyle(C, H, seed=1)
    for name in names:
        getattr(model, name).set_value(params[name])
    x, y = np.array(X, dtype=np.int32), np.array(Y, dtype=np.int32)
    close(model.predict(x), project.predict(x))
    np.testing.assert_array_equal(model.predict_class(x), np.argmax(project.predict(x), axis=1))
    close(model.ce_error(x, y), project.ce_error(x, y))
    grads = dict(zip(names, project.bptt(x, y)))
    for name, g in zip(names, model.bptt(x, y)):
        close(g, grads[name])
    # RMSprop: decay from theano.Param's default (0.9), then given by name (0.5), against the rule
    # m <- decay m + (1 - decay) g^2;  p <- p - lr g / sqrt(m + 1e-6).
    caches = {name: np.zeros_like(params[name]) for name in names}
    steps = [(0.9, lambda: model.sgd_step(x, y, 0.01)), (0.5, lambda: model.sgd_step(x, y, 0.01, decay=0.5))]
    for decay, call in steps:
        current = {name: getattr(model, name).get_value() for name in names}
        project.set_params({**current, **{"m" + n: caches[n] for n in names}})
        grads = dict(zip(names, project.bptt(x, y)))
        call()
        for name in names:
            caches[name] = decay * caches[name] + (1 - decay) * grads[name] ** 2
            close(getattr(model, "m" + name).get_value(), caches[name])
            close(getattr(model, name).get_value(), current[name] - 0.01 * grads[name] / np.sqrt(caches[name] + 1e-6))


# ------------------------------------------------------------------------------------------------
# install(): `import theano` in fresh processes
# ------------------------------------------------------------------------------------------------
def python(code, env=None, cwd=REPO):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=300)


def test_import_theano_fails_before_install_and_works_after():
    proc = python("""
        import json, sys
        out = {}
        try:
            import theano
            out["before"] = "imported"
        except ModuleNotFoundError:
            out["before"] = "missing"
        from theano_compat import install, uninstall
        out["models"] = sorted(m for m in sys.modules if m.split(".")[0] in ("rnnlm", "rnn_theano", "gru_theano"))
        out["installed"] = install()
        import theano
        import theano.tensor as T
        from theano import tensor as T2
        import theano.tensor.nnet
        import theano.gradient
        from theano.tensor.nnet import softmax, categorical_crossentropy
        out["same"] = T is T2 and theano.tensor.nnet is T.nnet and softmax is T.nnet.softmax
        out["version"] = theano.__version__
        for stmt in ["import theano.sandbox.cuda", "from theano.tensor.nnet import conv2d",
                     "from theano.sandbox.rng_mrg import MRG_RandomStreams"]:
            try:
                exec(stmt)
                out[stmt] = "imported"
            except ImportError as exc:
                out[stmt] = str(exc)
        uninstall()
        try:
            import theano.tensor
            out["after"] = "imported"
        except ModuleNotFoundError:
            out["after"] = "missing"
        print(json.dumps(out))
    """)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["before"] == "missing" and out["installed"] is True and out["same"] is True
    assert out["models"] == []                                   # the layer never imports the project's models
    assert "compat" in out["version"] and out["after"] == "missing"
    assert out["import theano.sandbox.cuda"].startswith("theano.sandbox.cuda: not provided")
    assert "--mode jax" in out["import theano.sandbox.cuda"]
    assert "pytensor.tensor.signal" in out["from theano.tensor.nnet import conv2d"]
    assert "RandomStream" in out["from theano.sandbox.rng_mrg import MRG_RandomStreams"]


def test_install_never_hides_a_real_theano(tmp_path):
    (tmp_path / "theano").mkdir()
    (tmp_path / "theano" / "__init__.py").write_text("REAL = True\n")
    proc = python("""
        import json, warnings
        from theano_compat import install, is_installed
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ok = install()
        import theano
        print(json.dumps({"ok": ok, "real": getattr(theano, "REAL", False), "installed": is_installed(),
                          "warning": [str(w.message) for w in caught]}))
    """, env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is False and out["real"] is True and out["installed"] is False
    assert "a real Theano is importable" in out["warning"][0]


# ------------------------------------------------------------------------------------------------
# rnnlm run-theano
# ------------------------------------------------------------------------------------------------
TRAIN_SCRIPT = '''\
"""A tiny Theano-era training script: the tutorial's RNN, SGD on one sentence."""
import sys

import numpy as np
import theano
import theano.tensor as T
from utils import sentence            # a module beside the script, named as in the tutorial

steps = int(sys.argv[1])
C, H = 5, 3
rng = np.random.RandomState(0)
U = theano.shared(rng.uniform(-0.5, 0.5, (H, C)).astype(theano.config.floatX), name='U')
V = theano.shared(rng.uniform(-0.5, 0.5, (C, H)).astype(theano.config.floatX), name='V')
W = theano.shared(rng.uniform(-0.5, 0.5, (H, H)).astype(theano.config.floatX), name='W')
x = T.ivector('x')
y = T.ivector('y')

def step(x_t, s_prev, U, V, W):
    s_t = T.tanh(U[:, x_t] + W.dot(s_prev))
    return [T.nnet.softmax(V.dot(s_t))[0], s_t]

[o, s], updates = theano.scan(step, sequences=x, outputs_info=[None, dict(initial=T.zeros(H))],
                              non_sequences=[U, V, W], truncate_gradient=-1, strict=True)
cost = T.sum(T.nnet.categorical_crossentropy(o, y))
lr = T.scalar('lr')
grads = T.grad(cost, [U, V, W])
train = theano.function([x, y, theano.Param(lr, default=0.1)], cost,
                        updates=[(p, p - lr * g) for p, g in zip([U, V, W], grads)])
xs, ys = sentence()
losses = [float(train(xs, ys)) for _ in range(steps)]
print(repr({"name": __name__, "argv": sys.argv[1:], "losses": losses, "floatX": theano.config.floatX,
            "linker": type(train.maker.linker).__name__}))
'''


def run_command(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-c", RUN, "run-theano", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


@pytest.fixture
def script(tmp_path):
    (tmp_path / "utils.py").write_text("def sentence():\n    return [0, 3, 1, 4, 2], [3, 1, 4, 2, 1]\n")
    (tmp_path / "train_tiny.py").write_text(TRAIN_SCRIPT)
    return tmp_path / "train_tiny.py"


def test_run_theano_runs_a_script_on_c_and_jax(script):
    import ast

    results = {}
    for mode in ("c", "jax"):
        if mode == "jax" and importlib.util.find_spec("jax") is None:
            continue
        proc = run_command("--mode", mode, "--floatX", "float64", script, 3, "--flag-of-the-script")
        assert proc.returncode == 0, proc.stderr
        results[mode] = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
        out = results[mode]
        assert out["name"] == "__main__" and out["argv"] == ["3", "--flag-of-the-script"]
        assert out["floatX"] == "float64" and ("JAX" in out["linker"]) == (mode == "jax")
        assert len(out["losses"]) == 3 and out["losses"][0] > out["losses"][1] > out["losses"][2]
    if "jax" in results:
        np.testing.assert_allclose(results["jax"]["losses"], results["c"]["losses"], rtol=1e-10)


def in_process(argv, capsys):
    """``rnnlm run-theano ARGV`` in this process: (exit status, stdout, stderr)."""
    from rnnlm.cli import main

    try:
        main(["run-theano", *map(str, argv)])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_run_theano_script_imports_its_own_rnn_theano_not_the_projects(tmp_path, capsys):
    import rnn_theano  # the project's package, imported in this process before the script runs

    (tmp_path / "rnn_theano.py").write_text("ORIGIN = 'beside the script'\n")
    (tmp_path / "main.py").write_text("import theano\nfrom rnn_theano import ORIGIN\nprint(ORIGIN)\n")
    code, out, err = in_process([tmp_path / "main.py"], capsys)
    assert code == 0, err
    assert out.strip() == "beside the script"
    assert sys.modules["rnn_theano"] is rnn_theano and "theano" not in sys.modules   # all as it was


@pytest.mark.parametrize("body, expected", [
    ("import theano\nimport theano.sandbox.cuda\n", "error: theano.sandbox.cuda: not provided"),
    ("import theano.tensor as T\nx = T.dmatrix()\ny = T.nnet.conv2d(x, x)\n", "error: theano.tensor.nnet.conv2d: not"),
    ("print 'hello'\n", "not Python 3 (Missing parentheses in call to 'print'"),
])
def test_run_theano_errors_are_one_line(tmp_path, capsys, body, expected):
    path = tmp_path / "old.py"
    path.write_text(body)
    code, _, err = in_process([path], capsys)
    assert code == 2 and expected in err and err.count("\n") == 1, err
    assert not theano_compat.is_installed() and "theano" not in sys.modules   # the command cleans up


@pytest.mark.parametrize("where", ["on sys.path", "beside the script"])
def test_run_theano_refuses_to_hide_a_real_theano(tmp_path, monkeypatch, capsys, where):
    (tmp_path / "theano").mkdir()
    (tmp_path / "theano" / "__init__.py").write_text("REAL = True\n")
    folder = tmp_path if where == "beside the script" else tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    (folder / "s.py").write_text("import theano\n")
    if where == "on sys.path":
        monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = in_process([folder / "s.py"], capsys)
    assert code == 2 and "a real Theano is importable" in err and err.count("\n") == 1
    assert "theano" not in sys.modules
