"""``import theano``: the module objects ``theano``, ``theano.tensor``, ``theano.tensor.nnet`` and
``theano.gradient``, and the import hook that puts them in ``sys.modules``.

A name the modules lack raises a one-line :class:`NotProvidedError` (:func:`explain`); once installed, an
import of a ``theano.*`` module the layer does not hold raises the same line as a
:class:`NotProvidedImportError`.
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import warnings

import pytensor

from .errors import GPU_HINT, NotProvidedError, NotProvidedImportError, not_provided
from .function import In, Out, Param, function, shared
from .gradient_api import GRADIENT
from .nnet_api import NNET
from .scan import scan, scan_map
from .settings import config, set_default_mode
from .tensor_api import TENSOR

__version__ = f"1.0.5+theano.compat.pytensor.{pytensor.__version__}"
ORIGIN = "theano_compat"  # the spec origin of every module the layer puts in sys.modules

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
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, origin=ORIGIN, is_package=True)
    module.__spec__.submodule_search_locations = []

    def __getattr__(attr):
        if attr.startswith("__"):
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        raise NotProvidedError(explain(f"{name}.{attr}"))

    module.__getattr__ = __getattr__
    return module


nnet = _module("theano.tensor.nnet", "Theano's theano.tensor.nnet on PyTensor (theano_compat).", NNET)
tensor = _module("theano.tensor", "Theano's theano.tensor on PyTensor (theano_compat).",
                 {**TENSOR, "nnet": nnet})
gradient = _module("theano.gradient", "Theano's theano.gradient on PyTensor (theano_compat).", GRADIENT)
theano = _module("theano", "Theano's API on PyTensor: theano_compat, not the real Theano.", {
    "__version__": __version__, "config": config, "shared": shared, "function": function,
    "Param": Param, "In": In, "Out": Out, "scan": scan, "map": scan_map,
    "grad": pytensor.grad, "dot": pytensor.tensor.dot, "tensor": tensor, "gradient": gradient,
})
MODULES = {m.__name__: m for m in (theano, tensor, nnet, gradient)}


class _NamespaceLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return _module(spec.name, f"{spec.name}: not provided by theano_compat.", {})

    def exec_module(self, module):
        pass


class TheanoFinder(importlib.abc.MetaPathFinder):
    """Answers imports of ``theano.*`` names the layer does not hold: a one-line ImportError."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("theano.") or sys.modules.get("theano") is not theano:
            return None
        if fullname in NAMESPACES:
            spec = importlib.machinery.ModuleSpec(fullname, _NamespaceLoader(), origin=ORIGIN,
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
        warnings.warn(f"a real Theano is importable ({found}); theano_compat.install() leaves it in place",
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
                getattr(module, "__spec__", None), "origin", None) == ORIGIN:
            del sys.modules[name]
