"""Checkpoints: one ``.npz`` file with the weights as arrays and everything else as JSON.

What a checkpoint holds::

    arrays    the weights (``model.get_params()``) and, under ``optimizer/<name>``, the trainer's state
    __meta__  JSON: model_type, hparams (constructor arguments), vocab, and ``run``:
              {"command": "train" | "part2" | "part4",   the trainer that wrote it
               "settings": {flag: value, ...},          every setting of that run, data flags included
               "progress": {...},                       where the run stands (the trainer's own fields)
               "data": {"corpus_fingerprint": ...}}     which corpus it was (lmkit.data.cache.content_fingerprint)

Every trainer writes ``run`` with :func:`save_model` and reads it back with :func:`load_model`: resuming,
``rnnlm score --split`` and ``rnnlm generate`` all read the same fields. Files of version 1 (an ``extra``
dict in one of three shapes) are read into the same form. Writing goes through
:func:`lmkit.atomic.atomic_write`, so a crash mid-write leaves the previous checkpoint intact.

**A file from a stranger** (checkpoints are shared like the tutorial's own ``.npz`` files) is read so that:

- it cannot run code: nothing is unpickled (:mod:`lmkit.npz` refuses object arrays);
- it cannot cost more memory than what it says it is: the metadata is read first, and at most
  :data:`MAX_META_BYTES`; JSON nested too deeply is refused; every array's header is then checked, before
  the array is read, against the shape the recorded model implies (``weight_shapes(hparams)`` of its
  class: the weights exactly, the optimizer state as its parameters); an unknown member is refused; the
  vocabulary must have as many words as the model has outputs before it is built; :mod:`lmkit.npz`
  refuses forged headers and compressed members that would inflate past 16 times the file's size;
- weights that are not finite are refused, with one line naming the file.

A model is checkpointable when its class is registered (:mod:`lmkit.registry`) and has ``hparams()``
returning the JSON-able constructor arguments, ``get_params()`` / ``set_params(dict)`` for its weights, and
``weight_shapes(hparams)``: the shapes ``get_params()`` returns, without building a model.
"""
import contextlib
import json
import os
import re
from pathlib import Path

import numpy as np

from .atomic import atomic_savez
from .errors import CheckpointError
from .npz import NpzReader, read_all
from .registry import format_of, model_class

FORMAT = "rnnlm-checkpoint"
VERSION = 3         # 3: the metadata as UTF-8 bytes; 2: as a numpy unicode string (4 bytes a character)
META_KEY = "__meta__"
# The metadata (settings, run record and vocabulary, as JSON) of a checkpoint may take this much: a
# vocabulary of a million words takes about 17 MB.
MAX_META_BYTES = 64 << 20

# Checkpoint naming, in one place. Beside the weights, a trainer's state is stored under OPTIMIZER_PREFIX:
# the optimizer's own arrays, and the hidden state the batched trainer carries between chunks under
# OPTIMIZER_PREFIX + CARRY_PREFIX + i. The best model of a run goes beside its checkpoint (best_path).
OPTIMIZER_PREFIX = "optimizer/"
CARRY_PREFIX = "carry."


def best_path(path):
    """Where a run writing ``path`` keeps its best model so far: ``runs/gru.npz`` -> ``runs/gru.best.npz``."""
    path = Path(path)
    return path.with_name(path.stem + ".best" + path.suffix)


def read_npz(path):
    """All arrays of an ``.npz`` file as a dict, read with the checks of :mod:`lmkit.npz`; errors name the file."""
    return read_all(path)


def save_checkpoint(path, arrays, meta):
    """Write weights plus a JSON-able ``meta`` dict atomically."""
    if META_KEY in arrays:
        raise ValueError(f"{META_KEY!r} is reserved")
    meta = {"format": FORMAT, "version": VERSION, **meta}
    payload = dict(arrays)
    payload[META_KEY] = np.array(json.dumps(meta, ensure_ascii=False).encode("utf-8"))
    atomic_savez(path, payload)


def read_meta(path, npz=None):
    """The metadata of a checkpoint (``meta["run"]`` always set), its arrays left unread."""
    if npz is None:
        with NpzReader(path) as npz:
            return read_meta(path, npz)
    if META_KEY not in npz.names:
        raise CheckpointError(
            f"{path}: no metadata; this is not an rnnlm checkpoint "
            "(an original tutorial file with keys U, V, W loads with load_model_parameters_theano)")
    text = npz.read(META_KEY, max_bytes=MAX_META_BYTES)
    if text.shape != () or text.dtype.kind not in "SU":
        raise CheckpointError(f"{path}: its metadata is not a JSON string")
    try:
        meta = json.loads(text.item() if text.dtype.kind == "S" else str(text))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: metadata is not valid JSON ({exc})") from None
    except RecursionError:
        raise CheckpointError(f"{path}: metadata is not valid JSON (nested too deeply)") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its metadata is not a JSON object")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {meta.get('format')!r}")
    version = meta.get("version", 0)
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {version!r} is newer than this code ({VERSION})")
    if "run" not in meta:
        extra = meta.pop("extra", None)
        meta["run"] = _run_from_version_1(extra if isinstance(extra, dict) else {})
    run = meta["run"]
    if not (isinstance(run, dict) and isinstance(run.get("settings", {}), dict)
            and isinstance(run.get("progress", {}), dict)):
        raise CheckpointError(f"{path}: its run record is not of the form {{command, settings, progress}}")
    run.setdefault("settings", {})
    run.setdefault("progress", {})
    return meta


def load_checkpoint(path):
    """Return ``(arrays, meta)`` from a file written by :func:`save_checkpoint` (``meta["run"]`` always set).

    Every array is checked against the model the metadata records before it is read (module notes).
    """
    with NpzReader(path) as npz:
        meta = read_meta(path, npz)
        names = [n for n in npz.names if n != META_KEY]
        expected = expected_shapes(path, meta) if names else {}
        arrays = {}
        for name in names:
            shape, _ = npz.shape(name)
            want = expected(name, shape) if callable(expected) else expected.get(name)
            if want is None:
                raise CheckpointError(f"{path}: holds an array {name!r} that a {meta.get('model_type')} "
                                      "checkpoint does not have")
            if shape != want:
                raise CheckpointError(f"{path}: weights do not fit a {meta.get('model_type')} with "
                                      f"{meta.get('hparams')} ({name} has shape {shape}, expected {want})")
            arrays[name] = npz.read(name)
    for name, value in arrays.items():
        if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
            raise CheckpointError(f"{path}: {name} holds NaN or infinite values")
    return arrays, meta


def expected_shapes(path, meta):
    """``(name, shape) -> expected shape or None`` for the arrays of the model ``meta`` records: its weights
    (``weight_shapes`` of its class) and, under :data:`OPTIMIZER_PREFIX`, state shaped like them (Adam's and
    RMSprop's moments ``m.<name>``, ``v.<name>``, the step count ``t``) or like the carried hidden state
    (``carry.<i>``: hidden_dim x any batch)."""
    model_type, hparams = meta.get("model_type"), meta.get("hparams")
    try:
        cls = model_class(model_type)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    if not isinstance(hparams, dict):
        raise CheckpointError(f"{path}: its metadata holds no model settings (hparams)")
    try:
        shapes = cls.weight_shapes(hparams)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot build a {model_type} with {hparams} ({exc})") from None
    hidden = hparams.get("hidden_dim")

    def expected(name, shape):
        if not name.startswith(OPTIMIZER_PREFIX):
            return shapes.get(name)
        rest = name[len(OPTIMIZER_PREFIX):]
        moment = re.fullmatch(r"[mv]\.(.+)", rest)
        if moment:
            return shapes.get(moment.group(1))
        if rest == "t":
            return ()
        if re.fullmatch(re.escape(CARRY_PREFIX) + r"\d+", rest) and len(shape) == 2:
            return (hidden, shape[1])
        return None

    return expected


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


def run_record(command, settings, progress=None, data=None):
    """The ``run`` field of a checkpoint: which trainer, with which settings, how far it got, on which data."""
    record = {"command": command, "settings": dict(settings), "progress": dict(progress or {})}
    if data:
        record["data"] = dict(data)
    return record


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
    cls = model_class(model_type)
    hparams = meta.get("hparams")
    if not isinstance(hparams, dict):
        raise CheckpointError(f"{path}: its metadata holds no model settings (hparams)")
    stored = meta.get("vocab")
    if stored:
        words = stored.get("words") if isinstance(stored, dict) else None
        if isinstance(words, list) and len(words) != hparams.get("word_dim", len(words)):
            raise CheckpointError(f"{path}: vocabulary of {len(words)} words does not match "
                                  f"word_dim={hparams['word_dim']}")
    stored_vocab = Vocabulary.from_dict(stored, source=path) if stored else None
    if vocab is not None and stored_vocab is not None and stored_vocab.words != vocab.words:
        raise CheckpointError(f"{path}: was trained with a different vocabulary "
                              f"({len(stored_vocab)} words) than the one given ({len(vocab)} words)")
    meta["optimizer_state"] = {k[len(OPTIMIZER_PREFIX):]: arrays.pop(k) for k in list(arrays)
                               if k.startswith(OPTIMIZER_PREFIX)}
    try:
        model = cls(**hparams, **model_kwargs)
    except (TypeError, ValueError) as exc:  # an unknown or out-of-range setting, e.g. edited by hand
        raise CheckpointError(f"{path}: cannot build a {model_type} with {hparams} ({exc})") from None
    try:
        model.set_params(arrays)
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{path}: weights do not fit a {model_type} with {hparams} ({exc})") from None
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
    with NpzReader(path) as npz:
        keys = set(npz.names)
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
    """Claim the checkpoint path ``path`` for one training run while the ``with`` block lasts; yields the
    path the run writes (a symbolic link resolved to its target, which is then what is written).

    The claim is an exclusive ``flock`` on ``<path>.lock``, which the kernel holds for this process and
    drops when it ends, however it ends: there is no moment between creating the file and owning it, and
    no guessing whether an old lock is stale. A second run with the same output is refused with one line
    naming the process that holds it (the lock file holds its id). Temporary files that interrupted writes
    of this output left behind (``.tmp-<name>-*``, :func:`lmkit.atomic.atomic_write`) are removed once the
    lock is held. The folder is created and tested for writing here, before any training, and a folder
    given as the path is refused.
    """
    import fcntl

    path = Path(os.path.realpath(path))
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; give a file name for the checkpoint, such as {path / 'model.npz'}")
    lock = path.with_name(path.name + ".lock")
    for _ in range(10):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot write there ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise CheckpointError(f"{path}: another training run (process {owner}) is writing it; "
                                  "choose another --out or wait for it to finish") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the lock file was released and removed between opening and locking it: again
    else:
        raise CheckpointError(f"{path}: could not take the lock {lock}")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        remove_orphans(path)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()   # before the lock is dropped, so a newcomer never locks a file about to vanish
        os.close(fd)


def remove_orphans(path):
    """Remove what interrupted atomic writes of ``path`` and of its best model left in their folder."""
    for target in (Path(path), best_path(path)):
        for orphan in target.parent.glob(f".tmp-{glob_escape(target.name)}-*"):
            with contextlib.suppress(OSError):
                orphan.unlink()


def glob_escape(name):
    return re.sub(r"([*?\[])", r"[\1]", name)
