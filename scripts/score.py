#!/usr/bin/env python
"""Score text with a saved model: log-probability per sentence, cross-entropy and perplexity.

    python scripts/score.py runs/rnn.npz --text "to be or not to be ."
    python scripts/score.py runs/rnn.npz --file my_text.txt
    python scripts/score.py runs/rnn.npz --split test      # the held-out split the model was trained beside
"""
import argparse

from tqdm import tqdm

from lmkit.cliargs import add_data_args, load_dataset, parser, run
from lmkit.cliload import add_model_args, load_model_and_vocab
from lmkit.data import load_sentences, tokenize_documents
from lmkit.errors import RNNLMError
from lmkit.scoring import score_corpus, sentence_logprob


def main():
    ap = parser(__doc__.splitlines()[0])
    add_model_args(ap)
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="score these sentences and print each one's log-probability")
    what.add_argument("--file", help="score a text file, folder or .csv (perplexity over all of it)")
    what.add_argument("--split", choices=["train", "valid", "test"],
                      help="score a split of the corpus the checkpoint was trained on")
    add_data_args(ap)
    args = ap.parse_args()

    model, vocab, meta = load_model_and_vocab(args)
    if args.text is not None:
        encoded = [vocab.encode(s) for s in tokenize_documents([args.text])]
        if not encoded:
            raise RNNLMError("--text holds no words to score")
        for s in encoded:
            print(f"{sentence_logprob(model, s):10.3f}  {' '.join(vocab.decode(s[1:-1]))}")
    elif args.file is not None:
        encoded = [vocab.encode(s) for s in load_sentences(args.file)]
    else:
        data = meta.get("extra", {}).get("data")
        if not data:
            raise RNNLMError(f"{args.model}: does not record its corpus; use --file instead of --split")
        encoded = getattr(load_dataset(argparse.Namespace(**data), vocab=vocab), args.split)
    if not any(len(s) > 1 for s in encoded):
        raise RNNLMError("nothing to score: no sentence with a word in it")
    print(score_corpus(model, encoded, progress=lambda it: tqdm(it, desc="scoring", unit="sent",
                                                                  leave=False)))


if __name__ == "__main__":
    run(main)
