"""Rerank n-best lists: add the model's weighted log-probability to each hypothesis' own score.

    rnnlm rescore runs/gru.best.npz nbest.tsv --weight 0.5
    rnnlm rescore runs/gru.best.npz - --log-base 10 --json < nbest.tsv

Input: one hypothesis per line, tab-separated, ``ID<TAB>TEXT`` or ``ID<TAB>SCORE<TAB>TEXT`` (SCORE, e.g.
a recogniser's or translator's log-score, defaults to 0); the lines of one ID form its list. Output, for
every ID in input order, its hypotheses best first: ``ID  RANK  TOTAL  SCORE  LM  TEXT``, where LM is the
model's log-probability of the text as one sentence (in --log-base) and TOTAL = SCORE + weight x LM.
"""
from .flags import add_model_file_args, add_report_args, number

USAGE = "MODEL NBEST [flags]"


def add_arguments(ap):
    add_model_file_args(ap)
    ap.add_argument("nbest", metavar="NBEST", help="the n-best file (- for standard input)")
    ap.add_argument("--weight", type=number(float, 0), default=1.0, help="the model's weight (lambda)")
    add_report_args(ap)
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")


def read_nbest(lines, name="NBEST"):
    """``[(id, score, text), ...]`` from the lines of an n-best file; a malformed line is a one-line error."""
    import math

    from lmkit.errors import DataError

    hypotheses = []
    for number_, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) == 2:
            (key, text), score = fields, 0.0
        elif len(fields) == 3:
            key, score, text = fields
            try:
                score = float(score)
            except ValueError:
                score = float("nan")
            if not math.isfinite(score):
                raise DataError(f"{name}, line {number_}: the score {fields[1]!r} is not a finite number")
        else:
            raise DataError(f"{name}, line {number_}: expected ID<TAB>TEXT or ID<TAB>SCORE<TAB>TEXT, "
                            f"found {len(fields)} tab-separated fields")
        hypotheses.append((key, score, text))
    if not hypotheses:
        raise DataError(f"{name}: no hypotheses")
    return hypotheses


def rerank(hypotheses, lm_scores, weight):
    """``{id: [(total, score, lm, text), ...] best first}`` in the order the ids first appear."""
    lists = {}
    for (key, score, text), lm in zip(hypotheses, lm_scores):
        lists.setdefault(key, []).append((score + weight * lm, score, lm, text))
    return {key: sorted(entries, key=lambda e: -e[0]) for key, entries in lists.items()}


def run(args):
    import functools
    from tqdm import tqdm

    from lmkit.data.sources import read_stdin
    from lmkit.data.tokenize import tokenize_sentence
    from lmkit.errors import DataError
    from lmkit.scoring import LOG_BASES, sentence_logprobs

    from .models import open_with_vocab
    from .score import json_line

    if args.nbest == "-":
        hypotheses = read_nbest(read_stdin().splitlines(), "standard input")
    else:
        try:
            with open(args.nbest, encoding="utf-8") as fh:
                hypotheses = read_nbest(fh, args.nbest)
        except (OSError, UnicodeDecodeError) as exc:  # noqa: B014
            raise DataError(f"{args.nbest}: cannot read it ({exc})") from None
    model, vocab, _ = open_with_vocab(args.model, args.vocab, mode=args.mode)
    encoded = [vocab.encode(tokenize_sentence(text.lower())) for _, _, text in hypotheses]
    bar = functools.partial(tqdm, desc="rescoring", unit="hyp", leave=False, disable=args.no_progress)
    lm = [float(lp.sum()) / LOG_BASES[args.log_base] for lp in sentence_logprobs(model, encoded, progress=bar)]
    for key, entries in rerank(hypotheses, lm, args.weight).items():
        for rank, (total, score, lm_score, text) in enumerate(entries, 1):
            if args.json:
                print(json_line({"id": key, "rank": rank, "total": total, "score": score,
                                 f"lm_{args.log_base}": lm_score, "text": text}))
            else:
                print(f"{key}\t{rank}\t{total:.4f}\t{score:.4f}\t{lm_score:.4f}\t{text}")
