"""The tutorial's own parameter files: an ``.npz`` holding just ``U``, ``V`` and ``W``.

The pretrained model that came with the tutorial (``trained-model-theano.npz``: 8000 words, 50 hidden
units, float32) is in this format. It has no vocabulary and no hyper-parameters; the sizes are read from
the shapes. For new work prefer ``lmkit.checkpoint.save_model``, which stores both.

Differences from the tutorial's ``utils.py``: files are read without pickle and checked (a bad file is
a :class:`lmkit.errors.CheckpointError` that names it), written atomically, and written to exactly the
path given (``np.savez`` would add ``.npz`` to a name without it). Loading returns a model of the size
found in the file; the original set the weights into whatever model it was given and failed later.
"""

import numpy as np

from lmkit.atomic import atomic_savez
from lmkit.checkpoint import read_npz
from lmkit.errors import CheckpointError
from lmkit.registry import register_format

KEYS = ("U", "V", "W")


def save_model_parameters_theano(path, model, log=print):
    """Write the model's ``U``, ``V``, ``W`` to ``path`` (any model with ``get_params``)."""
    params = model.get_params()
    atomic_savez(path, {name: params[name] for name in KEYS})
    log(f"Saved model parameters to {path}.")


def read_model_parameters(path):
    """The arrays ``U``, ``V``, ``W`` of a tutorial-format file as a dict, after checking that they form one RNN."""
    arrays = read_npz(path)
    missing = [k for k in KEYS if k not in arrays]
    if missing:
        raise CheckpointError(f"{path}: missing array {', '.join(missing)} "
                              f"(found {', '.join(sorted(arrays)) or 'nothing'}); expected U, V and W")
    U, V, W = (arrays[k] for k in KEYS)
    for name, arr in zip(KEYS, (U, V, W)):
        if arr.ndim != 2:
            raise CheckpointError(f"{path}: {name} should be a 2-D matrix, has shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise CheckpointError(f"{path}: {name} should hold floats, holds {arr.dtype}")
    hidden_dim, word_dim = U.shape
    expected = {"V": (word_dim, hidden_dim), "W": (hidden_dim, hidden_dim)}
    for name, arr in (("V", V), ("W", W)):
        if arr.shape != expected[name]:
            raise CheckpointError(f"{path}: {name} has shape {arr.shape} but U {U.shape} means "
                                  f"hidden_dim={hidden_dim}, word_dim={word_dim}, so {name} should be "
                                  f"{expected[name]}")
    for name, arr in zip(KEYS, (U, V, W)):
        if not np.all(np.isfinite(arr)):
            raise CheckpointError(f"{path}: {name} contains NaN or infinite values")
    return {"U": U, "V": V, "W": W}


def load_model_parameters_theano(path, model=None, log=print, **model_kwargs):
    """Load a tutorial-format file; returns the model holding its weights.

    - ``model=None``: builds an ``RNNTheano`` of the file's size. ``model_kwargs`` go to its constructor
      (``bptt_truncate``, ``mode``, ``dtype``...); without ``dtype`` it takes the file's float type, so
      the weights arrive bit for bit (the pretrained file gives a float32 model).
    - a model of the same size: its weights are replaced, and it is returned.
    - a model of another size: it is left alone, and a new model of the same class with the file's size
      (and the given model's ``bptt_truncate``, ``mode`` and ``dtype``) is built, returned, and the
      change is logged. Use the returned model.
    """
    arrays = read_model_parameters(path)
    U = arrays["U"]
    hidden_dim, word_dim = U.shape
    if model is None:
        from .rnn_theano import RNNTheano
        model_kwargs.setdefault("dtype", str(U.dtype))
        model = RNNTheano(word_dim, hidden_dim, **model_kwargs)
    elif (model.word_dim, model.hidden_dim) != (word_dim, hidden_dim):
        log(f"{path}: holds word_dim={word_dim} hidden_dim={hidden_dim}, the model given has "
            f"word_dim={model.word_dim} hidden_dim={model.hidden_dim}; building a new "
            f"{type(model).__name__} of the file's size.")
        kwargs = {"bptt_truncate": model.bptt_truncate, "mode": getattr(model, "mode", None),
                  "dtype": str(model.dtype), **model_kwargs}
        model = type(model)(word_dim, hidden_dim, **kwargs)
    model.set_params(arrays)
    log(f"Loaded model parameters from {path}. hidden_dim={hidden_dim} word_dim={word_dim}")
    return model


def _load_quietly(path, **model_kwargs):
    return load_model_parameters_theano(path, log=lambda *args: None, **model_kwargs)


register_format("rnn-original", set(KEYS), _load_quietly)
