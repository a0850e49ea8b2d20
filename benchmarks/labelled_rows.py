"""The JSON results file of a benchmark whose rows carry a ``label`` (e.g. "2 cores", "1 core"): a run replaces
the rows of its own label and keeps the others, so runs under different conditions sit in one file."""
import json
import os


def save_rows(path, rows, label, **fields):
    """Write ``{**fields, "rows": kept + rows}`` to ``path``, ``kept`` being the rows of other labels already there."""
    kept = []
    if os.path.exists(path):
        with open(path) as fh:
            kept = [r for r in json.load(fh)["rows"] if r["label"] != label]
    with open(path, "w") as fh:
        json.dump({**fields, "rows": kept + rows}, fh, indent=1)
