"""ember.distributed against raw MPI, and DistributedDataParallel's scaling, on this machine.

    python -m bench.distributed                   # both tables, 2 ranks
    python -m bench.distributed --smoke           # CI: tiny sizes, 2 steps, no timing claims

1. all-reduce bus bandwidth against message size (as nccl-tests' busbw: size * 2(n-1)/n / time) for
   ember.distributed.all_reduce and for mpi4py's blocking ``Allreduce`` on the same float32 buffer, the two
   alternating in each of several repeats; each figure is the best repeat's mean time.
2. a training step of an MLP 784-512-512-10 (SGD, per-rank batch 128, 1 thread per rank): one process without DDP,
   two independent processes at once (what the machine alone costs two processes), and DistributedDataParallel on
   2 ranks at the same per-rank batch (so twice the global batch); the figure is the median step time after
   warm-up, best of the repeats.

The parent process starts the workers with mpiexec and prints the tables (and writes --out as JSON).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SIZES = [2 ** k for k in range(13, 27, 2)]  # 8 KB .. 64 MB
SMOKE_SIZES = [2 ** 13, 2 ** 20]


def _allreduce_worker(sizes, repeats):
    import numpy as np
    from mpi4py import MPI

    import ember
    import ember.distributed as dist
    dist.init_process_group("mpi")
    comm, n = MPI.COMM_WORLD, dist.get_world_size()
    rows = []
    for size in sizes:
        buf = np.ones(size // 4, np.float32)
        t = ember.from_numpy(buf)
        iters = max(3, min(200, (1 << 24) // size))
        best = {"mpi4py": float("inf"), "ember": float("inf")}
        for _ in range(repeats):
            for name in ("mpi4py", "ember"):
                comm.Barrier()
                start = time.perf_counter()
                for _ in range(iters):
                    if name == "mpi4py":
                        comm.Allreduce(MPI.IN_PLACE, buf)
                    else:
                        dist.all_reduce(t)
                best[name] = min(best[name], (time.perf_counter() - start) / iters)
                buf.fill(1)
        rows.append({"bytes": size, **{f"{k}_s": v for k, v in best.items()},
                     **{f"{k}_busbw_GBps": size * 2 * (n - 1) / n / v / 1e9 for k, v in best.items()}})
    dist.destroy_process_group()
    return rows


def _ddp_worker(steps, warmup, ddp):
    import ember
    import ember.distributed as dist
    from ember import nn
    ember.set_num_threads(1)
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    if ddp:
        dist.init_process_group("mpi")
        model = nn.parallel.DistributedDataParallel(model)
    opt = ember.optim.SGD(model.parameters(), lr=0.01)
    x, y = ember.randn(128, 784), ember.randint(0, 10, (128,))
    times = []
    for i in range(warmup + steps):
        if i == warmup:
            cpu = time.process_time()
        start = time.perf_counter()
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu) / steps
    if ddp:
        dist.barrier()
        dist.destroy_process_group()
    return {"step_s": statistics.median(times), "cpu_s": cpu}


def _worker(args):
    if args.worker == "allreduce":
        result = _allreduce_worker(args.sizes, args.repeats)
    else:
        result = _ddp_worker(args.steps, args.warmup, args.worker == "ddp")
    if int(os.environ.get("PMI_RANK", "0")) == 0:
        print("RESULT " + json.dumps(result), flush=True)


def _launch(nproc, worker_args):
    from ember.distributed.launch import _mpiexec
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    cmd = [_mpiexec(), "-n", str(nproc), sys.executable, "-m", "bench.distributed", *worker_args]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"bench.distributed: {' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.distributed", description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes, 2 steps: checks it runs (no timing claims)")
    p.add_argument("--repeats", type=int, default=5, help="repeats (default 5)")
    p.add_argument("--steps", type=int, default=30, help="timed DDP steps per process (default 30)")
    p.add_argument("--out", help="also write the results as JSON here")
    p.add_argument("--worker", choices=("allreduce", "ddp", "single"), help=argparse.SUPPRESS)
    p.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], help=argparse.SUPPRESS)
    p.add_argument("--warmup", type=int, default=5, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return _worker(args)
    sizes = SMOKE_SIZES if args.smoke else SIZES
    repeats, steps, warmup = (1, 2, 1) if args.smoke else (args.repeats, args.steps, args.warmup)
    rows = _launch(2, ["--worker", "allreduce", "--sizes", ",".join(map(str, sizes)), "--repeats", str(repeats)])
    print("all_reduce, 2 ranks, float32 (busbw GB/s; ratio = ember time / mpi4py time)")
    print(f"{'bytes':>10} {'mpi4py':>9} {'ember':>9} {'ratio':>6}")
    for r in rows:
        print(f"{r['bytes']:>10} {r['mpi4py_busbw_GBps']:>9.2f} {r['ember_busbw_GBps']:>9.2f} "
              f"{r['ember_s'] / r['mpi4py_s']:>6.2f}")
    runs = {"1 process (no DDP)": (1, "single"), "2 processes, each alone (no DDP)": (2, "single"),
            "DDP on 2 ranks": (2, "ddp")}
    best = dict.fromkeys(runs)
    step_args = ["--steps", str(steps), "--warmup", str(warmup)]
    for _ in range(repeats):  # alternating, best of the repeats
        for name, (nproc, worker) in runs.items():
            got = _launch(nproc, ["--worker", worker, *step_args])
            if best[name] is None or got["step_s"] < best[name]["step_s"]:
                best[name] = got
    print("\nMLP 784-512-512-10 training step, per-rank batch 128, 1 thread per rank (median wall time, and CPU time "
          "of rank 0, per step; the second row shows what two processes cost each other on this machine)")
    single = best["1 process (no DDP)"]["step_s"]
    for name, got in best.items():
        print(f"{name:>34} {got['step_s'] * 1e3:7.2f} ms (cpu {got['cpu_s'] * 1e3:.2f})  {got['step_s'] / single:.2f}x")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"allreduce": rows, "mlp_step": best}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
