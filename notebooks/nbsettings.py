"""Settings shared by the follow-along notebooks; import it in the first code cell, before numpy.

- ``SMOKE``: True when the environment variable ``RNNLM_NOTEBOOK_SMOKE=1`` is set. The notebooks then
  shrink every size (vocabulary, hidden layer, sentences, epochs) so that all four run top to bottom in a
  couple of minutes; ``tests/test_notebooks.py`` runs them that way. The numbers they print are then
  meaningless; the committed outputs come from a run at full size.
- ``pick(full, smoke)``: the value for the current size.
- Thread settings: numpy's bundled OpenBLAS starts one thread per core. The models here multiply small
  matrices one sentence at a time, where those threads only get in each other's way (on a busy 2-core
  machine an epoch took up to 10 times longer), so a single thread is the default. Setting the
  variables yourself before starting Jupyter overrides this.
- ``median_ms(fn)``: the median wall time of a few calls, in milliseconds.
- ``SHARED_DATA``: ``../shared/data`` next to the repository, where the tutorial's pretrained model
  (``trained-model-theano.npz``) may lie. Nothing needs it.
"""
import os
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

SMOKE = os.environ.get("RNNLM_NOTEBOOK_SMOKE", "").strip().lower() in ("1", "true", "yes")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def pick(full, smoke):
    """``smoke`` under ``RNNLM_NOTEBOOK_SMOKE=1``, else ``full``."""
    return smoke if SMOKE else full


def median_ms(fn, repeat=5, warmup=1):
    """Call ``fn()`` ``warmup`` times untimed, then ``repeat`` times; the median duration in ms."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return 1000.0 * times[len(times) // 2]


def setup_plots():
    """Modest figure size and resolution, so the saved notebooks stay small."""
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.figsize": (7, 4), "figure.dpi": 80, "axes.grid": True,
                         "grid.alpha": 0.3})
    return plt


def describe():
    """One line saying which sizes this run uses."""
    if SMOKE:
        return "RNNLM_NOTEBOOK_SMOKE=1: tiny sizes for a quick test run (the numbers mean nothing)."
    return "Full size (set RNNLM_NOTEBOOK_SMOKE=1 for a quick test run at tiny sizes)."
