"""Fuzzing the command line: random flag values, random bytes and truncated files for every script.

Whatever comes in, a script either succeeds or exits 2 with one line ``error: ...``, never a traceback.
The cases are drawn from a fixed seed, so a failure reproduces.
"""
import random

import pytest

from lmkit.checkpoint import load_checkpoint  # noqa: F401  (the project must import before the scripts run)

from .conftest import run_script

VALUES = ["-3", "0", "1", "0.5", "nan", "inf", "x", "", "7", "-0.0"]
TINY = {"train.py": ["--epochs", "1", "--hidden-dim", "4", "--samples", "1"],
        "train_part2.py": ["--epochs", "1", "--samples", "1"],
        "train_part4.py": ["--epochs", "1", "--hidden-dim", "4", "--samples", "1"],
        "stats.py": []}
FLAGS = {"train.py": ["--bptt", "--batch-size", "--hidden-dim", "--dropout", "--learning-rate", "--lr-decay",
                      "--layers", "--clip", "--samples", "--patience", "--valid-fraction", "--seed"],
         "train_part2.py": ["--hidden-dim", "--learning-rate", "--evaluate-loss-after", "--bptt-truncate"],
         "train_part4.py": ["--hidden-dim", "--learning-rate", "--print-every", "--layers"],
         "stats.py": ["--vocab-size", "--max-sentences", "--test-fraction"]}


def cases(seed=0, per_script=3):
    rng = random.Random(seed)
    for script, flags in FLAGS.items():
        for _ in range(per_script):
            yield script, rng.choice(flags), rng.choice(VALUES)


def assert_clean(proc):
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
        assert proc.returncode == 2 and len(errors) == 1, (proc.returncode, proc.stderr[-2000:])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "corpus.txt"
    path.write_text("The cat sat on the mat. The dog ran far away. A bird sang in the tree.\n\n" * 8)
    return path


@pytest.mark.parametrize("script, flag, value", list(cases()))
def test_random_flag_values(tmp_path, corpus, script, flag, value):
    args = ["--corpus", corpus, "--vocab-size", "20", *TINY[script], flag, value]
    if script != "stats.py":
        args += ["--out", tmp_path / "m.npz"]
    assert_clean(run_script(script, *args))


def test_random_bytes_and_truncated_files(tmp_path, corpus):
    rng = random.Random(1)
    noise = tmp_path / "noise.npz"
    noise.write_bytes(bytes(rng.randrange(256) for _ in range(3000)))
    trained = tmp_path / "m.npz"
    assert run_script("train.py", "--corpus", corpus, "--vocab-size", "20", *TINY["train.py"], "--out",
                      trained).returncode == 0
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(trained.read_bytes()[: trained.stat().st_size // 2])
    text_noise = tmp_path / "noise.txt"
    text_noise.write_bytes(bytes(rng.randrange(256) for _ in range(3000)))
    for path in (noise, truncated):
        for script, args in (("generate.py", ["-n", "1"]), ("score.py", ["--text", "the cat"]),
                             ("train.py", ["--resume"])):
            proc = run_script(script, *args, path) if script == "train.py" else run_script(script, path, *args)
            assert proc.returncode == 2, proc.stderr
            assert_clean(proc)
    assert_clean(run_script("score.py", trained, "--file", text_noise))
    assert_clean(run_script("stats.py", "--corpus", text_noise, "--vocab-size", "20"))
