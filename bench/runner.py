"""Run benchmark workloads in fresh processes and gather the figures.

The parent (:func:`run_suite`) starts one child per (framework, workload, mode, repeat), alternating the frameworks,
with the thread count fixed through the environment before anything is imported. A child
(``python -m bench.runner FRAMEWORK WORKLOAD MODE STEPS WARMUP``) times each step and prints one JSON line with the
step times and its peak resident set size. A framework named with the suffix ``_compiled`` (``ember_compiled``,
``torch_compiled``) runs its steps compiled by its own ``compile``; the first of its processes per workload and mode
starts with an empty compile cache (cold), the later ones with the cache the earlier ones filled (warm).
"""
import datetime
import importlib.metadata
import importlib.util
import inspect
import json
import math
import os
import platform
import resource
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

THREADS = 2
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")
NOISY = 1.5  # a figure is flagged when its repeat medians differ by more than this factor (quartiles: twice it)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPILED = "_compiled"  # the suffix of a framework name whose steps run compiled
CACHE_VARS = ("EMBER_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR")  # where ember.compile and torch.compile cache code


def split_variant(name):
    """(framework, compiled) of a framework name: "torch_compiled" -> ("torch", True)."""
    return (name[:-len(COMPILED)], True) if name.endswith(COMPILED) else (name, False)


def thread_env(threads=THREADS):
    """A copy of the environment with every BLAS/OpenMP pool limited to ``threads``."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def peak_rss_mib():
    """This process's peak resident set size in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def torch_available():
    return importlib.util.find_spec("torch") is not None


# ---------------------------------------------------------------- child side

def measure(framework, workload, mode, steps, warmup, threads=THREADS):
    """Build ``workload`` on ``framework`` (a name ending in _compiled: compiled steps) and time ``warmup + steps``
    steps of ``mode``; returns a dict."""
    from bench.workloads import WORKLOADS, compiled_step, infer_step, load_framework, train_step

    name, compiled = split_variant(framework)
    fw = load_framework(name, threads)
    rss_import = peak_rss_mib()
    fw.torch.manual_seed(0)
    w = WORKLOADS[workload](fw)
    if mode not in ("train", "inference"):
        raise ValueError(f"unknown mode {mode!r} (expected 'train' or 'inference')")
    optimizer = None
    if mode == "train":
        w.model.train()
        optimizer = w.make_optimizer()
    else:
        w.model.eval()
    if compiled:
        step = compiled_step(fw, w, mode, optimizer)
    elif mode == "train":
        def step():
            return train_step(fw, w, optimizer)
    else:
        def step():
            return infer_step(fw, w)
    times, cpu = [], []
    out = checked = None
    check_at = min(LOSS_STEPS, warmup + steps)  # the call whose loss is compared (issue 9: after 30 steps)
    for i in range(warmup + steps):
        c0, t0 = time.process_time(), time.perf_counter()
        out = step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if i + 1 == check_at:
            checked = out
    result = {"framework": framework, "workload": workload, "mode": mode,
              "warmup_ms": [t * 1e3 for t in times[:warmup]], "times_ms": [t * 1e3 for t in times[warmup:]],
              "cpu_ms": [t * 1e3 for t in cpu[warmup:]],
              "rss_import_mib": rss_import, "peak_rss_mib": peak_rss_mib()}
    if compiled:  # the first call traces and compiles (or reads the compile cache)
        result["first_call_ms"] = times[0] * 1e3
        backend = inspect.signature(fw.torch.compile).parameters["backend"].default
        result["compile_backend"] = "inductor" if backend is None and name == "torch" else backend  # torch's None
    if mode == "train":
        result["last_loss"] = float(out.item())
        result["checked_loss"] = (check_at, float(checked.item()))
    return result


def child_main(argv):
    framework, workload, mode, steps, warmup = argv[:5]
    try:
        threads = int(os.environ.get("OMP_NUM_THREADS", THREADS))  # set by the parent's --threads
        result = measure(framework, workload, mode, int(steps), int(warmup), threads)
    except Exception as e:  # reported to the parent, which carries on with the other runs
        traceback.print_exc()
        where = traceback.extract_tb(e.__traceback__)[-1]
        at = f"{os.path.relpath(where.filename, REPO)}:{where.lineno}"
        print(json.dumps({"error": f"{type(e).__name__}: {e} (at {at})"}))
        return 1
    print(json.dumps(result))
    return 0


# ---------------------------------------------------------------- parent side

def run_child(framework, workload, mode, steps, warmup, threads=THREADS, timeout=900, cache_dir=None):
    """One fresh process; returns the child's dict (with "error" set when it failed). cache_dir: where the
    compilers keep their cache (EMBER_CACHE_DIR, TORCHINDUCTOR_CACHE_DIR)."""
    cmd = [sys.executable, "-m", "bench.runner", framework, workload, mode, str(steps), str(warmup)]
    env = thread_env(threads)
    if cache_dir is not None:
        env.update(dict.fromkeys(CACHE_VARS, cache_dir))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        result = {"error": tail[0]}
    if proc.returncode != 0 and "error" not in result:
        result["error"] = f"exit status {proc.returncode}"
    return result


def _summary(runs):
    """Summarise the repeats of one (framework, workload, mode): the lowest per-process median, and the rest."""
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        return {"error": errors[0], "runs": len(runs)}
    times = [t for r in runs for t in r["times_ms"]]
    medians = [statistics.median(r["times_ms"]) for r in runs]
    q1, _, q3 = statistics.quantiles(times, n=4) if len(times) > 1 else (times[0],) * 3
    # the figure is the quietest process's median: a neighbour's load slows whole processes, never speeds one up
    out = {"median_ms": min(medians), "pooled_median_ms": statistics.median(times), "min_ms": min(times),
           "q1_ms": q1, "q3_ms": q3,
           "repeat_medians_ms": medians, "cpu_median_ms": statistics.median(t for r in runs for t in r["cpu_ms"]),
           "noisy": max(medians) > NOISY * min(medians) or q3 > 2 * NOISY * q1,
           "steps": len(times), "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
           "rss_import_mib": max(r["rss_import_mib"] for r in runs),
           "warmup_ms": [r["warmup_ms"] for r in runs]}
    if "last_loss" in runs[0]:
        out["last_loss"] = [r["last_loss"] for r in runs]
        out["checked_loss"] = runs[0]["checked_loss"]
    if "first_call_ms" in runs[0]:  # compile time: the first call less a steady step (0 below that), cold then warm
        compile_s = [max(r["first_call_ms"] - statistics.median(r["times_ms"]), 0.0) / 1e3 for r in runs]
        out["compile_cold_s"] = compile_s[0] if runs[0].get("cache") == "cold" else None
        warm = [c for c, r in zip(compile_s, runs) if r.get("cache") == "warm"]
        out["compile_warm_s"] = min(warm) if warm else None
        out["first_call_ms"] = [r["first_call_ms"] for r in runs]
        out["compile_backend"] = runs[0].get("compile_backend")
    return out


def _ratio(a, b):
    return a / b if a is not None and b else None


def run_suite(workloads, modes, frameworks, steps, warmup, repeats, threads=THREADS, timeout=900, log=None,
              compiled=False):
    """Alternate fresh processes of each framework; returns one row per (workload, mode). compiled=True adds each
    framework's compiled steps (the names with the _compiled suffix), at least two processes each: the first with
    an empty compile cache, the others with a warm one."""
    variants = list(frameworks) + ([f + COMPILED for f in frameworks] if compiled else [])
    raw = {(w, m, f): [] for w in workloads for m in modes for f in variants}
    caches = tempfile.mkdtemp(prefix="bench-compile-cache-") if compiled else None
    runs = max(repeats, 2 if compiled else 1)
    try:
        for r in range(runs):
            order = variants if r % 2 == 0 else variants[::-1]  # neither framework always goes first
            for w in workloads:
                for m in modes:
                    for f in order:
                        if r >= repeats and not f.endswith(COMPILED):
                            continue  # the extra repeat only measures a warm compile cache
                        cache = os.path.join(caches, f"{f}-{w}-{m}") if f.endswith(COMPILED) else None
                        res = run_child(f, w, m, steps, warmup, threads, timeout, cache)
                        if cache is not None:
                            res["cache"] = "warm" if raw[w, m, f] else "cold"
                        raw[w, m, f].append(res)
                        if log:
                            what = res.get("error") or f"{statistics.median(res['times_ms']):.3f} ms"
                            if "first_call_ms" in res:
                                what += f" (first call {res['first_call_ms'] / 1e3:.2f} s, {res['cache']} cache)"
                            log(f"[{r + 1}/{runs}] {w:14s} {m:9s} {f:14s} {what}")
    finally:
        if caches is not None:
            shutil.rmtree(caches, ignore_errors=True)
    rows = []
    for w in workloads:
        for m in modes:
            row = {"workload": w, "mode": m}
            for f in variants:
                row[f] = _summary(raw[w, m, f])
            if "torch" in frameworks:
                e, t = row.get("ember", {}), row["torch"]
                row["ratio"] = _ratio(e.get("median_ms"), t.get("median_ms"))
                row["rss_ratio"] = _ratio(e.get("peak_rss_mib"), t.get("peak_rss_mib"))
            if compiled:
                _compiled_ratios(row, "torch" in frameworks)
            rows.append(row)
    return rows


LOSS_RTOL = 1e-4  # a compiled training step's loss must equal the eager one to this ...
LOSS_STEPS = 30  # ... after this many steps (issue 9; after all of them where a process runs fewer)


def _compiled_ratios(row, torch):
    """Compiled ember against PyTorch eager and torch.compile, and its loss after LOSS_STEPS steps against eager
    ember's."""
    ec = row["ember" + COMPILED].get("median_ms")
    if torch:
        row["compiled_ratio"] = _ratio(ec, row["torch"].get("median_ms"))
        row["compiled_vs_torch_compile"] = _ratio(ec, row["torch" + COMPILED].get("median_ms"))
    eager, comp = row["ember"].get("checked_loss"), row["ember" + COMPILED].get("checked_loss")
    if eager and comp and eager[0] == comp[0]:
        row["compiled_loss_rel_diff"] = abs(comp[1] - eager[1]) / max(abs(eager[1]), 1e-30)
        row["compiled_loss_step"] = comp[0]


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _blas():
    try:
        import numpy as np
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older numpy: no dict mode
        return None


def _git_commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO,
                             timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info():
    """What the figures were measured on."""
    import numpy as np
    sys.path.insert(0, REPO)
    import ember
    return {"cpu": _cpu_model(), "cores": os.cpu_count(),
            "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "python": platform.python_version(), "platform": platform.platform(), "numpy": np.__version__,
            "blas": _blas(), "torch": _version("torch"), "ember": ember.__version__, "git_commit": _git_commit(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


# ---------------------------------------------------------------- report

def _fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def format_compiled_table(rows):
    """The markdown table of the compiled steps: ember.compile against PyTorch eager and torch.compile, with the
    compile times (the first call less a steady step) in a fresh process, cold and warm cache."""
    lines = ["| workload | mode | ember compiled ms | / torch eager | torch.compile ms | / torch.compile "
             "| ember compile s, cold / warm | torch.compile s, cold / warm |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    backends = []  # "ember.compile: backend 'c'", once per framework: what its default backend is
    for name, key in (("ember.compile", "ember" + COMPILED), ("torch.compile", "torch" + COMPILED)):
        found = {row.get(key, {}).get("compile_backend") for row in rows} - {None}
        if found:
            backends.append(f"{name}: backend {', '.join(map(repr, sorted(found)))}")
    notes = ["- " + "; ".join(backends) + " (each one's default)"] if backends else []
    for row in rows:
        e, t = row.get("ember" + COMPILED, {}), row.get("torch" + COMPILED, {})

        def ms(s):
            return "failed" if "error" in s else _fmt(s.get("median_ms"), ".3f") + ("*" if s.get("noisy") else "")

        def secs(s):
            return f"{_fmt(s.get('compile_cold_s'), '.3f')} / {_fmt(s.get('compile_warm_s'), '.3f')}"

        lines.append("| " + " | ".join([row["workload"], row["mode"], ms(e), _fmt(row.get("compiled_ratio"), ".2f"),
                                         ms(t) if t else "-", _fmt(row.get("compiled_vs_torch_compile"), ".2f"),
                                         secs(e), secs(t)]) + " |")
        for f, s in (("ember.compile", e), ("torch.compile", t)):
            if "error" in s:
                notes.append(f"- {row['workload']} {row['mode']} with {f} failed: {s['error']}")
        diff = row.get("compiled_loss_rel_diff")
        if diff is not None and diff > LOSS_RTOL:
            notes.append(f"- {row['workload']}: the compiled loss after {row['compiled_loss_step']} steps differs from "
                         f"eager ember's by {diff:.2g} (relative; allowed {LOSS_RTOL})")
    return "\n".join(lines + ([""] + notes if notes else []))


def format_table(rows, frameworks):
    """The markdown table: times, ratio, peak RSS and its ratio; failed runs show their error below."""
    lines = ["| workload | mode | ember ms | torch ms | ratio | ember MiB | torch MiB | peak RSS ratio |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    notes = []
    noisy = False
    for row in rows:
        e, t = row.get("ember", {}), row.get("torch", {})
        mark = "*" if e.get("noisy") or t.get("noisy") else ""
        noisy = noisy or bool(mark)
        cells = [row["workload"], row["mode"],
                 "failed" if "error" in e else _fmt(e.get("median_ms"), ".3f") + ("*" if e.get("noisy") else ""),
                 "failed" if "error" in t else _fmt(t.get("median_ms"), ".3f") + ("*" if t.get("noisy") else ""),
                 _fmt(row.get("ratio"), ".2f") + (mark if row.get("ratio") is not None else ""),
                 _fmt(e.get("peak_rss_mib"), ".0f"), _fmt(t.get("peak_rss_mib"), ".0f"),
                 _fmt(row.get("rss_ratio"), ".2f")]
        lines.append("| " + " | ".join(cells) + " |")
        for f in frameworks:
            if "error" in row.get(f, {}):
                notes.append(f"- {row['workload']} {row['mode']} on {f} failed: {row[f]['error']}")
    if noisy:
        notes.insert(0, f"- * noisy: the medians of the repeats differ by more than {NOISY}x, or the quartiles of all "
                        f"steps by more than {2 * NOISY}x (a busy machine); see the JSON for every repeat")
    return "\n".join(lines + ([""] + notes if notes else []))


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
