#!/usr/bin/env python
"""Train the tutorial's GRU (or an LSTM) language model, Part 4 style: one RMSprop step per sentence.

The defaults are those of the tutorial's ``train.py`` (vocabulary 2000, hidden 128, learning rate 0.001,
20 epochs, a report every 25,000 examples with the loss, 10 generated sentences and a checkpoint); its
environment variables (VOCABULARY_SIZE, HIDDEN_DIM, EMBEDDING_DIM, LEARNING_RATE, NEPOCH, PRINT_EVERY,
MODEL_OUTPUT_FILE) still work, and flags override both:

    python scripts/train_gru.py --max-sentences 5000 --epochs 2 --print-every 2000
    python scripts/train_gru.py --resume runs/gru-part4.npz
    python scripts/train_gru.py --cell lstm
"""
import time

from tqdm import tqdm

from lmkit.checkpoint import load_model, save_model
from lmkit.backend import MODES
from lmkit.cliargs import (COUNT, DATA_KEYS, POSITIVE_INT, add_data_args, env_default, load_dataset, number, parser,
                           print_sgd_step_time, restore_settings, run, settings)
from lmkit.errors import CheckpointError
from lmkit.sampling import generate_sentences
from lmkit.scoring import score_corpus

RUN_KEYS = ("learning_rate", "decay", "epochs", "print_every", "loss_subsample", "seed", "cell")



def build_parser():
    ap = parser(__doc__.splitlines()[0])
    add_data_args(ap, vocab_size=env_default("VOCABULARY_SIZE", 2000, int), convention="part4")
    m = ap.add_argument_group("model")
    m.add_argument("--cell", choices=["gru", "lstm"], default="gru")
    m.add_argument("--hidden-dim", type=POSITIVE_INT, default=env_default("HIDDEN_DIM", 128, int))
    m.add_argument("--embed-dim", type=POSITIVE_INT, default=env_default("EMBEDDING_DIM", None, int),
                   help="word-vector size; the tutorial's code ties it to the hidden size (its EMBEDDING_DIM=48 "
                        "was never used), so the default is the hidden size")
    m.add_argument("--layers", type=POSITIVE_INT, default=2)
    m.add_argument("--gate", choices=["hard", "sigmoid"], default=None,
                   help="gate squashing (default: hard for the GRU as the tutorial, sigmoid for the LSTM)")
    m.add_argument("--mode", default=None, choices=sorted(MODES), help="backend: c, numba, jax or python (default: c)")
    m.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    t = ap.add_argument_group("training")
    t.add_argument("--learning-rate", type=number(float, 0, low_open=True), default=env_default("LEARNING_RATE", 0.001, float))
    t.add_argument("--decay", type=number(float, 0, 1, high_open=True), default=0.9, help="RMSprop decay")
    t.add_argument("--epochs", type=POSITIVE_INT, default=env_default("NEPOCH", 20, int))
    t.add_argument("--print-every", type=POSITIVE_INT, default=env_default("PRINT_EVERY", 25000, int),
                   help="examples between reports (loss, samples, checkpoint)")
    t.add_argument("--loss-subsample", type=POSITIVE_INT, default=10000, help="training sentences the loss is computed on")
    t.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed")
    o = ap.add_argument_group("output")
    o.add_argument("--out", default=env_default("MODEL_OUTPUT_FILE", None, str),
                   help="checkpoint path (default: runs/<cell>-part4.npz)")
    o.add_argument("--resume", metavar="CHECKPOINT", help="continue the run saved in this checkpoint")
    o.add_argument("--samples", type=COUNT, default=10)
    o.add_argument("--min-length", type=COUNT, default=5, help="fewest words in a generated sentence")
    return ap


def main():
    from gru_theano import GRUTheano, LSTMTheano
    from gru_theano.train import check_finite, train_with_sgd

    ap = build_parser()
    args = ap.parse_args()
    start_epoch = start_index = 0
    if args.resume:
        model, vocab, meta = load_model(args.resume, expected_type=("GRUTheano", "LSTMTheano"), mode=args.mode,
                                        dtype=args.dtype)
        saved = meta["extra"]
        if "part4" not in saved:
            raise CheckpointError(f"{args.resume}: not a checkpoint of scripts/train_gru.py")
        restore_settings(ap, args, {**saved["data"], **saved["run"]})
        start_epoch, start_index = saved["part4"]["epoch"], saved["part4"]["index"]
        data = load_dataset(args, vocab=vocab)
        args.out = args.out or args.resume
        print(f"Resuming {args.resume} at epoch {start_epoch + 1}, sentence {start_index}")
    else:
        data = load_dataset(args)
        cls = GRUTheano if args.cell == "gru" else LSTMTheano
        gate = {"gate": args.gate} if args.gate else {}
        model = cls(len(data.vocab), args.hidden_dim, embed_dim=args.embed_dim, num_layers=args.layers,
                    mode=args.mode, dtype=args.dtype, seed=args.seed, **gate)
    args.out = args.out or f"runs/{args.cell}-part4.npz"
    X, Y = data.xy("train")
    print(f"{len(X)} training sentences ({data.num_tokens()} words), vocabulary {len(data.vocab)}: {model}")

    if not args.resume:
        print_sgd_step_time(model, X, Y, args.learning_rate)

    extra = {"data": settings(args, DATA_KEYS), "run": settings(args, RUN_KEYS)}
    sub = slice(0, args.loss_subsample)

    def report(model, num_examples_seen, epoch, index):
        loss = check_finite(model.calculate_loss(X[sub], Y[sub]), num_examples_seen)
        print(f"\n{time.strftime('%Y-%m-%d %H:%M:%S')} ({num_examples_seen}) loss: {loss:.6f}")
        if index == len(X):
            epoch, index = epoch + 1, 0
        save_model(args.out, model, data.vocab, {**extra, "part4": {"epoch": epoch, "index": index,
                                                                   "num_examples_seen": num_examples_seen}})
        print(f"Saved model parameters to {args.out}.")
        for words in generate_sentences(model, data.vocab, args.samples, args.min_length, rules="part4",
                                        seed=num_examples_seen):
            print("  >", " ".join(words))

    def progress(positions, epoch):
        return tqdm(positions, desc=f"epoch {epoch + 1}/{args.epochs}", unit="sent", leave=False, mininterval=1.0)

    seen = train_with_sgd(model, X, Y, args.learning_rate, args.epochs, args.decay, args.print_every, report,
                          seed=args.seed, start_epoch=start_epoch, start_index=start_index, progress=progress)
    if seen % args.print_every:
        report(model, seen, args.epochs - 1, len(X))
    for split in ("valid", "test"):
        if getattr(data, split):
            print(f"{split}: {score_corpus(model, getattr(data, split))}")


if __name__ == "__main__":
    run(main)
