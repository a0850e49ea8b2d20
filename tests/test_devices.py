"""Data-parallel training (``BatchedTrainer(devices=N)``, ``rnnlm train --devices N``) on forced host devices.

JAX reads ``XLA_FLAGS=--xla_force_host_platform_device_count=2`` once, when it starts, so everything that
needs two devices runs in a subprocess: this file run as a script (``child``) for the trainer itself, and
``scripts/train.py`` for the command. Checked: two steps on 2 devices give the 1-device loss, gradient
norm, updated weights and optimizer state, and the same evaluation, to float32 rounding; the weights stay
replicated, the carried state split, and the compiled program gathers nothing (its one collective is the
all-reduce); a run on 2 devices resumes from its checkpoint bit for bit (within an epoch here, between
epochs through ``scripts/train.py``); a checkpoint written on 2 devices continues on 1 and the reverse;
and a device count that cannot work is refused in one line.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FORCED = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "PYTENSOR_FLAGS": "floatX=float32",
          "RNNLM_MODE": "jax", "JAX_PLATFORMS": "cpu"}
C, H, B, T = 12, 5, 4, 6
RTOL = 2e-5  # float32: the devices sum the cost and the gradients in another order


def forced_env(**extra):
    env = {**os.environ, **FORCED, **extra}
    env.pop("XLA_PYTHON_CLIENT_PREALLOCATE", None)
    return env


# ---- in the child process (two forced host devices) ------------------------------------------------------

def corpus(n=40, seed=3):
    """The Markov-chain corpus of tests/test_trainer.py: something to learn, 3-12 words a sentence."""
    from tests.helpers import markov_dataset

    return markov_dataset(C, n, seed)


def new_model(name):
    from gru_theano import GRUTheano, LSTMTheano
    from rnn_theano import RNNTheano

    common = {"mode": "jax", "dtype": "float32", "seed": 1}
    if name == "rnn":
        return RNNTheano(C, H, bptt_truncate=-1, **common)
    if name == "gru":  # dropout at two sites, tied weights
        return GRUTheano(C, H, num_layers=1, tie_weights=True, **common)
    return LSTMTheano(C, H, embed_dim=3, num_layers=1, **common)  # two states (h and c)


def arrays(trainer):
    out = {k: np.asarray(v.get_value()) for k, v in trainer.params.items()}
    out.update({f"opt/{k}": v for k, v in trainer.get_state().items()})
    return out


def arrays_of(model):
    return {k: np.asarray(v.get_value()) for k, v in model.trainable_params().items()}


def params(arrays):
    return {k: v for k, v in arrays.items() if not k.startswith("opt/")}


def max_abs(a, b):
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in b)


def max_rel(a, b):
    return max(float(np.max(np.abs(a[k] - b[k])) / max(np.max(np.abs(b[k])), 1e-6)) for k in b)


def collectives(trainer, chunk):
    """The collectives in the compiled 2-device training program (XLA's HLO text after partitioning)."""
    import re

    from lmkit import pytensor_internals as internals

    fn, placement = trainer._function("train"), trainer.placement
    batch = [chunk.x, chunk.y, chunk.mask, chunk.reset, *trainer.carry, *trainer._dropout_masks(chunk)]
    explicit = [*(placement.split(a, dtype=np.int32 if i < 2 else trainer.dtype) for i, a in enumerate(batch)),
                np.asarray(0.5, dtype=trainer.dtype)]
    values = [placement.replicate(v) if shared else v for v, shared in
              zip(internals.input_values(fn, explicit), internals.shared_inputs(fn))]
    text = internals.jax_program(fn).lower(*values).compile().as_text()
    return {op: len(re.findall(rf"\b{op}(-start)?\(", text)) for op in ("all-gather", "all-reduce", "all-to-all")}


def child_agreement(data):
    """Two steps and an evaluation of each model on 1 and on 2 devices, from the same weights and chunks."""
    from lmkit.trainer import BatchedTrainer

    X, Y = data.xy("train")
    Xv, Yv = data.xy("valid")
    report = {}
    for name, optimizer, dropout in (("gru", "sgd", 0.3), ("lstm", "adam", 0.0)):
        runs = {}
        for n in (1, 2):
            trainer = BatchedTrainer(new_model(name), optimizer, clip=1.0, bptt=T, batch_size=B, mode="jax",
                                     dropout=dropout, devices=n)
            chunks = trainer.batches(X, Y, seed=0, epoch=0)[:2]  # the second starts from the carried state
            steps = [trainer.train_batch(chunk, 0.5 if optimizer == "sgd" else 0.01) for chunk in chunks]
            runs[n] = {"steps": steps, "arrays": arrays(trainer),
                       "valid": trainer.evaluate(Xv, Yv).cross_entropy if name == "gru" else None,
                       "devices": trainer.devices,
                       "replicated": all(v.get_value(borrow=True).sharding.is_fully_replicated
                                         for v in trainer.params.values()),
                       "carry_split": [len(c.sharding.device_set) for c in trainer.carry],
                       "carry_shapes": [list(np.shape(c)) for c in trainer.carry],
                       "collectives": collectives(trainer, chunks[0]) if n == 2 and name == "gru" else None}
        one, two = runs[1], runs[2]
        report[name] = {
            "steps": [one["steps"], two["steps"]], "valid": [one["valid"], two["valid"]],
            "weights_rel": max_rel(two["arrays"], one["arrays"]), "devices": [one["devices"], two["devices"]],
            "replicated": two["replicated"], "carry_split": two["carry_split"],
            "carry_shapes": two["carry_shapes"], "collectives": two["collectives"],
            "moved": max_abs(one["arrays"], arrays_of(new_model(name))),
        }
    return report


def child_checkpoints(data, folder):
    """Resuming on 2 devices within an epoch, and checkpoints (written by :func:`fit`) across device counts.

    An RNN (the cheapest graph to compile) with Adam and dropout: weights, Adam's moments and step count,
    and the carried state all cross the checkpoint. No validation split, so one compiled graph per trainer.
    """
    from lmkit.checkpoint import load_model, run_record, save_model
    from lmkit.data import Dataset
    from lmkit.trainer import BatchedTrainer, FitConfig, FitState, Report, fit

    data = Dataset(data.vocab, data.train)
    X, Y = data.xy("train")
    lr = 0.01

    def trainer_for(model, n):
        return BatchedTrainer(model, "adam", clip=1.0, bptt=T, batch_size=B, mode="jax", dropout=0.2, devices=n)

    def resumed(path, n):
        model, _, meta = load_model(path, mode="jax", dtype="float32")
        trainer = trainer_for(model, n)
        trainer.set_state(meta["optimizer_state"])
        return trainer, FitState.from_dict(meta["run"]["progress"])

    def run_fit(epochs, out, trainer, state=None):
        state = fit(trainer, data, state or FitState(learning_rate=lr), FitConfig(epochs=epochs, out=str(out)),
                    report=Report(log=lambda *a: None, progress=False))
        return trainer, state

    report = {}
    # 1 epoch with the loop on 2 devices (a checkpoint at its end), then a 2nd epoch with the same trainer
    trainer, state = run_fit(1, folder / "half2.npz", trainer_for(new_model("rnn"), 2))
    whole = arrays(trainer)
    straight = arrays(run_fit(2, folder / "straight2.npz", trainer, state)[0])
    # within epoch 1: 3 of its steps on 2 devices, a checkpoint, the other steps on 2 devices or on 1
    first = trainer_for(new_model("rnn"), 2)
    chunks = first.batches(X, Y, seed=0, epoch=0)
    for chunk in chunks[:3]:
        first.train_batch(chunk, lr)
    save_model(folder / "mid.npz", first.model, data.vocab, run_record("test", {}), first.get_state())
    report["chunks"] = len(chunks)
    for n in (2, 1):
        second = resumed(folder / "mid.npz", n)[0]
        for chunk in chunks[3:]:
            second.train_batch(chunk, lr)
        got = arrays(second)
        report[f"mid 2->{n}"] = {"exact": sorted(k for k, v in got.items() if np.array_equal(v, whole[k])),
                                 "rel": max_rel(got, whole), "moved": max_abs(params(got), params(arrays(first)))}
    # between epochs: epoch 1 ended on 1 device (just above), epoch 2 with the loop on 2 devices
    save_model(folder / "half1.npz", second.model, data.vocab,
               run_record("test", {}, FitState(epoch=1, learning_rate=lr, updates=len(chunks)).to_dict()),
               second.get_state())
    trainer, state = resumed(folder / "half1.npz", 2)
    assert state.epoch == 1 and trainer.devices == 2
    trainer, state = run_fit(2, folder / "resumed12.npz", trainer, state)
    report["1->2"] = {"rel": max_rel(arrays(trainer), straight), "updates": state.updates,
                      "moved": max_abs(params(arrays(trainer)), params(whole))}
    report["keys"] = sorted(whole)
    return report


def child(out):
    import jax

    folder = Path(out).parent
    data = corpus()
    report = {"devices": [str(d) for d in jax.devices()], "agreement": child_agreement(data),
              "checkpoints": child_checkpoints(data, folder)}
    Path(out).write_text(json.dumps(report))


# ---- the tests ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("devices") / "report.json"
    proc = subprocess.run([sys.executable, __file__, str(out)], cwd=REPO, env=forced_env(), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("name", ["gru", "lstm"])  # the RNN: in the checkpoint tests below
def test_a_step_on_two_devices_is_the_step_on_one(report, name):
    assert len(report["devices"]) == 2
    r = report["agreement"][name]
    assert r["devices"] == [1, 2]
    for (cost1, norm1), (cost2, norm2) in zip(*r["steps"]):
        assert cost2 == pytest.approx(cost1, rel=RTOL) and norm2 == pytest.approx(norm1, rel=RTOL)
    assert r["moved"] > 1e-3                  # the steps changed the weights ...
    assert r["weights_rel"] < 1e-5            # ... in the same way, optimizer state included
    if name == "gru":  # evaluation, split the same way (one model: every compile costs seconds)
        assert r["valid"][1] == pytest.approx(r["valid"][0], rel=RTOL)
    assert r["replicated"]                    # parameters stay on every device after the update
    assert r["carry_split"] == [2] * len(r["carry_shapes"]) and all(s == [H, B] for s in r["carry_shapes"])
    if name == "gru":  # each device runs the step on its own streams: no gathering, only the gradients' all-reduce
        assert r["collectives"]["all-gather"] == 0 and r["collectives"]["all-to-all"] == 0, r["collectives"]
        assert r["collectives"]["all-reduce"] >= 1, r["collectives"]


def test_a_run_on_two_devices_resumes_exactly_within_an_epoch(report):
    r = report["checkpoints"]
    assert r["chunks"] > 4 and r["mid 2->2"]["moved"] > 1e-3
    assert r["mid 2->2"]["exact"] == r["keys"]  # weights, Adam's moments and step, the carried state
    assert {"opt/t", "opt/carry.0", "opt/m.U", "opt/v.U", "U", "V", "W"} <= set(r["keys"])


@pytest.mark.parametrize("move", ["mid 2->1", "1->2"])
def test_checkpoints_move_between_device_counts(report, move):
    """Written on 2 devices and continued on 1 in the middle of an epoch; written on 1 at the end of an epoch
    and continued with the loop on 2: the 2-device run, up to float32 rounding."""
    r = report["checkpoints"][move]
    assert r["moved"] > 1e-3 and r["rel"] < 1e-4, r
    if move == "1->2":
        assert r["updates"] == 2 * report["checkpoints"]["chunks"]


def test_device_settings_that_cannot_work_are_refused():
    from lmkit.devices import check
    from rnnlm.flags import DEVICES

    assert DEVICES("all") == "all" and DEVICES("3") == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(Exception, match="expected"):
            DEVICES(bad)
    assert check(2, 8, "JAX") == 2 and check(None, 5, "CVM") == 1 and check(1, 5, "JAX") == 1
    with pytest.raises(ValueError, match="a batch of 6 does not split over 4 devices"):
        check(4, 6, "JAX")
    with pytest.raises(ValueError, match="2 devices need JAX mode"):
        check(2, 8, "CVM")


# ---- rnnlm train --devices -----------------------------------------------------------------------------------

TEXT = ("The king is dead. Long live the king. My lord, the queen is here. The king and the queen are gone. "
        "My lord is dead. The queen is my lord's. Long live the queen. Here is the king, my lord. ") * 6
TINY = ["--model", "rnn", "--vocab-size", "14", "--hidden-dim", "5", "--batch-size", "4", "--bptt", "6",
        "--samples", "0", "--no-progress", "--mode", "jax", "--valid-fraction", "0.1", "--test-fraction", "0.1"]


def train(*args, cwd):
    return subprocess.run([sys.executable, str(REPO / "scripts" / "train.py"), *map(str, args)], cwd=cwd,
                          env=forced_env(), capture_output=True, text=True, timeout=600)


def test_train_devices_2_trains_checkpoints_and_resumes(tmp_path):
    from lmkit.checkpoint import load_checkpoint

    corpus_file = tmp_path / "corpus.txt"
    corpus_file.write_text(TEXT)
    flags = [*TINY, "--corpus", corpus_file]
    straight = train(*flags, "--devices", "2", "--epochs", "2", "--out", tmp_path / "straight.npz", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    assert "on the jax backend on 2 devices" in straight.stdout and "epoch 2:" in straight.stdout
    half = train(*flags, "--devices", "2", "--epochs", "1", "--out", tmp_path / "half.npz", cwd=tmp_path)
    assert half.returncode == 0, half.stderr
    (tmp_path / "other.npz").write_bytes((tmp_path / "half.npz").read_bytes())
    resumed = train("--resume", tmp_path / "half.npz", "--epochs", "2", "--no-progress", "--samples", "0",
                    cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "on 2 devices" in resumed.stdout  # --devices is a recorded setting, restored on --resume
    want, meta = load_checkpoint(tmp_path / "straight.npz")
    got, got_meta = load_checkpoint(tmp_path / "half.npz")
    assert meta["run"]["settings"]["devices"] == 2
    assert got_meta["run"]["progress"]["updates"] == meta["run"]["progress"]["updates"]
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    # the same checkpoint continued on one device: allowed (with a warning), and the same run up to rounding
    one = train("--resume", tmp_path / "other.npz", "--epochs", "2", "--devices", "1", "--no-progress",
                "--samples", "0", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert "warning: --devices 1 replaces the run's 2" in one.stdout and "on 2 devices" not in one.stdout
    got = load_checkpoint(tmp_path / "other.npz")[0]
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("flags, message", [
    (["--devices", "3"], "error: --batch-size 4 does not split over 3 devices: give a multiple of 3"),
    (["--devices", "4", "--batch-size", "8"], "error: --devices 4: only 2 cpu devices here"),
    (["--devices", "2", "--batch-size", "6", "--mode", "c"], "error: --devices 2 needs --mode jax"),
    (["--devices", "none"], "error: argument --devices: expected a number of devices or 'all'"),
])
def test_train_refuses_device_counts_that_cannot_work(tmp_path, flags, message):
    proc = train(*TINY, "--corpus", tmp_path / "absent.txt", *flags, "--out", tmp_path / "m.npz", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stderr.startswith(message), proc.stderr


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    child(sys.argv[1])
