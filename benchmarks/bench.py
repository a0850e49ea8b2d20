"""Speed benchmark of the project's language models (float32, CPU).

Measures, in one process:

1. ``gemm``   -- the machine's matrix-product peak: numpy float32 GEMM with OpenBLAS on 1 thread (what the
   project runs with, ``lmkit.backend`` limits it) and on 2 threads, and ``jax.numpy.dot`` under jit.
2. ``sentence`` -- per-sentence training steps as in the tutorial: ``RNNNumpy.sgd_step`` (numpy reference),
   ``RNNTheano.sgd_step`` (C backend), ``GRUTheano`` / ``LSTMTheano`` ``sgd_step`` (C backend), on one
   45-word sentence.
   ``batched`` -- ``lmkit.trainer.BatchedTrainer.train_batch`` (SGD, clip 5, full BPTT) for the RNN
   (C=8000, H=100), GRU and LSTM (C=8000, H=128, 2 layers) with sentences of 20 words, batch 1/32/64, in
   the modes chosen with ``--modes`` (c, jax, numba).
   ``torch`` -- PyTorch CPU ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` of the same sizes, one full training step
   (embedding, forward, cross-entropy, backward, clipping, SGD), 1 thread (and 2 threads as a side note).
   ``paired`` -- our batched step and PyTorch's (``--torch-threads``, default 1), same model and batch, timed
   in alternation: the ratio this gives holds on a machine whose speed drifts, where separate rows do not.
   ``eval`` -- scoring throughput: ``BatchedTrainer.evaluate`` and per-sentence ``predict_proba``.
3. Achieved GFLOP/s of every full-BPTT training step from an analytic FLOP count (forward + backward =
   3 x the forward matrix-product FLOPs), its fraction of the 1-thread numpy GEMM peak, and the time ratio
   to PyTorch at the same model and batch.

Times are medians over repeats after warm-up (and after compilation). The JAX functions return concrete
values (the trainer converts the cost to ``float``), so timing the Python call is enough.

Usage::

    python benchmarks/bench.py                  # everything (about 10-15 minutes on 2 cores)
    python benchmarks/bench.py --quick          # smoke run: small sizes, few repeats
    python benchmarks/bench.py --parts gemm,batched --modes c,jax --batches 32
    taskset -c 0 python benchmarks/bench.py --parts paired --modes jax --batches 32 --jax-threads 1  # vs PyTorch
    python benchmarks/bench.py --out /tmp/r.json

Environment set *before* PyTensor / JAX are imported: ``PYTENSOR_FLAGS`` gets ``floatX=float32`` (unless it
already sets floatX), ``JAX_PLATFORMS=cpu``; ``--jax-threads 1`` sets ``XLA_FLAGS`` to run XLA's CPU backend
on one thread (default: XLA's own choice, all cores).
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ALL_PARTS = ("gemm", "sentence", "batched", "torch", "paired", "eval")
DEFAULT_PARTS = ("gemm", "sentence", "batched", "torch", "eval")   # paired: asked for by name
ALL_MODES = ("c", "jax", "numba")


# ------------------------------------------------------------------------------------------------------
# Set-up that must happen before pytensor / jax are imported
# ------------------------------------------------------------------------------------------------------
def configure_environment(args):
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "floatX" not in flags:
        os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, "floatX=float32") if f)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if args.jax_threads == 1:
        extra = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + extra).strip()
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)


# ------------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------------
def loadavg():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def timeit(fn, warmup=1, repeats=5, min_repeats=2, budget_s=None):
    """Median / min / all wall times (seconds) of ``fn()`` after ``warmup`` calls.

    Stops early (but after ``min_repeats``) once ``budget_s`` seconds have been spent on timed calls.
    """
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if budget_s is not None and i + 1 >= min_repeats and time.perf_counter() - start > budget_s:
            break
    return {"median_s": statistics.median(times), "min_s": min(times), "n": len(times),
            "times_s": [round(t, 6) for t in times]}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def step_flops(model, C, H, layers, tokens):
    """Analytic FLOPs of one full-BPTT training step over ``tokens`` positions (forward x 3).

    Forward per token: output layer 2*H*C; RNN recurrence 2*H*H; GRU 2 * 3 gates * (U + W) * H*H per layer
    (= 12 H^2), LSTM 16 H^2 per layer (embedding width = H). Gathers, element-wise ops and the softmax's
    exp are not counted.
    """
    per_layer = {"rnn": 2 * H * H, "gru": 12 * H * H, "lstm": 16 * H * H}[model]
    forward = 2 * H * C + per_layer * layers
    return 3.0 * forward * tokens


# ------------------------------------------------------------------------------------------------------
# 1. GEMM peak
# ------------------------------------------------------------------------------------------------------
def bench_gemm(cfg, results):
    import numpy as np
    from threadpoolctl import threadpool_limits
    from lmkit.backend import configure

    configure()  # one OpenBLAS thread, as the project runs

    rows = []
    rng = np.random.default_rng(0)
    for (m, k, n) in cfg["gemm_shapes"]:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        flops = 2.0 * m * k * n
        for threads in (1, 2):
            with threadpool_limits(limits=threads, user_api="blas"):
                t = timeit(lambda: a @ b, warmup=1, repeats=cfg["gemm_repeats"], budget_s=3)
            rows.append({"impl": "numpy", "threads": threads, "shape": [m, k, n],
                         "gflops": flops / t["median_s"] / 1e9, "best_gflops": flops / t["min_s"] / 1e9, **t})
            log(f"  numpy {threads}T {m}x{k}@{k}x{n}: {rows[-1]['gflops']:.1f} GFLOP/s")
    try:
        import jax
        import jax.numpy as jnp
        dot = jax.jit(jnp.dot)
        for (m, k, n) in cfg["gemm_shapes"]:
            a = jnp.asarray(rng.standard_normal((m, k), dtype=np.float32))
            b = jnp.asarray(rng.standard_normal((k, n), dtype=np.float32))
            flops = 2.0 * m * k * n
            t = timeit(lambda: dot(a, b).block_until_ready(), warmup=2, repeats=cfg["gemm_repeats"], budget_s=3)
            rows.append({"impl": "jax", "threads": "xla", "shape": [m, k, n],
                         "gflops": flops / t["median_s"] / 1e9, "best_gflops": flops / t["min_s"] / 1e9, **t})
            log(f"  jax {m}x{k}@{k}x{n}: {rows[-1]['gflops']:.1f} GFLOP/s")
    except ImportError:
        results["notes"].append("jax not installed: no JAX GEMM peak")
    results["gemm"] = rows
    # The reference peak: best 1-thread numpy rate over the shapes (the large square one, normally).
    one = [r["gflops"] for r in rows if r["impl"] == "numpy" and r["threads"] == 1]
    results["peak_gflops_1thread"] = max(one) if one else None


# ------------------------------------------------------------------------------------------------------
# 2. Training throughput
# ------------------------------------------------------------------------------------------------------
def random_sentences(rng, n, length, C):
    X = [rng.integers(0, C, size=length).astype("int32") for _ in range(n)]
    Y = [rng.integers(0, C, size=length).astype("int32") for _ in range(n)]
    return X, Y


def record(results, **row):
    row.setdefault("loadavg", loadavg())
    results["rows"].append(row)
    ms = row.get("ms")
    log(f"  {row['model']:5s} {row['impl']:16s} {str(row.get('mode', '')):6s} B={row.get('batch', '')!s:3s} "
        + (f"{ms:9.2f} ms  {row['tokens_per_s']:9.0f} tok/s" if ms is not None else row.get("error", "")))


def bench_sentence(cfg, results):
    import numpy as np
    from rnn_theano.rnn_numpy import RNNNumpy
    from rnn_theano.rnn_theano import RNNTheano
    from gru_theano import GRUTheano, LSTMTheano

    C, T = cfg["C"], cfg["sentence_len"]
    rng = np.random.default_rng(1)
    x = rng.integers(0, C, size=T).astype("int32")
    y = rng.integers(0, C, size=T).astype("int32")
    reps = cfg["repeats"]

    # numpy reference (float64 internally as written in the tutorial; weights are float64 there).
    m = RNNNumpy(C, cfg["H_rnn"], bptt_truncate=4, seed=0)
    t = timeit(lambda: m.sgd_step(x, y, 0.005), warmup=1, repeats=max(3, reps // 2), budget_s=5)
    record(results, model="rnn", impl="RNNNumpy sgd_step", mode="numpy", batch=1, tokens=T, ms=t["median_s"] * 1e3,
           tokens_per_s=T / t["median_s"], flops=None, timing=t,
           note="bptt_truncate=4 (per output step); blog 2015: ~350 ms")

    # The blog's row is the RNN's: C = 8000, H = 100, one 45-word sentence. JAX runs the sentence padded to
    # its length bucket (64 words, the padding masked: lmkit.compiled).
    specs = [("rnn", lambda mode: RNNTheano(C, cfg["H_rnn"], bptt_truncate=4, mode=mode, dtype="float32", seed=0),
              None, "bptt_truncate=4 (scan truncate_gradient); blog 2015 Theano CPU: ~70 ms, GPU: ~23 ms"),
             ("gru", lambda mode: GRUTheano(C, cfg["H_gru"], mode=mode, dtype="float32", seed=0), 2, "RMSprop, full BPTT"),
             ("lstm", lambda mode: LSTMTheano(C, cfg["H_gru"], mode=mode, dtype="float32", seed=0), 2, "RMSprop, full BPTT")]
    modes = ["c"] + (["jax"] if "jax" in cfg["modes"] else [])
    for mode in modes:
        for name, build, layers, note in (spec for spec in specs if spec[0] in cfg["models"]):
            try:
                model = build(mode)
                t0 = time.perf_counter()
                model.sgd_step(x, y, 0.001)             # compiles
                compile_s = time.perf_counter() - t0
                t = timeit(lambda: model.sgd_step(x, y, 0.001) or model.wait(), warmup=1, repeats=reps, budget_s=5)
                H = cfg["H_rnn"] if name == "rnn" else cfg["H_gru"]
                flops = step_flops(name, C, H, layers, T) if layers else None
                record(results, model=name, impl=f"{type(model).__name__} sgd_step", mode=mode, batch=1, tokens=T,
                       ms=t["median_s"] * 1e3, tokens_per_s=T / t["median_s"], flops=flops, compile_s=compile_s,
                       timing=t, note=note)
            except Exception as e:  # keep going: one failure must not lose the rest of the run
                record(results, model=name, impl="sgd_step", mode=mode, batch=1, ms=None, error=repr(e))
                traceback.print_exc()


def build_model(name, cfg, mode):
    from rnn_theano.rnn_theano import RNNTheano
    from gru_theano import GRUTheano, LSTMTheano
    C = cfg["C"]
    if name == "rnn":
        return RNNTheano(C, cfg["H_rnn"], bptt_truncate=4, mode=mode, dtype="float32", seed=0)
    cls = GRUTheano if name == "gru" else LSTMTheano
    return cls(C, cfg["H_gru"], num_layers=2, mode=mode, dtype="float32", seed=0)


def bench_batched(cfg, results):
    import numpy as np
    from lmkit.trainer import BatchedTrainer
    from lmkit.data.batching import pad_batch

    C, T = cfg["C"], cfg["T"]
    for mode in cfg["modes"]:
        for name in cfg["models"]:
            H = cfg["H_rnn"] if name == "rnn" else cfg["H_gru"]
            layers = 1 if name == "rnn" else 2
            try:
                model = build_model(name, cfg, mode)
            except Exception as e:
                record(results, model=name, impl="BatchedTrainer", mode=mode, ms=None, error=repr(e))
                continue
            trainer = None
            for B in cfg["batches"]:
                if mode == "numba" and B in cfg["skip_numba_batches"]:
                    continue
                rng = np.random.default_rng(2)
                X, Y = random_sentences(rng, B, T, C)
                batch = pad_batch(X, Y, T)
                try:
                    # One trainer per model serves every batch size (numba/c compile once per model;
                    # JAX compiles once per shape anyway). batch_size only matters for evaluate().
                    if trainer is None:
                        trainer = BatchedTrainer(model, "sgd", clip=5.0, bptt=T, batch_size=B, mode=mode)
                    if trainer.batch_size != B:  # the carried state must match this batch's width,
                        trainer.batch_size = B   # and JAX's graph its shape
                        if mode == "jax":
                            trainer._functions.clear()
                    trainer.carry = trainer._zero_states()
                    n_before = trainer.compiles
                    t0 = time.perf_counter()
                    trainer.train_batch(batch, 0.01)
                    first_s = time.perf_counter() - t0
                    t = timeit(lambda: trainer.train_batch(batch, 0.01), warmup=1, repeats=cfg["repeats"],
                               budget_s=cfg["budget_s"])
                    tokens = B * T
                    record(results, model=name, impl="BatchedTrainer", mode=mode, batch=B, tokens=tokens,
                           ms=t["median_s"] * 1e3, tokens_per_s=tokens / t["median_s"],
                           flops=step_flops(name, C, H, layers, tokens),
                           compile_s=first_s if trainer.compiles > n_before else None, timing=t)
                except Exception as e:
                    record(results, model=name, impl="BatchedTrainer", mode=mode, batch=B, ms=None, error=repr(e))
                    traceback.print_exc()
            results.setdefault("_trainers", {})[(name, mode)] = trainer


def torch_lm(name, C, H, layers):
    """PyTorch's model of the same sizes as ours: embedding, ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM``, linear."""
    import torch.nn as nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(C, H)
            if name == "rnn":
                # RNNTheano: s_t = tanh(U[:, x_t] + W s_{t-1}), no biases. nn.RNN adds an input matrix
                # W_ih (H x H) after the embedding: +2*H*H per token, <2% of the output layer's FLOPs.
                self.rnn = nn.RNN(H, H, num_layers=1, nonlinearity="tanh", bias=False)
                self.out = nn.Linear(H, C, bias=False)
            else:
                cls = nn.GRU if name == "gru" else nn.LSTM
                self.rnn = cls(H, H, num_layers=layers)
                self.out = nn.Linear(H, C)

        def forward(self, x):          # x: (T, B) time-major
            h, _ = self.rnn(self.emb(x))
            return self.out(h)

    return LM()


def torch_step(name, cfg, B, device):
    """``(model, step)``: one full PyTorch training step (embedding, forward, cross-entropy, backward,
    clipping, SGD) on a fixed random batch, returning the loss (which waits for the device)."""
    import numpy as np
    import torch

    C, T = cfg["C"], cfg["T"]
    H = cfg["H_rnn"] if name == "rnn" else cfg["H_gru"]
    torch.manual_seed(0)
    model = torch_lm(name, C, H, 1 if name == "rnn" else 2).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    lossf = torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.integers(0, C, size=(T, B)).astype("int64")).to(device)
    y = torch.from_numpy(rng.integers(0, C, size=(T, B)).astype("int64")).to(device)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = lossf(logits.reshape(-1, C), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return loss.item()   # waits for the device

    return model, step


def bench_torch(cfg, results):
    try:
        import torch
    except ImportError:
        results["notes"].append("torch not installed: PyTorch rows skipped (pip install -r benchmarks/requirements.txt)")
        log("  torch not installed: skipped")
        return

    C, T = cfg["C"], cfg["T"]
    # On a machine with CUDA, PyTorch runs there (cuDNN's GRU and LSTM), beside our JAX rows on the same GPU.
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    rows_threads = [1] if cuda else ([1, 2] if cfg["torch_2threads"] else [1])
    saved_threads = torch.get_num_threads()
    for threads in rows_threads:
        torch.set_num_threads(threads)
        for name in cfg["models"]:
            H = cfg["H_rnn"] if name == "rnn" else cfg["H_gru"]
            layers = 1 if name == "rnn" else 2
            batches = cfg["batches"] if threads == 1 else [b for b in cfg["batches"] if b > 1]
            for B in batches:
                model, step = torch_step(name, cfg, B, device)
                t = timeit(step, warmup=2, repeats=cfg["repeats"], budget_s=cfg["budget_s"])
                tokens = B * T
                record(results, model=name, impl=f"torch nn.{type(model.rnn).__name__}",
                       mode="cuda" if cuda else f"{threads}T", batch=B, tokens=tokens, ms=t["median_s"] * 1e3,
                       tokens_per_s=tokens / t["median_s"], flops=step_flops(name, C, H, layers, tokens), timing=t,
                       torch_threads=threads)
    torch.set_num_threads(saved_threads)


def bench_paired(cfg, results):
    """Our training step and PyTorch's (``--torch-threads``, 1 by default; or CUDA) at the same model and
    batch, timed in alternation (ours, theirs, theirs, ours, ...): a machine whose speed drifts by 10-25%
    within a minute (as the 2-core machines here do) slows both alike, so the ratio holds where separate
    timings do not."""
    try:
        import torch
    except ImportError:
        results["notes"].append("torch not installed: paired rows skipped")
        return
    import numpy as np
    from lmkit.data.batching import pad_batch
    from lmkit.trainer import BatchedTrainer

    C, T = cfg["C"], cfg["T"]
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(cfg["paired_torch_threads"])
    for mode in cfg["modes"]:
        for name in cfg["models"]:
            for B in cfg["batches"]:
                try:
                    model = build_model(name, cfg, mode)
                    trainer = BatchedTrainer(model, "sgd", clip=5.0, bptt=T, batch_size=B, mode=mode)
                    X, Y = random_sentences(np.random.default_rng(2), B, T, C)
                    batch = pad_batch(X, Y, T)
                    torch_model, theirs = torch_step(name, cfg, B, device)
                    steps = {"ours": lambda: trainer.train_batch(batch, 0.01), "torch": theirs}
                    for fn in steps.values():
                        for _ in range(2):
                            fn()
                    times = {k: [] for k in steps}
                    for i in range(cfg["paired_repeats"]):
                        for k in (("ours", "torch") if i % 2 == 0 else ("torch", "ours")):
                            t0 = time.perf_counter()
                            steps[k]()
                            times[k].append(time.perf_counter() - t0)
                    ours, theirs_t = times["ours"], times["torch"]
                    record(results, model=name, impl=f"paired vs nn.{type(torch_model.rnn).__name__}", mode=mode,
                           torch_threads=cfg["paired_torch_threads"],
                           batch=B, tokens=B * T, kind="paired", ms=statistics.median(ours) * 1e3,
                           tokens_per_s=B * T / statistics.median(ours),
                           torch_ms=statistics.median(theirs_t) * 1e3, min_ms=min(ours) * 1e3,
                           torch_min_ms=min(theirs_t) * 1e3,
                           ratio_median=statistics.median(a / b for a, b in zip(ours, theirs_t)),
                           ratio_min=min(ours) / min(theirs_t), pairs=len(ours))
                except Exception as e:
                    record(results, model=name, impl="paired", mode=mode, batch=B, kind="paired", ms=None,
                           error=repr(e))
                    traceback.print_exc()
    torch.set_num_threads(saved_threads)


def bench_eval(cfg, results):
    import numpy as np
    from lmkit.trainer import BatchedTrainer

    C, T = cfg["C"], cfg["T"]
    rng = np.random.default_rng(3)
    n = cfg["eval_sentences"]
    X, Y = random_sentences(rng, n, T, C)
    B = cfg["eval_batch"]
    for mode in cfg["modes"]:
        if mode == "numba" and not cfg["eval_numba"]:
            continue
        for name in cfg["models"]:
            if mode == "numba" and name != "rnn":
                continue   # each numba eval graph costs 20-70 s of compilation; the RNN shows the trend
            try:
                model = build_model(name, cfg, mode)
                trainer = BatchedTrainer(model, "sgd", clip=5.0, bptt=T, batch_size=B, mode=mode)
                t0 = time.perf_counter()
                trainer.evaluate(X[:B], Y[:B])
                compile_s = time.perf_counter() - t0
                t = timeit(lambda: trainer.evaluate(X, Y), warmup=1, repeats=max(2, cfg["repeats"] // 2),
                           budget_s=cfg["budget_s"])
                tokens = n * T
                record(results, model=name, impl="BatchedTrainer.evaluate", mode=mode, batch=B, tokens=tokens,
                       ms=t["median_s"] * 1e3, tokens_per_s=tokens / t["median_s"], flops=None,
                       compile_s=compile_s, timing=t, kind="eval", note=f"{n} sentences of {T} words")
            except Exception as e:
                record(results, model=name, impl="BatchedTrainer.evaluate", mode=mode, batch=B, ms=None,
                       error=repr(e), kind="eval")
                traceback.print_exc()
    # per-sentence predict_proba, C backend, 45-word sentence
    Ts = cfg["sentence_len"]
    x = rng.integers(0, C, size=Ts).astype("int32")
    from rnn_theano.rnn_numpy import RNNNumpy
    for name in ["numpy"] + list(cfg["models"]):
        try:
            model = RNNNumpy(C, cfg["H_rnn"], seed=0) if name == "numpy" else build_model(name, cfg, "c")
            model.predict_proba(x)
            t = timeit(lambda: model.predict_proba(x), warmup=1, repeats=cfg["repeats"], budget_s=3)
            record(results, model="rnn" if name == "numpy" else name, impl=f"{type(model).__name__}.predict_proba",
                   mode="numpy" if name == "numpy" else "c", batch=1, tokens=Ts, ms=t["median_s"] * 1e3,
                   tokens_per_s=Ts / t["median_s"], flops=None, timing=t, kind="eval")
        except Exception as e:
            record(results, model=name, impl="predict_proba", mode="c", batch=1, ms=None, error=repr(e), kind="eval")
            traceback.print_exc()


# ------------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------------
def derive(results):
    peak = results.get("peak_gflops_1thread")
    torch_ms = {(r["model"], r["batch"], r["tokens"]): r["ms"] for r in results["rows"]
                if r["impl"].startswith("torch") and r.get("torch_threads") == 1 and r.get("ms")}
    for r in results["rows"]:
        if r.get("ms") and r.get("flops"):
            r["gflops"] = r["flops"] / (r["ms"] / 1e3) / 1e9
            r["pct_peak"] = 100.0 * r["gflops"] / peak if peak else None
        key = (r["model"], r.get("batch"), r.get("tokens"))
        if r.get("ms") and r.get("kind") not in ("eval", "paired") and key in torch_ms:
            r["x_torch_time"] = r["ms"] / torch_ms[key]


def fmt(v, spec):
    return format(v, spec) if isinstance(v, (int, float)) and v is not None else "-"


def print_table(results):
    out = []
    if results.get("gemm"):
        out.append("GEMM peak (float32)")
        out.append(f"{'impl':8s} {'threads':>7s} {'shape (m,k,n)':>18s} {'ms':>9s} {'GFLOP/s':>8s}")
        for g in results["gemm"]:
            out.append(f"{g['impl']:8s} {str(g['threads']):>7s} {'x'.join(map(str, g['shape'])):>18s} "
                       f"{g['median_s'] * 1e3:9.2f} {g['gflops']:8.1f}")
        out.append(f"reference peak (numpy, 1 thread, best shape): {fmt(results.get('peak_gflops_1thread'), '.1f')} GFLOP/s")
        out.append("")
    hdr = (f"{'model':5s} {'impl':30s} {'mode':6s} {'batch':>5s} {'ms/step':>9s} {'min ms':>9s} {'tokens/s':>9s} "
           f"{'GFLOP/s':>8s} {'%peak':>6s} {'x torch':>8s}")
    for title, pick in (("Training steps (T=20 per sentence for batched/torch; 45 for per-sentence)",
                         lambda r: r.get("kind") not in ("eval", "paired")),
                        ("Scoring / evaluation", lambda r: r.get("kind") == "eval")):
        rows = [r for r in results["rows"] if pick(r)]
        if not rows:
            continue
        out.append(title)
        out.append(hdr)
        out.append("-" * len(hdr))
        for r in rows:
            if r.get("ms") is None:
                out.append(f"{r['model']:5s} {r['impl']:30s} {str(r.get('mode')):6s} {str(r.get('batch', '')):>5s}  "
                           f"ERROR {r.get('error', '')[:80]}")
                continue
            out.append(f"{r['model']:5s} {r['impl']:30s} {str(r.get('mode')):6s} {r['batch']:>5d} {r['ms']:9.2f} "
                       f"{r['timing']['min_s'] * 1e3:9.2f} "
                       f"{r['tokens_per_s']:9.0f} {fmt(r.get('gflops'), '8.2f'):>8s} {fmt(r.get('pct_peak'), '6.1f'):>6s} "
                       f"{fmt(r.get('x_torch_time'), '8.2f'):>8s}")
        out.append("")
    paired = [r for r in results["rows"] if r.get("kind") == "paired"]
    if paired:
        threads = {r.get("torch_threads", 1) for r in paired}
        out.append(f"Side by side: our step and PyTorch's ({'/'.join(map(str, sorted(threads)))} thread(s)) in "
                   "alternation, same model and batch")
        hdr2 = (f"{'model':5s} {'mode':6s} {'batch':>5s} {'ours ms':>9s} {'torch ms':>9s} {'ours min':>9s} "
                f"{'torch min':>9s} {'x torch':>8s} {'x (mins)':>8s} {'speed':>7s}")
        out.append(hdr2)
        out.append("-" * len(hdr2))
        for r in paired:
            if r.get("ms") is None:
                out.append(f"{r['model']:5s} {str(r.get('mode')):6s} ERROR {r.get('error', '')[:80]}")
                continue
            out.append(f"{r['model']:5s} {r['mode']:6s} {r['batch']:>5d} {r['ms']:9.2f} {r['torch_ms']:9.2f} "
                       f"{r['min_ms']:9.2f} {r['torch_min_ms']:9.2f} {r['ratio_median']:8.3f} {r['ratio_min']:8.3f} "
                       f"{1 / r['ratio_median']:6.2f}x")
        out.append("x torch = median over the pairs of our time / PyTorch's (>1: we are slower); x (mins) = our "
                   "fastest step / PyTorch's fastest; speed = PyTorch's time / ours.")
        out.append("")
    out.append("ms/step = median of the timed repeats; min ms = fastest repeat (less sensitive to other load).")
    out.append("x torch = ms/step divided by PyTorch's (1 thread) at the same model and batch; >1 is slower.")
    out.append("GFLOP/s from an analytic count (3 x forward matmul FLOPs); %peak vs the 1-thread numpy GEMM peak.")
    for n in results["notes"]:
        out.append("note: " + n)
    print("\n".join(out))


def machine_info():
    info = {"python": sys.version.split()[0], "platform": platform.platform(), "nproc": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        for key in ("model name", "flags"):
            for line in text.splitlines():
                if line.startswith(key):
                    val = line.split(":", 1)[1].strip()
                    info["cpu_model" if key == "model name" else "cpu_simd"] = (
                        val if key == "model name" else
                        [f for f in val.split() if f.startswith(("avx", "fma", "sse4"))])
                    break
    except OSError:
        pass
    versions = {}
    for mod in ("numpy", "scipy", "pytensor", "numba", "jax", "jaxlib", "torch", "threadpoolctl"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:
            versions[mod] = None
    info["versions"] = versions
    try:
        from threadpoolctl import threadpool_info
        info["threadpools"] = [{k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version",
                                                      "architecture")} for p in threadpool_info()]
    except Exception:
        pass
    info["env"] = {k: os.environ.get(k) for k in ("PYTENSOR_FLAGS", "XLA_FLAGS", "JAX_PLATFORMS",
                                                   "OPENBLAS_NUM_THREADS", "RNNLM_BLAS_THREADS", "OMP_NUM_THREADS")}
    return info


def config(args):
    quick = args.quick
    cfg = {
        "C": 2000 if quick else 8000, "H_rnn": 50 if quick else 100, "H_gru": 64 if quick else 128,
        "T": 20, "sentence_len": 45,
        "batches": [1, 8] if quick else [1, 32, 64],
        "repeats": 3 if quick else 7, "budget_s": 1.0 if quick else 4.0,
        "gemm_shapes": [(512, 512, 512), (640, 100, 2000)] if quick else
                       [(2048, 2048, 2048), (640, 100, 8000), (1280, 128, 8000)],
        "gemm_repeats": 3 if quick else 5,
        "eval_sentences": 64 if quick else 512, "eval_batch": 8 if quick else 64,
        "eval_numba": not quick,
        "skip_numba_batches": [],
        "torch_2threads": True,
        "paired_repeats": 4 if quick else 30,
    }
    if args.batches:
        cfg["batches"] = [int(b) for b in args.batches.split(",")]
    if args.repeats:
        cfg["repeats"] = args.repeats
    if args.pairs:
        cfg["paired_repeats"] = args.pairs
    cfg["paired_torch_threads"] = args.torch_threads
    cfg["modes"] = [m for m in args.modes.split(",") if m]
    cfg["models"] = [m for m in args.models.split(",") if m]
    if args.skip_numba_batch1:
        cfg["skip_numba_batches"] = [1]
    return cfg


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: small sizes, few repeats")
    p.add_argument("--parts", default=",".join(DEFAULT_PARTS),
                   help=f"comma list of {', '.join(ALL_PARTS)} (default: all but paired)")
    p.add_argument("--modes", default=",".join(ALL_MODES), help="PyTensor backends for the batched trainer")
    p.add_argument("--models", default="rnn,gru,lstm")
    p.add_argument("--batches", default=None, help="comma list of batch sizes (default 1,32,64)")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--pairs", type=int, default=None, help="alternating steps per side in the paired part (default 30)")
    p.add_argument("--torch-threads", type=int, default=1, help="PyTorch's threads in the paired part (default 1)")
    p.add_argument("--skip-numba-batch1", action="store_true", help="no numba rows at batch 1")
    p.add_argument("--jax-threads", type=int, default=0, help="1: XLA CPU on one thread (default: XLA's choice)")
    p.add_argument("--scan-unroll", type=int, default=1, help="unroll JAX's scans by this many steps (1: not)")
    p.add_argument("--out", default=os.path.join(HERE, "results.json"))
    p.add_argument("--table-from", default=None, metavar="JSON", help="only print the table of a results file")
    args = p.parse_args(argv)
    if args.table_from:
        with open(args.table_from) as f:
            results = json.load(f)
        derive(results)
        print_table(results)
        return results
    configure_environment(args)
    cfg = config(args)
    parts = [x for x in args.parts.split(",") if x]
    unknown = set(parts) - set(ALL_PARTS)
    if unknown:
        p.error(f"unknown parts {unknown}")

    results = {"config": {k: v for k, v in cfg.items()}, "parts": parts, "quick": args.quick,
               "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "loadavg_start": loadavg(),
               "rows": [], "notes": [], "section_seconds": {}}
    from lmkit.backend import configure

    configure()  # the process settings the command line makes: one BLAS thread, the allocator, warnings
    if args.scan_unroll != 1:
        from lmkit.pytensor_internals import set_jax_scan_unroll

        set_jax_scan_unroll(args.scan_unroll)
        results["scan_unroll"] = args.scan_unroll
    t_all = time.perf_counter()
    for part in ALL_PARTS:
        if part not in parts:
            continue
        log(f"== {part} (load {loadavg()})")
        t0 = time.perf_counter()
        try:
            {"gemm": bench_gemm, "sentence": bench_sentence, "batched": bench_batched, "paired": bench_paired,
             "torch": bench_torch, "eval": bench_eval}[part](cfg, results)
        except Exception as e:
            results["notes"].append(f"part {part} failed: {e!r}")
            traceback.print_exc()
        results["section_seconds"][part] = round(time.perf_counter() - t0, 1)
    results.pop("_trainers", None)
    results["total_seconds"] = round(time.perf_counter() - t_all, 1)
    results["loadavg_end"] = loadavg()
    results["machine"] = machine_info()
    derive(results)
    print_table(results)
    print(f"\nload average start {results['loadavg_start']} end {results['loadavg_end']}; "
          f"{results['total_seconds']} s in all")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1, default=str)
        print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
