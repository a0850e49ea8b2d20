"""The data a command works on, from its settings: the corpus split into a Dataset, and vocabularies from files.

``settings`` is a run's settings (:class:`rnnlm.run.Settings`), a checkpoint's recorded settings dict, or
the parsed flags of ``stats``: anything with the data keys of :data:`DATA_KEYS`.
"""
from lmkit.errors import UsageError

from .report import warn

# The data settings a checkpoint records, so that scoring and resuming rebuild the very same splits.
DATA_KEYS = ("corpus", "vocab_size", "convention", "max_sentences", "valid_fraction", "test_fraction",
             "split_seed", "no_cache")
# Above this share of unknown words a reused vocabulary gets a warning: the text is not what it was made for.
HIGH_UNKNOWN_RATE = 0.1


def load_vocabulary(path):
    """A vocabulary from a JSON file (``Vocabulary.save``) or from a checkpoint that stores one (a shipped
    model's too: ``pretrained:NAME``)."""
    import zipfile

    from lmkit.data import Vocabulary

    from .pretrained import resolve

    path = resolve(path)

    if not zipfile.is_zipfile(path):
        return Vocabulary.load(path)
    from lmkit.checkpoint import read_meta
    from lmkit.errors import CheckpointError

    stored = read_meta(path).get("vocab")
    if not stored:
        raise CheckpointError(f"{path}: stores no vocabulary")
    return Vocabulary.from_dict(stored, source=path)


def warn_if_unknown(vocab, sentences, what):
    """Warn when more than :data:`HIGH_UNKNOWN_RATE` of the words of ``sentences`` are not in ``vocab``."""
    rate = vocab.unknown_rate(sentences)
    if rate > HIGH_UNKNOWN_RATE:
        warn(f"{100 * rate:.1f}% of the words of {what} are not in the vocabulary (read as UNKNOWN_TOKEN)")
    return rate


def load_sentences_of(settings):
    """The tokenized sentences of the corpus the settings name (the Part 4 filter for its convention)."""
    from lmkit.data import load_sentences

    return load_sentences(settings["corpus"], drop_http=settings["convention"] == "part4",
                          use_cache=not settings["no_cache"], max_sentences=settings["max_sentences"])


def load_dataset(settings, vocab=None, explicit=()):
    """The Dataset the data settings describe.

    The vocabulary is ``vocab`` if given, else the one in the ``vocab`` setting if set, else built on the
    training split. A reused vocabulary that leaves many words of the corpus unknown gets a warning, and so
    do ``--vocab-size`` and ``--min-count`` given (``explicit``) with a stored vocabulary.
    """
    from lmkit.data import build_dataset

    missing = [k for k in DATA_KEYS if k not in settings]
    if missing:
        raise UsageError(f"the data settings lack {', '.join(missing)}")
    sentences = load_sentences_of(settings)
    if vocab is None and settings.get("vocab"):
        vocab = load_vocabulary(settings["vocab"])
    if vocab is not None:
        for key in ("vocab_size", "min_count"):
            if key in explicit:
                warn(f"--{key.replace('_', '-')} has no effect: the vocabulary is a stored one")
        warn_if_unknown(vocab, sentences, settings["corpus"])
    return build_dataset(sentences, settings["vocab_size"], convention=settings["convention"],
                         valid_fraction=settings["valid_fraction"], test_fraction=settings["test_fraction"],
                         seed=settings["split_seed"], vocab=vocab, min_count=settings.get("min_count", 1))


def describe(data):
    """The line every trainer prints about its data."""
    return (f"{len(data.train)} training sentences ({data.num_tokens()} words), {len(data.valid)} validation, "
            f"{len(data.test)} test; vocabulary {len(data.vocab)}")
