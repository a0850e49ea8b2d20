"""The output layer (lmkit.output_layer): the fused Op, its numpy blocks and the scoring kernel, against the
plain graph and plain numpy."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lmkit.output_layer import (SoftmaxNLL, balanced_blocks, fused_output_nll_sum, output_logprobs, output_nll,
                                softmax_nll_numpy, target_logprobs)
from lmkit.pytensor_internals import apply_nodes

N, D, H, C = 37, 4, 5, 11  # N is not a multiple of any block size used below


def problem(dtype="float64", seed=0):
    """Inputs X (N, D), y, mask, and shared weights W (D, H), V (C, H), c (C,): h = tanh(X W)."""
    rng = np.random.default_rng(seed)
    values = {"X": rng.normal(size=(N, D)).astype(dtype),
              "y": rng.integers(0, C, N).astype("int32"),
              "mask": (rng.random(N) < 0.7).astype(dtype)}
    W = pytensor.shared(rng.normal(size=(D, H)).astype(dtype), name="W")
    V = pytensor.shared(rng.normal(size=(C, H)).astype(dtype), name="V")
    c = pytensor.shared(rng.normal(size=C).astype(dtype), name="c")
    return values, W, V, c


def numpy_nll_sum(h, V, c, y, mask):
    """sum_n mask_n (logsumexp_j z_nj - z_n,y_n), z = h V^T + c, on the whole N x C matrix at once."""
    z = h @ V.T + (0 if c is None else c)
    zmax = z.max(axis=1)
    lse = zmax + np.log(np.exp(z - zmax[:, None]).sum(axis=1))
    return float(mask @ (lse - z[np.arange(len(y)), y]))


def symbolic(dtype):
    return pt.matrix("X", dtype=dtype), pt.ivector("y"), pt.vector("mask", dtype=dtype)


@pytest.mark.parametrize("bias", [True, False])
def test_loss_matches_plain_graph_and_numpy(bias):
    values, W, V, c = problem()
    X, y, mask = symbolic("float64")
    h = pt.tanh(X @ W)
    c = c if bias else None
    fused = pytensor.function([X, y, mask], fused_output_nll_sum(h, V, c, y, mask, block=8), mode="CVM")
    plain = pytensor.function([X, y, mask], pt.sum(output_nll(h, V, c, y) * mask), mode="CVM")
    args = (values["X"], values["y"], values["mask"])
    hv = np.tanh(values["X"] @ W.get_value())
    expected = numpy_nll_sum(hv, V.get_value(), None if c is None else c.get_value(), values["y"], values["mask"])
    np.testing.assert_allclose(fused(*args), plain(*args), rtol=1e-12)
    np.testing.assert_allclose(fused(*args), expected, rtol=1e-12)


@pytest.mark.parametrize("mode", ["CVM", "JAX"])
@pytest.mark.parametrize("bias, block", [(True, 8), (False, 8), (True, None)])
def test_gradients_match_plain_graph(mode, bias, block):
    """Loss and grads w.r.t. W (through h = tanh(X W): the chain rule), V and c; 5 blocks of 8 rows, or
    the backend's default (one block of all 37 rows, for the numpy code and for JAX on a CPU)."""
    values, W, V, c = problem()
    X, y, mask = symbolic("float64")
    h = pt.tanh(X @ W)
    c = c if bias else None
    wrt = [W, V] + ([c] if bias else [])
    results = []
    for cost in [fused_output_nll_sum(h, V, c, y, mask, block=block), pt.sum(output_nll(h, V, c, y) * mask)]:
        fn = pytensor.function([X, y, mask], [cost, *pytensor.grad(cost, wrt)], mode=mode)
        results.append(fn(values["X"], values["y"], values["mask"]))
    for fused, plain in zip(*results):
        np.testing.assert_allclose(fused, plain, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["CVM", "JAX"])
def test_masked_rows_contribute_nothing(mode):
    """Changing the hidden state or target of a masked row changes neither the loss nor any gradient."""
    values, W, V, c = problem()
    values["mask"][:5] = 0  # at least one masked row, in the first block and in a later one
    values["mask"][20] = 0
    h, y, mask = pt.matrix("h"), pt.ivector("y"), pt.vector("mask")
    loss = fused_output_nll_sum(h, V, c, y, mask, block=16)
    fn = pytensor.function([h, y, mask], [loss, *pytensor.grad(loss, [V, c])], mode=mode)
    hv = np.random.default_rng(1).normal(size=(N, H))
    first = fn(hv, values["y"], values["mask"])
    masked = values["mask"] == 0
    hv[masked] = 100.0  # would dominate every sum if it leaked through
    values["y"][masked] = (values["y"][masked] + 3) % C
    for a, b in zip(first, fn(hv, values["y"], values["mask"])):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block", [1, 8, 37, 128])
def test_numpy_blocks_agree(block):
    """The numpy implementation gives the same outputs whatever the block size (1 row up to > N)."""
    values, _, V, c = problem()
    h = np.tanh(values["X"] @ np.ones((D, H)))
    args = (h, V.get_value(), c.get_value(), values["y"], values["mask"])
    reference = softmax_nll_numpy(*args, block=N)
    for a, b in zip(softmax_nll_numpy(*args, block=block), reference):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert np.isclose(reference[0], numpy_nll_sum(*args))


def test_float32_jax_stays_float32():
    """float32 in, float32 out (loss and every gradient), matching the plain graph to float32 rounding.

    Full float32 matrix products: on a GPU, JAX's default would round their inputs to TF32 (~5e-4).
    """
    import jax

    values, W, V, c = problem("float32")
    X, y, mask = symbolic("float32")
    h = pt.tanh(X @ W)
    wrt = [W, V, c]
    results = []
    for cost in [fused_output_nll_sum(h, V, c, y, mask, block=16), pt.sum(output_nll(h, V, c, y) * mask)]:
        assert cost.dtype == "float32"
        fn = pytensor.function([X, y, mask], [cost, *pytensor.grad(cost, wrt)], mode="JAX")
        with jax.default_matmul_precision("highest"):  # read when the first call traces the function
            results.append(fn(values["X"], values["y"], values["mask"]))
    for fused, plain in zip(*results):
        assert np.asarray(fused).dtype == np.float32
        np.testing.assert_allclose(fused, plain, rtol=1e-4, atol=1e-5)
    node = fused_output_nll_sum(h, V, c, y, mask).owner
    assert [o.dtype for o in node.outputs] == ["float32"] * 4


@pytest.mark.parametrize("mode", ["CVM", "JAX"])
def test_loss_only_function_uses_forward_only_node(mode):
    """A function that never reads the gradients compiles to a node that does not compute them."""
    values, W, V, c = problem()
    X, y, mask = symbolic("float64")
    loss = fused_output_nll_sum(pt.tanh(X @ W), V, c, y, mask, block=8)
    fn = pytensor.function([X, y, mask], loss, mode=mode)
    ops = [node.op for node in apply_nodes(fn) if isinstance(node.op, SoftmaxNLL)]
    assert ops == [SoftmaxNLL(has_bias=True, with_grads=False, block=8)]
    hv = np.tanh(values["X"] @ W.get_value())
    expected = numpy_nll_sum(hv, V.get_value(), c.get_value(), values["y"], values["mask"])
    np.testing.assert_allclose(fn(values["X"], values["y"], values["mask"]), expected, rtol=1e-12)


def test_gradient_reuses_the_forward_node():
    """Loss and gradients come from one SoftmaxNLL node: the backward pass adds no second one."""
    _, W, V, c = problem()
    X, y, mask = symbolic("float64")
    loss = fused_output_nll_sum(pt.tanh(X @ W), V, c, y, mask)
    fn = pytensor.function([X, y, mask], [loss, *pytensor.grad(loss, [W, V, c])], mode="CVM")
    nodes = [node for node in apply_nodes(fn) if isinstance(node.op, SoftmaxNLL)]
    assert len(nodes) == 1 and nodes[0].op.with_grads


def test_no_gradient_for_targets_and_none_implemented_for_mask():
    """y has no gradient and mask's is not implemented; neither stops gradients w.r.t. anything else,
    even when the mask is computed (here flattened from a matrix, as the batched graphs do)."""
    _, _, V, c = problem()
    h, y, mask = pt.matrix("h"), pt.ivector("y"), pt.matrix("mask")
    loss = fused_output_nll_sum(h, V, c, y, mask.flatten())
    with pytest.raises(pytensor.gradient.DisconnectedInputError):
        pytensor.grad(loss, y)
    with pytest.raises(pytensor.gradient.NullTypeGradError):
        pytensor.grad(loss, mask)
    gV, gh = pytensor.grad(loss, [V, h])
    assert gV.type == V.type and gh.type == h.type


@pytest.mark.parametrize("bias", [True, False])
def test_scoring_kernel_and_log_probabilities_agree_with_plain_numpy(bias):
    """``target_logprobs`` (numpy blocks, for scoring) and ``output_logprobs`` (the graph the step API uses)
    against the whole N x C matrix at once; a block size that does not divide N."""
    values, W, V, c = problem()
    h = np.tanh(values["X"] @ W.get_value())
    Vv, cv = V.get_value(), (c.get_value() if bias else None)
    z = h @ Vv.T + (0 if cv is None else cv)
    want = z - z.max(axis=1, keepdims=True)
    want -= np.log(np.exp(want).sum(axis=1, keepdims=True))
    y = values["y"]
    np.testing.assert_allclose(target_logprobs(h, Vv, cv, y, block=8), want[np.arange(N), y], rtol=1e-12)
    hs = pt.matrix("h", dtype="float64")
    graph = pytensor.function([hs], output_logprobs(hs, V, c if bias else None), mode="CVM")
    np.testing.assert_allclose(graph(h), want, rtol=1e-12)


@pytest.mark.parametrize("N,block", [(640, 256), (1024, 256), (1280, 256), (1, 256), (7, 3), (100, None), (257, 256)])
def test_blocks_cover_every_row_with_the_fewest_even_blocks(N, block):
    """The JAX layer computes blocks x rows rows, all blocks one size: never fewer than N, never a block over
    the limit, the fewest blocks the limit allows, and under 8 rows of padding per block (the rounding up to
    a multiple of 8); 640 rows in blocks of at most 256 are 3 x 216."""
    rows, count = balanced_blocks(N, block)
    limit = min(block or N, N)
    assert rows <= limit and rows * count >= N
    assert count == -(-N // limit)
    assert rows * count - N < 8 * count
    if (N, block) == (640, 256):
        assert (rows, count) == (216, 3)
