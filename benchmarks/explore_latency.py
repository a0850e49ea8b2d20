"""How long the explorer takes: one analysis (predictions, states, gates and every word's gradients through
time) of a 50-word text, and its parts, for the shipped models (or the models given), on this machine.

    python benchmarks/explore_latency.py                          # the shipped models, 2 cores
    taskset -c 0 python benchmarks/explore_latency.py --label "1 core"
    python benchmarks/explore_latency.py runs/gru.best.npz --words 50,200

Prints a table (median and minimum of ``--repeats`` calls after one untimed call, which compiles) and
writes JSON (``--out``, default ``benchmarks/explore_latency.json``; rows of other labels are kept). The
explorer's target (issue 21): a 50-word text with a GRU of the recipe's size, gradients included, in at most
300 ms on 2 cores.
"""
import argparse
import os
import statistics
import sys
import time

from labelled_rows import save_rows  # benchmarks/ is the script's folder, first on sys.path

HERE = os.path.dirname(os.path.abspath(__file__))
SENTENCES = ["My lord, the king is dead, and the queen would speak with you.",
             "Long live the king, for he hath done the state some service.",
             "I know not what to say to thee, but I will go with thee to the court."]


def text_of(words):
    """About ``words`` words of Shakespeare-like text, in sentences."""
    from lmkit.data import tokenize_documents

    out, count = [], 0
    while count < words:
        sentence = SENTENCES[len(out) % len(SENTENCES)]
        out.append(sentence)
        count += sum(len(s) - 2 for s in tokenize_documents([sentence]))
    return " ".join(out), count


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help="model files or pretrained:NAME (default: the shipped ones)")
    ap.add_argument("--words", default="50", help="text lengths, comma-separated")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--label", default="2 cores")
    ap.add_argument("--out", default=os.path.join(HERE, "explore_latency.json"))
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(HERE))
    from lmkit.backend import configure

    configure()
    from rnnlm.explore import load
    from rnnlm.explore.analysis import analyze

    models = load(argparse.Namespace(models=args.models, vocab=None, mode="c"))
    rows = []
    print(f"{args.label}: median (min) ms of {args.repeats} calls")
    for name, explored in models.items():
        for words in map(int, args.words.split(",")):
            text, count = text_of(words)
            for part, gradients in (("analysis without gradients", False), ("analysis with gradients", True)):
                analyze(explored, text, gradients=gradients)  # compiles, the first time
                times = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    analyze(explored, text, gradients=gradients)
                    times.append(1000 * (time.perf_counter() - start))
                row = {"label": args.label, "model": name, "describe": explored.describe(), "words": count,
                       "part": part, "median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1)}
                rows.append(row)
                print(f"  {name:18} {count:4d} words  {part:28} {row['median_ms']:8.1f} ({row['min_ms']:.1f})", flush=True)
    save_rows(args.out, rows, args.label)


if __name__ == "__main__":
    main()
