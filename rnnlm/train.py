"""Train a vanilla RNN, GRU or LSTM language model with the batched trainer (the recommended trainer).

    rnnlm train                                   # GRU on all of Shakespeare, the README recipe
    rnnlm train --model lstm --epochs 5 --mode jax
    rnnlm train --resume runs/gru.npz --epochs 12 # continue a stopped run

Sentences are packed into --batch-size streams cut into --bptt-step chunks (one compiled training graph);
Adam with gradient clipping, dropout, tied embeddings, a learning rate that decays every epoch and halves
on a plateau, early stopping; an atomic checkpoint every epoch and on Ctrl-C, the best one beside it.
"""
import argparse
import os
from pathlib import Path

from lmkit.devices import parse_devices

from .flags import (POSITIVE, POSITIVE_INT, RATE, add_backend_args, add_data_args, add_output_args,
                    load_dataset, number, recorded_settings, restore_settings)
from .models import KINDS, MODEL_FLAGS, adopt_model_settings, build_model, kind_of, report_heldout

HELP = "train a model with the batched trainer (the recipe)"
# Settings a resumed run may not change: it would no longer be the run that was started.
FIXED = ("min_count", "vocab", *MODEL_FLAGS, "optimizer", "clip", "bptt", "batch_size", "dropout",
         "variational_dropout", "seed", "dtype")


def add_arguments(ap):
    add_data_args(ap)
    m = ap.add_argument_group("model")
    m.add_argument("--model", choices=sorted(KINDS), default="gru", help="the recurrent layer")
    m.add_argument("--hidden-dim", type=POSITIVE_INT, default=192, help="hidden state size H")
    m.add_argument("--embed-dim", type=POSITIVE_INT, default=None, help="GRU/LSTM word-vector size (default: hidden)")
    m.add_argument("--layers", type=POSITIVE_INT, default=1, help="GRU/LSTM stacked layers")
    m.add_argument("--gate", choices=["hard", "sigmoid"], default=None,
                   help="GRU/LSTM gates (default: hard for the GRU, sigmoid for the LSTM)")
    m.add_argument("--tie-weights", action=argparse.BooleanOptionalAction, default=None,
                   help="embedding = output layer (default: on if as wide as the state)")
    m.add_argument("--init", metavar="MODEL", help="start from this model's weights and vocabulary (fine-tuning)")
    add_backend_args(m, default_help="jax, or c without JAX")
    t = ap.add_argument_group("training")
    t.add_argument("--optimizer", choices=["adam", "rmsprop", "sgd"], default="adam", metavar="RULE",
                   help="update rule: adam, rmsprop or sgd")
    t.add_argument("--learning-rate", type=POSITIVE, default=0.004, help="initial step size")
    t.add_argument("--lr-decay", type=number(float, 0, 1, low_open=True), default=0.85,
                   help="learning rate factor per epoch (1: constant)")
    t.add_argument("--clip", type=number(float, 0), default=5.0, help="max global gradient norm (0: off)")
    t.add_argument("--batch-size", type=POSITIVE_INT, default=16, help="parallel streams")
    t.add_argument("--bptt", type=POSITIVE_INT, default=32, help="steps per chunk; gradients stop between chunks")
    t.add_argument("--dropout", type=RATE, default=0.3, help="on word vectors, between layers, before the softmax")
    t.add_argument("--variational-dropout", action="store_true", help="one mask per stream and chunk")
    t.add_argument("--epochs", type=POSITIVE_INT, default=10, help="passes over the training data")
    t.add_argument("--patience", type=POSITIVE_INT, default=3, help="epochs without improvement before stopping")
    t.add_argument("--seed", type=int, default=0, help="initialisation, batch order and dropout seed")
    t.add_argument("--devices", type=parse_devices, default=1, metavar="N|all",
                   help="split each batch over N JAX devices (data parallel)")
    add_output_args(ap, "checkpoint path (default: runs/<model>.npz)", samples=5)


def run(args):
    from lmkit.checkpoint import exclusive_output

    # Claim the output before any work: a second run with the same --out, or an --out that cannot be
    # written, is refused now rather than after an epoch of training.
    with exclusive_output(args.out or args.resume or default_out(args)):
        train(args)


def default_out(args):
    """``runs/<model>.npz``, where ``<model>`` is the kind of model trained (the ``--init`` file's, if given)."""
    from lmkit.checkpoint import open_model

    return f"runs/{kind_of(open_model(args.init)[0]) if args.init else args.model}.npz"


def start_from(args):
    """Fine-tuning: the model and vocabulary of ``--init`` (a new run: fresh optimizer, new data)."""
    from lmkit.errors import UsageError

    from .models import open_with_vocab

    for key in MODEL_FLAGS:
        if key in args.explicit:
            raise UsageError(f"--{key.replace('_', '-')} cannot be given with --init: the model is {args.init}'s")
    model, vocab, _ = open_with_vocab(args.init, args.vocab, mode=args.mode, dtype=args.dtype)
    adopt_model_settings(args, model, args.init)
    return model, vocab


def check_devices(args):
    """``--devices`` against the backend and the batch size, before any data is read (one-line errors)."""
    from lmkit.backend import pytensor_mode
    from lmkit.devices import check, resolve

    check(args.devices, args.batch_size, pytensor_mode(args.mode))
    if pytensor_mode(args.mode) == "JAX":
        resolve(args.devices)  # enough devices?


def train(args):
    from lmkit.backend import default_batched_mode
    from lmkit.checkpoint import load_checkpoint, load_model, read_weights, run_record
    from lmkit.errors import CheckpointError
    from lmkit.plotting import plot_history
    from lmkit.trainer import BatchedTrainer, FitState, best_path, fit

    state, optimizer_state = None, None
    if args.resume:
        saved = load_checkpoint(args.resume)[1]["run"]
        if saved.get("command") != "train":
            raise CheckpointError(f"{args.resume}: not a checkpoint of rnnlm train (it has no batched training state)")
        # Every recorded setting comes back (dtype and backend included); a flag given again either replaces
        # one with a warning (epochs, patience, learning rate and its decay, backend) or is refused.
        restore_settings(args, saved["settings"], fixed=FIXED)
    args.mode = args.mode or default_batched_mode()
    check_devices(args)
    if args.resume:
        model, vocab, meta = load_model(args.resume, mode=args.mode, dtype=args.dtype)
        adopt_model_settings(args, model, args.resume)
        args.out = args.out or args.resume
        state, optimizer_state = FitState.from_dict(saved["progress"]), meta["optimizer_state"]
        if "learning_rate" in args.explicit:
            state.learning_rate = args.learning_rate
        data = load_dataset(args, vocab=vocab)
        print(f"Resuming {args.resume}: epoch {state.epoch + 1}, batch {state.batch}, lr {state.learning_rate:g}")
    elif args.init:
        model, vocab = start_from(args)
        data = load_dataset(args, vocab=vocab)
        state = FitState(learning_rate=args.learning_rate)
        print(f"Starting from {args.init}: its weights and its vocabulary of {len(vocab)} words")
    else:
        data = load_dataset(args)
        model = build_model(args, len(data.vocab))
        state = FitState(learning_rate=args.learning_rate)
    args.out = args.out or f"runs/{args.model}.npz"  # the model's kind is known by now (--init's included)
    print(f"{len(data.train)} training sentences ({data.num_tokens()} words), {len(data.valid)} validation, "
          f"{len(data.test)} test; vocabulary {len(data.vocab)}")
    devices = f" on {args.devices} devices" if args.devices not in (1, None) else ""
    print(f"{model} on the {args.mode} backend{devices}, {args.optimizer}, batch {args.batch_size}, bptt {args.bptt}"
          + (f", dropout {args.dropout:g}" + (" (variational)" if args.variational_dropout else "")
             if args.dropout else ""))

    trainer = BatchedTrainer(model, args.optimizer, args.clip, args.bptt, args.batch_size, mode=args.mode,
                             dropout=args.dropout, variational=args.variational_dropout, devices=args.devices)
    if optimizer_state:
        trainer.set_state(optimizer_state)
    state = fit(trainer, data, state, args.epochs, args.out, seed=args.seed, patience=args.patience,
                lr_decay=args.lr_decay, run=run_record("train", recorded_settings(args)),
                progress=not args.no_progress)
    png = plot_history(state.history, Path(args.out).with_suffix(".png"), f"{args.model} on {args.corpus}")
    best = best_path(args.out) if os.path.exists(best_path(args.out)) else args.out
    print(f"Saved {args.out}" + (f", the best model {best}" if best != args.out else "") + f" and the loss curves {png}")

    model.set_params(read_weights(best))
    report_heldout(data, lambda split: trainer.evaluate(*data.xy(split)), " (best model)")
    # Sampling runs the per-sentence graph, one new length per word: compiled once in C, not per length in JAX.
    sampler = model if args.mode == "c" else type(model)(**model.hparams(), mode="c", dtype=args.dtype)
    sampler.set_params(model.get_params())
    from .models import print_samples

    print_samples(sampler, data.vocab, args.samples, 5, seed=args.seed)
