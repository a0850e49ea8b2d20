"""The layer's errors: each one line naming the Theano API and, where there is one, its PyTensor replacement.

Every error is an :class:`lmkit.errors.RNNLMError`, so ``rnnlm run-theano`` prints ``error: ...`` and exits
with status 2; each is also the built-in exception Python code expects (``AttributeError``, ``ImportError``,
...), so ``hasattr`` and ``try: import ... except ImportError`` keep working.
"""
from lmkit.errors import RNNLMError


class TheanoCompatError(RNNLMError):
    """Base class of the compatibility layer's errors."""


class NotProvidedError(TheanoCompatError, AttributeError):
    """A Theano attribute the layer does not cover (``theano.sandbox``, ``T.nnet.conv2d``, ...)."""


class NotProvidedImportError(TheanoCompatError, ImportError):
    """A Theano module the layer does not cover (``import theano.sandbox.cuda``).

    Deliberately not a ``ModuleNotFoundError``: ``from theano.tensor.nnet import conv2d`` would then lose the
    message and end in Python's generic "cannot import name".
    """


class TheanoTypeError(TheanoCompatError, TypeError):
    """An argument Theano itself refused (``categorical_crossentropy`` with mismatched ranks, ...)."""


class TheanoValueError(TheanoCompatError, ValueError):
    """A value Theano itself refused (``softmax`` of a 3-d tensor, an unknown backend, ...)."""


def not_provided(name, hint):
    """The one-line message for a Theano API the layer does not cover."""
    return f"{name}: not provided by theano_compat; {hint}"


GPU_HINT = ("GPU code is chosen with --mode jax (rnnlm run-theano) or set_default_mode('jax'): "
            "PyTensor reaches a GPU only through JAX")
