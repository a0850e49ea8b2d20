"""What a training run is: its settings, where it starts from, and what its checkpoints record.

All three trainers (``rnnlm train``, ``part2``, ``part4``) begin the same way::

    with exclusive_output(output_path(command, options)) as out:
        run = start_or_resume(command, options, out)     # model, vocabulary, data, progress, optimizer state

**Settings.** A run's settings are its flags after everything a command resolves (the backend, a resumed
run's saved values, the architecture of a model read from a file), held read-only in :class:`Settings`.
Every checkpoint records them (:meth:`Run.record`), except the output flags of :data:`OUTPUT`, and records
the files they name (:data:`PATH_KEYS`) as absolute paths, so a run resumes, and is scored, from any folder.

**Resuming** (``--resume CHECKPOINT``). Every recorded setting comes back. A flag given again on the command
line either replaces the saved value with a warning (the number of epochs, the patience, the learning rate
and its decay, the backend, the devices, the reporting intervals), or is refused if it is in :data:`KEPT`:
the data and the vocabulary (another corpus or split would silently change the run), the architecture, and
how the run trains (update rule, clipping, chunk shape, dropout, seed, float type). One table for the three
trainers: a setting a trainer does not have does not concern it.

**Starting from a model** (``--init MODEL``: fine-tuning in ``train``, the tutorial's ``MODEL_FILE`` in
``part2``): the model's weights and, when the file has one, its vocabulary; the run is a new one (fresh
optimizer, new data). The model's architecture settings are read from the file.
"""
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from lmkit.errors import CheckpointError, UsageError

from .data import DATA_KEYS, describe, load_dataset
from .models import KINDS, MODEL_FLAGS, build_model, kind_of, model_settings, open_with_vocab

# Settings a resumed run keeps: giving one again with another value is refused.
KEPT = (*DATA_KEYS, "min_count", "vocab", "init", *MODEL_FLAGS, "bptt_truncate", "optimizer", "clip", "bptt",
        "batch_size", "dropout", "variational_dropout", "seed", "dtype")
# Flags that say where output goes or how it looks: never recorded, never restored.
OUTPUT = ("out", "resume", "samples", "min_length", "no_progress", "explicit")
# Settings that name files.
PATH_KEYS = ("corpus", "vocab", "init")
# The model classes each trainer trains (a checkpoint of another is refused).
TRAINS = {"train": tuple(KINDS.values()), "part2": ("RNNTheano", "RNNNumpy"), "part4": ("GRUTheano", "LSTMTheano")}


class Settings(Mapping):
    """A run's settings by name, read-only: ``settings.hidden_dim`` or ``settings["hidden_dim"]``."""

    def __init__(self, values):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("a run's settings are read-only")

    def __getitem__(self, name):
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return f"Settings({self._values!r})"


@dataclass
class Run:
    """A training run as its trainer receives it from :func:`start_or_resume`."""
    command: str                   # "train", "part2" or "part4"
    settings: Settings             # every setting, resolved
    model: object                  # built, resumed, or started from --init
    data: object                   # the lmkit.data.Dataset; data.vocab is the run's vocabulary
    out: str                       # the checkpoint path this run writes (and holds the lock of)
    progress: dict = None          # where a resumed run stands (the trainer's own fields); None: a new run
    optimizer_state: dict = field(default_factory=dict)   # the arrays a resumed trainer stored beside the weights
    source: str = None             # the --resume or --init file
    fingerprint: str = None        # the corpus's content (lmkit.data.cache.content_fingerprint)

    @property
    def vocab(self):
        return self.data.vocab

    def record(self, progress=None):
        """The run record a checkpoint of this run holds (:func:`lmkit.checkpoint.run_record`)."""
        from lmkit.checkpoint import run_record

        return run_record(self.command, recorded(self.settings), progress,
                          data={"corpus_fingerprint": self.fingerprint})

    def describe_data(self):
        return describe(self.data)


def recorded(settings):
    """The settings a checkpoint records: all but :data:`OUTPUT`, files as absolute paths."""
    values = {k: v for k, v in settings.items() if k not in OUTPUT}
    for key in PATH_KEYS:
        if isinstance(values.get(key), str) and os.path.exists(values[key]):
            values[key] = os.path.abspath(values[key])
    return values


def restore(settings, saved, explicit):
    """``settings`` with a resumed run's ``saved`` ones put back, except flags given again (``explicit``):
    those replace a saved value with a warning, or are refused if they are in :data:`KEPT`."""
    settings = dict(settings)
    for key, value in saved.items():
        if key in OUTPUT or key not in settings:
            continue
        given = settings[key]
        if key in PATH_KEYS and isinstance(given, str) and isinstance(value, str) and os.path.exists(given) \
                and os.path.exists(value) and os.path.samefile(given, value):
            given = value  # the same file named from another folder
        if key in explicit and given != value:
            flag = "--" + key.replace("_", "-")
            if key in KEPT:
                raise UsageError(f"{flag} cannot change when resuming: the run was started with {value!r}")
            warn_line(f"{flag} {given!r} replaces the run's {value!r}")
            continue
        settings[key] = value
    return settings


def warn_line(message):
    """A warning on standard output, in line with the trainer's log (as the resumed run's messages are)."""
    print(f"warning: {message}")


def adopt(settings, model, source, explicit):
    """``settings`` with the architecture of ``model`` (resumed or started from), so the run records the
    model it trains; an architecture flag given with another value is refused."""
    settings = dict(settings)
    for key, value in model_settings(model).items():
        if key not in settings:
            continue
        given = settings[key]
        if key in explicit and given is not None and given != value:
            raise UsageError(f"--{key.replace('_', '-')} {given!r} does not match the model of {source} ({value!r})")
        settings[key] = value
    return settings


def output_path(command, options):
    """The checkpoint path a trainer writes: ``--out``, else the ``--resume`` file, else ``runs/<model>.npz``
    (``train``: the kind of the ``--init`` model, if given), ``runs/<model>-part4.npz`` or ``runs/rnn.npz``."""
    if options.out:
        return options.out
    if getattr(options, "resume", None):
        return options.resume
    if command == "part4":
        return f"runs/{options.model}-part4.npz"
    if command == "part2":
        return "runs/rnn.npz"
    if options.init:
        from lmkit.checkpoint import open_model

        from .models import load_packages
        from .pretrained import resolve

        load_packages()
        return f"runs/{kind_of(open_model(resolve(options.init))[0])}.npz"
    return f"runs/{options.model}.npz"


def start_or_resume(command, options, out, check=None):
    """The :class:`Run` a trainer starts from: a resumed one (``--resume``), one started from a model
    (``--init``), or a new one. ``check(settings)``, if given, runs once the settings are resolved and before
    any data is read (the trainer's own one-line refusals)."""
    from lmkit.backend import default_batched_mode
    from lmkit.checkpoint import load_checkpoint, load_model

    from .models import load_packages

    load_packages()
    explicit = options.explicit
    settings = {k: v for k, v in vars(options).items() if k != "explicit"}
    resume = settings.get("resume")
    if resume:
        saved = load_checkpoint(resume)[1]["run"]
        if saved.get("command") != command:
            raise CheckpointError(f"{resume}: not a checkpoint of rnnlm {command}")
        settings = restore(settings, saved["settings"], explicit)
    if command == "train":
        settings["mode"] = settings["mode"] or default_batched_mode()
    if check is not None:
        check(Settings(settings))

    model = vocab = progress = None
    optimizer_state, source = {}, resume or settings.get("init")
    if resume:
        model, vocab, meta = load_model(resume, expected_type=TRAINS[command], mode=settings["mode"],
                                        dtype=settings["dtype"])
        settings = adopt(settings, model, resume, explicit)
        progress, optimizer_state = saved["progress"], meta["optimizer_state"]
    elif settings.get("init"):
        model, vocab, settings = start_from(command, settings, explicit)
    data = load_dataset(settings, vocab=vocab, explicit=explicit)
    fingerprint = check_corpus(settings["corpus"], saved.get("data") if resume else None, resume)
    if model is None:
        model = build_model(settings, len(data.vocab))
        settings.update({k: v for k, v in model_settings(model).items() if k in settings})
    elif model.word_dim != len(data.vocab):
        raise CheckpointError(f"{source}: has {model.word_dim} words, the vocabulary {len(data.vocab)}")
    return Run(command, Settings(settings), model, data, str(out), progress, optimizer_state, source, fingerprint)


def check_corpus(corpus, recorded_data, source):
    """The corpus's fingerprint, after checking it against the one a checkpoint recorded (``recorded_data``,
    its run record's ``data``; files written before fingerprints were recorded are not checked)."""
    from lmkit.data.cache import content_fingerprint

    fingerprint = content_fingerprint(corpus)
    recorded_fingerprint = (recorded_data or {}).get("corpus_fingerprint")
    if recorded_fingerprint and recorded_fingerprint != fingerprint:
        raise CheckpointError(f"{source}: the corpus {corpus} has changed since this model was trained on it "
                              f"(fingerprint {fingerprint}, recorded {recorded_fingerprint})")
    return fingerprint


def start_from(command, settings, explicit):
    """``(model, vocabulary or None, settings)`` of a run started from the model file ``settings["init"]``."""
    from lmkit.checkpoint import open_model
    from lmkit.registry import MODELS

    init = settings["init"]
    if command == "train":
        for key in MODEL_FLAGS:
            if key in explicit:
                raise UsageError(f"--{key.replace('_', '-')} cannot be given with --init: the model is {init}'s")
        model, vocab, _ = open_with_vocab(init, settings["vocab"], mode=settings["mode"], dtype=settings["dtype"])
        return model, vocab, adopt(settings, model, init, explicit)
    # part2: the tutorial's MODEL_FILE, weights to start from (its files store no vocabulary)
    from .pretrained import resolve

    model, vocab, _ = open_model(resolve(init), mode=settings["mode"], dtype=settings["dtype"])
    if model.model_type not in TRAINS[command]:
        raise CheckpointError(f"{init}: holds a {model.model_type}; {command} trains the vanilla RNN")
    settings = adopt(settings, model, init, explicit)
    if model.bptt_truncate != settings["bptt_truncate"]:  # fixed in the graph: same weights, the run's truncation
        weights = model.get_params()
        model = MODELS["RNNTheano"](**{**model.hparams(), "bptt_truncate": settings["bptt_truncate"]},
                                    mode=settings["mode"], dtype=settings["dtype"])
        model.set_params(weights)
    return model, vocab, settings
