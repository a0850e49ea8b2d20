"""Checkpoints: one ``.npz`` file with the weights as arrays and everything else as JSON.

Loading never unpickles (``allow_pickle=False``), so opening a file cannot run code. Writes go to a
temporary file in the same folder that is fsynced and then renamed over the target, so a crash mid-write
leaves the previous checkpoint intact.

A model is checkpointable when it has a class attribute ``model_type`` (a registry name below), a
method ``hparams()`` returning the JSON-able constructor arguments, and ``get_params()`` /
``set_params(dict)`` for its weights as numpy arrays.
"""
import contextlib
import importlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .errors import CheckpointError

FORMAT = "rnnlm-checkpoint"
VERSION = 1
META_KEY = "__meta__"

# registry name -> "module:Class"; imported lazily so lmkit does not depend on the model packages.
MODEL_CLASSES = {
    "RNNTheano": "rnn_theano.rnn_theano:RNNTheano",
    "RNNNumpy": "rnn_theano.rnn_numpy:RNNNumpy",
    "GRUTheano": "gru_theano.gru_theano:GRUTheano",
    "LSTMTheano": "gru_theano.lstm_theano:LSTMTheano",
}


def atomic_savez(path, arrays):
    """Write ``arrays`` (name -> ndarray) to ``path`` as an npz, atomically."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_npz(path):
    """All arrays of an npz file as a dict, refusing pickled objects; errors name the file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):  # np.load would try to unpickle anything that is not a zip
        raise CheckpointError(f"{path}: not a readable .npz checkpoint (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CheckpointError(f"{path}: not a readable .npz checkpoint ({exc})") from None
    except ValueError as exc:  # pickled object arrays end up here
        raise CheckpointError(f"{path}: refused to load ({exc})") from None


def save_checkpoint(path, arrays, meta):
    """Write weights plus a JSON-able ``meta`` dict atomically."""
    if META_KEY in arrays:
        raise ValueError(f"{META_KEY!r} is reserved")
    meta = {"format": FORMAT, "version": VERSION, **meta}
    payload = dict(arrays)
    payload[META_KEY] = np.array(json.dumps(meta))
    atomic_savez(path, payload)


def load_checkpoint(path):
    """Return ``(arrays, meta)`` from a file written by :func:`save_checkpoint`."""
    arrays = read_npz(path)
    if META_KEY not in arrays:
        raise CheckpointError(
            f"{path}: no metadata; this is not an rnnlm checkpoint "
            "(an original tutorial file with keys U, V, W loads with load_model_parameters_theano)")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: metadata is not valid JSON ({exc})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {meta.get('format')!r}")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {meta['version']} is newer than this code ({VERSION})")
    return arrays, meta


def model_class(model_type):
    if model_type not in MODEL_CLASSES:
        raise CheckpointError(f"unknown model type {model_type!r}; known: {', '.join(MODEL_CLASSES)}")
    module, name = MODEL_CLASSES[model_type].split(":")
    return getattr(importlib.import_module(module), name)


OPTIMIZER_PREFIX = "optimizer/"


def save_model(path, model, vocab=None, extra=None, optimizer_state=None):
    """Save a model with its hyper-parameters, its vocabulary and any ``extra`` JSON-able state.

    ``optimizer_state`` (name -> array) is stored beside the weights under ``optimizer/<name>``.
    """
    meta = {"model_type": model.model_type, "hparams": model.hparams(),
            "vocab": vocab.to_dict() if vocab is not None else None, "extra": extra or {}}
    arrays = {k: np.asarray(v) for k, v in model.get_params().items()}
    arrays.update({OPTIMIZER_PREFIX + k: np.asarray(v) for k, v in (optimizer_state or {}).items()})
    save_checkpoint(path, arrays, meta)


def load_model(path, expected_type=None, vocab=None, **model_kwargs):
    """Rebuild the model stored in ``path``; returns ``(model, vocab, meta)``.

    ``expected_type`` (a registry name or a tuple of them) refuses a checkpoint of another model class;
    ``vocab`` refuses one trained with another vocabulary. ``model_kwargs`` (``mode``, ``dtype``...) go to
    the constructor. Stored optimizer state comes back in ``meta["optimizer_state"]``.
    """
    from .data.vocab import Vocabulary

    arrays, meta = load_checkpoint(path)
    model_type = meta.get("model_type")
    if expected_type is not None:
        allowed = (expected_type,) if isinstance(expected_type, str) else tuple(expected_type)
        if model_type not in allowed:
            raise CheckpointError(f"{path}: holds a {model_type} model, expected {' or '.join(allowed)}")
    stored_vocab = Vocabulary.from_dict(meta["vocab"]) if meta.get("vocab") else None
    if vocab is not None and stored_vocab is not None and stored_vocab.words != vocab.words:
        raise CheckpointError(f"{path}: was trained with a different vocabulary "
                              f"({len(stored_vocab)} words) than the one given ({len(vocab)} words)")
    meta["optimizer_state"] = {k[len(OPTIMIZER_PREFIX):]: arrays.pop(k) for k in list(arrays)
                               if k.startswith(OPTIMIZER_PREFIX)}
    cls = model_class(model_type)
    hparams = meta.get("hparams")
    if not isinstance(hparams, dict):
        raise CheckpointError(f"{path}: its metadata holds no model settings (hparams)")
    try:
        model = cls(**hparams, **model_kwargs)
    except (TypeError, ValueError) as exc:  # an unknown or out-of-range setting, e.g. edited by hand
        raise CheckpointError(f"{path}: cannot build a {model_type} with {hparams} ({exc})") from None
    try:
        model.set_params(arrays)
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{path}: weights do not fit a {model_type} with {meta['hparams']} ({exc})") from None
    if stored_vocab is not None and len(stored_vocab) != meta["hparams"].get("word_dim", len(stored_vocab)):
        raise CheckpointError(f"{path}: vocabulary of {len(stored_vocab)} words does not match "
                              f"word_dim={meta['hparams']['word_dim']}")
    return model, stored_vocab or vocab, meta


@contextlib.contextmanager
def exclusive_output(path):
    """Claim the checkpoint path ``path`` for one training run, for as long as the ``with`` block lasts.

    The claim is a file ``<path>.lock`` created exclusively and holding the owner's process id, so a second
    run with the same output is refused with one line instead of silently replacing the first run's
    files. A lock left by a process that no longer exists (killed with SIGKILL, say) is taken over. The
    folder is created and tested for writing here, before any training, and a folder given as the path is
    refused.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; give a file name for the checkpoint, such as {path / 'model.npz'}")
    lock = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                break
            except FileExistsError:
                owner = _lock_owner(lock)
                if owner is not None:
                    raise CheckpointError(f"{path}: another training run (process {owner}) is writing it; "
                                          "choose another --out or wait for it to finish") from None
                lock.unlink(missing_ok=True)  # stale: its process is gone
        else:
            raise CheckpointError(f"{path}: could not take over the stale lock {lock}")
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot write there ({exc.strerror or exc})") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(str(os.getpid()))
    try:
        yield path
    finally:
        lock.unlink(missing_ok=True)


def _lock_owner(lock):
    """The live process id written in ``lock``, or None when it is unreadable or that process is gone."""
    try:
        pid = int(lock.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid
