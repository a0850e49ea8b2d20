"""Central differences, the one loop behind every gradient check in the project.

For each entry ``p`` of a parameter, the loss is evaluated at ``p + h`` and ``p - h``;
``(L(p + h) - L(p - h)) / 2h`` approximates dL/dp up to ``O(h^2)``. The parameter is read and written
through the checkpoint protocol (``get_params`` / ``set_params``), so any model of the project works.
"""
import numpy as np


def central_differences(model, name, loss, h):
    """Yield ``(index, loss_plus, loss_minus)`` for every entry of parameter ``name``.

    ``loss()`` is evaluated with that one entry moved by ``+h`` and ``-h``. The weights are restored when
    the loop ends, also when the caller stops early or ``loss`` raises.
    """
    params = model.get_params()
    values = params[name]
    original_values = values.copy()
    try:
        for ix in np.ndindex(values.shape):
            values[ix] = original_values[ix] + h
            model.set_params(params)
            plus = float(loss())
            values[ix] = original_values[ix] - h
            model.set_params(params)
            minus = float(loss())
            values[ix] = original_values[ix]
            yield ix, plus, minus
    finally:
        values[...] = original_values
        model.set_params(params)
