"""What README promises about interrupted runs: a resumed run ends with the uninterrupted run's weights, bit for
bit, whether it was stopped by Ctrl-C (SIGINT, anywhere) or killed (SIGKILL, from its last epoch checkpoint);
resuming keeps every recorded setting (the lock that keeps one output to one run: tests/test_checkpoint.py)."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lmkit.checkpoint import load_checkpoint

from .conftest import REPO, run_script

TINY = ["--max-sentences", "1500", "--vocab-size", "300", "--hidden-dim", "16", "--batch-size", "8", "--bptt", "8",
        "--epochs", "3", "--samples", "0", "--no-progress"]


def weights(path):
    arrays, meta = load_checkpoint(path)
    return arrays, meta["run"]["progress"]


def start(out, *extra):
    return subprocess.Popen([sys.executable, str(REPO / "scripts" / "train.py"), *TINY, "--out", str(out), *extra],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def stop_during_training(proc, sig, after_line, delay):
    """Send ``sig`` ``delay`` seconds after the line starting with ``after_line`` appears on stdout."""
    for line in proc.stdout:
        if line.startswith(after_line):
            time.sleep(delay)
            proc.send_signal(sig)
            break
    out, err = proc.communicate(timeout=300)
    return out, err


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "m.npz"
    proc = run_script("train.py", *TINY, "--out", out, process=True)
    assert proc.returncode == 0, proc.stderr
    return weights(out)


@pytest.mark.parametrize("sig, after_line, delay", [
    (signal.SIGINT, "epoch 1:", 0.3),    # in the middle of epoch 2, between or during steps
    (signal.SIGINT, "epoch 2:", 0.05),   # early in epoch 3 (or still in epoch 2's checkpointing)
    (signal.SIGKILL, "epoch 1:", 0.5),   # no chance to save: the epoch-1 checkpoint must do
])
def test_stopped_and_resumed_run_ends_with_the_uninterrupted_weights(tmp_path, uninterrupted, sig, after_line,
                                                                     delay):
    out = tmp_path / "m.npz"
    stdout, stderr = stop_during_training(start(out), sig, after_line, delay)
    if sig == signal.SIGINT:
        assert "interrupted: saved" in stdout, stdout + stderr
        assert (out.parent / "m.npz.lock").exists() is False      # released on the way out
    else:
        assert (out.parent / "m.npz.lock").exists()               # a dead process's lock: taken over below
    resumed = run_script("train.py", "--resume", out, "--no-progress", process=True)
    assert resumed.returncode == 0, resumed.stderr
    want, want_fit = uninterrupted
    got, got_fit = weights(out)
    assert got_fit["epoch"] == 3 and got_fit["updates"] == want_fit["updates"]
    assert set(got) == set(want)
    for name in want:
        assert got[name].dtype == want[name].dtype == np.float32
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_resume_keeps_the_recorded_settings_and_refuses_changes(tmp_path):
    out = tmp_path / "c.npz"
    first = run_script("train.py", *TINY, "--epochs", "1", "--mode", "c", "--dtype", "float64", "--out", out)
    assert first.returncode == 0, first.stderr
    more = run_script("train.py", "--resume", out, "--epochs=2", "--no-progress", "--samples", "0")
    assert more.returncode == 0, more.stderr
    assert "on the c backend" in more.stdout and "warning: --epochs 2 replaces the run's 1" in more.stdout
    arrays, fit = weights(out)
    assert fit["epoch"] == 2 and arrays["E"].dtype == np.float64
    for flag, value in (("--batch-size", "4"), ("--dropout", "0.1"), ("--hidden-dim", "8"), ("--corpus", "x.txt")):
        refused = run_script("train.py", "--resume", out, flag, value)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert f"error: {flag} cannot change when resuming" in refused.stderr
