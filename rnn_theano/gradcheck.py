"""Gradient checking: does backpropagation agree with the definition of a derivative?

For every single weight ``p`` the loss is evaluated twice, with ``p + h`` and ``p - h``, and the slope
``(L(p + h) - L(p - h)) / 2h`` (a central difference, accurate to ``O(h^2)``) is compared with what
``model.bptt`` says. The comparison uses the relative error ``|a - b| / (|a| + |b|)`` so that large and
small gradients are judged alike; entries where both are exactly zero (a word absent from the sentence
leaves its column of ``U`` untouched) count as agreeing.

Works with any model that has ``bptt(x, y) -> [dU, dV, dW]``, ``calculate_total_loss(X, Y)`` and the
``get_params`` / ``set_params`` pair, so both :class:`RNNNumpy` and :class:`RNNTheano`. Run it in float64:
with float32 weights, ``h = 0.001`` changes the loss by less than float32 can resolve reliably.
"""
from lmkit.gradcheck import central_differences

PARAMETER_NAMES = ("U", "V", "W")


def relative_error(a, b):
    """``|a - b| / (|a| + |b|)``, taken as 0 when both are 0."""
    denom = abs(a) + abs(b)
    return 0.0 if denom == 0 else abs(a - b) / denom


def gradient_check(model, x, y, h=0.001, error_threshold=0.01, log=print):
    """Check ``model.bptt(x, y)`` entry by entry; returns True if all pass, False at the first failure.

    The finite differences see the full, untruncated loss: check a model with ``bptt_truncate=-1`` (or a
    sentence short enough that truncation does nothing), otherwise a correct truncated gradient "fails".
    The model's weights are restored afterwards.
    """
    backprop = dict(zip(PARAMETER_NAMES, model.bptt(x, y)))
    loss = lambda: model.calculate_total_loss([x], [y])  # noqa: E731
    for name in PARAMETER_NAMES:
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
