"""The explorer as one self-contained HTML file: the page with its script, style and answers inlined, so it
shows the same views with no server and no network (``rnnlm explore MODEL --text ... --html out.html``), and
inline in a notebook (:func:`show`)."""
import json

from . import analysis
from .server import STATIC


def answers(models, text, top_k=5, prefix=None, view=None, target=None, what=None):
    """What the page would ask the server for ``text``: the models, each one's analysis, one generated
    sentence (from ``prefix``) and the neighbours of the text's first known word. ``view`` is the tab the
    page opens on (``predictions``, ``cell``, ``gradients``, ``generate``, ``neighbours``), ``target`` the
    word the gradient view starts with (an index into the predicted words; -1 the last), ``what`` the
    state or gate the cell view starts with (``"gates:layer1.z"``)."""
    data = {"text": text, "models": {"models": [m.describe() for m in models.values()], "max_words": analysis.MAX_WORDS},
            "analyses": {}, "generated": {}, "neighbours": {}, "view": view, "target": target, "what": what}
    for name, explored in models.items():
        data["analyses"][name] = analysis.analyze(explored, text, top_k=top_k)
        data["generated"][name] = analysis.generate(explored, prefix=prefix or "", method="greedy", max_length=20)
        known = next((w["token"] for w in data["analyses"][name]["words"] if not w["unknown"]
                      and w["token"] != "SENTENCE_END"), None)
        if known:
            data["neighbours"][name] = analysis.neighbours(explored, known)
    return data


def html(models, text, top_k=5, prefix=None, view=None, target=None, what=None):
    """The page, its script and style inlined, the answers in ``window.EXPLORE_DATA`` (:func:`answers`)."""
    page = (STATIC / "index.html").read_text()
    style = (STATIC / "explore.css").read_text()
    script = (STATIC / "explore.js").read_text()
    data = json.dumps(answers(models, text, top_k, prefix, view, target, what),
                      ensure_ascii=False).replace("</", "<\\/")
    page = page.replace('<link rel="stylesheet" href="/static/explore.css">', f"<style>\n{style}</style>")
    return page.replace('<script src="/static/explore.js"></script>',
                        f"<script>window.EXPLORE_DATA = {data};</script>\n<script>\n{script}</script>")


def show(model, text, vocab=None, name="model", top_k=5, view=None, target=None, what=None, height=720):
    """Display the explorer's views of ``model`` reading ``text`` in a notebook (an inline frame holding the
    self-contained page). ``model`` is a model object (then ``vocab`` is its vocabulary), a model file or
    ``pretrained:NAME``; a dict ``{name: (model, vocab)}`` shows several side by side. ``view``, ``target``
    and ``what`` choose what the page opens on (:func:`answers`)."""
    import warnings
    from html import escape

    from IPython.display import HTML, display

    page = html(explored_models(model, vocab, name), text, top_k, view=view, target=target, what=what)
    with warnings.catch_warnings():   # IPython suggests IFrame, which needs a URL: this page has none
        warnings.filterwarnings("ignore", message="Consider using IPython.display.IFrame")
        display(HTML(f'<iframe srcdoc="{escape(page)}" style="width: 100%; height: {height}px; '
                     'border: 1px solid #ddd"></iframe>'))


def explored_models(model, vocab=None, name="model"):
    """``{name: Explored}`` from what :func:`show` accepts."""
    if isinstance(model, dict):
        return {n: analysis.Explored(n, m, v) for n, (m, v) in model.items()}
    if isinstance(model, str):
        from ..models import open_with_vocab

        m, v, _ = open_with_vocab(model)
        return {model: analysis.Explored(model, m, v)}
    return {name: analysis.Explored(name, model, vocab)}
