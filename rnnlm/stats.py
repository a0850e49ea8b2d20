"""Print corpus statistics the way Part 2 of the tutorial does.

    rnnlm stats                                   # all 38 plays, C=8000
    rnnlm stats --corpus shakespeare:hamlet --vocab-size 2000
    rnnlm stats --corpus reddit-comments-2015-08.csv
"""
from .flags import COUNT, add_data_args



def add_arguments(ap):
    add_data_args(ap)
    ap.add_argument("--example", type=COUNT, default=10, help="index of the example sentence")


def run(args):
    import time
    from collections import Counter

    from lmkit.data import Vocabulary, make_xy

    from .data import load_sentences_of

    start = time.perf_counter()
    sentences = load_sentences_of(vars(args))
    elapsed = time.perf_counter() - start
    freq = Counter(t for s in sentences for t in s)
    num_tokens = sum(freq.values())
    if args.vocab:
        from .data import load_vocabulary

        vocab = load_vocabulary(args.vocab)
    else:
        vocab = Vocabulary.build(sentences, args.vocab_size, args.convention, args.min_count)
    covered = sum(freq[w] for w in vocab.words if w in freq)
    print(f"Parsed {len(sentences)} sentences ({elapsed:.1f} s).")
    print(f"Found {len(freq)} unique words tokens ({num_tokens} tokens in all).")
    print(f"Using vocabulary size {len(vocab)} ({vocab.convention} convention).")
    least = vocab.least_frequent(freq)  # counted in this corpus (a stored vocabulary may carry another's)
    if least:
        print(f"The least frequent word in our vocabulary is '{least[0]}' and appeared {least[1]} times.")
    print(f"The vocabulary covers {100.0 * covered / num_tokens:.2f}% of all tokens; "
          f"the rest become {vocab.words[vocab.unknown_index]}.")
    i = min(args.example, len(sentences) - 1)
    mapped = [w if w in vocab else vocab.words[vocab.unknown_index] for w in sentences[i]]
    print(f"\nExample sentence: '{' '.join(sentences[i])}'")
    print(f"Example sentence after pre-processing: {mapped}")
    (x,), (y,) = make_xy([vocab.encode(sentences[i])])
    print(f"\nx:\n{' '.join(vocab.decode(x))}\n{x.tolist()}")
    print(f"\ny:\n{' '.join(vocab.decode(y))}\n{y.tolist()}")
