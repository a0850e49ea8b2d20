"""The model classes and model-file formats the project knows, filled in by the model packages.

``lmkit`` never imports a model package. A package registers its classes when it is imported::

    @register_model
    class GRUTheano(RecurrentLM): model_type = "GRUTheano"; ...

    register_format("gru-original", keys={"E", "U", "W", "V", "b", "c"}, load=load_model_parameters_theano)

and :mod:`lmkit.checkpoint` looks classes up here by the name a checkpoint records. The ``rnnlm``
command imports every model package (:mod:`rnnlm.models`), so all of them are known there.
"""
from .errors import CheckpointError

MODELS = {}    # model_type -> class
FORMATS = {}   # format name -> (the exact set of array names, load(path, **model_kwargs) -> model)


def register_model(cls):
    """Class decorator: make ``cls`` loadable from checkpoints under its ``model_type``."""
    if not isinstance(getattr(cls, "model_type", None), str):
        raise TypeError(f"{cls.__name__} needs a class attribute model_type (a string) to be registered")
    MODELS[cls.model_type] = cls
    return cls


def register_format(name, keys, load):
    """A file format of bare weights: an ``.npz`` holding exactly the arrays ``keys``, opened by ``load``."""
    FORMATS[name] = (frozenset(keys), load)


def model_class(model_type):
    """The class registered as ``model_type``; the error names the ones known."""
    if model_type not in MODELS:
        known = ", ".join(sorted(MODELS)) or "none"
        raise CheckpointError(f"unknown model type {model_type!r} (registered: {known}); import the package "
                              "that defines it first (the rnnlm command imports all of them)")
    return MODELS[model_type]


def format_of(keys):
    """The registered format whose arrays are exactly ``keys``, as ``(name, load)``, or None."""
    for name, (format_keys, load) in FORMATS.items():
        if set(keys) == format_keys:
            return name, load
    return None


def checked_sizes(cls, hparams, *names):
    """``hparams[name]`` (or the constructor's default) for each of ``names``, after checking that ``cls``
    takes every key of ``hparams`` (``TypeError`` otherwise) and that each is a positive integer
    (``ValueError`` otherwise): a checkpoint's sizes, before anything of that size is built or read."""
    import inspect

    signature = inspect.signature(cls)
    signature.bind(**hparams)
    values = []
    for name in names:
        value = hparams.get(name, signature.parameters[name].default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        values.append(value)
    return values
