"""Scoring speed: the batched scorer against one ``predict_proba`` call per sentence.

    python benchmarks/scoring_speed.py                   # 10,000 sentences of the default corpus
    taskset -c 0 python benchmarks/scoring_speed.py      # on one core

The model is the README recipe's shape (``--model gru``: GRU 1 x 192, tied, C = 8000) or the tutorial's
Part 2 RNN (``--model rnn``: H = 100, C = 8000, its per-sentence graph computes the softmax inside the
``scan``, one word at a time), with random weights: speed does not depend on what the weights are. Both ways give the same log-probabilities (checked here on every sentence,
and in tests/test_sampling_scoring.py). Prints a table and writes ``benchmarks/scoring_speed_<model>.json``.
"""
import argparse
import json
import os
import platform
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=10000)
    ap.add_argument("--vocab-size", type=int, default=8000)
    ap.add_argument("--model", choices=["gru", "rnn"], default="gru")
    ap.add_argument("--hidden-dim", type=int, default=None, help="default: 192 (gru), 100 (rnn)")
    ap.add_argument("--modes", default="c,jax", help="backends of the batched scorer")
    ap.add_argument("--out", default=None, help="default: benchmarks/scoring_speed_<model>.json")
    args = ap.parse_args()
    args.out = args.out or os.path.join(os.path.dirname(__file__), f"scoring_speed_{args.model}.json")

    from lmkit.backend import configure

    configure()
    from gru_theano import GRUTheano
    from rnn_theano import RNNTheano
    from lmkit.data import build_dataset, load_sentences
    from lmkit.scoring import BatchScorer, word_logprobs

    data = build_dataset(load_sentences("shakespeare"), args.vocab_size)
    sentences = (data.train + data.valid + data.test)[:args.sentences]
    words = sum(len(s) - 1 for s in sentences)
    rows = []

    args.hidden_dim = args.hidden_dim or {"gru": 192, "rnn": 100}[args.model]

    def model(mode):
        if args.model == "rnn":
            return RNNTheano(args.vocab_size, args.hidden_dim, bptt_truncate=-1, dtype="float32", seed=0, mode=mode)
        return GRUTheano(args.vocab_size, args.hidden_dim, num_layers=1, tie_weights=True, dtype="float32",
                         seed=0, mode=mode)

    per_sentence = model("c")
    per_sentence.predict_proba(sentences[0][:-1])  # compiles the per-sentence graph
    start = time.perf_counter()
    reference = [word_logprobs(per_sentence, s) for s in sentences]
    seconds = time.perf_counter() - start
    rows.append({"method": "per sentence (predict_proba, c)", "seconds": seconds, "words_per_s": words / seconds})
    for mode in args.modes.split(","):
        scorer = BatchScorer(model(mode))
        scorer.sentence_logprobs(sentences[:scorer.batch])  # the first call sets the compiled function up
        start = time.perf_counter()
        got = scorer.sentence_logprobs(sentences)
        seconds = time.perf_counter() - start
        worst = max(float(np.max(np.abs(a - b))) for a, b in zip(got, reference))
        rows.append({"method": f"batched ({mode}, {scorer.length} steps x {scorer.batch} sentences)",
                     "seconds": seconds, "words_per_s": words / seconds, "max_abs_diff": worst})
    base = rows[0]["seconds"]
    print(f"{len(sentences)} sentences, {words} words, C={args.vocab_size}, {args.model} 1x{args.hidden_dim}, "
          f"{os.cpu_count()} cores visible, affinity {len(os.sched_getaffinity(0))}")
    print(f"{'method':50s} {'seconds':>8s} {'words/s':>9s} {'speed-up':>8s} {'max |diff|':>10s}")
    for r in rows:
        r["speedup"] = base / r["seconds"]
        print(f"{r['method']:50s} {r['seconds']:8.1f} {r['words_per_s']:9.0f} {r['speedup']:7.1f}x "
              f"{r.get('max_abs_diff', 0):10.2e}")
    with open(args.out, "w") as fh:
        json.dump({"model": args.model, "sentences": len(sentences), "words": words, "vocab_size": args.vocab_size,
                   "hidden_dim": args.hidden_dim, "cores": len(os.sched_getaffinity(0)),
                   "machine": platform.processor() or platform.machine(), "rows": rows}, fh, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
