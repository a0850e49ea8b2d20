"""The ``rnnlm`` command and the layering behind it: one command with subcommands, one vocabulary of
flags, one registry that keeps ``lmkit`` free of the model packages, one run record in checkpoints."""
import ast
import shutil
import subprocess
import sys

import pytest

from rnnlm.cli import COMMANDS, build_parser
from rnnlm.flags import parse

from .conftest import REPO

MODEL_PACKAGES = ("rnn_theano", "gru_theano", "rnnlm")


def imported_names(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)):
            names.add(str(node.args[0].value).split(".")[0])
    return names


def test_no_lmkit_module_imports_a_model_package():
    files = sorted((REPO / "lmkit").rglob("*.py"))
    assert len(files) > 15
    offenders = {str(f.relative_to(REPO)): sorted(imported_names(f) & set(MODEL_PACKAGES)) for f in files}
    assert {f: names for f, names in offenders.items() if names} == {}
    # And at run time: importing every lmkit module loads none of them.
    code = ("import pkgutil, importlib, sys, lmkit\n"
            "for m in pkgutil.walk_packages(lmkit.__path__, 'lmkit.'): importlib.import_module(m.name)\n"
            f"print(sorted(p for p in {MODEL_PACKAGES!r} if p in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"


def test_model_packages_register_their_classes_and_formats():
    from lmkit.registry import FORMATS, MODELS
    from rnnlm.models import load_packages

    load_packages()

    assert set(MODELS) >= {"RNNNumpy", "RNNTheano", "GRUTheano", "LSTMTheano"}
    assert FORMATS["rnn-original"][0] == {"U", "V", "W"}
    assert FORMATS["gru-original"][0] == {"E", "U", "W", "V", "b", "c"}
    assert all(cls.model_type == name for name, cls in MODELS.items())


def help_text():
    proc = subprocess.run([sys.executable, "-m", "rnnlm", "--help"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_rnnlm_help_lists_every_subcommand_and_each_help_fits_a_screen(monkeypatch):
    top = help_text()
    assert set(COMMANDS) == {"train", "score", "rescore", "generate", "stats", "models", "explore", "part2", "part4",
                             "run-theano"}
    monkeypatch.setenv("COLUMNS", "100")
    _, subparsers = build_parser()
    for name in COMMANDS:
        assert any(line.split()[:1] == [name] for line in top.splitlines()), name
        lines = subparsers[name].format_help().splitlines()
        assert lines[0].startswith(f"usage: rnnlm {name}") and len(lines) <= 60, (name, len(lines))


@pytest.mark.skipif(shutil.which("rnnlm") is None, reason="the package is not installed (pip install -e .)")
def test_the_installed_rnnlm_command_runs():
    proc = subprocess.run(["rnnlm", "stats", "--corpus", "shakespeare:macbeth", "--vocab-size", "500"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "Using vocabulary size 500" in proc.stdout
    bad = subprocess.run(["rnnlm", "trian"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: argument COMMAND: invalid choice: 'trian'")


def test_one_vocabulary_of_flags_across_subcommands():
    _, subparsers = build_parser()
    seen = {}  # option string -> (dest, type name) of its first definition
    for name, sub in subparsers.items():
        for action in sub._actions:
            if action.dest == "mode":
                assert action.choices == ["c", "jax", "numba", "python"] and "backend" in action.help, name
            for option in action.option_strings:
                spec = (action.dest, getattr(action.type, "__name__", None))
                first = seen.setdefault(option, (name, spec))
                assert first[1] == spec, f"{option} means {first[1]} in {first[0]} but {spec} in {name}"
    # The flags every trainer shares exist in all of them under one name.
    for trainer in ("train", "part2", "part4"):
        options = {o for a in subparsers[trainer]._actions for o in a.option_strings}
        assert {"--corpus", "--vocab-size", "--mode", "--dtype", "--seed", "--out", "--samples",
                "--learning-rate", "--epochs", "--hidden-dim", "--no-progress"} <= options, trainer


def test_help_imports_neither_pytensor_nor_jax():
    """`rnnlm --help` and `rnnlm COMMAND --help` start in a moment: the command table is static and the
    command modules import the engine only when they run."""
    for argv in (["--help"], ["stats", "--help"], ["train", "--help"], ["generate", "--help"]):
        code = ("import sys, runpy; sys.argv = ['rnnlm', *%r]\n"
                "try:\n    runpy.run_module('rnnlm', run_name='__main__')\nexcept SystemExit:\n    pass\n"
                "print(sorted(m for m in ('pytensor', 'jax', 'numpy', 'gru_theano') if m in sys.modules))" % argv)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
        assert out.stdout.strip().splitlines()[-1] == "[]", (argv, out.stdout[-300:])


def test_importing_the_packages_changes_nothing_in_the_process():
    """No allocator settings, BLAS limits or warning filters on import: lmkit.backend.configure() makes them."""
    code = ("import warnings, sys\n"
            "import numpy, scipy.sparse, pytensor.tensor, pytensor.link.jax.dispatch  # their own filters first\n"
            "before = list(warnings.filters)\n"
            "import lmkit, lmkit.backend, lmkit.allocator, rnn_theano, gru_theano, theano_compat, rnnlm.cli\n"
            "from threadpoolctl import threadpool_info\n"
            "print(warnings.filters == before, lmkit.allocator.applied, lmkit.backend._configured,"
            " {i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'} != {1})")
    env = {k: v for k, v in __import__("os").environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, check=True)
    assert out.stdout.split() == ["True", "False", "None", "True"], out.stdout + out.stderr


def test_parsed_flags_are_read_only_and_know_which_were_given():
    _, parsers = build_parser(only="train")
    options = parse(parsers["train"], ["--epochs=3", "--dropout", "0.1", "--no-progress"])
    assert options.explicit == {"epochs", "dropout", "no_progress"} and options.epochs == 3
    assert options.hidden_dim == 192 and "hidden_dim" not in options.explicit
    with pytest.raises(AttributeError, match="read-only"):
        options.epochs = 4
