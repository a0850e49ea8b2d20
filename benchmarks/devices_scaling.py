"""Training throughput of ``rnnlm train``'s step against the number of devices (``--devices``), and what to
expect on 1-8 GPUs.

Measures ``BatchedTrainer.train_batch`` (the README main command's model: GRU, one layer of 192, tied
weights, C=4000, Adam, clip 5, dropout 0.3, bptt 32) on synthetic packed chunks, for every device count in
``--devices``, in two ways:

- ``strong``: the global batch fixed (``--batch-size``, 16 as in the main command), split over N devices;
- ``weak``: ``--batch-size`` streams per device, N times as many in all;
- ``one``: one device with the weak rows' global batch (what the larger batch alone is worth).

On a CPU the devices are host devices forced with ``XLA_FLAGS=--xla_force_host_platform_device_count``
(set here before JAX starts, to the largest count asked for). They share the machine's cores, so the CPU
rows show the cost of the sharded program and its communication, not a speed-up. On a GPU machine the
same script measures real devices (``--devices 1,all``).

Also measured: the host's share of a step (the dropout masks, drawn by numpy on one core for the whole
batch), which does not shrink with more devices. Then ``expected`` projects tokens/s on 1-8 GPUs from the
FLOP count, a measured one-GPU rate and the all-reduce of the gradients (see ``benchmarks/README.md``).

    python benchmarks/devices_scaling.py                          # CPU: 1, 2, 4, 8 forced host devices
    python benchmarks/devices_scaling.py --quick                  # tiny model, for a smoke test
    python benchmarks/devices_scaling.py --devices 1,all --out gpu-out/devices.json   # on a GPU machine
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The projection's inputs (see benchmarks/README.md, "Several devices"). One H200 ran the main command at
# about 100,000 words/s (batch 16, bptt 32: 512 words a step, so about 5.1 ms a step); GPU links as
# effective all-reduce bus bandwidths (NCCL's "busbw") for messages of a few MB, and a fixed latency.
ONE_GPU_TOKENS_PER_S = 100_000
H200_FP32_TFLOPS = 67.0        # float32 without tensor cores (what jax_default_matmul_precision="highest" gets)
LINKS = {"nvlink": {"bus_gb_s": 150.0, "latency_us": 20.0}, "pcie": {"bus_gb_s": 20.0, "latency_us": 30.0}}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", default="1,2,4,8", help="device counts, comma-separated (a count or 'all')")
    ap.add_argument("--modes", default="strong,weak,one",
                    help="strong (fixed global batch), weak (fixed per device), one (1 device, weak's batch)")
    ap.add_argument("--model", default="gru", choices=["rnn", "gru", "lstm"])
    ap.add_argument("--hidden-dim", type=int, default=192)
    ap.add_argument("--vocab-size", type=int, default=4000)
    ap.add_argument("--batch-size", type=int, default=16, help="global (strong) or per-device (weak) streams")
    ap.add_argument("--bptt", type=int, default=32)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--steps", type=int, default=30, help="timed steps per configuration")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps after the compile")
    ap.add_argument("--quick", action="store_true", help="tiny model and few steps (smoke test)")
    ap.add_argument("--out", default=os.path.join(HERE, "devices_scaling.json"))
    args = ap.parse_args(argv)
    if args.quick:
        args.hidden_dim, args.vocab_size, args.bptt, args.steps, args.warmup = 16, 200, 8, 3, 1
        args.batch_size = min(args.batch_size, 4)
    return args


def configure(args):
    """Before JAX starts: float32, and as many forced host devices as the largest count asked for."""
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "floatX" not in flags:
        os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, "floatX=float32") if f)
    counts = [int(d) for d in args.devices.split(",") if d != "all"]
    xla = os.environ.get("XLA_FLAGS", "")
    if counts and max(counts) > 1 and "force_host_platform_device_count" not in xla:
        os.environ["XLA_FLAGS"] = f"{xla} --xla_force_host_platform_device_count={max(counts)}".strip()
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def build_model(args):
    if args.model == "rnn":
        from rnn_theano import RNNTheano

        return RNNTheano(args.vocab_size, args.hidden_dim, bptt_truncate=-1, mode="jax", dtype="float32", seed=0)
    from gru_theano import GRUTheano, LSTMTheano

    cls = GRUTheano if args.model == "gru" else LSTMTheano
    return cls(args.vocab_size, args.hidden_dim, num_layers=1, tie_weights=True, mode="jax", dtype="float32",
               seed=0)


def synthetic_chunks(vocab_size, batch_size, bptt, n, seed=0):
    """``n`` packed chunks of random sentences (5-30 words), as ``rnnlm train`` feeds the step."""
    import numpy as np

    from lmkit.data.batching import packed_batches

    rng = np.random.default_rng(seed)
    sentences, words = [], 0
    while words < batch_size * bptt * (n + 1):
        s = np.concatenate([[0], rng.integers(2, vocab_size, rng.integers(5, 31)), [1]]).astype(np.int32)
        sentences.append(s)
        words += len(s) - 1
    X = [s[:-1] for s in sentences]
    Y = [s[1:] for s in sentences]
    chunks = packed_batches(X, Y, batch_size, bptt, shuffle=False)[:n]
    for c in chunks:
        c.seed = (seed, 0, c.index)
    return chunks


def step_flops_per_token(model, C, H):
    """Matrix-product FLOPs of one word through a full training step (forward x 3), as bench.py counts them."""
    per_layer = {"rnn": 2 * H * H, "gru": 12 * H * H, "lstm": 16 * H * H}[model]
    return 3.0 * (2 * H * C + per_layer)


def measure(args, n, batch_size):
    import jax

    from lmkit.trainer import BatchedTrainer

    trainer = BatchedTrainer(build_model(args), "adam", clip=5.0, bptt=args.bptt, batch_size=batch_size,
                             mode="jax", dropout=args.dropout, devices=n)
    chunks = synthetic_chunks(args.vocab_size, batch_size, args.bptt, args.warmup + args.steps + 1)
    t0 = time.perf_counter()
    first = trainer.train_batch(chunks[0], 0.004)
    compile_s = time.perf_counter() - t0
    for c in chunks[1:1 + args.warmup]:
        trainer.train_batch(c, 0.004)
    times = []
    for c in chunks[1 + args.warmup:]:
        t = time.perf_counter()
        trainer.train_batch(c, 0.004)  # returns floats: the step has finished
        times.append(time.perf_counter() - t)
    masks = []
    for c in chunks[:5]:
        t = time.perf_counter()
        trainer._dropout_masks(c)
        masks.append(time.perf_counter() - t)
    ms = statistics.median(times) * 1e3
    tokens = args.bptt * batch_size
    row = {"devices": trainer.devices, "batch": batch_size, "per_device": batch_size // trainer.devices,
           "ms_per_step": round(ms, 3), "min_ms": round(min(times) * 1e3, 3),
           "tokens_per_s": round(tokens / (ms / 1e3)), "compile_s": round(compile_s, 2),
           "first_loss": first[0], "first_norm": first[1],
           "host_masks_ms": round(statistics.median(masks) * 1e3, 3),
           "platform": trainer.placement.devices[0].platform,
           "replicated": all(v.get_value(borrow=True).sharding.is_fully_replicated
                             for v in trainer.params.values())}
    del trainer
    jax.clear_caches()
    return row


def expected(args, flops_per_token, param_count, host_ms_per_stream):
    """Tokens/s on 1-8 GPUs: from one GPU's measured rate, the FLOP ceiling, the gradient all-reduce and the
    host's dropout masks (``host_ms_per_stream``, measured here; drawn for the whole batch on one core)."""
    tokens = args.batch_size * args.bptt
    step_s = tokens / ONE_GPU_TOKENS_PER_S                      # one GPU, the main command's batch
    ceiling = H200_FP32_TFLOPS * 1e12 / flops_per_token          # one GPU, arithmetic only
    grad_bytes = 4 * param_count
    rows = []
    for n in (1, 2, 4, 8):
        ar = {name: 0.0 if n == 1 else (2 * (n - 1) / n * grad_bytes / (link["bus_gb_s"] * 1e9)
                                        + 2 * (n - 1) * link["latency_us"] * 1e-6)
              for name, link in LINKS.items()}
        rows.append({
            "gpus": n,
            # the global batch fixed at 16, if a step costs the same at any batch (the scan's launches bound it)
            "strong_tokens_per_s_flat": round(tokens / (step_s + ar["nvlink"])),
            # ... if a step's time is proportional to the streams per GPU (bench.py's GPU rows, 32 -> 64)
            "strong_tokens_per_s_linear": round(tokens / (step_s / n + ar["nvlink"])),
            # 16 streams per GPU: n times the words per step in one GPU's step time, plus the all-reduce
            "weak_tokens_per_s_nvlink": round(n * tokens / (step_s + ar["nvlink"])),
            "weak_tokens_per_s_pcie": round(n * tokens / (step_s + ar["pcie"])),
            # ... and the masks of the n-1 further groups of streams, drawn on the host while the GPUs wait
            "weak_tokens_per_s_nvlink_host_masks": round(
                n * tokens / (step_s + ar["nvlink"] + (n - 1) * args.batch_size * host_ms_per_stream / 1e3)),
            "allreduce_ms_nvlink": round(ar["nvlink"] * 1e3, 3), "allreduce_ms_pcie": round(ar["pcie"] * 1e3, 3),
            "flop_ceiling_tokens_per_s": round(n * ceiling),
        })
    return {"one_gpu_tokens_per_s": ONE_GPU_TOKENS_PER_S, "one_gpu_step_ms": round(step_s * 1e3, 2),
            "h200_fp32_tflops": H200_FP32_TFLOPS, "one_gpu_fraction_of_fp32_peak":
            round(ONE_GPU_TOKENS_PER_S * flops_per_token / (H200_FP32_TFLOPS * 1e12), 4),
            "gradient_mb": round(grad_bytes / 2 ** 20, 2), "links": LINKS,
            "host_masks_ms_per_stream": round(host_ms_per_stream, 5), "rows": rows}


def main(argv=None):
    args = parse_args(argv)
    configure(args)
    from lmkit import backend

    backend.configure()  # the allocator settings, before JAX allocates
    import jax
    import numpy as np

    available = len(jax.devices())
    counts = sorted({available if d == "all" else int(d) for d in args.devices.split(",")})
    counts = [n for n in counts if n <= available]
    modes = args.modes.split(",")
    results = {"argv": sys.argv[1:], "jax": jax.__version__, "devices_available": [str(d) for d in jax.devices()],
               "xla_flags": os.environ.get("XLA_FLAGS", ""), "cpu_count": os.cpu_count(),
               "machine": platform.processor() or platform.machine(), "settings": vars(args), "rows": []}
    try:
        results["loadavg_before"] = list(os.getloadavg())
    except OSError:
        pass
    for mode in modes:
        for n in counts:
            if mode in ("weak", "one") and n == 1 and "strong" in modes:
                continue  # the same configuration as strong on one device
            batch = args.batch_size * (1 if mode == "strong" else n)
            if batch % n:
                log(f"skip: batch {batch} does not split over {n} devices")
                continue
            row = measure(args, 1 if mode == "one" else n, batch)
            row["mode"] = mode
            results["rows"].append(row)
            log(f"{mode:6s} devices {row['devices']}  batch {batch:4d}  {row['ms_per_step']:8.2f} ms/step  "
                f"{row['tokens_per_s']:8d} tokens/s  (compile {row['compile_s']} s, host masks "
                f"{row['host_masks_ms']} ms)")
    model = build_model(args)
    param_count = int(sum(np.asarray(p.get_value()).size for p in model.trainable_params().values()))
    flops = step_flops_per_token(args.model, args.vocab_size, args.hidden_dim)
    results["flops_per_token"] = flops
    results["parameters"] = param_count
    per_stream = [r["host_masks_ms"] / r["batch"] for r in results["rows"]]
    host = statistics.median(per_stream) if per_stream and args.dropout > 0 else 0.0
    main_command = (args.model, args.hidden_dim, args.vocab_size, args.batch_size, args.bptt) == ("gru", 192, 4000,
                                                                                                 16, 32)
    # the one-GPU rate behind the projection was measured for the main command's model only
    results["expected_gpus"] = expected(args, flops, param_count, host) if main_command else None
    try:
        results["loadavg_after"] = list(os.getloadavg())
    except OSError:
        pass
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
        log(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
