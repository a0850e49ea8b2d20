"""The command-line entry points, run as a user would run them (through rnnlm.cli.main, as the scripts do;
the first test runs a script file in a new process)."""
import json

import numpy as np
import pytest

from lmkit.checkpoint import load_checkpoint, save_checkpoint

from .conftest import run_script

SMALL = ["--corpus", "shakespeare:macbeth", "--max-sentences", "300", "--vocab-size", "300"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny vanilla RNN trained by scripts/train_part2.py (hidden size from the tutorial's env variable)."""
    out = tmp_path_factory.mktemp("run") / "rnn.npz"
    proc = run_script("train_part2.py", *SMALL, "--epochs", "2", "--evaluate-loss-after", "1", "--samples", "1",
                      "--min-length", "1", "--out", out, env={"HIDDEN_DIM": "6"})
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def test_corpus_stats_prints_the_tutorial_lines():
    proc = run_script("stats.py", "--corpus", "shakespeare:macbeth", "--vocab-size", "500", process=True)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Parsed " in out and " sentences" in out
    assert "Using vocabulary size 500" in out
    assert "The least frequent word in our vocabulary is '" in out
    assert "Example sentence: 'SENTENCE_START" in out


def test_train_rnn_logs_and_writes_a_checkpoint(trained):
    out, stdout = trained
    assert "SGD Step time:" in stdout
    losses = [float(line.rsplit(":", 1)[1]) for line in stdout.splitlines() if "Loss after num_examples_seen" in line]
    assert len(losses) == 2 and losses[1] < losses[0]
    arrays, meta = load_checkpoint(out)
    assert meta["model_type"] == "RNNTheano" and meta["hparams"]["hidden_dim"] == 6
    assert arrays["U"].shape == (6, 300) and len(meta["vocab"]["words"]) == 300
    assert meta["run"]["settings"]["corpus"] == "shakespeare:macbeth"


def test_generate_from_the_checkpoint_is_repeatable(trained):
    out, _ = trained
    a = run_script("generate.py", out, "-n", "3", "--min-length", "2", "--seed", "4")
    b = run_script("generate.py", out, "-n", "3", "--min-length", "2", "--seed", "4")
    assert a.returncode == 0, a.stderr
    lines = a.stdout.strip().splitlines()
    assert len(lines) == 3 and a.stdout == b.stdout
    assert all(len(line.split()) >= 2 and "UNKNOWN_TOKEN" not in line for line in lines)


def test_score_text_and_held_out_split(trained):
    out, _ = trained
    proc = run_script("score.py", out, "--text", "Fair is foul, and foul is fair.")
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.strip().splitlines()[0]
    assert float(first.split()[0]) < 0 and "fair is foul" in first
    split = run_script("score.py", out, "--split", "test")
    assert split.returncode == 0, split.stderr
    ppl = float(split.stdout.strip().splitlines()[0].rsplit("perplexity", 1)[1])
    assert 1 < ppl < 300  # better than guessing among the 300 words
    assert f"ppl {ppl:.2f}, ppl1 " in split.stdout


@pytest.mark.parametrize("args, message", [
    (["--corpus", "no/such/file.txt"], "no/such/file.txt: no such file or folder"),
    (["--corpus", "shakespeare:hamlett"], "no play or genre 'hamlett'"),
    (["--vocab-size", "2"], "vocabulary size 2 is too small"),
])
def test_bad_data_gives_one_line_error(args, message):
    proc = run_script("stats.py", *args)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {proc.stderr.strip()[7:]}" and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_checkpoints_are_refused(trained, tmp_path):
    out, _ = trained
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not a zip")
    proc = run_script("generate.py", garbage)
    assert proc.returncode == 2 and "not a readable .npz checkpoint" in proc.stderr
    arrays, meta = load_checkpoint(out)
    meta["vocab"]["words"] = meta["vocab"]["words"][:-2] + ["zz1", "UNKNOWN_TOKEN"]
    other = tmp_path / "other_vocab.json"
    other.write_text(json.dumps(meta["vocab"]))
    proc = run_script("generate.py", out, "--vocab", other)
    assert proc.returncode == 2 and "different vocabulary" in proc.stderr
    broken = tmp_path / "broken.npz"
    save_checkpoint(broken, {**arrays, "U": np.zeros((7, 300), np.float32)},
                    {k: v for k, v in load_checkpoint(out)[1].items() if k not in ("format", "version")})
    proc = run_script("score.py", broken, "--text", "hello")
    assert proc.returncode == 2 and "weights do not fit" in proc.stderr


def test_batched_train_script_runs_resumes_and_plots(tmp_path):
    out = tmp_path / "rnn.npz"
    common = [*SMALL, "--model", "rnn", "--hidden-dim", "6", "--batch-size", "8", "--mode", "c",
              "--samples", "2", "--no-progress", "--out", out]
    first = run_script("train.py", *common, "--epochs", "1")
    assert first.returncode == 0, first.stderr
    assert "epoch 1: train loss" in first.stdout and "test (best model):" in first.stdout
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    second = run_script("train.py", "--resume", out, "--epochs", "2", "--no-progress")
    assert second.returncode == 0, second.stderr
    assert "Resuming" in second.stdout and "epoch 2: train loss" in second.stdout
    arrays, meta = load_checkpoint(out)
    assert meta["model_type"] == "RNNTheano" and meta["run"]["progress"]["epoch"] == 2
    assert arrays["U"].dtype == np.float32  # the resumed run stayed in the float32 it started in
    assert len(meta["run"]["progress"]["history"]) == 2
    wrong = run_script("train.py", "--resume", tmp_path / "missing.npz")
    assert wrong.returncode == 2 and "no such checkpoint file" in wrong.stderr


@pytest.mark.parametrize("flag, value, message", [
    ("--bptt", "-8", "argument --bptt: -8 is out of range: allowed [1, inf)"),
    ("--batch-size", "0", "argument --batch-size: 0 is out of range"),
    ("--dropout", "1", "argument --dropout: 1.0 is out of range: allowed [0, 1)"),
    ("--lr-decay", "0", "argument --lr-decay: 0.0 is out of range: allowed (0, 1]"),
    ("--epochs", "0", "argument --epochs: 0 is out of range"),
    ("--max-sentences", "-5", "argument --max-sentences: -5 is out of range"),
    ("--hidden-dim", "x", "argument --hidden-dim: expected an integer, got 'x'"),
])
def test_out_of_range_training_flags_get_one_line_before_any_work(flag, value, message):
    proc = run_script("train.py", flag, value)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [f"error: {message}" + proc.stderr.split(message, 1)[1].rstrip()]
    assert "see rnnlm train --help" in proc.stderr


@pytest.mark.parametrize("script, args, message", [
    ("generate.py", ["--top-k", "0"], "error: argument --top-k: 0 is out of range"),
    ("generate.py", ["--top-k", "301"], "error: --top-k 301 is larger than the vocabulary (300 words)"),
    ("generate.py", ["-n", "-2"], "error: argument -n/--samples: -2 is out of range"),
    ("generate.py", ["--temperature", "0"], "error: argument --temperature: 0.0 is out of range"),
    ("generate.py", ["--min-length", "20", "--max-length", "10"], "--max-length 10 is shorter than --min-length 20"),
    ("generate.py", ["--mode", "bogus"], "error: argument --mode: invalid choice: 'bogus'"),
    ("score.py", ["--text", ""], "error: --text holds no words to score"),
    ("score.py", ["--text", "   "], "error: --text holds no words to score"),
])
def test_bad_generate_and_score_requests_get_one_line(trained, script, args, message):
    out, _ = trained
    proc = run_script(script, out, *args)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_samples_never_hold_sentence_markers_and_an_unknown_prefix_is_reported(trained):
    out, _ = trained
    proc = run_script("generate.py", out, "-n", "20", "--min-length", "1", "--seed", "3", "--prefix", "zzqx the")
    assert proc.returncode == 0, proc.stderr
    assert "prefix words not in the vocabulary, read as UNKNOWN_TOKEN: zzqx" in proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 20 and all(line.startswith("UNKNOWN_TOKEN the") for line in lines)
    assert not any("SENTENCE_START" in line or "SENTENCE_END" in line for line in lines)
