"""``bptt_truncate=k`` in the GRU and LSTM, against an exact reference built from other pieces of the project.

``scan(truncate_gradient=k)`` runs the backward pass over the last k steps only. So the recurrent weights and
the embedding receive the gradient of the loss of the last k words, computed with the state entering those
steps held constant, while V and c (outside the scan) receive the full gradient. The reference computes
exactly that with central differences: the batched graph runs the first T-k words once to get the entering
state, then the last k words from that fixed state under perturbed weights.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from gru_theano import GRUTheano, LSTMTheano, numerical_gradients
from lmkit.gradcheck import central_differences

from .helpers import randomized

C, H, K = 9, 4, 3
X = [0, 3, 7, 3, 8, 1, 5, 2]
Y = [3, 7, 3, 8, 1, 5, 2, 6]


def truncated_reference(model, x, y, k, h=1e-6):
    """Central differences of the last k words' loss from the (fixed) state the first T-k words leave."""
    xs, ys, ss = pt.imatrix("x"), pt.imatrix("y"), [pt.dmatrix() for _ in range(model.num_states())]
    mask, reset = pt.dmatrix("mask"), pt.dmatrix("reset")
    cost, final = model.batched_cost(xs, ys, mask, ss, reset)
    run = pytensor.function([xs, ys, mask, reset, *ss], [cost, *final], mode="CVM")
    col = lambda a: np.asarray(a, dtype=np.int32)[:, None]  # noqa: E731  (one sentence as a (T, 1) batch)
    T = len(x)
    start = np.zeros((T - k, 1)); start[0] = 1.0
    _, *entering = run(col(x[:T - k]), col(y[:T - k]), np.ones((T - k, 1)), start,
                       *[np.zeros((model.hidden_dim, 1))] * model.num_states())

    def tail_loss():
        return run(col(x[T - k:]), col(y[T - k:]), np.ones((k, 1)), np.zeros((k, 1)), *entering)[0]

    grads = {}
    for name in model.params:
        if name in ("V", "c"):
            continue
        grad = np.zeros(model.param_shapes()[name])
        for ix, plus, minus in central_differences(model, name, tail_loss, h):
            grad[ix] = (plus - minus) / (2 * h)
        grads[name] = grad
    return grads


@pytest.mark.parametrize("make", [
    lambda t: GRUTheano(C, hidden_dim=H, num_layers=2, dtype="float64", seed=0, bptt_truncate=t),
    lambda t: LSTMTheano(C, hidden_dim=H, embed_dim=3, num_layers=1, dtype="float64", seed=0, bptt_truncate=t),
], ids=["gru-2-layers", "lstm"])
def test_truncated_gradients_are_the_last_k_steps_from_a_fixed_state(make):
    truncated = randomized(make(K), seed=5)
    full = make(-1)
    full.set_params(truncated.get_params())
    cut = dict(zip(truncated.params, truncated.bptt(X, Y)))
    want = truncated_reference(full, X, Y, K)
    for name, value in want.items():
        assert np.abs(value).max() > 1e-4, name
        np.testing.assert_allclose(cut[name], value, rtol=1e-5, atol=1e-8, err_msg=name)
    whole = numerical_gradients(full, X, Y, h=1e-6, names=["V", "c"])  # the output layer: every word
    for name in ("V", "c"):
        np.testing.assert_allclose(cut[name], whole[name], rtol=1e-5, atol=1e-8, err_msg=name)
    # k - 1 or k + 1 steps would be a different gradient: the reference tells them apart.
    off_by_one = truncated_reference(full, X, Y, K - 1)
    assert not np.allclose(off_by_one["W" if "W" in off_by_one else "W1"], want["W" if "W" in want else "W1"])
