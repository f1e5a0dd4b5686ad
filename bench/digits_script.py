"""The issue's Digits CNN script, run on ember and (when installed) on PyTorch, in fresh processes, alternately.

    python -m bench.digits_script            # both frameworks, 3 runs each, prints times and accuracies
    python -m bench.digits_script ember 1    # one framework, one run (what the comparison runs per process)

The training code is written once against the PyTorch API; only the import differs.
"""
import json
import subprocess
import sys
import time


def load_framework(name):
    if name == "torch":
        import torch
        import torch.nn.functional as F
        from torch import nn
        from torch.utils.data import DataLoader, TensorDataset
        torch.set_num_threads(2)
    else:
        import ember as torch
        import ember.nn.functional as F
        from ember import nn
        from ember.data import DataLoader, TensorDataset
    return torch, nn, F, DataLoader, TensorDataset


def train(name, epochs=15, seed=0):
    """Train the CNN on Digits (1,500 train / 297 test); returns (test accuracy, seconds)."""
    from ember.data.datasets import Digits

    torch, nn, F, DataLoader, TensorDataset = load_framework(name)
    torch.manual_seed(seed)
    train_set, test_set = Digits(train=True), Digits(train=False)
    x_train, y_train = torch.tensor(train_set.data), torch.tensor(train_set.targets)
    x_test, y_test = torch.tensor(test_set.data), torch.tensor(test_set.targets)
    start = time.perf_counter()
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True)
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    return accuracy, time.perf_counter() - start


def compare(runs=3):
    """Alternate fresh processes of each framework; report the median time of each and the ratio."""
    frameworks = ["ember"]
    try:
        import torch  # noqa: F401
        frameworks.append("torch")
    except ImportError:
        pass
    results = {f: [] for f in frameworks}
    for _ in range(runs):
        for f in frameworks:
            out = subprocess.run([sys.executable, "-m", "bench.digits_script", f, "1"], capture_output=True,
                                 text=True, check=True)
            results[f].append(json.loads(out.stdout.strip().splitlines()[-1]))
    for f, rs in results.items():
        times = sorted(r["seconds"] for r in rs)
        print(f"{f:6s} accuracy {[round(r['accuracy'], 4) for r in rs]}  median time {times[len(times) // 2]:.2f} s")
    if "torch" in results:
        med = {f: sorted(r["seconds"] for r in rs)[len(rs) // 2] for f, rs in results.items()}
        print(f"ratio ember/torch: {med['ember'] / med['torch']:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        acc, secs = train(sys.argv[1])
        print(json.dumps({"accuracy": acc, "seconds": secs}))
    else:
        compare()
