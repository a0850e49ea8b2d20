"""The softmax output layer as one fused, chunked PyTensor Op: loss and gradients in a single pass.

For N positions with hidden states ``h`` (N x H), output weights ``V`` (C x H), optional bias ``c`` (C,),
targets ``y`` (N,) and a 0/1 ``mask`` (N,), the layer's cost is the masked, summed cross-entropy

    z_nj = h_n . V_j + c_j                                         (logits)
    L    = sum_n mask_n * (logsumexp_j z_nj - z_n,y_n)

and its gradients, with p_nj = softmax_j(z_n) and onehot_nj = [j == y_n],

    dL/dz_nj = mask_n * (p_nj - onehot_nj)         =: G_nj
    dL/dh    = G V        (N x H)
    dL/dV    = G^T h      (C x H)
    dL/dc    = sum_n G_n  (C,)

``lmkit.batched_output.output_nll`` writes the same cost as ordinary PyTensor ops; PyTensor then
differentiates it op by op, and in JAX mode the logsumexp and its gradient materialise several N x C arrays.
``SoftmaxNLL`` instead computes L and all three gradients together, rows in blocks of ``block``: each
block's logits (block x C) are made, used for its share of the loss, of dL/dh and of the running sums
dL/dV and dL/dc, then dropped, so on a CPU no N x C array exists. The backward pass reuses the node's own
gradient outputs, so the three matrix products (logits, G V, G^T h) run once each.

Measured (benchmarks/output_layer.py, JAX, float32, H=128, N=1024-2048, C=4000-8000, forward + backward):
on the 2-core CPU 1.10-1.17x faster than the plain graph with lmkit's allocator settings (lmkit.allocator),
1.85-1.93x without them (the plain graph's N x C buffers then cost page faults; the fused Op is unaffected);
the three matrix products alone take ~32 of its ~37 ms at N=1024, C=8000. On an H200 both take the same.

Three implementations of one Op:

- ``SoftmaxNLL.perform``: numpy, used by the C (``CVM``) and Python modes, and the independent reference
  the tests compare against;
- ``jax_funcify_SoftmaxNLL``: ``lax.scan`` over the row blocks, for JAX mode (CPU and GPU);
- ``pullback``: the symbolic gradient, which is just ``g_L * dL/dh`` etc. from the node's extra outputs.

A compiled function that only needs L (validation, scoring) would still pay for the gradients; the
rewrite ``local_softmax_nll_forward_only`` swaps in a forward-only node when no gradient output is used.

Use ``fused_output_nll_sum(h, V, c, y, mask)`` in place of ``pt.sum(output_nll(h, V, c, y) * mask)``.
"""
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.link.jax.dispatch import jax_funcify
from pytensor.scalar import upcast
from pytensor.tensor.rewriting.basic import register_specialize

# Rows per block on a CPU. Measured on the 2-core machine (benchmarks/output_layer.py, JAX, float32,
# H=128, C=4000-8000, N=1024-2048): 64 is the slowest, 256 the fastest, 128 in between by 1-5 ms.
DEFAULT_BLOCK = 256
# On a GPU the blocks' serial loop only costs time: on an H200, N=8192, C=8000 took 2.7 ms in blocks of
# 256, 1.8 ms in blocks of 1024 and 1.5 ms in one block (the plain graph: 1.5 ms). So block=None, the
# default, means DEFAULT_BLOCK on a CPU and all N rows at once on an accelerator.


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


def softmax_nll_numpy(h, V, c, y, mask, block=DEFAULT_BLOCK, with_grads=True):
    """``(L, dL/dh, dL/dV, dL/dc)`` (or ``(L,)``) in numpy, ``block`` rows at a time; ``c`` may be None."""
    N, C = h.shape[0], V.shape[0]
    loss = 0.0
    dh, dV = np.zeros_like(h), np.zeros_like(V)
    dc = np.zeros(C, dtype=h.dtype)
    for start in range(0, N, block):
        rows = slice(start, start + block)
        hb, yb, mb = h[rows], y[rows], mask[rows]
        at_y = (np.arange(len(yb)), yb)
        z = hb @ V.T                                      # z_nj = h_n . V_j (+ c_j)
        if c is not None:
            z += c
        zmax = z.max(axis=1, keepdims=True)               # subtracted for stability
        e = np.exp(z - zmax)                              # e_nj = exp(z_nj - max_j z_nj)
        s = e.sum(axis=1)
        lse = zmax[:, 0] + np.log(s)                      # logsumexp_j z_nj = max + log sum_j e_nj
        loss += mb @ (lse - z[at_y])                      # L += sum_n mask_n (logsumexp_j z_nj - z_n,y_n)
        if with_grads:
            G = e * (mb / s)[:, None]                     # mask_n p_nj,  p_nj = e_nj / s_n
            G[at_y] -= mb                                 # G_nj = mask_n (p_nj - onehot_nj)
            dh[rows] = G @ V                              # dL/dh_n = sum_j G_nj V_j
            dV += G.T @ hb                                # dL/dV_j += sum_n G_nj h_n
            dc += G.sum(axis=0)                           # dL/dc_j += sum_n G_nj
    if not with_grads:
        return (loss,)
    return (loss, dh, dV) + ((dc,) if c is not None else ())


@jax_funcify.register(SoftmaxNLL)
def jax_funcify_SoftmaxNLL(op, node=None, **kwargs):
    """JAX version: ``lax.scan`` over row blocks, carrying the running sums dL/dV and dL/dc.

    N is padded up to a whole number of blocks with rows of mask 0, which add nothing to any output.
    The running dL/dV is kept transposed, H x C, as ``h_b^T G_b``: XLA's CPU matrix product is slower
    with a transposed block x C operand (``G_b^T h_b``), by 2-3 ms of 38 at N=1024, C=8000.
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
        b = max(1, min(block or N, N))          # rows per block; never more than N
        nb = -(-N // b)                         # number of blocks
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
            dVt = dVt + hb.T @ G                                    # dL/dV_j += sum_n G_nj h_n
            if has_bias:
                dc = dc + jnp.sum(G, axis=0)                        # dL/dc_j += sum_n G_nj
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
