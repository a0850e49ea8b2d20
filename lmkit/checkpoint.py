"""Checkpoints: one ``.npz`` file with the weights as arrays and everything else as JSON.

Loading never unpickles (``allow_pickle=False``), so opening a file cannot run code. Writing goes through
:func:`lmkit.atomic.atomic_write`, so a crash mid-write leaves the previous checkpoint intact.

What a checkpoint holds::

    arrays    the weights (``model.get_params()``) and, under ``optimizer/<name>``, the trainer's state
    __meta__  JSON: model_type, hparams (constructor arguments), vocab, and ``run``:
              {"command": "train" | "part2" | "part4",   the trainer that wrote it
               "settings": {flag: value, ...},          every setting of that run, data flags included
               "progress": {...}}                       where the run stands (the trainer's own fields)

Every trainer writes ``run`` with :func:`save_model` and reads it back with :func:`load_model`: resuming,
``rnnlm score --split`` and ``rnnlm generate`` all read the same three fields. Files of version 1 (an
``extra`` dict in one of three shapes) are read into the same form.

A model is checkpointable when its class is registered (:mod:`lmkit.registry`) and has ``hparams()``
returning the JSON-able constructor arguments and ``get_params()`` / ``set_params(dict)`` for its weights.
"""
import contextlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .atomic import atomic_savez
from .errors import CheckpointError
from .registry import format_of, model_class

FORMAT = "rnnlm-checkpoint"
VERSION = 2
META_KEY = "__meta__"


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
    """Return ``(arrays, meta)`` from a file written by :func:`save_checkpoint` (``meta["run"]`` always set)."""
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
    if "run" not in meta:
        extra = meta.pop("extra", None)
        meta["run"] = _run_from_version_1(extra if isinstance(extra, dict) else {})
    run = meta["run"]
    if not (isinstance(run, dict) and isinstance(run.get("settings", {}), dict)
            and isinstance(run.get("progress", {}), dict)):
        raise CheckpointError(f"{path}: its run record is not of the form {{command, settings, progress}}")
    run.setdefault("settings", {})
    run.setdefault("progress", {})
    return arrays, meta


def _run_from_version_1(extra):
    """The ``run`` record of a version-1 file, whose trainers each stored their own ``extra`` dict."""
    settings = {**extra.get("data", {}), **extra.get("trainer", {}), **extra.get("run", {})}
    if "fit" in extra:
        return {"command": "train", "settings": settings, "progress": extra["fit"]}
    if "part4" in extra:
        settings["model"] = settings.pop("cell", "gru")
        if "decay" in settings:
            settings["rmsprop_decay"] = settings.pop("decay")
        return {"command": "part4", "settings": settings, "progress": extra["part4"]}
    progress = {k: extra[k] for k in ("epoch", "num_examples_seen", "train_loss") if k in extra}
    return {"command": "part2" if extra else None, "settings": settings, "progress": progress}


# Checkpoint naming, in one place. Beside the weights, a trainer's state is stored under OPTIMIZER_PREFIX:
# the optimizer's own arrays, and the hidden state the batched trainer carries between chunks under
# OPTIMIZER_PREFIX + CARRY_PREFIX + i. The best model of a run goes beside its checkpoint (best_path).
OPTIMIZER_PREFIX = "optimizer/"
CARRY_PREFIX = "carry."


def best_path(path):
    """Where a run writing ``path`` keeps its best model so far: ``runs/gru.npz`` -> ``runs/gru.best.npz``."""
    path = Path(path)
    return path.with_name(path.stem + ".best" + path.suffix)


def run_record(command, settings, progress=None):
    """The ``run`` field of a checkpoint: which trainer, with which settings, and how far it got."""
    return {"command": command, "settings": dict(settings), "progress": dict(progress or {})}


def save_model(path, model, vocab=None, run=None, optimizer_state=None):
    """Save a model with its hyper-parameters, its vocabulary and its :func:`run_record`.

    ``optimizer_state`` (name -> array) is stored beside the weights under ``optimizer/<name>``.
    """
    meta = {"model_type": model.model_type, "hparams": model.hparams(),
            "vocab": vocab.to_dict() if vocab is not None else None,
            "run": run or run_record(None, {})}
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
    stored_vocab = Vocabulary.from_dict(meta["vocab"], source=path) if meta.get("vocab") else None
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


def read_weights(path):
    """The weights a checkpoint stores, without the optimizer state (e.g. to load a best model's weights)."""
    arrays, _ = load_checkpoint(path)
    return {k: v for k, v in arrays.items() if not k.startswith(OPTIMIZER_PREFIX)}


def open_model(path, mode=None, dtype=None):
    """Open any model file the project knows; returns ``(model, vocab_or_None, meta)``.

    A checkpoint of this project (vocabulary included), or a bare-weights file of a registered format
    (:func:`lmkit.registry.register_format`), such as the tutorial's ``trained-model-theano.npz``
    (U, V, W) or its GRU file (E, U, W, V, b, c). Those carry no vocabulary: the caller supplies one.
    """
    keys = set(read_npz(path))
    kwargs = {"mode": mode, **({"dtype": dtype} if dtype else {})}
    if META_KEY in keys:
        return load_model(path, **kwargs)
    found = format_of(keys)
    if found is None:
        raise CheckpointError(f"{path}: not a model file this project knows (arrays: {', '.join(sorted(keys))})")
    name, load = found
    model = load(path, **kwargs)
    return model, None, {"model_type": model.model_type, "format": name, "run": run_record(None, {})}


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
