"""Settings shared by the follow-along notebooks, imported in their first code cell.

- ``SMOKE``: True when the environment variable ``RNNLM_NOTEBOOK_SMOKE=1`` is set. The notebooks then
  shrink every size (vocabulary, hidden layer, sentences, epochs) so that all four run top to bottom in a
  couple of minutes; ``tests/test_notebooks.py`` runs them that way. The numbers they print are then
  meaningless; the committed outputs come from a run at full size.
- ``pick(full, smoke)``: the value for the current size.
- The process settings (one BLAS thread, the allocator for JAX, expected warnings off) are not made here:
  each notebook's first cell calls ``lmkit.backend.configure()``, as the ``rnnlm`` command does.
- ``median_ms(fn)``: the median wall time of a few calls, in milliseconds.
- ``SHARED_DATA``: ``../shared/data`` next to the repository, where the tutorial's pretrained model
  (``trained-model-theano.npz``) may lie. Nothing needs it.
- ``show(obj, part=None)``: the source of a function, method or class of the project's packages, read
  from the package at run time (so what is shown is what runs), with syntax highlighting.
"""
import inspect
import os
import re
import textwrap
import time
from pathlib import Path

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


def source_of(obj, part=None):
    """``(title, source)`` of ``obj``; ``part`` keeps only the nested function (or the lines) it names.

    ``part`` is the name of a function defined inside ``obj`` (``"step"`` in a method that builds a
    ``scan``), or a ``(first, last)`` pair of regular expressions: the lines from the first line matching
    ``first`` to the first line after it matching ``last``, both included. A part that is not found is an
    error, so a renamed method or step fails the notebook instead of showing nothing. The title is
    ``Qualname  (file, line N)``, ``Qualname: part  (file, line N)`` for a nested function, and
    ``Qualname  (file, lines N-M)`` for a range of lines.
    """
    lines, start = inspect.getsourcelines(obj)
    path = Path(inspect.getsourcefile(obj)).resolve()
    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", repr(obj)))
    if part is None:
        chosen, first = lines, 0
    else:
        if isinstance(part, str):
            pattern = re.compile(rf"^(\s*)def {re.escape(part)}\(")
            first = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
            if first is None:
                raise LookupError(f"{name} defines no function {part!r}")
            indent = len(pattern.match(lines[first]).group(1))
            last = first + 1
            while last < len(lines) and (not lines[last].strip() or
                                          len(lines[last]) - len(lines[last].lstrip()) > indent):
                last += 1
            chosen = lines[first:last]
            name = f"{name}: {part}"
        else:
            begin, end = (re.compile(p) for p in part)
            first = next((i for i, line in enumerate(lines) if begin.search(line)), None)
            if first is None:
                raise LookupError(f"{name} has no line matching {part[0]!r}")
            last = next((i for i in range(first, len(lines)) if end.search(lines[i])), None)
            if last is None:
                raise LookupError(f"{name} has no line matching {part[1]!r} after {part[0]!r}")
            chosen = lines[first:last + 1]
        while chosen and not chosen[-1].strip():
            chosen = chosen[:-1]
    if isinstance(part, tuple):   # a range of lines: say which, since the title names only the function
        title = f"{name}  ({where}, lines {start + first}-{start + first + len(chosen) - 1})"
    else:
        title = f"{name}  ({where}, line {start + first})"
    return title, textwrap.dedent("".join(chosen))


def show(obj, part=None):
    """Display the source of ``obj`` (see :func:`source_of`), highlighted, under a title naming its file."""
    from html import escape

    from IPython.display import display
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    title, source = source_of(obj, part)
    html = (f"<div><b><code>{escape(title)}</code></b>"
            + highlight(source, PythonLexer(), HtmlFormatter(noclasses=True, nobackground=True)) + "</div>")
    display({"text/plain": f"# {title}\n{source}", "text/html": html}, raw=True)
