"""``theano.tensor``: the names PyTensor defines as Theano did, forwarded, and ``stack`` in Theano's form.

The module ``theano.tensor`` (:mod:`theano_compat.hook`) holds :data:`TENSOR` and ``nnet``.
"""
import pytensor.tensor as pt


def stack(*tensors, axis=0):
    """``T.stack``: takes a list (``stack([a, b])``) or, as older Theano did, the tensors themselves."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    return pt.stack(list(tensors), axis=axis)


_TYPE_NAMES = [p + kind for p in ("", "b", "w", "i", "l", "f", "d")
               for kind in ("scalar", "vector", "matrix", "tensor3", "tensor4")]
_SAME_AS_PYTENSOR = [
    # math, element-wise
    "tanh", "exp", "log", "sqrt", "sqr", "maximum", "minimum", "clip", "switch",
    "eq", "neq", "gt", "ge", "lt", "le",
    # reductions and products
    "sum", "mean", "max", "min", "argmax", "argmin", "dot",
    # construction
    "zeros", "ones", "zeros_like", "ones_like", "arange", "concatenate", "cast", "constant",
    "as_tensor_variable", "shape_padleft",
    # differentiation
    "grad",
]
TENSOR = {name: getattr(pt, name) for name in _TYPE_NAMES + _SAME_AS_PYTENSOR if hasattr(pt, name)}
TENSOR.update(abs_=pt.abs, stack=stack)
