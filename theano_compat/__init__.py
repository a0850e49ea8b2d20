"""Run Theano-era code unchanged: the part of Theano's API the tutorial's model files use, on PyTensor.

Theano 1.0.5 does not run on Python 3.11, and PyTensor, its successor, renamed or dropped much of what the
tutorial's files call. This package provides those names with Theano 1.0's semantics::

    from theano_compat import install
    install()                      # opt-in: from now on `import theano` gives this layer, in this process
    import theano                  # (unless a real Theano is importable: that one is never hidden)
    import theano.tensor as T

    from theano_compat import theano, tensor as T   # the same modules, sys.modules left alone

``rnnlm run-theano SCRIPT.py [ARGS]`` runs a script with the layer installed (README, Running Theano-era
code). Each name either forwards to the PyTensor function that behaves as Theano's did, or re-implements
Theano's definition where PyTensor changed or dropped it. One module per part of Theano:

- :mod:`.function`: ``theano.function`` with ``Param`` / ``In`` defaults, ``Out``, ``shared``;
- :mod:`.scan`: ``theano.scan`` and ``theano.map``, returning ``(outputs, updates)``;
- :mod:`.tensor_api`, :mod:`.nnet_api`, :mod:`.gradient_api`: ``theano.tensor``, ``theano.tensor.nnet``
  (softmax on rows, hard_sigmoid, the crossentropies, ...) and ``theano.gradient``;
- :mod:`.settings`: ``theano.config`` and the default backend (the project's ``--mode`` names,
  :data:`lmkit.backend.MODES`);
- :mod:`.hook`: the module objects, ``install()`` and the one-line errors for what is not covered;
- :mod:`.errors`: those errors, each an :class:`lmkit.errors.RNNLMError` (``rnnlm run-theano`` prints
  ``error: ...`` and exits with status 2).

The layer imports PyTensor, numpy and three modules of :mod:`lmkit` (``errors``, ``backend``, ``gates``);
it never imports the project's models.
"""
from .errors import NotProvidedError, NotProvidedImportError, TheanoCompatError, TheanoTypeError, TheanoValueError
from .hook import __version__, gradient, install, is_installed, nnet, real_theano, tensor, theano, uninstall
from .settings import default_mode, set_default_mode

__all__ = ["install", "uninstall", "is_installed", "real_theano", "set_default_mode", "default_mode",
           "theano", "tensor", "nnet", "gradient", "__version__", "TheanoCompatError", "NotProvidedError",
           "NotProvidedImportError", "TheanoTypeError", "TheanoValueError"]
