"""The trained models that ship with the package: each one's recorded perplexity reproduced by scoring, used
by name from any folder without a network, refused in one line when unknown, missing, truncated or altered,
and fine-tuned into a checkpoint of its own."""
import json
import shutil

import pytest

from lmkit.checkpoint import read_meta
from rnnlm import pretrained

from .helpers import rnnlm

SHIPPED = pretrained.manifest()
NAMES = ["part2", "part4", "gru"]


def test_the_three_models_ship_within_16_mb():
    assert sorted(SHIPPED) == sorted(NAMES)
    assert sum(entry["bytes"] for entry in SHIPPED.values()) <= 16 << 20
    for name in NAMES:
        assert pretrained.check(name).endswith(f"{name}.npz")


@pytest.mark.parametrize("name", NAMES)
def test_the_recorded_test_perplexity_is_what_scoring_the_split_gives(name):
    """The first SUBSET test sentences (scripts/train_pretrained.py records their perplexity beside the whole
    split's): scored by the same code as `rnnlm score --split test`, to 1e-4."""
    from lmkit.scoring import score_corpus
    from rnnlm.data import load_dataset
    from rnnlm.models import open_with_vocab

    model, vocab, meta = open_with_vocab(f"pretrained:{name}", mode="c", dtype="float64")
    record = meta["provenance"]
    assert record["name"] == name and record["commit"] and record["seed"] == 0 and record["wall_clock_s"] > 0
    assert record["command"].startswith("rnnlm train ") and record["machine"]
    subset = record["test_subset"]
    data = load_dataset(meta["run"]["settings"], vocab=vocab)
    score = score_corpus(model, data.test[:subset["sentences"]], unknown_index=vocab.unknown_index)
    assert score.perplexity == pytest.approx(subset["perplexity"], rel=1e-4)
    assert 1 < record["test_perplexity"] < len(vocab)


def test_generate_and_score_by_name_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_PROXY", "*")
    generated = rnnlm("generate", "pretrained:gru", "-n", "3", "--seed", "1")
    assert generated.returncode == 0 and len(generated.stdout.splitlines()) == 3, generated.stderr
    scored = rnnlm("score", "pretrained:part2", "--text", "My lord, the king is dead.")
    assert scored.returncode == 0 and "ppl" in scored.stdout, scored.stderr
    listed = rnnlm("models", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["name"] for r in rows] == [f"pretrained:{n}" for n in NAMES] and {r["status"] for r in rows} == {"ok"}


def test_unknown_missing_truncated_and_altered_files_get_one_line(tmp_path, monkeypatch):
    unknown = rnnlm("generate", "pretrained:transformer")
    assert unknown.returncode == 2 and unknown.stderr == (
        "error: pretrained:transformer: no such shipped model (known: pretrained:part2, pretrained:part4, "
        "pretrained:gru)\n")
    folder = tmp_path / "pretrained"
    shutil.copytree(pretrained.FOLDER, folder)
    monkeypatch.setattr(pretrained, "FOLDER", folder)
    monkeypatch.setattr(pretrained, "MANIFEST", folder / "models.json")
    data = (folder / "part2.npz").read_bytes()
    for damage, message in ((data[:len(data) // 2], "truncated or replaced"),
                            (data[:-1] + bytes([data[-1] ^ 1]), "does not match its recorded SHA-256"),
                            (None, "is missing")):
        if damage is None:
            (folder / "part2.npz").unlink()
        else:
            (folder / "part2.npz").write_bytes(damage)
        proc = rnnlm("score", "pretrained:part2", "--text", "the king .")
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr


def test_fine_tuning_a_shipped_model_writes_its_own_checkpoint(tmp_path):
    shipped = pretrained.check("gru")
    before = open(shipped, "rb").read()
    corpus = tmp_path / "mine.txt"
    corpus.write_text("The king is dead. Long live the king. My lord, the queen is here.\n" * 20)
    out = tmp_path / "tuned.npz"
    proc = rnnlm("train", "--init", "pretrained:gru", "--corpus", corpus, "--epochs", "1", "--batch-size", "4",
                 "--bptt", "8", "--mode", "c", "--samples", "0", "--no-progress", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert read_meta(out)["run"]["settings"]["init"] == "pretrained:gru"
    assert open(shipped, "rb").read() == before


def test_the_tutorial_layouts_export_for_its_own_loaders(tmp_path):
    from gru_theano import load_model_parameters_theano as load_gru
    from rnn_theano import load_model_parameters_theano as load_rnn

    for name, load, keys in (("part2", load_rnn, {"U", "V", "W"}), ("part4", load_gru, {"E", "U", "W", "V", "b", "c"})):
        target = tmp_path / f"{name}-tutorial.npz"
        proc = rnnlm("models", "--export", name, target)
        assert proc.returncode == 0, proc.stderr
        import numpy as np

        with np.load(target) as arrays:
            assert set(arrays.files) == keys
        model = load(target, log=lambda *a: None)
        assert model.word_dim == 8000 and (tmp_path / f"{name}-tutorial.npz.vocab.json").exists()
