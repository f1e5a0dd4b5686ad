"""Micro-benchmarks: per-op overhead on 16x16 tensors and a few heavy ops, ember against PyTorch.

    python -m bench.micro                   # both frameworks, 3 alternating fresh processes each
    python -m bench.micro --repeats 5 --scale 2 --out micro.json
    python -m bench.micro --smoke           # a few iterations: checks it runs, times mean nothing

Each case is timed forward only and forward + backward (``out.backward(grad)`` with a fixed output gradient, the
input gradients cleared between iterations outside the timed region; the forward records the graph, as in
training). Each process reports the median of its timed iterations; a figure is the lowest of these medians over
the alternating fresh processes, in microseconds; the ratio is ember / PyTorch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from bench.runner import REPO, THREADS
from bench.runner import machine_info, thread_env, torch_available

SMALL, LARGE = 300, 30  # timed iterations of the per-op cases and of the heavy ones (times --scale)

# name: (shapes of the inputs that need gradients, function of (fw, *inputs), heavy?)
CASES = {
    "add 16x16": ([(16, 16), (16, 16)], lambda fw, a, b: a + b, False),
    "mul 16x16": ([(16, 16), (16, 16)], lambda fw, a, b: a * b, False),
    "matmul 16x16": ([(16, 16), (16, 16)], lambda fw, a, b: a @ b, False),
    "conv2d (32,16,32,32)x(16,16,3,3)": ([(32, 16, 32, 32), (16, 16, 3, 3)],
                                         lambda fw, x, w: fw.F.conv2d(x, w, padding=1), True),
    "matmul 256x512 @ 512x512": ([(256, 512), (512, 512)], lambda fw, a, b: a @ b, True),
    "softmax (64,1024)": ([(64, 1024)], lambda fw, x: fw.F.softmax(x, dim=-1), True),
    "layer_norm (16,64,128)": ([(16, 64, 128), (128,), (128,)],
                               lambda fw, x, w, b: fw.F.layer_norm(x, (128,), w, b), True),
    "attention (16,4,64,32)": ([(16, 4, 64, 32)] * 3,
                               lambda fw, q, k, v: fw.F.scaled_dot_product_attention(q, k, v), True),
}
PASSES = ("fwd", "fwd+bwd")


def _time(fn, iters, warmup, before=None):
    times = []
    for i in range(warmup + iters):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        if i >= warmup:
            times.append((t1 - t0) * 1e6)
    return times


def run_case(fw, name, scale):
    """Times (microseconds) of one case, forward and forward + backward, on framework namespace ``fw``."""
    import numpy as np
    shapes, op, heavy = CASES[name]
    rng = np.random.default_rng(0)
    inputs = [fw.torch.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]
    with fw.torch.no_grad():
        out_shape = tuple(op(fw, *inputs).shape)
    grad = fw.torch.tensor(rng.standard_normal(out_shape).astype(np.float32))
    iters = max(2, int((LARGE if heavy else SMALL) * scale))
    warmup = max(1, iters // 10)

    def clear():
        for t in inputs:
            t.grad = None

    fwd = _time(lambda: op(fw, *inputs), iters, warmup)
    fwdbwd = _time(lambda: op(fw, *inputs).backward(grad), iters, warmup, before=clear)
    return {"fwd": fwd, "fwd+bwd": fwdbwd}


def child_main(framework, scale, cases):
    from bench.workloads import load_framework
    fw = load_framework(framework, int(os.environ.get("OMP_NUM_THREADS", THREADS)))
    result = {}
    for name in cases:
        try:
            result[name] = run_case(fw, name, scale)
        except Exception as e:  # one broken op does not hide the others
            result[name] = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result))


def run_child(framework, scale, cases, timeout=600):
    cmd = [sys.executable, "-m", "bench.micro", "--child", framework, "--scale", str(scale), "--cases", "|".join(cases)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=thread_env(), cwd=REPO, timeout=timeout)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, IndexError, ValueError) as e:
        err = getattr(locals().get("proc"), "stderr", "") or str(e)
        return {name: {"error": err.strip().splitlines()[-1] if err.strip() else type(e).__name__} for name in cases}


def run(frameworks, repeats, scale, cases, log=None):
    """Alternate fresh processes; returns rows of (case, pass, per-framework median or error, ratio)."""
    raw = {f: [] for f in frameworks}
    for r in range(repeats):
        for f in (frameworks if r % 2 == 0 else frameworks[::-1]):
            raw[f].append(run_child(f, scale, cases))
            if log:
                log(f"[{r + 1}/{repeats}] {f} done")
    rows = []
    for name in cases:
        for p in PASSES:
            row = {"case": name, "pass": p}
            for f in frameworks:
                runs = [res[name] for res in raw[f]]
                errors = [x["error"] for x in runs if "error" in x]
                row[f] = ({"error": errors[0]} if errors else  # the quietest process, as in python -m bench
                          {"median_us": min(statistics.median(x[p]) for x in runs),
                           "repeat_medians_us": [statistics.median(x[p]) for x in runs],
                           "iters": sum(len(x[p]) for x in runs)})
            e, t = row["ember"].get("median_us"), row.get("torch", {}).get("median_us")
            row["ratio"] = e / t if e is not None and t else None
            rows.append(row)
    return rows


def format_table(rows):
    def cell(d):
        return "failed" if "error" in d else ("-" if d.get("median_us") is None else f"{d['median_us']:.1f}")
    lines = ["| case | pass | ember us | torch us | ratio |", "| --- | --- | ---: | ---: | ---: |"]
    notes = []
    for row in rows:
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        cells = [row["case"], row["pass"], cell(row["ember"]), cell(row.get("torch", {})), ratio]
        lines.append("| " + " | ".join(cells) + " |")
        for f in ("ember", "torch"):
            if "error" in row.get(f, {}) and row["pass"] == PASSES[0]:
                notes.append(f"- {row['case']} on {f} failed: {row[f]['error']}")
    return "\n".join(lines + ([""] + notes if notes else []))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3, help="fresh processes per framework (default 3)")
    p.add_argument("--scale", type=float, default=1.0, help=f"iterations x scale ({SMALL} small, {LARGE} heavy)")
    p.add_argument("--cases", default=None, help="'|'-separated subset of the case names")
    p.add_argument("--smoke", action="store_true", help="1 repeat, few iterations: times mean nothing")
    p.add_argument("--no-torch", action="store_true", help="run ember only")
    p.add_argument("--out", default=None, help="also write the results as JSON")
    p.add_argument("--child", choices=("ember", "torch"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    cases = args.cases.split("|") if args.cases else list(CASES)
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    if args.child:
        return child_main(args.child, args.scale, cases)
    if args.smoke:
        args.repeats, args.scale = 1, 0.01
    frameworks = ["ember"] + (["torch"] if not args.no_torch and torch_available() else [])
    rows = run(frameworks, args.repeats, args.scale, cases, log=lambda s: print(s, file=sys.stderr, flush=True))
    m = machine_info()
    print(f"{m['cpu']}, {m['cores']} cores, {THREADS} threads; numpy {m['numpy']}, torch {m['torch']}; {m['date']}")
    if args.smoke:
        print("SMOKE RUN: the times below are not measurements")
    print(format_table(rows))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"machine": m, "config": vars(args), "results": rows}, f, indent=1)
    return 1 if any("error" in row[f] for row in rows for f in frameworks) else 0


if __name__ == "__main__":
    sys.exit(main())
