"""The squashing functions of the GRU's and the LSTM's gates, written once for the models and the Theano layer.

``theano.tensor.nnet.hard_sigmoid``, which the tutorial's GRU used, was removed in PyTensor; it is written
out here, and both :mod:`gru_theano` and :mod:`theano_compat` (Theano's API on PyTensor) use this one.
"""
import pytensor.tensor as pt


def hard_sigmoid(x):
    """Theano's piecewise-linear sigmoid, ``clip(0.2 x + 0.5, 0, 1)``.

    It equals the logistic sigmoid at 0 (both are 0.5), has slope 0.2 there (the logistic's is 0.25), and
    saturates to exactly 0 below -2.5 and to exactly 1 above 2.5. The constants take the dtype of ``x`` so
    a float32 graph stays float32.
    """
    x = pt.as_tensor_variable(x)
    slope = pt.constant(0.2, dtype=x.dtype)
    shift = pt.constant(0.5, dtype=x.dtype)
    return pt.clip(slope * x + shift, pt.constant(0, dtype=x.dtype), pt.constant(1, dtype=x.dtype))


def sigmoid(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))``."""
    return pt.sigmoid(x)


# gate="..." chooses the squashing function of the gates (never of the candidate, which is always tanh).
GATES = {"hard": hard_sigmoid, "sigmoid": sigmoid}
