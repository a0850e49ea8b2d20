"""Train the tutorial's GRU (or an LSTM) language model, Part 4 style: one RMSprop step per sentence.

The defaults are those of the tutorial's ``train.py`` (vocabulary 2000, hidden 128, 2 layers, learning
rate 0.001, 20 epochs, a report every 25,000 examples: loss, samples, checkpoint); its environment
variables VOCABULARY_SIZE, HIDDEN_DIM, EMBEDDING_DIM, LEARNING_RATE, NEPOCH, PRINT_EVERY and
MODEL_OUTPUT_FILE still work, and flags override both:

    rnnlm part4 --max-sentences 5000 --epochs 2 --print-every 2000
    rnnlm part4 --resume runs/gru-part4.npz
"""
from .flags import (POSITIVE, POSITIVE_INT, RATE, add_backend_args, add_data_args, add_output_args,
                    env_default)



def add_arguments(ap):
    add_data_args(ap, vocab_size=env_default("VOCABULARY_SIZE", 2000), convention="part4")
    m = ap.add_argument_group("model")
    m.add_argument("--model", choices=["gru", "lstm"], default="gru")
    m.add_argument("--hidden-dim", type=POSITIVE_INT, default=env_default("HIDDEN_DIM", 128))
    m.add_argument("--embed-dim", type=POSITIVE_INT, default=env_default("EMBEDDING_DIM", None),
                   help="word-vector size (default: the hidden size, as the tutorial's code has it)")
    m.add_argument("--layers", type=POSITIVE_INT, default=2, help="stacked layers (the tutorial's 2)")
    m.add_argument("--gate", choices=["hard", "sigmoid"], default=None,
                   help="gate function (default: hard for the GRU as the tutorial, sigmoid for the LSTM)")
    add_backend_args(m)
    t = ap.add_argument_group("training")
    t.add_argument("--learning-rate", type=POSITIVE, default=env_default("LEARNING_RATE", 0.001))
    t.add_argument("--rmsprop-decay", type=RATE, default=0.9, help="RMSprop's decay of the squared gradients")
    t.add_argument("--epochs", type=POSITIVE_INT, default=env_default("NEPOCH", 20))
    t.add_argument("--print-every", type=POSITIVE_INT, default=env_default("PRINT_EVERY", 25000),
                   help="examples between reports (loss, samples, checkpoint)")
    t.add_argument("--loss-subsample", type=POSITIVE_INT, default=10000, help="training sentences the loss is on")
    t.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed")
    add_output_args(ap, "checkpoint path (default: runs/<model>-part4.npz)", samples=10, min_length=5,
                    out_default=env_default("MODEL_OUTPUT_FILE", None))
    ap.set_defaults(tie_weights=False)


def run(args):
    from lmkit.checkpoint import exclusive_output

    from .run import output_path

    with exclusive_output(output_path("part4", args)) as out:
        train(args, out)


def train(args, out):
    from tqdm import tqdm

    from gru_theano import train_with_sgd
    from lmkit.checkpoint import save_model
    from lmkit.scoring import score_corpus
    from lmkit.tutorial_loop import Progress, check_finite, loss_line

    from .report import compiled_graphs, print_samples, report_heldout, time_sgd_step
    from .run import start_or_resume

    run = start_or_resume("part4", args, out)
    s, model, data = run.settings, run.model, run.data
    start_epoch, start_index = (run.progress["epoch"], run.progress["index"]) if run.progress else (0, 0)
    if run.progress:
        print(f"Resuming {run.source} at epoch {start_epoch + 1}, sentence {start_index}")
    X, Y = data.xy("train")
    print(f"{len(X)} training sentences ({data.num_tokens()} words), vocabulary {len(data.vocab)}: {model}")
    if not run.progress:
        time_sgd_step(model, X, Y, s.learning_rate, s.rmsprop_decay)

    def report(model, at):
        # A report at the end of an epoch resumes at the start of the next one.
        epoch, index = (at.epoch + 1, 0) if at.index == len(X) else (at.epoch, at.index)
        save_model(run.out, model, data.vocab, run.record({
            "epoch": epoch, "index": index, "num_examples_seen": at.num_examples_seen, "loss": at.loss}))
        print(f"Saved model parameters to {run.out}.")
        print_samples(model, data.vocab, args.samples, args.min_length, rules="part4", seed=at.num_examples_seen)

    def bar(positions, epoch):
        return tqdm(positions, desc=f"epoch {epoch + 1}/{s.epochs}", unit="sent", leave=False, mininterval=1.0,
                    disable=args.no_progress)

    train_with_sgd(model, X, Y, learning_rate=s.learning_rate, nepoch=s.epochs, decay=s.rmsprop_decay,
                   callback_every=s.print_every, callback=report, seed=s.seed, start_epoch=start_epoch,
                   start_index=start_index, progress=bar, loss_subsample=s.loss_subsample)
    seen = s.epochs * len(X)
    if seen % s.print_every:  # the last examples were not reported yet: report them as the loop would
        loss = check_finite(model.calculate_loss(X[:s.loss_subsample], Y[:s.loss_subsample]), seen,
                            s.learning_rate)
        print(loss_line(seen, s.epochs - 1, loss))
        report(model, Progress(seen, s.epochs - 1, len(X), loss, s.learning_rate))
    report_heldout(data, lambda split: score_corpus(model, getattr(data, split)))
    print(f"{compiled_graphs(model)} compiled graphs ({s.mode or 'c'} backend)")
