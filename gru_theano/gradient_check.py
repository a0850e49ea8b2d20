"""Gradient checking for the GRU and LSTM: does ``bptt`` agree with finite differences?

For every entry ``p`` of every parameter the summed loss of one sentence is evaluated at ``p + h`` and
``p - h``; the central difference ``(L(p + h) - L(p - h)) / 2h`` approximates dL/dp up to ``O(h^2)``.
Run it on a float64 model with ``bptt_truncate=-1``: the finite differences always see the whole,
untruncated loss, and in float32 a step small enough to be accurate is lost in rounding.
"""
import numpy as np

from lmkit.gradcheck import central_differences


def numerical_gradients(model, x, y, h=1e-5, names=None):
    """Central-difference gradients of ``model.ce_error(x, y)``, name -> array (weights restored after)."""
    grads = {}
    for name in names or model.params:
        grad = np.zeros(model.param_shapes()[name], dtype=np.float64)
        for ix, plus, minus in central_differences(model, name, lambda: model.ce_error(x, y), h):
            grad[ix] = (plus - minus) / (2 * h)
        grads[name] = grad
    return grads


def gradient_check_theano(model, x, y, h=1e-5, floor=1e-7):
    """Worst relative error per parameter, ``|a - n| / max(|a| + |n|, floor)`` over its entries.

    ``a`` is the backpropagated gradient, ``n`` the numerical one. The floor keeps entries whose true
    gradient is (nearly) zero, such as the embedding of a word absent from ``x``, from dividing noise by
    noise. In float64 a correct model gives errors around 1e-6 or less; a wrong one, order 1.
    """
    analytic = dict(zip(model.params, model.bptt(x, y)))
    numeric = numerical_gradients(model, x, y, h=h)
    return {name: float(np.max(np.abs(analytic[name] - numeric[name])
                               / np.maximum(np.abs(analytic[name]) + np.abs(numeric[name]), floor)))
            for name in model.params}
