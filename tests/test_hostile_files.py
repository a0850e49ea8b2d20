"""Files a hostile or careless user may hand the scripts: pickles that would run code, hand-edited metadata,
folders, and the tutorial's own weight files."""
import json

import numpy as np
import pytest

from lmkit.checkpoint import META_KEY, load_checkpoint, load_model, read_npz, save_checkpoint, save_model
from lmkit.data import Vocabulary
from lmkit.errors import CheckpointError
from lmkit.checkpoint import open_model
from rnn_theano import RNNTheano, save_model_parameters_theano

from .conftest import run_script

WORDS = ["SENTENCE_START", "SENTENCE_END", "the", "king", "is", "dead", ".", "UNKNOWN_TOKEN"]


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
    for script, args in (("generate.py", ["-n", "1"]), ("score.py", ["--text", "the king is dead ."])):
        proc = run_script(script, evil, *args)
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
    proc = run_script("score.py", edited, "--text", "the king is dead .")
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1


def test_a_folder_is_not_a_checkpoint(tmp_path):
    proc = run_script("generate.py", tmp_path)
    assert proc.returncode == 2 and "is a folder, not a checkpoint file" in proc.stderr


def test_generate_and_score_read_the_tutorials_own_file_with_a_vocabulary(tmp_path):
    model = RNNTheano(len(WORDS), 5, bptt_truncate=-1, dtype="float32", seed=1)
    weights = tmp_path / "trained-model-theano.npz"
    save_model_parameters_theano(weights, model, log=lambda *a: None)
    assert set(read_npz(weights)) == {"U", "V", "W"}
    vocab = tmp_path / "vocab.json"
    Vocabulary(WORDS).save(vocab)
    missing = run_script("score.py", weights, "--text", "the king is dead .")
    assert missing.returncode == 2 and "holds no vocabulary; pass --vocab" in missing.stderr
    scored = run_script("score.py", weights, "--vocab", vocab, "--text", "the king is dead .")
    assert scored.returncode == 0, scored.stderr
    logprob = float(scored.stdout.split()[0])
    x = np.array([0, 2, 3, 4, 5, 6], dtype=np.int32)  # START the king is dead .
    y = np.array([2, 3, 4, 5, 6, 1], dtype=np.int32)  # ... END
    assert logprob == pytest.approx(-model.ce_error(x, y), rel=1e-4)
    generated = run_script("generate.py", weights, "--vocab", vocab, "-n", "3", "--min-length", "1", "--seed", "0")
    assert generated.returncode == 0, generated.stderr
    assert len(generated.stdout.strip().splitlines()) == 3
