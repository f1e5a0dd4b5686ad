"""Deployment latency: a zoo model exported as standalone C (ember.export.export_c) against PyTorch eager and
onnxruntime on the same weights and input, one inference at a time.

    python -m bench.deploy                          # mlp, lenet5, resnet20, gpt at batch 1, 1 thread
    python -m bench.deploy --models resnet20 --batch 8 --iters 100 --repeats 5
    python -m bench.deploy --smoke --no-torch       # CI: checks that it runs; the times mean nothing

Per model: the C program is built three times, with OPT=-O2, -O3 (its Makefile's default; C99 and libm) and
"-O3 -march=native", and timed by its own ``--time N`` (the median of N calls in one process, after a first
call); PyTorch eager runs a twin of the zoo model (bench/deploy_twins.py) that loads the ember model's
state_dict, under ``no_grad`` in eval mode; onnxruntime runs the graph ``ember.onnx.export`` writes (the row
says "skipped" while that function is not available). A figure is the median CPU time of the process per call
(``time.process_time``; in C ``clock_gettime(CLOCK_PROCESS_CPUTIME_ID)``), the lowest of ``--repeats`` such
medians, the runtimes taking turns. CPU time, because on a machine whose cores other processes keep busy the
wall-clock time mostly measures how the scheduler shares them (a call longer than a time slice waits for the
next one); it is kept in the JSON (``wall_ms``), and with one thread the two agree on an idle machine. The C
program runs on one thread (no OpenMP), so the
others are limited to ``--threads`` (default 1) too. Each row also gives the largest absolute difference of
each runtime's output from ember's eager output, the C build times and the C arena against the sum of its
intermediate arrays. The JSON (``--out``) holds every figure and the machine.
"""
import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.runner import THREAD_VARS  # noqa: E402 (the thread variables must be set before numpy loads)

MODELS = ("mlp", "lenet5", "resnet20", "gpt")
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deploy.json")
BUILDS = (("c_O2", "-O2"), ("c_O3", "-O3"), ("c_native", "-O3 -march=native"))  # the Makefile's default: -O3
ONNX_MISSING = "skipped: ember.onnx.export not available"


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.deploy", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    p.add_argument("--batch", type=int, default=1, help="the batch size of one inference (default 1)")
    p.add_argument("--iters", type=int, default=None, help="timed calls per measurement (default 200)")
    p.add_argument("--repeats", type=int, default=None, help="measurements per runtime; the lowest counts (default 3)")
    p.add_argument("--threads", type=int, default=1, help="threads of PyTorch, onnxruntime and BLAS (default 1)")
    p.add_argument("--no-torch", action="store_true", help="no PyTorch row")
    p.add_argument("--smoke", action="store_true", help="3 calls, 1 repeat: checks that it runs")
    p.add_argument("--out", default=DEFAULT_OUT, help="the JSON report (default bench/deploy.json)")
    args = p.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown or not args.models:
        p.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    defaults = dict(iters=3, repeats=1) if args.smoke else dict(iters=200, repeats=3)
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.batch < 1 or args.iters < 1 or args.repeats < 1 or args.threads < 1:
        p.error("--batch, --iters, --repeats and --threads must be >= 1")
    return args


def _model(name, batch):
    """(ember model in eval mode, input array, its ember output) with a fixed seed; resnet20's batch norms get
    non-trivial statistics (folding them into the convolutions is part of what is measured)."""
    import numpy as np

    import ember
    from ember import nn, profile, zoo
    ember.manual_seed(0)
    kwargs = profile.zoo_kwargs(name, {})
    model = zoo.get_model(name, **kwargs).eval()
    rng = np.random.default_rng(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean._data[...] = rng.standard_normal(c) * 0.1
            m.running_var._data[...] = rng.random(c) + 0.5
    spec = profile.zoo_input_spec(name, kwargs)
    shape = (batch,) + spec.shape
    x = rng.integers(0, spec.high, shape) if spec.dtype == "int64" else rng.standard_normal(shape).astype(np.float32)
    with ember.no_grad():
        out = model(ember.tensor(x))
    out = out[0] if isinstance(out, tuple) else out
    return model, x, out.numpy()


def _median_us(fn, iters):
    """{"wall_us", "cpu_us"}: the medians of fn's wall-clock and process CPU time over iters calls, after one."""
    fn()
    wall, cpu = [], []
    for _ in range(iters):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {"wall_us": statistics.median(wall) * 1e6, "cpu_us": statistics.median(cpu) * 1e6}


def _diff(a, b):
    import numpy as np
    return float(np.abs(np.asarray(a, np.float64).reshape(b.shape) - b).max())


def _prepare_c(model, x, expected, args, directory):
    """The C program built per BUILDS: (its report entries, {key: timer}); a timer returns microseconds."""
    from ember.export import build_c, export_c, run_c
    result = export_c(model, (_tensor(x),), directory, description="bench.deploy")
    row = {"arena_kib": result.arena * 4 / 1024, "intermediates_kib": result.intermediates * 4 / 1024,
           "weights_kib": result.weights * 4 / 1024}
    timers = {}
    for key, opt in BUILDS:
        row[key] = {"build_s": build_c(directory, opt=opt)}
        shutil.copy(os.path.join(directory, "model"), os.path.join(directory, key))
        row[key]["max_abs_diff"] = _diff(run_c(directory, x, program=key)[0], expected)
        timers[key] = lambda key=key: run_c(directory, x, repeats=args.iters, program=key)[1]
    return row, timers


def _tensor(x):
    import ember
    return ember.tensor(x)


def _prepare_torch(name, model, x, expected, args):
    import numpy as np
    import torch

    from bench.deploy_twins import twin
    torch.set_num_threads(args.threads)
    tmodel = twin(torch, name, {k: v.numpy() for k, v in model.state_dict().items()})
    tx = torch.tensor(x)

    def timer():
        with torch.no_grad():
            return _median_us(lambda: tmodel(tx), args.iters)

    with torch.no_grad():
        out = tmodel(tx).numpy()
    return {"max_abs_diff": _diff(np.asarray(out), expected)}, timer


def _prepare_ort(model, x, expected, args):
    import ember.onnx
    try:
        import onnxruntime as ort
    except ImportError:
        return {"skipped": "skipped: onnxruntime not installed"}, None
    buffer = io.BytesIO()
    try:
        ember.onnx.export(model, (_tensor(x),), buffer)
    except NotImplementedError:
        return {"skipped": ONNX_MISSING}, None
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = args.threads
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}
    out = session.run(None, feed)[0]
    return {"max_abs_diff": _diff(out, expected)}, lambda: _median_us(lambda: session.run(None, feed), args.iters)


def _prepare_ember(model, x, args):
    import ember
    t = ember.tensor(x)

    def timer():
        with ember.no_grad():
            return _median_us(lambda: model(t), args.iters)

    return {}, timer


def _safely(fn, *a):
    """fn(*a), or ({"error": ...}, None): a runtime that fails is reported in its cell, the others still run."""
    try:
        return fn(*a)
    except Exception as e:
        return {"error": f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"}, None


def measure(name, args, directory, use_torch):
    """The report row of one model: every runtime prepared, then timed in turns (each repeat times each runtime
    once, so that load from other processes falls on all alike); a figure is the lowest of its repeats."""
    model, x, expected = _model(name, args.batch)
    row = {"model": name, "batch": args.batch}
    row["c"], c_timers = _safely(_prepare_c, model, x, expected, args, directory)
    timers = {("c", key): t for key, t in (c_timers or {}).items()}
    if use_torch:
        row["torch"], timers["torch", None] = _safely(_prepare_torch, name, model, x, expected, args)
    else:
        row["torch"] = {"skipped": "skipped: --no-torch" if args.no_torch else "skipped: torch not installed"}
    row["ort"], timers["ort", None] = _safely(_prepare_ort, model, x, expected, args)
    row["ember"], timers["ember", None] = _safely(_prepare_ember, model, x, args)
    timers = {k: t for k, t in timers.items() if t is not None}
    times = {k: [] for k in timers}
    for _ in range(args.repeats):
        for k, timer in timers.items():
            try:
                times[k].append(timer())
            except Exception as e:
                entry = row[k[0]] if k[1] is None else row[k[0]][k[1]]
                entry["error"] = f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
    for (what, key), values in times.items():
        entry = row[what] if key is None else row[what][key]
        if values and "error" not in entry:
            entry["ms"] = min(v["cpu_us"] for v in values) / 1e3
            entry["wall_ms"] = min(v["wall_us"] for v in values) / 1e3
    return row


def _cell(entry, key="ms", spec=".3f", short=False):
    if entry is None:
        return "-"
    if "skipped" in entry:
        return "-" if short else entry["skipped"]
    if "error" in entry:
        return "failed"
    return format(entry[key], spec)


def format_table(rows):
    """The markdown table of the report's rows."""
    lines = ["| model | batch | C -O2 ms | C -O3 ms | C -O3 native ms | PyTorch eager ms | onnxruntime ms | "
             "ember eager ms | max abs diff C / torch / ort | C build s (-O2 / -O3 / native) | arena KiB (no reuse) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"]
    for r in rows:
        c = r.get("c", {})
        if "error" in c:
            lines.append(f"| {r['model']} | {r['batch']} | C export failed: {c['error']} |")
            continue
        diffs = " / ".join(_cell(e, "max_abs_diff", ".1e", True) for e in (c.get("c_O3"), r.get("torch"), r.get("ort")))
        builds = " / ".join(_cell(c.get(k), "build_s", ".2f", True) for k, _ in BUILDS)
        lines.append(f"| {r['model']} | {r['batch']} | {' | '.join(_cell(c.get(k)) for k, _ in BUILDS)} | "
                     f"{_cell(r.get('torch'))} | {_cell(r.get('ort'))} | {_cell(r.get('ember'))} | {diffs} | "
                     f"{builds} | {c['arena_kib']:.0f} ({c['intermediates_kib']:.0f}) |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    for var in THREAD_VARS:
        os.environ[var] = str(args.threads)
    import ember
    from bench.runner import machine_info, torch_available
    ember.set_num_threads(args.threads)
    use_torch = not args.no_torch and torch_available()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ember-deploy-") as tmp:
        for name in args.models:
            print(f"bench.deploy: {name}", file=sys.stderr)
            rows.append(measure(name, args, os.path.join(tmp, name), use_torch))
    report = {"machine": machine_info(), "config": {k: v for k, v in vars(args).items() if k != "out"},
              "results": rows}
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(format_table(rows))
    print(f"\nCPU ms per call, {args.threads} thread(s), {report['machine']['cpu']}: the lowest of {args.repeats} "
          f"medians of {args.iters} calls (wall-clock times in {args.out})")
    failed = [r["model"] for r in rows if any("error" in (r.get(k) or {}) for k in ("c", "torch", "ort", "ember"))]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
