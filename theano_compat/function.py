"""``theano.function`` and its inputs (``In``, ``Param``, ``Out``), and ``theano.shared``, on PyTensor.

PyTensor's ``In`` refuses default values ("Inputs with default values are deprecated"); here they are kept
by :class:`Function`, which fills in missing trailing or named arguments as Theano's compiled functions did.
Without a ``mode`` a function compiles with the backend chosen by :func:`theano_compat.set_default_mode`.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.io import In as PtIn
from pytensor.compile.io import SymbolicOutput
from pytensor.compile.sharedvalue import SharedVariable

from .errors import NotProvidedError, TheanoTypeError, not_provided
from .settings import function_mode

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
    ``'FAST_RUN'`` means the default backend (:func:`set_default_mode`); see :func:`.settings.function_mode`.
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
    pt_mode = function_mode(mode)
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
