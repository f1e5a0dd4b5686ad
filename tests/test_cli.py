"""The `ember` command line: train (default and every example config), eval, predict, resume, time, summary, info,
and the errors bad configs get. Commands run in-process through ember.cli.main (so datasets can be faked with
monkeypatch), plus one real subprocess. MNIST and CIFAR-10 configs run on small fake files in the real formats."""
import contextlib
import csv
import gzip
import hashlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

import ember
from ember import cli, config, profile, zoo
from ember.data import datasets

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "examples" / "configs"
# `test (last weights, epoch 2): loss 0.1234 accuracy 0.9700`; eval: `test (PATH: best weights, epoch 1, ...): ...`
TEST_LINE = re.compile(r"^test \(([^)]*)\): (loss \d+\.\d{4}(?: \w+ \d+\.\d{4})+)$", re.M)


def run(*argv):
    """(exit status, stdout, stderr) of `ember argv...` run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main([str(a) for a in argv])
        except SystemExit as e:  # argparse usage errors
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def ok(*argv):
    rc, out, err = run(*argv)
    assert rc == 0, f"ember {' '.join(map(str, argv))} failed ({rc}):\n{out}\n{err}"
    return out


def parse_test_line(out, weights=""):
    """{name: value} of the first `test (...): loss ... accuracy ...` line whose weights (in the brackets) name
    `weights` (the last weights, in what `ember train` prints)."""
    match = next((m for m in TEST_LINE.finditer(out) if weights in m.group(1)), None)
    assert match, out
    words = match.group(2).split()
    return {k: float(v) for k, v in zip(words[::2], words[1::2])}


# --- fake datasets in the real file formats ---------------------------------------------------------------------
def _idx(array):
    return bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape) + \
        array.astype(np.uint8).tobytes()


def write_fake_mnist(root, folder="MNIST", n=64, seed=0):
    """IDX files (gzip) like MNIST's, with learnable labels (the class sets a bright row); returns their SHA-256s."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, folder), exist_ok=True)
    digests = {}
    for prefix in ("train", "t10k"):
        labels = rng.integers(0, 10, size=n)
        images = rng.integers(0, 60, size=(n, 28, 28))
        images[np.arange(n), 2 + 2 * labels, :] = 255
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte.gz"
            raw = gzip.compress(_idx(arr))
            with open(os.path.join(root, folder, name), "wb") as f:
                f.write(raw)
            digests[name] = hashlib.sha256(raw).hexdigest()
    return digests


def write_fake_cifar(root, n=16, seed=0):
    """cifar-10-binary.tar.gz with n records per batch file; returns its SHA-256."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            labels = rng.integers(0, 10, size=n)
            pixels = rng.integers(0, 256, size=(n, 3072))
            raw = np.concatenate([labels[:, None], pixels], axis=1).astype(np.uint8).tobytes()
            info = tarfile.TarInfo("cifar-10-batches-bin/" + name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    os.makedirs(os.path.join(root, "CIFAR10"), exist_ok=True)
    with open(os.path.join(root, "CIFAR10", "cifar-10-binary.tar.gz"), "wb") as f:
        f.write(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def _no_network(*args, **kwargs):
    raise OSError("network disabled in tests")


@pytest.fixture
def fake_data(tmp_path, monkeypatch):
    """EMBER_DATA with fake MNIST, FashionMNIST and CIFAR-10 files whose checksums the datasets accept."""
    root = tmp_path / "data"
    monkeypatch.setattr(datasets.MNIST, "files", write_fake_mnist(root, "MNIST"))
    monkeypatch.setattr(datasets.FashionMNIST, "files", write_fake_mnist(root, "FashionMNIST", seed=1))
    monkeypatch.setattr(datasets.CIFAR10, "sha256", write_fake_cifar(root))
    monkeypatch.setenv("EMBER_DATA", str(root))
    monkeypatch.setattr("urllib.request.urlopen", _no_network)
    return root


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One epoch of the default `ember train`, shared by the eval / predict / resume tests."""
    out_dir = tmp_path_factory.mktemp("cli") / "run"
    ember.manual_seed(0)
    out = ok("train", "--set", "epochs=1", "--out", out_dir, "--quiet")
    return out_dir, out


# --- info ---------------------------------------------------------------------------------------------------------
def test_info_in_process():
    out = ok("info")
    assert out.startswith(f"ember {ember.__version__}\n")
    assert "numpy " in out and "devices: cpu" in out and "optional packages found:" in out


def test_info_in_a_real_subprocess():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "ember.cli", "info"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ember ") and "devices: cpu" in proc.stdout


def test_no_command_is_a_usage_error():
    rc, _, err = run()
    assert rc == 2 and "usage: ember" in err


# --- train ----------------------------------------------------------------------------------------------------------
def test_train_default_writes_the_run_directory(digits_run):
    out_dir, out = digits_run
    import importlib.util
    for name in ("config.yaml", "best.safetensors", "last.safetensors", "metrics.csv", "results.json"):
        assert (out_dir / name).is_file(), name
    has_plot = importlib.util.find_spec("matplotlib") is not None  # curves.png needs the optional matplotlib
    assert (out_dir / "curves.png").is_file() == has_plot
    assert "Sequential of 11 layers (13,706 parameters)" in out
    assert "1350 train, 150 val, 297 test" in out
    metrics = parse_test_line(out)
    results = json.loads((out_dir / "results.json").read_text())
    assert results["epochs"] == 1
    assert metrics["accuracy"] == pytest.approx(results["last"]["test"]["accuracy"], abs=5e-5)
    assert metrics["loss"] == pytest.approx(results["last"]["test"]["loss"], abs=5e-5)
    rows = list(csv.DictReader(open(out_dir / "metrics.csv")))
    assert len(rows) == 1 and {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(rows[0])
    saved = config.load_config(out_dir / "config.yaml")
    assert saved["epochs"] == 1 and saved["out"] == str(out_dir)
    assert saved["model"] == config.DEFAULT_CONFIG["model"] and saved["optimizer"] == {"name": "Adam", "lr": 0.002}
    assert config.resolve(saved, "saved") == saved  # the saved config is complete and valid


def test_default_training_reaches_97_percent(tmp_path):
    out = ok("train", "--out", tmp_path / "run", "--quiet", "--no-plot")
    assert parse_test_line(out)["accuracy"] >= 0.97


def test_train_without_matplotlib_skips_the_plot_with_a_note(tmp_path, monkeypatch):
    from ember.train import plots

    def missing(what="plotting"):
        raise ImportError("no matplotlib")
    monkeypatch.setattr(plots, "require_matplotlib", missing)
    rc, out, err = run("train", "--set", "epochs=1", "--set", "data.limit=64", "--out", tmp_path / "run", "--quiet")
    assert rc == 0
    # a diagnostic: on stderr through logging, not mixed into the command's output
    assert "ember train: warning: matplotlib is not installed" in err and "not installed" not in out
    assert not (tmp_path / "run" / "curves.png").exists() and (tmp_path / "run" / "metrics.csv").exists()


def test_set_overrides_are_yaml_scalars_and_reach_the_run(tmp_path):
    out = ok("train", "--set", "epochs=2", "--set", "optimizer.lr=1e-2", "--set", "data.limit=100",
             "--set", "name=quick", "--set", "data.val_split=0", "--out", tmp_path / "run", "--quiet", "--no-plot")
    saved = config.load_config(tmp_path / "run" / "config.yaml")
    assert saved["epochs"] == 2 and saved["optimizer"]["lr"] == 0.01 and saved["name"] == "quick"
    assert "100 train, 100 test" in out
    assert len(list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))) == 2


def test_default_out_dir_is_runs_name_timestamp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok("train", "--set", "epochs=0", "--set", "data.limit=32", "--quiet", "--no-plot")
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert re.fullmatch(r"digits_cnn-\d{8}-\d{6}", run_dir.name)
    assert (run_dir / "config.yaml").exists() and (run_dir / "results.json").exists()
    assert not (run_dir / "curves.png").exists()  # --no-plot


# Each example config, shortened: one epoch on a few samples (and a tiny GPT).
SHORT = {
    "digits_cnn.yaml": ["data.limit=200"],
    "digits_mlp.yaml": ["data.limit=200"],
    "mnist_lenet.yaml": ["data.limit=48"],
    "cifar10_resnet20.yaml": ["data.num_workers=0", "data.batch_size=8", "model.zoo=resnet8", "data.limit=32"],
    "char_gpt.yaml": ["data.limit=8", "data.seq_len=16", "model.n_embd=32", "model.n_layer=1", "data.batch_size=8"],
}


def test_every_example_config_is_covered():
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(SHORT)


@pytest.mark.parametrize("name", sorted(SHORT))
def test_every_example_config_trains(name, fake_data, tmp_path):
    sets = [a for s in ["epochs=1"] + SHORT[name] for a in ("--set", s)]
    run_dir = tmp_path / "run"
    out = ok("train", CONFIGS / name, *sets, "--out", run_dir, "--quiet", "--no-plot")
    metrics = parse_test_line(out)
    assert np.isfinite(metrics["loss"])
    assert (run_dir / "last.safetensors").exists()
    saved = config.load_config(run_dir / "config.yaml")
    assert saved["epochs"] == 1 and config.resolve(saved, "saved") == saved
    # evaluating the last checkpoint on the same test data gives the same numbers
    eval_out = ok("eval", run_dir / "config.yaml", "--checkpoint", run_dir / "last.safetensors")
    for k, v in parse_test_line(eval_out).items():
        assert v == pytest.approx(metrics[k], abs=2e-4)


def test_char_gpt_config_fills_vocab_and_block_size_from_the_text(tmp_path):
    ok("train", CONFIGS / "char_gpt.yaml", "--set", "epochs=0", "--set", "data.seq_len=16", "--set",
       "model.n_embd=32", "--set", "data.limit=4", "--out", tmp_path / "run", "--quiet", "--no-plot")
    saved = config.load_config(tmp_path / "run" / "config.yaml")
    import argparse
    text = open(argparse.__file__, encoding="utf-8").read()
    assert saved["model"]["vocab_size"] == len(set(text)) and saved["model"]["block_size"] == 16


# --- eval, predict, resume --------------------------------------------------------------------------------------------
def test_eval_a_checkpoint_and_a_run_directory(digits_run):
    out_dir, out = digits_run
    expected = parse_test_line(out)
    got = parse_test_line(ok("eval", out_dir / "config.yaml", "--checkpoint", out_dir / "last.safetensors"))
    assert got == pytest.approx(expected, abs=1e-4)
    assert parse_test_line(ok("eval", out_dir)) == pytest.approx(expected, abs=1e-4)  # best == last after 1 epoch


def test_predict_test_split_and_npy_input(digits_run, tmp_path):
    out_dir, out = digits_run
    preds = tmp_path / "preds.npy"
    ok("predict", out_dir, "--output", preds)
    logits = np.load(preds)
    test = datasets.Digits(train=False)
    assert logits.shape == (len(test), 10)
    assert (logits.argmax(1) == test.targets).mean() == pytest.approx(parse_test_line(out)["accuracy"], abs=1e-4)
    x = tmp_path / "x.npy"
    np.save(x, test.data[:5])
    classes = tmp_path / "classes.npy"
    text = ok("predict", out_dir / "config.yaml", "--checkpoint", out_dir / "best.safetensors", "--input", x,
              "--output", classes, "--argmax")
    np.testing.assert_array_equal(np.load(classes), logits[:5].argmax(1))
    assert "predicted classes (first 20): " + " ".join(map(str, logits[:5].argmax(1))) in text
    np.save(x, test.data[0])  # a single sample gets a batch dimension
    ok("predict", out_dir, "--input", x)
    np.save(x, np.zeros((2, 3, 8, 8), np.float32))
    rc, _, err = run("predict", out_dir, "--input", x)
    assert rc == 1 and "expected an array of shape (N, 1, 8, 8)" in err


def test_resume_continues_exactly_as_an_uninterrupted_run(tmp_path):
    short = ["--set", "data.limit=200", "--quiet", "--no-plot"]
    ok("train", "--set", "epochs=1", "--out", tmp_path / "resumed", *short)
    text = ok("resume", tmp_path / "resumed", "--set", "epochs=2", "--quiet", "--no-plot")
    assert "(epoch 1) to epoch 2" in text
    rows = list(csv.DictReader(open(tmp_path / "resumed" / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert config.load_config(tmp_path / "resumed" / "config.yaml")["epochs"] == 2
    straight = ok("train", "--set", "epochs=2", "--out", tmp_path / "straight", *short)
    rows2 = list(csv.DictReader(open(tmp_path / "straight" / "metrics.csv")))
    assert float(rows[1]["loss"]) == pytest.approx(float(rows2[1]["loss"]), rel=1e-6)
    assert parse_test_line(text) == pytest.approx(parse_test_line(straight), abs=1e-4)
    # a finished run has nothing left to do, and says so
    rc, _, err = run("resume", tmp_path / "resumed", "--quiet", "--no-plot")
    assert rc == 0 and "ember resume: warning: already trained for 2 epochs" in err


def test_resume_needs_a_run_directory(tmp_path):
    rc, _, err = run("resume", tmp_path)
    assert rc == 1 and "not a run directory" in err
    (tmp_path / "config.yaml").write_text(config.dump_yaml(config.DEFAULT_CONFIG))
    rc, _, err = run("resume", tmp_path)
    assert rc == 1 and "no checkpoint to resume from" in err


def test_eval_with_a_missing_checkpoint_fails_cleanly(digits_run):
    out_dir, _ = digits_run
    rc, out, err = run("eval", out_dir / "config.yaml", "--checkpoint", out_dir / "nope.safetensors")
    assert rc == 1 and "nope.safetensors: no such checkpoint file" in err and "Traceback" not in err
    rc, _, err = run("eval", out_dir / "config.yaml")
    assert rc == 1 and "--checkpoint PATH is needed" in err


def test_checkpoint_of_another_model_is_a_clear_error(digits_run, tmp_path):
    out_dir, _ = digits_run
    rc, _, err = run("eval", CONFIGS / "digits_mlp.yaml", "--checkpoint", out_dir / "last.safetensors")
    assert rc == 1 and "does not fit the config's model" in err


# --- time and summary -------------------------------------------------------------------------------------------------
# (zoo model, --input-shape, --batch, expected output shape): small inputs keep it fast; batch 2 where BatchNorm
# would otherwise see a single value per channel in training mode.
def _case(name, shape, batch, final, *marks):
    return pytest.param(name, shape, batch, final, marks=marks, id=name)


ZOO_CASES = [
    ("mlp", None, 1, "(1, 10)"),
    ("lenet5", None, 1, "(1, 10)"),
    ("resnet18", "3,16,16", 2, "(2, 1000)"),
    ("resnet34", "3,16,16", 2, "(2, 1000)"),
    ("resnet50", "3,16,16", 2, "(2, 1000)"),
    ("resnet20", None, 1, "(1, 10)"),
    ("vgg11_bn", "3,32,32", 1, "(1, 1000)", pytest.mark.slow),  # 133M weights: seconds to build
    ("mobilenet_v2", "3,32,32", 2, "(2, 1000)"),
    ("lstm_classifier", "12", 1, "(1, 2)"),
    ("gpt", "12", 1, "(1, 12, 256)"),
    ("vit", None, 1, "(1, 10)"),
]
ZOO_CASES = [_case(*c) for c in ZOO_CASES]


def _table_rows(text):
    """The layer rows of a summary or time table."""
    return [line for line in text.splitlines()
            if re.match(r"^\S.* \(\w+\)( x\d+)?\s", line) and not line.startswith("Layer (type)")]


@pytest.mark.parametrize("name,shape,batch,final", ZOO_CASES)
def test_summary_and_time_of_zoo_models(name, shape, batch, final):
    extra = (["--input-shape", shape] if shape else []) + ["--batch", batch]
    text = ok("summary", name, *extra)
    rows = _table_rows(text)
    assert rows, text
    called = [r for r in rows if "(not called)" not in r]
    assert final in called[-1], called[-1]
    counts = [int(re.search(r"\s([\d,]+)(?: \(shares [^)]*\))?$", r).group(1).replace(",", "")) for r in rows]
    total = int(re.search(r"Total params: ([\d,]+)", text).group(1).replace(",", ""))
    assert sum(counts) == total  # every parameter counted once, tied ones included
    trainable = int(re.search(r"Trainable params: ([\d,]+)", text).group(1).replace(",", ""))
    assert trainable == total and "Non-trainable params: 0" in text

    text = ok("time", name, *extra, "--iterations", 1, "--warmup", 0)
    rows = _table_rows(text)
    assert len(rows) >= 3
    for r in rows:
        fwd, bwd = r.split()[-2:]
        assert float(fwd) >= 0 and (bwd == "-" or float(bwd) >= 0)
    whole = re.search(r"Whole model\s+([\d.]+)\s+([\d.]+)", text)
    assert whole and float(whole.group(1)) > 0 and float(whole.group(2)) > 0


def test_every_zoo_model_has_an_example_input():
    for name in zoo.list_models():
        spec = profile.zoo_input_spec(name, profile.zoo_kwargs(name))
        assert spec.shape and spec.dtype in ("float32", "int64")
    assert profile.zoo_input_spec("resnet18", {}).shape == (3, 224, 224)
    assert profile.zoo_input_spec("resnet20", {}).shape == (3, 32, 32)
    assert profile.zoo_input_spec("gpt", {"vocab_size": 50, "block_size": 32}).shape == (32,)


def test_summary_counts_match_the_model():
    model = zoo.gpt(vocab_size=40, block_size=8, n_layer=1, n_embd=16, n_head=2)
    rows, totals = profile.summarize(model, [ember.randint(0, 40, (2, 8))])
    assert totals["total"] == sum(p.numel() for p in model.parameters())  # the tied lm_head counted once
    (head,) = [r for r in rows if r["name"] == "lm_head"]
    assert head["params"] == 0 and head["shared"] == ["transformer.wte"]
    bn = zoo.resnet8()
    rows, totals = profile.summarize(bn, [ember.randn(1, 3, 32, 32)])
    assert totals["buffers"] == sum(b.numel() for b in bn.buffers()) > 0
    assert [r["name"] for r in rows][:3] == ["conv1", "bn1", "relu"]


def test_time_reports_every_called_leaf_and_handles_inplace_layers():
    from ember import nn
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True), nn.Linear(8, 2))
    rows, total = profile.time_layers(model, [ember.randn(3, 4)], iterations=2, warmup=1)
    assert [r["type"] for r in rows] == ["Linear", "ReLU", "Linear"]
    assert all(r["forward"] > 0 and r["backward"] > 0 for r in rows)
    assert total["forward"] > 0 and total["backward"] > 0
    assert all(p.grad is None for p in model.parameters())  # timing leaves no gradients behind


def test_summary_and_time_of_a_config():
    text = ok("summary", CONFIGS / "digits_cnn.yaml")
    assert "Total params: 13,706" in text and "(1, 1, 8, 8)" in text and "10 (Linear)" in text
    text = ok("time", CONFIGS / "digits_cnn.yaml", "--iterations", 2)
    assert "(32, 1, 8, 8)" in text  # the config's batch size
    assert len(_table_rows(text)) == 11
    text = ok("summary")  # no argument: the built-in default model
    assert "Total params: 13,706" in text


def test_time_and_summary_errors():
    rc, _, err = run("summary", "resnet9000")
    assert rc == 1 and "neither a config file nor a zoo model" in err
    rc, _, err = run("summary", "lenet5", "--input-shape", "3,x")
    assert rc != 0
    rc, _, err = run("summary", "lenet5", "--input-shape", "1,5,5")
    assert rc == 1 and "does not run on an input of shape (1, 1, 5, 5)" in err and "Traceback" not in err


# --- bad configs ------------------------------------------------------------------------------------------------------
def _bad(tmp_path, text, *extra):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    rc, out, err = run("train", path, "--out", tmp_path / "run", "--quiet", *extra)
    assert rc == 2, (out, err)
    assert "Traceback" not in err and err.startswith("ember train: error: ")
    assert str(path) in err
    return err


def test_unknown_top_level_key(tmp_path):
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digits}\noptimiser: {name: Adam}\n")
    assert f"{tmp_path / 'config.yaml'}: unknown key 'optimiser' at top level (expected one of: name, model, " \
           "data, optimizer" in err
    assert "did you mean 'optimizer'?" in err


def test_unknown_nested_keys(tmp_path):
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digits, batchsize: 8}\n")
    assert "unknown key 'batchsize' in data" in err and "did you mean 'batch_size'?" in err
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digits, path: x.txt}\n")
    assert "unknown key 'path' in data (for dataset Digits)" in err
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digits}\noptimizer: {name: Adam, momentum: 0.9}\n")
    assert "optimizer: Adam: got an unexpected keyword argument 'momentum'" in err
    err = _bad(tmp_path, "model: [{Conv2d: [1, 16, 3, {pading: 1}]}]\ndata: {dataset: Digits}\n")
    assert "model[0]: Conv2d: got an unexpected keyword argument 'pading'" in err


def test_wrong_types(tmp_path):
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digits}\nepochs: ten\n")
    assert "epochs: expected an integer >= 0, got a string ('ten')" in err
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digits, batch_size: 0}\n")
    assert "data.batch_size: expected an integer >= 1, got an integer (0)" in err
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digits, val_split: 1.5}\n")
    assert "data.val_split: expected a number in [0, 1)" in err
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digits}\noptimizer: {name: SGD, lr: fast}\n")
    assert "optimizer.lr: expected a number, got a string ('fast')" in err
    err = _bad(tmp_path, "model: 3\ndata: {dataset: Digits}\n")
    assert "model: expected a list of layers or a mapping {zoo: NAME, ...}" in err
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digits, shuffle: maybe}\n")
    assert "data.shuffle: expected true or false" in err


def test_unknown_names(tmp_path):
    err = _bad(tmp_path, "model: [Conv2x]\ndata: {dataset: Digits}\n")
    assert "model[0]: unknown layer 'Conv2x' (not a class of ember.nn); did you mean 'Conv2d'?" in err
    err = _bad(tmp_path, "model: {zoo: resnet21}\ndata: {dataset: Digits}\n")
    assert "model.zoo: unknown zoo model 'resnet21'" in err
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digit}\n")
    assert "data.dataset: expected one of: Digits, MNIST, FashionMNIST, CIFAR10, TextFile" in err
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digits}\nloss: crossentropy\n")
    assert "unknown loss 'crossentropy'" in err
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digits}\nmetrics: [acuracy]\n")
    assert "metrics[0]: unknown metric 'acuracy'" in err
    err = _bad(tmp_path, "model: [ReLU]\ndata: {dataset: Digits}\nscheduler: {name: StepLR}\n")
    assert "scheduler: StepLR: missing a required argument: 'step_size'" in err


def test_missing_required_keys(tmp_path):
    assert "missing required key 'model' at top level" in _bad(tmp_path, "data: {dataset: Digits}\n")
    assert "missing required key 'data' at top level" in _bad(tmp_path, "model: [ReLU]\n")
    assert "data: missing required key 'dataset'" in _bad(tmp_path, "model: [ReLU]\ndata: {batch_size: 3}\n")
    assert "missing required key 'path' for dataset TextFile" in \
        _bad(tmp_path, "model: [ReLU]\ndata: {dataset: TextFile}\n")
    assert "model[0]: Linear: missing a required argument: 'out_features'" in \
        _bad(tmp_path, "model: [{Linear: [64]}]\ndata: {dataset: Digits}\n")


def test_bad_values_found_when_building(tmp_path):
    err = _bad(tmp_path, "model: {zoo: resnet20, depthh: 3}\ndata: {dataset: Digits}\n")
    assert "model: zoo model resnet20:" in err and "depthh" in err


def test_yaml_syntax_error_and_empty_file(tmp_path):
    assert "not valid YAML (line 2" in _bad(tmp_path, "model: [ReLU\ndata: {dataset: Digits}\n")
    assert "the file is empty" in _bad(tmp_path, "")
    assert "expected a mapping" in _bad(tmp_path, "- 1\n- 2\n")


def test_missing_config_file(tmp_path):
    rc, _, err = run("train", tmp_path / "nope.yaml")
    assert rc == 2 and f"{tmp_path / 'nope.yaml'}: no such config file" in err and "Traceback" not in err


def test_bad_set_options():
    rc, _, err = run("train", "--set", "epochs")
    assert rc == 2 and "--set 'epochs': expected key=value" in err
    rc, _, err = run("train", "--set", "optimiser.lr=0.1")
    assert rc == 2 and "default config: unknown key 'optimiser' at top level" in err
    rc, _, err = run("train", "--set", "epochs=-1")
    assert rc == 2 and "epochs: expected an integer >= 0, got an integer (-1)" in err


def test_missing_data_without_network_exits_1(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr("urllib.request.urlopen", _no_network)
    rc, _, err = run("train", CONFIGS / "mnist_lenet.yaml", "--out", tmp_path / "run", "--quiet")
    assert rc == 1 and "could not download" in err and "Traceback" not in err
    rc, _, err = run("train", CONFIGS / "mnist_lenet.yaml", "--set", "data.download=false", "--quiet",
                     "--out", tmp_path / "run")
    assert rc == 1 and "not found; pass download=True" in err


# --- config pieces ---------------------------------------------------------------------------------------------------
def test_overrides_parse_yaml_scalars_and_index_lists():
    cfg = config.apply_overrides(config.DEFAULT_CONFIG, ["epochs=3", "optimizer.lr=1e-2", "name=x",
                                                         "seed=null", "model.9.Dropout=0.3",
                                                         "scheduler.name=StepLR", "data.val_split=.25"])
    assert cfg["epochs"] == 3 and cfg["optimizer"]["lr"] == 0.01 and cfg["name"] == "x" and cfg["seed"] is None
    assert cfg["model"][9] == {"Dropout": 0.3} and cfg["scheduler"] == {"name": "StepLR"}
    assert cfg["data"]["val_split"] == 0.25
    assert config.DEFAULT_CONFIG["epochs"] == 15  # the default is not modified
    with pytest.raises(config.ConfigError, match="not an index"):
        config.apply_overrides(config.DEFAULT_CONFIG, ["model.99.x=1"])


def test_layer_syntaxes_build_the_same_layers():
    a = config.build_layer({"Conv2d": [1, 4, 3, {"padding": 1, "bias": False}]})
    b = config.build_layer({"Conv2d": {"in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": 1,
                                       "bias": False}})
    assert repr(a) == repr(b) and a.padding == (1, 1) and a.bias is None
    assert repr(config.build_layer("ReLU")) == "ReLU()"
    assert config.build_layer({"Dropout": 0.25}).p == 0.25
    assert config.build_layer({"Flatten": None}).start_dim == 1


def test_yaml_reads_exponent_floats_and_round_trips():
    assert config.parse_yaml("a: 1e-3\nb: 2E5\nc: 1.5\nd: 10\ne: '1e-3'", "x") == \
        {"a": 0.001, "b": 2e5, "c": 1.5, "d": 10, "e": "1e-3"}
    cfg = config.resolve(config.DEFAULT_CONFIG, "default")
    text = config.dump_yaml(cfg)
    assert "- Conv2d: [1, 16, 3, {padding: 1}]" in text
    assert config.parse_yaml(text, "x") == cfg


def test_text_data_splits_and_module_paths(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcdefghij" * 50)
    cfg = config.resolve({"model": [{"Embedding": [10, 4]}], "data": {"dataset": "TextFile", "path": str(path),
                          "seq_len": 8, "test_split": 0.2, "val_split": 0.25}}, "t")
    data = config.build_data(cfg)
    assert data.info == {"input_shape": (8,), "dtype": "int64", "num_classes": 10, "vocab_size": 10, "seq_len": 8}
    assert data.sizes() == {"train": 37, "val": 12, "test": 12}  # windows every seq_len tokens of 300/100/100
    x, y = next(iter(data.train))
    assert x.shape == (32, 8) and (y.numpy()[:, :-1] == x.numpy()[:, 1:]).all()
    assert config.text_path("module:argparse").endswith("argparse.py")
    with pytest.raises(config.DataError, match="no Python source file"):
        config.text_path("module:no_such_module_xyz")


def test_unusable_device_is_a_config_error():
    rc, _, err = run("train", "--set", "device=gpu5", "--quiet")
    assert rc == 2 and err.startswith("ember train: error: default config: device: ") and "gpu5" in err


def test_time_and_summary_options_fit_the_target():
    rc, _, err = run("summary", CONFIGS / "digits_cnn.yaml", "--arg", "num_classes=3")
    assert rc == 1 and "for a config use --set" in err
    rc, _, err = run("summary", "lenet5", "--set", "epochs=3")
    assert rc == 1 and "--arg NAME=VALUE" in err
    assert "(1, 3)" in ok("summary", "lenet5", "--arg", "num_classes=3")
    assert "(1, 3)" in ok("summary", CONFIGS / "digits_cnn.yaml", "--set", "model.10.Linear=[64, 3]")


def test_help_lists_every_command():
    rc, out, _ = run("--help")
    assert rc == 0
    for command in ("info", "train", "eval", "predict", "resume", "time", "summary"):
        assert command in out
    assert "ember train examples/configs/mnist_lenet.yaml" in out


def test_layer_with_keywords_outside_its_mapping_is_explained(tmp_path):
    err = _bad(tmp_path, "model: [{Conv2d: [1, 16, 3], padding: 1}]\ndata: {dataset: Digits}\n")
    assert "model[0]: expected a layer" in err and "(keyword arguments go inside)" in err
    assert "got a mapping with keys Conv2d, padding" in err
