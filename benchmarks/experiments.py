"""Where the batched training step spends its time, and variants that make it faster.

Experimental copies of the batched graphs live here (nothing in the packages is changed): a model wrapper
exposes the interface ``lmkit.trainer.BatchedTrainer`` needs (``trainable_params``, ``num_states``,
``batched_cost``, ``hidden_dim``, ``dtype``, ``mode``) around a real model's shared weights, with a
different ``batched_cost``.

Experiments (``--exp``):

- ``profile_c``: PyTensor's per-Op profile of the batched RNN training function in the C backend, compiled
  exactly as ``BatchedTrainer`` does it but with ``profile=True``.
- ``jax_parts``: the batched RNN in JAX split into sub-graphs: output layer (forward + backward), the
  recurrence alone (scan forward + backward), the input gather, and the whole step.
- ``variants``: the project's ``batched_cost`` against rewritten graphs, timed through ``BatchedTrainer``
  (same optimizer, clipping, inputs); each variant's loss and gradients are first checked against the
  project's graph.
- ``float64``: lists every float64 variable left in the compiled float32 training graph.

Run e.g. ``python benchmarks/experiments.py --exp variants --modes c,jax`` and, for XLA on one thread,
``python benchmarks/experiments.py --exp variants --modes jax --jax-threads 1``.
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def setup_env(jax_threads):
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "floatX" not in flags:
        os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, "floatX=float32") if f)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if jax_threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    sys.path.insert(0, ROOT)


def median_time(fn, warmup=2, repeats=7, budget=4.0):
    for _ in range(warmup):
        fn()
    ts, start = [], time.perf_counter()
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        if i >= 2 and time.perf_counter() - start > budget:
            break
    return statistics.median(ts)


# ------------------------------------------------------------------------------------------------------
# Variant graphs
# ------------------------------------------------------------------------------------------------------
class Variant:
    """Wraps a model's shared weights with another ``batched_cost``."""

    def __init__(self, model, kind):
        self.model, self.kind = model, kind
        self.hidden_dim, self.dtype, self.mode = model.hidden_dim, model.dtype, model.mode

    def trainable_params(self):
        return self.model.trainable_params()

    def num_states(self):
        return self.model.num_states()

    def batched_cost(self, x, y, mask, states):
        return getattr(self, "_" + self.kind)(x, y, mask, states)

    # --- vanilla RNN ------------------------------------------------------------------------------
    def _rnn_rows(self, x, y, mask, states):
        """Batch-major rows (B, H) inside the scan: s_t = tanh(U^T[x_t] + s_{t-1} W^T). The scan output
        (T, B, H) reshapes to (T*B, H) without the transpose-copy of the (H, B) layout."""
        import pytensor
        import pytensor.tensor as pt
        from lmkit.batched_output import output_nll
        m = self.model
        H = m.hidden_dim
        T, B = x.shape[0], x.shape[1]
        inputs = m.U.T[x.flatten()].reshape((T, B, H))      # (T, B, H)

        def step(u_t, s_prev, WT):
            return pt.tanh(u_t + pt.dot(s_prev, WT))

        s = pytensor.scan(step, sequences=inputs, outputs_info=[states[0].T], non_sequences=[m.W.T],
                          strict=True, return_updates=False)   # (T, B, H)
        nll = output_nll(s.reshape((-1, H)), m.V, None, y.flatten())
        return pt.sum(nll * mask.flatten()), [s[-1].T]

    def _rnn_rows_masknll(self, x, y, mask, states):
        """As rows, with the output layer's logsumexp written as max + log(sum(exp)) by hand (no change in
        maths); kept to test whether PyTensor's logsumexp lowers well."""
        import pytensor
        import pytensor.tensor as pt
        m = self.model
        H = m.hidden_dim
        T, B = x.shape[0], x.shape[1]
        inputs = m.U.T[x.flatten()].reshape((T, B, H))

        def step(u_t, s_prev, WT):
            return pt.tanh(u_t + pt.dot(s_prev, WT))

        s = pytensor.scan(step, sequences=inputs, outputs_info=[states[0].T], non_sequences=[m.W.T],
                          strict=True, return_updates=False)
        h = s.reshape((-1, H))
        logits = pt.dot(h, m.V.T)
        mx = pt.max(pt.stop_gradient(logits) if hasattr(pt, "stop_gradient") else logits, axis=-1, keepdims=True)
        lse = pt.log(pt.sum(pt.exp(logits - mx), axis=-1)) + mx[:, 0]
        target = pt.sum(h * m.V[y.flatten()], axis=-1)
        return pt.sum((lse - target) * mask.flatten()), [s[-1].T]

    def _rnn_tout(self, x, y, mask, states):
        """The project's graph with the output layer transposed: logits as (C, N) = V @ h^T and the
        logsumexp over axis 0 (the C backend's row reductions over an (N, C) matrix are slow)."""
        import pytensor
        import pytensor.tensor as pt
        m = self.model
        T, B, H = x.shape[0], x.shape[1], m.hidden_dim
        inputs = m.U.T[x.flatten()].reshape((T, B, H)).dimshuffle(0, 2, 1)

        def step(u_t, s_prev, W):
            return pt.tanh(u_t + pt.dot(W, s_prev))

        s = pytensor.scan(step, sequences=inputs, outputs_info=[states[0]], non_sequences=[m.W],
                          strict=True, return_updates=False)          # (T, H, B)
        hT = s.dimshuffle(1, 0, 2).reshape((H, -1))                      # (H, T*B)
        yf = y.flatten()
        nll = pt.logsumexp(pt.dot(m.V, hT), axis=0) - pt.sum(hT * m.V[yf].T, axis=0)
        return pt.sum(nll * mask.flatten()), [s[-1]]

    # --- GRU / LSTM: one scan per layer, input projections as one GEMM outside the scan, fused gates ----
    def _layers(self):
        """Per layer: (U as (n*H, D), W as (n, H, H), b as (n*H,))."""
        m = self.model
        n, H = m.n_gates, m.hidden_dim
        weights = {k: m.params[k] for k in m.recurrent_param_names()}
        out = []
        for U, W, b in m.layer_weights(weights):
            out.append((U.reshape((n * H, U.shape[-1])), W, b.reshape((n * H,))))
        return out

    def _fused(self, x, y, mask, states):
        import pytensor
        import pytensor.tensor as pt
        from lmkit.batched_output import output_nll
        m = self.model
        H, n = m.hidden_dim, m.n_gates
        T, B = x.shape[0], x.shape[1]
        layer_in = m.E.T[x.flatten()].reshape((T, B, m.embed_dim))   # (T, B, D)
        k = len(m.state_names)
        finals = []
        gru = m.n_gates == 3
        for l, (U, W, b) in enumerate(self._layers()):
            D = layer_in.shape[-1]
            proj = (pt.dot(layer_in.reshape((-1, D)), U.T) + b).reshape((T, B, n * H))   # one GEMM
            prev = [s.T for s in states[l * k:(l + 1) * k]]                                  # (B, H)
            if gru:
                Wzr = W[:2].reshape((2 * H, H)).T                  # (H, 2H): z and r in one product
                Wh = W[2].T

                def step(p_t, s_prev, Wzr, Wh):
                    zr = m.gate_fn(p_t[:, :2 * H] + pt.dot(s_prev, Wzr))
                    z, r = zr[:, :H], zr[:, H:]
                    h = pt.tanh(p_t[:, 2 * H:] + pt.dot(s_prev * r, Wh))
                    return (1 - z) * h + z * s_prev

                s = pytensor.scan(step, sequences=proj, outputs_info=prev, non_sequences=[Wzr, Wh],
                                  strict=True, return_updates=False)
                seqs = [s]
            else:
                Wall = W.reshape((4 * H, H)).T                     # (H, 4H): all four gates in one product

                def step(p_t, c_prev, s_prev, Wall):
                    g_all = p_t + pt.dot(s_prev, Wall)
                    ifo = m.gate_fn(g_all[:, :3 * H])
                    i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]
                    g = pt.tanh(g_all[:, 3 * H:])
                    c = c_prev * f + g * i
                    return c, pt.tanh(c) * o

                seqs = pytensor.scan(step, sequences=proj, outputs_info=prev, non_sequences=[Wall],
                                     strict=True, return_list=True, return_updates=False)
            finals += [q[-1].T for q in seqs]
            layer_in = seqs[-1]                                    # (T, B, H)
        nll = output_nll(layer_in.reshape((-1, H)), m.V, m.c, y.flatten())
        return pt.sum(nll * mask.flatten()), finals


# ------------------------------------------------------------------------------------------------------
def make_model(name, mode, C, H):
    from rnn_theano.rnn_theano import RNNTheano
    from gru_theano import GRUTheano, LSTMTheano
    if name == "rnn":
        return RNNTheano(C, H, bptt_truncate=4, mode=mode, dtype="float32", seed=0)
    return (GRUTheano if name == "gru" else LSTMTheano)(C, H, num_layers=2, mode=mode, dtype="float32", seed=0)


def batch_of(B, T, C, seed=2):
    import numpy as np
    from lmkit.data.batching import pad_batch
    rng = np.random.default_rng(seed)
    X = [rng.integers(0, C, size=T).astype("int32") for _ in range(B)]
    Y = [rng.integers(0, C, size=T).astype("int32") for _ in range(B)]
    return pad_batch(X, Y, T)


def grads_fn(model_like, T, B, mode):
    """Compiled (x, y, mask, *states) -> [cost, *grads] of a model or variant."""
    import pytensor
    import pytensor.tensor as pt
    x = pt.tensor("x", dtype="int32", shape=(T, B))
    y = pt.tensor("y", dtype="int32", shape=(T, B))
    mask = pt.tensor("mask", dtype="float32", shape=(T, B))
    H = model_like.hidden_dim
    states = [pt.tensor(f"s{i}", dtype="float32", shape=(H, B)) for i in range(model_like.num_states())]
    cost, final = model_like.batched_cost(x, y, mask, states)
    params = list(model_like.trainable_params().values())
    return pytensor.function([x, y, mask, *states], [cost, *pytensor.grad(cost, params), *final], mode=mode)


def check_variant(name, kind):
    """Loss, gradients and final states of a variant against the project's graph (C mode, small sizes)."""
    import numpy as np
    C, H, T, B = 300, 16, 7, 5
    model = make_model(name, "c", C, H)
    batch = batch_of(B, T, C, seed=5)
    batch.mask[5:, 1] = 0
    rng = np.random.default_rng(0)
    states = [rng.standard_normal((H, B)).astype("float32") * 0.5 for _ in range(model.num_states())]
    ref = grads_fn(model, T, B, "CVM")(batch.x, batch.y, batch.mask, *states)
    got = grads_fn(Variant(model, kind), T, B, "CVM")(batch.x, batch.y, batch.mask, *states)
    err = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / (1e-6 + float(np.max(np.abs(a)))))
              for a, b in zip(ref, got))
    return err


def exp_variants(args, out):
    """Project graph vs rewritten graphs through BatchedTrainer. The candidates of one (model, mode, batch)
    are timed *interleaved* (round-robin, ``--rounds`` rounds of 2 calls each) so that load from other
    processes hits them alike; min and median over all calls are reported."""
    from lmkit.trainer import BatchedTrainer
    C, T = 8000, 20
    plan = {"rnn": ["base", "rnn_rows", "rnn_rows_masknll", "rnn_tout"], "gru": ["base", "fused"], "lstm": ["base", "fused"]}
    for name in args.models.split(","):
        H = 100 if name == "rnn" else 128
        kinds = [k for k in plan[name] if args.variant == "base" or k in ("base", args.variant)]
        for kind in kinds:
            if kind != "base":
                err = check_variant(name, kind)
                print(f"check {name}/{kind}: max rel. difference to the project's graph {err:.2e}", flush=True)
                out.append({"exp": "check", "model": name, "variant": kind, "max_rel_diff": err})
        for mode in args.modes.split(","):
            for B in [int(b) for b in args.batches.split(",")]:
                batch = batch_of(B, T, C)
                runners = {}
                for kind in kinds:
                    model = make_model(name, mode, C, H)
                    obj = model if kind == "base" else Variant(model, kind)
                    trainer = BatchedTrainer(obj, "sgd", clip=5.0, bptt=0, batch_size=B, bucket_width=T, mode=mode)
                    try:
                        t0 = time.perf_counter()
                        trainer.train_batch(batch, 0.01)
                        trainer.train_batch(batch, 0.01)
                        runners[kind] = (trainer, time.perf_counter() - t0)
                    except Exception as e:
                        print(f"{name:5s} {kind:18s} {mode:5s} B={B:3d}  ERROR {str(e).splitlines()[0][:100]}", flush=True)
                        out.append({"exp": "variants", "model": name, "variant": kind, "mode": mode, "batch": B,
                                    "error": str(e).splitlines()[0]})
                times = {k: [] for k in runners}
                for _ in range(args.rounds):
                    for kind, (trainer, _) in runners.items():
                        for _ in range(2):
                            t0 = time.perf_counter()
                            trainer.train_batch(batch, 0.01)
                            times[kind].append(time.perf_counter() - t0)
                for kind, ts in times.items():
                    med, mn = 1e3 * statistics.median(ts), 1e3 * min(ts)
                    print(f"{name:5s} {kind:18s} {mode:5s} B={B:3d} median {med:8.2f} ms  min {mn:8.2f} ms  "
                          f"{B * T / mn * 1e3:8.0f} tok/s at min  (compile+2 steps {runners[kind][1]:.1f} s)", flush=True)
                    out.append({"exp": "variants", "model": name, "variant": kind, "mode": mode, "batch": B,
                                "ms_median": med, "ms_min": mn, "n": len(ts), "first_calls_s": runners[kind][1],
                                "xla_flags": os.environ.get("XLA_FLAGS")})


def exp_profile_c(args, out):
    """Per-Op profile of the C-mode batched RNN training function."""
    import io
    import numpy as np
    import pytensor
    import pytensor.tensor as pt
    from lmkit.optim import clip_by_global_norm, make_optimizer
    C, H, T, B = 8000, 100, 20, int(args.batches.split(",")[-1])
    model = make_model("rnn", "c", C, H)
    obj = model if args.variant == "base" else Variant(model, args.variant)
    params = obj.trainable_params()
    opt = make_optimizer("sgd", params)
    x = pt.tensor("x", dtype="int32", shape=(None, None))
    y = pt.tensor("y", dtype="int32", shape=(None, None))
    mask = pt.tensor("mask", dtype="float32", shape=(None, None))
    s0 = pt.tensor("s0", dtype="float32", shape=(H, None))
    cost, final = obj.batched_cost(x, y, mask, [s0])
    loss = cost / pt.maximum(pt.sum(mask), 1.0)
    grads, norm = clip_by_global_norm(pytensor.grad(loss, list(params.values())), 5.0)
    lr = pt.scalar("lr", dtype="float32")
    fn = pytensor.function([x, y, mask, s0, lr], [cost, norm, *final], updates=opt.updates(grads, lr),
                           mode="CVM", profile=True)
    batch = batch_of(B, T, C)
    st = np.zeros((H, B), dtype="float32")
    lr_v = np.float32(0.01)
    for _ in range(2):
        fn(batch.x, batch.y, batch.mask, st, lr_v)
    fn.profile.reset() if hasattr(fn.profile, "reset") else None
    t0 = time.perf_counter()
    n = 10
    for _ in range(n):
        fn(batch.x, batch.y, batch.mask, st, lr_v)
    ms = (time.perf_counter() - t0) / n * 1e3
    buf = io.StringIO()
    fn.profile.summary(file=buf, n_ops_to_print=25, n_apply_to_print=25)
    text = buf.getvalue()
    path = os.path.join(args.outdir, f"profile_c_rnn_{args.variant}_B{B}.txt")
    with open(path, "w") as f:
        f.write(text)
    print(f"C-mode RNN ({args.variant}) B={B}: {ms:.1f} ms/step (profiled); profile in {path}")
    out.append({"exp": "profile_c", "variant": args.variant, "batch": B, "ms_profiled": ms, "file": path})


def exp_jax_parts(args, out):
    """JAX sub-graphs of the batched RNN step, C=8000, H=100, T=20."""
    import numpy as np
    import pytensor
    import pytensor.tensor as pt
    from lmkit.batched_output import output_nll
    C, H, T = 8000, 100, 20
    for B in [int(b) for b in args.batches.split(",")]:
        N = T * B
        rng = np.random.default_rng(0)
        V = pytensor.shared(rng.uniform(-0.1, 0.1, (C, H)).astype("float32"), name="V", shape=(C, H))
        W = pytensor.shared(rng.uniform(-0.1, 0.1, (H, H)).astype("float32"), name="W", shape=(H, H))
        U = pytensor.shared(rng.uniform(-0.1, 0.1, (H, C)).astype("float32"), name="U", shape=(H, C))
        h = pt.tensor("h", dtype="float32", shape=(N, H))
        y = pt.tensor("y", dtype="int32", shape=(N,))
        x = pt.tensor("x", dtype="int32", shape=(T, B))
        inp = pt.tensor("inp", dtype="float32", shape=(T, H, B))
        g = pt.tensor("g", dtype="float32", shape=(T, H, B))
        s0 = pt.zeros((H, B), dtype="float32")
        hv = rng.standard_normal((N, H)).astype("float32")
        yv = rng.integers(0, C, N).astype("int32")
        xv = rng.integers(0, C, (T, B)).astype("int32")
        inpv = rng.standard_normal((T, H, B)).astype("float32")
        gv = rng.standard_normal((T, H, B)).astype("float32")

        parts = {}
        # (a) output layer forward only, and forward + backward (grads w.r.t. V and h)
        nll = pt.sum(output_nll(h, V, None, y))
        parts["output fwd"] = (pytensor.function([h, y], nll, mode="JAX"), (hv, yv))
        parts["output fwd+bwd"] = (pytensor.function([h, y], [nll, *pytensor.grad(nll, [V, h])], mode="JAX"), (hv, yv))
        logits = pt.dot(h, V.T)
        parts["logits GEMM only"] = (pytensor.function([h], pt.sum(logits), mode="JAX"), (hv,))
        # (b) recurrence alone: scan forward, and forward + backward with a random upstream gradient
        s = pytensor.scan(lambda u, sp, W: pt.tanh(u + pt.dot(W, sp)), sequences=inp, outputs_info=[s0],
                          non_sequences=[W], strict=True, return_updates=False)
        parts["scan fwd"] = (pytensor.function([inp], s[-1], mode="JAX"), (inpv,))
        rec = pt.sum(s * g)
        parts["scan fwd+bwd"] = (pytensor.function([inp, g], pytensor.grad(rec, [W, inp]), mode="JAX"), (inpv, gv))
        # (c) input gather forward + backward (scatter-add into U)
        gat = U.T[x.flatten()].reshape((T, B, H)).dimshuffle(0, 2, 1)
        parts["gather fwd+bwd"] = (pytensor.function([x, g], pytensor.grad(pt.sum(gat * g), U), mode="JAX"),
                                   (xv, gv))
        for label, (fn, inputs) in parts.items():
            ms = 1e3 * median_time(lambda: [np.asarray(o) for o in (lambda r: r if isinstance(r, list) else [r])(fn(*inputs))],
                                   warmup=2, repeats=15)
            print(f"JAX B={B:3d} {label:20s} {ms:8.2f} ms", flush=True)
            out.append({"exp": "jax_parts", "batch": B, "part": label, "ms": ms,
                        "xla_flags": os.environ.get("XLA_FLAGS")})


def exp_output(args, out):
    """Output layer (N x H -> C softmax cross-entropy), forward + backward w.r.t. V and h, written several
    ways, in each PyTensor mode, and in hand-written JAX as a reference."""
    import numpy as np
    import pytensor
    import pytensor.tensor as pt
    from pytensor.tensor.special import log_softmax
    from lmkit.batched_output import output_nll
    C, H, T = 8000, 100, 20
    modes = {"c": "CVM", "jax": "JAX", "numba": "NUMBA"}
    for B in [int(b) for b in args.batches.split(",")]:
        N = T * B
        rng = np.random.default_rng(0)
        Vv = rng.uniform(-0.1, 0.1, (C, H)).astype("float32")
        hv = rng.standard_normal((N, H)).astype("float32")
        yv = rng.integers(0, C, N).astype("int32")
        V = pytensor.shared(Vv, name="V", shape=(C, H))
        h = pt.tensor("h", dtype="float32", shape=(N, H))
        y = pt.tensor("y", dtype="int32", shape=(N,))
        forms = {
            "lmkit output_nll": pt.sum(output_nll(h, V, None, y)),
            "log_softmax[y]": -pt.sum(log_softmax(pt.dot(h, V.T), axis=-1)[pt.arange(N), y]),
            "transposed (C,N)": pt.sum(pt.logsumexp(pt.dot(V, h.T), axis=0) - pt.sum(h * V[y], axis=-1)),
        }
        for mode in args.modes.split(","):
            for label, cost in forms.items():
                fn = pytensor.function([h, y], [cost, *pytensor.grad(cost, [V, h])], mode=modes[mode])
                ms = 1e3 * median_time(lambda: [np.asarray(o) for o in fn(hv, yv)], warmup=2, repeats=9)
                print(f"output layer B={B:3d} {mode:5s} {label:20s} {ms:8.2f} ms (fwd+bwd)", flush=True)
                out.append({"exp": "output", "batch": B, "mode": mode, "form": label, "ms": ms,
                            "xla_flags": os.environ.get("XLA_FLAGS")})
        if "jax" in args.modes:
            import jax
            import jax.numpy as jnp

            def loss(V, h, y):
                logits = h @ V.T
                return jnp.sum(jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, y[:, None], 1)[:, 0])
            g = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
            Vj, hj, yj = jnp.asarray(Vv), jnp.asarray(hv), jnp.asarray(yv)
            ms = 1e3 * median_time(lambda: jax.block_until_ready(g(Vj, hj, yj)), warmup=2, repeats=9)
            print(f"output layer B={B:3d} pure JAX value_and_grad      {ms:8.2f} ms (fwd+bwd)", flush=True)
            out.append({"exp": "output", "batch": B, "mode": "pure-jax", "form": "jax.value_and_grad", "ms": ms,
                        "xla_flags": os.environ.get("XLA_FLAGS")})


def exp_modes(args, out):
    """The project's batched step in every mode and PyTorch (1 thread), timed round-robin in one process."""
    import torch
    from lmkit.trainer import BatchedTrainer
    sys.path.insert(0, HERE)
    torch.set_num_threads(1)
    C, T = 8000, 20
    for name in args.models.split(","):
        H = 100 if name == "rnn" else 128
        for B in [int(b) for b in args.batches.split(",")]:
            batch = batch_of(B, T, C)
            steps = {}
            for mode in args.modes.split(","):
                tr = BatchedTrainer(make_model(name, mode, C, H), "sgd", clip=5.0, bptt=0, batch_size=B,
                                    bucket_width=T, mode=mode)
                steps[mode] = (lambda tr=tr: tr.train_batch(batch, 0.01))
            emb, rnn_cls = torch.nn.Embedding(C, H), {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[name]
            rnn = rnn_cls(H, H, num_layers=1, nonlinearity="tanh", bias=False) if name == "rnn" else rnn_cls(H, H, num_layers=2)
            lin = torch.nn.Linear(H, C, bias=name != "rnn")
            ps = [*emb.parameters(), *rnn.parameters(), *lin.parameters()]
            opt = torch.optim.SGD(ps, lr=0.01)
            xt = torch.from_numpy(batch.x.astype("int64"))
            yt = torch.from_numpy(batch.y.astype("int64"))

            def tstep():
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.cross_entropy(lin(rnn(emb(xt))[0]).reshape(-1, C), yt.reshape(-1))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(ps, 5.0)
                opt.step()
                return loss.item()
            steps["torch1T"] = tstep
            for f in steps.values():
                f(); f()
            times = {k: [] for k in steps}
            for _ in range(args.rounds):
                for k, f in steps.items():
                    for _ in range(2):
                        t0 = time.perf_counter(); f(); times[k].append(time.perf_counter() - t0)
            ref = min(times["torch1T"])
            for k, ts in times.items():
                mn, med = 1e3 * min(ts), 1e3 * statistics.median(ts)
                print(f"{name:5s} B={B:3d} {k:8s} median {med:8.2f} ms  min {mn:8.2f} ms  x torch (min) {mn / 1e3 / ref:5.2f}",
                      flush=True)
                out.append({"exp": "modes", "model": name, "batch": B, "impl": k, "ms_median": med, "ms_min": mn,
                            "x_torch_min": mn / 1e3 / ref, "xla_flags": os.environ.get("XLA_FLAGS")})


def exp_float64(args, out):
    import pytensor
    import pytensor.tensor as pt
    from lmkit.trainer import BatchedTrainer
    for name in args.models.split(","):
        for mode in args.modes.split(","):
            model = make_model(name, mode, 500, 16)
            tr = BatchedTrainer(model, "sgd", clip=5.0, batch_size=4, bucket_width=5, mode=mode)
            fn = tr._function("train", (5, 4))
            f64 = []
            for node in fn.maker.fgraph.toposort():
                for v in node.outputs:
                    if getattr(v.type, "dtype", "") == "float64":
                        f64.append(str(node.op)[:60])
                inner = getattr(node.op, "fgraph", None)
                if inner is not None:
                    for n2 in inner.toposort():
                        for v in n2.outputs:
                            if getattr(v.type, "dtype", "") == "float64":
                                f64.append("scan inner: " + str(n2.op)[:60])
            print(f"{name} {mode}: {len(f64)} float64 node outputs: {f64[:8]}", flush=True)
            out.append({"exp": "float64", "model": name, "mode": mode, "float64_nodes": f64})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--exp", required=True, choices=["variants", "profile_c", "jax_parts", "float64", "output", "modes"])
    p.add_argument("--models", default="rnn,gru,lstm")
    p.add_argument("--modes", default="c,jax")
    p.add_argument("--batches", default="32")
    p.add_argument("--variant", default="base", help="profile_c: which graph; variants: base = all")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--jax-threads", type=int, default=0)
    p.add_argument("--outdir", default=os.path.join(HERE, "experiments"))
    p.add_argument("--out", default=None, help="append results to this JSON list file")
    args = p.parse_args()
    setup_env(args.jax_threads)
    os.makedirs(args.outdir, exist_ok=True)
    import lmkit.backend  # noqa: F401  (one BLAS thread)
    out = []
    {"variants": exp_variants, "profile_c": exp_profile_c, "jax_parts": exp_jax_parts,
     "float64": exp_float64, "output": exp_output, "modes": exp_modes}[args.exp](args, out)
    path = args.out or os.path.join(args.outdir, "results.json")
    old = json.load(open(path)) if os.path.exists(path) else []
    with open(path, "w") as f:
        json.dump(old + [{**r, "loadavg": list(os.getloadavg())} for r in out], f, indent=1)


if __name__ == "__main__":
    main()
