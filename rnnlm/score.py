"""Score text with a saved model: log-probability per sentence, cross-entropy and perplexity.

    rnnlm score runs/gru.best.npz --text "to be or not to be ."
    rnnlm score runs/gru.best.npz --file my_text.txt
    rnnlm score runs/gru.best.npz --split test     # a split of the corpus the model was trained on
"""
from .flags import add_backend_args

USAGE = "MODEL (--text TEXT | --file PATH | --split NAME) [flags]"
HELP = "log-probability and perplexity of text under a saved model"


def add_model_args(ap):
    """The model to open (shared with ``generate``)."""
    ap.add_argument("model", help="a checkpoint of this project, or a tutorial .npz (U,V,W or E,U,W,V,b,c)")
    ap.add_argument("--vocab", help="vocabulary JSON, for tutorial files that store none")
    add_backend_args(ap, dtype=False)


def add_arguments(ap):
    add_model_args(ap)
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="score these sentences and print each one's log-probability")
    what.add_argument("--file", help="score a text file, folder or .csv (perplexity over all of it)")
    what.add_argument("--split", choices=["train", "valid", "test"],
                      help="score a split of the corpus the checkpoint was trained on")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args):
    from tqdm import tqdm

    from lmkit.data import load_sentences, tokenize_documents
    from lmkit.errors import RNNLMError
    from lmkit.scoring import score_corpus, sentence_logprob

    from .flags import DATA_KEYS, load_dataset
    from .models import open_with_vocab

    model, vocab, meta = open_with_vocab(args.model, args.vocab, mode=args.mode)
    if args.text is not None:
        encoded = [vocab.encode(s) for s in tokenize_documents([args.text])]
        if not encoded:
            raise RNNLMError("--text holds no words to score")
        for s in encoded:
            print(f"{sentence_logprob(model, s):10.3f}  {' '.join(vocab.decode(s[1:-1]))}")
    elif args.file is not None:
        encoded = [vocab.encode(s) for s in load_sentences(args.file)]
    else:
        settings = meta["run"]["settings"]
        if not all(k in settings for k in DATA_KEYS):
            raise RNNLMError(f"{args.model}: does not record its corpus; use --file instead of --split")
        encoded = getattr(load_dataset(settings, vocab=vocab), args.split)
    if not any(len(s) > 1 for s in encoded):
        raise RNNLMError("nothing to score: no sentence with a word in it")
    bar = lambda it: tqdm(it, desc="scoring", unit="sent", leave=False, disable=args.no_progress)  # noqa: E731
    print(score_corpus(model, encoded, progress=bar))
