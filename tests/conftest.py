import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own tokenization cache folder, so tests never see each other's entries."""
    monkeypatch.setenv("RNNLM_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch):
    """Nothing may fetch data at run time: make nltk.download fail loudly if anything calls it."""
    import nltk

    def refuse(*args, **kwargs):
        raise AssertionError("nltk.download was called; the project must work offline")

    monkeypatch.setattr(nltk, "download", refuse)


def run_script(name, *args, env=None):
    """Run ``scripts/<name>`` in a subprocess; returns the CompletedProcess (text mode)."""
    import subprocess

    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), *map(str, args)],
                          capture_output=True, text=True, env=full_env, cwd=REPO, timeout=600)


def pytest_configure(config):
    """The process settings the command line makes (one BLAS thread, the allocator, expected warnings off)."""
    from lmkit.backend import configure

    configure()
