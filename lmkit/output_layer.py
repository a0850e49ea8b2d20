"""The softmax output layer of every model, written once: its log-probabilities, its loss, and its gradients.

For N positions with hidden states ``h`` (N x H), output weights ``W`` (C x H: a model's ``V``, or ``E^T``
when the embedding is tied), an optional bias ``b`` (C,), targets ``y`` (N,) and a 0/1 ``mask`` (N,)::

    z_nj = h_n . W_j + b_j                                   (logits)
    log p(j | h_n) = z_nj - logsumexp_j z_nj                 (log-probabilities: :func:`output_logprobs`)
    nll_n = logsumexp_j z_nj - z_n,y_n                       (cross-entropy: :func:`output_nll`)
    L = sum_n mask_n nll_n                                   (the cost the trainer minimises: :func:`output_cost`)

and, with p_nj = softmax_j(z_n) and onehot_nj = [j == y_n],

    dL/dz_nj = mask_n * (p_nj - onehot_nj)         =: G_nj
    dL/dh    = G W        (N x H)
    dL/dW    = G^T h      (C x H)
    dL/db    = sum_n G_n  (C,)

Written as ordinary PyTensor ops (:func:`output_nll`), PyTensor differentiates the cost op by op, and in
JAX mode the logsumexp and its gradient materialise several N x C arrays. The Op :class:`SoftmaxNLL`
instead computes L and all three gradients together, rows in blocks of ``block``: each block's logits
(block x C) are made, used for its share of the loss, of dL/dh and of the running sums dL/dW and dL/db,
then dropped, so on a CPU no N x C array exists. The backward pass reuses the node's own gradient outputs,
so the three matrix products (logits, G W, G^T h) run once each. :func:`output_cost` uses it
(``RNNLM_FUSED_OUTPUT=0`` switches back to the plain graph, for comparisons).

Measured (benchmarks/output_layer.py, JAX, float32, H=128, N=1024-2048, C=4000-8000, forward + backward):
on the 2-core CPU 1.10-1.17x faster than the plain graph with the allocator settings of lmkit.allocator,
1.85-1.93x without them (the plain graph's N x C buffers then cost page faults; the fused Op is unaffected);
the three matrix products alone take ~32 of its ~37 ms at N=1024, C=8000. On an H200 both take the same.

Three implementations of the layer, held to each other by the tests:

- the plain PyTensor graph (:func:`output_nll`, :func:`output_logprobs`): the batched scoring graph in JAX
  mode and the step-by-step generation graph use it;
- :func:`softmax_blocks`, numpy over row blocks: ``SoftmaxNLL.perform`` (the C and Python modes) and the
  scoring of :mod:`lmkit.scoring` on the CPU backends (:func:`target_logprobs`), where numpy's vectorised
  float32 ``exp`` beats PyTensor's C loop, which calls ``exp`` once per value; :func:`logprobs_numpy`, the
  same for the few whole rows of a generation step;
- ``jax_funcify_SoftmaxNLL``: ``lax.scan`` over the row blocks, for JAX mode (CPU and GPU).

A compiled function that only needs L (validation) would still pay for the gradients; the rewrite
``local_softmax_nll_forward_only`` swaps in a forward-only node when no gradient output is used.
"""
import os

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.link.jax.dispatch import jax_funcify
from pytensor.scalar import upcast
from pytensor.tensor.rewriting.basic import register_specialize
from pytensor.tensor.special import log_softmax

# Rows per block on a CPU, for numpy and JAX alike. Measured on the 2-core machine
# (benchmarks/output_layer.py, JAX, float32, H=128, C=4000-8000, N=1024-2048): 64 is the slowest, 256 the
# fastest, 128 in between by 1-5 ms.
DEFAULT_BLOCK = 256
# On a GPU the blocks' serial loop only costs time: on an H200, N=8192, C=8000 took 2.7 ms in blocks of
# 256, 1.8 ms in blocks of 1024 and 1.5 ms in one block (the plain graph: 1.5 ms). So block=None, the
# default, means DEFAULT_BLOCK on a CPU and all N rows at once on an accelerator.


def balanced_blocks(N, block):
    """``(rows per block, number of blocks)`` for N rows in blocks of at most ``block`` rows, the blocks as
    even as they can be (in the JAX version every block has the same size, padded rows included).

    The fewest blocks of at most ``block`` rows, each ``ceil(N / blocks)`` rows rounded up to a multiple of 8
    when that still fits: N = 640 rows (batch 32 x 20 steps) in blocks of 256 become 3 x 216 (648 rows
    computed), not 3 x 256 (768 rows, 20% of the layer's work on padding).
    """
    block = max(1, min(block or N, N))
    count = -(-N // block)
    rows = -(-N // count)
    aligned = -(-rows // 8) * 8
    return (aligned if aligned <= block else rows), count


# ---------------------------------------------------------------------------------------- plain graph

def output_logprobs(h, W, b):
    """Symbolic ``log p(j | h_n)`` for every row of ``h`` (N x H) and every word j: an N x C matrix."""
    logits = pt.dot(h, W.T)
    return log_softmax(logits + b if b is not None else logits, axis=-1)


def output_nll(h, W, b, y):
    """Symbolic negative log-likelihood of targets ``y`` (N,) at every one of the N rows of ``h``.

    Written as ``logsumexp(z_n) - (W[y_n] . h_n + b[y_n])``: the target's logit is a gather of N rows of
    ``W`` rather than a gather from the N x C matrix, so the backward pass never scatters into an N x C
    buffer.
    """
    logits = pt.dot(h, W.T)
    target = pt.sum(h * W[y], axis=-1)
    if b is not None:
        logits = logits + b
        target = target + b[y]
    return pt.logsumexp(logits, axis=-1) - target


def output_cost(top, W, b, y, mask):
    """Summed cross-entropy of a batch: ``sum_{t,b} mask[t,b] * nll(top[t,:,b], y[t,b])``.

    ``top``: the top layer's states, ``(T, H, B)`` as the batched scan produces them; ``y``, ``mask``:
    ``(T, B)``. The states are laid out as ``T*B`` rows for one large output-layer product, and the fused
    Op computes the cost (``RNNLM_FUSED_OUTPUT=0``: the plain graph).
    """
    rows = top.dimshuffle(0, 2, 1).reshape((-1, top.shape[1]))  # (T*B, H), row t*B + b
    if os.environ.get("RNNLM_FUSED_OUTPUT", "1") != "0":
        return fused_output_nll_sum(rows, W, b, y.flatten(), mask.flatten())
    return pt.sum(output_nll(rows, W, b, y.flatten()) * mask.flatten())


# ------------------------------------------------------------------------------------------- numpy

def softmax_blocks(h, W, b, y, block=DEFAULT_BLOCK):
    """The layer in numpy, ``block`` rows at a time: yields ``(rows, e, s, nll)`` for each block.

    ``rows`` is the block's slice of the N rows; ``e_nj = exp(z_nj - max_j z_nj)`` (block x C, in ``h``'s
    float type, computed in place of the logits); ``s_n = sum_j e_nj`` (float64); ``nll_n = logsumexp_j z_nj
    - z_n,y_n`` (float64). No more than ``block x C`` values exist at once, and the maximum is subtracted
    before ``exp``, so nothing overflows.
    """
    for start in range(0, len(h), block):
        rows = slice(start, start + block)
        z = h[rows] @ W.T                                 # z_nj = h_n . W_j (+ b_j)
        if b is not None:
            z += b
        zmax = z.max(axis=1, keepdims=True)
        z_y = z[np.arange(len(z)), y[rows]]
        np.subtract(z, zmax, out=z)
        e = np.exp(z, out=z)                              # e_nj = exp(z_nj - max_j z_nj)
        s = e.sum(axis=1, dtype=np.float64)
        yield rows, e, s, zmax[:, 0] + np.log(s) - z_y    # logsumexp_j z_nj = max + log sum_j e_nj


def logprobs_numpy(h, W, b=None):
    """``log p(j | h_n)`` for every row of ``h`` (a few rows: the step API's batch) and every word, in numpy."""
    z = h @ W.T
    if b is not None:
        z += b
    z -= z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True, dtype=np.float64)).astype(z.dtype)


def target_logprobs(h, W, b, y, block=DEFAULT_BLOCK):
    """``log p(y_n | h_n)`` for every row (float64, numpy): the scoring of :mod:`lmkit.scoring`."""
    out = np.empty(len(h), dtype=np.float64)
    for rows, _, _, nll in softmax_blocks(h, W, b, y, block):
        out[rows] = -nll
    return out


def softmax_nll_numpy(h, W, b, y, mask, block=DEFAULT_BLOCK, with_grads=True):
    """``(L, dL/dh, dL/dW, dL/db)`` (or ``(L,)``) in numpy, ``block`` rows at a time; ``b`` may be None."""
    loss = 0.0
    dh, dW = np.zeros_like(h), np.zeros_like(W)
    db = np.zeros(W.shape[0], dtype=h.dtype)
    for rows, e, s, nll in softmax_blocks(h, W, b, y, block):
        m = mask[rows]
        loss += m @ nll                                   # L += sum_n mask_n nll_n
        if with_grads:
            G = e * (m / s).astype(e.dtype)[:, None]      # mask_n p_nj,  p_nj = e_nj / s_n
            G[np.arange(len(G)), y[rows]] -= m            # G_nj = mask_n (p_nj - onehot_nj)
            dh[rows] = G @ W                              # dL/dh_n = sum_j G_nj W_j
            dW += G.T @ h[rows]                           # dL/dW_j += sum_n G_nj h_n
            db += G.sum(axis=0)                           # dL/db_j += sum_n G_nj
    if not with_grads:
        return (loss,)
    return (loss, dh, dW) + ((db,) if b is not None else ())


# ------------------------------------------------------------------------------------- the fused Op

class SoftmaxNLL(Op):
    """Masked summed softmax cross-entropy and its gradients w.r.t. ``h``, ``V`` and ``c``.

    Inputs: ``h`` (N, H), ``V`` (C, H), ``c`` (C,) only if ``has_bias``, ``y`` (N,) integer, ``mask`` (N,).
    Outputs: ``L`` (scalar), then, if ``with_grads``, ``dL/dh``, ``dL/dV`` and (if ``has_bias``) ``dL/dc``.
    All float inputs are cast to one common dtype, which every output keeps. ``block``: rows per block, or
    None for the backend's choice (``DEFAULT_BLOCK`` on a CPU, all rows on a GPU).
    """

    __props__ = ("has_bias", "with_grads", "block")

    def __init__(self, has_bias=True, with_grads=True, block=None):
        self.has_bias = bool(has_bias)
        self.with_grads = bool(with_grads)
        self.block = None if block is None else int(block)
        if self.block is not None and self.block < 1:
            raise ValueError(f"block must be a positive number of rows or None, got {block}")

    def unpack(self, inputs):
        """``(h, V, c, y, mask)`` from the node's input list; ``c`` is None without a bias."""
        if self.has_bias:
            return tuple(inputs)
        h, V, y, mask = inputs
        return h, V, None, y, mask

    def make_node(self, *inputs):
        h, V, c, y, mask = (None if v is None else pt.as_tensor_variable(v) for v in self.unpack(inputs))
        dtype = upcast(h.dtype, V.dtype, *([c.dtype] if c is not None else []))
        if not dtype.startswith("float"):
            raise TypeError(f"h, V and c must be floats, got {dtype}")
        h, V, mask = (pt.cast(v, dtype) for v in (h, V, mask))  # mask follows the weights' dtype
        c = None if c is None else pt.cast(c, dtype)
        for name, v, ndim in [("h", h, 2), ("V", V, 2), ("c", c, 1), ("y", y, 1), ("mask", mask, 1)]:
            if v is not None and v.ndim != ndim:
                raise TypeError(f"{name} must have {ndim} dimension(s), got {v.ndim}")
        if not y.dtype.startswith(("int", "uint")):
            raise TypeError(f"y must hold integer word indices, got dtype {y.dtype}")
        outputs = [pt.scalar("nll_sum", dtype=dtype)]
        if self.with_grads:
            # Each gradient has its variable's type: same dtype and static shape.
            outputs += [h.type(), V.type()] + ([c.type()] if c is not None else [])
        ins = [h, V] + ([c] if c is not None else []) + [y, mask]
        return Apply(self, ins, outputs)

    def infer_shape(self, fgraph, node, input_shapes):
        # Lets shape queries on the gradients (e.g. from later rewrites) skip running the Op.
        return [()] + list(input_shapes[:len(node.outputs) - 1])

    def connection_pattern(self, node):
        # h, V, c and mask reach every output; y picks terms but is piecewise constant (no gradient).
        n_out = len(node.outputs)
        pattern = [[True] * n_out for _ in node.inputs]
        pattern[-2] = [False] * n_out
        return pattern

    def perform(self, node, inputs, output_storage):
        h, V, c, y, mask = self.unpack(inputs)
        dtype = node.outputs[0].dtype
        results = softmax_nll_numpy(h, V, c, y, mask, self.block or DEFAULT_BLOCK, self.with_grads)
        for storage, value in zip(output_storage, results):
            storage[0] = np.asarray(value, dtype=dtype)

    def pullback(self, inputs, outputs, cotangents):
        # PyTensor 3 calls `pullback` (L_op/grad still work but warn as deprecated). `outputs` are this
        # node's own outputs, so the gradients below cost nothing more: they are already computed.
        g_loss, *g_grads = cotangents
        if any(not isinstance(g.type, DisconnectedType) for g in g_grads):
            raise NotImplementedError("SoftmaxNLL has no second derivative: its gradient outputs "
                                      "cannot themselves be differentiated")
        if not self.with_grads:
            # A forward-only node (normally made only by the rewrite below, after any grad is taken):
            # get the gradients from a full node on the same inputs.
            outputs = SoftmaxNLL(self.has_bias, True, self.block)(*inputs)
        grads = [g_loss * d for d in outputs[1:]]  # dC/dx = dC/dL * dL/dx, for x = h, V (, c)
        grads.append(disconnected_type())  # y
        grads.append(grad_not_implemented(self, len(inputs) - 1, inputs[-1],
                                          "the per-row NLL (the gradient w.r.t. mask) is not an output"))
        return grads


@jax_funcify.register(SoftmaxNLL)
def jax_funcify_SoftmaxNLL(op, node=None, **kwargs):
    """JAX version: ``lax.scan`` over row blocks, carrying the running sums dL/dV and dL/dc.

    N is padded up to a whole number of even blocks (:func:`balanced_blocks`) with rows of mask 0, which add
    nothing to any output.
    The running dL/dV is kept transposed, H x C, as ``h_b^T G_b``: XLA's CPU matrix product is slower
    with a transposed block x C operand (``G_b^T h_b``), by 2-3 ms of 38 at N=1024, C=8000. With a bias,
    dL/dc comes from the same product, ``[h_b 1]^T G_b`` (H + 1 rows, the last one the column sums of
    ``G_b``), instead of a pass of its own over ``G_b``: at N=640, C=8000, H=128 on one core the layer took
    54.7 ms against 58.1 (fastest of 25 alternating calls).
    Every array is built from the inputs' own dtypes, so float32 stays float32 even with jax x64 enabled.
    """
    import jax
    import jax.numpy as jnp
    from jax import lax

    has_bias, with_grads, block = op.has_bias, op.with_grads, op.block
    if block is None:  # the backend's choice: blocks on a CPU, all rows at once on a GPU
        block = DEFAULT_BLOCK if jax.default_backend() == "cpu" else None

    def softmax_nll(*inputs):
        h, V, c, y, mask = op.unpack(inputs)
        N, H = h.shape
        b, nb = balanced_blocks(N, block)       # rows per block, number of blocks
        pad = nb * b - N
        hs = jnp.pad(h, ((0, pad), (0, 0))).reshape(nb, b, H)
        ys = jnp.pad(y, (0, pad)).reshape(nb, b)
        ms = jnp.pad(mask, (0, pad)).reshape(nb, b)

        def step(carry, xs):
            hb, yb, mb = xs
            z = hb @ V.T                                            # z_nj = h_n . V_j (+ c_j)
            if has_bias:
                z = z + c
            zmax = jnp.max(z, axis=1)
            e = jnp.exp(z - zmax[:, None])                          # e_nj = exp(z_nj - max_j z_nj)
            s = jnp.sum(e, axis=1)
            z_y = jnp.take_along_axis(z, yb[:, None], axis=1)[:, 0]
            nll = zmax + jnp.log(s) - z_y                           # logsumexp_j z_nj - z_n,y_n
            if not with_grads:
                return carry, nll
            onehot = lax.broadcasted_iota(yb.dtype, z.shape, 1) == yb[:, None]
            G = e * (mb / s)[:, None] - jnp.where(onehot, mb[:, None], 0)  # mask_n (p_nj - onehot_nj)
            dVt, dc = carry
            if has_bias:   # dL/dV and dL/dc from one product: the last row of [h_b 1]^T G is sum_n G_nj
                ones = jnp.ones((hb.shape[0], 1), hb.dtype)
                both = jnp.concatenate([hb, ones], axis=1).T @ G
                dVt, dc = dVt + both[:-1], dc + both[-1]            # += sum_n G_nj h_n, += sum_n G_nj
            else:
                dVt = dVt + hb.T @ G                                # dL/dV_j += sum_n G_nj h_n
            return (dVt, dc), (nll, G @ V)                          # dL/dh_n = sum_j G_nj V_j

        if not with_grads:
            _, nll = lax.scan(step, (), (hs, ys, ms))
            return jnp.sum(mask * nll.reshape(-1)[:N])              # L = sum_n mask_n nll_n
        zeros = (jnp.zeros_like(V.T), jnp.zeros_like(c) if has_bias else None)
        (dVt, dc), (nll, dh) = lax.scan(step, zeros, (hs, ys, ms))
        loss = jnp.sum(mask * nll.reshape(-1)[:N])                  # L = sum_n mask_n nll_n
        dh = dh.reshape(-1, H)[:N]
        return (loss, dh, dVt.T) + ((dc,) if has_bias else ())

    return softmax_nll


@register_specialize
@node_rewriter([SoftmaxNLL])
def local_softmax_nll_forward_only(fgraph, node):
    """Use a forward-only node when nothing in the compiled function reads the gradient outputs."""
    op = node.op
    if not op.with_grads or any(fgraph.clients[out] for out in node.outputs[1:]):
        return None
    loss = SoftmaxNLL(op.has_bias, False, op.block)(*node.inputs)
    return {node.outputs[0]: loss}


def fused_output_nll_sum(h, V, c, y, mask, block=None):
    """Symbolic ``sum_n mask_n * nll_n``, the same value as ``pt.sum(output_nll(h, V, c, y) * mask)``.

    ``c`` may be None (no output bias); ``block``: rows per block, None for the backend's choice
    (see ``SoftmaxNLL``). ``pytensor.grad`` of the result w.r.t. anything upstream of
    ``h``, ``V`` or ``c`` uses the gradients the Op computed alongside the loss.
    """
    op = SoftmaxNLL(has_bias=c is not None, block=block)
    return op(h, V, *([c] if c is not None else []), y, mask)[0]
