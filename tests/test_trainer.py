"""The batched trainer: agreement with the per-sentence models, optimizers, resume, NaN and crash safety."""
import math

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from gru_theano import GRUTheano, LSTMTheano
from lmkit.checkpoint import load_model
from lmkit.data.batching import packed_batches, pad_batch
from lmkit.errors import TrainingError
from lmkit.optim import clip_by_global_norm, make_optimizer
from lmkit.plotting import plot_history
from lmkit.scoring import Score
from lmkit.checkpoint import best_path
from lmkit.trainer import BatchedTrainer, FitConfig, FitState, Report, end_of_epoch, fit
from rnn_theano import RNNTheano

from .helpers import markov_dataset

C, H = 12, 5
RNG = np.random.default_rng(0)
LENGTHS = (3, 7, 5, 1)
X = [RNG.integers(0, C, n).astype(np.int32) for n in LENGTHS]
Y = [RNG.integers(0, C, n).astype(np.int32) for n in LENGTHS]

MODELS = {
    "rnn": lambda: RNNTheano(C, H, bptt_truncate=-1, dtype="float64", seed=1),
    "gru": lambda: GRUTheano(C, H, dtype="float64", seed=1),
    "lstm": lambda: LSTMTheano(C, H, embed_dim=3, num_layers=1, dtype="float64", seed=1),
    "gru_tied": lambda: GRUTheano(C, H, num_layers=1, tie_weights=True, dtype="float64", seed=1),
}


def batched_cost_and_grads(model):
    """``(x, y, mask, reset, *states) -> [cost, *gradients]`` of the model's batched graph, in C."""
    x, y, mask, reset = pt.imatrix(), pt.imatrix(), pt.dmatrix(), pt.dmatrix()
    states = [pt.dmatrix() for _ in range(model.num_states())]
    cost, _ = model.batched_cost(x, y, mask, states, reset)
    params = list(model.trainable_params().values())
    return pytensor.function([x, y, mask, reset, *states], [cost, *pytensor.grad(cost, params)], mode="CVM")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_batched_graph_equals_per_sentence_models(name):
    """Padding and masks change nothing: the batched cost and gradients are the per-sentence sums."""
    model = MODELS[name]()
    batch = pad_batch(X, Y, length=9, batch_size=6, pad_index=C - 1)  # extra padded steps and empty rows
    fn = batched_cost_and_grads(model)
    zeros = [np.zeros((H, 6))] * model.num_states()
    got_cost, *got_grads = fn(batch.x, batch.y, batch.mask.astype(float), batch.reset.astype(float), *zeros)
    want_cost = sum(model.ce_error(a, b) for a, b in zip(X, Y))
    want_grads = [sum(g) for g in zip(*[model.bptt(a, b) for a, b in zip(X, Y)])]
    assert got_cost == pytest.approx(want_cost, rel=1e-12)
    for got, want in zip(got_grads, want_grads):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def make_data(n=40, seed=3):
    return markov_dataset(C, n, seed)


def make_trainer(optimizer="adam", bptt=4, mode="c", batch_size=4, **kwargs):
    return BatchedTrainer(GRUTheano(C, H, dtype="float64", seed=2, mode=mode), optimizer, clip=1.0, bptt=bptt,
                          batch_size=batch_size, mode=mode, **kwargs)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_packed_streams_give_the_per_sentence_gradients(name):
    """Several sentences end to end in each column of one chunk (none crosses its end): the reset input makes
    the cost and every gradient the sum of the per-sentence ones, even though the state enters non-zero."""
    model = MODELS[name]()
    lengths = (3, 7, 5, 1, 4, 2, 6)
    Xs = [RNG.integers(0, C, n).astype(np.int32) for n in lengths]
    Ys = [RNG.integers(0, C, n).astype(np.int32) for n in lengths]
    (batch,) = packed_batches(Xs, Ys, batch_size=2, length=16, shuffle=False)
    assert batch.reset[:, 0].sum() > 1 and batch.reset[:, 1].sum() > 1  # several sentences per stream
    carried = [RNG.normal(size=(H, 2)) for _ in range(model.num_states())]  # reset must wipe this out
    got_cost, *got_grads = batched_cost_and_grads(model)(batch.x, batch.y, batch.mask.astype(float),
                                                         batch.reset.astype(float), *carried)
    want_cost = sum(model.ce_error(a, b) for a, b in zip(Xs, Ys))
    want_grads = [sum(g) for g in zip(*[model.bptt(a, b) for a, b in zip(Xs, Ys)])]
    assert got_cost == pytest.approx(want_cost, rel=1e-12)
    for got, want in zip(got_grads, want_grads):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_chunks_carry_the_state_forward():
    """Short chunks cut most sentences; carrying the state makes the loss exactly the per-sentence one."""
    data = make_data()
    X, Y = data.xy("valid")
    short, long = make_trainer(bptt=3), make_trainer(bptt=40)
    a, b = short.evaluate(X, Y), long.evaluate(X, Y)
    want = sum(short.model.ce_error(x, y) for x, y in zip(X, Y))
    assert a.words == b.words == sum(len(y) for y in Y)
    assert -a.total_logprob == pytest.approx(want, rel=1e-12)
    assert -b.total_logprob == pytest.approx(want, rel=1e-12)


def test_training_steps_carry_the_state_between_chunks():
    """With a zero learning rate the weights stay put, so the costs train_batch reports over an epoch of
    3-step chunks (most sentences cut) must add up to the per-sentence loss of the training set."""
    data = make_data()
    trainer = make_trainer(optimizer="sgd", bptt=3)
    X, Y = data.xy("train")
    total = sum(trainer.train_batch(batch, 0.0)[0] for batch in trainer.batches(X, Y, seed=1, epoch=0))
    assert total == pytest.approx(sum(trainer.model.ce_error(x, y) for x, y in zip(X, Y)), rel=1e-12)


def test_training_lowers_validation_loss_and_writes_checkpoints(tmp_path):
    data = make_data()
    trainer = make_trainer()
    before = trainer.evaluate(*data.xy("valid")).cross_entropy
    state = fit(trainer, data, FitState(learning_rate=0.05), FitConfig(epochs=4, out=str(tmp_path / "m.npz")),
                report=Report(log=lambda *a: None, progress=False))
    assert [h["epoch"] for h in state.history] == [1, 2, 3, 4]
    assert state.history[-1]["valid_loss"] < before - 0.2
    model, vocab, meta = load_model(tmp_path / "m.npz")
    assert vocab == data.vocab and meta["run"]["progress"]["epoch"] == 4
    assert set(meta["optimizer_state"]) == set(trainer.get_state()) > set(trainer.optimizer.get_state())
    assert best_path(tmp_path / "m.npz").exists()
    png = plot_history(state.history, tmp_path / "m.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def params_of(trainer):
    return {k: np.asarray(v.get_value()) for k, v in trainer.params.items()}


QUIET = Report(log=lambda *a: None, progress=False)


def run_fit(trainer, data, state, epochs, out, **config):
    """``fit`` with a quiet report: ``config`` holds FitConfig's other fields (seed, patience, lr_decay)."""
    return fit(trainer, data, state, FitConfig(epochs=epochs, out=str(out), **config), report=QUIET)


def uninterrupted_run(tmp_path, epochs):
    """The data and a trainer after ``epochs`` epochs without a stop (seed 7), to compare resumed runs with."""
    data = make_data()
    trainer = make_trainer()
    run_fit(trainer, data, FitState(learning_rate=0.05), epochs, tmp_path / "a.npz", seed=7)
    return data, trainer


def reload(path):
    """A trainer and loop state rebuilt from a checkpoint, as ``--resume`` does: weights, optimizer, carried state."""
    model, _, meta = load_model(path, dtype="float64")
    trainer = BatchedTrainer(model, "adam", clip=1.0, bptt=4, batch_size=4, mode="c")
    trainer.set_state(meta["optimizer_state"])  # the optimizer and the state carried into the next chunk
    return trainer, FitState.from_dict(meta["run"]["progress"])


def test_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    data, straight = uninterrupted_run(tmp_path, epochs=3)

    # Interrupt the second run in the middle of epoch 2 (as Ctrl-C would), then resume from its checkpoint.
    interrupted = make_trainer()
    first_epoch = len(interrupted.batches(*data.xy("train"), 7, 0))
    calls = {"n": 0}
    real_step = BatchedTrainer.train_batch

    def step_then_interrupt(self, batch, lr):
        calls["n"] += 1
        if calls["n"] == first_epoch + 3:  # the third batch of epoch 2
            raise KeyboardInterrupt
        return real_step(self, batch, lr)

    monkeypatch.setattr(BatchedTrainer, "train_batch", step_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_fit(interrupted, data, FitState(learning_rate=0.05), 3, tmp_path / "b.npz", seed=7)
    monkeypatch.setattr(BatchedTrainer, "train_batch", real_step)

    resumed, state = reload(tmp_path / "b.npz")
    assert (state.epoch, state.batch) == (1, 2)
    run_fit(resumed, data, state, 3, tmp_path / "b.npz", seed=7)
    want, got = params_of(straight), params_of(resumed)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-12)
    straight_history = load_model(tmp_path / "a.npz")[2]["run"]["progress"]["history"]
    for key in ("epoch", "train_loss", "valid_loss", "learning_rate"):
        assert [h[key] for h in state.history] == pytest.approx([h[key] for h in straight_history], rel=1e-12)


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    data = make_data()
    trainer = make_trainer()
    out = tmp_path / "m.npz"
    state = run_fit(trainer, data, FitState(learning_rate=0.05), 1, out)
    good = out.read_bytes()
    poisoned = np.asarray(trainer.params["V"].get_value()).copy()
    poisoned[0, 0] = np.nan
    trainer.params["V"].set_value(poisoned)
    with pytest.raises(TrainingError, match=r"loss became nan .*at epoch 2, batch 1; training stopped, the last good "
                                            r"checkpoint is kept"):
        run_fit(trainer, data, state, 2, out)
    assert out.read_bytes() == good
    model, _, _ = load_model(out)
    assert all(np.all(np.isfinite(v)) for v in model.get_params().values())


def test_learning_rate_halves_on_plateau_and_training_stops_early(tmp_path, monkeypatch):
    data = make_data()
    trainer = make_trainer(optimizer="sgd")
    scripted = iter([3.0, 2.5, 2.6, 2.55, 2.7, 1.0])  # improve, improve, worse, worse (stop at patience 2)
    monkeypatch.setattr(trainer, "evaluate", lambda X, Y: Score(len(X), 100, -100 * next(scripted)))
    state = run_fit(trainer, data, FitState(learning_rate=0.4), 10, tmp_path / "m.npz", patience=2)
    assert [h["learning_rate"] for h in state.history] == [0.4, 0.4, 0.4, 0.2]
    assert state.learning_rate == 0.1 and state.finished and len(state.history) == 4


def test_the_schedule_decays_once_per_epoch_and_halves_on_a_plateau():
    """The end-of-epoch schedule on its own, with a decay that is not 1: exact rates after each epoch."""
    lines = []
    report = Report(log=lines.append, progress=False)
    config = FitConfig(epochs=10, out="unused.npz", patience=2, lr_decay=0.8, min_delta=0.01)
    state = FitState(learning_rate=1.0)
    rates, best = [], []
    for valid in (3.0, 2.5, 2.495, 2.4, 2.6, 2.7):   # better, better, plateau (< min_delta), better, worse, worse
        best.append(end_of_epoch(state, valid, config, report))
        rates.append(state.learning_rate)
    assert rates == pytest.approx([0.8, 0.64, 0.256, 0.2048, 0.08192, 0.032768], rel=1e-12)
    assert best == [True, True, False, True, False, False]
    assert state.finished and state.epoch == 6 and state.best_valid_loss == 2.4
    assert lines[-1] == "  stopping early after 2 epochs without improvement"
    no_valid = FitState(learning_rate=1.0)
    assert end_of_epoch(no_valid, None, config, report) is False and no_valid.learning_rate == 0.8


def test_optimizers_match_numpy_on_the_same_gradients():
    rng = np.random.default_rng(4)
    p0 = rng.normal(size=(3, 2))
    g_val = rng.normal(size=(3, 2))
    for name in ("sgd", "rmsprop", "adam"):
        p = pytensor.shared(p0.copy())
        opt = make_optimizer(name, {"p": p})
        g = pt.dmatrix("g")
        lr = pt.dscalar("lr")
        step = pytensor.function([g, lr], [], updates=opt.updates([g], lr), mode="CVM")
        want, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
        for t in (1, 2):
            step(g_val * t, 0.1)
            gt = g_val * t
            if name == "sgd":
                want = want - 0.1 * gt
            elif name == "rmsprop":
                m = 0.9 * m + 0.1 * gt ** 2
                want = want - 0.1 * gt / np.sqrt(m + 1e-6)
            else:
                m = 0.9 * m + 0.1 * gt
                v = 0.999 * v + 0.001 * gt ** 2
                want = want - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        np.testing.assert_allclose(p.get_value(), want, rtol=1e-12, err_msg=name)


def test_global_norm_clipping():
    a, b = pt.dvector(), pt.dvector()
    (ca, cb), norm = clip_by_global_norm([a, b], 1.0)
    fn = pytensor.function([a, b], [ca, cb, norm], mode="CVM")
    got_a, got_b, got_norm = fn(np.array([3.0, 0.0]), np.array([0.0, 4.0]))
    assert got_norm == pytest.approx(5.0)
    assert math.hypot(*got_a, *got_b) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(got_a / got_b.max(), [0.75, 0.0])
    small_a, _, _ = fn(np.array([0.3, 0.0]), np.array([0.0, 0.4]))
    np.testing.assert_allclose(small_a, [0.3, 0.0])  # under the limit: unchanged


def test_jax_backend_gives_the_same_loss_as_c():
    pytest.importorskip("jax")
    data = make_data()
    c_score = make_trainer(mode="c").evaluate(*data.xy("valid"))
    jax_trainer = make_trainer(mode="jax")
    jax_score = jax_trainer.evaluate(*data.xy("valid"))
    assert jax_score.total_logprob == pytest.approx(c_score.total_logprob, rel=1e-6)
    assert jax_trainer.compiles == 1  # one chunk shape, one graph


def test_ctrl_c_during_validation_saves_and_the_resumed_run_redoes_it(tmp_path, monkeypatch):
    data, straight = uninterrupted_run(tmp_path, epochs=2)

    interrupted = make_trainer()
    real_evaluate = interrupted.evaluate
    calls = {"n": 0}

    def evaluate_then_interrupt(X, Y):
        calls["n"] += 1
        if calls["n"] == 2:  # epoch 2's validation
            raise KeyboardInterrupt
        return real_evaluate(X, Y)

    monkeypatch.setattr(interrupted, "evaluate", evaluate_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_fit(interrupted, data, FitState(learning_rate=0.05), 2, tmp_path / "b.npz", seed=7)
    resumed, state = reload(tmp_path / "b.npz")
    steps = len(interrupted.batches(*data.xy("train"), 7, 1))
    assert (state.epoch, state.batch) == (1, steps)  # every step of epoch 2 done, its validation not
    state = run_fit(resumed, data, state, 2, tmp_path / "b.npz", seed=7)
    assert len(state.history) == 2 and state.history[1]["valid_loss"] is not None
    for name, value in params_of(straight).items():
        np.testing.assert_array_equal(params_of(resumed)[name], value, err_msg=name)


def test_float32_jax_training_stays_float32_with_every_optimizer():
    """JAX runs with x64 on when floatX is float64; no step may hand back float64 weights (each would be a new
    input type for the next call, so a recompile, and a float64 run from then on)."""
    pytest.importorskip("jax")
    data = make_data()
    for optimizer in ("sgd", "adam"):
        model = GRUTheano(C, H, num_layers=1, dtype="float32", seed=2, mode="jax")
        trainer = BatchedTrainer(model, optimizer, clip=1.0, bptt=4, batch_size=4, mode="jax")
        for batch in trainer.batches(*data.xy("train"), seed=0, epoch=0)[:2]:
            trainer.train_batch(batch, 0.05)
        assert {str(np.asarray(v.get_value()).dtype) for v in trainer.params.values()} == {"float32"}, optimizer
        assert {str(np.asarray(s).dtype) for s in trainer.get_state().values()} == {"float32"}, optimizer
