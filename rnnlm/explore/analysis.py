"""What the explorer shows, computed: the JSON of ``POST /api/analyze``, ``/api/gradients``, ``/api/generate``
and ``/api/neighbours`` (the web page, the self-contained HTML file and the notebook all draw the same).

Text is read as ``rnnlm score`` reads it: lowercased, split into sentences, each sentence wrapped in
``SENTENCE_START`` ... ``SENTENCE_END`` and read from a zero state. For every predicted word (the words and
the end token) the analysis gives its natural-log probability, its rank among all words, and the
likeliest words at that point; for every word read, every state and gate of every layer; and the gradients
through time of :mod:`lmkit.inspection`.
"""
import threading

import numpy as np

from lmkit.errors import UsageError
from lmkit.inspection import FULL_GRADIENTS_MAX, Inspector

MAX_WORDS = 2000   # words of text one request may analyze (README, Exploring a model)
MAX_TOP_K = 50


class TextTooLong(UsageError):
    """Text over :data:`MAX_WORDS` words (the server answers 413)."""


class Explored:
    """One model as the explorer serves it: the model, its vocabulary, its inspector, a lock for the rest."""

    def __init__(self, name, model, vocab):
        self.name, self.model, self.vocab = name, model, vocab
        self.inspector = Inspector(model)
        self.lock = threading.Lock()

    def describe(self):
        m = self.model
        return {"name": self.name, "model_type": m.model_type, "hidden_dim": m.hidden_dim,
                "layers": getattr(m, "num_layers", 1), "vocabulary": len(self.vocab),
                "states": self.inspector.state_names(), "gates": self.inspector.gate_names()}


def sentences_of(text, vocab, max_words=MAX_WORDS):
    """The tokenized sentences of ``text`` with their encodings; refuses empty text and text over the cap."""
    from lmkit.data import tokenize_documents

    if not isinstance(text, str) or not text.strip():
        raise UsageError("the text is empty")
    sentences = [s for s in tokenize_documents([text]) if len(s) > 2]
    if not sentences:
        raise UsageError("the text holds no words")
    words = sum(len(s) - 2 for s in sentences)
    if words > max_words:
        raise TextTooLong(f"the text has {words} words; at most {max_words} are analyzed at once")
    return [(s, vocab.encode(s)) for s in sentences]


def top_words(vocab, logprobs, k):
    order = np.argpartition(-logprobs, k - 1)[:k]
    order = order[np.argsort(-logprobs[order], kind="stable")]
    return [[vocab.words[i], float(np.exp(logprobs[i]))] for i in order]


def analyze(explored, text, top_k=5, gradients=True):
    """The analysis of ``text`` by one model (module notes): JSON-able."""
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
        raise UsageError(f"top_k must be an integer from 1 to {MAX_TOP_K}")
    vocab = explored.vocab
    unk = vocab.unknown_index
    words, read, total, predictions, unknown, ends = [], [], 0.0, 0, 0, 0.0
    states = {name: [] for name in explored.inspector.state_names()}
    gates = {name: [] for name in explored.inspector.gate_names()}
    grads = []
    for number, (tokens, ids) in enumerate(sentences_of(text, vocab)):
        x, y = ids[:-1], ids[1:]
        full = gradients and len(x) <= FULL_GRADIENTS_MAX
        out = explored.inspector.read(x, y, gradients="all" if full else None)
        lp = out["logprobs"]
        offset = len(read)
        for t in range(len(y)):
            target = int(y[t])
            logprob = float(lp[t, target])
            words.append({"token": tokens[t + 1], "sentence": number, "position": offset + t,
                          "unknown": bool(target == unk and t + 1 < len(y)), "logprob": logprob,
                          "rank": int((lp[t] > lp[t, target]).sum()) + 1, "top": top_words(vocab, lp[t], top_k)})
            total += logprob
            unknown += words[-1]["unknown"]
        ends += float(lp[-1, int(y[-1])])
        predictions += len(y)
        read += [{"token": tok, "sentence": number} for tok in tokens[:-1]]
        for name, value in out["states"].items():
            states[name].append(value)
        for name, value in out["gates"].items():
            gates[name].append(value)
        if full:
            grads.append({"sentence": number, "offset": offset, "norms": out["grad_norms"].tolist()})
    sentences = len({w["sentence"] for w in words})
    plain = predictions - sentences
    return {
        "model": explored.name, "words": words, "read": read,
        "summary": {"sentences": sentences, "words": plain, "unknown": unknown, "logprob": total,
                    "ppl": float(np.exp(-total / predictions)), "ppl1": float(np.exp(-(total - ends) / max(plain, 1)))},
        # units x words: every state and gate of every layer, transposed for the heat maps
        "states": {name: np.concatenate(v).T.tolist() for name, v in states.items()},
        "gates": {name: np.concatenate(v).T.tolist() for name, v in gates.items()},
        "gradients": grads,
    }


def gradient_row(explored, text, position):
    """``|d log p(w) / d h_k|`` for the predicted word at ``position`` (a ``words[i]["position"]`` of
    :func:`analyze`) and every ``k`` of its sentence, for sentences too long for the full matrix."""
    offset = 0
    for number, (tokens, ids) in enumerate(sentences_of(text, explored.vocab)):
        x, y = ids[:-1], ids[1:]
        if offset <= position < offset + len(x):
            out = explored.inspector.read(x, y, gradients="one", target=position - offset)
            return {"sentence": number, "offset": offset, "target": position, "norms": out["grad_norm"].tolist()}
        offset += len(x)
    raise UsageError(f"no word at position {position}")


def generate(explored, prefix="", method="sample", temperature=1.0, top_k=None, top_p=None, beam_width=5,
             max_length=40, seed=None, shown=10):
    """One sentence, word by word, each with the distribution it was chosen from (its ``shown`` likeliest
    words): sampling (as reshaped by temperature, top-k, top-p), greedy or beam search."""
    from lmkit.data.tokenize import word_splitter
    from lmkit.sampling import (adjust, allowed_logprobs, beam_search, generate_sentences, greedy, never_generated,
                                start_of_sentence)

    vocab, model = explored.vocab, explored.model
    if method not in ("sample", "greedy", "beam"):
        raise UsageError("method must be sample, greedy or beam")
    for name, value, low, high in (("max_length", max_length, 1, 200), ("beam_width", beam_width, 1, 50)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise UsageError(f"{name} must be an integer from {low} to {high}")
    if not isinstance(temperature, (int, float)) or not 0.01 <= temperature <= 100:
        raise UsageError("temperature must be a number from 0.01 to 100")
    prefix_words = word_splitter()(prefix.lower()) if prefix else []
    if len(prefix_words) >= max_length:
        raise UsageError("the prefix is as long as max_length")
    with explored.lock:
        if method == "sample":
            words = generate_sentences(model, vocab, n=1, min_length=0, seed=seed, temperature=temperature,
                                       top_k=top_k, top_p=top_p, prefix=prefix_words, max_length=max_length + 1)[0]
        elif method == "greedy":
            words = greedy(model, vocab, prefix=prefix_words, max_length=max_length + 1).words
        else:
            words = beam_search(model, vocab, width=beam_width, prefix=prefix_words, max_length=max_length + 1)[0].words
        # Replay the sentence to show each word's distribution (reshaped as it was sampled from).
        sentence = start_of_sentence(vocab, words)
        banned = never_generated(vocab) + [vocab.unknown_index]
        state, steps = model.initial_state(1), []
        for t, word in enumerate(sentence):
            state, logp = model.step(state, [word])
            following = sentence[t + 1] if t + 1 < len(sentence) else vocab.index["SENTENCE_END"]
            if t < len(prefix_words):
                continue  # the prefix is given, not chosen
            p = np.exp(np.asarray(logp[0], dtype=np.float64))
            if method == "sample":
                p = adjust(p, temperature, top_k, banned, top_p)
            else:   # greedy and beam search choose among the words the rules allow at this length
                allowed = allowed_logprobs(vocab, np.log(p)[None], t + 1, 0, max_length + 1)[0]
                p = np.exp(allowed - np.logaddexp.reduce(allowed))
            order = np.argsort(-p, kind="stable")[:shown]
            steps.append({"token": vocab.words[following], "p": float(p[following]),
                          "top": [[vocab.words[i], float(p[i])] for i in order]})
    return {"model": explored.name, "prefix": prefix_words, "words": steps}


def neighbours(explored, word, k=10):
    """The ``k`` words whose vectors (the columns of the input table: ``E``, or the RNN's ``U``) are nearest
    to ``word``'s by cosine similarity."""
    vocab = explored.vocab
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100:
        raise UsageError("k must be an integer from 1 to 100")
    word = (word or "").strip().lower()
    if word not in vocab:
        raise UsageError(f"{word!r} is not in the vocabulary")
    with explored.lock:
        table = np.asarray(explored.model.input_table().get_value(), dtype=np.float64)   # D x C
    unit = table / np.maximum(np.linalg.norm(table, axis=0, keepdims=True), 1e-12)
    similarity = unit.T @ unit[:, vocab.index[word]]
    similarity[vocab.index[word]] = -np.inf
    order = np.argsort(-similarity, kind="stable")[:k]
    return {"model": explored.name, "word": word,
            "neighbours": [[vocab.words[i], float(similarity[i])] for i in order]}
