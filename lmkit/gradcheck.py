"""Gradient checking: does backpropagation agree with the definition of a derivative?

For every entry ``p`` of a parameter, the loss of one sentence is evaluated at ``p + h`` and ``p - h``;
the central difference ``(L(p + h) - L(p - h)) / 2h`` approximates dL/dp up to ``O(h^2)`` and is compared
with what ``model.bptt`` says. Written once for every model of the project: a model needs
``bptt(x, y)`` (one gradient per parameter), ``ce_error(x, y)`` (the summed loss of one sentence),
``trainable_params()`` (the parameter names, in ``bptt``'s order: ``U, V, W`` for the RNN,
``E, U, W, b, V, c`` for the tutorial's GRU) and the checkpoint pair ``get_params`` / ``set_params``,
through which the weights are moved and restored.

Run the checks on a float64 model: with float32 weights, a step small enough to be accurate changes the
loss by less than float32 can resolve. The finite differences always see the full, untruncated loss,
so check a model without truncation (``bptt_truncate=-1``, see ``rnn_theano/README.md``, Truncation);
a correct truncated gradient "fails".

- :func:`gradient_check`: the tutorial's check, entry by entry with its messages; True or False.
- :func:`numerical_gradients`: the central differences themselves, name -> array.
- :func:`gradient_errors`: the worst relative error of each parameter, name -> float.
"""
import numpy as np


def parameter_names(model):
    """The names of the model's parameters, in the order of ``model.bptt``'s gradients."""
    return list(model.trainable_params())


def relative_error(a, b):
    """``|a - b| / (|a| + |b|)``, taken as 0 when both are 0."""
    denom = abs(a) + abs(b)
    return 0.0 if denom == 0 else abs(a - b) / denom


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


def gradient_check(model, x, y, h=0.001, error_threshold=0.01, names=None, log=print):
    """The tutorial's check of ``model.bptt(x, y)``: True if every entry passes, False at the first failure.

    The comparison uses the relative error ``|a - b| / (|a| + |b|)`` so that large and small gradients are
    judged alike; entries where both are exactly zero (a word absent from the sentence leaves its column
    of ``U`` untouched) count as agreeing. ``names`` limits the check to some parameters. Each message goes
    to ``log``, as the tutorial printed them. The model's weights are restored afterwards.
    """
    backprop = dict(zip(parameter_names(model), model.bptt(x, y)))
    loss = lambda: model.ce_error(x, y)  # noqa: E731
    for name in names or backprop:
        log(f"Performing gradient check for parameter {name} with size {backprop[name].size}.")
        for ix, loss_plus, loss_minus in central_differences(model, name, loss, h):
            estimated = (loss_plus - loss_minus) / (2 * h)
            computed = float(backprop[name][ix])
            err = relative_error(computed, estimated)
            if not err <= error_threshold:     # also catches NaN
                log(f"Gradient Check ERROR: parameter={name} ix={ix}")
                log(f"+h Loss: {loss_plus:f}")
                log(f"-h Loss: {loss_minus:f}")
                log(f"Estimated gradient: {estimated:f}")
                log(f"Backpropagation gradient: {computed:f}")
                log(f"Relative Error: {err:f}")
                return False
        log(f"Gradient check for parameter {name} passed.")
    return True


def numerical_gradients(model, x, y, h=1e-5, names=None):
    """Central-difference gradients of ``model.ce_error(x, y)``, name -> float64 array (weights restored)."""
    shapes = {name: value.shape for name, value in model.get_params().items()}
    grads = {}
    for name in names or parameter_names(model):
        grad = np.zeros(shapes[name], dtype=np.float64)
        for ix, plus, minus in central_differences(model, name, lambda: model.ce_error(x, y), h):
            grad[ix] = (plus - minus) / (2 * h)
        grads[name] = grad
    return grads


def gradient_errors(model, x, y, h=1e-5, floor=1e-7):
    """Worst relative error per parameter, ``|a - n| / max(|a| + |n|, floor)`` over its entries.

    ``a`` is the backpropagated gradient, ``n`` the numerical one. The floor keeps entries whose true
    gradient is (nearly) zero, such as the embedding of a word absent from ``x``, from dividing noise by
    noise. In float64 a correct model gives errors around 1e-6 or less; a wrong one, order 1.
    """
    names = parameter_names(model)
    analytic = dict(zip(names, model.bptt(x, y)))
    numeric = numerical_gradients(model, x, y, h=h, names=names)
    return {name: float(np.max(np.abs(analytic[name] - numeric[name])
                               / np.maximum(np.abs(analytic[name]) + np.abs(numeric[name]), floor)))
            for name in names}
