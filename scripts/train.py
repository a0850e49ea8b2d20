#!/usr/bin/env python
"""Train a vanilla RNN, GRU or LSTM language model with the fast batched trainer.

    python scripts/train.py                                   # GRU on all of Shakespeare
    python scripts/train.py --model lstm --epochs 5 --mode jax
    python scripts/train.py --resume runs/gru.npz             # continue a stopped run

Sentences packed end to end into fixed-shape chunks (one compiled training graph), word lookup and
output softmax outside the recurrence; Adam (or SGD / RMSprop) with global-norm clipping, dropout, tied
embeddings, a learning rate that decays every epoch and halves on a plateau, early stopping; atomic
checkpoints every epoch and on Ctrl-C; a PNG of the loss curves at the end, then samples and held-out
perplexity. The defaults are the recipe measured best within 3 minutes on 2 cores (README, Training).
"""
import argparse
import os
from pathlib import Path

from lmkit.backend import MODES
from lmkit.checkpoint import OPTIMIZER_PREFIX, exclusive_output, load_checkpoint, load_model
from lmkit.cliargs import (COUNT, DATA_KEYS, POSITIVE_INT, add_data_args, load_dataset, number, parser,
                           restore_settings, run, settings)
from lmkit.errors import CheckpointError, UsageError

MODELS = {"rnn": "RNNTheano", "gru": "GRUTheano", "lstm": "LSTMTheano"}
TRAINER_KEYS = ("optimizer", "clip", "bptt", "batch_size", "dropout", "variational_dropout")
RUN_KEYS = ("epochs", "patience", "seed", "learning_rate", "lr_decay", "dtype", "mode")
MODEL_KEYS = ("model", "hidden_dim", "embed_dim", "layers", "gate", "tie_weights")  # stored in the model itself
# What a resumed run may not change: it would no longer be the run that was started.
FIXED_KEYS = TRAINER_KEYS + ("seed", "dtype")


def build_parser():
    ap = parser(__doc__.splitlines()[0])
    add_data_args(ap, vocab_size=8000)
    m = ap.add_argument_group("model")
    m.add_argument("--model", choices=sorted(MODELS), default="gru")
    m.add_argument("--hidden-dim", type=POSITIVE_INT, default=192)
    m.add_argument("--embed-dim", type=POSITIVE_INT, default=None, help="GRU/LSTM word-vector size (default: hidden)")
    m.add_argument("--layers", type=POSITIVE_INT, default=1,
                   help="GRU/LSTM stacked layers (the tutorial's GRU has 2; at budgets of minutes the second layer "
                        "slowed learning down, see README)")
    m.add_argument("--gate", choices=["hard", "sigmoid"], default=None,
                   help="GRU/LSTM gate squashing (default: the model's own, hard for the GRU, sigmoid for the LSTM)")
    m.add_argument("--tie-weights", action=argparse.BooleanOptionalAction, default=None,
                   help="GRU/LSTM: the embedding doubles as the output layer (default: on when the embedding is "
                        "as wide as the hidden state)")
    m.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    t = ap.add_argument_group("training")
    t.add_argument("--optimizer", choices=["adam", "rmsprop", "sgd"], default="adam")
    t.add_argument("--learning-rate", type=number(float, 0, low_open=True), default=0.004)
    t.add_argument("--clip", type=number(float, 0), default=5.0, help="max global gradient norm (0: no clipping)")
    t.add_argument("--batch-size", type=POSITIVE_INT, default=16)
    t.add_argument("--bptt", type=POSITIVE_INT, default=32,
                   help="steps per chunk: sentences are packed end to end into --batch-size streams cut into chunks "
                        "of this length; the state is carried across chunks, gradients stop there")
    t.add_argument("--dropout", type=number(float, 0, 1, high_open=True), default=0.3,
                   help="dropout rate on the word vectors, between layers and before the softmax")
    t.add_argument("--variational-dropout", action="store_true",
                   help="one dropout mask per stream and chunk instead of one per time step")
    t.add_argument("--epochs", type=POSITIVE_INT, default=10)
    t.add_argument("--lr-decay", type=number(float, 0, 1, low_open=True), default=0.85,
                   help="multiply the learning rate by this after every epoch (1: constant)")
    t.add_argument("--patience", type=POSITIVE_INT, default=3, help="epochs without improvement before stopping")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--mode", default=None, choices=sorted(MODES), help="backend: jax, c or numba (default: see README)")
    o = ap.add_argument_group("output")
    o.add_argument("--out", default=None, help="checkpoint path (default: runs/<model>.npz)")
    o.add_argument("--resume", metavar="CHECKPOINT", help="continue the run saved in this checkpoint")
    o.add_argument("--samples", type=COUNT, default=5, help="sentences to generate at the end")
    o.add_argument("--no-progress", action="store_true", help="no progress bar")
    return ap


def build_model(args, word_dim):
    from gru_theano import GRUTheano, LSTMTheano
    from rnn_theano import RNNTheano

    common = {"mode": args.mode, "dtype": args.dtype, "seed": args.seed}
    if args.model == "rnn":
        if args.tie_weights:
            raise UsageError("--tie-weights applies to --model gru and lstm")
        args.tie_weights = False
        return RNNTheano(word_dim, args.hidden_dim, bptt_truncate=-1, **common)
    cls = GRUTheano if args.model == "gru" else LSTMTheano
    if args.tie_weights is None:
        args.tie_weights = args.embed_dim in (None, args.hidden_dim)
    gate = {"gate": args.gate} if args.gate else {}
    return cls(word_dim, args.hidden_dim, embed_dim=args.embed_dim, num_layers=args.layers,
               tie_weights=args.tie_weights, **gate, **common)


def main():
    ap = build_parser()
    args = ap.parse_args()
    # Claim the output before any work: a second run with the same --out, or an --out that cannot be
    # written, is refused now rather than after an epoch of training.
    with exclusive_output(args.out or args.resume or f"runs/{args.model}.npz"):
        train(ap, args)


def train(ap, args):
    from lmkit.backend import default_batched_mode
    from lmkit.fit import FitState, best_path, fit
    from lmkit.plotting import plot_history
    from lmkit.sampling import generate_sentences
    from lmkit.trainer import BatchedTrainer

    state, optimizer_state = None, None
    if args.resume:
        saved = load_checkpoint(args.resume)[1].get("extra", {})
        if "fit" not in saved:
            raise CheckpointError(f"{args.resume}: not a checkpoint of scripts/train.py (no training state)")
        # Every recorded setting comes back (dtype and backend included); flags given again either replace
        # one with a warning (epochs, patience, learning rate and its decay, backend) or are refused.
        explicit = restore_settings(ap, args, {**saved["data"], **saved["trainer"], **saved["run"]},
                                    fixed=FIXED_KEYS)
        for key in sorted(explicit & set(MODEL_KEYS)):
            raise UsageError(f"--{key.replace('_', '-')} cannot change when resuming: the model is the checkpoint's")
        args.mode = args.mode or default_batched_mode()
        model, vocab, meta = load_model(args.resume, mode=args.mode, dtype=args.dtype)
        args.model = {v: k for k, v in MODELS.items()}[meta["model_type"]]
        args.out = args.out or args.resume
        state, optimizer_state = FitState.from_dict(saved["fit"]), meta["optimizer_state"]
        if "learning_rate" in explicit:
            state.learning_rate = args.learning_rate
        data = load_dataset(args, vocab=vocab)
        print(f"Resuming {args.resume}: epoch {state.epoch + 1}, batch {state.batch}, lr {state.learning_rate:g}")
    else:
        args.mode = args.mode or default_batched_mode()
        data = load_dataset(args)
        model = build_model(args, len(data.vocab))
        state = FitState(learning_rate=args.learning_rate)
    args.out = args.out or f"runs/{args.model}.npz"
    print(f"{len(data.train)} training sentences ({data.num_tokens()} words), {len(data.valid)} validation, "
          f"{len(data.test)} test; vocabulary {len(data.vocab)}")
    print(f"{model} on the {args.mode} backend, {args.optimizer}, batch {args.batch_size}, bptt {args.bptt}"
          + (f", dropout {args.dropout:g}" + (" (variational)" if args.variational_dropout else "")
             if args.dropout else ""))

    trainer = BatchedTrainer(model, args.optimizer, args.clip, args.bptt, args.batch_size, mode=args.mode,
                             dropout=args.dropout, variational=args.variational_dropout)
    if optimizer_state:
        trainer.set_state(optimizer_state)
    extra = {"data": settings(args, DATA_KEYS),
             "trainer": settings(args, TRAINER_KEYS),
             "run": settings(args, RUN_KEYS)}
    state = fit(trainer, data, state, args.epochs, args.out, seed=args.seed, patience=args.patience,
                lr_decay=args.lr_decay, extra=extra, progress=not args.no_progress)
    png = plot_history(state.history, Path(args.out).with_suffix(".png"), f"{args.model} on {args.corpus}")
    best = f", the best model {best_path(args.out)}" if os.path.exists(best_path(args.out)) else ""
    print(f"Saved {args.out}{best} and the loss curves {png}")

    best = best_path(args.out) if os.path.exists(best_path(args.out)) else args.out
    best_params, _ = load_checkpoint(best)
    model.set_params({k: v for k, v in best_params.items() if not k.startswith(OPTIMIZER_PREFIX)})
    for split in ("valid", "test"):
        if getattr(data, split):
            print(f"{split} (best model): {trainer.evaluate(*data.xy(split))}")
    # Sampling runs the per-sentence graph, one new length per word: compiled once in C, not per length in JAX.
    sampler = model if args.mode == "c" else type(model)(**model.hparams(), mode="c", dtype=args.dtype)
    sampler.set_params(model.get_params())
    for words in generate_sentences(sampler, data.vocab, args.samples, min_length=5, seed=args.seed):
        print("  >", " ".join(words))


if __name__ == "__main__":
    run(main)
