"""Train a vanilla RNN, GRU or LSTM language model with the batched trainer (the recommended trainer).

    rnnlm train                                   # GRU on all of Shakespeare, the README recipe
    rnnlm train --model lstm --epochs 5 --mode jax
    rnnlm train --resume runs/gru.npz --epochs 12 # continue a stopped run

Sentences are packed into --batch-size streams cut into --bptt-step chunks (one compiled training graph);
Adam with gradient clipping, dropout, tied embeddings, a learning rate that decays every epoch and halves
on a plateau, early stopping; an atomic checkpoint every epoch and on Ctrl-C, the best one beside it.
"""
import argparse

from .flags import (DEVICES, POSITIVE, POSITIVE_INT, RATE, add_backend_args, add_data_args, add_output_args,
                    number)
from .models import KINDS



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
    t.add_argument("--devices", type=DEVICES, default=1, metavar="N|all",
                   help="split each batch over N JAX devices (data parallel)")
    add_output_args(ap, "checkpoint path (default: runs/<model>.npz)", samples=5)


def check_devices(settings):
    """``--devices`` against the backend and the batch size, before any data is read (one-line errors)."""
    from lmkit import devices
    from lmkit.backend import pytensor_mode
    from lmkit.errors import UsageError

    n, mode = settings.devices, pytensor_mode(settings.mode)
    if n not in (1, None) and mode != "JAX":
        raise UsageError(f"--devices {n} needs --mode jax (several devices run through JAX only)")
    if mode != "JAX":
        return
    count = devices.count(n)
    if settings.batch_size % count:
        raise UsageError(f"--batch-size {settings.batch_size} does not split over {count} devices: "
                         f"give a multiple of {count}")
    try:
        devices.resolve(n)
    except ValueError:
        import jax

        here = jax.devices()
        hint = (" (on a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N makes N host devices)"
                if here[0].platform == "cpu" else "")
        raise UsageError(f"--devices {n}: only {len(here)} {here[0].platform} device"
                         f"{'s' if len(here) > 1 else ''} here{hint}") from None


def check_memory(run):
    """A warning when one training step would not fit in the memory this machine has free: the weights with
    their gradients and Adam's two moments, and about three batch x bptt x C arrays of the output layer."""
    import numpy as np

    from .report import warn

    s = run.settings
    itemsize = np.dtype(s.dtype).itemsize
    weights = sum(int(np.prod(np.shape(v.get_value()))) for v in run.model.trainable_params().values())
    need = itemsize * (4 * weights + 3 * s.batch_size * s.bptt * len(run.vocab))
    free = available_memory()
    if free is not None and need > 0.8 * free:
        warn(f"training needs about {need / 2**30:.1f} GiB (weights, gradients, optimizer state and the output "
             f"layer's batch x bptt x {len(run.vocab)} values) and {free / 2**30:.1f} GiB are free; a smaller "
             "--vocab-size, --batch-size or --bptt fits better")
    return need


def available_memory():
    """Bytes of memory free for a new process (``MemAvailable`` of /proc/meminfo), or None where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def run(args):
    from lmkit.checkpoint import exclusive_output

    from .run import output_path

    # Claim the output before any work: a second run with the same --out, or an --out that cannot be
    # written, is refused now rather than after an epoch of training.
    with exclusive_output(output_path("train", args)) as out:
        train(args, out)


def train(args, out):
    from pathlib import Path

    from lmkit.checkpoint import best_path, read_weights
    from lmkit.plotting import plot_history
    from lmkit.trainer import BatchedTrainer, FitConfig, FitState, Report, fit

    from .report import print_samples, report_heldout
    from .run import start_or_resume

    run = start_or_resume("train", args, out, check=check_devices)
    s, model, data = run.settings, run.model, run.data
    check_memory(run)
    if run.progress is not None:
        state = FitState.from_dict(run.progress)
        if "learning_rate" in args.explicit:
            state.learning_rate = s.learning_rate
        print(f"Resuming {run.source}: epoch {state.epoch + 1}, batch {state.batch}, lr {state.learning_rate:g}")
    else:
        state = FitState(learning_rate=s.learning_rate)
        if s.init:
            print(f"Starting from {s.init}: its weights and its vocabulary of {len(run.vocab)} words")
    print(run.describe_data())
    devices = f" on {s.devices} devices" if s.devices not in (1, None) else ""
    print(f"{model} on the {s.mode} backend{devices}, {s.optimizer}, batch {s.batch_size}, bptt {s.bptt}"
          + (f", dropout {s.dropout:g}" + (" (variational)" if s.variational_dropout else "") if s.dropout else ""))

    trainer = BatchedTrainer(model, optimizer=s.optimizer, clip=s.clip, bptt=s.bptt, batch_size=s.batch_size,
                             mode=s.mode, dropout=s.dropout, variational=s.variational_dropout, devices=s.devices)
    if run.optimizer_state:
        trainer.set_state(run.optimizer_state)
    config = FitConfig(epochs=s.epochs, out=run.out, seed=s.seed, patience=s.patience, lr_decay=s.lr_decay)
    state = fit(trainer, data, state, config, run=run.record(), report=Report(progress=not args.no_progress))
    png = plot_history(state.history, Path(run.out).with_suffix(".png"), f"{s.model} on {s.corpus}")
    best = best_path(run.out) if best_path(run.out).exists() else run.out
    print(f"Saved {run.out}" + (f", the best model {best}" if best != run.out else "") + f" and the loss curves {png}")

    model.set_params(read_weights(best))
    report_heldout(data, lambda split: trainer.evaluate(*data.xy(split)), " (best model)")
    print_samples(model, data.vocab, args.samples, 5, seed=s.seed)
