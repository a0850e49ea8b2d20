"""The prepared GPU run (benchmarks/gpu/run_gpu.sh) in its dry mode: the same steps on the CPU, tiny sizes."""
import importlib.util
import json
import os
import subprocess
import sys

from .conftest import REPO


def test_gpu_script_dry_run(tmp_path):
    out = tmp_path / "gpu-out"
    proc = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu" / "run_gpu.sh"), "--dry-run"], cwd=REPO,
                          env={**os.environ, "OUT": str(out), "PYTHON": sys.executable}, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    agreement = json.loads((out / "agreement.json").read_text())
    assert agreement["models"]["gru"]["agree"] and agreement["models"]["gru"]["loss"][0] > 0
    log = (out / "run.log").read_text()
    assert "test (best model):" in log and "PyTorch" in log   # the versus step ran, or said why not
    bench = json.loads((out / "bench-gpu.json").read_text())
    assert {r["impl"] for r in bench["rows"] if r.get("mode") == "jax" and r.get("batch") == 1} >= {"RNNTheano sgd_step"}
    profile = json.loads((out / "profile.json").read_text())
    assert profile["ms"]["output layer, forward and backward"] > 0 and (out / profile["trace"]).exists()
    if importlib.util.find_spec("torch"):
        assert json.loads((out / "vs_pytorch.json").read_text())
    else:
        assert "versus: skipped, PyTorch is not installed" in log
    assert len(list(out.iterdir())) <= 8, sorted(p.name for p in out.iterdir())  # what the device tool brings back
    assert not list(out.glob("*.npz"))
