"""Framework overhead: median time of a tiny eager forward+backward (16x16 float32, about 20 ops).

Run from the repository root: ``python -m bench.overhead [--iters N]``. Prints ember's median time and, when
PyTorch is installed, PyTorch's (2 threads) and the ratio ember / PyTorch.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def step(lib, x, w1, w2, b):
    """One forward (20 ops) and backward; lib is ember or torch (same names)."""
    h = lib.tanh(x @ w1 + b)                         # matmul, add, tanh
    h2 = lib.sigmoid((h @ w2) * 0.5)                 # matmul, mul, sigmoid
    h3 = lib.relu(h2 - 0.25) * h                     # sub, relu, mul
    h6 = lib.exp(h3 * -1.0) + h2                     # mul, exp, add
    h8 = lib.tanh(h6 @ w1)                           # matmul, tanh
    s = (h8 * h8).sum(dim=1).mean()                  # mul, sum, mean
    loss = s + h6.mean() * 0.1                       # mean, mul, add
    loss.backward()
    return loss


def _params(lib, dtype):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((16, 16), (16, 16), (16, 16), (16,))]
    x, w1, w2, b = (lib.tensor(a, dtype=dtype) for a in arrays)
    for p in (w1, w2, b):
        p.requires_grad_(True)
    return x, w1, w2, b


def measure(lib, dtype, iters, warmup=50):
    """Median seconds per forward+backward over iters timed runs."""
    x, w1, w2, b = _params(lib, dtype)
    times = []
    for i in range(warmup + iters):
        for p in (w1, w2, b):
            p.grad = None
        t0 = time.perf_counter()
        step(lib, x, w1, w2, b)
        t1 = time.perf_counter()
        if i >= warmup:
            times.append(t1 - t0)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iters", type=int, default=1000)
    args = parser.parse_args(argv)

    import ember
    t_ember = measure(ember, ember.float32, args.iters)
    print(f"ember:   {t_ember * 1e6:8.1f} us per forward+backward (median of {args.iters})")
    try:
        import torch
    except ImportError:
        print("torch not installed: no comparison")
        return
    torch.set_num_threads(2)
    t_torch = measure(torch, torch.float32, args.iters)
    print(f"pytorch: {t_torch * 1e6:8.1f} us per forward+backward (median of {args.iters}, 2 threads)")
    print(f"ratio ember / pytorch: {t_ember / t_torch:.2f}x")


if __name__ == "__main__":
    main()
