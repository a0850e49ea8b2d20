"""The shared data layer: sources -> sentences -> vocabulary -> index arrays -> minibatches.

The usual entry point is :func:`load_sentences` followed by :func:`build_dataset`.
"""
from .batching import Batch, packed_batches, pad_batch
from .cache import cached
from .dataset import Dataset, build_dataset, encode, make_xy, split_indices
from .sources import read_source, select_plays, shakespeare_plays
from .tokenize import SENTENCE_END, SENTENCE_START, tokenize_documents
from .vocab import MASK_TOKEN, UNKNOWN_TOKEN, Vocabulary

DEFAULT_CORPUS = "shakespeare"


def load_sentences(spec=DEFAULT_CORPUS, drop_http=False, use_cache=True, max_sentences=None):
    """Tokenized sentences of a source spec (see :func:`read_source`), cached on disk.

    ``drop_http`` drops sentences that contain "http" (the Part 4 preprocessing);
    ``max_sentences`` keeps only the first ones (for quick runs).
    """
    sentences, _ = cached(str(spec), {"drop_http": drop_http},
                          lambda: tokenize_documents(read_source(spec), drop_http), use_cache)
    if not sentences:
        from ..errors import DataError
        raise DataError(f"{spec}: no sentences found in the corpus")
    return sentences[:max_sentences] if max_sentences else sentences


__all__ = ["Batch", "Dataset", "DEFAULT_CORPUS", "MASK_TOKEN", "SENTENCE_END", "SENTENCE_START",
           "UNKNOWN_TOKEN", "Vocabulary", "build_dataset", "cached", "encode",
           "load_sentences", "make_xy", "packed_batches", "pad_batch", "read_source", "select_plays", "shakespeare_plays",
           "split_indices", "tokenize_documents"]
