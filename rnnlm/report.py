"""What the commands print besides their results: warnings, held-out figures, samples, the tutorial's step time."""
import sys
import time


def warn(message):
    print(f"warning: {message}", file=sys.stderr)


def report_heldout(data, score, label=""):
    """Print ``score(split)`` for the validation and test splits that exist: the last lines of every trainer."""
    for split in ("valid", "test"):
        if getattr(data, split):
            print(f"{split}{label}: {score(split)}")


def time_sgd_step(model, X, Y, *step_args):
    """Compile the model, then time one ``sgd_step`` on sentence 10 and print it as the tutorial did.

    One untimed step comes first, counted in the compile time: the first call of a compiled function sets it
    up (in JAX mode, compiles it for the sentence's length bucket). Like the tutorial's
    timing, these steps update the weights.
    """
    i = min(10, len(X) - 1)
    start = time.perf_counter()
    model.compile("sgd_step")
    model.sgd_step(X[i], Y[i], *step_args)   # JAX compiles the sentence's length bucket here
    model.wait()
    print(f"Compiled in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    model.sgd_step(X[i], Y[i], *step_args)
    model.wait()   # JAX returns before the step has run
    print(f"SGD Step time: {(time.perf_counter() - start) * 1000.0:f} milliseconds ({len(X[i])} words)")


def print_samples(model, vocab, n, min_length, rules="part2", seed=None):
    """``n`` sampled sentences, one per line after ``  > `` (the model read word by word: O(C) per word)."""
    from lmkit.sampling import generate_sentences

    for words in generate_sentences(model, vocab, n=n, min_length=min_length, rules=rules, seed=seed):
        print("  >", " ".join(words))


def compiled_graphs(model):
    """The programs a per-sentence trainer's model compiled: its own functions (one per input shape in JAX
    mode), the batched scorer's and the step API's."""
    from lmkit.scoring import _scorers

    return model.compiled_graphs() + (model in _scorers) + (getattr(model, "_step_fn", None) is not None)
