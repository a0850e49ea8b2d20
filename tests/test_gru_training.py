"""Part 4's per-sentence training loop and scripts/train_part4.py (``rnnlm part4``): shuffling, callbacks, exact resume."""
import numpy as np
import pytest

from gru_theano import GRUTheano
from gru_theano.train import epoch_order, train_with_sgd
from lmkit.checkpoint import load_checkpoint, load_model, run_record, save_model

from .conftest import run_script

C, H = 10, 4
RNG = np.random.default_rng(5)
X = [RNG.integers(0, C, n).astype(np.int32) for n in RNG.integers(2, 7, size=12)]
Y = [RNG.integers(0, C, len(x)).astype(np.int32) for x in X]


def model():
    return GRUTheano(C, H, dtype="float64", seed=3)


def test_every_epoch_visits_every_sentence_once_in_a_seeded_order():
    a, b = epoch_order(12, 0, 0), epoch_order(12, 0, 1)
    assert sorted(a) == list(range(12)) and not np.array_equal(a, b)
    assert np.array_equal(a, epoch_order(12, 0, 0))


def test_callbacks_fire_every_n_examples_with_the_loss_on_a_subsample():
    seen, log = [], []
    losses, lr = train_with_sgd(model(), X, Y, learning_rate=0.01, nepoch=2, callback_every=5, loss_subsample=4,
                                callback=lambda m, p: seen.append((p, m.calculate_loss(X[:4], Y[:4]))),
                                log=log.append)
    assert [(p.num_examples_seen, p.epoch, p.index) for p, _ in seen] == [(5, 0, 5), (10, 0, 10), (15, 1, 3),
                                                                           (20, 1, 8)]
    assert [p.loss for p, _ in seen] == [loss for _, loss in seen]       # the loss on the first 4 sentences
    assert losses == [(p.num_examples_seen, p.loss) for p, _ in seen]
    assert lr == 0.01 and all(p.learning_rate == 0.01 for p, _ in seen)
    assert log[0].endswith(f": Loss after num_examples_seen=5 epoch=0: {seen[0][0].loss:f}")


@pytest.mark.parametrize("nepoch, every, stop_at", [(2, 17, (1, 5)), (3, 7, (0, 7))])
def test_resume_from_a_checkpoint_mid_epoch_is_exact(tmp_path, nepoch, every, stop_at):
    """Stopped in the last epoch, and in the first of three: the later epochs must start at their beginning."""
    straight = model()
    train_with_sgd(straight, X, Y, learning_rate=0.01, nepoch=nepoch, seed=4)

    class Stop(Exception):
        pass

    def save_and_stop(m, progress):
        save_model(tmp_path / "m.npz", m, run=run_record("part4", {}, progress._asdict()))
        raise Stop

    with pytest.raises(Stop):
        train_with_sgd(model(), X, Y, learning_rate=0.01, nepoch=nepoch, seed=4, callback_every=every,
                       callback=save_and_stop)
    resumed, _, meta = load_model(tmp_path / "m.npz", dtype="float64")
    assert (meta["run"]["progress"]["epoch"], meta["run"]["progress"]["index"]) == stop_at
    assert np.any(resumed.get_params()["mE"] != 0)  # the RMSprop caches travel with the weights
    train_with_sgd(resumed, X, Y, learning_rate=0.01, nepoch=nepoch, seed=4, start_epoch=stop_at[0],
                   start_index=stop_at[1])
    for name, value in straight.get_params().items():
        np.testing.assert_allclose(resumed.get_params()[name], value, rtol=0, atol=1e-13, err_msg=name)


def test_train_gru_script_reports_and_resumes(tmp_path):
    out = tmp_path / "gru.npz"
    common = ["--corpus", "shakespeare:macbeth", "--max-sentences", "120", "--vocab-size", "80",
              "--hidden-dim", "6", "--print-every", "50", "--samples", "1", "--min-length", "1"]
    first = run_script("train_part4.py", *common, "--epochs", "1", "--out", out)
    assert first.returncode == 0, first.stderr
    assert "SGD Step time:" in first.stdout
    # train_with_sgd's log at 50 and 100 examples, then the command's own report of the last 8 at the end
    assert first.stdout.count(": Loss after num_examples_seen=") == 3 and "num_examples_seen=108 " in first.stdout
    meta = load_checkpoint(out)[1]
    assert meta["model_type"] == "GRUTheano" and meta["vocab"]["words"][:2] == ["<MASK/>", "UNKNOWN_TOKEN"]
    assert meta["run"]["command"] == "part4"
    progress = meta["run"]["progress"]  # saved at the end
    assert (progress["epoch"], progress["index"], progress["num_examples_seen"]) == (1, 0, 108)
    second = run_script("train_part4.py", "--resume", out, "--epochs", "2")
    assert second.returncode == 0, second.stderr
    assert "Resuming" in second.stdout and "valid:" in second.stdout
    assert load_checkpoint(out)[1]["run"]["progress"]["num_examples_seen"] == 216
    missing = run_script("train_part4.py", "--resume", tmp_path / "nope.npz")
    assert missing.returncode == 2 and "no such checkpoint file" in missing.stderr
