#!/usr/bin/env python
"""Generate sentences from a saved model (vanilla RNN, GRU or LSTM).

    python scripts/generate.py runs/rnn.npz -n 10 --min-length 7
    python scripts/generate.py runs/gru.npz --rules part4 --temperature 0.8 --top-k 50 --prefix "my lord"
"""
from lmkit.cliargs import parser, run
from lmkit.cliload import add_model_args, load_model_and_vocab
from lmkit.data.tokenize import word_splitter
from lmkit.sampling import generate_sentences


def main():
    ap = parser(__doc__.splitlines()[0])
    add_model_args(ap)
    ap.add_argument("-n", "--num-sentences", type=int, default=10)
    ap.add_argument("--min-length", type=int, default=7, help="fewest words per sentence")
    ap.add_argument("--max-length", type=int, default=100, help="tokens before a sentence is abandoned")
    ap.add_argument("--rules", choices=["part2", "part4"], default="part2",
                    help="part2: redraw UNKNOWN_TOKEN; part4: abandon the sentence on it")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-k", type=int, default=None)
    ap.add_argument("--prefix", default="", help="text every sentence starts with")
    ap.add_argument("--seed", type=int, default=None, help="random seed for repeatable output")
    args = ap.parse_args()

    model, vocab, _ = load_model_and_vocab(args)
    prefix = word_splitter()(args.prefix.lower()) if args.prefix else []
    for words in generate_sentences(model, vocab, args.num_sentences, args.min_length, args.rules, args.seed,
                                    args.temperature, args.top_k, prefix, args.max_length):
        print(" ".join(words))


if __name__ == "__main__":
    run(main)
