"""Checkpoints: what they hold and how they round-trip, atomic writes, the run lock, and the files from
strangers a user may hand the commands (pickles, hand-edited metadata, folders, the tutorial's own files).

The bombs a hostile file can carry, and the memory refusing them costs, are in tests/test_hostile_files.py.
"""
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gru_theano import GRUTheano, LSTMTheano
from lmkit import atomic, checkpoint
from lmkit.checkpoint import (META_KEY, exclusive_output, load_checkpoint, load_model, open_model, read_npz,
                              save_checkpoint, save_model)
from lmkit.data import Vocabulary
from lmkit.errors import CheckpointError
from rnn_theano import RNNTheano, save_model_parameters_theano

from .conftest import REPO
from .helpers import rnnlm

C, H = 10, 4
WORDS = ["SENTENCE_START", "SENTENCE_END", "the", "king", "is", "dead", ".", "UNKNOWN_TOKEN"]


# ---- round trips --------------------------------------------------------------------------------------------

def with_random_caches(model, seed):
    rng = np.random.RandomState(seed)
    params = model.get_params()
    params.update({"m" + k: rng.uniform(0, 1, params[k].shape) for k in model.params})
    return params


@pytest.mark.parametrize("kwargs", [{}, {"embed_dim": 3, "num_layers": 1, "gate": "sigmoid",
                                         "bptt_truncate": 5}])
def test_a_gru_checkpoint_round_trips_bit_for_bit(tmp_path, kwargs):
    model = GRUTheano(C, hidden_dim=H, dtype="float64", seed=3, **kwargs)
    model.set_params(with_random_caches(model, 0))
    path = tmp_path / "gru.npz"
    checkpoint.save_model(path, model)
    loaded, _, meta = checkpoint.load_model(path, expected_type="GRUTheano", dtype="float64")
    assert type(loaded) is GRUTheano and loaded.hparams() == model.hparams()
    original, restored = model.get_params(), loaded.get_params()
    assert set(original) == set(restored)
    for name in original:
        assert restored[name].dtype == original[name].dtype
        np.testing.assert_array_equal(restored[name], original[name])


def test_checkpoint_arrays_and_hparams_rebuild_the_model(tmp_path):
    """The same round trip through the lower-level pieces (independent of the vocabulary module)."""
    model = GRUTheano(C, hidden_dim=H, num_layers=3, dtype="float32", seed=4)
    model.set_params(with_random_caches(model, 1))
    path = tmp_path / "gru.npz"
    checkpoint.save_model(path, model)
    arrays, meta = checkpoint.load_checkpoint(path)
    assert meta["model_type"] == "GRUTheano"
    rebuilt = checkpoint.model_class(meta["model_type"])(**meta["hparams"], dtype="float32")
    rebuilt.set_params(arrays)
    for name, value in model.get_params().items():
        assert rebuilt.get_params()[name].tobytes() == value.tobytes(), name


def test_an_lstm_checkpoint_is_refused_as_a_gru(tmp_path):
    path = tmp_path / "lstm.npz"
    checkpoint.save_model(path, LSTMTheano(C, hidden_dim=H, seed=0))
    with pytest.raises(CheckpointError, match="LSTMTheano"):
        checkpoint.load_model(path, expected_type="GRUTheano")


def test_an_lstm_checkpoint_round_trips_bit_for_bit(tmp_path):
    model = LSTMTheano(C, hidden_dim=H, embed_dim=3, num_layers=2, dtype="float64", seed=3)
    rng = np.random.RandomState(0)
    params = model.get_params()
    params.update({"m" + k: rng.uniform(0, 1, params[k].shape) for k in model.params})
    model.set_params(params)
    checkpoint.save_model(tmp_path / "lstm.npz", model)
    loaded, _, _ = checkpoint.load_model(tmp_path / "lstm.npz", expected_type="LSTMTheano", dtype="float64")
    assert type(loaded) is LSTMTheano and loaded.hparams() == model.hparams()
    for name, value in model.get_params().items():
        assert loaded.get_params()[name].tobytes() == value.tobytes(), name


def test_a_gru_checkpoint_is_refused_as_an_lstm(tmp_path):
    checkpoint.save_model(tmp_path / "gru.npz", GRUTheano(C, hidden_dim=H, seed=0))
    with pytest.raises(CheckpointError, match="GRUTheano"):
        checkpoint.load_model(tmp_path / "gru.npz", expected_type="LSTMTheano")




def test_a_version_1_checkpoint_reads_as_a_run_record(tmp_path):
    """Files written before the run record existed: each trainer's own ``extra`` becomes {command, settings,
    progress}, so resuming and ``score --split`` read old and new files alike."""
    data = {"corpus": "shakespeare:macbeth", "vocab_size": 100}
    old = {"train": {"data": data, "trainer": {"bptt": 8}, "run": {"epochs": 2}, "fit": {"epoch": 1}},
           "part4": {"data": data, "run": {"cell": "lstm", "decay": 0.5}, "part4": {"epoch": 0, "index": 5}},
           "part2": {"data": data, "epoch": 3, "num_examples_seen": 9}}
    for command, extra in old.items():
        meta = {"format": "rnnlm-checkpoint", "version": 1, "model_type": "RNNTheano", "extra": extra}
        np.savez(tmp_path / f"{command}.npz", **{META_KEY: np.array(json.dumps(meta))})
        run = load_checkpoint(tmp_path / f"{command}.npz")[1]["run"]
        assert run["command"] == command and run["settings"]["corpus"] == "shakespeare:macbeth"
    assert load_checkpoint(tmp_path / "train.npz")[1]["run"]["settings"]["bptt"] == 8
    part4 = load_checkpoint(tmp_path / "part4.npz")[1]["run"]["settings"]
    assert part4["model"] == "lstm" and part4["rmsprop_decay"] == 0.5  # today's names for --cell and --decay
    assert load_checkpoint(tmp_path / "part2.npz")[1]["run"]["progress"] == {"epoch": 3, "num_examples_seen": 9}


# ---- atomic writes --------------------------------------------------------------------------------------

def test_checkpoint_interrupted_mid_write_leaves_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    atomic.atomic_savez(path, {"a": np.arange(3)})
    before = path.read_bytes()

    def crash_mid_write(fh, **arrays):
        fh.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(atomic.np, "savez", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        atomic.atomic_savez(path, {"a": np.arange(5)})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind


def test_vocabulary_written_mid_crash_leaves_the_previous_one(tmp_path, monkeypatch):
    """Vocabularies go through the same atomic write as checkpoints (lmkit.atomic)."""
    import json

    from lmkit.data import vocab as vocab_module

    path = tmp_path / "vocab.json"
    Vocabulary.build([["a", "b", "a"]], 10, "part2").save(path)
    before = path.read_bytes()

    def crash_mid_write(obj, fh, **kwargs):
        fh.write('{"words": ["half')
        raise OSError("disk full")

    monkeypatch.setattr(vocab_module.json, "dump", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        Vocabulary.build([["c"]], 10, "part2").save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and json.loads(before)["words"]
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]

# ---- one output, one run: the lock -----------------------------------------------------------------------

def test_one_output_belongs_to_one_run(tmp_path):
    out = tmp_path / "m.npz"
    with exclusive_output(out):
        busy = rnnlm("train", "--max-sentences", "50", "--out", out)
        assert busy.returncode == 2 and f"another training run (process {os.getpid()})" in busy.stderr
        assert not out.exists()
    folder = rnnlm("train", "--out", tmp_path)
    assert folder.returncode == 2 and "is a folder" in folder.stderr


def _claim_repeatedly(path_stem, trials, barrier, holders, overlaps, stale):
    """One of two processes: at each trial both wait at the barrier, then claim the same output at once."""
    for trial in range(trials):
        out = f"{path_stem}{trial}.npz"
        if stale and trial % 2:
            barrier.wait()
        barrier.wait()
        try:
            with exclusive_output(out):
                with holders.get_lock():
                    holders.value += 1
                    if holders.value > 1:
                        overlaps.value += 1
                time.sleep(0.002)
                with holders.get_lock():
                    holders.value -= 1
        except CheckpointError:
            pass


def test_two_processes_claiming_one_output_at_the_same_instant_never_both_hold_it(tmp_path):
    """200 trials of two processes released by one barrier onto the same path, half of them with a lock
    file left by a dead process already there: never two holders at once."""
    trials = 200
    for t in range(1, trials, 2):
        (tmp_path / f"t{t}.npz.lock").write_text("999999")   # a killed run's leftover: no process holds it
    ctx = multiprocessing.get_context("fork")
    barrier, holders, overlaps = ctx.Barrier(2), ctx.Value("i", 0), ctx.Value("i", 0)
    workers = [ctx.Process(target=_claim_repeatedly, args=(str(tmp_path / "t"), trials, barrier, holders,
                                                            overlaps, True)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    assert overlaps.value == 0
    assert not list(tmp_path.glob("*.lock"))   # every lock released and removed, the stale ones taken over


def test_a_killed_runs_lock_is_freed_by_the_kernel(tmp_path):
    out = tmp_path / "m.npz"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from lmkit.checkpoint import exclusive_output\n"
                               f"with exclusive_output({str(out)!r}):\n    print('held', flush=True); time.sleep(60)"],
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(CheckpointError, match=f"process {holder.pid}"):
        with exclusive_output(out):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "m.npz.lock").exists()       # the file stays behind, but nothing holds it
    with exclusive_output(out) as path:
        assert path == out


def test_taking_the_lock_removes_what_killed_writes_left_behind(tmp_path):
    out = tmp_path / "m.npz"
    leftovers = [tmp_path / ".tmp-m.npz-k1l2.npz", tmp_path / ".tmp-m.best.npz-x9.npz"]
    others = [tmp_path / ".tmp-other.npz-a1.npz", tmp_path / ".tmp-m.npz.png"]
    for f in leftovers + others:
        f.write_bytes(b"half a checkpoint")
    with exclusive_output(out):
        assert not any(f.exists() for f in leftovers) and all(f.exists() for f in others)


def test_an_out_that_is_a_symbolic_link_writes_its_target(tmp_path):
    target = tmp_path / "store" / "model.npz"
    target.parent.mkdir()
    link = tmp_path / "model.npz"
    link.symlink_to(target)
    with exclusive_output(link) as path:
        assert path == target
        save_model(path, RNNTheano(len(WORDS), 3, seed=0), Vocabulary(WORDS))
    atomic.atomic_savez(link, {"a": np.arange(2)})  # any atomic write through the link, too
    assert link.is_symlink() and target.is_file() and set(read_npz(link)) == {"a"}


# ---- files from strangers -----------------------------------------------------------------------------

class WritesMarker:
    """Unpickling this creates a file: proof that loading ran code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def checkpoint_file(tmp_path):
    model = RNNTheano(len(WORDS), 4, bptt_truncate=-1, dtype="float32", seed=0)
    path = tmp_path / "rnn.npz"
    save_model(path, model, Vocabulary(WORDS))
    return path


def test_a_pickle_inside_a_checkpoint_never_runs(tmp_path, checkpoint_file):
    marker = tmp_path / "marker"
    arrays, meta = load_checkpoint(checkpoint_file)
    arrays["U"] = np.array([WritesMarker(marker)], dtype=object)  # np.savez pickles object arrays
    evil = tmp_path / "evil.npz"
    np.savez(evil, **arrays, **{META_KEY: np.array(json.dumps(meta))})
    for load in (read_npz, load_checkpoint, load_model, open_model):
        with pytest.raises(CheckpointError, match="refused to load"):
            load(evil)
    for command, args in (("generate", ["-n", "1"]), ("score", ["--text", "the king is dead ."])):
        proc = rnnlm(command, evil, *args)
        assert proc.returncode == 2 and "refused to load" in proc.stderr and proc.stderr.count("\n") == 1
    assert not marker.exists()


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(model_type="Transformer"), "unknown model type 'Transformer'"),
    (lambda m: m["hparams"].update(layers_of_fun=3), "cannot build a RNNTheano"),
    (lambda m: m["hparams"].update(hidden_dim=-4), "cannot build a RNNTheano"),
    (lambda m: m.pop("hparams"), "holds no model settings"),
])
def test_hand_edited_metadata_gets_one_line(tmp_path, checkpoint_file, edit, message):
    arrays, meta = load_checkpoint(checkpoint_file)
    edit(meta)
    edited = tmp_path / "edited.npz"
    save_checkpoint(edited, arrays, {k: v for k, v in meta.items() if k not in ("format", "version")})
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(")):
        load_model(edited)
    proc = rnnlm("score", edited, "--text", "the king is dead .")
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1


def test_a_folder_is_not_a_checkpoint(tmp_path):
    proc = rnnlm("generate", tmp_path)
    assert proc.returncode == 2 and "is a folder, not a checkpoint file" in proc.stderr


def test_generate_and_score_read_the_tutorials_own_file_with_a_vocabulary(tmp_path):
    model = RNNTheano(len(WORDS), 5, bptt_truncate=-1, dtype="float32", seed=1)
    weights = tmp_path / "trained-model-theano.npz"
    save_model_parameters_theano(weights, model, log=lambda *a: None)
    assert set(read_npz(weights)) == {"U", "V", "W"}
    vocab = tmp_path / "vocab.json"
    Vocabulary(WORDS).save(vocab)
    missing = rnnlm("score", weights, "--text", "the king is dead .")
    assert missing.returncode == 2 and "holds no vocabulary; pass --vocab" in missing.stderr
    scored = rnnlm("score", weights, "--vocab", vocab, "--text", "the king is dead .")
    assert scored.returncode == 0, scored.stderr
    logprob = float(scored.stdout.split()[0])
    x = np.array([0, 2, 3, 4, 5, 6], dtype=np.int32)  # START the king is dead .
    y = np.array([2, 3, 4, 5, 6, 1], dtype=np.int32)  # ... END
    assert logprob == pytest.approx(-model.ce_error(x, y), rel=1e-4)
    generated = rnnlm("generate", weights, "--vocab", vocab, "-n", "3", "--min-length", "1", "--seed", "0")
    assert generated.returncode == 0, generated.stderr
    assert len(generated.stdout.strip().splitlines()) == 3
