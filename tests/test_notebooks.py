"""The follow-along notebooks run top to bottom, at smoke-test size, in a fresh kernel.

Each notebook is executed with ``RNNLM_NOTEBOOK_SMOKE=1`` (tiny vocabulary, hidden layer, sentence counts
and epochs; see ``notebooks/nbsettings.py``) by nbclient in a new ``python3`` kernel whose working
directory is ``notebooks/``. jupyter_client starts that kernel with this interpreter (``sys.executable``),
so it imports the same packages as the tests. Any cell that raises fails the test. The executed copy is
thrown away: the files in the repository keep the outputs of their full-size run.

A second, instant check makes sure the committed notebooks carry those outputs and no errors.

Both checks also compare the source listings a notebook displays (``nbsettings.show``: outputs whose plain
text starts with ``# <qualname>  (<file>, line N)``) with :data:`SHOWN`, so that a renamed or removed
function, or a dropped ``show`` cell, fails here instead of silently showing nothing.
"""
import importlib.util
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO / "notebooks"
NOTEBOOKS = [
    "part1_rnn_basics.ipynb",
    "part2_rnn_language_model.ipynb",
    "part3_bptt_vanishing_gradients.ipynb",
    "part4_gru_lstm.ipynb",
]
CELL_TIMEOUT_S = 600

# The listings each notebook shows, in order: the qualname in the title of every nbsettings.show output
# (with ": part" for a nested function). Add or rename an entry here when a notebook's show cells change.
SHOWN = {
    "part1_rnn_basics.ipynb": [
        "uniform_init",
        "RNNNumpy.forward_propagation",
    ],
    "part2_rnn_language_model.ipynb": [
        "split_sentences", "tokenize_sentence",                     # the data
        "Vocabulary.build",
        "Vocabulary.encode", "make_xy",
        "RNNNumpy.__init__",                                        # the numpy model
        "RNNNumpy.forward_propagation", "softmax",
        "RNNNumpy.predict",
        "RNNNumpy.ce_error", "SentenceLosses.calculate_total_loss", "SentenceLosses.calculate_loss",
        "RNNNumpy.bptt",
        "RNNNumpy.gradient_check", "gradient_check",
        "RNNNumpy.sgd_step",
        "train_with_sgd",
        "RNNTheano.__init__", "step", "RNNTheano._build_graph",     # the PyTensor model
        "CompiledModel._function", "RNNTheano.sgd_step",
        "sample_sentence", "generate_sentences",                    # generating text
        "adjust",
    ],
    "part3_bptt_vanishing_gradients.ipynb": [
        "RNNNumpy.bptt",
        "GRUTheano.cell",
        "RNNNumpy.bptt", "RNNTheano._build_graph",                  # the two truncations, as line ranges
        "global_norm", "clip_by_global_norm",
    ],
    "part4_gru_lstm.ipynb": [
        "GRUTheano.cell", "LSTMTheano.cell",
        "hard_sigmoid",
        "RecurrentLM.step_layers", "ParameterLayout.layer_weights",
        "RecurrentLM._hidden_states", "RecurrentLM._build_graph",
        "rmsprop_updates", "RecurrentLM.sgd_step",
    ],
}

_missing = [name for name in ("nbformat", "nbclient", "ipykernel") if importlib.util.find_spec(name) is None]
needs_kernel = pytest.mark.skipif(
    bool(_missing), reason=f"running notebooks needs {', '.join(_missing)} (pip install -r requirements.txt)")


def _read(name):
    import nbformat

    return nbformat.read(NOTEBOOKS_DIR / name, as_version=4)


def _shown(nb):
    """The qualnames of the source listings displayed by ``nbsettings.show`` in ``nb``'s outputs, in order."""
    names = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            text = out.get("data", {}).get("text/plain", "") if out.output_type in ("display_data", "execute_result") else ""
            if isinstance(text, list):
                text = "".join(text)
            if text.startswith("# ") and "  (" in text.split("\n", 1)[0]:
                names.append(text.split("\n", 1)[0][2:].split("  (", 1)[0])
    return names


def _check_shown(name, nb):
    shown = _shown(nb)
    assert shown == SHOWN[name], (
        f"{name}: the source listings shown differ from SHOWN in tests/test_notebooks.py\n"
        f"  shown:    {shown}\n  expected: {SHOWN[name]}")
    html = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
            if out.get("data", {}).get("text/plain", "").startswith("# ")]
    assert all("text/html" in out["data"] for out in html), f"{name}: a listing lacks its highlighted HTML"


def test_every_notebook_is_listed():
    """A new notebook must be added to NOTEBOOKS so that it is tested too."""
    assert sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)
    assert sorted(SHOWN) == sorted(NOTEBOOKS)


@pytest.mark.skipif(importlib.util.find_spec("nbformat") is None, reason="needs nbformat")
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_with_outputs(name):
    """Every code cell of the saved notebook was run, in order, without an error."""
    nb = _read(name)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, f"{name} has no code cells"
    counts = [cell.execution_count for cell in code]
    assert None not in counts, f"{name}: some code cells were never executed"
    assert counts == sorted(counts), f"{name}: cells were executed out of order"
    errors = [out for cell in code for out in cell.outputs if out.output_type == "error"]
    assert not errors, f"{name}: saved with an error output: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    _check_shown(name, nb)


@needs_kernel
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, monkeypatch):
    from nbclient import NotebookClient

    # The kernel inherits this environment (and conftest's RNNLM_CACHE_DIR).
    monkeypatch.setenv("RNNLM_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = _read(name)
    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                            resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    start = time.perf_counter()
    client.execute()          # raises CellExecutionError, naming the cell, if any cell fails
    elapsed = time.perf_counter() - start
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    first_stream = next(out.text for out in outputs if out.output_type == "stream")
    assert "RNNLM_NOTEBOOK_SMOKE=1" in first_stream, "the notebook did not pick up the smoke-test setting"
    _check_shown(name, nb)
    print(f"{name}: {elapsed:.1f} s at smoke-test size")
