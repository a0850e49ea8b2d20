"""rnnlm explore's JSON API, in this process: the same log-probabilities as rnnlm score --words, the vanilla
RNN's gradients through time against the Part 2 numpy model's BPTT, gates in [0, 1], a 4xx and a one-line
message for each bad request, concurrent requests answered as if alone, and the self-contained page."""
import json
import threading

import numpy as np
import pytest

from gru_theano import GRUTheano, LSTMTheano
from lmkit.checkpoint import save_model
from lmkit.data import Vocabulary, tokenize_documents
from rnn_theano import RNNNumpy, RNNTheano

from .helpers import randomized, rnnlm

TEXT = "The king is dead. Long live the king! My lord, the queen is here."
CORPUS = TEXT + " The queen and the king are gone. My lord is dead."


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary.build(tokenize_documents([CORPUS]), 30, "part2")


@pytest.fixture(scope="module")
def models(vocab):
    from rnnlm.explore.analysis import Explored

    C = len(vocab)
    gru = randomized(GRUTheano(C, 6, num_layers=2, mode="c", dtype="float64", seed=1), seed=2, scale=0.9)
    lstm = randomized(LSTMTheano(C, 5, num_layers=1, mode="c", dtype="float64", seed=3), seed=4, scale=0.9)
    rnn = RNNTheano(C, 7, bptt_truncate=-1, mode="c", dtype="float64", seed=5)
    return {name: Explored(name, m, vocab) for name, m in (("gru", gru), ("lstm", lstm), ("rnn", rnn))}


@pytest.fixture(scope="module")
def client(models):
    from starlette.testclient import TestClient

    from rnnlm.explore.server import create_app

    return TestClient(create_app(models))


def test_per_word_log_probabilities_are_those_of_rnnlm_score(client, models, vocab, tmp_path):
    path = tmp_path / "gru.npz"
    save_model(path, models["gru"].model, vocab)
    scored = rnnlm("score", path, "--text", TEXT, "--words", "--json", "--mode", "c")
    assert scored.returncode == 0, scored.stderr
    lines = [json.loads(line) for line in scored.stdout.splitlines()]
    want = [p for record in lines[:-1] for _, p, _ in record["word_logprobs"]]
    answer = client.post("/api/analyze", json={"model": "gru", "text": TEXT, "top_k": 3}).json()
    got = [w["logprob"] for w in answer["words"]]
    assert len(got) == len(want) == lines[-1]["summary"]["words"] + lines[-1]["summary"]["sentences"]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    assert answer["summary"]["ppl"] == pytest.approx(lines[-1]["summary"]["ppl"], rel=1e-6)
    assert answer["summary"]["ppl1"] == pytest.approx(lines[-1]["summary"]["ppl1"], rel=1e-6)
    for w in answer["words"]:   # the rank and the top words agree with the probabilities given
        assert len(w["top"]) == 3 and w["top"][0][1] >= w["top"][-1][1]
        assert (w["rank"] == 1) == (abs(np.log(w["top"][0][1]) - w["logprob"]) < 1e-9)


def numpy_gradient_norms(numpy_model, x, y):
    """|d log p(y_t) / d s_k| for every t and k <= t, by hand from the Part 2 numpy model's forward pass:
    d log p(y_t) / d s_t = V^T (onehot(y_t) - o_t), then back through s_k = tanh(U x_k + W s_{k-1})."""
    o, s = numpy_model.forward_propagation(x)
    T = len(x)
    norms = np.zeros((T, T))
    for t in range(T):
        g = numpy_model.V.T @ (np.eye(numpy_model.word_dim)[y[t]] - o[t])
        for k in range(t, -1, -1):
            norms[t, k] = np.linalg.norm(g)
            g = numpy_model.W.T @ ((1 - s[k] ** 2) * g)
    return norms


def test_the_rnns_gradients_through_time_are_the_numpy_models(client, models, vocab):
    rnn = models["rnn"].model
    reference = RNNNumpy(len(vocab), 7, bptt_truncate=-1)
    reference.set_params(rnn.get_params())
    answer = client.post("/api/analyze", json={"model": "rnn", "text": TEXT}).json()
    for block, (tokens, ids) in zip(answer["gradients"], (
            (s, vocab.encode(s)) for s in tokenize_documents([TEXT]))):
        want = numpy_gradient_norms(reference, ids[:-1], ids[1:])
        np.testing.assert_allclose(np.array(block["norms"]), want, rtol=1e-6, atol=1e-12)
    # one word at a time (for sentences past the full matrix's cap): the same row
    row = client.post("/api/gradients", json={"model": "rnn", "text": TEXT, "position": 3}).json()
    np.testing.assert_allclose(row["norms"], answer["gradients"][0]["norms"][3], rtol=1e-9)


def test_states_and_gates_are_units_by_words_and_gates_lie_in_zero_one(client, models):
    read = sum(len(s) - 1 for s in tokenize_documents([TEXT]))
    for name, gate_names in (("gru", {"layer1.r", "layer1.z", "layer2.r", "layer2.z"}),
                             ("lstm", {"layer1.f", "layer1.i", "layer1.o"}), ("rnn", set())):
        answer = client.post("/api/analyze", json={"model": name, "text": TEXT}).json()
        H = models[name].model.hidden_dim
        assert set(answer["gates"]) == gate_names and len(answer["read"]) == read
        for matrix in [*answer["gates"].values(), *answer["states"].values()]:
            assert np.shape(matrix) == (H, read)
        for matrix in answer["gates"].values():
            assert 0 <= np.min(matrix) and np.max(matrix) <= 1
    lstm_states = client.post("/api/analyze", json={"model": "lstm", "text": TEXT}).json()["states"]
    assert set(lstm_states) == {"layer1.c", "layer1.s"}


@pytest.mark.parametrize("path, body, status, message", [
    ("/api/analyze", b"{not json", 400, "not JSON"),
    ("/api/analyze", {"model": "transformer", "text": "the king"}, 404, "no model 'transformer' here"),
    ("/api/analyze", {"model": "gru", "text": "   "}, 400, "the text is empty"),
    ("/api/analyze", {"model": "gru", "text": "the king . " * 1001}, 413, "at most 2000 are analyzed"),
    ("/api/analyze", {"model": "gru", "text": "the king", "top_k": 0}, 400, "top_k must be"),
    ("/api/gradients", {"model": "gru", "text": "the king", "position": -1}, 400, "position must be"),
    ("/api/generate", {"model": "gru", "method": "telepathy"}, 400, "method must be"),
    ("/api/neighbours", {"model": "gru", "word": "zebra"}, 400, "'zebra' is not in the vocabulary"),
    ("/api/models", None, 200, None),
])
def test_each_bad_request_gets_its_4xx_and_the_server_goes_on(client, path, body, status, message):
    if body is None:
        response = client.get(path)
    elif isinstance(body, bytes):
        response = client.post(path, content=body)
    else:
        response = client.post(path, json=body)
    assert response.status_code == status
    if message:
        error = response.json()["error"]
        assert message in error and "\n" not in error
    assert client.post("/api/analyze", json={"model": "rnn", "text": "the king"}).status_code == 200


def test_concurrent_requests_get_the_answers_they_would_get_alone(client):
    texts = [TEXT, "My lord is dead. Long live the queen.", "The king and the queen are gone."]
    alone = [client.post("/api/analyze", json={"model": "gru", "text": t}).json() for t in texts]
    together = [None] * len(texts) * 2
    def ask(i):
        together[i] = client.post("/api/analyze", json={"model": "gru", "text": texts[i % len(texts)]}).json()
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(together))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, answer in enumerate(together):
        assert answer == alone[i % len(texts)]


def test_generation_shows_each_word_with_its_distribution_and_neighbours_are_by_cosine(client, models, vocab):
    g = client.post("/api/generate", json={"model": "gru", "prefix": "my lord", "method": "sample", "seed": 3,
                                           "temperature": 0.9, "max_length": 12}).json()
    assert g["prefix"] == ["my", "lord"] and g["words"] and g["words"][-1]["token"] == "SENTENCE_END"
    for w in g["words"]:
        probabilities = dict(w["top"])
        assert 0 < w["p"] <= 1 and sum(probabilities.values()) <= 1 + 1e-9
        assert probabilities.get(w["token"], w["p"]) == pytest.approx(w["p"])
        assert [p for _, p in w["top"]] == sorted((p for _, p in w["top"]), reverse=True)
    greedy = client.post("/api/generate", json={"model": "gru", "method": "greedy", "max_length": 12}).json()
    assert all(w["top"][0][0] == w["token"] for w in greedy["words"])   # greedy takes the likeliest word
    n = client.post("/api/neighbours", json={"model": "gru", "word": "king", "k": 4}).json()
    E = models["gru"].model.E.get_value()
    unit = E / np.linalg.norm(E, axis=0)
    cos = unit.T @ unit[:, vocab.index["king"]]
    cos[vocab.index["king"]] = -np.inf
    assert [w for w, _ in n["neighbours"]] == [vocab.words[i] for i in np.argsort(-cos)[:4]]


def test_the_saved_page_holds_everything_and_asks_nothing_of_the_network(models, tmp_path):
    from rnnlm.explore.page import html

    page = html({"gru": models["gru"], "rnn": models["rnn"]}, TEXT)
    assert "window.EXPLORE_DATA" in page and "/static/" not in page
    assert "http://" not in page.replace('"http://www.w3.org/2000/svg"', "") and "https://" not in page
    data = json.loads(page.split("window.EXPLORE_DATA = ", 1)[1].split(";</script>", 1)[0].replace("<\\/", "</"))
    assert set(data["analyses"]) == {"gru", "rnn"} and data["text"] == TEXT
