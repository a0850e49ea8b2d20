"""``rnnlm score`` and ``rnnlm rescore`` as a user runs them, vocabulary reuse, and README's "Scoring text"."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from lmkit.checkpoint import load_checkpoint, run_record, save_model
from lmkit.data import Vocabulary, tokenize_documents
from lmkit.scoring import word_logprobs

from .conftest import REPO
from .helpers import rnnlm

TEXT = ("The king is dead. Long live the king. My lord, the queen is here. The king and the queen are gone. "
        "My lord is dead. The queen is my lord's. Long live the queen. ") * 3


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny GRU with random weights, its vocabulary, and a checkpoint that records its corpus."""
    from gru_theano import GRUTheano

    folder = tmp_path_factory.mktemp("scoring")
    corpus = folder / "corpus.txt"
    corpus.write_text(TEXT)
    vocab = Vocabulary.build(tokenize_documents([TEXT]), 40, "part2")  # every word of TEXT
    model = GRUTheano(len(vocab), hidden_dim=6, num_layers=1, dtype="float32", seed=3, mode="c")
    settings = {"corpus": str(corpus), "vocab_size": 40, "convention": "part2", "max_sentences": None,
                "valid_fraction": 0.2, "test_fraction": 0.2, "split_seed": 0, "no_cache": True}
    path = folder / "gru.best.npz"
    save_model(path, model, vocab, run_record("train", settings))
    return folder, path, model, vocab


def test_per_word_log_probabilities_sum_to_the_sentence_and_bases_agree(setup):
    _, path, model, vocab = setup
    text = "The king is dead. My lord, the zebra is here."
    e = rnnlm("score", path, "--text", text, "--words", "--json")
    ten = rnnlm("score", path, "--text", text, "--json", "--log-base", "10")
    assert e.returncode == 0 and ten.returncode == 0, e.stderr + ten.stderr
    records = [json.loads(line) for line in e.stdout.splitlines()]
    sentences, summary = records[:-1], records[-1]["summary"]
    assert len(sentences) == 2 and summary["sentences"] == 2
    for r, s in zip(sentences, tokenize_documents([text])):
        assert sum(p for _, p, _ in r["word_logprobs"]) == pytest.approx(r["logprob_e"], rel=1e-9)
        # ... and to the per-sentence graph's log-probability, an independent computation
        assert r["logprob_e"] == pytest.approx(word_logprobs(model, vocab.encode(s)).sum(), rel=1e-4)
    unknown = [w for r in sentences for w, _, u in r["word_logprobs"] if u]
    assert unknown == ["zebra"] and summary["unknown"] == 1
    ten_records = [json.loads(line) for line in ten.stdout.splitlines()]
    for a, b in zip(sentences, ten_records):
        assert b["logprob_10"] * np.log(10) == pytest.approx(a["logprob_e"], rel=1e-9)
    assert ten_records[-1]["summary"]["ppl1"] == pytest.approx(summary["ppl1"], rel=1e-9)


def test_stdin_file_and_split_agree_with_the_table(setup, tmp_path):
    folder, path, _, _ = setup
    text_file = tmp_path / "some.txt"
    text_file.write_bytes("\ufeffThe king is dead.\r\n\r\nLong live the queen.\r\n".encode())  # BOM, CRLF
    from_file = rnnlm("score", path, "--file", text_file, "--json", "--no-progress")
    from_stdin = rnnlm("score", path, "--file", "-", "--json", "--no-progress",
                       stdin=text_file.read_bytes().decode("utf-8"))
    assert from_file.returncode == 0 and from_file.stdout == from_stdin.stdout, from_file.stderr
    table = rnnlm("score", path, "--file", text_file, "--sentences", "--no-progress")
    summary = json.loads(from_file.stdout.splitlines()[-1])["summary"]
    assert f"ppl {summary['ppl']:.2f}, ppl1 {summary['ppl1']:.2f}" in table.stdout
    assert len([line for line in table.stdout.splitlines() if line.endswith("the king is dead .")]) == 1
    split = rnnlm("score", path, "--split", "test", "--no-progress")
    assert split.returncode == 0 and "ppl1" in split.stdout, split.stderr


def test_many_unknown_words_get_a_warning(setup):
    _, path, _, _ = setup
    proc = rnnlm("score", path, "--text", "Zebras eat quinoa happily.")
    assert proc.returncode == 0 and "warning:" in proc.stderr and "not in the vocabulary" in proc.stderr


def test_rescoring_reranks_a_hand_made_list(setup, tmp_path):
    _, path, model, vocab = setup
    hyps = [("a", -1.0, "the king is dead ."), ("a", -1.5, "dead the is king ."), ("a", -0.2, "king king king"),
            ("b", 0.0, "my lord ."), ("b", 0.5, "lord my .")]
    nbest = tmp_path / "nbest.tsv"
    nbest.write_text("".join(f"{k}\t{s}\t{t}\n" for k, s, t in hyps))
    weight = 0.7
    proc = rnnlm("rescore", path, nbest, "--weight", weight, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    got = [line.split("\t") for line in proc.stdout.splitlines()]
    expected = {}
    for k, s, t in hyps:
        lm = word_logprobs(model, vocab.encode(tokenize_documents([t])[0])).sum()
        expected.setdefault(k, []).append((s + weight * lm, t))
    want = [(k, str(rank), t) for k in ("a", "b")
            for rank, (_, t) in enumerate(sorted(expected[k], key=lambda e: -e[0]), 1)]
    assert [(g[0], g[1], g[5]) for g in got] == want
    for g in got:
        assert float(g[2]) == pytest.approx(float(g[3]) + weight * float(g[4]), abs=2e-4)
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tnot-a-number\tthe king\n")
    refused = rnnlm("rescore", path, bad)
    assert refused.returncode == 2 and refused.stderr.strip() == (
        f"error: {bad}, line 1: the score 'not-a-number' is not a finite number")
    bad.write_text("a\tnan\tthe king\n")  # would otherwise rank first in its list
    assert rnnlm("rescore", path, bad).stderr.strip().endswith("the score 'nan' is not a finite number")


def test_a_stored_vocabulary_is_reused_with_identical_indices(setup, tmp_path):
    """--vocab (a JSON file) for a new run and --init (fine-tuning a checkpoint) keep every word's index."""
    folder, path, _, vocab = setup
    other = tmp_path / "other.txt"
    other.write_text("The queen is dead. Long live the king, my lord. " * 4)
    vocab_file = tmp_path / "vocab.json"
    vocab.save(vocab_file)
    tiny = ["--corpus", other, "--epochs", "1", "--hidden-dim", "6", "--samples", "0", "--no-progress", "--mode", "c",
            "--valid-fraction", "0.2", "--test-fraction", "0"]
    fresh = rnnlm("train", *tiny, "--vocab", vocab_file, "--out", tmp_path / "fresh.npz")
    assert fresh.returncode == 0, fresh.stderr
    tuned = rnnlm("train", *tiny[:4], *tiny[6:], "--init", path, "--out", tmp_path / "tuned.npz", "--min-count", "2")
    assert tuned.returncode == 0, tuned.stderr
    assert "warning: --min-count has no effect: the vocabulary is a stored one" in tuned.stderr
    for out in ("fresh.npz", "tuned.npz"):
        stored = Vocabulary.from_dict(load_checkpoint(tmp_path / out)[1]["vocab"])
        assert stored.words == vocab.words
        np.testing.assert_array_equal(stored.encode(["the", "king", "zebra"]), vocab.encode(["the", "king", "zebra"]))
    refused = rnnlm("train", *tiny, "--init", path, "--hidden-dim", "8", "--out", tmp_path / "x.npz")
    assert refused.returncode == 2 and "cannot be given with --init" in refused.stderr


def test_min_count_leaves_out_rare_words():
    sentences = [["a", "a", "a", "b", "b", "c"]]
    vocab = Vocabulary.build(sentences, 10, "part2", min_count=2)
    assert vocab.words == ["a", "b", "UNKNOWN_TOKEN"] and vocab.counts == [3, 2, 1]
    assert Vocabulary.build(sentences, 10, "part4", min_count=3).words == ["<MASK/>", "UNKNOWN_TOKEN", "a"]


def readme_section(title):
    text = (REPO / "README.md").read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_the_readme_scoring_examples_run(setup, tmp_path):
    _, path, _, _ = setup
    section = readme_section("Scoring text")
    commands = [line for block in re.findall(r"```bash\n(.*?)```", section, re.S)
                for line in block.splitlines() if line.startswith("rnnlm ")]
    nbest = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    assert len(commands) >= 4 and nbest.count("\t") >= 8
    (tmp_path / "nbest.tsv").write_text(nbest)
    (tmp_path / "my_text.txt").write_text("The king is dead. Long live the queen.\n")
    for command in commands:
        command = command.replace("runs/gru.best.npz", str(path)).replace("rnnlm ", f"{sys.executable} -m rnnlm ", 1)
        proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=tmp_path,
                              env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, (command, proc.stderr)
    assert json.loads((tmp_path / "scores.jsonl").read_text().splitlines()[-1])["summary"]["sentences"] == 2


def test_generate_by_beam_search_and_greedy_from_the_command_line(setup):
    _, path, _, _ = setup
    beam = rnnlm("generate", path, "--method", "beam", "--beam-width", "4", "-n", "3", "--min-length", "1")
    one = rnnlm("generate", path, "--method", "beam", "--beam-width", "1", "-n", "1", "--min-length", "1")
    greedy = rnnlm("generate", path, "--method", "greedy", "--min-length", "1")
    assert beam.returncode == 0 and greedy.returncode == 0, beam.stderr + greedy.stderr
    scores = [float(line.split()[0]) for line in beam.stdout.splitlines()]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    assert greedy.stdout == one.stdout and float(greedy.stdout.split()[0]) <= scores[0] + 1e-6
    nucleus = rnnlm("generate", path, "--top-p", "0.5", "-n", "2", "--min-length", "1", "--seed", "0")
    assert nucleus.returncode == 0 and len(nucleus.stdout.splitlines()) == 2, nucleus.stderr
    refused = rnnlm("generate", path, "--method", "greedy", "--temperature", "0.5")
    assert refused.returncode == 2 and "applies to --method sample" in refused.stderr


def test_careless_input_gets_one_line(setup, tmp_path, monkeypatch):
    """Findings of a review, each once a traceback or a silently wrong run."""
    from rnnlm.score import json_line

    _, path, _, _ = setup
    cases = [(("score", path, "--text", "hello", "--vocab", tmp_path), "cannot read the vocabulary"),
             (("part2", "--init", path, "--corpus", "x.txt"), "holds a GRUTheano; part2 trains the vanilla RNN"),
             (("train", "--resume", path, "--hidden-dim", "999"), "--hidden-dim 999 does not match the model")]
    for args, message in cases:
        proc = rnnlm(*args)
        assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    monkeypatch.setenv("NEPOCH", "0")  # the tutorial's variables go through the flags' own checks
    proc = rnnlm("part2", "--corpus", "x.txt")
    assert proc.returncode == 2 and "argument --epochs: 0 is out of range" in proc.stderr
    assert json.loads(json_line({"logprob": float("-inf"), "words": [["a", float("nan"), False]]})) == {
        "logprob": None, "words": [["a", None, False]]}


def test_fine_tuning_writes_where_the_model_kind_says(setup, tmp_path, monkeypatch):
    """`train --init LSTM` without --out claims and writes runs/lstm.npz (not the default model's runs/gru.npz)."""
    from gru_theano import LSTMTheano

    _, _, _, vocab = setup
    lstm = tmp_path / "lstm-in.npz"
    save_model(lstm, LSTMTheano(len(vocab), hidden_dim=4, num_layers=1, seed=0, mode="c"), vocab)
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    monkeypatch.chdir(tmp_path)
    proc = rnnlm("train", "--init", lstm, "--corpus", corpus, "--epochs", "1", "--samples", "0", "--no-progress",
                 "--mode", "c", "--test-fraction", "0")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "runs" / "lstm.npz").exists() and not (tmp_path / "runs" / "gru.npz").exists()
