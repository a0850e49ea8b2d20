"""``theano.config`` and the default backend of ``theano.function``: the layer's process-wide settings.

The backend names are the project's own (:data:`lmkit.backend.MODES`: c, numba, jax, python), so
``rnnlm run-theano --mode`` takes the same values as every other command.
"""
import os

import pytensor

from lmkit.backend import MODES

from .errors import GPU_HINT, NotProvidedError, TheanoValueError, not_provided

_state = {"backend": os.environ.get("RNNLM_MODE", "c").lower()}


def set_default_mode(backend):
    """Compile every ``theano.function`` without an explicit mode with ``backend``: c, jax, numba or python."""
    name = str(backend).lower()
    if name not in MODES:
        raise TheanoValueError(f"unknown backend {backend!r}; choose one of {', '.join(MODES)}")
    _state["backend"] = name


def default_mode():
    """The backend name ``theano.function`` uses when the script gives no mode (``c`` unless changed)."""
    if _state["backend"] not in MODES:
        raise TheanoValueError(f"unknown backend {_state['backend']!r} (from RNNLM_MODE); "
                               f"choose one of {', '.join(MODES)}")
    return _state["backend"]


def function_mode(mode):
    """PyTensor's mode for a ``mode=`` given to Theano's ``function``.

    ``None`` and ``'FAST_RUN'`` (Theano's optimised default, its C code) both mean the chosen backend;
    the project's names (``'c'``, ``'jax'``, ...) are accepted too; anything else goes to PyTensor as is
    (``'FAST_COMPILE'``, ``'DebugMode'``, ``'NanGuardMode'``, a ``Mode`` object).
    """
    if mode is None or mode == "FAST_RUN":
        return MODES[default_mode()]
    if isinstance(mode, str):
        if mode == "ProfileMode":
            raise NotProvidedError(not_provided("theano.ProfileMode",
                                                "Theano removed it too: pass profile=True to theano.function"))
        if mode.lower() in MODES:
            return MODES[mode.lower()]
    return mode


_GPU_FLAGS = {"device", "init_gpu_device", "force_device", "contexts", "gpuarray", "cuda", "dnn", "lib",
              "enable_initial_driver_test", "print_active_device", "nvcc", "pycuda"}


class TheanoConfig:
    """``theano.config``: reads and sets the flags of ``pytensor.config`` of the same name.

    ``theano.config.floatX`` is ``pytensor.config.floatX``; ``theano.config.floatX = 'float32'`` sets it
    (for the graphs built afterwards, as in Theano). The GPU flags (``device``, ``gpuarray``, ...) and flags
    PyTensor dropped raise a one-line :class:`NotProvidedError`.
    """

    def _check(self, name):
        if name in _GPU_FLAGS:
            raise NotProvidedError(not_provided(f"theano.config.{name}", GPU_HINT))
        if not hasattr(pytensor.config, name):
            raise NotProvidedError(not_provided(f"theano.config.{name}", "PyTensor has no such flag"))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self._check(name)
        return getattr(pytensor.config, name)

    def __setattr__(self, name, value):
        self._check(name)
        setattr(pytensor.config, name, value)

    def __repr__(self):
        return f"<theano.config (theano_compat) over pytensor.config: floatX={pytensor.config.floatX}>"


config = TheanoConfig()
