"""Train the tutorial's vanilla RNN language model (Part 2): one SGD step per sentence.

The defaults are those of the tutorial's ``train-theano.py``; its environment variables VOCABULARY_SIZE,
HIDDEN_DIM, LEARNING_RATE, NEPOCH and MODEL_FILE still work, and flags override both:

    rnnlm part2                                   # the original settings (hours)
    rnnlm part2 --max-sentences 2000 --vocab-size 2000 --hidden-dim 50 --epochs 4
"""
from .flags import (BPTT_TRUNCATE, POSITIVE, POSITIVE_INT, add_backend_args, add_data_args, add_output_args,
                    env_default)



def add_arguments(ap):
    add_data_args(ap, vocab_size=env_default("VOCABULARY_SIZE", 8000))
    m = ap.add_argument_group("model and training")
    m.add_argument("--hidden-dim", type=POSITIVE_INT, default=env_default("HIDDEN_DIM", 80))
    m.add_argument("--bptt-truncate", type=BPTT_TRUNCATE, default=4,
                   help="scan's truncate_gradient, -1 for full BPTT (rnn_theano/README.md, Truncation)")
    m.add_argument("--learning-rate", type=POSITIVE, default=env_default("LEARNING_RATE", 0.005))
    m.add_argument("--epochs", type=POSITIVE_INT, default=env_default("NEPOCH", 100))
    m.add_argument("--evaluate-loss-after", type=POSITIVE_INT, default=5, help="epochs between loss evaluations")
    m.add_argument("--init", metavar="MODEL", default=env_default("MODEL_FILE", None),
                   help="start from these weights (a checkpoint or a tutorial U,V,W file)")
    m.add_argument("--seed", type=int, default=10, help="weight initialisation seed (the blog used 10)")
    add_backend_args(m)
    add_output_args(ap, "checkpoint written at every evaluation and at the end", samples=5, min_length=7,
                    resume=False, out_default="runs/rnn.npz")
    ap.set_defaults(model="rnn")


def run(args):
    from lmkit.checkpoint import exclusive_output

    from .run import output_path

    with exclusive_output(output_path("part2", args)) as out:
        train(args, out)


def train(args, out):
    from tqdm import tqdm

    from lmkit.checkpoint import save_model
    from lmkit.scoring import score_corpus
    from lmkit.tutorial_loop import Progress
    from rnn_theano import train_with_sgd

    from .report import compiled_graphs, print_samples, report_heldout, time_sgd_step
    from .run import start_or_resume

    run = start_or_resume("part2", args, out)
    s, model, data, vocab = run.settings, run.model, run.data, run.vocab
    X, Y = data.xy("train")
    print(f"{len(X)} training sentences ({data.num_tokens()} words), {len(data.valid)} validation, "
          f"{len(data.test)} test; vocabulary {len(vocab)}")
    if s.init:
        print(f"Starting from {s.init}: {model}")
    time_sgd_step(model, X, Y, s.learning_rate)

    def report(model, at):
        valid = score_corpus(model, data.valid) if data.valid else None
        if valid:
            print(f"  validation: {valid}")
        save_model(run.out, model, vocab, run.record(at._asdict()))
        print_samples(model, vocab, args.samples, args.min_length, seed=at.epoch)

    bar = lambda it: tqdm(it, total=len(X), desc="sgd", unit="sent", leave=False, mininterval=1.0,  # noqa: E731
                          disable=args.no_progress)
    losses, lr = train_with_sgd(model, X, Y, learning_rate=s.learning_rate, nepoch=s.epochs,
                                evaluate_loss_after=s.evaluate_loss_after, callback=report, progress=bar)
    final = model.calculate_loss(X, Y)
    print(f"Loss after {s.epochs} epochs: {final:f} (learning rate now {lr:g})")
    report(model, Progress(s.epochs * len(X), s.epochs, 0, final, lr))
    report_heldout(data, lambda split: score_corpus(model, getattr(data, split)))
    print(f"Saved {run.out}; {compiled_graphs(model)} compiled graphs ({s.mode or 'c'} backend)")
