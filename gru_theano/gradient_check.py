"""Gradient checks of the GRU and the LSTM: ``bptt`` against central finite differences.

The same file, with the same functions, as ``rnn_theano/gradient_check.py``: both are
:mod:`lmkit.gradcheck`, written once for every model, plus the tutorial's name for the check of a
compiled model. The parameters are ``E, U, W, b, V, c`` in the tutorial's stacked layout (the names of
``model.trainable_params()`` in general). :func:`gradient_errors` gives the worst relative error of each,
which is what the project's tests compare against a bound.
"""
from lmkit.gradcheck import gradient_check, gradient_errors, numerical_gradients

__all__ = ["gradient_check", "gradient_check_theano", "gradient_errors", "numerical_gradients"]


def gradient_check_theano(model, x, y, h=0.001, error_threshold=0.01, log=print):
    """The tutorial's gradient check; True if every entry of ``bptt`` agrees with the finite differences.

    Same procedure and messages as ``rnn_theano.gradient_check_theano`` (:func:`lmkit.gradcheck.gradient_check`).
    Use a float64 model with ``bptt_truncate=-1`` (the default): the finite differences always see the
    full loss.
    """
    return gradient_check(model, x, y, h=h, error_threshold=error_threshold, log=log)
