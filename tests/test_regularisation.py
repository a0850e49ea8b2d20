"""Dropout and weight tying in the batched graphs, each checked against a model changed by hand."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from gru_theano import GRUTheano, numerical_gradients
from lmkit.checkpoint import load_model, save_model
from lmkit.data.batching import pad_batch
from lmkit.trainer import BatchedTrainer
from rnn_theano import RNNTheano

from .helpers import randomized
from .test_gru import np_hard_sigmoid, numpy_gru_probs

C, H = 9, 4
RNG = np.random.default_rng(5)
LENGTHS = (4, 6, 2)
XS = [RNG.integers(0, C, n).astype(np.int32) for n in LENGTHS]
YS = [RNG.integers(0, C, n).astype(np.int32) for n in LENGTHS]
BATCH = pad_batch(XS, YS, length=6)


def batched_cost(model, masks):
    """The batched cost of BATCH with the given dropout masks (name -> (T, width, B) array), in C."""
    x, y, mask, reset = pt.imatrix(), pt.imatrix(), pt.dmatrix(), pt.dmatrix()
    states = [pt.dmatrix() for _ in range(model.num_states())]
    symbolic = {name: pt.tensor3(name, dtype="float64") for name in masks}
    cost, _ = model.batched_cost(x, y, mask, states, reset, symbolic)
    fn = pytensor.function([x, y, mask, reset, *states, *symbolic.values()], cost, mode="CVM")
    zeros = [np.zeros((model.hidden_dim, len(LENGTHS)))] * model.num_states()
    return float(fn(BATCH.x, BATCH.y, BATCH.mask.astype(float), BATCH.reset.astype(float), *zeros,
                    *masks.values()))


def per_sentence_cost(model):
    return sum(model.ce_error(x, y) for x, y in zip(XS, YS))


def full(width, value=1.0):
    return np.full((BATCH.x.shape[0], width, len(LENGTHS)), value)


def changed_copy(model, **params):
    """A copy of ``model`` with some weights replaced (the hand-made equivalent of a dropout mask)."""
    copy = type(model)(**model.hparams(), dtype="float64")
    copy.set_params({**model.get_params(), **params})
    return copy


@pytest.fixture(scope="module")
def gru2():
    return randomized(GRUTheano(C, hidden_dim=H, dtype="float64", seed=0), seed=3)


def test_masks_of_ones_change_nothing(gru2):
    masks = {name: full(width) for name, width in gru2.dropout_sites()}
    assert [name for name, _ in gru2.dropout_sites()] == ["input", "layer1", "output"]
    assert batched_cost(gru2, masks) == pytest.approx(per_sentence_cost(gru2), rel=1e-12)


def test_each_site_masks_what_it_names(gru2):
    E = gru2.get_params()["E"]
    U = gru2.get_params()["U"].copy()
    U[3:6] = 0.0  # layer 2's input weights: what a zero mask between the layers amounts to
    c = gru2.get_params()["c"]
    assert batched_cost(gru2, {"input": full(H, 0.0)}) == pytest.approx(
        per_sentence_cost(changed_copy(gru2, E=np.zeros_like(E))), rel=1e-12)
    assert batched_cost(gru2, {"layer1": full(H, 0.0)}) == pytest.approx(
        per_sentence_cost(changed_copy(gru2, U=U)), rel=1e-12)
    # Nothing reaches the softmax but the bias: every word costs logsumexp(c) - c[y].
    lse = np.log(np.exp(c).sum())
    assert batched_cost(gru2, {"output": full(H, 0.0)}) == pytest.approx(
        sum(lse - c[y] for ys in YS for y in ys), rel=1e-12)
    # A mask of 2 on the word vectors is the same as doubling E (inverted dropout's 1/(1-p) scale).
    assert batched_cost(gru2, {"input": full(H, 2.0)}) == pytest.approx(
        per_sentence_cost(changed_copy(gru2, E=2 * E)), rel=1e-12)


def test_rnn_dropout_sites():
    rnn = RNNTheano(C, H, bptt_truncate=-1, dtype="float64", seed=1)
    U = rnn.get_params()["U"]
    assert batched_cost(rnn, {"input": full(H, 0.0)}) == pytest.approx(
        per_sentence_cost(changed_copy(rnn, U=np.zeros_like(U))), rel=1e-12)
    assert batched_cost(rnn, {"output": full(H, 0.0)}) == pytest.approx(sum(LENGTHS) * np.log(C), rel=1e-12)


def test_trainer_masks_are_seeded_scaled_and_variational_on_request():
    model = GRUTheano(C, hidden_dim=H, num_layers=2, dtype="float64", seed=0)
    plain = BatchedTrainer(model, "sgd", bptt=6, batch_size=3, mode="c", dropout=0.5)
    variational = BatchedTrainer(model, "sgd", bptt=6, batch_size=3, mode="c", dropout=0.5, variational=True)
    BATCH.seed = (0, 1, 2)
    a, b = plain._dropout_masks(BATCH), plain._dropout_masks(BATCH)
    assert len(a) == 3 and all(m.shape == (6, H, 3) for m in a)
    assert all(np.array_equal(m, n) for m, n in zip(a, b))                  # a function of the seed
    assert set(np.unique(np.concatenate([m.ravel() for m in a]))) == {0.0, 2.0}  # kept units scaled by 1/(1-p)
    assert not np.array_equal(a[0][0], a[0][1])                               # a new mask every step
    v = variational._dropout_masks(BATCH)
    assert all(np.array_equal(m[0], m[t]) for m in v for t in range(6))      # one mask for the whole chunk
    BATCH.seed = (0, 1, 3)
    assert not np.array_equal(plain._dropout_masks(BATCH)[0], a[0])
    with pytest.raises(ValueError, match="dropout"):
        BatchedTrainer(model, dropout=1.0)


def test_dropout_keeps_each_unit_with_probability_one_minus_p_and_every_site_draws_its_own_mask():
    """At p = 0.25 (where keeping with probability p would show) the kept share is 0.75 and the kept units
    are scaled by 1 / 0.75; the input, between-layer and output masks are drawn separately."""
    from types import SimpleNamespace

    model = GRUTheano(C, hidden_dim=16, num_layers=2, dtype="float64", seed=0)
    trainer = BatchedTrainer(model, "sgd", bptt=50, batch_size=64, mode="c", dropout=0.25)
    masks = trainer._dropout_masks(SimpleNamespace(x=np.zeros((50, 64), dtype=np.int32), seed=(0, 0, 0)))
    assert [m.shape for m in masks] == [(50, 16, 64)] * 3
    for m in masks:
        assert np.unique(m).tolist() == [0.0, pytest.approx(1 / 0.75)]
        assert np.mean(m > 0) == pytest.approx(0.75, abs=0.01)    # 51,200 draws: the share within 0.01
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])
    assert np.mean((masks[0] > 0) == (masks[1] > 0)) < 0.7        # independent: 0.75^2 + 0.25^2 = 0.625 agree


# ------------------------------------------------------------------------------------------------
# Weight tying
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tied():
    return randomized(GRUTheano(C, hidden_dim=H, num_layers=1, dtype="float64", seed=0, tie_weights=True), seed=4)


def test_tied_model_reads_its_output_layer_from_the_embedding(tied):
    assert "V" not in tied.params and list(tied.params) == ["E", "U", "W", "b", "c"]
    p = tied.get_params()
    probs = numpy_gru_probs({**p, "V": p["E"].T}, XS[1], 1, np_hard_sigmoid)
    np.testing.assert_allclose(tied.predict(XS[1]), probs, rtol=1e-10)
    with pytest.raises(ValueError, match="tie_weights needs embed_dim == hidden_dim"):
        GRUTheano(C, hidden_dim=H, embed_dim=3, tie_weights=True)


def test_tied_gradients_match_central_differences(tied):
    analytic = dict(zip(tied.params, tied.bptt(XS[1], YS[1])))
    numeric = numerical_gradients(tied, XS[1], YS[1], h=1e-5)
    for name in tied.params:
        np.testing.assert_allclose(analytic[name], numeric[name], rtol=1e-5, atol=1e-8, err_msg=name)
    # E now learns from both ends: its gradient differs from the untied model's with the same weights.
    untied = GRUTheano(C, hidden_dim=H, num_layers=1, dtype="float64")
    untied.set_params({**tied.get_params(), "V": tied.get_params()["E"].T,
                       "mV": np.zeros((C, H))})
    assert not np.allclose(dict(zip(untied.params, untied.bptt(XS[1], YS[1])))["E"], analytic["E"])


def test_tied_batched_graph_and_checkpoint(tied, tmp_path):
    assert batched_cost(tied, {}) == pytest.approx(per_sentence_cost(tied), rel=1e-12)
    save_model(tmp_path / "tied.npz", tied)
    loaded, _, meta = load_model(tmp_path / "tied.npz", dtype="float64")
    assert meta["hparams"]["tie_weights"] is True and loaded.tie_weights
    for name, value in tied.get_params().items():
        np.testing.assert_array_equal(loaded.get_params()[name], value)
