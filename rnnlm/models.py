"""The model packages behind the command, and the steps every subcommand takes with a model.

Importing this module imports :mod:`rnn_theano` and :mod:`gru_theano`, which register their classes and
the tutorial's file formats in :mod:`lmkit.registry`; :mod:`lmkit` itself never imports them.
"""
import time

import gru_theano  # noqa: F401  (registers GRUTheano, LSTMTheano and the tutorial's GRU file)
import rnn_theano  # noqa: F401  (registers RNNTheano, RNNNumpy and the tutorial's U, V, W file)
from lmkit.checkpoint import open_model
from lmkit.errors import CheckpointError, UsageError
from lmkit.registry import MODELS

# --model NAME -> registered class name
KINDS = {"rnn": "RNNTheano", "gru": "GRUTheano", "lstm": "LSTMTheano"}


def kind_of(model):
    return {v: k for k, v in KINDS.items()}[model.model_type]


# The flags that describe a model's architecture (as opposed to how it is trained).
MODEL_FLAGS = ("model", "hidden_dim", "embed_dim", "layers", "gate", "tie_weights")


def model_settings(model):
    """The values of :data:`MODEL_FLAGS` for ``model`` (what a checkpoint's run record must say about it)."""
    return dict(zip(MODEL_FLAGS, (kind_of(model), model.hidden_dim, getattr(model, "embed_dim", None),
                                  getattr(model, "num_layers", 1), getattr(model, "gate", None),
                                  getattr(model, "tie_weights", False))))


def adopt_model_settings(args, model, source):
    """Set the model flags a subcommand has from ``model`` (a resumed or fine-tuned one), so its run
    record describes the model it trains; a flag given with another value is refused."""
    for key, value in model_settings(model).items():
        if not hasattr(args, key):
            continue
        given = getattr(args, key)
        if key in args.explicit and given is not None and given != value:
            raise UsageError(f"--{key.replace('_', '-')} {given!r} does not match the model of {source} ({value!r})")
        setattr(args, key, value)


def build_model(args, word_dim):
    """A new model from the flags ``--model``, ``--hidden-dim``, ``--embed-dim``, ``--layers``, ``--gate``,
    ``--tie-weights``, ``--bptt-truncate``, ``--mode``, ``--dtype`` and ``--seed`` (those a subcommand has).

    The resolved choices are written back to ``args`` (``tie_weights``), so a checkpoint records them.
    """
    common = {"mode": args.mode, "dtype": args.dtype, "seed": args.seed}
    if args.model == "rnn":
        if getattr(args, "tie_weights", None):
            raise UsageError("--tie-weights applies to --model gru and lstm")
        args.tie_weights = False
        return MODELS["RNNTheano"](word_dim, args.hidden_dim, bptt_truncate=getattr(args, "bptt_truncate", -1),
                                   **common)
    if getattr(args, "tie_weights", None) is None:
        args.tie_weights = args.embed_dim in (None, args.hidden_dim)
    return MODELS[KINDS[args.model]](word_dim, args.hidden_dim, embed_dim=args.embed_dim, num_layers=args.layers,
                                     gate=args.gate, tie_weights=args.tie_weights, **common)


def open_with_vocab(path, vocab_path=None, mode=None, dtype=None):
    """``(model, vocab, meta)`` from any model file, with its own vocabulary or the one in ``vocab_path``."""
    from .flags import load_vocabulary

    model, vocab, meta = open_model(path, mode=mode, dtype=dtype)
    if vocab_path:
        given = load_vocabulary(vocab_path)
        if vocab is not None and given != vocab:
            raise CheckpointError(f"{path}: stores a different vocabulary than {vocab_path}")
        vocab = given
    if vocab is None:
        raise CheckpointError(f"{path}: holds no vocabulary; pass --vocab FILE (a JSON vocabulary)")
    if len(vocab) != model.word_dim:
        raise CheckpointError(f"{path}: has {model.word_dim} output words but the vocabulary has "
                              f"{len(vocab)}; they do not belong together")
    return model, vocab, meta


def report_heldout(data, score, label=""):
    """Print ``score(split)`` for the validation and test splits that exist: the last lines of every trainer."""
    for split in ("valid", "test"):
        if getattr(data, split):
            print(f"{split}{label}: {score(split)}")


def time_sgd_step(model, X, Y, *step_args):
    """Compile the model, then time one ``sgd_step`` on sentence 10 and print it as the tutorial did.

    One untimed step comes first: the first call of a compiled function sets it up. Like the tutorial's
    timing, these steps update the weights.
    """
    start = time.perf_counter()
    model.compile()
    print(f"Compiled in {time.perf_counter() - start:.1f} s")
    i = min(10, len(X) - 1)
    model.sgd_step(X[i], Y[i], *step_args)
    start = time.perf_counter()
    model.sgd_step(X[i], Y[i], *step_args)
    print(f"SGD Step time: {(time.perf_counter() - start) * 1000.0:f} milliseconds ({len(X[i])} words)")


def print_samples(model, vocab, n, min_length, rules="part2", seed=None):
    from lmkit.sampling import generate_sentences

    for words in generate_sentences(model, vocab, n, min_length, rules=rules, seed=seed):
        print("  >", " ".join(words))
