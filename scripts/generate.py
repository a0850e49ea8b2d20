#!/usr/bin/env python
"""Generate sentences from a saved model (vanilla RNN, GRU or LSTM).

    python scripts/generate.py runs/rnn.npz -n 10 --min-length 7
    python scripts/generate.py runs/gru.npz --rules part4 --temperature 0.8 --top-k 50 --prefix "my lord"
"""
import sys

from lmkit.cliargs import COUNT, POSITIVE_INT, number, parser, run
from lmkit.cliload import add_model_args, load_model_and_vocab
from lmkit.data.tokenize import word_splitter
from lmkit.errors import UsageError
from lmkit.sampling import generate_sentences


def main():
    ap = parser(__doc__.splitlines()[0])
    add_model_args(ap)
    ap.add_argument("-n", "--num-sentences", type=POSITIVE_INT, default=10)
    ap.add_argument("--min-length", type=COUNT, default=7, help="fewest words per sentence")
    # Each word re-reads the sentence so far (T x C probabilities), so the length is bounded to bound memory.
    ap.add_argument("--max-length", type=number(int, 1, 2000), default=100,
                    help="tokens before a sentence is abandoned (at most 2000)")
    ap.add_argument("--rules", choices=["part2", "part4"], default="part2",
                    help="part2: redraw UNKNOWN_TOKEN; part4: abandon the sentence on it")
    ap.add_argument("--temperature", type=number(float, 0, low_open=True), default=1.0)
    ap.add_argument("--top-k", type=POSITIVE_INT, default=None, help="sample among the k likeliest words only")
    ap.add_argument("--prefix", default="", help="text every sentence starts with")
    ap.add_argument("--seed", type=int, default=None, help="random seed for repeatable output")
    args = ap.parse_args()

    prefix = word_splitter()(args.prefix.lower()) if args.prefix else []
    # A sentence holds SENTENCE_START, the words and SENTENCE_END within --max-length tokens.
    if args.min_length + 2 > args.max_length or len(prefix) + 2 > args.max_length:
        raise UsageError(f"--max-length {args.max_length} leaves no room for --min-length {args.min_length} words "
                         f"(or the {len(prefix)}-word prefix) between SENTENCE_START and SENTENCE_END")
    model, vocab, _ = load_model_and_vocab(args)
    if args.top_k and args.top_k > len(vocab):
        raise UsageError(f"--top-k {args.top_k} is larger than the vocabulary ({len(vocab)} words)")
    unknown = [w for w in prefix if w not in vocab]
    if unknown:
        print(f"warning: prefix words not in the vocabulary, read as UNKNOWN_TOKEN: {' '.join(unknown)}",
              file=sys.stderr)
    for words in generate_sentences(model, vocab, args.num_sentences, args.min_length, args.rules, args.seed,
                                    args.temperature, args.top_k, prefix, args.max_length):
        print(" ".join(words))


if __name__ == "__main__":
    run(main)
