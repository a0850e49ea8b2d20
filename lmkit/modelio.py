"""Open any model file the project knows, for the generate and score commands.

- this project's checkpoint (``lmkit.checkpoint``): any model class, vocabulary included;
- the tutorial's vanilla-RNN file (keys U, V, W), e.g. ``trained-model-theano.npz``;
- the tutorial's GRU file (keys E, U, W, V, b, c).

The tutorial's files carry no vocabulary: pass one (a JSON file written by ``Vocabulary.save`` or by
``--save-vocab``), or let the caller rebuild it from the corpus it was trained on.
"""
from .checkpoint import META_KEY, load_model, read_npz
from .errors import CheckpointError

RNN_KEYS = {"U", "V", "W"}
GRU_KEYS = {"E", "U", "W", "V", "b", "c"}


def file_kind(path):
    """``'checkpoint'``, ``'rnn-original'`` or ``'gru-original'`` from the arrays a file holds."""
    keys = set(read_npz(path))
    if META_KEY in keys:
        return "checkpoint"
    if keys == GRU_KEYS:
        return "gru-original"
    if keys == RNN_KEYS:
        return "rnn-original"
    raise CheckpointError(f"{path}: not a model file this project knows (arrays: {', '.join(sorted(keys))})")


def open_model(path, mode=None, dtype=None):
    """Returns ``(model, vocab_or_None, meta)`` for any known model file."""
    kind = file_kind(path)
    kwargs = {"mode": mode, **({"dtype": dtype} if dtype else {})}
    if kind == "checkpoint":
        return load_model(path, **kwargs)
    quiet = {"log": lambda *a: None}
    if kind == "rnn-original":
        from rnn_theano import load_model_parameters_theano

        return load_model_parameters_theano(path, **quiet, **kwargs), None, {"model_type": "RNNTheano"}
    from gru_theano import load_model_parameters_theano as load_gru

    return load_gru(path, **quiet, **kwargs), None, {"model_type": "GRUTheano"}
