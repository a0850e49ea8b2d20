"""Generation speed: words per second of greedy search, sampling and beam search at 100, 1,000 and 10,000 words.

A GRU of the recipe's size (one layer of 192, tied, C = 8000) with random weights, on the C backend (what
``rnnlm generate`` uses by default), one sentence per case: greedy and beam search (width 10) forced to
exactly N words (``min_length = N``), sampling up to N words (a random model rarely ends a sentence, so it
runs N steps unless it happens to). ``--code DIR`` runs another checkout of the project, so the code before
a change can be measured beside the code after it, in the same run of this script:

    git worktree add /tmp/before <commit>
    taskset -c 0 python benchmarks/generation.py --code /tmp/before --label before
    taskset -c 0 python benchmarks/generation.py --label after

Writes a table and JSON (``--out``, default ``benchmarks/generation.json``; rows of other labels are kept).
A case that runs past ``--limit`` seconds is stopped and recorded as such.
"""
import argparse
import os
import signal
import sys
import time

from labelled_rows import save_rows  # benchmarks/ is the script's folder, first on sys.path

HERE = os.path.dirname(os.path.abspath(__file__))


class TooLong(Exception):
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="100,1000,10000")
    ap.add_argument("--methods", default="greedy,sample,beam")
    ap.add_argument("--vocab-size", type=int, default=8000)
    ap.add_argument("--hidden-dim", type=int, default=192)
    ap.add_argument("--code", default=os.path.dirname(HERE), help="the checkout whose packages are measured")
    ap.add_argument("--label", default="after")
    ap.add_argument("--limit", type=float, default=300.0, help="seconds before a case is stopped")
    ap.add_argument("--out", default=os.path.join(HERE, "generation.json"))
    args = ap.parse_args()

    sys.path.insert(0, os.path.abspath(args.code))
    import lmkit.backend
    if hasattr(lmkit.backend, "configure"):
        lmkit.backend.configure()  # (older code made these settings on import)
    import numpy as np
    from gru_theano import GRUTheano
    from lmkit.data import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary
    from lmkit.sampling import beam_search, greedy, sample_sentence

    words = [SENTENCE_START, SENTENCE_END] + [f"w{i}" for i in range(args.vocab_size - 3)] + [UNKNOWN_TOKEN]
    vocab = Vocabulary(words)
    model = GRUTheano(len(vocab), args.hidden_dim, num_layers=1, tie_weights=True, mode="c", dtype="float32",
                      seed=0)

    def run(method, n):
        if method == "greedy":
            return len(greedy(model, vocab, min_length=n, max_length=n + 1).words)
        if method == "beam":
            return len(beam_search(model, vocab, width=10, min_length=n, max_length=n + 1)[0].words)
        s = sample_sentence(model, vocab, np.random.default_rng(0), max_length=n + 1)
        return n if s is None else len(s) - 2   # None: abandoned after n words

    def on_alarm(signum, frame):
        raise TooLong

    signal.signal(signal.SIGALRM, on_alarm)
    run("greedy", 3)  # compile the functions this code uses (not timed)
    rows = []
    print(f"{args.label}: GRU 1x{args.hidden_dim}, C={len(vocab)}, C backend, code {os.path.abspath(args.code)}")
    print(f"{'method':8} {'words':>7} {'seconds':>9} {'words/s':>9}")
    for method in args.methods.split(","):
        for n in map(int, args.lengths.split(",")):
            signal.alarm(int(args.limit))
            start = time.perf_counter()
            try:
                made = run(method, n)
                seconds, stopped = time.perf_counter() - start, False
            except TooLong:
                made, seconds, stopped = None, time.perf_counter() - start, True
            signal.alarm(0)
            row = {"label": args.label, "method": method, "length": n, "words": made, "seconds": round(seconds, 3),
                   "words_per_second": None if stopped else round(made / seconds, 1), "stopped": stopped}
            rows.append(row)
            rate = f"> {args.limit:.0f} s" if stopped else f"{row['words_per_second']:9.1f}"
            print(f"{method:8} {n:7d} {seconds:9.2f} {rate:>9}", flush=True)
    save_rows(args.out, rows, args.label, model=f"GRU 1x{args.hidden_dim}, tied, C={len(vocab)}, float32, C backend")


if __name__ == "__main__":
    main()
