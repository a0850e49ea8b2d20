"""Command-line pieces every script shares: the data flags, resuming settings, the one-line error exit."""
import argparse
import os
import sys

from .errors import RNNLMError, UsageError


# The data flags a checkpoint records, so that scoring and resuming rebuild the very same splits.
DATA_KEYS = ("corpus", "vocab_size", "convention", "max_sentences", "valid_fraction", "test_fraction",
             "split_seed", "no_cache")


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


def BPTT_TRUNCATE(text):
    """``--bptt-truncate``: -1 (no truncation) or a positive number of steps."""
    value = number(int, -1)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 would backpropagate through nothing: give -1 (full) or k > 0 steps")
    return value


def env_default(name, default, cast):
    """A flag's default from the tutorial's environment variable ``name`` when it is set."""
    return cast(os.environ[name]) if os.environ.get(name) else default


def settings(args, keys):
    return {k: getattr(args, k) for k in keys}


def explicit_flags(parser, argv=None):
    """The destinations of the flags given on the command line (``--epochs=3`` and ``--epoch 3`` included).

    argparse fills in a default only for names the namespace does not have yet, so parsing into a
    namespace that already holds a marker for every destination leaves exactly the given ones changed.
    """
    argv = sys.argv[1:] if argv is None else argv
    marker = object()
    namespace = argparse.Namespace(**{a.dest: marker for a in parser._actions if a.dest != argparse.SUPPRESS})
    parser.parse_args(argv, namespace=namespace)
    return {dest for dest, value in vars(namespace).items() if value is not marker}


def restore_settings(parser, args, saved, argv=None, fixed=(), log=print):
    """On ``--resume``: take the run's saved settings, except flags given again on this command line.

    The data settings are always the saved ones: another corpus or split would silently change the run.
    A saved setting named in ``fixed`` cannot change either: giving it with another value is an error.
    Any other flag given again overrides the saved value, with a warning. Returns the explicit flags.
    """
    explicit = explicit_flags(parser, argv)
    for key, value in saved.items():
        given = getattr(args, key, None)
        if key in explicit and given != value:
            flag = "--" + key.replace("_", "-")
            if key in DATA_KEYS or key in fixed:
                raise UsageError(f"{flag} cannot change when resuming: the run was started with {value!r}")
            log(f"warning: {flag} {given!r} replaces the run's {value!r}")
            continue
        setattr(args, key, value)
    return explicit


def add_data_args(parser, vocab_size=8000, convention="part2"):
    group = parser.add_argument_group("data")
    group.add_argument("--corpus", default="shakespeare",
                       help="'shakespeare' (all 38 plays), 'shakespeare:SUBSET' (a play such as hamlet, a genre "
                            "such as tragedies, or a comma list), a Reddit-format .csv, or a text file/folder "
                            "(default: %(default)s)")
    group.add_argument("--vocab-size", type=int, default=vocab_size, help="vocabulary size C (default: %(default)s)")
    group.add_argument("--convention", choices=["part2", "part4"], default=convention,
                       help="vocabulary layout: part2 = UNKNOWN last; part4 = <MASK/> 0, UNKNOWN 1, ascending "
                            "frequency, 'http' sentences dropped (default: %(default)s)")
    group.add_argument("--max-sentences", type=POSITIVE_INT, default=None, help="use only the first N sentences")
    group.add_argument("--valid-fraction", type=number(float, 0, 1, high_open=True), default=0.05, help="held-out validation share")
    group.add_argument("--test-fraction", type=number(float, 0, 1, high_open=True), default=0.05, help="held-out test share")
    group.add_argument("--split-seed", type=int, default=0, help="seed of the train/valid/test split")
    group.add_argument("--no-cache", action="store_true", help="re-tokenize instead of using the disk cache")
    return group


def load_dataset(args, vocab=None):
    """The Dataset the data flags describe (``vocab`` reuses a stored vocabulary)."""
    from .data import build_dataset, load_sentences

    sentences = load_sentences(args.corpus, drop_http=args.convention == "part4",
                               use_cache=not args.no_cache, max_sentences=args.max_sentences)
    return build_dataset(sentences, args.vocab_size, args.convention, args.valid_fraction,
                         args.test_fraction, args.split_seed, vocab=vocab)


def print_sgd_step_time(model, X, Y, learning_rate):
    """Compile the model, then time one ``sgd_step`` on sentence 10 and print it as the tutorial did.

    One untimed step comes first: the first call of a compiled function sets it up. Like the tutorial's
    timing, these steps update the weights.
    """
    import time

    start = time.perf_counter()
    model.compile()
    print(f"Compiled in {time.perf_counter() - start:.1f} s")
    i = min(10, len(X) - 1)
    model.sgd_step(X[i], Y[i], learning_rate)
    start = time.perf_counter()
    model.sgd_step(X[i], Y[i], learning_rate)
    print(f"SGD Step time: {(time.perf_counter() - start) * 1000.0:f} milliseconds ({len(X[i])} words)")


def run(main):
    """Call ``main()``; a known error prints ``error: message`` and exits 2, Ctrl-C exits 130."""
    try:
        return main()
    except RNNLMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad flag gets one line, ``error: <message>`` (exit 2), like every other error here."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def parser(description):
    return OneLineErrorParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
