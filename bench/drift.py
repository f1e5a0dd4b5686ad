"""How far training steps drift apart by rounding: the loss of a workload's training steps compiled by
ember.compile and run by PyTorch eager, each against eager ember's, all from the same initial weights (eager
ember's, copied into the others' models) and the same batch.

    python -m bench.drift resnet_small 35      # steps 1, 10, 20, 30 and 35
    python -m bench.drift mlp 5 --no-torch

Issue 9 asks the compiled loss after 30 steps to equal eager's to 1e-4 (the bench's ``--compile`` table notes a
larger difference); training amplifies rounding, and PyTorch's difference from eager ember shows how much two
correct float32 implementations drift apart on the workload.
"""
import argparse
import importlib.util
import os
import sys

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.runner import thread_env  # noqa: E402

os.environ.update(thread_env())  # before NumPy and PyTorch start their thread pools

from bench.workloads import WORKLOADS, compiled_step, load_framework, train_step  # noqa: E402


def losses(framework, workload, steps, weights, compiled=False):
    """The losses of ``steps`` training steps of ``workload`` on ``framework`` ("ember" or "torch") from these
    initial weights ({name: array}; the model's own when None); (losses, the initial weights as arrays)."""
    fw = load_framework(framework)
    w = WORKLOADS[workload](fw)
    state = w.model.state_dict()
    if weights is not None:
        with fw.torch.no_grad():
            for name, value in weights.items():
                state[name].copy_(fw.torch.tensor(value))
    start = {name: t.detach().numpy().copy() for name, t in state.items()}
    optimizer = w.make_optimizer()
    step = compiled_step(fw, w, "train", optimizer) if compiled else (lambda: train_step(fw, w, optimizer))
    return [float(step().detach()) for _ in range(steps)], start


def drift(workload, steps, torch=True):
    """{run: losses} for eager ember, compiled ember and (with torch) PyTorch eager, from eager ember's weights."""
    eager, weights = losses("ember", workload, steps, None)
    runs = {"ember": eager, "ember_compiled": losses("ember", workload, steps, weights, compiled=True)[0]}
    if torch:
        runs["torch"] = losses("torch", workload, steps, weights)[0]
    return runs


def report(runs, checkpoints):
    """Lines: per step in checkpoints, each run's loss and its relative difference from eager ember's."""
    lines = []
    for s in checkpoints:
        ref = runs["ember"][s - 1]
        parts = [f"step {s}: ember {ref:.7g}"]
        for name, values in runs.items():
            if name != "ember":
                parts.append(f"{name} {values[s - 1]:.7g} ({abs(values[s - 1] - ref) / max(abs(ref), 1e-30):.2g})")
        lines.append(", ".join(parts))
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("steps", type=int, nargs="?", default=35)
    p.add_argument("--no-torch", action="store_true", help="ember only")
    args = p.parse_args(argv)
    torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    runs = drift(args.workload, args.steps, torch)
    checkpoints = sorted({1, *range(10, args.steps + 1, 10), args.steps})
    print("\n".join(report(runs, checkpoints)))


if __name__ == "__main__":
    main()
