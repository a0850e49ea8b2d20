#!/usr/bin/env python
"""Train the tutorial's vanilla RNN language model (Part 2) with one-sentence SGD steps.

The defaults are those of the tutorial's ``train-theano.py``; its environment variables VOCABULARY_SIZE,
HIDDEN_DIM, LEARNING_RATE, NEPOCH and MODEL_FILE still work, and flags override both:

    python scripts/train_rnn.py                                   # the original settings (hours)
    python scripts/train_rnn.py --max-sentences 2000 --vocab-size 2000 --hidden-dim 50 --epochs 4
    NEPOCH=10 HIDDEN_DIM=50 python scripts/train_rnn.py
"""

import numpy as np
from tqdm import tqdm

from lmkit.checkpoint import save_model
from lmkit.backend import MODES
from lmkit.cliargs import (BPTT_TRUNCATE, COUNT, DATA_KEYS, POSITIVE_INT, add_data_args, env_default, load_dataset,
                           number, parser, print_sgd_step_time, run, settings)
from lmkit.errors import CheckpointError
from lmkit.modelio import open_model
from lmkit.sampling import generate_sentences
from lmkit.scoring import score_corpus
from rnn_theano import RNNTheano, train_with_sgd




def build_parser():
    ap = parser(__doc__.splitlines()[0])
    add_data_args(ap, vocab_size=env_default("VOCABULARY_SIZE", 8000, int))
    m = ap.add_argument_group("model and training")
    m.add_argument("--hidden-dim", type=POSITIVE_INT, default=env_default("HIDDEN_DIM", 80, int))
    m.add_argument("--bptt-truncate", type=BPTT_TRUNCATE, default=4,
                   help="scan's truncate_gradient: only the last k words send gradient; -1 = full BPTT")
    m.add_argument("--learning-rate", type=number(float, 0, low_open=True), default=env_default("LEARNING_RATE", 0.005, float))
    m.add_argument("--epochs", type=POSITIVE_INT, default=env_default("NEPOCH", 100, int))
    m.add_argument("--evaluate-loss-after", type=POSITIVE_INT, default=5, help="epochs between loss evaluations")
    m.add_argument("--model-file", default=env_default("MODEL_FILE", None, str),
                   help="start from these weights (a checkpoint or a tutorial U,V,W file)")
    m.add_argument("--mode", default=None, choices=sorted(MODES), help="backend: c, numba, jax or python (default: c)")
    m.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    m.add_argument("--seed", type=int, default=10, help="weight initialisation seed (the blog used 10)")
    o = ap.add_argument_group("output")
    o.add_argument("--out", default="runs/rnn.npz", help="checkpoint written at every evaluation and at the end")
    o.add_argument("--samples", type=COUNT, default=5, help="sentences generated at each evaluation")
    o.add_argument("--min-length", type=COUNT, default=7, help="fewest words in a generated sentence")
    return ap


def main():
    args = build_parser().parse_args()
    data = load_dataset(args)
    vocab = data.vocab
    X, Y = data.xy("train")
    print(f"{len(X)} training sentences ({data.num_tokens()} words), {len(data.valid)} validation, "
          f"{len(data.test)} test; vocabulary {len(vocab)}")

    model = RNNTheano(len(vocab), args.hidden_dim, args.bptt_truncate, mode=args.mode, dtype=args.dtype,
                      seed=args.seed)
    if args.model_file:
        start, stored_vocab, _ = open_model(args.model_file, mode=args.mode, dtype=args.dtype)
        if stored_vocab is not None and stored_vocab != vocab:
            raise CheckpointError(f"{args.model_file}: was trained with another vocabulary")
        if start.word_dim != len(vocab):
            raise CheckpointError(f"{args.model_file}: has {start.word_dim} words, the vocabulary {len(vocab)}")
        model = start
        print(f"Starting from {args.model_file}: {model}")

    print_sgd_step_time(model, X, Y, args.learning_rate)

    extra = {"data": settings(args, DATA_KEYS)}

    def report(model, num_examples_seen, epoch, loss):
        valid = score_corpus(model, data.valid) if data.valid else None
        if valid:
            print(f"  validation: {valid}")
        save_model(args.out, model, vocab, {**extra, "epoch": epoch, "num_examples_seen": num_examples_seen,
                                            "train_loss": loss})
        for words in generate_sentences(model, vocab, args.samples, args.min_length, seed=epoch):
            print("  >", " ".join(words))

    progress = lambda it: tqdm(it, total=len(X), desc="sgd", unit="sent", leave=False, mininterval=1.0)
    losses, lr = train_with_sgd(model, X, Y, args.learning_rate, args.epochs, args.evaluate_loss_after,
                                callback=report, progress=progress)
    final = model.calculate_loss(X, Y)
    print(f"Loss after {args.epochs} epochs: {final:f} (learning rate now {lr:g})")
    report(model, args.epochs * len(X), args.epochs, final)
    for split in ("valid", "test"):
        if getattr(data, split):
            print(f"{split}: {score_corpus(model, getattr(data, split))}")
    print(f"Saved {args.out}")
    return np.array(losses)


if __name__ == "__main__":
    run(main)
