"""Our main training command against PyTorch's ``examples/word_language_model`` recipe, on the same data.

Reproduce (from the repository root, with the project's venv active and ``torch==2.13.0`` installed from
``benchmarks/requirements.txt``)::

    python benchmarks/vs_pytorch.py                              # both parts, default data (~15-20 min on 2 cores)
    python benchmarks/vs_pytorch.py --parts quality              # only part 1
    python benchmarks/vs_pytorch.py --parts throughput --models lstm
    python benchmarks/vs_pytorch.py --parts quality --torch-epochs 6          # + PyTorch for a fixed 6 epochs
    python benchmarks/vs_pytorch.py --parts quality --ours-args "--model lstm --layers 2"
    python benchmarks/vs_pytorch.py --corpus shakespeare:comedies --max-sentences 10000
    python benchmarks/vs_pytorch.py --quick                      # smoke run, tiny data, ~2 minutes
    python benchmarks/vs_pytorch.py --parts quality --no-ours --budget 60     # the PyTorch half alone

Outputs: a table on stdout, ``--out`` (default ``benchmarks/vs_pytorch.json``) and ``--png`` (default
``benchmarks/vs_pytorch.png``, validation perplexity against wall-clock seconds).

Data. Both toolkits get the very same encoded sentences: ``rnnlm.data.load_dataset`` with the flags of
our main command (``--corpus shakespeare --max-sentences 20000 --vocab-size 4000``, the project's
train/valid/test split, seed 0). Every sentence is ``[START, w1 .. wn, END]``. PyTorch trains, as its
recipe does, on one continuous token stream: all training sentences concatenated (each with its START and
END), cut into ``batch`` columns and read in chunks of ``bptt`` steps, the hidden state carried (detached)
from chunk to chunk.

Scoring is the same for both toolkits and is what the table reports: per sentence, the state starts at
zero, the model reads ``START w1 .. wn`` and is charged ``-ln p`` for each of ``w1 .. wn END``; perplexity
is ``exp(total NLL / predicted words)`` over the split (19,948 predicted test words for the default data;
the script prints the count as a check). PyTorch's recipe scores its validation set as a stream; here its
validation is scored per sentence like ours, so the learning-rate schedule, the best-model choice and the
curves in the PNG all use the same measure for both.

Part 1, ``quality`` -- quality at equal wall-clock.
    First our main command runs as a subprocess, exactly the README's
    ``python scripts/train.py --max-sentences 20000 --vocab-size 4000`` (plus ``--corpus``,
    ``--out`` in a temporary folder, ``--samples 0 --no-progress``, and any ``--ours-args``). Its
    wall-clock is everything from process start to exit: imports, data loading, JAX compiles, training,
    per-epoch validation, the final valid/test scoring. That time is the budget of the PyTorch recipe,
    which then runs as a subprocess too (so its clock also counts the interpreter start, ``import torch``,
    data loading and model setup) and checks the clock after every batch: once over budget it stops,
    scores validation at the stop, and finishes with the best-so-far model on the test split.
    The PyTorch recipe (``word_language_model``'s defaults, re-written here): LSTM, 2 layers x 200 hidden,
    embedding 200, dropout 0.2 (embedding output, between the layers, before the decoder), no weight
    tying, decoder ``Linear(200, C)`` with bias; embedding and decoder weights U(-0.1, 0.1), decoder bias
    0; plain SGD, lr 20, gradient-norm clip 0.25, batch 20, bptt 35; after every epoch: validation, lr / 4
    if it did not improve, the best model (by validation) kept for the test. ``--torch-epochs N`` adds a
    run of the same recipe for N full epochs, without a time limit.
    Validation points are timed from each process's start: ours when its ``epoch N:`` line arrives on
    stdout (printed right after that epoch's validation), PyTorch's when its validation finishes.

Part 2, ``throughput`` -- training speed at the same model.
    For each of ``--models`` (rnn, gru, lstm): one layer, hidden 128, embedding 128, no dropout, Adam lr
    0.002, gradient-norm clip 5, batch 32, bptt 32, the same training data. Ours:
    ``scripts/train.py --model M --hidden-dim 128 --epochs 2 --batch-size 32 --bptt 32 ...``, the
    ``tokens/s`` of its epoch-2 line (epoch 2 compiles nothing; ours reads sentences packed end to end in
    streams and counts the real predicted words, not the padding at the streams' ends). PyTorch: ``nn.RNN`` (tanh, no biases and
    a decoder without bias, like the tutorial's RNN; the embedding of size H feeds it) / ``nn.GRU`` /
    ``nn.LSTM``, one epoch of the token stream after a 10-batch warm-up, predicted tokens per second.
    Every measurement is its own process, pinned with ``taskset`` once to one core (PyTorch with
    ``torch.set_num_threads(1)``) and once to two (``taskset -c 0,1``, 2 threads). The load average
    before and after each measurement is stored: on a shared machine other work moves these numbers.

Run it on an otherwise idle machine. With other work on the cores, PyTorch on 2 threads was seen to drop
from ~45k to a few hundred tokens/s for seconds at a time (its OpenMP threads wait for each other whenever
one core is taken), while one thread kept its speed; the load average before every run is in the JSON and
the tables, and ``--torch-threads 1`` runs part 1's PyTorch on one thread.

What the parsing assumes about our command's stdout (see ``parse_ours``): lines starting ``epoch N:`` that
contain ``<number> tokens/s`` and ``valid perplexity <number>``; a line ``valid (best model): ...
perplexity <number>`` and a line ``test (best model): <n> sentences, <n> words: ... perplexity
<number>``. Anything missing is taken from the checkpoint's ``__meta__`` JSON
(``meta["extra"]["fit"]["history"]``: ``epoch``, ``seconds``, ``valid_perplexity``, ``tokens_per_second``).

Internal: ``--worker quality|throughput`` runs one PyTorch measurement (the script re-invokes itself).
"""
import argparse
import copy
import json
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# The PyTorch word_language_model defaults used in part 1.
RECIPE = {"model": "lstm", "layers": 2, "hidden": 200, "embed": 200, "dropout": 0.2, "optimizer": "sgd",
          "lr": 20.0, "clip": 0.25, "batch": 20, "bptt": 35, "lr_decay": 4.0, "seed": 1111}
# Part 2: the model of our command's defaults (one layer, H = E = 128, Adam 0.002, clip 5).
SPEED = {"layers": 1, "hidden": 128, "embed": 128, "dropout": 0.0, "optimizer": "adam", "lr": 0.002,
         "clip": 5.0, "seed": 0, "warmup_batches": 10}


# ======================================================================================================
# Data: the project's split and encoding; PyTorch's continuous token stream
# ======================================================================================================
def load_data(corpus, max_sentences, vocab_size):
    """The same Dataset ``scripts/train.py`` builds from these flags (``data.train/valid/test``, ``data.vocab``)."""
    from rnnlm.data import load_dataset

    return load_dataset({"corpus": corpus, "vocab_size": vocab_size, "convention": "part2",
                         "max_sentences": max_sentences, "valid_fraction": 0.05, "test_fraction": 0.05,
                         "split_seed": 0, "no_cache": False})


def stream_columns(sentences, batch_size):
    """All sentences concatenated, trimmed to a multiple of ``batch_size`` and cut into that many columns.

    Returns a LongTensor of shape ``(steps, batch_size)``: column ``b`` is a contiguous stretch of the stream,
    so row ``t + 1`` holds the words that follow row ``t``.
    """
    import numpy as np
    import torch

    stream = torch.from_numpy(np.concatenate(sentences).astype(np.int64))
    steps = len(stream) // batch_size
    return stream[:steps * batch_size].view(batch_size, steps).t().contiguous()


def chunks(columns, bptt):
    """``(x, y)`` chunks of at most ``bptt`` steps over the columns; ``y`` is ``x`` shifted by one step."""
    for i in range(0, columns.size(0) - 1, bptt):
        n = min(bptt, columns.size(0) - 1 - i)
        yield columns[i:i + n], columns[i + 1:i + 1 + n]


# ======================================================================================================
# The PyTorch model
# ======================================================================================================
def build_torch_model(kind, vocab_size, embed, hidden, layers, dropout):
    import torch
    from torch import nn

    class WordLM(nn.Module):
        """Embedding -> dropout -> RNN/GRU/LSTM stack (dropout between layers) -> dropout -> Linear(H, C)."""

        def __init__(self):
            super().__init__()
            # The tutorial's vanilla RNN has no biases and no output bias; the GRU/LSTM have both.
            bias = kind != "rnn"
            self.embedding = nn.Embedding(vocab_size, embed)
            self.drop = nn.Dropout(dropout)
            between = dropout if layers > 1 else 0.0
            if kind == "rnn":
                self.rnn = nn.RNN(embed, hidden, layers, nonlinearity="tanh", bias=False, dropout=between)
            else:
                cls = nn.LSTM if kind == "lstm" else nn.GRU
                self.rnn = cls(embed, hidden, layers, dropout=between)
            self.decoder = nn.Linear(hidden, vocab_size, bias=bias)
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
            if bias:
                nn.init.zeros_(self.decoder.bias)

        def forward(self, x, state=None):
            """``x``: (T, B) word indices -> logits (T, B, C) and the final state."""
            out, state = self.rnn(self.drop(self.embedding(x)), state)
            return self.decoder(self.drop(out)), state

    return WordLM()


def detach(state):
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


# ======================================================================================================
# The training loop (one chunk) and the scoring both toolkits share
# ======================================================================================================
def train_chunk(model, optimizer, x, y, state, clip):
    """One truncated-BPTT step: forward from the carried (detached) state, cross-entropy, backward, clip,
    update. Returns the mean loss per predicted token and the new state."""
    import torch
    import torch.nn.functional as F

    state = detach(state)
    optimizer.zero_grad(set_to_none=True)
    logits, state = model(x, state)
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), state


def score_sentences(model, sentences, batch_size=128, device="cpu"):
    """``(total NLL in nats, predicted words, sentences)`` of encoded sentences, scored one by one.

    Each sentence starts from a zero state, reads ``START w1 .. wn`` and is charged for ``w1 .. wn END``.
    Sentences are sorted by length and padded into batches; padding sits after a sentence's last input, so
    a one-directional RNN never lets it change the real positions, and the mask drops its targets.
    """
    import numpy as np
    import torch
    import torch.nn.functional as F

    items = sorted((s for s in sentences if len(s) >= 2), key=len)
    was_training = model.training
    model.eval()
    total, words = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(items), batch_size):
            group = items[start:start + batch_size]
            length = max(len(s) for s in group) - 1
            x = np.zeros((length, len(group)), dtype=np.int64)
            y = np.zeros((length, len(group)), dtype=np.int64)
            mask = np.zeros((length, len(group)), dtype=bool)
            for b, s in enumerate(group):
                n = len(s) - 1
                x[:n, b], y[:n, b], mask[:n, b] = s[:-1], s[1:], True
            logits, _ = model(torch.from_numpy(x).to(device))
            nll = F.cross_entropy(logits.reshape(-1, logits.size(-1)), torch.from_numpy(y).to(device).reshape(-1),
                                  reduction="none")
            m = torch.from_numpy(mask).to(device).reshape(-1)
            total += float(nll[m].double().sum())
            words += int(m.sum())
    model.train(was_training)
    return total, words, len(items)


def perplexity(nll, words):
    return math.exp(nll / max(words, 1))


def make_optimizer(model, name, lr):
    import torch

    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr)
    return torch.optim.Adam(model.parameters(), lr=lr)


def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr


# ======================================================================================================
# PyTorch runs (each in its own process: ``--worker``)
# ======================================================================================================
def torch_quality_worker(p, t0):
    """Part 1: the word_language_model recipe until ``p["budget_s"]`` seconds after ``t0`` (the moment the
    parent launched this process) or ``p["max_epochs"]`` full epochs."""
    data = load_data(p["corpus"], p["max_sentences"], p["vocab_size"])
    import torch

    if p.get("threads"):
        torch.set_num_threads(p["threads"])
    torch.manual_seed(RECIPE["seed"])
    r = RECIPE
    device = torch.device(p.get("device") or "cpu")   # --torch-device: cuda on a GPU machine
    columns = stream_columns(data.train, r["batch"]).to(device)
    model = build_torch_model(r["model"], len(data.vocab), r["embed"], r["hidden"], r["layers"], r["dropout"]).to(device)
    lr = r["lr"]
    optimizer = make_optimizer(model, r["optimizer"], lr)
    budget, max_epochs = p.get("budget_s"), p.get("max_epochs")
    n_chunks = -(-(columns.size(0) - 1) // r["bptt"])
    setup_s = time.time() - t0
    print(f"PyTorch {r['model'].upper()} {r['layers']}x{r['hidden']}, vocabulary {len(data.vocab)}, stream of "
          f"{columns.numel()} tokens in {r['batch']} columns ({n_chunks} chunks of {r['bptt']}); "
          f"{torch.get_num_threads()} threads; set up in {setup_s:.1f} s", flush=True)

    history, best = [], {"valid_nll": math.inf, "state": None, "epoch": None}
    epoch, stopped = 0, False
    while not stopped and (max_epochs is None or epoch < max_epochs):
        model.train()
        state, loss_sum, n_done, tokens, start = None, 0.0, 0, 0, time.time()
        for x, y in chunks(columns, r["bptt"]):
            loss, state = train_chunk(model, optimizer, x, y, state, r["clip"])
            loss_sum, n_done, tokens = loss_sum + loss, n_done + 1, tokens + y.numel()
            if budget is not None and time.time() - t0 > budget:
                stopped = True
                break
        train_s = time.time() - start
        nll, words, _ = score_sentences(model, data.valid, device=device)
        at = epoch + (n_done / n_chunks if stopped else 1)
        record = {"epoch": round(at, 3), "complete": not stopped, "wall_s": time.time() - t0,
                  "train_seconds": train_s, "tokens_per_second": tokens / max(train_s, 1e-9),
                  "train_loss": loss_sum / max(n_done, 1), "learning_rate": lr,
                  "valid_loss": nll / words, "valid_perplexity": perplexity(nll, words)}
        history.append(record)
        print(f"epoch {record['epoch']:g}{' (stopped: budget)' if stopped else ''}: train loss "
              f"{record['train_loss']:.4f}, {record['tokens_per_second']:.0f} tokens/s, lr {lr:g}, valid perplexity "
              f"{record['valid_perplexity']:.2f} at {record['wall_s']:.1f} s", flush=True)
        if nll < best["valid_nll"]:
            best = {"valid_nll": nll, "valid_words": words, "state": copy.deepcopy(model.state_dict()),
                    "epoch": record["epoch"]}
        elif not stopped:
            lr /= r["lr_decay"]
            set_lr(optimizer, lr)
            print(f"  no improvement: learning rate divided by {r['lr_decay']:g} to {lr:g}", flush=True)
        if not stopped:
            epoch += 1
    train_end_s = time.time() - t0
    model.load_state_dict(best["state"])
    test_nll, test_words, test_sentences = score_sentences(model, data.test, device=device)
    result = {"recipe": dict(RECIPE), "threads": torch.get_num_threads(), "setup_s": setup_s,
              "stream_tokens": int(columns.numel()), "chunks_per_epoch": n_chunks, "history": history,
              "epochs": history[-1]["epoch"] if history else 0, "stopped_by_budget": stopped,
              "train_end_s": train_end_s, "best_epoch": best["epoch"],
              "valid_perplexity": perplexity(best["valid_nll"], best["valid_words"]),
              "test_perplexity": perplexity(test_nll, test_words), "test_cross_entropy": test_nll / test_words,
              "test_words": test_words, "test_sentences": test_sentences, "wall_s": time.time() - t0}
    print(f"test (best model, epoch {best['epoch']:g}): {test_sentences} sentences, {test_words} words: "
          f"cross-entropy {result['test_cross_entropy']:.4f} nats/word, perplexity {result['test_perplexity']:.2f}",
          flush=True)
    return result


def torch_throughput_worker(p, t0):
    """Part 2: PyTorch tokens/s for one epoch of the stream, after a short warm-up."""
    data = load_data(p["corpus"], p["max_sentences"], p["vocab_size"])
    import torch

    torch.set_num_threads(p["threads"])
    s = SPEED
    torch.manual_seed(s["seed"])
    columns = stream_columns(data.train, p["batch"])
    model = build_torch_model(p["model"], len(data.vocab), s["embed"], s["hidden"], s["layers"], s["dropout"])
    optimizer = make_optimizer(model, s["optimizer"], s["lr"])
    model.train()
    state = None
    for i, (x, y) in enumerate(chunks(columns, p["bptt"])):
        if i >= s["warmup_batches"]:
            break
        _, state = train_chunk(model, optimizer, x, y, state, s["clip"])
    state, tokens, losses, start = None, 0, [], time.perf_counter()
    for x, y in chunks(columns, p["bptt"]):
        loss, state = train_chunk(model, optimizer, x, y, state, s["clip"])
        tokens += y.numel()
        losses.append(loss)
    seconds = time.perf_counter() - start
    return {"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds,
            "train_loss": sum(losses) / len(losses), "threads": torch.get_num_threads()}


def run_worker(kind, params, out_path, cores=None, tag="torch"):
    """Run this script as ``--worker kind`` (optionally pinned to ``cores``); returns its result dict, with
    the wall-clock of the whole process."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--worker-params", json.dumps(params),
           "--worker-out", out_path]
    t0 = time.time()
    cmd += ["--worker-t0", repr(t0)]
    stdout, _ = stream_process(pin(cmd, cores), tag, t0)
    wall = time.time() - t0
    if not os.path.exists(out_path):
        raise RuntimeError(f"the PyTorch {kind} worker failed:\n" + "".join(text for _, text in stdout[-20:]))
    with open(out_path) as f:
        result = json.load(f)
    result["process_wall_s"] = wall
    return result


# ======================================================================================================
# Our command
# ======================================================================================================
def pin(cmd, cores):
    """``cmd`` under ``taskset -c cores`` (``cores`` like "0" or "0,1"); unchanged for ``None``."""
    if cores is None:
        return cmd
    if shutil.which("taskset"):
        return ["taskset", "-c", cores] + cmd
    raise RuntimeError("taskset not found (util-linux); cannot pin the measurement to cores")


def stream_process(cmd, tag, t0=None):
    """Run ``cmd`` in ``ROOT``, echo its output prefixed with ``[tag]``; returns ``([(seconds since t0,
    line)], exit code)``. Lines are timestamped as they arrive (the child runs unbuffered)."""
    t0 = time.time() if t0 is None else t0
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    lines = []
    for line in proc.stdout:
        lines.append((time.time() - t0, line))
        print(f"  [{tag}] {line.rstrip()}", flush=True)
    return lines, proc.wait()


NUMBER = r"([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)"


def parse_ours(lines, checkpoint=None):
    """What our command printed: per-epoch records, the best model's valid/test perplexity, test words.

    ``lines``: ``[(seconds since launch, text)]``. Lines that are not found fall back to the checkpoint's
    ``meta["extra"]["fit"]["history"]``.
    """
    epochs, out = [], {}
    for at, text in lines:
        text = text.strip()
        m = re.match(r"epoch (\d+)\s*:", text)
        if m:
            rec = {"epoch": int(m.group(1)), "wall_s": at}
            for key, pattern in (("tokens_per_second", NUMBER + r" tokens/s"),
                                 ("valid_perplexity", r"valid perplexity " + NUMBER),
                                 ("train_loss", r"train loss " + NUMBER),
                                 ("learning_rate", r"\blr " + NUMBER),
                                 ("seconds", r"(?<![\w.])" + NUMBER + r" ?(?:s|sec|seconds)\b")):
                found = re.search(pattern, text)
                if found:
                    rec[key] = float(found.group(1))
            rec["seconds_from"] = "stdout" if "seconds" in rec else None
            epochs.append(rec)
            continue
        m = re.search(r"valid \(best model\).*perplexity " + NUMBER, text)
        if m:
            out["valid_perplexity"] = float(m.group(1))
        m = re.search(r"test \(best model\).*perplexity " + NUMBER, text)
        if m:
            out["test_perplexity"] = float(m.group(1))
            words = re.search(r"(\d+) sentences, (\d+) words", text)
            if words:
                out["test_sentences"], out["test_words"] = int(words.group(1)), int(words.group(2))
        if "training sentences" in text and "first_output_s" not in out:
            out["first_output_s"] = at   # printed after the data are loaded, before any compile
    history = checkpoint_history(checkpoint)
    by_epoch = {h.get("epoch"): h for h in history}
    for rec in epochs:
        h = by_epoch.get(rec["epoch"], {})
        for key in ("seconds", "valid_perplexity", "tokens_per_second"):
            if key not in rec and h.get(key) is not None:
                rec[key] = float(h[key])
                if key == "seconds":
                    rec["seconds_from"] = "checkpoint"
    if not epochs and history:
        # No epoch lines on stdout: place the checkpoint's epochs on the clock from the first output line
        # (data loaded) plus the cumulated training seconds (validation time is not in ``seconds``).
        offset, clock = out.get("first_output_s", 0.0), 0.0
        for h in history:
            clock += float(h.get("seconds") or 0.0)
            epochs.append({"epoch": h.get("epoch"), "wall_s": offset + clock, "wall_s_estimated": True,
                           **{k: h.get(k) for k in ("seconds", "valid_perplexity", "tokens_per_second")}})
    out["history"] = epochs
    if "valid_perplexity" not in out:
        valid = [e["valid_perplexity"] for e in epochs if e.get("valid_perplexity") is not None]
        if valid:
            out["valid_perplexity"] = min(valid)
    out["epochs"] = len(epochs)
    return out


def checkpoint_history(path):
    if not path or not os.path.exists(path):
        return []
    try:
        import numpy as np

        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["__meta__"]))
        return list(meta.get("extra", {}).get("fit", {}).get("history", []))
    except Exception as exc:  # a format change must not lose the rest of the run
        print(f"  (could not read the history from {path}: {exc})")
        return []


def data_flags(a):
    return ["--corpus", a.corpus, "--max-sentences", str(a.max_sentences), "--vocab-size", str(a.vocab_size)]


def run_ours(cmd_tail, tmpdir, name, cores=None):
    """Run ``scripts/train.py`` with ``cmd_tail``; returns the parsed output and the process wall-clock."""
    out = os.path.join(tmpdir, f"{name}.npz")
    cmd = [sys.executable, "scripts/train.py"] + cmd_tail + ["--out", out, "--samples", "0", "--no-progress"]
    print("$ " + " ".join(shlex.quote(c) for c in pin(cmd, cores)), flush=True)
    t0 = time.time()
    lines, code = stream_process(pin(cmd, cores), "ours", t0)
    wall = time.time() - t0
    if code != 0:
        raise RuntimeError(f"our command exited with {code}:\n" + "".join(text for _, text in lines[-20:]))
    result = parse_ours(lines, out)
    result.update({"command": " ".join(shlex.quote(c) for c in cmd), "wall_s": wall,
                   "flags": " ".join(shlex.quote(c) for c in cmd_tail)})
    return result


# ======================================================================================================
# Part 1 and part 2
# ======================================================================================================
def part_quality(a, tmpdir):
    res = {"data": {"corpus": a.corpus, "max_sentences": a.max_sentences, "vocab_size": a.vocab_size}}
    data_p = {"corpus": a.corpus, "max_sentences": a.max_sentences, "vocab_size": a.vocab_size,
              "threads": a.torch_threads or None, "device": a.torch_device}
    if a.no_ours:
        budget = a.budget or 60.0
    else:
        tail = data_flags(a) + (["--epochs", str(a.ours_epochs)] if a.ours_epochs else []) + shlex.split(a.ours_args)
        load = loadavg()
        res["ours"] = ours = run_ours(tail, tmpdir, "ours")
        ours["load_before"], ours["load_after"] = load, loadavg()
        budget = a.budget or ours["wall_s"]
    print(f"\nPyTorch word_language_model recipe for {budget:.1f} s of wall-clock", flush=True)
    load = loadavg()
    res["torch_budget"] = run_worker("quality", {**data_p, "budget_s": budget, "max_epochs": None},
                                     os.path.join(tmpdir, "torch_quality.json"))
    res["torch_budget"].update({"budget_s": budget, "load_before": load, "load_after": loadavg()})
    if a.torch_epochs:
        print(f"\nPyTorch word_language_model recipe for {a.torch_epochs} epochs", flush=True)
        load = loadavg()
        res["torch_epochs"] = run_worker("quality", {**data_p, "budget_s": None, "max_epochs": a.torch_epochs},
                                         os.path.join(tmpdir, "torch_epochs.json"))
        res["torch_epochs"].update({"load_before": load, "load_after": loadavg()})
    words = res["torch_budget"]["test_words"]
    ours_words = res.get("ours", {}).get("test_words")
    check = "" if ours_words is None else (" (ours: the same)" if ours_words == words else
                                           f" (ours: {ours_words}: MISMATCH)")
    print(f"\nScored test words (w1..wn END of every test sentence): {words}{check}")
    return res


def part_throughput(a, tmpdir):
    rows = []
    core_sets = ["0", "0,1"] if (os.cpu_count() or 1) >= 2 else ["0"]
    for model in a.models.split(","):
        for cores in core_sets:
            threads = len(cores.split(","))
            row = {"model": model, "cores": cores, "threads": threads, "batch": a.batch, "bptt": a.bptt,
                   "hidden": SPEED["hidden"], "embed": SPEED["embed"], "layers": SPEED["layers"]}
            print(f"\nthroughput: {model}, cores {cores}", flush=True)
            row["load_before_ours"] = loadavg()
            tail = data_flags(a) + ["--model", model, "--hidden-dim", str(SPEED["hidden"]), "--epochs", "2",
                                    "--batch-size", str(a.batch), "--bptt", str(a.bptt), "--optimizer", "adam",
                                    "--learning-rate", str(SPEED["lr"]), "--clip", str(SPEED["clip"]),
                                    "--dropout", "0", "--lr-decay", "1"]
            if model != "rnn":
                tail += ["--layers", "1", "--no-tie-weights"]
            try:
                ours = run_ours(tail, tmpdir, f"speed_{model}", cores)
                ep2 = [e for e in ours["history"] if e.get("epoch") == 2]
                row["ours_tokens_per_second"] = ep2[0].get("tokens_per_second") if ep2 else None
                row["ours_epoch2_seconds"] = ep2[0].get("seconds") if ep2 else None
                row["ours_wall_s"] = ours["wall_s"]
                row["ours_command"] = ours["command"]
            except Exception as exc:
                print(f"  ours failed: {exc}")
                row["ours_tokens_per_second"], row["ours_error"] = None, str(exc)[-2000:]
            row["load_before_torch"] = loadavg()
            p = {"corpus": a.corpus, "max_sentences": a.max_sentences, "vocab_size": a.vocab_size,
                 "model": model, "threads": threads, "batch": a.batch, "bptt": a.bptt}
            t = run_worker("throughput", p, os.path.join(tmpdir, f"speed_{model}_{threads}.json"), cores)
            row["torch_tokens_per_second"] = t["tokens_per_second"]
            row["torch_threads"], row["torch_epoch_seconds"] = t["threads"], t["seconds"]
            row["load_after"] = loadavg()
            o = row["ours_tokens_per_second"]
            row["ratio_ours_over_torch"] = o / t["tokens_per_second"] if o else None
            print(f"  -> ours {o or float('nan'):.0f} tok/s, torch {t['tokens_per_second']:.0f} tok/s", flush=True)
            rows.append(row)
    return rows


# ======================================================================================================
# Table, JSON, PNG
# ======================================================================================================
def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)


def print_tables(results):
    q = results.get("quality")
    if q:
        d = q["data"]
        print(f"\nQuality at equal wall-clock ({d['corpus']}, {d['max_sentences']} sentences, vocabulary "
              f"{d['vocab_size']}; perplexities per sentence, best model by validation)")
        print("| toolkit | recipe | wall-clock s | epochs | valid ppl | test ppl | load avg (1 min) |\n"
              "|---|---|---|---|---|---|---|")
        if "ours" in q:
            o = q["ours"]
            print(f"| ours | {o['flags']} | {o['wall_s']:.1f} | {o['epochs']} | "
                  f"{fmt(o.get('valid_perplexity'))} | {fmt(o.get('test_perplexity'))} | "
                  f"{fmt((o.get('load_before') or [None])[0])} |")
        for key, label in (("torch_budget", "word_language_model, stopped at the budget"),
                           ("torch_epochs", "word_language_model, fixed epochs")):
            if key in q:
                t = q[key]
                print(f"| PyTorch {results['machine']['versions'].get('torch')} | {label} | "
                      f"{t['process_wall_s']:.1f} | {t['epochs']:g} | {t['valid_perplexity']:.2f} | "
                      f"{t['test_perplexity']:.2f} | {fmt((t.get('load_before') or [None])[0])} |")
    rows = results.get("throughput")
    if rows:
        print(f"\nTraining throughput, predicted tokens/s (one layer, H = E = 128, Adam, clip 5, batch "
              f"{rows[0]['batch']}, bptt {rows[0]['bptt']})")
        print("| model | cores | ours tok/s | torch tok/s | ours/torch | load avg (1 min) |\n|---|---|---|---|---|---|")
        for r in rows:
            load = (r.get("load_before_ours") or [None])[0]
            print(f"| {r['model']} | {r['cores']} | {fmt(r['ours_tokens_per_second'], '.0f')} | "
                  f"{r['torch_tokens_per_second']:.0f} | {fmt(r['ratio_ours_over_torch'])} | {fmt(load)} |")


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    q = results["quality"]
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    series = []
    if "ours" in q:
        h = [e for e in q["ours"]["history"] if e.get("valid_perplexity") is not None]
        series.append(("ours: scripts/train.py", h, "o-", q["ours"]["wall_s"]))
    if "torch_budget" in q:
        series.append(("PyTorch word_language_model (same budget)", q["torch_budget"]["history"], "s-",
                       q["torch_budget"]["wall_s"]))
    if "torch_epochs" in q:
        series.append((f"PyTorch word_language_model ({len(q['torch_epochs']['history'])} epochs)",
                       q["torch_epochs"]["history"], "^--", q["torch_epochs"]["wall_s"]))
    for label, hist, style, _ in series:
        if hist:
            ax.plot([e["wall_s"] for e in hist], [e["valid_perplexity"] for e in hist], style, label=label)
    if "ours" in q:
        ax.axvline(q["ours"]["wall_s"], color="grey", linestyle=":", linewidth=1, label="our wall-clock (budget)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    low, high = ax.get_ylim()
    if high / low < 10:   # less than a decade: label the minor ticks too, or there would be none
        ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.set_xlabel("wall-clock seconds since process start (imports, data, compiles included)")
    ax.set_ylabel("validation perplexity (per sentence)")
    d = q["data"]
    ax.set_title(f"{d['corpus']}, first {d['max_sentences']} sentences, vocabulary {d['vocab_size']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "jax", "jaxlib", "pytensor", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


# ======================================================================================================
# Command line
# ======================================================================================================
def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="quality,throughput", help="comma list: quality, throughput (default: both)")
    ap.add_argument("--corpus", default="shakespeare", help="as scripts/train.py --corpus (default: shakespeare)")
    ap.add_argument("--max-sentences", type=int, default=None, help="default 20000 (--quick: 2000)")
    ap.add_argument("--vocab-size", type=int, default=None, help="default 4000 (--quick: 500)")
    ap.add_argument("--ours-epochs", type=int, default=None, help="epochs of our main command (default: the "
                                                                  "command's own; --quick: 1)")
    ap.add_argument("--ours-args", default="", help="extra flags for our command in part 1, e.g. "
                                                    "\"--model lstm --layers 2\"")
    ap.add_argument("--no-ours", action="store_true", help="part 1 without our command (PyTorch half only)")
    ap.add_argument("--budget", type=float, default=None,
                    help="PyTorch's wall-clock budget in part 1 (default: our command's wall-clock; 60 with --no-ours)")
    ap.add_argument("--torch-epochs", type=int, default=0, help="also run the PyTorch recipe for N full epochs "
                                                                   "(default: 0, not run)")
    ap.add_argument("--torch-threads", type=int, default=0, help="torch threads in part 1 (0: torch's default)")
    ap.add_argument("--torch-device", default="cpu", help="part 1's PyTorch device: cpu, or cuda on a GPU machine")
    ap.add_argument("--models", default=None, help="part 2 models (default rnn,gru,lstm; --quick: rnn)")
    ap.add_argument("--batch", type=int, default=32, help="part 2 batch size (default: 32)")
    ap.add_argument("--bptt", type=int, default=32, help="part 2 truncated-BPTT length (default: 32)")
    ap.add_argument("--quick", action="store_true", help="tiny settings for a smoke run")
    ap.add_argument("--out", default=os.path.join(HERE, "vs_pytorch.json"),
                    help="JSON results (default: benchmarks/vs_pytorch.json)")
    ap.add_argument("--png", default=os.path.join(HERE, "vs_pytorch.png"),
                    help="part 1 plot (default: benchmarks/vs_pytorch.png; '' for none)")
    ap.add_argument("--worker", choices=["quality", "throughput"], help=argparse.SUPPRESS)
    ap.add_argument("--worker-params", help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", help=argparse.SUPPRESS)
    ap.add_argument("--worker-t0", type=float, help=argparse.SUPPRESS)
    return ap


def worker_main(a):
    params = json.loads(a.worker_params)
    fn = torch_quality_worker if a.worker == "quality" else torch_throughput_worker
    result = fn(params, a.worker_t0 or time.time())
    tmp = a.worker_out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, a.worker_out)


def main():
    a = build_parser().parse_args()
    if a.worker:
        return worker_main(a)
    defaults = {"max_sentences": (2000, 20000), "vocab_size": (500, 4000), "ours_epochs": (1, None),
                "models": ("rnn", "rnn,gru,lstm")}
    for key, (quick, full) in defaults.items():
        if getattr(a, key) is None:
            setattr(a, key, quick if a.quick else full)
    parts = [p.strip() for p in a.parts.split(",") if p.strip()]
    unknown = set(parts) - {"quality", "throughput"}
    if unknown:
        sys.exit(f"unknown part(s): {', '.join(sorted(unknown))}")
    results = {"settings": {k: v for k, v in vars(a).items() if not k.startswith("worker")},
               "recipe": RECIPE, "speed_model": SPEED,
               "machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                           "nproc": os.cpu_count(), "loadavg_start": loadavg(), "versions": versions()},
               "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    load = results["machine"]["loadavg_start"]
    if load and load[0] >= 0.5 * (os.cpu_count() or 1):
        print(f"warning: load average {load[0]:.2f} on {os.cpu_count()} cores from other work: timings will be "
              f"noisy, PyTorch on 2 threads most of all (its OpenMP threads stall when a core is taken)\n")
    with tempfile.TemporaryDirectory(prefix="vs_pytorch_") as tmpdir:
        if "quality" in parts:
            results["quality"] = part_quality(a, tmpdir)
        if "throughput" in parts:
            results["throughput"] = part_throughput(a, tmpdir)
    results["machine"]["loadavg_end"] = loadavg()
    print_tables(results)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\nSaved {a.out}")
    if "quality" in results and a.png:
        print(f"Saved {plot(results, a.png)}")


if __name__ == "__main__":
    main()
