"""Word <-> index maps in the two conventions of the tutorial.

``part2`` (Part 2, the vanilla RNN): the C-1 most frequent tokens by descending count, then
``UNKNOWN_TOKEN`` at the last index C-1.

``part4`` (Part 4, the GRU): ``<MASK/>`` at 0, ``UNKNOWN_TOKEN`` at 1, then the C-2 most frequent tokens
in *ascending* order of count (so the most frequent word has the last index).

Ties in count are broken by the word itself, so the same corpus always gives the same vocabulary. A
vocabulary is saved as readable JSON, inside checkpoints or as its own file.
"""
import json
import os
from collections import Counter

import numpy as np

from ..atomic import atomic_write
from ..errors import DataError

SENTENCE_START = "SENTENCE_START"
SENTENCE_END = "SENTENCE_END"
UNKNOWN_TOKEN = "UNKNOWN_TOKEN"
MASK_TOKEN = "<MASK/>"
MARKERS = (SENTENCE_START, SENTENCE_END, UNKNOWN_TOKEN)  # every vocabulary read from a file holds these
CONVENTIONS = ("part2", "part4")
# A vocabulary file larger than this is refused before it is read (a million words take about 15 MB).
MAX_FILE_BYTES = 64 << 20


class Vocabulary:
    def __init__(self, words, convention="part2", counts=None):
        if convention not in CONVENTIONS:
            raise DataError(f"unknown vocabulary convention {convention!r}; use part2 or part4")
        if len(set(words)) != len(words):
            raise DataError("vocabulary has duplicate words")
        if UNKNOWN_TOKEN not in words:
            raise DataError(f"vocabulary has no {UNKNOWN_TOKEN}")
        self.words = list(words)
        self.convention = convention
        self.counts = list(counts) if counts is not None else None
        self.index = {w: i for i, w in enumerate(self.words)}
        self.unknown_index = self.index[UNKNOWN_TOKEN]

    @classmethod
    def build(cls, sentences, size, convention="part2", min_count=1):
        """The vocabulary of at most ``size`` entries for tokenized ``sentences`` (lists of tokens).

        Words seen fewer than ``min_count`` times are left out (they become ``UNKNOWN_TOKEN``), so the
        vocabulary is smaller than ``size`` when fewer words are frequent enough.
        """
        if convention not in CONVENTIONS:
            raise DataError(f"unknown vocabulary convention {convention!r}; use part2 or part4")
        if size < 3:
            raise DataError(f"vocabulary size {size} is too small: it must be at least 3")
        freq = Counter(token for sentence in sentences for token in sentence)
        freq.pop(UNKNOWN_TOKEN, None)
        freq.pop(MASK_TOKEN, None)
        rare = sum(c for c in freq.values() if c < min_count)
        freq = Counter({w: c for w, c in freq.items() if c >= min_count})
        if not freq:
            raise DataError("cannot build a vocabulary from an empty corpus" if not rare else
                            f"no word occurs {min_count} times (--min-count)")
        by_count = sorted(freq.items(), key=lambda wc: (-wc[1], wc[0]))  # most frequent first
        if convention == "part2":
            kept = by_count[: size - 1]
            words = [w for w, _ in kept] + [UNKNOWN_TOKEN]
            counts = [c for _, c in kept]
            counts.append(sum(freq.values()) - sum(counts) + rare)
        else:
            kept = sorted(by_count[: size - 2], key=lambda wc: (wc[1], wc[0]))  # least frequent first
            words = [MASK_TOKEN, UNKNOWN_TOKEN] + [w for w, _ in kept]
            counts = [0, sum(freq.values()) - sum(c for _, c in kept) + rare] + [c for _, c in kept]
        return cls(words, convention, counts)

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and self.words == other.words

    def encode(self, tokens):
        """Token list -> int32 index array; unknown tokens map to ``UNKNOWN_TOKEN``."""
        unk = self.unknown_index
        return np.array([self.index.get(t, unk) for t in tokens], dtype=np.int32)

    def unknown_rate(self, sentences):
        """The share of the words of tokenized ``sentences`` (START and END aside) outside the vocabulary."""
        words = [t for s in sentences for t in s[1:-1]]
        return sum(t not in self.index for t in words) / max(len(words), 1)

    def decode(self, indices):
        return [self.words[int(i)] for i in indices]

    def least_frequent(self, counts=None):
        """``(word, count)`` of the kept word with the smallest count (UNKNOWN and MASK aside; ties: the first
        in alphabetical order), or None. ``counts`` (a word -> count mapping, such as a ``Counter`` of another
        corpus) counts in that corpus, leaving out words it does not contain; by default the vocabulary's
        own counts are used."""
        if counts is None:
            if self.counts is None:
                return None
            counts = dict(zip(self.words, self.counts))
        real = [(counts[w], w) for w in self.words if w not in (UNKNOWN_TOKEN, MASK_TOKEN) and counts.get(w)]
        if not real:
            return None
        c, w = min(real)
        return w, c

    def to_dict(self):
        return {"convention": self.convention, "words": self.words, "counts": self.counts}

    @classmethod
    def from_dict(cls, data, source=None):
        """A vocabulary from its JSON form (:meth:`to_dict`), checked where it enters: a list of distinct
        strings holding the markers of :data:`MARKERS`, and counts (if any) one integer per word. Errors name
        ``source``, the file it came from."""
        where = f"{source}: " if source else ""
        if not isinstance(data, dict) or "words" not in data:
            raise DataError(f"{where}not a vocabulary (a JSON object with a list of words)")
        words, convention, counts = data["words"], data.get("convention", "part2"), data.get("counts")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise DataError(f"{where}the vocabulary's words must be a list of strings")
        missing = [m for m in MARKERS if m not in words]
        if missing:
            raise DataError(f"{where}the vocabulary lacks {', '.join(missing)}")
        if counts is not None and (not isinstance(counts, list) or len(counts) != len(words) or not all(
                isinstance(c, int) and not isinstance(c, bool) for c in counts)):
            raise DataError(f"{where}the vocabulary's counts must be one integer per word")
        try:
            return cls(words, convention, counts)
        except DataError as exc:
            raise DataError(f"{where}{exc}") from None

    def save(self, path):
        """Write the vocabulary as JSON, atomically (:func:`lmkit.atomic.atomic_write`)."""
        with atomic_write(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, ensure_ascii=False)

    @classmethod
    def load(cls, path):
        """A vocabulary from a JSON file; one-line errors naming it (a file over :data:`MAX_FILE_BYTES` is
        refused before it is read)."""
        try:
            size = os.stat(path).st_size
            if size > MAX_FILE_BYTES:
                raise DataError(f"{path}: {size} bytes, more than a vocabulary file may hold ({MAX_FILE_BYTES})")
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            raise DataError(f"{path}: no such vocabulary file") from None
        except OSError as exc:
            raise DataError(f"{path}: cannot read the vocabulary ({exc.strerror})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not a JSON vocabulary ({exc})") from None
        except RecursionError:
            raise DataError(f"{path}: not a JSON vocabulary (nested too deeply)") from None
        return cls.from_dict(data, source=path)
