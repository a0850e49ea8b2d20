"""Score text with a saved model: log-probabilities per sentence or per word, and perplexity.

    rnnlm score runs/gru.best.npz --text "To be, or not to be."          # one line per sentence
    rnnlm score runs/gru.best.npz --text "To be, or not to be." --words --log-base 10
    rnnlm score runs/gru.best.npz --file play.txt --json > scores.jsonl
    cat play.txt | rnnlm score runs/gru.best.npz --file -
    rnnlm score runs/gru.best.npz --split test     # a split of the corpus the model was trained on

The summary gives SRILM's ppl (SENTENCE_END counted) and ppl1 (not counted), each also without the
words outside the vocabulary (README, Scoring text). --file and --split go through the batched graph.
"""
import argparse

from .flags import add_model_file_args, add_report_args

USAGE = "MODEL (--text TEXT | --file PATH | --split NAME) [flags]"


def add_arguments(ap):
    add_model_file_args(ap)
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="score these sentences")
    what.add_argument("--file", metavar="PATH", help="a text file, folder or .csv; - reads standard input")
    what.add_argument("--split", choices=["train", "valid", "test"],
                      help="a split of the corpus the checkpoint was trained on")
    ap.add_argument("--sentences", action=argparse.BooleanOptionalAction, default=None,
                    help="a line per sentence (default: on for --text)")
    ap.add_argument("--words", action="store_true", help="every word's log-probability too")
    add_report_args(ap)
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")


def read_text(args, vocab, meta):
    """Tokenized sentences (START ... END) from --text, --file or --split; the split's are decoded."""
    from lmkit.data import load_sentences, tokenize_documents
    from lmkit.data.sources import paragraphs, read_stdin
    from lmkit.errors import RNNLMError

    from .data import DATA_KEYS, load_dataset
    from .run import check_corpus

    if args.text is not None:
        return tokenize_documents([args.text])
    if args.file == "-":  # read as a file would be: UTF-8 bytes, paragraphs
        return tokenize_documents(paragraphs(read_stdin()))
    if args.file is not None:
        return load_sentences(args.file)
    settings = meta["run"]["settings"]
    if not all(k in settings for k in DATA_KEYS):
        raise RNNLMError(f"{args.model}: does not record its corpus; use --file instead of --split")
    data = load_dataset(settings, vocab=vocab)
    check_corpus(settings["corpus"], meta["run"].get("data"), args.model)
    return [vocab.decode(s) for s in getattr(data, args.split)]


def json_line(record):
    """One line of strict JSON: a log-probability of -inf (a word the model rules out) or a NaN is null."""
    import json
    import math

    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        return v

    return json.dumps(clean(record), ensure_ascii=False, allow_nan=False)


def run(args):
    import functools

    from tqdm import tqdm

    from lmkit.errors import RNNLMError
    from lmkit.scoring import LOG_BASES, Score, sentence_logprobs

    from .data import warn_if_unknown
    from .models import open_with_vocab

    model, vocab, meta = open_with_vocab(args.model, args.vocab, mode=args.mode)
    sentences = [s for s in read_text(args, vocab, meta) if len(s) > 2]
    if not sentences:
        raise RNNLMError("--text holds no words to score" if args.text is not None
                         else "nothing to score: no sentence with a word in it")
    warn_if_unknown(vocab, sentences, "--text" if args.text is not None else args.file or f"the {args.split} split")
    encoded = [vocab.encode(s) for s in sentences]
    bar = functools.partial(tqdm, desc="scoring", unit="sent", leave=False, disable=args.no_progress)
    logprobs = sentence_logprobs(model, encoded, progress=bar)

    base, div = args.log_base, LOG_BASES[args.log_base]
    per_sentence = args.sentences if args.sentences is not None else args.text is not None
    unk = vocab.unknown_index
    for tokens, ids, lp in zip(sentences, encoded, logprobs):
        if not (per_sentence or args.words):
            break
        targets = tokens[1:]
        unknown = [bool(i == unk) for i in ids[1:-1]] + [False]
        if args.json:
            record = {"text": " ".join(targets[:-1]), f"logprob_{base}": float(lp.sum()) / div,
                      "words": len(targets) - 1, "unknown": sum(unknown)}
            if args.words:
                record["word_logprobs"] = [[w, float(p) / div, u] for w, p, u in zip(targets, lp, unknown)]
            print(json_line(record))
            continue
        if args.words:
            for w, p, u in zip(targets, lp, unknown):
                print(f"  {p / div:10.4f}  {w}{'  <unk>' if u else ''}")
        print(f"{lp.sum() / div:10.3f}  {' '.join(targets[:-1])}" + (f"  ({sum(unknown)} unknown)" if any(unknown) else ""))

    score = Score.of(encoded, logprobs, unk)
    if args.json:
        print(json_line({"summary": score.as_dict(base)}))
        return
    print(score)
    print(f"logprob {score.total_logprob / div:.3f} (base {base}); {score.words - score.sentences} words, "
          f"{score.unknown} unknown; ppl {score.perplexity:.2f}, ppl1 {score.ppl1:.2f}; without unknown words: "
          f"ppl {score.ppl_known:.2f}, ppl1 {score.ppl1_known:.2f}")
