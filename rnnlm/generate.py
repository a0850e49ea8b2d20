"""Generate sentences from a saved model (vanilla RNN, GRU or LSTM).

    rnnlm generate runs/gru.best.npz -n 10 --min-length 7
    rnnlm generate runs/gru.best.npz --temperature 0.8 --top-k 50 --prefix "my lord"
"""
from .flags import COUNT, POSITIVE, POSITIVE_INT, number
from .score import add_model_args

USAGE = "MODEL [flags]"
HELP = "generate sentences from a saved model"


def add_arguments(ap):
    add_model_args(ap)
    ap.add_argument("-n", "--samples", type=POSITIVE_INT, default=10, help="sentences to generate")
    ap.add_argument("--min-length", type=COUNT, default=7, help="fewest words per sentence")
    # Each word re-reads the sentence so far (T x C probabilities), so the length is bounded to bound memory.
    ap.add_argument("--max-length", type=number(int, 1, 2000), default=100,
                    help="tokens before a sentence is abandoned (at most 2000)")
    ap.add_argument("--rules", choices=["part2", "part4"], default=None,
                    help="part2: redraw UNKNOWN_TOKEN; part4: abandon the sentence on it "
                         "(default: the checkpoint's --convention, else part2)")
    ap.add_argument("--temperature", type=POSITIVE, default=1.0)
    ap.add_argument("--top-k", type=POSITIVE_INT, default=None, help="sample among the k likeliest words only")
    ap.add_argument("--prefix", default="", help="text every sentence starts with")
    ap.add_argument("--seed", type=int, default=None, help="random seed for repeatable output")


def run(args):
    from lmkit.data.tokenize import word_splitter
    from lmkit.errors import UsageError
    from lmkit.sampling import generate_sentences

    from .flags import warn
    from .models import open_with_vocab

    prefix = word_splitter()(args.prefix.lower()) if args.prefix else []
    # A sentence holds SENTENCE_START, the words and SENTENCE_END within --max-length tokens.
    if args.min_length + 2 > args.max_length or len(prefix) + 2 > args.max_length:
        raise UsageError(f"--max-length {args.max_length} leaves no room for --min-length {args.min_length} words "
                         f"(or the {len(prefix)}-word prefix) between SENTENCE_START and SENTENCE_END")
    model, vocab, meta = open_with_vocab(args.model, args.vocab, mode=args.mode)
    if args.top_k and args.top_k > len(vocab):
        raise UsageError(f"--top-k {args.top_k} is larger than the vocabulary ({len(vocab)} words)")
    rules = args.rules or meta["run"]["settings"].get("convention", "part2")
    unknown = [w for w in prefix if w not in vocab]
    if unknown:
        warn(f"prefix words not in the vocabulary, read as UNKNOWN_TOKEN: {' '.join(unknown)}")
    for words in generate_sentences(model, vocab, args.samples, args.min_length, rules, args.seed,
                                    args.temperature, args.top_k, prefix, args.max_length):
        print(" ".join(words))
