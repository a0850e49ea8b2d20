#!/usr/bin/env python
"""Draw README's pictures of ``rnnlm explore`` from the shipped models (docs/explore/*.png).

    python scripts/explore_pictures.py            # needs Chromium (apt-get install chromium) and Playwright

Each picture is the self-contained page (``rnnlm explore ... --html``) of the shipped models reading one
sentence, opened in headless Chromium on the view it shows: the predictions with one word's top words, the
update gate of the GRU's first layer over the text, the gradients through time of the vanilla RNN and the GRU
for one word. Nothing is fetched: the pages hold their data and scripts.
"""
import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEXT = "I know not what to say to thee , but I will go with thee to the court of the king ."
PICTURES = {
    # name: (models, page options, word to hover or None)
    "predictions": (("part2", "gru"), {"view": "predictions"}, 6),
    "cell": (("gru",), {"view": "cell", "what": "gates:layer1.z"}, None),
    "gradients": (("part2", "gru"), {"view": "gradients", "target": 20}, None),   # the word "king"
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "explore"), help="folder (default: docs/explore)")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("no Chromium found: apt-get install chromium")
    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from lmkit.backend import configure
    from rnnlm.explore.analysis import Explored
    from rnnlm.explore.page import html
    from rnnlm.models import load_packages, open_with_vocab

    configure()
    load_packages()
    loaded = {}
    for name in {n for models, _, _ in PICTURES.values() for n in models}:
        model, vocab, _ = open_with_vocab(f"pretrained:{name}")
        loaded[name] = Explored(f"pretrained:{name}", model, vocab)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        for picture, (names, options, hover) in PICTURES.items():
            page_file = Path(tmp) / f"{picture}.html"
            page_file.write_text(html({loaded[n].name: loaded[n] for n in names}, TEXT, **options), encoding="utf-8")
            page = browser.new_page(viewport={"width": 1000, "height": 760})
            page.goto(page_file.as_uri())
            page.wait_for_load_state("networkidle")
            if hover is not None:
                page.locator("#prediction-views .word").nth(hover).hover()
            page.wait_for_timeout(300)
            page.screenshot(path=str(out / f"{picture}.png"), full_page=True)
            print(f"Saved {out / (picture + '.png')}")
        browser.close()


if __name__ == "__main__":
    main()
