"""Peak tensor memory and step time against depth: plain training steps and activation checkpointing, ember
against PyTorch on the same models (issue 11; the sublinear schedule of Chen et al. 2016).

    python -m bench.memory                       # mlp1024 (8-64 layers), mlp256 (the target), gpt (2-16 blocks)
    python -m bench.memory --workloads mlp256 --plot memory.png --out memory.json
    python -m bench.memory --quick --no-torch    # CI: small models; the figures mean nothing

A step is a forward, a loss and a backward (no optimizer), with the gradients set to None before it (PyTorch's
``zero_grad()``). Its peak is the most tensor memory held at once during the step above what was live before it
(the parameters and the batch), less the bytes of the parameters' gradients the step makes: the activations and
the transient gradient buffers, as in the paper's figure. ember's figure is ``ember.memory`` (live tensor storage;
NumPy temporaries inside an op are not tensors); with ``--numpy-peak`` also the peak of every NumPy allocation
from ``tracemalloc``. PyTorch's is its profiler's (``profile_memory=True``: every CPU allocation of the step,
replayed in order). The time is the median of ``--steps`` steps after a warm-up, 2 threads; the JSON also has the
median CPU time of the process per step (``cpu_ms``), and the checkpoint/plain ratio is given by both.

Rows are variants, each a function ``(fw, case) -> step`` (a function of no arguments running one step, or None
when the framework has no such variant) in ``VARIANTS``: ``plain``, ``checkpoint`` (``checkpoint_sequential``
with round(sqrt(n)) segments, ``use_reentrant=False``), and for ember ``compiled`` and ``compiled_min`` (the step
through ``ember.compile``, and with ``memory="min"``: recomputation from sqrt(n) checkpoints inside the graph).
A compiled graph's values are NumPy arrays, not tensors, so those two rows' peaks are tracemalloc's (compare them
with the plain row's ``--numpy-peak``). The fitted exponent is the slope of log(peak) against log(depth).
"""
import argparse
import importlib.util
import json
import math
import os
import statistics
import sys
import time
import tracemalloc

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.runner import THREAD_VARS, THREADS  # noqa: E402

for _var in THREAD_VARS:  # before NumPy and PyTorch start their thread pools
    os.environ.setdefault(_var, str(THREADS))

import numpy as np  # noqa: E402

from bench.workloads import gpt_small, load_framework  # noqa: E402


# --- the models: a body (an nn.Sequential of n layers) between a prologue and a loss ------------------------------

class Case:
    """One model at one depth: ``loss(body(prologue()))`` is a step's forward; ``body`` is the nn.Sequential that
    checkpointing splits into segments."""

    def __init__(self, fw, model, prologue, body, loss, depth):
        self.fw, self.model, self.prologue, self.body, self.loss, self.depth = fw, model, prologue, body, loss, depth


def mlp_case(fw, depth, width, batch):
    """depth x (Linear(width, width), ReLU), a batch of standard normals, loss mean(out ** 2)."""
    layers = []
    for _ in range(depth):
        layers += [fw.nn.Linear(width, width), fw.nn.ReLU()]
    body = fw.nn.Sequential(*layers)
    x = fw.torch.tensor(np.random.default_rng(0).standard_normal((batch, width)).astype(np.float32))
    return Case(fw, body, lambda: x, body, lambda out: (out * out).mean(), depth)


def gpt_case(fw, depth, **sizes):
    """bench.workloads' gpt_small with depth blocks: the blocks are the body, the embeddings the prologue and the
    final norm, head and cross-entropy the loss."""
    w = gpt_small(fw, layers=depth, **sizes)
    m, idx = w.model, w.inputs[0]

    def prologue():
        return m.tok(idx) + m.pos(m.positions[:idx.shape[1]])

    return Case(fw, m, prologue, m.blocks, lambda h: w.loss(m.head(m.ln_f(h)), w.target), depth)


WORKLOADS = {
    # name: (make a case of depth n, depths, quick depths, description)
    "mlp1024": (lambda fw, n, quick: mlp_case(fw, n, 64 if quick else 1024, 32 if quick else 256),
                (8, 16, 32, 64), (2, 8), "MLP of width 1024, batch 256, ReLU"),
    "mlp256": (lambda fw, n, quick: mlp_case(fw, n, 32 if quick else 256, 64 if quick else 4096),
               (8, 16, 32, 64), (4, 16), "MLP of width 256, batch 4096, ReLU (the issue's target at 64 layers)"),
    "gpt": (lambda fw, n, quick: gpt_case(fw, n, **(dict(d=16, heads=2, seq=8, batch=2) if quick else {})),
            (2, 4, 8, 16), (1, 4), "gpt_small's block (d=128, 4 heads, seq 64, batch 16) repeated"),
}


# --- the variants: each (fw, case) -> a function running one step, or None -----------------------------------------

def plain(fw, case):
    """The eager step: every activation kept for backward."""
    def step():
        case.loss(case.body(case.prologue())).backward()
    return step


def segments(depth):
    """Chen et al.'s sqrt(n) schedule: round(sqrt(depth)) segments (at least 1)."""
    return max(1, round(math.sqrt(depth)))


def checkpointed(fw, case):
    """checkpoint_sequential over the body's modules in round(sqrt(depth)) segments (use_reentrant=False)."""
    if fw.name == "torch":
        from torch.utils.checkpoint import checkpoint_sequential
    else:
        from ember.utils.checkpoint import checkpoint_sequential
    n = segments(case.depth)

    def step():
        h = checkpoint_sequential(case.body, n, case.prologue(), use_reentrant=False)
        case.loss(h).backward()
    return step


def _compiled(memory):
    def variant(fw, case):
        if fw.name != "ember":
            return None
        compiled = fw.torch.compile(lambda: case.loss(case.body(case.prologue())).backward(), memory=memory)
        for _ in range(2):  # the first call traces, the second verifies: later calls run the graph
            compiled()
            _zero_grads(case)
        compiled.numpy_peak = True  # its values are arrays of the graph, not tensors: tracemalloc sees them
        return compiled
    variant.__doc__ = f"ember.compile(step, memory={memory!r}): the graph's peak from tracemalloc"
    return variant


VARIANTS = {"plain": plain, "checkpoint": checkpointed, "compiled": _compiled(None), "compiled_min": _compiled("min")}


# --- measuring ----------------------------------------------------------------------------------------------------

def _zero_grads(case):
    for p in case.model.parameters():
        p.grad = None


def _grad_bytes(case):
    return sum(p.grad.nbytes for p in case.model.parameters() if p.grad is not None)


def peak_bytes(fw, step):
    """The most tensor memory one step holds above what was live before it (see the module's documentation)."""
    if fw.name == "ember":
        with fw.torch.memory.Peak() as p:
            step()
        return p.bytes
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    now = peak = 0
    for _, n in events:
        now += n
        peak = max(peak, now)
    return peak


def numpy_peak_bytes(step):
    """The most memory of Python and NumPy allocations (tracemalloc) one step holds above its start."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def _grads(case):
    return [p.grad.detach().cpu().numpy().copy() for p in case.model.parameters()]


def measure(fw, case, variant, steps, numpy_peak=False):
    """{"peak": bytes, "ms": median step time, ...} of one variant on one case; None when fw lacks it."""
    step = VARIANTS[variant](fw, case)
    if step is None:
        return None
    step()  # warm-up
    _zero_grads(case)
    measure_peak = numpy_peak_bytes if getattr(step, "numpy_peak", False) else lambda s: peak_bytes(fw, s)
    result = {"peak": measure_peak(step) - _grad_bytes(case)}
    _zero_grads(case)
    if numpy_peak and fw.name == "ember":
        result["numpy_peak"] = numpy_peak_bytes(step) - _grad_bytes(case)
        _zero_grads(case)
    step()
    result["grads"] = _grads(case)  # of one step: the same for every variant of the model
    times, cpu = [], []
    for _ in range(steps):
        _zero_grads(case)
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    result["ms"] = statistics.median(times) * 1e3
    result["cpu_ms"] = statistics.median(cpu) * 1e3  # CPU time of the process: steadier on a busy machine
    return result


def run(workloads, frameworks, steps, quick=False, numpy_peak=False, log=None, depths=None):
    """{workload: {depth: {(framework, variant): measurement}}}, with the variants' gradients compared to plain's
    (max abs difference, "grad_diff")."""
    results = {}
    for name in workloads:
        make, full, small, _ = WORKLOADS[name]
        results[name] = {}
        for depth in depths or (small if quick else full):
            row = results[name][depth] = {}
            for fname in frameworks:
                fw = load_framework(fname, THREADS)
                fw.torch.manual_seed(0)
                case = make(fw, depth, quick)
                for variant in VARIANTS:
                    if log:
                        log(f"{name} depth {depth}: {fname} {variant}")
                    m = measure(fw, case, variant, steps, numpy_peak)
                    if m is not None:
                        row[(fname, variant)] = m
                base = row.get((fname, "plain"))
                for variant in VARIANTS:
                    m = row.get((fname, variant))
                    if m is not None and base is not None:
                        m["grad_diff"] = max(float(np.max(np.abs(a - b))) for a, b in zip(m["grads"], base["grads"]))
                for variant in VARIANTS:
                    if (fname, variant) in row:
                        del row[(fname, variant)]["grads"]
    return results


def exponent(depths, peaks):
    """The slope of log(peak) against log(depth): 1 is linear growth, 0.5 the sqrt(n) schedule's."""
    if len(depths) < 2 or min(peaks) <= 0:
        return float("nan")
    return float(np.polyfit(np.log(depths), np.log(peaks), 1)[0])


def _mib(n):
    return f"{n / 2**20:.1f}"


def format_report(results, frameworks):
    """Markdown tables: per workload and depth, each (framework, variant)'s peak MiB and step ms, then the fitted
    exponents and, for checkpointing, its peak and time relative to plain."""
    out = []
    for name, rows in results.items():
        columns = [(f, v) for v in VARIANTS for f in frameworks if any((f, v) in row for row in rows.values())]
        out.append(f"\n### {name}: {WORKLOADS[name][3]}\n")
        head = " | ".join(f"{f} {v} MiB | ms" for f, v in columns)
        out.append(f"| depth | {head} | ckpt/plain peak (ember) | ckpt/plain time (ember) | ckpt/plain CPU time "
                   "(ember) | grads equal |")
        out.append("|" + " --- |" * (2 * len(columns) + 5))
        for depth, row in rows.items():
            cells = []
            for key in columns:
                m = row.get(key)
                cells.append("- | -" if m is None else f"{_mib(m['peak'])} | {m['ms']:.1f}")
            p, c = row.get(("ember", "plain")), row.get(("ember", "checkpoint"))
            ratio = (f"{c['peak'] / p['peak']:.2f} | {c['ms'] / p['ms']:.2f} | {c['cpu_ms'] / p['cpu_ms']:.2f}"
                     if p and c and p["peak"] and p["cpu_ms"] else "- | - | -")
            equal = "-" if not c else ("yes" if c["grad_diff"] == 0 else f"max diff {c['grad_diff']:.1e}")
            out.append(f"| {depth} | {' | '.join(cells)} | {ratio} | {equal} |")
        fits = []
        for key in columns:
            depths = [d for d, row in rows.items() if key in row]
            fits.append(f"{key[0]} {key[1]} {exponent(depths, [rows[d][key]['peak'] for d in depths]):.2f}")
        out.append(f"\nfitted exponent of peak vs depth: {', '.join(fits)}")
        if any("numpy_peak" in m for row in rows.values() for m in row.values()):
            lines = [f"depth {d}: " + ", ".join(f"{v} {_mib(row[('ember', v)]['numpy_peak'])}" for v in VARIANTS
                                                 if ("ember", v) in row) for d, row in rows.items()]
            out.append("ember NumPy peak (tracemalloc, MiB): " + "; ".join(lines))
    return "\n".join(out)


def plot(results, frameworks, path):
    """Peak MiB against depth, one panel per workload, one line per (framework, variant): like Chen et al.'s
    figure. Needs matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4), squeeze=False)
    for ax, (name, rows) in zip(axes[0], results.items()):
        for f in frameworks:
            for v in VARIANTS:
                depths = [d for d, row in rows.items() if (f, v) in row]
                ax.plot(depths, [rows[d][(f, v)]["peak"] / 2**20 for d in depths], marker="o",
                        linestyle="-" if f == "ember" else "--", label=f"{f} {v}")
        ax.set(title=name, xlabel="depth (layers)", ylabel="peak MiB above the model and its gradients", xscale="log", yscale="log")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def _json(results):
    return {name: {str(d): {f"{f} {v}": m for (f, v), m in row.items()} for d, row in rows.items()}
            for name, rows in results.items()}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated of {','.join(WORKLOADS)}")
    p.add_argument("--steps", type=int, default=3, help="timed steps per measurement (default 3)")
    p.add_argument("--depths", help="comma-separated depths instead of the workload's own")
    p.add_argument("--quick", action="store_true", help="small models and depths: checks that it runs")
    p.add_argument("--no-torch", action="store_true", help="ember only")
    p.add_argument("--numpy-peak", action="store_true", help="also ember's NumPy peak from tracemalloc")
    p.add_argument("--plot", help="write a PNG of peak memory against depth (needs matplotlib)")
    p.add_argument("--out", help="write the figures as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown or not names:
        p.error(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    frameworks = ["ember"]
    if not args.no_torch:
        if importlib.util.find_spec("torch") is not None:
            frameworks.append("torch")
        else:
            print("PyTorch is not installed: ember only", file=sys.stderr)
    log = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    depths = [int(d) for d in args.depths.split(",")] if args.depths else None
    results = run(names, frameworks, args.steps, args.quick, args.numpy_peak, log, depths)
    if args.quick:
        print("QUICK RUN: small models; the figures are not measurements")
    print(f"peak tensor memory of a forward+backward step above the model and its gradients (MiB; ember: ember.memory, PyTorch: its "
          f"profiler with profile_memory=True) and median step time (ms) of {args.steps} steps, {THREADS} threads")
    print(format_report(results, frameworks))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(_json(results), f, indent=1)
        print(f"\nwrote {args.out}")
    if args.plot:
        try:
            plot(results, frameworks, args.plot)
            print(f"wrote {args.plot}")
        except ImportError:
            print("matplotlib is not installed: no plot", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
