import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("token-cache")


@pytest.fixture(autouse=True)
def _test_cache(_session_cache, monkeypatch):
    """The tokenization cache of the test session, never the user's: entries are keyed by the corpus's
    files (path, size, modification time), so tests share the built-in corpus's entry (tokenized once, not
    for every test that uses it) and never each other's files. A test of the cache itself sets its own."""
    monkeypatch.setenv("RNNLM_CACHE_DIR", str(_session_cache))


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch):
    """Nothing may fetch data at run time: make nltk.download fail loudly if anything calls it."""
    import nltk

    def refuse(*args, **kwargs):
        raise AssertionError("nltk.download was called; the project must work offline")

    monkeypatch.setattr(nltk, "download", refuse)


# scripts/<name> -> the rnnlm command it runs (each script is rnnlm.cli.main with that command first)
SCRIPT_COMMANDS = {"train.py": "train", "train_part2.py": "part2", "train_part4.py": "part4", "score.py": "score",
                   "generate.py": "generate", "stats.py": "stats"}


def run_script(name, *args, env=None, process=False):
    """Run ``scripts/<name> ARGS``; returns the CompletedProcess (text mode).

    In this process by default, through the same ``rnnlm.cli.main`` the script calls (with ``env`` set for
    the call): the command's behaviour without the second or two of a new interpreter's imports. With
    ``process=True``, in a new Python process, for what only a process boundary shows.
    """
    import subprocess

    if not process:
        from .helpers import rnnlm

        saved = {k: os.environ.get(k) for k in (env or {})}
        os.environ.update(env or {})
        try:
            return rnnlm(SCRIPT_COMMANDS[name], *args)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), *map(str, args)],
                          capture_output=True, text=True, env=full_env, cwd=REPO, timeout=600)


def pytest_configure(config):
    """The process settings the command line makes (one BLAS thread, the allocator, expected warnings off)."""
    from lmkit.backend import configure

    configure()
