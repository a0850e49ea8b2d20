"""Output layer timings: the plain ``output_nll`` graph against the fused ``SoftmaxNLL`` Op (JAX, float32).

For each size (N = T*B rows, H = 128, C words) compiled PyTensor functions return the masked summed NLL
and its gradients w.r.t. ``h`` and ``V`` (and ``c`` with ``--bias``), with the cost written

- plain: ``pt.sum(output_nll(h, V, c, y) * mask)`` differentiated by PyTensor (``lmkit.output_layer``);
- fused: ``fused_output_nll_sum(h, V, c, y, mask, block)`` (``lmkit.output_layer``), for each block size;

and, as in evaluation, the loss alone (plain, and fused with the backend's default block, where a rewrite
drops the gradient work). Each time is the median of ``--repeats`` calls after warm-up, the variants of one size
called in turn (so that load from other processes falls on all alike). PyTensor 3.0.7's JAX functions
return JAX arrays, computed asynchronously, so every timed call waits for them (``jax.block_until_ready``).
Every output is checked against the plain graph's (``max_rel_err`` in the JSON).

glibc's allocator: by default the script first sets, through ``mallopt`` and before JAX is imported,
M_MMAP_THRESHOLD = 1 GiB, M_TRIM_THRESHOLD = 2^31 - 1 and M_ARENA_MAX = 1, so that XLA's large temporary
buffers are reused from the heap instead of being mmap'ed, page-faulted and unmapped on every call
(``lmkit.backend.configure()`` applies the same settings, see ``lmkit.allocator``). ``--no-mallopt`` skips that
and sets ``RNNLM_MALLOPT=0`` so that importing ``lmkit`` does not apply them either. Without either flag
the script times both: it runs itself again with ``--no-mallopt`` in a child process (one after the
other, never at once) and prints one table.

Usage::

    python benchmarks/output_layer.py --out /tmp/output_layer.json     # ~1 minute on 2 cores
    python benchmarks/output_layer.py --sizes 1024x4000 --blocks 128 --repeats 5 --only-this-process
    python benchmarks/output_layer.py --only-this-process --out a.json              # each allocator setting
    python benchmarks/output_layer.py --only-this-process --no-mallopt --out b.json #   in its own run,
    python benchmarks/output_layer.py --table-from a.json b.json                    #   then one table
    JAX_PLATFORMS=cuda python benchmarks/output_layer.py --only-this-process --blocks 256,1024,auto  # a GPU
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # mallopt parameter numbers, <malloc.h>


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1024x4000,1024x8000,2048x4000,2048x8000", help="NxC,... (N = T*B)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--blocks", default="64,128,256",
                   help="row-block sizes of the fused Op; 'auto' for the backend's default")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--bias", action="store_true", help="with an output bias c (the GRU's case; the RNN has none)")
    p.add_argument("--no-mallopt", action="store_true", help="leave glibc's allocator settings alone")
    p.add_argument("--only-this-process", action="store_true",
                   help="do not also run the other allocator setting in a child process")
    p.add_argument("--out", help="write the rows as JSON here")
    p.add_argument("--table-from", nargs="+", metavar="JSON", help="only print the table of stored runs")
    return p.parse_args(argv)


def configure_environment(args):
    """Everything that must happen before JAX (or PyTensor, which imports it) is loaded."""
    if args.no_mallopt:
        os.environ["RNNLM_MALLOPT"] = "0"  # lmkit.backend.configure() would otherwise apply the settings itself
    else:  # the same settings lmkit.backend.configure() applies (lmkit.allocator), written out here
        libc = ctypes.CDLL("libc.so.6")
        for param, value in [(M_MMAP_THRESHOLD, 1 << 30), (M_TRIM_THRESHOLD, 2**31 - 1), (M_ARENA_MAX, 1)]:
            if libc.mallopt(param, value) != 1:
                raise OSError(f"mallopt({param}, {value}) failed")
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "floatX" not in flags:  # float32 everywhere, and jax x64 off, as in training
        os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, "floatX=float32") if f)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)


def interleaved_ms(fns, repeats):
    """Median and min ms of each function over ``repeats`` rounds, calling them in turn in every round,
    so that load from other processes falls on all of them alike."""
    for fn in fns:  # warm-up
        fn(), fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [(1e3 * statistics.median(ts), 1e3 * min(ts)) for ts in times]


def time_sizes(args):
    """One row per (size, variant) in this process."""
    import jax
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    from lmkit.backend import configure

    configure()  # BLAS threads, warning filters (and the allocator, unless --no-mallopt)
    # PyTensor's JAX translation of the plain graph asks for a float64 cast, which jax (x64 off) truncates
    # to float32 with a warning at every compile; the fused Op never does.
    warnings.filterwarnings("ignore", message="Explicitly requested dtype float64")
    from lmkit.output_layer import fused_output_nll_sum, output_nll

    from lmkit import allocator as lmkit_allocator

    if args.no_mallopt and lmkit_allocator.applied:
        raise RuntimeError("the mallopt settings were applied although --no-mallopt was given")
    allocator = "default" if args.no_mallopt else "mallopt"
    blocks = [None if b == "auto" else int(b) for b in args.blocks.split(",")]
    rows = []
    for size in args.sizes.split(","):
        N, C = map(int, size.split("x"))
        H = args.hidden
        rng = np.random.default_rng(0)
        V = pytensor.shared(rng.uniform(-0.1, 0.1, (C, H)).astype("float32"), name="V", shape=(C, H))
        c = pytensor.shared(rng.uniform(-0.1, 0.1, C).astype("float32"), name="c", shape=(C,)) if args.bias else None
        h = pt.tensor("h", dtype="float32", shape=(N, H))
        y = pt.tensor("y", dtype="int32", shape=(N,))
        mask = pt.tensor("mask", dtype="float32", shape=(N,))
        values = (rng.standard_normal((N, H)).astype("float32"), rng.integers(0, C, N).astype("int32"),
                  (rng.random(N) < 0.9).astype("float32"))
        wrt = [h, V] + ([c] if args.bias else [])

        # (variant, block, cost, differentiated?): fwd+bwd for each form, and loss only (as in evaluation)
        plain = pt.sum(output_nll(h, V, c, y) * mask)
        variants = [("plain", None, plain, True)]
        variants += [(f"fused b={b or 'auto'}", b, fused_output_nll_sum(h, V, c, y, mask, block=b), True)
                     for b in blocks]
        variants += [("plain loss", None, plain, False),
                     ("fused loss", None, fused_output_nll_sum(h, V, c, y, mask), False)]  # backend's block
        fns, rows_here, reference = [], [], None
        for variant, block, cost, with_grads in variants:
            t0 = time.perf_counter()
            fn = pytensor.function([h, y, mask], [cost, *(pytensor.grad(cost, wrt) if with_grads else [])],
                                   mode="JAX")
            outputs = fn(*values)
            compile_s = time.perf_counter() - t0
            assert all(np.asarray(o).dtype == np.float32 for o in outputs)
            if reference is None:
                reference = outputs
            # largest difference to the plain graph, relative to each output's largest entry
            max_rel_err = max(float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in zip(outputs, reference))
            fns.append(lambda fn=fn: jax.block_until_ready(fn(*values)))
            rows_here.append({"N": N, "C": C, "H": H, "bias": args.bias, "variant": variant, "block": block,
                              "pass": "fwd+bwd" if with_grads else "fwd", "allocator": allocator,
                              "compile_s": round(compile_s, 2), "max_rel_err": max_rel_err})
        for row, (ms, min_ms) in zip(rows_here, interleaved_ms(fns, args.repeats)):
            row.update(ms=round(ms, 2), min_ms=round(min_ms, 2), load=os.getloadavg()[0])
            print(f"  N={N:5d} C={C:5d} {row['variant']:18s} {allocator:8s} {ms:7.1f} ms (min {min_ms:6.1f})  "
                  f"rel.err {row['max_rel_err']:.1e}", flush=True)
        rows += rows_here
    return rows


def run_other_allocator(args):
    """The same sizes with --no-mallopt, in a child process (its own, untouched glibc settings)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rows.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--no-mallopt", "--only-this-process",
               "--sizes", args.sizes, "--hidden", str(args.hidden), "--blocks", args.blocks,
               "--repeats", str(args.repeats), "--out", out] + (["--bias"] if args.bias else [])
        subprocess.run(cmd, check=True)
        with open(out) as f:
            return json.load(f)["rows"]


def print_table(rows):
    """One line per size and allocator setting: ms per call (median), plain against fused."""
    fused_names = list(dict.fromkeys(r["variant"] for r in rows if r["pass"] == "fwd+bwd" and r["variant"] != "plain"))
    header = (f"{'N':>5} {'C':>5} {'allocator':9} | {'plain':>6} " + "".join(f"{n[6:]:>7}" for n in fused_names)
              + f" {'best':>12} {'speed-up':>8} | {'plain loss':>10} {'fused loss':>10}")
    print(f"\nms per call, median (fwd+bwd: loss and gradients; loss: loss only)\n{header}\n{'-' * len(header)}")
    nan = {"ms": float("nan")}
    cases = sorted({(r["N"], r["C"], r["allocator"]) for r in rows}, key=lambda k: (k[0], k[1], k[2] != "mallopt"))
    for N, C, alloc in cases:
        mine = {r["variant"]: r for r in rows if (r["N"], r["C"], r["allocator"]) == (N, C, alloc)}
        fused = {n: mine[n]["ms"] for n in fused_names if n in mine}
        best = min(fused, key=fused.get)
        print(f"{N:5d} {C:5d} {alloc:9} | {mine['plain']['ms']:6.1f} "
              + "".join(f"{fused.get(n, float('nan')):7.1f}" for n in fused_names)
              + f" {fused[best]:5.1f} {best[6:]:>6} {mine['plain']['ms'] / fused[best]:7.2f}x"
              + f" | {mine.get('plain loss', nan)['ms']:10.1f} {mine.get('fused loss', nan)['ms']:10.1f}")
    print("speed-up: plain / best fused block, same allocator setting. auto: the backend's default block.")


def main(argv=None):
    args = parse_args(argv)
    if args.table_from:
        rows = []
        for path in args.table_from:
            with open(path) as f:
                rows += json.load(f)["rows"]
        return print_table(rows)
    configure_environment(args)
    label = "without" if args.no_mallopt else "with"
    print(f"JAX, float32, H={args.hidden}, {label} the mallopt settings:", flush=True)
    rows = time_sizes(args)
    if not args.only_this_process:
        print("Again in a child process with --no-mallopt:", flush=True)
        rows += run_other_allocator(args)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=1)
    if not args.only_this_process:
        print_table(rows)


if __name__ == "__main__":
    main()
