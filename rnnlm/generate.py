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
from .flags import COUNT, POSITIVE_INT, add_model_file_args, number

USAGE = "MODEL [flags]"
# Each word costs one step of the model (O(C) work and memory), so the length only bounds the time taken.
MAX_LENGTH = 100_000
# Beam search keeps width x C candidate scores a step (8 MB at width 100, C = 8000): a bound on memory.
MAX_BEAM = 1000
# Below this, temperature makes sampling (nearly) deterministic: the likeliest word every time.
MIN_TEMPERATURE = 0.01


def TEMPERATURE(text):
    """``--temperature``: a number of at least :data:`MIN_TEMPERATURE`."""
    import argparse

    value = number(float, 0, low_open=True)(text)
    if value < MIN_TEMPERATURE:
        raise argparse.ArgumentTypeError(f"{value:g} is below {MIN_TEMPERATURE}: sampling would take the likeliest "
                                         "word every time; use --method greedy for that")
    return value


def add_arguments(ap):
    add_model_file_args(ap)
    ap.add_argument("--method", choices=["sample", "greedy", "beam"], default="sample", help="how words are chosen")
    ap.add_argument("-n", "--samples", type=POSITIVE_INT, default=10, help="sentences to generate (beam: the n best)")
    ap.add_argument("--min-length", type=COUNT, default=7, help="fewest words per sentence")
    ap.add_argument("--max-length", type=number(int, 1, MAX_LENGTH), default=100,
                    help=f"most words per sentence, prefix included; a longer one is abandoned (up to {MAX_LENGTH:,})")
    ap.add_argument("--rules", choices=["part2", "part4"], default=None,
                    help="part2: redraw UNKNOWN_TOKEN; part4: abandon the sentence on it "
                         "(default: the checkpoint's --convention, else part2)")
    ap.add_argument("--temperature", type=TEMPERATURE, default=1.0, metavar="X", help="<1 sharper, >1 flatter")
    ap.add_argument("--top-k", type=POSITIVE_INT, default=None, help="sample among the k likeliest words only")
    ap.add_argument("--top-p", type=number(float, 0, 1, low_open=True), default=None,
                    help="sample among the likeliest words holding this much probability (nucleus)")
    ap.add_argument("--beam-width", type=number(int, 1, MAX_BEAM), default=10,
                    help=f"partial sentences kept by beam search (at most {MAX_BEAM})")
    ap.add_argument("--length-penalty", type=number(float, 0), default=0.0,
                    help="beam: rank by log p / length^this (0: plain log p)")
    ap.add_argument("--prefix", default="", help="text every sentence starts with")
    ap.add_argument("--seed", type=int, default=None, help="random seed for repeatable output")


def run(args):
    from lmkit.data.tokenize import word_splitter
    from lmkit.errors import UsageError
    from lmkit.sampling import beam_search, generate_sentences, greedy

    from .models import open_with_vocab
    from .report import warn

    prefix = word_splitter()(args.prefix.lower()) if args.prefix else []
    if args.min_length > args.max_length or len(prefix) > args.max_length:
        raise UsageError(f"--max-length {args.max_length} is shorter than --min-length {args.min_length} "
                         f"(or the {len(prefix)}-word prefix)")
    tokens = args.max_length + 1  # the library counts SENTENCE_START too
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
        for words in generate_sentences(model, vocab, n=args.samples, min_length=args.min_length, rules=rules,
                                        seed=args.seed, temperature=args.temperature, top_k=args.top_k,
                                        prefix=prefix, max_length=tokens, top_p=args.top_p):
            print(" ".join(words))
        return
    if args.method == "greedy":
        found = [greedy(model, vocab, min_length=args.min_length, rules=rules, prefix=prefix, max_length=tokens)]
    else:
        found = beam_search(model, vocab, width=args.beam_width, n_best=args.samples, min_length=args.min_length,
                            rules=rules, prefix=prefix, max_length=tokens, length_penalty=args.length_penalty)
    for h in found:
        print(f"{h.logprob:10.3f}  {' '.join(h.words)}")
