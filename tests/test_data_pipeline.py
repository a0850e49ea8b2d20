import numpy as np
import pytest

from lmkit.data import (MASK_TOKEN, SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary, build_dataset,
                        load_sentences, packed_batches, make_xy, split_indices, tokenize_documents)
from lmkit.data.tokenize import split_sentences
from lmkit.errors import DataError


def test_pipeline_lowercases_splits_and_wraps():
    sents = tokenize_documents(["Mr. Smith went to Washington. He said: \"Hi!\"", "Who's there?"])
    assert sents == [
        [SENTENCE_START, "mr.", "smith", "went", "to", "washington", ".", SENTENCE_END],
        [SENTENCE_START, "he", "said", ":", "``", "hi", "!", "''", SENTENCE_END],
        [SENTENCE_START, "who", "'s", "there", "?", SENTENCE_END],
    ]


def test_part4_preprocessing_drops_http_sentences():
    docs = ["See http://example.com for more. Fine sentence here."]
    assert split_sentences(docs, drop_http=True) == ["fine sentence here."]
    assert len(split_sentences(docs)) == 2


CORPUS = [["a", "b", "c", "a", "b", "a", "d", "e"], ["a", "f"]]  # a:4 b:2 c,d,e,f:1


def test_part2_vocabulary_most_frequent_then_unknown_last():
    v = Vocabulary.build(CORPUS, 5, "part2")
    assert v.words == ["a", "b", "c", "d", UNKNOWN_TOKEN]  # ties (count 1) broken alphabetically
    assert v.unknown_index == 4
    assert v.counts == [4, 2, 1, 1, 2]  # UNKNOWN counts the dropped tokens e, f
    assert v.encode(["a", "zzz", "d"]).tolist() == [0, 4, 3]
    assert v.least_frequent() == ("c", 1)


def test_part4_vocabulary_mask_unknown_then_ascending_frequency():
    v = Vocabulary.build(CORPUS, 5, "part4")
    assert v.words[:2] == [MASK_TOKEN, UNKNOWN_TOKEN]
    assert v.words[2:] == ["c", "b", "a"]  # the 3 most frequent, least frequent first
    assert v.unknown_index == 1
    assert v.encode(["a", "e"]).tolist() == [4, 1]


def test_vocabulary_is_deterministic_under_reordering():
    shuffled = [list(reversed(s)) for s in reversed(CORPUS)]
    for convention in ("part2", "part4"):
        assert Vocabulary.build(CORPUS, 5, convention) == Vocabulary.build(shuffled, 5, convention)


def test_vocabulary_size_below_three_is_refused():
    with pytest.raises(DataError, match="vocabulary size 2 is too small"):
        Vocabulary.build(CORPUS, 2)


def test_part4_ties_are_kept_and_ordered_by_the_word():
    """Three words of count 1 kept out of four: chosen alphabetically, and listed (ascending order of count)
    in alphabetical order among themselves."""
    v = Vocabulary.build(CORPUS, 7, "part4")
    assert v.words == [MASK_TOKEN, UNKNOWN_TOKEN, "c", "d", "e", "b", "a"]
    assert v.counts == [0, 1, 1, 1, 1, 2, 4]


def test_vocabulary_json_round_trip(tmp_path):
    v = Vocabulary.build([[SENTENCE_START, *s, SENTENCE_END] for s in CORPUS], 7, "part4")
    v.save(tmp_path / "vocab.json")
    w = Vocabulary.load(tmp_path / "vocab.json")
    assert w == v and w.convention == "part4" and w.counts == v.counts
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not a JSON vocabulary"):
        Vocabulary.load(tmp_path / "bad.json")


def test_y_is_x_shifted_by_one():
    encoded = [np.array([7, 1, 2, 3, 8], dtype=np.int32), np.array([7, 8], dtype=np.int32)]
    X, Y = make_xy(encoded)
    assert X[0].tolist() == [7, 1, 2, 3] and Y[0].tolist() == [1, 2, 3, 8]
    assert X[1].tolist() == [7] and Y[1].tolist() == [8]
    for x, y, s in zip(X, Y, encoded):
        assert np.array_equal(x[1:], y[:-1]) and x[0] == s[0] and y[-1] == s[-1]


def test_split_is_deterministic_disjoint_and_complete():
    a = split_indices(1000, 0.1, 0.05, seed=3)
    b = split_indices(1000, 0.1, 0.05, seed=3)
    c = split_indices(1000, 0.1, 0.05, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    assert [len(p) for p in a] == [850, 100, 50]
    assert sorted(np.concatenate(a).tolist()) == list(range(1000))


def test_build_dataset_makes_vocab_from_train_only():
    sentences = [[SENTENCE_START, f"w{i}", SENTENCE_END] for i in range(100)]
    ds = build_dataset(sentences, 1000, valid_fraction=0.1, test_fraction=0.1, seed=0)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (80, 10, 10)
    assert len(ds.vocab) == 80 + 2 + 1  # the train words, START, END, UNKNOWN
    assert all(s[1] == ds.vocab.unknown_index for s in ds.valid)  # held-out words were never seen
    with pytest.raises(DataError, match="corpus is empty"):
        build_dataset([], 10)


def unpack(batches):
    """Read the sentences back out of packed chunks: stream by stream, split at the reset flags."""
    x = np.concatenate([b.x for b in batches]); y = np.concatenate([b.y for b in batches])
    mask = np.concatenate([b.mask for b in batches]); reset = np.concatenate([b.reset for b in batches])
    sentences = []
    for col in range(x.shape[1]):
        n = int(mask[:, col].sum())
        assert np.all(mask[:n, col] == 1) and np.all(mask[n:, col] == 0)  # padding only at the stream's end
        starts = list(np.flatnonzero(reset[:n, col])) + [n]
        assert n == 0 or starts[0] == 0                                     # a stream starts with a sentence
        sentences += [(tuple(x[a:b, col]), tuple(y[a:b, col])) for a, b in zip(starts, starts[1:])]
    return sentences


def test_packed_batches_hold_every_sentence_once_with_resets_at_sentence_starts():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 30, size=101)
    X = [rng.integers(1, 50, size=n).astype(np.int32) for n in lengths] + [np.zeros(0, np.int32)]
    Y = [x + 100 for x in X]
    batches = packed_batches(X, Y, batch_size=8, length=7, seed=1)
    assert all(b.x.shape == b.y.shape == b.mask.shape == b.reset.shape == (7, 8) for b in batches)
    assert batches[0].x.dtype == np.int32 and batches[0].mask.dtype == batches[0].reset.dtype == np.float32
    got = unpack(batches)
    assert sorted(got) == sorted((tuple(x), tuple(x + 100)) for x in X if len(x))  # the empty one is skipped
    assert sum(b.num_tokens for b in batches) == sum(lengths)
    # Streams are balanced: each is within one sentence (< 30 words) of the mean, so padding is small.
    steps = len(batches) * 7
    assert steps * 8 - sum(lengths) < 8 * (30 + 7)
    again = packed_batches(X, Y, batch_size=8, length=7, seed=1)
    assert all(np.array_equal(a.x, b.x) and np.array_equal(a.reset, b.reset) for a, b in zip(batches, again))
    other = packed_batches(X, Y, batch_size=8, length=7, seed=2)
    assert not all(np.array_equal(a.x, b.x) for a, b in zip(batches, other))


def test_unshuffled_packing_keeps_the_corpus_order():
    X = [np.arange(1, n + 1, dtype=np.int32) for n in (3, 4, 3, 5)]
    batches = packed_batches(X, X, batch_size=2, length=4, shuffle=False)
    assert [s for s, _ in unpack(batches)] == [tuple(x) for x in X]
    assert len(batches) == 2 and batches[0].x.shape == (4, 2)
    with pytest.raises(ValueError, match="positive"):
        packed_batches(X, X, batch_size=0, length=4)


def test_tokenization_cache_hits_and_invalidates(tmp_path, monkeypatch):
    import lmkit.data as data

    monkeypatch.setenv("RNNLM_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "corpus.txt"
    path.write_text("The cat sat. The dog ran.")
    first = load_sentences(str(path))
    assert len(first) == 2 and len(list((tmp_path / "cache").glob("tokens-*.npz"))) == 1

    def boom(*args, **kwargs):
        raise AssertionError("tokenizer ran although the cache holds this corpus")

    monkeypatch.setattr(data, "tokenize_documents", boom)
    assert load_sentences(str(path)) == first  # served from the cache
    with pytest.raises(AssertionError, match="tokenizer ran"):
        load_sentences(str(path), drop_http=True)  # other options: another entry
    path.write_text("A changed file. With three sentences. Really.")
    with pytest.raises(AssertionError, match="tokenizer ran"):
        load_sentences(str(path))  # the file changed: the entry no longer applies


def test_damaged_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLM_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "corpus.txt"
    path.write_text("One. Two.")
    first = load_sentences(str(path))
    for entry in (tmp_path / "cache").glob("tokens-*.npz"):
        entry.write_bytes(b"garbage")
    assert load_sentences(str(path)) == first
