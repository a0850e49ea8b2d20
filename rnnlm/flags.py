"""The flags the subcommands share, defined once, and what a resumed run does with them.

One vocabulary across ``rnnlm train``, ``part2``, ``part4``, ``score``, ``generate`` and ``stats``: the data
flags (:func:`add_data_args`), ``--mode`` and ``--dtype`` (:func:`add_backend_args`), ``--out`` /
``--resume`` / ``--samples`` / ``--min-length`` / ``--seed`` / ``--no-progress`` (:func:`add_output_args`).
Numbers are parsed by :func:`number`, so an out-of-range value is refused in one line before any work.
"""
import argparse
import os
import sys

from lmkit.backend import MODES
from lmkit.errors import UsageError

# The data flags a checkpoint records, so that scoring and resuming rebuild the very same splits.
DATA_KEYS = ("corpus", "vocab_size", "convention", "max_sentences", "valid_fraction", "test_fraction",
             "split_seed", "no_cache")
# Flags that say where output goes or how it looks: never recorded, never restored.
OUTPUT_KEYS = ("out", "resume", "samples", "min_length", "no_progress", "explicit", "command", "run")


def number(cast, low=None, high=None, low_open=False, high_open=False):
    """An argparse ``type`` that parses ``cast`` and refuses values outside the range, in one line.

    ``number(int, 1)`` is a positive integer; ``number(float, 0, 1, high_open=True)`` a rate in [0, 1).
    """
    def parse(text):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if cast is int else 'a number'}, "
                                             f"got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            lo = "" if low is None else f"{'(' if low_open else '['}{low}"
            hi = "" if high is None else f"{high}{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: allowed {lo or '(-inf'}, {hi or 'inf)'}")
        return value
    parse.__name__ = cast.__name__  # argparse names the type in its messages
    return parse


POSITIVE_INT = number(int, 1)
COUNT = number(int, 0)
RATE = number(float, 0, 1, high_open=True)
POSITIVE = number(float, 0, low_open=True)


def BPTT_TRUNCATE(text):
    """``--bptt-truncate``: -1 (no truncation) or a positive number of steps."""
    value = number(int, -1)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 would backpropagate through nothing: give -1 (full) or k > 0 steps")
    return value


def env_default(name, default):
    """A flag's default from the tutorial's environment variable ``name`` when it is set.

    The value stays a string: argparse parses a string default with the flag's ``type``, so a bad value
    (``HIDDEN_DIM=abc``, ``NEPOCH=0``) is refused in one line like the flag itself.
    """
    return os.environ[name] if os.environ.get(name) else default


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad flag gets one line, ``error: <message>`` (exit 2), like every other error here."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def add_data_args(parser, vocab_size=8000, convention="part2"):
    group = parser.add_argument_group("data")
    group.add_argument("--corpus", default="shakespeare",
                       help="shakespeare, shakespeare:PLAY,GENRE,..., a Reddit .csv, or a text file or folder")
    group.add_argument("--vocab-size", type=POSITIVE_INT, default=vocab_size, help="vocabulary size C")
    group.add_argument("--convention", choices=["part2", "part4"], default=convention,
                       help="vocabulary layout and filtering (README, Data)")
    group.add_argument("--min-count", type=POSITIVE_INT, default=1, help="leave out words seen fewer times")
    group.add_argument("--vocab", metavar="FILE", help="use this vocabulary (JSON, or a checkpoint's)")
    group.add_argument("--max-sentences", type=POSITIVE_INT, default=None, help="use only the first N sentences")
    group.add_argument("--valid-fraction", type=RATE, default=0.05, help="held-out validation share")
    group.add_argument("--test-fraction", type=RATE, default=0.05, help="held-out test share")
    group.add_argument("--split-seed", type=int, default=0, help="seed of the train/valid/test split")
    group.add_argument("--no-cache", action="store_true", help="re-tokenize instead of using the disk cache")
    return group


def add_backend_args(group, default_help="c", dtype=True):
    group.add_argument("--mode", default=None, choices=sorted(MODES),
                       help=f"PyTensor backend (default: {default_help})")
    if dtype:
        group.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="float type")


def add_output_args(parser, out_help, samples=5, min_length=None, resume=True, out_default=None):
    group = parser.add_argument_group("output")
    group.add_argument("--out", default=out_default, help=out_help)
    if resume:
        group.add_argument("--resume", metavar="CHECKPOINT", help="continue the run saved in this checkpoint")
    group.add_argument("--samples", type=COUNT, default=samples, help="sentences to generate")
    if min_length is not None:
        group.add_argument("--min-length", type=COUNT, default=min_length, help="fewest words per generated sentence")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")
    return group


def explicit_flags(parser, argv):
    """The destinations of the flags given in ``argv`` (``--epochs=3`` and ``--epoch 3`` included).

    argparse fills in a default only for names the namespace does not have yet, so parsing into a
    namespace that already holds a marker for every destination leaves exactly the given ones changed.
    """
    marker = object()
    namespace = argparse.Namespace(**{a.dest: marker for a in parser._actions if a.dest != argparse.SUPPRESS})
    parser.parse_args(argv, namespace=namespace)
    return {dest for dest, value in vars(namespace).items() if value is not marker}


# Settings that name files: recorded as absolute paths, so a run resumes (or is scored) from any folder.
PATH_KEYS = ("corpus", "vocab", "init")


def recorded_settings(args):
    """Every setting of a run that a checkpoint records (all flags but the output ones)."""
    settings = {k: v for k, v in vars(args).items() if k not in OUTPUT_KEYS and not callable(v)}
    for key in PATH_KEYS:
        if isinstance(settings.get(key), str) and os.path.exists(settings[key]):
            settings[key] = os.path.abspath(settings[key])
    return settings


def restore_settings(args, saved, fixed=(), log=print):
    """On ``--resume``: take the run's saved settings, except flags given again on this command line.

    The data settings are always the saved ones: another corpus or split would silently change the run.
    A saved setting named in ``fixed`` cannot change either: giving it with another value is an error.
    Any other flag given again overrides the saved value, with a warning.
    """
    for key, value in saved.items():
        if key in OUTPUT_KEYS or not hasattr(args, key):
            continue
        given = getattr(args, key)
        if key in PATH_KEYS and isinstance(given, str) and isinstance(value, str) and os.path.exists(given) \
                and os.path.exists(value) and os.path.samefile(given, value):
            given = value  # the same file named from another folder
        if key in args.explicit and given != value:
            flag = "--" + key.replace("_", "-")
            if key in DATA_KEYS or key in fixed:
                raise UsageError(f"{flag} cannot change when resuming: the run was started with {value!r}")
            log(f"warning: {flag} {given!r} replaces the run's {value!r}")
            continue
        setattr(args, key, value)


# Above this share of unknown words a reused vocabulary gets a warning: the text is not what it was made for.
HIGH_UNKNOWN_RATE = 0.1


def load_vocabulary(path):
    """A vocabulary from a JSON file (``Vocabulary.save``) or from a checkpoint that stores one."""
    import zipfile

    from lmkit.data import Vocabulary

    if not zipfile.is_zipfile(path):
        return Vocabulary.load(path)
    from lmkit.checkpoint import load_checkpoint
    from lmkit.errors import CheckpointError

    stored = load_checkpoint(path)[1].get("vocab")
    if not stored:
        raise CheckpointError(f"{path}: stores no vocabulary")
    return Vocabulary.from_dict(stored)


def warn_if_unknown(vocab, sentences, what):
    rate = vocab.unknown_rate(sentences)
    if rate > HIGH_UNKNOWN_RATE:
        warn(f"{100 * rate:.1f}% of the words of {what} are not in the vocabulary (read as UNKNOWN_TOKEN)")
    return rate


def load_dataset(settings, vocab=None):
    """The Dataset the data flags describe (``settings``: parsed flags or a checkpoint's settings dict).

    The vocabulary is ``vocab`` if given, else the one in ``--vocab`` if set, else built on the training
    split. A reused vocabulary that leaves many words of the corpus unknown gets a warning.
    """
    from lmkit.data import build_dataset, load_sentences

    s = settings if isinstance(settings, dict) else vars(settings)
    missing = [k for k in DATA_KEYS if k not in s]
    if missing:
        raise UsageError(f"the data settings lack {', '.join(missing)}")
    sentences = load_sentences(s["corpus"], drop_http=s["convention"] == "part4",
                               use_cache=not s["no_cache"], max_sentences=s["max_sentences"])
    if vocab is None and s.get("vocab"):
        vocab = load_vocabulary(s["vocab"])
    if vocab is not None:
        for key in ("vocab_size", "min_count"):
            if key in getattr(settings, "explicit", ()):
                warn(f"--{key.replace('_', '-')} has no effect: the vocabulary is a stored one")
        warn_if_unknown(vocab, sentences, s["corpus"])
    return build_dataset(sentences, s["vocab_size"], s["convention"], s["valid_fraction"],
                         s["test_fraction"], s["split_seed"], vocab=vocab, min_count=s.get("min_count", 1))


def warn(message):
    print(f"warning: {message}", file=sys.stderr)
