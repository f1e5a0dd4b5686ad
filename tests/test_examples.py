"""Every script in examples/ runs, shortened by its own flags (--epochs, --steps, --limit). The MNIST and CIFAR-10
examples run on small fake files in the real formats (fixtures shared with test_cli.py), and say clearly what to
do when the data is missing and there is no network."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli import _no_network, fake_data  # noqa: F401  (fake_data is a fixture)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    """The example script as a module (its main(argv) is what `python examples/<name>.py` runs)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_test(out):
    match = re.search(r"^test: loss (\d+\.\d+) accuracy (\d+\.\d+)$", out, re.M)
    assert match, out
    return float(match.group(1)), float(match.group(2))


@pytest.mark.parametrize("name", ["digits_cnn", "digits_fit", "char_gpt", "mnist", "cifar10_resnet"])
def test_each_example_has_a_docstring_and_help(name, capsys):
    module = load(name)
    assert module.__doc__ and f"examples/{name}.py" in module.__doc__
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0 and "usage:" in capsys.readouterr().out


def test_digits_cnn_plain_loop(capsys):
    assert load("digits_cnn").main(["--epochs", "2", "--limit", "600"]) == 0
    out = capsys.readouterr().out
    assert out.count("train loss") == 2
    acc = float(re.search(r"^test accuracy (\d\.\d+) after 2 epochs", out, re.M).group(1))
    assert 0.15 < acc <= 1.0  # better than chance after two short epochs


def test_digits_fit_with_callbacks(capsys, tmp_path):
    assert load("digits_fit").main(["--epochs", "2", "--limit", "300", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    loss, acc = parse_test(out)
    assert loss > 0 and 0 <= acc <= 1
    assert "trained 2 epochs" in out and "first predictions:" in out
    for name in ("best.safetensors", "last.safetensors", "metrics.csv"):
        assert (tmp_path / name).is_file()


def test_char_gpt_trains_and_samples(capsys, tmp_path):
    args = ["--steps", "3", "--eval-every", "3", "--n-layer", "1", "--n-embd", "32", "--batch-size", "4",
            "--seq-len", "16", "--sample-chars", "25"]
    assert load("char_gpt").main(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"text: [\d,]+ characters, \d+ distinct", out)
    assert re.search(r"step 3/3: train loss \d+\.\d+, val loss \d+\.\d+", out)
    sample = out.split("--- sample ---\n", 1)[1]
    assert sample.startswith("def ") and len(sample) == len("def ") + 25 + 1  # the prompt, 25 characters, "\n"

    text = tmp_path / "abc.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 20)
    assert load("char_gpt").main(args + ["--text", str(text)]) == 0
    out = capsys.readouterr().out
    assert "distinct" in out and set(out.split("--- sample ---\n", 1)[1][4:].strip()) <= set(text.read_text())


@pytest.mark.parametrize("dataset", ["MNIST", "FashionMNIST"])
def test_mnist_on_fake_files(dataset, fake_data, capsys):  # noqa: F811
    assert load("mnist").main(["--dataset", dataset, "--epochs", "1", "--limit", "48"]) == 0
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out
    parse_test(out)


def test_cifar10_resnet_on_fake_files(fake_data, capsys):  # noqa: F811
    assert load("cifar10_resnet").main(["--epochs", "1", "--limit", "16", "--depth", "8", "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "resnet8:" in out and "16 training images" in out
    parse_test(out)


@pytest.mark.parametrize("name", ["mnist", "cifar10_resnet"])
def test_missing_data_without_network_is_explained(name, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMBER_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr("urllib.request.urlopen", _no_network)
    assert load(name).main(["--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "is not available here" in err and "EMBER_DATA" in err and "could not download" in err


def test_an_example_runs_as_a_script():
    root = EXAMPLES.parent
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(EXAMPLES / "digits_cnn.py"), "--epochs", "1", "--limit", "64"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout
