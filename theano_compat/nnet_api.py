"""``theano.tensor.nnet``: Theano's definitions of the functions PyTensor changed or dropped, on PyTensor."""
import pytensor.scalar as ps
import pytensor.tensor as pt
from pytensor.tensor.special import softmax as _pt_softmax

from lmkit import gates

from .errors import TheanoTypeError, TheanoValueError


def softmax(c):
    """Theano's ``T.nnet.softmax``: row-wise on a matrix; a vector becomes a one-row ``(1, n)`` result."""
    c = pt.as_tensor_variable(c)
    if not c.dtype.startswith("float") or c.ndim not in (1, 2):
        raise TheanoValueError(f"theano.tensor.nnet.softmax: x must be a 1-d or 2-d tensor of floats, got {c.type}")
    if c.ndim == 1:
        c = pt.shape_padleft(c, 1)
    return _pt_softmax(c, axis=-1)


def sigmoid(x):
    """``T.nnet.sigmoid``: ``1 / (1 + exp(-x))``."""
    return pt.sigmoid(x)


def hard_sigmoid(x):
    """Theano's ``T.nnet.hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)``, in the float type Theano chose for ``x``.

    An integer ``x`` is first cast to that type (int32 to float64, int8 to float32, as Theano's
    ``upgrade_to_float``), then :func:`lmkit.gates.hard_sigmoid`, the models' own, computes it.
    """
    x = pt.as_tensor_variable(x)
    return gates.hard_sigmoid(pt.cast(x, ps.upgrade_to_float(ps.ScalarType(dtype=x.dtype))[0].dtype))


def relu(x, alpha=0):
    """Theano's ``T.nnet.relu``: ``max(x, 0)``, or ``x`` scaled by ``alpha`` below 0 (leaky)."""
    x = pt.as_tensor_variable(x)
    if alpha == 0:
        return 0.5 * (x + abs(x))
    f1 = 0.5 * (1 + alpha)
    f2 = 0.5 * (1 - alpha)
    return f1 * x + f2 * abs(x)


def softplus(x):
    """``T.nnet.softplus``: ``log(1 + exp(x))``, computed stably."""
    return pt.softplus(x)


def categorical_crossentropy(coding_dist, true_dist):
    """Theano's ``T.nnet.categorical_crossentropy(p, t)``, one value per row of ``p``.

    - ``t`` integer, one rank below ``p`` (``p`` a matrix, ``t`` a vector of class indices):
      ``-log p[i, t_i]``.
    - ``t`` of ``p``'s rank (one-hot rows or probabilities): ``-sum(t * log p, axis=-1)``.
    """
    coding_dist = pt.as_tensor_variable(coding_dist)
    true_dist = pt.as_tensor_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim:
        return -pt.sum(true_dist * pt.log(coding_dist), axis=coding_dist.ndim - 1)
    if true_dist.ndim == coding_dist.ndim - 1:
        if coding_dist.ndim != 2:
            raise TheanoTypeError("theano.tensor.nnet.categorical_crossentropy: matrix required for argument: "
                                  f"coding_dist (got {coding_dist.type}) when the targets are class indices")
        if not true_dist.dtype.startswith(("int", "uint")):
            raise TheanoTypeError("theano.tensor.nnet.categorical_crossentropy: integer vector required for "
                                  f"argument: true_one_of_n (got {true_dist.type})")
        return -pt.log(coding_dist[pt.arange(coding_dist.shape[0]), true_dist])
    raise TheanoTypeError("theano.tensor.nnet.categorical_crossentropy: rank mismatch between coding and true "
                          f"distributions ({coding_dist.type} and {true_dist.type})")


def binary_crossentropy(output, target):
    """Theano's ``T.nnet.binary_crossentropy``: ``-(t log o + (1 - t) log(1 - o))`` element-wise."""
    return -(target * pt.log(output) + (1.0 - target) * pt.log(1.0 - output))


NNET = {"softmax": softmax, "sigmoid": sigmoid, "hard_sigmoid": hard_sigmoid, "relu": relu, "softplus": softplus,
        "categorical_crossentropy": categorical_crossentropy, "binary_crossentropy": binary_crossentropy}
