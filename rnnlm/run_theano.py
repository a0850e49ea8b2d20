"""Run a Theano-era script unchanged on PyTensor, through the ``theano`` compatibility layer (``theano_compat``).

    rnnlm run-theano rnn_theano_demo.py                  # `import theano` in the script gets the layer
    rnnlm run-theano --mode jax train.py --epochs 3      # flags after the script are the script's own
    rnnlm run-theano --floatX float32 train.py

The script runs as ``python SCRIPT.py ARGS`` would run it: ``__name__ == "__main__"``, ``sys.argv`` is
``[SCRIPT.py, ARGS...]`` and the script's folder comes first on ``sys.path`` (so ``from utils import *``
finds its neighbours). ``--mode`` is the backend of every ``theano.function`` the script compiles without
a mode of its own (``mode='FAST_RUN'`` included). A Theano API the layer does not cover stops the run with
one line naming its PyTensor replacement. A real Theano, if importable, is never hidden: the command then
refuses to run. What is covered, and what a Python 2 file still needs: README, Running Theano-era code.
"""
import argparse
from pathlib import Path

from lmkit.backend import MODES

USAGE = "[--mode M] [--floatX T] SCRIPT.py [ARGS ...]"
# Packages of this project named like the tutorial's own files; the script's files of those names win.
PROJECT_PACKAGES = ("rnn_theano", "gru_theano")


def add_arguments(ap):
    ap.add_argument("--mode", default=None, choices=sorted(MODES),
                    help="backend of theano.function (default: c, or $RNNLM_MODE)")
    ap.add_argument("--floatX", default=None, choices=["float32", "float64"],
                    help="theano.config.floatX before the script starts (default: PyTensor's, float64)")
    ap.add_argument("script", help="the Theano-era Python file to run")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")


def check_script(path):
    """Refuse, in one line, a missing file or one that is not Python 3 (Python 2's print statement, ...)."""
    from lmkit.errors import UsageError

    if not path.is_file():
        raise UsageError(f"no such script: {path}")
    try:
        source = path.read_bytes()
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise UsageError(f"{path}, line {exc.lineno}: not Python 3 ({exc.msg}); port it first "
                         "(README, Running Theano-era code)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def run(args):
    import importlib.util
    import os
    import runpy
    import sys

    import theano_compat
    from lmkit.errors import UsageError

    path = Path(args.script)
    check_script(path)
    folder = str(path.resolve().parent)
    beside = [p for p in (Path(folder) / "theano" / "__init__.py", Path(folder) / "theano.py") if p.is_file()]
    found = str(beside[0]) if beside else theano_compat.real_theano()
    if found is not None:
        raise UsageError(f"a real Theano is importable ({found}); run-theano never hides it: run the script "
                         "with python, or uninstall Theano to use the compatibility layer")
    backend = args.mode or os.environ.get("RNNLM_MODE", "c")
    if backend == "jax" and importlib.util.find_spec("jax") is None:
        raise UsageError("--mode jax needs JAX (pip install jax)")
    import pytensor

    saved_floatx = pytensor.config.floatX
    if args.floatX:
        pytensor.config.floatX = args.floatX

    saved_argv, saved_path, saved_mode = sys.argv[:], sys.path[:], theano_compat.default_mode()
    # The tutorial's files are called rnn_theano.py and gru_theano.py, like this project's packages, which
    # this process may have imported already: set those aside so the script imports its own neighbours.
    shadowed = shadowed_modules(Path(folder))
    for name in shadowed:
        del sys.modules[name]
    modules_before = set(sys.modules)
    installed_here = not theano_compat.is_installed()
    sys.argv = [str(path), *args.args]
    sys.path.insert(0, folder)
    try:
        theano_compat.install(mode=backend)
        runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        theano_compat.set_default_mode(saved_mode)
        pytensor.config.floatX = saved_floatx
        if installed_here:
            theano_compat.uninstall()
        # The script's own modules (its `utils`, say) go, so a second run in this process imports its own.
        for name in set(sys.modules) - modules_before:
            origin = getattr(sys.modules[name], "__file__", None)
            if origin and Path(origin).resolve().is_relative_to(folder):
                del sys.modules[name]
        sys.modules.update(shadowed)


def shadowed_modules(folder):
    """This project's model packages, imported in this process, that a file or package of the same name in
    ``folder`` replaces for a script run from there (the tutorial's ``rnn_theano.py``, ``gru_theano.py``)."""
    import sys

    names = {p.stem for p in folder.glob("*.py")} | {p.parent.name for p in folder.glob("*/__init__.py")}
    names &= set(PROJECT_PACKAGES)
    return {name: module for name, module in sys.modules.items() if name.split(".")[0] in names}
