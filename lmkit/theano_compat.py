"""Run Theano-era code unchanged: the part of Theano's API the tutorial's model files use, on PyTensor.

Theano 1.0.5 does not run on Python 3.11, and PyTensor, its successor, renamed or dropped much of what the
tutorial's files call. This module provides those names with Theano 1.0's semantics::

    from lmkit.theano_compat import install
    install()                      # opt-in: from now on `import theano` gives this layer, in this process
    import theano                  # (unless a real Theano is importable: that one is never hidden)
    import theano.tensor as T

    from lmkit.theano_compat import theano, tensor as T   # the same modules, sys.modules left alone

``rnnlm run-theano SCRIPT.py [ARGS]`` runs a script with the layer installed (README, Running Theano-era
code). Each name either forwards to the PyTensor function that behaves as Theano's did, or re-implements
Theano's definition where PyTensor changed or dropped it:

- :func:`softmax`: Theano's ``T.nnet.softmax`` works on rows; a vector becomes a one-row matrix
  (``softmax(v)[0]`` is the vector), a 2-d input is normalised along its last axis, anything else is refused.
- :func:`hard_sigmoid`: ``clip(0.2 x + 0.5, 0, 1)`` in ``x``'s float type (integers upgrade as in Theano).
- :func:`categorical_crossentropy`: ``-log p[i, y_i]`` for integer targets, ``-sum(t * log p, axis=-1)`` for
  one-hot or probability targets of ``p``'s rank.
- :func:`scan` returns the pair ``(outputs, updates)``.
- :func:`function` accepts :class:`Param` / :class:`In` inputs with default values (PyTensor's ``In`` refuses
  them: "Inputs with default values are deprecated") and fills missing trailing or named arguments itself;
  its default mode is the backend chosen with :func:`set_default_mode` (``rnnlm run-theano --mode``).
- :data:`config` reads and sets ``pytensor.config`` (``config.floatX`` included).

The modules ``theano``, ``theano.tensor``, ``theano.tensor.nnet`` and ``theano.gradient`` (end of the file)
hold these names. A name they lack raises a one-line :class:`NotProvidedError` (an ``AttributeError``, so
``hasattr`` is False) naming the Theano API and its PyTensor replacement, if any; once installed,
``import theano.sandbox.cuda`` or ``from theano.tensor.nnet import conv2d`` raise the same line as a
:class:`NotProvidedImportError` (an ``ImportError``). Every error of the layer is an
:class:`lmkit.errors.RNNLMError`, so ``rnnlm run-theano`` prints ``error: ...`` and exits with status 2.

The layer imports only PyTensor, numpy and :mod:`lmkit.errors`; it never imports the project's models.
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
import warnings

import numpy as np
import pytensor
import pytensor.gradient as pt_gradient
import pytensor.scalar as ps
import pytensor.tensor as pt
from pytensor.compile.io import In as PtIn
from pytensor.compile.io import SymbolicOutput
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.tensor.special import softmax as _pt_softmax

from lmkit.errors import RNNLMError

__version__ = f"1.0.5+lmkit.theano.compat.pytensor.{pytensor.__version__}"


# ------------------------------------------------------------------------------------------------
# Errors: one line naming the Theano API and its replacement
# ------------------------------------------------------------------------------------------------
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
    return f"{name}: not provided by lmkit.theano_compat; {hint}"


GPU_HINT = ("GPU code is chosen with --mode jax (rnnlm run-theano) or set_default_mode('jax'): "
            "PyTensor reaches a GPU only through JAX")

# ------------------------------------------------------------------------------------------------
# Backend: the default mode of theano.function
# ------------------------------------------------------------------------------------------------
# The project's backend names (the same as lmkit.backend.MODES; a test keeps the two equal). Not imported
# from lmkit.backend, whose import limits numpy's BLAS threads: installing the layer changes nothing else.
BACKENDS = {"c": "CVM", "numba": "NUMBA", "jax": "JAX", "python": "FAST_COMPILE"}
_state = {"backend": os.environ.get("RNNLM_MODE", "c").lower()}


def set_default_mode(backend):
    """Compile every :func:`function` without an explicit mode with ``backend``: c, jax, numba or python."""
    name = str(backend).lower()
    if name not in BACKENDS:
        raise TheanoValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    _state["backend"] = name


def default_mode():
    """The backend name :func:`function` uses when the script gives no mode (``c`` unless changed)."""
    if _state["backend"] not in BACKENDS:
        raise TheanoValueError(f"unknown backend {_state['backend']!r} (from RNNLM_MODE); "
                               f"choose one of {', '.join(BACKENDS)}")
    return _state["backend"]


def _function_mode(mode):
    """PyTensor's mode for a ``mode=`` given to Theano's ``function``.

    ``None`` and ``'FAST_RUN'`` (Theano's optimised default, its C code) both mean the chosen backend;
    the project's names (``'c'``, ``'jax'``, ...) are accepted too; anything else goes to PyTensor as is
    (``'FAST_COMPILE'``, ``'DebugMode'``, ``'NanGuardMode'``, a ``Mode`` object).
    """
    if mode is None or mode == "FAST_RUN":
        return BACKENDS[default_mode()]
    if isinstance(mode, str):
        if mode == "ProfileMode":
            raise NotProvidedError(not_provided("theano.ProfileMode",
                                                "Theano removed it too: pass profile=True to theano.function"))
        if mode.lower() in BACKENDS:
            return BACKENDS[mode.lower()]
    return mode


# ------------------------------------------------------------------------------------------------
# theano.config
# ------------------------------------------------------------------------------------------------
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
        return f"<theano.config (lmkit.theano_compat) over pytensor.config: floatX={pytensor.config.floatX}>"


config = TheanoConfig()


# ------------------------------------------------------------------------------------------------
# theano.function with Param / In defaults
# ------------------------------------------------------------------------------------------------
_REQUIRED = object()  # marks an input without a default value
_MISSING = object()   # marks an argument not given in this call


class In:
    """``theano.In(variable, name=None, value=None, ...)``: a function input, optionally with a default value.

    The default is kept here and filled in by :class:`Function` when the call leaves the input out (PyTensor
    refuses default values). ``update=`` on a non-shared input (Theano's internal state) is not covered.
    """

    def __init__(self, variable, name=None, value=None, update=None, mutable=None, strict=False,
                 allow_downcast=None, autoname=True, implicit=None, borrow=None, shared=False):
        if update is not None or implicit or isinstance(value, SharedVariable):
            raise NotProvidedError(not_provided(
                "theano.In with update=, implicit= or a shared value",
                "keep state in a theano.shared variable and update it with theano.function(updates=...)"))
        self.variable = variable
        self.name = variable.name if (name is None and autoname) else name
        self.value = value
        self.mutable = mutable
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.borrow = borrow

    def _pytensor_input(self):
        return PtIn(self.variable, name=self.name, mutable=self.mutable, strict=self.strict,
                    allow_downcast=self.allow_downcast, borrow=self.borrow)


class Param(In):
    """``theano.Param(variable, default=None, name=None, ...)``: Theano's older spelling of ``In(value=...)``."""

    def __init__(self, variable, default=None, name=None, mutable=False, strict=False, allow_downcast=None,
                 implicit=None, borrow=None):
        super().__init__(variable, name=name, value=default, mutable=mutable, strict=strict,
                         allow_downcast=allow_downcast, implicit=implicit, borrow=borrow)


Out = SymbolicOutput


def _is_jax_array(value):
    return type(value).__module__.split(".")[0] in ("jax", "jaxlib")


class Function:
    """A compiled function called as Theano called it.

    Positional arguments fill the inputs in order; keyword arguments fill them by name (an ``In``'s
    ``name``, else its variable's name); inputs left out take their default, and a missing input without
    one is a ``TypeError`` as in Theano. Outputs are numpy arrays on every backend (JAX's arrays are
    copied into writable ones). ``f[name]`` reads and ``f[name] = value`` changes a default. Any other attribute
    (``maker``, ``free``, ...) is the underlying PyTensor function's (the one used last).

    On JAX, a graph whose inputs have no fixed shape (``T.ivector``) is compiled once per combination of
    input shapes, with those shapes fixed: ``jax.jit`` needs a static sequence length for the gradient of
    a ``scan``. Each new sentence length therefore costs one compile (seconds); the C backend compiles once.
    """

    def __init__(self, compile_for, names, defaults, specialize):
        self._compile_for = compile_for  # shapes (or None) -> PyTensor function
        self._names = names
        self._defaults = defaults
        self._specialize = specialize    # per input: True where JAX needs the shape fixed; None: never
        self._by_shape = {}
        self.pytensor_function = None if specialize else compile_for(None)

    def __call__(self, *args, **kwargs):
        n = len(self._names)
        if len(args) > n:
            raise TypeError(f"Too many parameters passed to theano function: {len(args)} given, {n} inputs")
        extra = {}
        if "output_subset" in kwargs:
            extra["output_subset"] = kwargs.pop("output_subset")
        if len(args) < n or kwargs:
            values = list(args) + [_MISSING] * (n - len(args))
            for key, value in kwargs.items():
                i = self._index(key)
                if values[i] is not _MISSING:
                    raise TypeError(f"Multiple values for input: {key}")
                values[i] = value
            for i, value in enumerate(values):
                if value is _MISSING:
                    if self._defaults[i] is _REQUIRED:
                        raise TypeError(f"Missing required input: {self._names[i] or f'input {i}'}")
                    values[i] = self._defaults[i]
            args = values
        if self._specialize:
            shapes = tuple(np.shape(a) if fix else None for a, fix in zip(args, self._specialize))
            if shapes not in self._by_shape:
                self._by_shape[shapes] = self._compile_for(shapes)
            self.pytensor_function = self._by_shape[shapes]
        out = self.pytensor_function(*args, **extra)
        if isinstance(out, list):
            return [np.array(o) if _is_jax_array(o) else o for o in out]
        return np.array(out) if _is_jax_array(out) else out

    def _index(self, name):
        found = [i for i, n in enumerate(self._names) if n == name]
        if len(found) != 1:
            named = ", ".join(n for n in self._names if n) or "none"
            what = "Ambiguous name" if found else "Unknown input or state"
            count = sum(1 for n in self._names if n)
            raise TypeError(f"{what}: {name}. The function has {count} named inputs ({named}).")
        return found[0]

    def __getitem__(self, name):
        default = self._defaults[self._index(name)]
        if default is _REQUIRED:
            raise TypeError(f"input {name} has no default value")
        return default

    def __setitem__(self, name, value):
        self._defaults[self._index(name)] = value

    def __getattr__(self, name):
        if name.startswith("_") or name == "pytensor_function":
            raise AttributeError(name)
        if self.pytensor_function is None:
            raise AttributeError(f"{name}: this JAX function is compiled at its first call")
        return getattr(self.pytensor_function, name)


def _is_jax(mode):
    if isinstance(mode, str):
        return mode.upper() == "JAX"
    return type(getattr(mode, "linker", None)).__name__ == "JAXLinker"


def function(inputs, outputs=None, mode=None, updates=None, givens=None, no_default_updates=False,
             accept_inplace=False, name=None, rebuild_strict=True, allow_input_downcast=None, profile=None,
             on_unused_input=None):
    """``theano.function``: compile ``inputs -> outputs`` (and ``updates``) with the chosen backend.

    ``inputs`` may mix variables with :class:`Param` / :class:`In` objects carrying defaults. ``mode=None`` or
    ``'FAST_RUN'`` means the default backend (:func:`set_default_mode`); see :func:`_function_mode`.
    Returns a :class:`Function` (on JAX, compiled per input shape at the calls: see there).
    """
    if inputs is None or isinstance(inputs, (pytensor.graph.basic.Variable, In)):
        raise TheanoTypeError("theano.function: inputs must be a list of variables (or In/Param objects)")
    specs, names, defaults = [], [], []
    for item in inputs:
        if isinstance(item, In):
            specs.append(item._pytensor_input())
            names.append(item.name)
            defaults.append(_REQUIRED if item.value is None else item.value)
        elif isinstance(item, PtIn):
            specs.append(item)
            names.append(item.name)
            defaults.append(_REQUIRED)
        else:
            specs.append(item)
            names.append(getattr(item, "name", None))
            defaults.append(_REQUIRED)
    pt_mode = _function_mode(mode)
    # PyTensor deprecates no_default_updates: passed on only when a script sets it.
    options = dict(mode=pt_mode, updates=updates, accept_inplace=accept_inplace, name=name,
                   rebuild_strict=rebuild_strict, allow_input_downcast=allow_input_downcast, profile=profile,
                   on_unused_input=on_unused_input, **({"no_default_updates": True} if no_default_updates else {}))

    def variable(spec):
        return spec.variable if isinstance(spec, PtIn) else spec

    def compile_for(shapes):
        if shapes is None:
            return pytensor.function(specs, outputs, givens=givens, **options)
        fixed, replace = [], {}
        for spec, shape in zip(specs, shapes):
            var = variable(spec)
            if shape is None:
                fixed.append(spec)
                continue
            new = var.type.clone(shape=shape)(name=var.name)
            replace[var] = new
            fixed.append(PtIn(new, name=spec.name, mutable=spec.mutable, strict=spec.strict,
                              allow_downcast=spec.allow_downcast, borrow=spec.borrow)
                         if isinstance(spec, PtIn) else new)
        return pytensor.function(fixed, outputs, givens=replace, **options)

    specialize = None
    if _is_jax(pt_mode) and givens is None:
        flags = [isinstance(variable(s).type, pt.TensorType) and None in variable(s).type.shape for s in specs]
        specialize = flags if any(flags) else None
    return Function(compile_for, names, defaults, specialize)


def shared(value, name=None, strict=False, allow_downcast=None, **kwargs):
    """``theano.shared``: a variable whose value lives between calls (``pytensor.shared``, unchanged)."""
    return pytensor.shared(value, name=name, strict=strict, allow_downcast=allow_downcast, **kwargs)


# ------------------------------------------------------------------------------------------------
# theano.scan: the pair (outputs, updates)
# ------------------------------------------------------------------------------------------------
def _scan_mode(mode):
    return None if mode in (None, "FAST_RUN") else _function_mode(mode)


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None, truncate_gradient=-1,
         go_backwards=False, mode=None, name=None, profile=False, allow_gc=None, strict=False,
         return_list=False):
    """``theano.scan``: repeat ``fn`` over ``sequences``; returns ``(outputs, updates)`` as Theano did.

    ``outputs`` is one variable when the step returns one output (a list otherwise, or with
    ``return_list=True``); ``outputs_info`` entries may be ``None`` (not fed back), an initial value, or
    ``dict(initial=..., taps=[...])``. ``updates`` holds the shared-variable updates made inside the loop
    (random streams); pass it to ``theano.function(updates=...)``.
    """
    for entry in outputs_info if isinstance(outputs_info, (list, tuple)) else [outputs_info]:
        if isinstance(entry, dict) and "return_steps" in entry:
            raise NotProvidedError(not_provided("theano.scan outputs_info return_steps",
                                                "index the output instead (outputs[-k:])"))
    kwargs = dict(sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences, n_steps=n_steps,
                  truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=_scan_mode(mode),
                  name=name, profile=profile, allow_gc=allow_gc, strict=strict, return_list=return_list)
    with warnings.catch_warnings():
        # PyTensor 3 warns that scan will stop returning the updates; returning them is Theano's contract.
        warnings.filterwarnings("ignore", message="Scan return signature will change")
        outputs, updates = pytensor.scan(fn, return_updates=True, **kwargs)
    return outputs, updates


def scan_map(fn, sequences, non_sequences=None, truncate_gradient=-1, go_backwards=False, mode=None, name=None):
    """``theano.map``: :func:`scan` with no recurrent outputs; returns ``(outputs, updates)``."""
    return scan(fn, sequences=sequences, outputs_info=[], non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode, name=name)


# ------------------------------------------------------------------------------------------------
# theano.tensor.nnet
# ------------------------------------------------------------------------------------------------
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
    """Theano's ``T.nnet.hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)``, in the float type Theano chose for ``x``."""
    x = pt.as_tensor_variable(x)
    out_dtype = ps.upgrade_to_float(ps.ScalarType(dtype=x.dtype))[0].dtype
    slope = pt.constant(0.2, dtype=out_dtype)
    shift = pt.constant(0.5, dtype=out_dtype)
    return pt.clip(x * slope + shift, 0, 1)


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


NNET = {name: globals()[name] for name in ("softmax", "sigmoid", "hard_sigmoid", "relu", "softplus",
                                           "categorical_crossentropy", "binary_crossentropy")}


# ------------------------------------------------------------------------------------------------
# theano.tensor: the names forwarded to pytensor.tensor (same definition as Theano's), and a few wrappers
# ------------------------------------------------------------------------------------------------
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
TENSOR.update(abs_=pt.abs, stack=stack)  # and nnet, the module (below)

GRADIENT = {name: getattr(pt_gradient, name) for name in ("grad", "grad_clip", "disconnected_grad", "zero_grad")}


# ------------------------------------------------------------------------------------------------
# The modules, and install()
# ------------------------------------------------------------------------------------------------
CONV_HINT = ("PyTensor has no neural-network convolution; pytensor.tensor.signal.convolve2d convolves one "
             "2-d signal (scipy.signal semantics)")
RANDOM_HINT = "use pytensor.tensor.random.utils.RandomStream (it draws other numbers than Theano's)"

# Theano APIs that are left out on purpose, with what to use instead. A prefix covers what lies below it.
MISSING = {
    "theano.sandbox": "the old GPU back end and experiments; " + GPU_HINT,
    "theano.sandbox.cuda": GPU_HINT,
    "theano.sandbox.gpuarray": GPU_HINT,
    "theano.gpuarray": GPU_HINT,
    "theano.sandbox.rng_mrg": "for MRG_RandomStreams " + RANDOM_HINT,
    "theano.tensor.shared_randomstreams": "for RandomStreams " + RANDOM_HINT,
    "theano.tensor.nnet.conv2d": CONV_HINT,
    "theano.tensor.nnet.conv": CONV_HINT,
    "theano.tensor.nnet.conv3d": CONV_HINT,
    "theano.tensor.nnet.abstract_conv": CONV_HINT,
    "theano.tensor.signal": "PyTensor has no pooling op; pytensor.tensor.signal.convolve2d convolves one 2-d signal",
    "theano.tensor.signal.conv": CONV_HINT,
    "theano.tensor.nnet.bn": "PyTensor has no batch-normalisation op; write it with mean and var",
    "theano.tensor.nnet.neighbours": "PyTensor has no images2neibs",
    "theano.tensor.nnet.ctc": "PyTensor has no CTC loss",
    "theano.tensor.nnet.ultra_fast_sigmoid": "use theano.tensor.nnet.sigmoid (exact) or pytensor.tensor.sigmoid",
    "theano.tensor.nnet.logsoftmax": "use pytensor.tensor.special.log_softmax(x, axis=-1)",
    "theano.tensor.nnet.softmax_with_bias": "use theano.tensor.nnet.softmax(x + b)",
    "theano.tensor.nnet.crossentropy_softmax_1hot": "use pytensor.tensor.special.log_softmax and index it",
    "theano.tensor.nnet.crossentropy_categorical_1hot": "use theano.tensor.nnet.categorical_crossentropy",
    "theano.tensor.extra_ops": "use pytensor.tensor.extra_ops",
    "theano.tensor.nlinalg": "use pytensor.tensor.nlinalg",
    "theano.tensor.slinalg": "use pytensor.tensor.slinalg",
    "theano.tensor.opt": "graph rewrites live in pytensor.tensor.rewriting",
    "theano.tensor.inv": "use pytensor.tensor.reciprocal",
    "theano.ifelse": "use pytensor.ifelse.ifelse",
    "theano.printing": "use pytensor.printing (debugprint, pprint)",
    "theano.pp": "use pytensor.pp",
    "theano.compile": "use pytensor.compile",
    "theano.Mode": "use pytensor.compile.mode.Mode, or theano.function(mode='FAST_COMPILE')",
    "theano.ProfileMode": "Theano removed it too: pass profile=True to theano.function",
    "theano.scan_module": "use pytensor.scan and pytensor.scan.utils.until",
    "theano.reduce": "write it with theano.scan and keep the last step ([-1])",
    "theano.foldl": "write it with theano.scan and keep the last step ([-1])",
    "theano.foldr": "write it with theano.scan(go_backwards=True) and keep the last step ([-1])",
    "theano.clone": "use pytensor.clone_replace",
    "theano.OpFromGraph": "use pytensor.compile.builders.OpFromGraph",
    "theano.sparse": "use pytensor.sparse",
    "theano.d3viz": "use pytensor.d3viz",
    "theano.gof": "use pytensor.graph",
    "theano.misc": "theano.misc.pkl_utils has no counterpart: save shared values with get_value() and numpy",
}
# Names below which further imports are answered with a fresh (empty) module, so that
# `import theano.sandbox.rng_mrg` reports rng_mrg and not just "theano.sandbox".
NAMESPACES = {"theano.sandbox", "theano.tensor.signal"}
# Where to look for a same-named PyTensor function to suggest when a name is in no table.
COUNTERPARTS = {"theano": ["pytensor"], "theano.tensor": ["pytensor.tensor"],
                "theano.tensor.nnet": ["pytensor.tensor.special", "pytensor.tensor"],
                "theano.gradient": ["pytensor.gradient"]}


def explain(name):
    """The one-line message for a Theano name (``theano.x.y``) the layer does not provide."""
    parts = name.split(".")
    for i in range(len(parts), 1, -1):
        prefix = ".".join(parts[:i])
        if prefix in MISSING:
            return not_provided(name, MISSING[prefix])
    parent, _, attr = name.rpartition(".")
    for module_name in COUNTERPARTS.get(parent, []):
        module = importlib.import_module(module_name)
        if hasattr(module, attr):
            return not_provided(name, f"PyTensor has {module_name}.{attr} (check it behaves as Theano's did)")
    return not_provided(name, "no PyTensor counterpart is known (README, Running Theano-era code)")


def _module(name, doc, names):
    """A package-like module ``name`` holding ``names``; other attributes raise :class:`NotProvidedError`."""
    module = types.ModuleType(name, doc)
    module.__dict__.update(names)
    module.__all__ = sorted(k for k in names if not k.startswith("_"))
    module.__path__ = []
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, origin="lmkit.theano_compat", is_package=True)
    module.__spec__.submodule_search_locations = []

    def __getattr__(attr):
        if attr.startswith("__"):
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        raise NotProvidedError(explain(f"{name}.{attr}"))

    module.__getattr__ = __getattr__
    return module


nnet = _module("theano.tensor.nnet", "Theano's theano.tensor.nnet on PyTensor (lmkit.theano_compat).", NNET)
tensor = _module("theano.tensor", "Theano's theano.tensor on PyTensor (lmkit.theano_compat).",
                 {**TENSOR, "nnet": nnet})
gradient = _module("theano.gradient", "Theano's theano.gradient on PyTensor (lmkit.theano_compat).", GRADIENT)
theano = _module("theano", "Theano's API on PyTensor: lmkit.theano_compat, not the real Theano.", {
    "__version__": __version__, "config": config, "shared": shared, "function": function,
    "Param": Param, "In": In, "Out": Out, "scan": scan, "map": scan_map,
    "grad": pytensor.grad, "dot": pytensor.tensor.dot, "tensor": tensor, "gradient": gradient,
})
MODULES = {m.__name__: m for m in (theano, tensor, nnet, gradient)}


class _NamespaceLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return _module(spec.name, f"{spec.name}: not provided by lmkit.theano_compat.", {})

    def exec_module(self, module):
        pass


class TheanoFinder(importlib.abc.MetaPathFinder):
    """Answers imports of ``theano.*`` names the layer does not hold: a one-line ImportError."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("theano.") or sys.modules.get("theano") is not theano:
            return None
        if fullname in NAMESPACES:
            spec = importlib.machinery.ModuleSpec(fullname, _NamespaceLoader(), origin="lmkit.theano_compat",
                                                  is_package=True)
            spec.submodule_search_locations = []
            return spec
        raise NotProvidedImportError(explain(fullname))


FINDER = TheanoFinder()


def real_theano():
    """Where a real Theano would be imported from (its spec origin), or None when there is none."""
    module = sys.modules.get("theano")
    if module is not None:
        return None if module is theano else (getattr(module, "__file__", None) or repr(module))
    try:
        spec = importlib.util.find_spec("theano")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.origin or ", ".join(spec.submodule_search_locations or []) or "theano"


def is_installed():
    """True when ``import theano`` gives this layer in this process."""
    return sys.modules.get("theano") is theano


def install(mode=None):
    """Make ``import theano`` (and ``theano.tensor``, ``theano.tensor.nnet``, ``theano.gradient``) give this
    layer in the current process, unless a real Theano is importable: it is never hidden.

    ``mode`` (c, jax, numba, python) sets the default backend of ``theano.function``. Returns True when the
    layer is installed (now or before), False (with a warning) when a real Theano is importable.
    """
    if mode is not None:
        set_default_mode(mode)
    if is_installed():
        return True
    found = real_theano()
    if found is not None:
        warnings.warn(f"a real Theano is importable ({found}); lmkit.theano_compat.install() leaves it in place",
                      RuntimeWarning, stacklevel=2)
        return False
    sys.modules.update(MODULES)
    if FINDER not in sys.meta_path:
        sys.meta_path.insert(0, FINDER)
    return True


def uninstall():
    """Undo :func:`install`: ``import theano`` fails again (the layer's names stay usable directly)."""
    if FINDER in sys.meta_path:
        sys.meta_path.remove(FINDER)
    for name, module in list(sys.modules.items()):
        if (name == "theano" or name.startswith("theano.")) and getattr(
                getattr(module, "__spec__", None), "origin", None) == "lmkit.theano_compat":
            del sys.modules[name]
