"""Generate sentences from a saved model (vanilla RNN, GRU or LSTM): sampling, greedy or beam search.

    rnnlm generate runs/gru.best.npz -n 10 --min-length 7
    rnnlm generate runs/gru.best.npz --temperature 0.8 --top-p 0.9 --prefix "my lord"
    rnnlm generate runs/gru.best.npz --method beam --beam-width 10 -n 3 --length-penalty 1

Sampling draws each word from the model (--temperature, --top-k, --top-p reshape the distribution);
greedy takes the likeliest word; beam search keeps the --beam-width likeliest partial sentences and
prints the n best with their log-probabilities. All three share --prefix, --min-length, --max-length and
the rules: START and <MASK/> never generated; UNKNOWN_TOKEN redrawn (part2) or the sentence abandoned
(part4) when sampling, never chosen by greedy or beam search.
"""
from .flags import COUNT, POSITIVE, POSITIVE_INT, number
from .score import add_model_args

USAGE = "MODEL [flags]"
HELP = "generate sentences from a saved model"


def add_arguments(ap):
    add_model_args(ap)
    ap.add_argument("--method", choices=["sample", "greedy", "beam"], default="sample", help="how words are chosen")
    ap.add_argument("-n", "--samples", type=POSITIVE_INT, default=10, help="sentences to generate (beam: the n best)")
    ap.add_argument("--min-length", type=COUNT, default=7, help="fewest words per sentence")
    # Each word re-reads the sentence so far (T x C probabilities), so the length is bounded to bound memory.
    ap.add_argument("--max-length", type=number(int, 1, 2000), default=100,
                    help="tokens before a sentence is abandoned (at most 2000)")
    ap.add_argument("--rules", choices=["part2", "part4"], default=None,
                    help="part2: redraw UNKNOWN_TOKEN; part4: abandon the sentence on it "
                         "(default: the checkpoint's --convention, else part2)")
    ap.add_argument("--temperature", type=POSITIVE, default=1.0)
    ap.add_argument("--top-k", type=POSITIVE_INT, default=None, help="sample among the k likeliest words only")
    ap.add_argument("--top-p", type=number(float, 0, 1, low_open=True), default=None,
                    help="sample among the likeliest words holding this much probability (nucleus)")
    ap.add_argument("--beam-width", type=POSITIVE_INT, default=10, help="partial sentences kept by beam search")
    ap.add_argument("--length-penalty", type=number(float, 0), default=0.0,
                    help="beam: rank by log p / length^this (0: plain log p)")
    ap.add_argument("--prefix", default="", help="text every sentence starts with")
    ap.add_argument("--seed", type=int, default=None, help="random seed for repeatable output")


def run(args):
    from lmkit.data.tokenize import word_splitter
    from lmkit.errors import UsageError
    from lmkit.sampling import beam_search, generate_sentences, greedy

    from .flags import warn
    from .models import open_with_vocab

    prefix = word_splitter()(args.prefix.lower()) if args.prefix else []
    # A sentence holds SENTENCE_START, the words and SENTENCE_END within --max-length + 1 tokens; this
    # keeps --min-length words and the prefix inside that with room to spare.
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
    sampling_only = [f for f in ("temperature", "top_k", "top_p", "seed") if f in args.explicit]
    if args.method != "sample" and sampling_only:
        raise UsageError(f"--{sampling_only[0].replace('_', '-')} applies to --method sample")
    if args.method == "sample":
        for words in generate_sentences(model, vocab, args.samples, args.min_length, rules, args.seed,
                                        args.temperature, args.top_k, prefix, args.max_length, top_p=args.top_p):
            print(" ".join(words))
        return
    if args.method == "greedy":
        found = [greedy(model, vocab, args.min_length, rules, prefix, args.max_length)]
    else:
        found = beam_search(model, vocab, args.beam_width, args.samples, args.min_length, rules, prefix,
                            args.max_length, args.length_penalty)
    for h in found:
        print(f"{h.logprob:10.3f}  {' '.join(h.words)}")
