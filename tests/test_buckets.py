"""The tutorial's per-sentence models on JAX: a sentence padded at the front to its length bucket, the padding
masked, gives the unpadded sentence's cost and gradients (a truncated gradient included), so a run compiles
one program per bucket, not one per sentence length."""
import numpy as np
import pytest

from gru_theano import GRUTheano, LSTMTheano
from lmkit.compiled import BUCKETS
from rnn_theano import RNNTheano

from .helpers import randomized, rnnlm

C = 11
MODELS = {
    "rnn, truncated": lambda mode: RNNTheano(C, 5, bptt_truncate=3, mode=mode, dtype="float64", seed=1),
    "gru, 2 layers": lambda mode: randomized(GRUTheano(C, 4, num_layers=2, mode=mode, dtype="float64", seed=2), 3),
    "lstm": lambda mode: randomized(LSTMTheano(C, 4, embed_dim=3, num_layers=1, mode=mode, dtype="float64", seed=4), 5),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_front_padding_with_a_mask_gives_the_unpadded_cost_and_gradients(name):
    model = MODELS[name]("c")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, C, 6).astype(np.int32), rng.integers(0, C, 6).astype(np.int32)
    pad = np.zeros(10, dtype=np.int32)
    padded = (np.concatenate([pad, x]), np.concatenate([pad + 3, y]),
              np.concatenate([np.zeros(10), np.ones(6)]))
    plain = (x, y, np.ones(6))
    cost = model._function("ce_error")
    grads = model._function("bptt")
    assert cost(*padded) == pytest.approx(cost(*plain), rel=1e-13)
    for got, want in zip(grads(*padded), grads(*plain)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # ... and the padded sentence's predictions are the unpadded ones
    predict = "forward_propagation" if name.startswith("rnn") else "predict"
    np.testing.assert_allclose(model._function(predict)(padded[0], padded[2])[10:],
                               model._function(predict)(x, np.ones(6)), rtol=1e-12)


@pytest.mark.parametrize("name", list(MODELS))
def test_jax_mode_pads_to_buckets_and_agrees_with_the_c_backend(name):
    c_model, jax_model = MODELS[name]("c"), MODELS[name]("jax")
    rng = np.random.default_rng(1)
    lengths = (3, 9, 16, 17, 5)
    for n in lengths:
        x, y = rng.integers(0, C, n).astype(np.int32), rng.integers(0, C, n).astype(np.int32)
        assert jax_model.ce_error(x, y) == pytest.approx(c_model.ce_error(x, y), rel=1e-10)
        for got, want in zip(jax_model.bptt(x, y), c_model.bptt(x, y)):
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-9, atol=1e-12)
    # two buckets for five lengths (16 and 32), each function compiled once per bucket
    assert set(jax_model._compiled) == {(f, b) for f in ("ce_error", "bptt") for b in (BUCKETS[0], BUCKETS[1])}
    assert jax_model.compiled_graphs() == 4


def test_a_part2_run_on_jax_compiles_at_most_eight_graphs_and_says_how_many(tmp_path):
    proc = rnnlm("part2", "--mode", "jax", "--corpus", "shakespeare:macbeth", "--max-sentences", "300",
                 "--vocab-size", "200", "--hidden-dim", "8", "--epochs", "2", "--evaluate-loss-after", "1",
                 "--samples", "1", "--min-length", "1", "--no-progress", "--out", tmp_path / "rnn.npz")
    assert proc.returncode == 0, proc.stderr
    compiled = int(proc.stdout.rsplit(" compiled graphs", 1)[0].rsplit(" ", 1)[1])
    assert 2 <= compiled <= 8, proc.stdout[-500:]
