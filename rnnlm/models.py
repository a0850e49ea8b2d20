"""The model packages behind the command: which ``--model`` is which class, and opening or building one.

:func:`load_packages` imports :mod:`rnn_theano` and :mod:`gru_theano`, which register their classes and the
tutorial's file formats in :mod:`lmkit.registry` (:mod:`lmkit` itself never imports them); every function
here that needs a class calls it first, so importing this module loads nothing heavy.
"""
from lmkit.errors import CheckpointError, UsageError

# --model NAME -> registered class name
KINDS = {"rnn": "RNNTheano", "gru": "GRUTheano", "lstm": "LSTMTheano"}
# The settings that describe a model's architecture (as opposed to how it is trained).
MODEL_FLAGS = ("model", "hidden_dim", "embed_dim", "layers", "gate", "tie_weights")


def load_packages():
    """Import the model packages, so that their classes and file formats are registered."""
    import gru_theano  # noqa: F401  (registers GRUTheano, LSTMTheano and the tutorial's GRU file)
    import rnn_theano  # noqa: F401  (registers RNNTheano, RNNNumpy and the tutorial's U, V, W file)


def kind_of(model):
    return {v: k for k, v in KINDS.items()}[model.model_type]


def model_settings(model):
    """The values of :data:`MODEL_FLAGS` for ``model`` (what a checkpoint's run record says about it)."""
    return dict(zip(MODEL_FLAGS, (kind_of(model), model.hidden_dim, getattr(model, "embed_dim", None),
                                  getattr(model, "num_layers", 1), getattr(model, "gate", None),
                                  getattr(model, "tie_weights", False))))


def build_model(settings, word_dim):
    """A new model from the settings ``model``, ``hidden_dim``, ``embed_dim``, ``layers``, ``gate``,
    ``tie_weights``, ``bptt_truncate``, ``mode``, ``dtype`` and ``seed`` (those a command has).

    ``tie_weights`` None means: tied when the word vectors are as wide as the state (GRU/LSTM).
    """
    from lmkit.registry import MODELS

    load_packages()
    common = {"mode": settings["mode"], "dtype": settings["dtype"], "seed": settings["seed"]}
    if settings["model"] == "rnn":
        if settings.get("tie_weights"):
            raise UsageError("--tie-weights applies to --model gru and lstm")
        return MODELS["RNNTheano"](word_dim, settings["hidden_dim"], bptt_truncate=settings.get("bptt_truncate", -1),
                                   **common)
    tie = settings.get("tie_weights")
    if tie is None:
        tie = settings["embed_dim"] in (None, settings["hidden_dim"])
    return MODELS[KINDS[settings["model"]]](word_dim, settings["hidden_dim"], embed_dim=settings["embed_dim"],
                                            num_layers=settings["layers"], gate=settings["gate"], tie_weights=tie,
                                            **common)


def open_with_vocab(path, vocab_path=None, mode=None, dtype=None):
    """``(model, vocab, meta)`` from any model file (``pretrained:NAME`` included: :mod:`rnnlm.pretrained`),
    with its own vocabulary or the one in ``vocab_path``."""
    from lmkit.checkpoint import open_model

    from .data import load_vocabulary
    from .pretrained import resolve

    load_packages()
    model, vocab, meta = open_model(resolve(path), mode=mode, dtype=dtype)
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
