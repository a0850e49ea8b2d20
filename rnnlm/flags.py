"""The flags the subcommands share, declared once, and the read-only object a command receives.

One vocabulary across ``rnnlm train``, ``part2``, ``part4``, ``score``, ``rescore``, ``generate`` and
``stats``: the data flags (:func:`add_data_args`), ``--mode`` and ``--dtype`` (:func:`add_backend_args`),
``--out`` / ``--resume`` / ``--samples`` / ``--min-length`` / ``--no-progress`` (:func:`add_output_args`), the
model file of the commands that read one (:func:`add_model_file_args`). Numbers are parsed by
:func:`number`, so an out-of-range value is refused in one line before any work. This module only declares
flags: what a run does with them is :mod:`rnnlm.run`'s business. It imports neither PyTensor nor JAX, so
``rnnlm COMMAND --help`` starts in a moment.
"""
import argparse
import os

from lmkit.backend import MODES


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


def DEVICES(text):
    """``--devices``: a positive integer or ``all``."""
    if str(text).lower() == "all":
        return "all"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of devices or 'all', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 device, got {value}")
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


class Options(argparse.Namespace):
    """The parsed flags of one command, read-only; ``explicit`` holds the names of those given on the
    command line (a resumed run keeps its saved value of every other one)."""

    def __init__(self, values, explicit=frozenset()):
        for name, value in {**values, "explicit": frozenset(explicit)}.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"the parsed flags are read-only (tried to set {name!r})")

    __delattr__ = __setattr__


def parse(parser, argv):
    """``Options`` for ``argv`` parsed by ``parser``, with ``explicit`` the destinations of the flags given
    (``--epochs=3`` and ``--epoch 3`` included).

    argparse fills in a default only for names the namespace does not have yet, so parsing again into a
    namespace that already holds a marker for every destination leaves exactly the given ones changed.
    """
    values = vars(parser.parse_args(argv))
    marker = object()
    namespace = parser.parse_args(argv, namespace=argparse.Namespace(**{dest: marker for dest in values}))
    return Options(values, {dest for dest, value in vars(namespace).items() if value is not marker})


# ---------------------------------------------------------------------------------------- flag groups

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


def add_model_file_args(ap):
    """The model a command reads (``score``, ``rescore``, ``generate``)."""
    ap.add_argument("model", help="a checkpoint of this project, or a tutorial .npz (U,V,W or E,U,W,V,b,c)")
    ap.add_argument("--vocab", metavar="FILE", help="the vocabulary, for tutorial files that store none")
    add_backend_args(ap, dtype=False)


def add_report_args(ap):
    """How log-probabilities are printed (``score`` and ``rescore``)."""
    ap.add_argument("--log-base", choices=["e", "2", "10"], default="e", help="base of the printed logs")
    ap.add_argument("--json", action="store_true", help="JSON lines instead of a table")
