"""Small fixtures shared by several test files: toy corpora and weight randomisation."""
import numpy as np

QUIET = {"log": lambda *args: None}


def markov_corpus(num_sentences, word_dim, seed):
    """Sentences from a random Markov chain: word 0 starts, word 1 ends, each word has 2 successors.

    Returns ``(X, Y)`` with ``Y`` = ``X`` shifted by one, as for a language model.
    """
    rng = np.random.RandomState(seed)
    successors = [rng.choice(np.arange(2, word_dim), 2, replace=False) for _ in range(word_dim)]
    X, Y = [], []
    for _ in range(num_sentences):
        sentence = [0]
        for _ in range(rng.randint(4, 11)):
            sentence.append(int(rng.choice(successors[sentence[-1]])))
        sentence.append(1)
        X.append(sentence[:-1])
        Y.append(sentence[1:])
    return X, Y


def markov_dataset(word_dim, n=40, seed=3):
    """A ``Dataset`` of ``n`` sentences (3-12 words) from a random Markov chain over ``word_dim`` words, the
    last 8 held out for validation: something a model can learn. Word 0 starts, 1 ends, the last is UNKNOWN."""
    from lmkit.data import Dataset, Vocabulary

    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.full(word_dim - 2, 0.3), size=word_dim)
    sents = []
    for _ in range(n):
        s = [0]
        while len(s) < 12 and (len(s) < 3 or rng.random() > 0.15):
            s.append(2 + int(rng.choice(word_dim - 2, p=table[s[-1]])))
        s.append(1)
        sents.append(np.array(s, dtype=np.int32))
    words = ["SENTENCE_START", "SENTENCE_END"] + [f"w{i}" for i in range(word_dim - 3)] + ["UNKNOWN_TOKEN"]
    return Dataset(Vocabulary(words), sents[: n - 8], sents[n - 8:])


def randomized(model, seed, scale=0.6):
    """Give every weight of a GRU/LSTM (biases included, so a mixed-up bias block shows) a random value."""
    rng = np.random.RandomState(seed)
    model.set_params({name: rng.uniform(-scale, scale, var.get_value().shape)
                      for name, var in model.params.items()}, with_cache=False)
    return model


class ReadsHistory:
    """The step API (``initial_state``, ``step``) for a test model that defines only ``predict_proba(x)``.

    The state is each sentence's words so far (an object array, the batch on its last axis, as the library
    expects) and a step re-reads the whole history with ``predict_proba``: quadratic, and independent of the
    real models' step code, which is the point. ``steps`` records the batch size of every call.
    """

    def initial_state(self, batch=1):
        histories = np.empty(batch, dtype=object)
        for i in range(batch):
            histories[i] = ()
        return [histories]

    def step(self, state, words):
        self.steps = getattr(self, "steps", []) + [len(words)]
        histories = np.empty(len(words), dtype=object)
        for i, (history, word) in enumerate(zip(state[0], words)):
            histories[i] = (*history, int(word))
        probs = np.stack([np.asarray(self.predict_proba(np.array(h)), dtype=np.float64)[-1] for h in histories])
        with np.errstate(divide="ignore"):
            return [histories], np.log(probs)


class TableModel(ReadsHistory):
    """p(next | previous word) from a fixed table, with the step API."""

    def __init__(self, table):
        self.table = np.asarray(table, dtype=np.float32)

    def predict_proba(self, x):
        return self.table[np.asarray(x)]


def rnnlm(*args, stdin=None):
    """Run ``rnnlm ARGS`` in this process (the same code as the installed command, without the start-up
    of a new interpreter); returns what ``subprocess.run`` would: returncode, stdout and stderr."""
    import contextlib
    import io
    import subprocess
    import sys

    from rnnlm.cli import main

    out, err, code = io.StringIO(), io.StringIO(), 0
    saved_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO((stdin or "").encode()), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    finally:
        sys.stdin = saved_stdin
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
