"""The tutorial's GRU parameter file: an ``.npz`` with exactly ``E, U, W, V, b, c``.

The Part 4 repository saved its trained GRU this way (``utils.save_model_parameters_theano``). The file
holds weights only: no vocabulary, no gate choice (the tutorial used the hard sigmoid, this code's
default), no RMSprop caches. Sizes come from the shapes::

    E (D, C)   U (3 L, H, H)   W (3 L, H, H)   b (3 L, H)   V (C, H)   c (C,)

with D == H (the tutorial ties them) and L layers (the tutorial's 2; any multiple of 3 rows loads).
For new work prefer ``lmkit.checkpoint.save_model``, which stores every size, the vocabulary and the
caches and works for every layout.

Differences from the tutorial's ``utils.py``: reading never unpickles and checks every key and shape (a
bad file is a :class:`lmkit.errors.CheckpointError` naming the file and the problem); writing is atomic
and goes to exactly the path given; the loader builds a model of the sizes found in the file rather
than assuming the default sizes. The tutorial's save took ``(model, outfile)``; both argument orders work.
"""
import os

import numpy as np

from lmkit.atomic import atomic_savez
from lmkit.checkpoint import META_KEY, read_npz
from lmkit.errors import CheckpointError
from lmkit.registry import register_format

KEYS = ("E", "U", "W", "V", "b", "c")


def save_model_parameters_theano(path, model, log=print):
    """Write ``model``'s E, U, W, V, b, c to ``path`` atomically (stacked layout only: D == H)."""
    if hasattr(path, "get_params") and isinstance(model, (str, os.PathLike)):
        path, model = model, path  # the tutorial's argument order
    if not getattr(model, "stacked", False):
        raise ValueError(f"{type(model).__name__} with embed_dim={model.embed_dim} != hidden_dim="
                         f"{model.hidden_dim} has no place in the tutorial's E/U/W/V/b/c format; "
                         "use lmkit.checkpoint.save_model")
    params = model.get_params()
    atomic_savez(path, {name: params[name] for name in KEYS})
    log(f"Saved model parameters to {path}.")


def read_model_parameters(path, n_gates=3):
    """The six arrays of a tutorial-format file, after checking they form one model; returns a dict."""
    arrays = read_npz(path)
    if META_KEY in arrays:
        raise CheckpointError(f"{path}: is an rnnlm checkpoint, not a tutorial parameter file; "
                              "open it with lmkit.checkpoint.load_model")
    missing = [k for k in KEYS if k not in arrays]
    extra = sorted(k for k in arrays if k not in KEYS)
    if missing or extra:
        raise CheckpointError(f"{path}: expected exactly the arrays {', '.join(KEYS)}; "
                              + (f"missing {', '.join(missing)}" if missing else "")
                              + ("; " if missing and extra else "")
                              + (f"unexpected {', '.join(extra)}" if extra else ""))
    ndims = {"E": 2, "U": 3, "W": 3, "V": 2, "b": 2, "c": 1}
    for name in KEYS:
        arr = arrays[name]
        if arr.ndim != ndims[name]:
            raise CheckpointError(f"{path}: {name} should have {ndims[name]} dimensions, has shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise CheckpointError(f"{path}: {name} should hold floats, holds {arr.dtype}")
    embed_dim, word_dim = arrays["E"].shape
    rows, hidden_dim = arrays["W"].shape[:2]
    if rows == 0 or rows % n_gates:
        raise CheckpointError(f"{path}: W has {rows} blocks, expected a positive multiple of {n_gates} "
                              f"({n_gates} gates per layer)")
    if embed_dim != hidden_dim:
        raise CheckpointError(f"{path}: E has {embed_dim} rows but the layers are {hidden_dim} wide; "
                              "this format needs word vectors as wide as the hidden state")
    H, C = hidden_dim, word_dim
    expected = {"U": (rows, H, H), "W": (rows, H, H), "b": (rows, H), "V": (C, H), "c": (C,)}
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise CheckpointError(f"{path}: {name} has shape {arrays[name].shape}, but E {arrays['E'].shape} "
                                  f"and W {arrays['W'].shape} mean word_dim={C}, hidden_dim={H}, "
                                  f"{rows // n_gates} layer(s), so {name} should be {shape}")
    for name in KEYS:
        if not np.all(np.isfinite(arrays[name])):
            raise CheckpointError(f"{path}: {name} contains NaN or infinite values")
    return {name: arrays[name] for name in KEYS}


def load_model_parameters_theano(path, model_class=None, log=print, **model_kwargs):
    """Build a model of the file's sizes holding its weights (RMSprop caches start at zero).

    ``model_class`` defaults to :class:`gru_theano.GRUTheano` (an LSTMTheano with D == H saved by
    :func:`save_model_parameters_theano` loads with ``model_class=LSTMTheano``). ``model_kwargs``
    (``mode``, ``dtype``, ``gate``, ``bptt_truncate``) go to the constructor; without ``dtype`` the
    model takes the file's float type, so the weights arrive bit for bit.
    """
    if model_class is None:
        from .gru_theano import GRUTheano as model_class
    n_gates = len(model_class.gate_names)
    arrays = read_model_parameters(path, n_gates=n_gates)
    word_dim = arrays["E"].shape[1]
    rows, hidden_dim = arrays["W"].shape[:2]
    model_kwargs.setdefault("dtype", str(arrays["E"].dtype))
    model = model_class(word_dim, hidden_dim=hidden_dim, num_layers=rows // n_gates, **model_kwargs)
    try:
        model.set_params(arrays, with_cache=False)
    except ValueError as exc:  # not reachable after the checks above, but keep the promise
        raise CheckpointError(f"{path}: {exc}") from None
    log(f"Loaded {model_class.__name__} from {path}: word_dim={word_dim} hidden_dim={hidden_dim} "
        f"num_layers={model.num_layers}")
    return model


def _load_quietly(path, **model_kwargs):
    return load_model_parameters_theano(path, log=lambda *args: None, **model_kwargs)


register_format("gru-original", set(KEYS), _load_quietly)
