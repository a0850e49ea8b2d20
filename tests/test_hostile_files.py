"""Files and input from strangers: each bomb built in a temporary folder is refused with one line naming the
file, and refusing it costs no more memory than loading a legitimate file does (peak RSS, measured in a
subprocess, under twice the legitimate load's). Then the inputs that enter through the commands: vocabulary
files, the corpus cache, standard input, endless files, a corpus changed since training, NaN weights."""
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from lmkit.checkpoint import META_KEY, load_checkpoint, save_model
from lmkit.data import Vocabulary
from lmkit.errors import CheckpointError, DataError
from lmkit.npz import INFLATION
from rnn_theano import RNNTheano

from .conftest import REPO
from .helpers import rnnlm

WORDS = ["SENTENCE_START", "SENTENCE_END", "the", "king", "is", "dead", ".", "UNKNOWN_TOKEN"]
C, H = len(WORDS), 6

# Loads a model file the way every command does, then prints the outcome and the process's peak RSS (kB).
LOAD = """
import resource, sys
from rnnlm.models import load_packages
from lmkit.checkpoint import open_model
from lmkit.errors import RNNLMError
load_packages()
try:
    open_model(sys.argv[1])
    print("loaded")
except RNNLMError as exc:
    print("error: " + str(exc).replace(chr(10), " "))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def load_in_a_new_process(path):
    proc = subprocess.run([sys.executable, "-c", LOAD, str(path)], capture_output=True, text=True, cwd=REPO,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    outcome, rss = proc.stdout.strip().splitlines()[-2:]
    return outcome, int(rss) * 1024


def npy_header(dtype, shape):
    """The bytes of an .npy 1.0 header for ``dtype`` and ``shape``."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                  "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def write_member(archive, name, header, chunks, compress):
    """A member ``name.npy`` made of ``header`` then ``chunks`` (an iterable of bytes), streamed."""
    info = zipfile.ZipInfo(name + ".npy")
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with archive.open(info, "w", force_zip64=True) as fh:
        fh.write(header)
        for chunk in chunks:
            fh.write(chunk)


def meta_text(**changes):
    meta = {"format": "rnnlm-checkpoint", "version": 3, "model_type": "RNNTheano",
            "hparams": {"word_dim": C, "hidden_dim": H, "bptt_truncate": -1},
            "vocab": {"convention": "part2", "words": WORDS, "counts": None},
            "run": {"command": None, "settings": {}, "progress": {}}}
    meta.update(changes)
    return json.dumps(meta).encode()


def checkpoint_with(path, meta=None, extra=(), weights=None):
    """A checkpoint of a small RNN, its metadata, weights and extra members replaced as given."""
    model = RNNTheano(C, H, bptt_truncate=-1, seed=0)
    arrays = {**model.get_params(), **(weights or {})}
    with zipfile.ZipFile(path, "w") as archive:
        text = meta if meta is not None else meta_text()
        write_member(archive, META_KEY, npy_header(f"S{len(text)}", ()), [text], compress=False)
        for name, value in arrays.items():
            value = np.ascontiguousarray(value)
            write_member(archive, name, npy_header(value.dtype, value.shape), [value.tobytes()], compress=False)
        for name, header, chunks, compress in extra:
            write_member(archive, name, header, chunks, compress)
    return path


def zeros(total, chunk=1 << 24):
    block = bytes(chunk)
    for start in range(0, total, chunk):
        yield block[:min(chunk, total - start)]


def bomb_of_zeros(path):
    """A compressed member of 1 GiB of zeros in a file of about 1 MB (the issue: 3 GiB in 3.3 MB)."""
    n = 1 << 28  # float32 values
    return checkpoint_with(path, extra=[("U2", npy_header("float32", (n,)), zeros(4 * n), True)])


def bomb_in_the_metadata(path, pad=200 << 20, compress=True):
    """A 200 MB string in the metadata, compressed to a few hundred kB (or stored, ``compress=False``)."""
    head = meta_text(pad="")[:-2]                        # ... "pad": "   (the closing quote and brace follow)
    chunks = [head] + list(b"a" * min(1 << 24, pad - i) for i in range(0, pad, 1 << 24)) + [b'"}']
    size = sum(len(c) for c in chunks)
    with zipfile.ZipFile(path, "w") as archive:
        write_member(archive, META_KEY, npy_header(f"S{size}", ()), chunks, compress=compress)
        for name, value in RNNTheano(C, H, seed=0).get_params().items():
            write_member(archive, name, npy_header(value.dtype, value.shape), [value.tobytes()], compress=False)
    return path


def metadata_past_its_limit(path):
    """Metadata just over MAX_META_BYTES, stored uncompressed: refused by its size before it is read."""
    from lmkit.checkpoint import MAX_META_BYTES

    return bomb_in_the_metadata(path, pad=MAX_META_BYTES + 1, compress=False)


def a_huge_vocabulary(path):
    """A vocabulary of a million words for a model of 8 outputs (the issue: 20 million words, 51 MB)."""
    words = WORDS[:-1] + [f"w{i}" for i in range(1_000_000)] + ["UNKNOWN_TOKEN"]
    return checkpoint_with(path, meta=meta_text(vocab={"convention": "part2", "words": words, "counts": None}))


def a_forged_header(path):
    """The tutorial's U, V, W format, U's header declaring 10^12 values (3.6 TiB to allocate) over the data
    of a 6 x 8 matrix."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in RNNTheano(C, H, seed=0).get_params().items():
            shape = (10 ** 12,) if name == "U" else value.shape
            write_member(archive, name, npy_header(value.dtype, shape), [value.tobytes()], compress=False)
    return path


def deeply_nested_metadata(path):
    """Metadata JSON nested 100,000 levels deep."""
    text = b'{"format": "rnnlm-checkpoint", "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    return checkpoint_with(path, meta=text)


BOMBS = {
    "zeros": (bomb_of_zeros, f"more than {INFLATION} times): refused"),
    "metadata": (bomb_in_the_metadata, f"more than {INFLATION} times): refused"),
    "metadata-stored": (metadata_past_its_limit, f"more than the {64 << 20} it may hold"),
    "vocabulary": (a_huge_vocabulary, "vocabulary of 1000008 words does not match word_dim=8"),
    "header": (a_forged_header, "U: its header declares 8000000000000 bytes"),
    "nesting": (deeply_nested_metadata, "metadata is not valid JSON (nested too deeply)"),
}


@pytest.fixture(scope="module")
def legitimate(tmp_path_factory):
    path = tmp_path_factory.mktemp("legit") / "rnn.npz"
    save_model(path, RNNTheano(C, H, bptt_truncate=-1, seed=0), Vocabulary(WORDS))
    outcome, rss = load_in_a_new_process(path)
    assert outcome == "loaded"
    return rss


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_a_bomb_is_refused_in_one_line_within_the_memory_of_a_legitimate_load(tmp_path, legitimate, bomb):
    build, message = BOMBS[bomb]
    path = build(tmp_path / f"{bomb}.npz")
    assert path.stat().st_size < 80 << 20
    outcome, rss = load_in_a_new_process(path)
    assert outcome.startswith(f"error: {path}: ") and message in outcome, outcome
    assert rss < 2 * legitimate, f"{rss / 2**20:.0f} MiB refusing {bomb}, {legitimate / 2**20:.0f} MiB loading"


@pytest.mark.parametrize("case, message", [
    ("unknown member", "holds an array 'payload' that a RNNTheano checkpoint does not have"),
    ("wrong shape", "weights do not fit a RNNTheano"),
    ("nan", "V holds NaN or infinite values"),
    ("missing", "missing parameter 'W'"),
])
def test_members_are_checked_against_the_recorded_model(tmp_path, case, message):
    V = RNNTheano(C, H, seed=0).get_params()["V"]
    if case == "unknown member":
        path = checkpoint_with(tmp_path / "m.npz", extra=[("payload", npy_header("int8", (3,)), [b"abc"], False)])
    elif case == "wrong shape":
        path = checkpoint_with(tmp_path / "m.npz", weights={"V": V[:, :-1]})
    elif case == "nan":
        path = checkpoint_with(tmp_path / "m.npz", weights={"V": np.where(V > 0, np.nan, V)})
    else:
        path = tmp_path / "m.npz"
        with zipfile.ZipFile(path, "w") as archive:
            text = meta_text()
            write_member(archive, META_KEY, npy_header(f"S{len(text)}", ()), [text], compress=False)
            write_member(archive, "U", npy_header("float64", (H, C)), [bytes(8 * H * C)], compress=False)
            write_member(archive, "V", npy_header("float64", (C, H)), [bytes(8 * H * C)], compress=False)
    proc = rnnlm("score", path, "--text", "the king is dead .")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and f"error: {path}: " in proc.stderr
    assert message in proc.stderr, proc.stderr


# ---- vocabularies, the corpus cache, streams, changed corpora ----------------------------------------------

@pytest.mark.parametrize("words, message", [
    (["the", "UNKNOWN_TOKEN"], "the vocabulary lacks SENTENCE_START, SENTENCE_END"),
    (["SENTENCE_START", "SENTENCE_END", 7, "UNKNOWN_TOKEN"], "words must be a list of strings"),
    (["SENTENCE_START", "SENTENCE_END", "a", "a", "UNKNOWN_TOKEN"], "vocabulary has duplicate words"),
    (["SENTENCE_START", "SENTENCE_END", "a"], "the vocabulary lacks UNKNOWN_TOKEN"),
])
def test_a_vocabulary_file_must_hold_its_markers_and_strings_only(tmp_path, words, message):
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps({"convention": "part2", "words": words}))
    with pytest.raises(DataError, match=f"^{path}: .*{message}"):
        Vocabulary.load(path)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The king is dead. Long live the king.\n")
    proc = rnnlm("train", "--corpus", corpus, "--vocab", path, "--out", tmp_path / "m.npz", "--no-progress")
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: {path}: ") and not (tmp_path / "m.npz").exists()


def test_oversized_and_deeply_nested_vocabulary_files_are_refused_unread(tmp_path):
    from lmkit.data.vocab import MAX_FILE_BYTES

    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing is written, and nothing may be read
    with pytest.raises(DataError, match="more than a vocabulary file may hold"):
        Vocabulary.load(big)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataError, match="nested too deeply"):
        Vocabulary.load(deep)


def test_a_corpus_cache_entry_that_is_a_bomb_is_rebuilt_without_inflating_it(tmp_path, monkeypatch):
    from lmkit.data import cache, load_sentences

    monkeypatch.setenv("RNNLM_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The king is dead. Long live the king.\n")
    want = load_sentences(str(corpus))
    [entry] = (tmp_path / "cache").glob("tokens-*.npz")
    entry.unlink()
    with zipfile.ZipFile(entry, "w") as archive:
        write_member(archive, "ids", npy_header("int32", (1 << 28,)), zeros(1 << 30), compress=True)
    assert cache.read_cached(entry) is None
    assert load_sentences(str(corpus)) == want


def test_a_closed_standard_input_gets_one_line(tmp_path):
    path = save_model(tmp_path / "rnn.npz", RNNTheano(C, H, seed=0), Vocabulary(WORDS)) or tmp_path / "rnn.npz"
    for args in (f"score {path} --file -", f"rescore {path} -"):
        proc = subprocess.run(f"{sys.executable} -m rnnlm {args} <&-", shell=True, capture_output=True, text=True,
                              cwd=REPO, timeout=120)   # <&-: the shell starts the command with stdin closed
        assert proc.returncode == 2 and proc.stderr == "error: standard input is closed: give a file, or pipe text in\n"


def test_an_endless_file_is_stopped_at_the_size_limit(tmp_path, monkeypatch):
    from lmkit.data import sources

    monkeypatch.setattr(sources, "MAX_TEXT_BYTES", 1 << 20)
    path = save_model(tmp_path / "rnn.npz", RNNTheano(C, H, seed=0), Vocabulary(WORDS)) or tmp_path / "rnn.npz"
    proc = rnnlm("score", path, "--file", "/dev/zero")
    assert proc.returncode == 2 and proc.stderr == "error: /dev/zero: more than 1 MB of text; split it into smaller files\n"
    piped = rnnlm("score", path, "--file", "-", stdin="the king is dead . " * 60_000)
    assert piped.returncode == 2 and "standard input: more than 1 MB of text" in piped.stderr


def test_split_refuses_a_corpus_changed_since_training(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The king is dead. Long live the king. My lord, the queen is here.\n" * 30)
    out = tmp_path / "m.npz"
    trained = rnnlm("train", "--corpus", corpus, "--model", "rnn", "--hidden-dim", "4", "--epochs", "1",
                    "--batch-size", "2", "--bptt", "4", "--mode", "c", "--samples", "0", "--no-progress",
                    "--out", out)
    assert trained.returncode == 0, trained.stderr
    assert load_checkpoint(out)[1]["run"]["data"]["corpus_fingerprint"]
    assert rnnlm("score", out, "--split", "test", "--no-progress").returncode == 0
    corpus.write_text(corpus.read_text().replace("queen", "prince"))
    changed = rnnlm("score", out, "--split", "test", "--no-progress")
    assert changed.returncode == 2 and f"error: {out}: the corpus {corpus} has changed" in changed.stderr
    resumed = rnnlm("train", "--resume", out, "--epochs", "2", "--no-progress")
    assert resumed.returncode == 2 and "has changed since this model was trained" in resumed.stderr


def test_non_finite_weights_are_refused_where_they_would_score_nan(tmp_path):
    model = RNNTheano(C, H, seed=0)
    weights = model.get_params()
    weights["W"][:] = np.nan
    model.set_params(weights)
    path = tmp_path / "nan.npz"
    save_model(path, model, Vocabulary(WORDS))
    with pytest.raises(CheckpointError, match="W holds NaN or infinite values"):
        load_checkpoint(path)
    for args in (["score", path, "--text", "the king is dead ."], ["generate", path, "--method", "beam"]):
        proc = rnnlm(*args)
        assert proc.returncode == 2 and "holds NaN or infinite values" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--method", "beam", "--beam-width", "100000"], "error: argument --beam-width: 100000 is out of range"),
    (["--temperature", "1e-30"], "error: argument --temperature: 1e-30 is below 0.01"),
])
def test_flags_that_would_set_unbounded_work_are_refused(tmp_path, args, message):
    path = tmp_path / "rnn.npz"
    save_model(path, RNNTheano(C, H, seed=0), Vocabulary(WORDS))
    proc = rnnlm("generate", path, *args)
    assert proc.returncode == 2 and proc.stderr.startswith(message)
