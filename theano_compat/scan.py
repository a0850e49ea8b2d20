"""``theano.scan`` and ``theano.map`` on PyTensor: both return Theano's pair ``(outputs, updates)``."""
import warnings

import pytensor

from .errors import NotProvidedError, not_provided
from .settings import function_mode


def _scan_mode(mode):
    return None if mode in (None, "FAST_RUN") else function_mode(mode)


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None, truncate_gradient=-1,
         go_backwards=False, mode=None, name=None, profile=False, allow_gc=None, strict=False,
         return_list=False):
    """``theano.scan``: repeat ``fn`` over ``sequences``; returns ``(outputs, updates)`` as Theano did.

    ``outputs`` is one variable when the step returns one output (a list otherwise, or with
    ``return_list=True``); ``outputs_info`` entries may be ``None`` (not fed back), an initial value, or
    ``dict(initial=..., taps=[...])``. ``updates`` holds the shared-variable updates made inside the loop
    (random streams); pass it to ``theano.function(updates=...)``.
    """
    for entry in outputs_info if isinstance(outputs_info, (list, tuple)) else [outputs_info]:
        if isinstance(entry, dict) and "return_steps" in entry:
            raise NotProvidedError(not_provided("theano.scan outputs_info return_steps",
                                                "index the output instead (outputs[-k:])"))
    kwargs = dict(sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences, n_steps=n_steps,
                  truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=_scan_mode(mode),
                  name=name, profile=profile, allow_gc=allow_gc, strict=strict, return_list=return_list)
    with warnings.catch_warnings():
        # PyTensor 3 warns that scan will stop returning the updates; returning them is Theano's contract.
        warnings.filterwarnings("ignore", message="Scan return signature will change")
        outputs, updates = pytensor.scan(fn, return_updates=True, **kwargs)
    return outputs, updates


def scan_map(fn, sequences, non_sequences=None, truncate_gradient=-1, go_backwards=False, mode=None, name=None):
    """``theano.map``: :func:`scan` with no recurrent outputs; returns ``(outputs, updates)``."""
    return scan(fn, sequences=sequences, outputs_info=[], non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode, name=name)
