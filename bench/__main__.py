"""ember against PyTorch: training-step and inference times of six workloads, side by side in one run.

    python -m bench                                   # all workloads, both frameworks, writes bench/results.json
    python -m bench --workloads mlp,lstm --steps 50 --repeats 4
    python -m bench --smoke --no-torch --out /tmp/r.json   # CI: 2 steps, 1 warm-up, 1 repeat, no timing claims
    python -m bench --compile                         # adds ember.compile and torch.compile, compile times

Each (framework, workload, mode) runs in a fresh process per repeat, the frameworks alternating, 2 threads. A
process times its steps after the warm-up; the figure is the median step time of the quietest repeat (the lowest
per-process median; the JSON also has the median pooled over all repeats), with the highest peak RSS of the
repeats. Ratios are ember / PyTorch (below 1: ember is faster or smaller).

--compile adds the same steps compiled by each framework's compile (ember.compile, torch.compile with its default
options), in processes of their own: a second table gives compiled ember against PyTorch eager and against
torch.compile, and the compile time (the first call less a steady step) in a fresh process with an empty compile
cache (cold) and with the cache an earlier process filled (warm; at least one such process is run).
"""
import argparse
import json
import os
import sys

from bench.runner import THREADS, format_compiled_table, format_table, machine_info, run_suite, torch_available
from bench.workloads import MODES, WORKLOADS

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json")


def _workloads(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    return names


def _modes(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or any(n not in MODES for n in names):
        raise argparse.ArgumentTypeError(f"modes must be among {', '.join(MODES)}")
    return names


def parse_args(argv=None, prog="python -m bench"):
    p = argparse.ArgumentParser(prog=prog, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", type=_workloads, default=list(WORKLOADS),
                   help=f"comma-separated subset of {','.join(WORKLOADS)} (default: all)")
    p.add_argument("--modes", type=_modes, default=list(MODES), help="train,inference (default: both)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per process (default 30)")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps per process (default 5)")
    p.add_argument("--repeats", type=int, default=None, help="fresh processes per framework and workload (default 3)")
    p.add_argument("--threads", type=int, default=THREADS, help=f"BLAS/OpenMP/torch threads (default {THREADS})")
    p.add_argument("--smoke", action="store_true",
                   help="2 steps, 1 warm-up, 1 repeat: checks that it runs; the times mean nothing")
    p.add_argument("--out", default=DEFAULT_OUT, help="JSON results file (default bench/results.json)")
    p.add_argument("--no-torch", action="store_true", help="run ember only")
    p.add_argument("--compile", action="store_true",
                   help="also time the steps compiled (ember.compile, torch.compile) and their compile times")
    p.add_argument("--timeout", type=float, default=900, help="seconds allowed per process")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = p.parse_args(argv)
    smoke = dict(steps=2, warmup=1, repeats=1) if args.smoke else dict(steps=30, warmup=5, repeats=3)
    for k, v in smoke.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.steps < 1 or args.warmup < 0 or args.repeats < 1:
        p.error("--steps and --repeats must be >= 1 and --warmup >= 0")
    return args


def main(argv=None, prog="python -m bench"):
    """Run the suite; prog is the command named in usage and errors (`ember bench` runs it too)."""
    args = parse_args(argv, prog)
    frameworks = ["ember"]
    note = None
    if not args.no_torch:
        if torch_available():
            frameworks.append("torch")
        else:
            note = "PyTorch is not installed: ember only"
    log = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    if note and log:
        log(note)
    rows = run_suite(args.workloads, args.modes, frameworks, args.steps, args.warmup, args.repeats,
                     threads=args.threads, timeout=args.timeout, log=log, compiled=args.compile)
    report = {"machine": machine_info(),
              "config": {"steps": args.steps, "warmup": args.warmup, "repeats": args.repeats, "threads": args.threads,
                         "smoke": args.smoke, "frameworks": frameworks, "workloads": args.workloads,
                         "modes": args.modes, "compile": args.compile},
              "results": rows}
    m = report["machine"]
    print(f"{m['cpu']}, {m['cores']} cores, {args.threads} threads; numpy {m['numpy']} ({m['blas']}), "
          f"torch {m['torch'] if 'torch' in frameworks else '-'}, ember {m['ember']}; {m['date']}")
    print(f"median step time of {args.steps} steps after {args.warmup} warm-up steps, lowest of {args.repeats} "
          "fresh processes; peak RSS per process; ratios are ember / PyTorch")
    if args.smoke:
        print("SMOKE RUN: the times below are not measurements")
    print()
    print(format_table(rows, frameworks))
    if args.compile:
        print("\ncompiled steps (ember.compile, torch.compile): median step time as above; ratios are compiled "
              "ember / PyTorch eager and / torch.compile; compile time = first call - a steady step, in a fresh "
              "process with an empty cache (cold) and with a filled one (warm)\n")
        print(format_compiled_table(rows))
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"\nwrote {args.out}")
    failed = any("error" in row[f] for row in rows for f in frameworks + (
        [f + "_compiled" for f in frameworks] if args.compile else []))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
