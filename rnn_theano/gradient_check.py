"""Gradient checks of the RNN: ``bptt`` against central finite differences.

The same file, with the same functions, as ``gru_theano/gradient_check.py``: both are
:mod:`lmkit.gradcheck`, written once for every model, plus the tutorial's name for the check of a
compiled model. They work with :class:`RNNNumpy` and :class:`RNNTheano` alike (parameters ``U, V, W``).
"""
from lmkit.gradcheck import gradient_check, gradient_errors, numerical_gradients

__all__ = ["gradient_check", "gradient_check_theano", "gradient_errors", "numerical_gradients"]


def gradient_check_theano(model, x, y, h=0.001, error_threshold=0.01, log=print):
    """The tutorial's gradient check of a compiled model; True if every entry of ``bptt`` agrees.

    Same procedure and messages as ``RNNNumpy.gradient_check`` (:func:`lmkit.gradcheck.gradient_check`).
    Use a float64 model, and ``bptt_truncate=-1`` or a sentence of at most ``bptt_truncate`` words: the
    finite differences always see the full loss. (The tutorial set ``model.bptt_truncate = 1000`` at this
    point, which has no effect once the graph is built.)
    """
    return gradient_check(model, x, y, h=h, error_threshold=error_threshold, log=log)
