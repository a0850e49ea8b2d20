"""The softmax output layer of the batched graphs, written for speed.

For N positions with hidden states ``h`` (N x H), output weights ``V`` (C x H), optional bias ``c`` and
targets ``y``, the cross-entropy is ``-log softmax(V h + c)[y] = logsumexp(V h + c) - (V[y] . h + c[y])``.
Written this way the target's logit is a gather of N rows of ``V`` rather than a gather from the N x C
matrix of log-probabilities, so the backward pass never scatters into an N x C buffer.

The batched graphs call :func:`output_cost`, which computes the same cost with the fused Op of
:mod:`lmkit.fused_output` (loss and gradients in one pass, 1.10-1.17x faster on the 2-core CPU);
``RNNLM_FUSED_OUTPUT=0`` switches back to :func:`output_nll` for comparisons.
"""
import os

import pytensor.tensor as pt

from .fused_output import fused_output_nll_sum

FUSED = os.environ.get("RNNLM_FUSED_OUTPUT", "1") != "0"


def output_nll(h, V, c, y):
    """Negative log-likelihood of targets ``y`` (N,) at every one of the N positions."""
    logits = pt.dot(h, V.T)
    target = pt.sum(h * V[y], axis=-1)
    if c is not None:
        logits = logits + c
        target = target + c[y]
    return pt.logsumexp(logits, axis=-1) - target


def output_cost(top, V, c, y, mask):
    """Summed cross-entropy of a batch: ``sum_{t,b} mask[t,b] * nll(top[t,:,b], y[t,b])``.

    ``top``: the top layer's states, ``(T, H, B)`` as the batched scan produces them; ``y``, ``mask``:
    ``(T, B)``. The states are laid out as ``T*B`` rows for one large output-layer product.
    """
    rows = top.dimshuffle(0, 2, 1).reshape((-1, top.shape[1]))  # (T*B, H), row t*B + b
    if FUSED:
        return fused_output_nll_sum(rows, V, c, y.flatten(), mask.flatten())
    return pt.sum(output_nll(rows, V, c, y.flatten()) * mask.flatten())
