"""rnnlm explore in a real headless Chromium (Debian's, driven by Playwright): the page loads from the local
server, shows one element per word carrying the probability the API returned, the top words on hover, the
heat map and the gradient curves; the console stays clean and no request leaves the loopback server.

Each view is saved as a screenshot (in the test's folder; in ``$RNNLM_SCREENSHOTS`` too when set, which is
how README's pictures are made: ``RNNLM_SCREENSHOTS=docs/explore python -m pytest tests/test_explore_browser.py``).
The tests skip, saying why, only where no Chromium is installed; ``.ci/run`` installs it.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium; .ci/run does)")

TEXT = "My lord, the king is dead. Long live the king."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``rnnlm explore`` on two small models (a GRU and a vanilla RNN), on a free port of 127.0.0.1."""
    from gru_theano import GRUTheano
    from lmkit.checkpoint import save_model
    from lmkit.data import Vocabulary, tokenize_documents
    from rnn_theano import RNNTheano

    folder = tmp_path_factory.mktemp("explore")
    vocab = Vocabulary.build(tokenize_documents([TEXT + " The queen is here. My lord is gone."]), 40, "part2")
    save_model(folder / "gru.npz", GRUTheano(len(vocab), 8, num_layers=1, seed=1, dtype="float32"), vocab)
    save_model(folder / "rnn.npz", RNNTheano(len(vocab), 8, bptt_truncate=-1, seed=2, dtype="float32"), vocab)
    # The server compiles in a folder of its own: PyTensor's compile cache is not safe against another process
    # compiling the same C module at the same moment (on a cold cache, tests/test_explore.py's worker does).
    env = {**os.environ, "PYTENSOR_FLAGS": ",".join(filter(None, [os.environ.get("PYTENSOR_FLAGS"),
                                                                   f"compiledir={folder / 'compiled'}"]))}
    proc = subprocess.Popen([sys.executable, "-m", "rnnlm", "explore", str(folder / "gru.npz"), str(folder / "rnn.npz"),
                             "--port", "0"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert match, line + proc.stderr.read()
        url, models = match.group(1), [str(folder / "gru.npz"), str(folder / "rnn.npz")]
        for model in models:   # the first analysis compiles the model's functions: before any page waits on it
            request = urllib.request.Request(url + "api/analyze", headers={"Content-Type": "application/json"},
                                             data=json.dumps({"model": model, "text": TEXT}).encode())
            assert urllib.request.urlopen(request, timeout=600).status == 200
    except BaseException:
        proc.kill()   # no server left behind by a failed start
        raise
    yield url, models
    proc.send_signal(signal.SIGINT)   # Ctrl-C: the server stops cleanly
    assert proc.wait(timeout=30) == 0, proc.stderr.read()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


def screenshot(page, name, folder):
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    wanted = os.environ.get("RNNLM_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / f"{name}.png", Path(wanted) / f"{name}.png")


def test_the_page_shows_every_view_from_the_local_server_alone(server, browser, tmp_path):
    url, models = server
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.fill("#text", TEXT)
    page.click("#read")
    views = page.locator("#prediction-views .view")
    views.first.wait_for()
    page.wait_for_function("document.querySelectorAll('#prediction-views .view').length === 2")

    # one element per word, carrying the probability the API returns
    request = urllib.request.Request(url + "api/analyze", data=json.dumps({"model": models[0], "text": TEXT}).encode(),
                                     headers={"Content-Type": "application/json"})
    answer = json.loads(urllib.request.urlopen(request).read())
    shown = page.locator(f'#prediction-views .view[data-model="{models[0]}"] .word')
    assert shown.count() == len(answer["words"])
    for i, word in enumerate(answer["words"]):
        span = shown.nth(i)
        assert span.inner_text() == word["token"]
        assert float(span.get_attribute("data-p")) == pytest.approx(2.718281828459045 ** word["logprob"], rel=1e-6)
    shown.nth(1).hover()
    tip = page.locator("#tooltip")
    assert tip.is_visible() and f"rank {answer['words'][1]['rank']}" in tip.inner_text()
    assert answer["words"][1]["top"][0][0] in tip.inner_text()
    screenshot(page, "predictions", tmp_path)

    # the heat map of states and gates, and a unit's colours on the text
    page.click("#tabs button[data-tab=cell]")
    page.select_option("#cell-what", label="gate layer1.z")
    painted = page.evaluate("""() => { const c = document.getElementById('heatmap');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 3] && (d[i] < 250 || d[i + 1] < 250)) n++; return n; }""")
    assert painted > 100
    page.click("#heatmap", position={"x": 5, "y": 3})
    assert page.locator("#unit-text .word").count() == len(answer["read"])
    screenshot(page, "cell", tmp_path)

    # gradients through time: a curve per model for the chosen word
    page.click("#tabs button[data-tab=gradients]")
    page.locator("#gradient-text .word").nth(5).click()
    page.wait_for_function("document.querySelectorAll('#gradient-chart .gradient-curve').length === 2")
    points = page.locator("#gradient-chart .gradient-curve").first.get_attribute("points").split()
    assert len(points) == answer["words"][5]["position"] + 1
    screenshot(page, "gradients", tmp_path)

    # generation, word by word, and the nearest words
    page.click("#tabs button[data-tab=generate]")
    page.click("#gen-go")
    page.locator("#gen-out .generated").first.wait_for()
    page.locator("#gen-out .generated").first.hover()
    assert "chosen with p =" in page.locator("#tooltip").inner_text()
    screenshot(page, "generate", tmp_path)
    page.click("#tabs button[data-tab=neighbours]")
    page.fill("#nb-word", "king")
    page.click("#nb-go")
    page.locator("#nb-out li").first.wait_for()
    assert page.locator("#nb-out ol").first.locator("li").count() == 10
    screenshot(page, "neighbours", tmp_path)

    assert errors == []
    assert requests and all(r.startswith(url) for r in requests), [r for r in requests if not r.startswith(url)]


def test_a_long_text_renders_without_freezing(server, browser):
    url, _ = server
    page = browser.new_page()
    page.goto(url)
    long_text = " ".join(["My lord, the king is dead."] * 240)   # 1,920 words (8 a sentence)
    page.fill("#text", long_text)
    start = time.perf_counter()
    page.click("#read")
    page.wait_for_function("document.querySelectorAll('#prediction-views .view .word').length > 3000",
                           timeout=120_000)
    took = time.perf_counter() - start
    # The page answers afterwards: a click on a tab is handled (a page still busy rendering would not be).
    page.click("#tabs button[data-tab=cell]", timeout=10_000)
    page.wait_for_selector("#cell.active", timeout=10_000)
    assert page.locator("#prediction-views .view .word").count() > 3000, f"rendered in {took:.1f} s"
