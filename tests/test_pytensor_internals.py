"""The PyTensor internals the project reaches into live behind one module (lmkit.pytensor_internals), and a
PyTensor upgrade that moves one of them fails here, naming it."""
import ast

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lmkit import pytensor_internals as internals

from .conftest import REPO

# Attribute names that only the adapter may use: PyTensor's compiled-function internals.
INTERNAL_NAMES = {"vm", "jit_fn", "maker", "input_storage", "trust_input", "fgraph", "storage_map"}


@pytest.mark.parametrize("mode", ["CVM", "JAX"])
def test_every_internal_the_project_uses_is_still_there(mode):
    if mode == "JAX":
        pytest.importorskip("jax")
    w = pytensor.shared(np.ones(3), name="w")
    x = pt.dvector("x")
    fn = pytensor.function([x], pt.sum(x * w), updates=[(w, w * 2)], mode=mode)
    assert internals.missing(fn) == [], f"PyTensor moved {internals.missing(fn)}: update lmkit/pytensor_internals.py"
    assert internals.shared_inputs(fn) == [False, True]
    assert internals.graph_ndims(fn)[0] == [1, 1]
    assert [cell[0] for cell in internals.shared_storage(fn)][0].shape == (3,)
    if mode == "JAX":
        program = internals.jax_program(fn)
        internals.replace_program(fn, lambda *args: tuple(2 * v for v in program(*args)))
        assert float(fn(np.ones(3))) == 6.0   # the replaced program ran: twice the sum
    else:
        with pytest.raises(TypeError, match="JAX mode"):
            internals.jax_program(fn)


def test_a_missing_internal_is_named():
    class Moved:
        maker = None

    assert "maker.fgraph.inputs" in internals.missing(Moved()) and "vm" in internals.missing(Moved())


def test_no_module_outside_the_adapter_names_the_internals():
    offenders = {}
    for package in ("lmkit", "rnnlm", "rnn_theano", "gru_theano", "theano_compat"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name == "pytensor_internals.py":
                continue
            names = {node.attr for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Attribute)}
            if names & INTERNAL_NAMES:
                offenders[str(path.relative_to(REPO))] = sorted(names & INTERNAL_NAMES)
    assert offenders == {}


def test_jax_scans_prefetch_their_inputs_and_give_lax_scans_results_with_gradients():
    """JAX mode's Scan runs prefetching_scan (installed by pytensor_mode), unrolled or not; a scan over two
    sequences with a carried state, and its gradient (a second, reversed scan), equal lax.scan's."""
    pytest.importorskip("jax")
    from pytensor.link.jax.dispatch import scan as dispatch

    from lmkit.backend import pytensor_mode

    assert hasattr(dispatch, "jax_scan"), "PyTensor moved jax_scan: update install_jax_scan"
    mode = pytensor_mode("jax")
    assert dispatch.jax_scan.__wrapped_scan__ is not None
    x, w = pt.tensor("x", dtype="float64", shape=(7, 3)), pt.tensor("w", dtype="float64", shape=(3,))  # static:
    states = pytensor.scan(lambda v, k, s: pt.tanh(v * s + k * w), sequences=[x, pt.arange(7)],  # JAX's grad
                           outputs_info=[pt.zeros_like(w)], return_updates=False)
    cost = (states ** 2).sum()
    values, weights = np.random.default_rng(0).normal(size=(7, 3)), np.array([0.3, -0.2, 0.1])
    ours = [pytensor.function([x, w], [cost, pytensor.grad(cost, w)], mode=mode)(values, weights)]
    try:
        internals.set_jax_scan_unroll(3)
        ours.append(pytensor.function([x, w], [cost, pytensor.grad(cost, w)], mode=mode)(values, weights))
    finally:
        internals.set_jax_scan_unroll(1)
    plain, dispatch.jax_scan = dispatch.jax_scan, dispatch.jax_scan.__wrapped_scan__
    try:
        reference = pytensor.function([x, w], [cost, pytensor.grad(cost, w)], mode=mode)(values, weights)
    finally:
        dispatch.jax_scan = plain
    for result in ours:
        for got, want in zip(result, reference):
            np.testing.assert_allclose(got, want, rtol=1e-12)
    s, expected = np.zeros(3), 0.0
    for k, v in enumerate(values):  # the recurrence in numpy
        s = np.tanh(v * s + k * weights)
        expected += (s ** 2).sum()
    np.testing.assert_allclose(reference[0], expected, rtol=1e-12)


def test_jax_sums_of_float32_come_back_float32():
    """PyTensor 3.0.7's JAX reductions cast to the accumulator's dtype (float64 for float32 under x64); the
    adapter's fix, made whenever the JAX mode is chosen, casts to the output dtype the graph declares."""
    pytest.importorskip("jax")
    from pytensor.tensor.special import softmax

    from lmkit.backend import pytensor_mode

    x = pt.matrix("x", dtype="float32")
    fn = pytensor.function([x], [x.sum(axis=0), pytensor.grad(softmax(x, axis=-1)[0, 0], x)], mode=pytensor_mode("jax"))
    total, grad = fn(np.ones((3, 4), dtype="float32"))
    assert np.asarray(total).dtype == np.float32 and np.asarray(grad).dtype == np.float32
    np.testing.assert_array_equal(total, [3, 3, 3, 3])


def test_a_float32_process_compiles_jax_sums_without_a_dtype_warning():
    """With floatX float32 (x64 off), PyTensor's JAX sums ask JAX for a float64 accumulator, which JAX
    truncates with a UserWarning at every traced reduction; the adapter silences it (the sum is float32)."""
    pytest.importorskip("jax")
    import os
    import subprocess
    import sys

    script = ("import warnings; warnings.filterwarnings('error', message='Explicitly requested dtype')\n"
              "import numpy as np, pytensor, pytensor.tensor as pt\n"
              "from lmkit.backend import pytensor_mode\n"
              "x = pt.matrix('x', dtype='float32')\n"
              "total = pytensor.function([x], x.sum(axis=0), mode=pytensor_mode('jax'))(np.ones((3, 4), 'float32'))\n"
              "assert np.asarray(total).dtype == np.float32, total.dtype\n")
    env = {**os.environ, "PYTENSOR_FLAGS": "floatX=float32", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
