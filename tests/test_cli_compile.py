"""`ember train --compile`, the config key `compile: true`, and `ember time --compile` (profile.time_step)."""
import contextlib
import io

import pytest

import ember
from ember import cli, config, nn, profile
from ember.train import trainer as trainer_module


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main([str(a) for a in argv])
        except SystemExit as e:
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def compiled_steps(monkeypatch):
    """The names of the Trainer steps that ember.compile wrapped."""
    names = []

    def spy(fn):
        names.append(fn.__name__)
        return ember.compile(fn)
    monkeypatch.setattr(trainer_module, "_compile", spy)
    return names


QUICK = ("--set", "epochs=1", "--set", "data.limit=96", "--quiet", "--no-plot")


@pytest.mark.parametrize("how", ["flag", "config key"])
def test_train_runs_the_steps_compiled(how, tmp_path, compiled_steps):
    if how == "flag":
        args = ["train", "--compile"]
    else:
        path = tmp_path / "c.yaml"
        path.write_text("model: [Flatten, {Linear: [64, 10]}]\ndata: {dataset: Digits, val_split: 0.1}\n"
                        "compile: true\n")
        args = ["train", path]
    rc, out, err = run(*args, *QUICK, "--out", tmp_path / "run")
    assert rc == 0, out + err
    assert "compiled (ember.compile)" in out
    assert config.load_config(tmp_path / "run" / "config.yaml")["compile"] is True
    assert {"_train_and_update", "eval_step"} <= set(compiled_steps)  # training, validation and test steps


def test_train_without_compile_compiles_nothing(tmp_path, compiled_steps):
    rc, out, err = run("train", *QUICK, "--out", tmp_path / "run")
    assert rc == 0, out + err
    assert compiled_steps == [] and "compiled" not in out
    assert config.load_config(tmp_path / "run" / "config.yaml")["compile"] is False


def test_compile_key_must_be_a_boolean(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: [ReLU]\ndata: {dataset: Digits}\ncompile: maybe\n")
    rc, _, err = run("train", path)
    assert rc == 2 and "compile: expected true or false, got a string ('maybe')" in err
    assert config.resolve({"model": ["ReLU"], "data": {"dataset": "Digits"}})["compile"] is False


def test_time_compile_prints_the_whole_step_and_why_there_are_no_layers():
    rc, out, err = run("time", "lenet5", "--compile", "--iterations", 2, "--batch", 2)
    assert rc == 0, out + err
    assert "Whole step (forward + backward), compiled:" in out and "one graph of" in out
    assert "Whole step (forward + backward), eager:" in out
    assert "No per-layer times" in out and "Conv2d" not in out  # no layer rows


def test_time_step_times_the_compiled_and_the_eager_step():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2)).eval()
    times = profile.time_step(model, [ember.randn(3, 4)], iterations=2, warmup=1)
    assert times["compiled"] > 0 and times["eager"] > 0 and times["first_call"] > 0
    assert times["ops"] > 4  # forward and backward ops in one graph
    assert all(p.grad is None for p in model.parameters()) and not model.training  # left as found
