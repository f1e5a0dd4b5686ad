"""The `ember` command line against bad input and its conventions: every failure is one `ember X: error:` line
(never a traceback), nonsense values are refused, a config never imports code, and the conventions of a Unix tool
(--version, python -m ember, --print-config, diagnostics on stderr through logging, a closed pipe, threads)."""
import contextlib
import csv
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ember
from ember import cli, config, profile, zoo

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--set", "epochs=1", "--set", "data.limit=64", "--quiet", "--no-plot"]


def run(*argv):
    """(exit status, stdout, stderr) of `ember argv...` run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main([str(a) for a in argv])
        except SystemExit as e:  # argparse: usage errors, --help, --version
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def error_line(result, command, status):
    """The run (as run() returns it) failed with `status` and one `ember COMMAND: error: ...` line on stderr,
    no traceback; returns that line."""
    rc, _, err = result
    assert rc == status, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith(f"ember {command}: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def subprocess_env():
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


# --- one error line instead of a traceback ----------------------------------------------------------------------
def test_a_binary_or_endless_config_file_is_a_config_error(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_bytes(b"\x00\x01\xff\xfe binary")
    line = error_line(run("train", path), "train", 2)
    assert f"{path}: not a text config file (byte 0xff at offset 2 is not UTF-8)" in line
    path.write_bytes(b" " * (config.files.MAX_CONFIG_BYTES + 1))  # as /dev/zero would be: not read to the end
    assert "too large for a config file" in error_line(run("train", path), "train", 2)


@pytest.mark.parametrize("value", ["-1", str(2 ** 64), "1.5"])
def test_a_seed_torch_would_refuse_is_a_config_error(value):
    line = error_line(run("train", "--set", f"seed={value}"), "train", 2)
    assert "seed: expected an integer in [0, 18446744073709551615] or null" in line


def test_out_that_is_a_file_or_under_a_file_is_an_error_line(tmp_path):
    existing = tmp_path / "notes.txt"
    existing.write_text("mine")
    for out in (existing, existing / "run"):
        line = error_line(run("train", "--out", out, *QUICK), "train", 1)
        assert str(out) in line
    assert existing.read_text() == "mine"


def test_a_model_that_does_not_fit_the_data_fails_with_one_line(tmp_path):
    """The default CNN's first Linear takes 128 features; 100 fails on the first batch, inside fit."""
    line = error_line(run("train", "--set", "model.7.Linear=[100,64]", "--out", tmp_path / "run", *QUICK),
                      "train", 1)
    assert "training failed" in line and "(128 != 100)" in line and "Digits" in line


@pytest.mark.parametrize("option,value", [("--batch", "-1"), ("--batch", "0"), ("--iterations", "0"),
                                          ("--warmup", "-1"), ("--threads", "0"), ("--batch", "x")])
def test_time_refuses_counts_below_their_minimum(option, value):
    """`--batch 0` used to time batch 1, `--batch -1` to raise NumPy's error."""
    line = error_line(run("time", "mlp", option, value), "time", 2)
    assert f"argument {option}: expected" in line and repr(value) in line


def test_summary_refuses_a_batch_of_zero():
    assert "argument --batch" in error_line(run("summary", "mlp", "--batch", "0"), "summary", 2)


def test_out_of_memory_is_an_error_line():
    line = error_line(run("time", "mlp", "--batch", 10 ** 12, "--iterations", 1), "time", 1)
    assert "out of memory" in line and "(1000000000000, 1, 28, 28)" in line


def test_a_zoo_argument_the_builder_cannot_use_is_an_error_line():
    line = error_line(run("summary", "mlp", "--arg", "num_classes=-3"), "summary", 1)
    assert line.startswith("ember summary: error: zoo model mlp: ") and "negative dimension -3" in line


def test_a_closed_pipe_ends_quietly_with_the_sigpipe_status():
    """`ember summary resnet50 | head -1`: the reader went away; no traceback, status 128 + SIGPIPE."""
    proc = subprocess.Popen([sys.executable, "-m", "ember", "summary", "lenet5"], cwd=ROOT, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before ember writes anything: its first write fails
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == ""


# --- nonsense values refused ------------------------------------------------------------------------------------
@pytest.mark.parametrize("assignment,key", [("optimizer.lr=.nan", "optimizer.lr"),
                                            ("optimizer.lr=.inf", "optimizer.lr"),
                                            ("optimizer.betas=[0.9,.nan]", "optimizer.betas[1]")])
def test_nan_and_infinite_hyperparameters_are_config_errors(assignment, key):
    line = error_line(run("train", "--set", assignment), "train", 2)
    assert f"{key}: expected a" in line and ("nan" in line or "inf" in line)


def test_nan_learning_rate_through_the_sgd_config_is_refused():
    line = error_line(run("train", "--set", "optimizer.name=SGD", "--set", "optimizer.lr=.nan"), "train", 2)
    assert "optimizer.lr: expected a finite number" in line


# --- a config names files and registered names, never code ------------------------------------------------------
def test_module_paths_read_the_source_without_importing_anything(tmp_path, monkeypatch):
    pkg = tmp_path / "sidefx"
    pkg.mkdir()
    marker = tmp_path / "imported"
    (pkg / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (pkg / "words.py").write_text("# some text to train on\n" * 20)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert config.text_path("module:sidefx.words") == str(pkg / "words.py")
    assert config.text_path("module:sidefx") == str(pkg / "__init__.py")
    assert not marker.exists() and "sidefx" not in sys.modules
    # the example: `this` prints the Zen of Python when imported
    assert "this" not in sys.modules
    with pytest.raises(config.DataError, match="no Python source file found for module 'this.x'"):
        config.text_path("module:this.x")
    assert config.text_path("module:this").endswith("this.py") and "this" not in sys.modules
    for bad in ("module:../etc/passwd", "module:", "module:os.path", "module:sys"):  # not a .py file on sys.path
        with pytest.raises(config.DataError):
            config.text_path(bad)


def test_a_text_config_trains_on_a_module_source_without_importing_it(tmp_path, monkeypatch):
    pkg = tmp_path / "sidefx2"
    pkg.mkdir()
    marker = tmp_path / "imported"
    (pkg / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (pkg / "corpus.py").write_text("".join(f"line {i}: the quick brown fox\n" for i in range(60)))
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = tmp_path / "text.yaml"
    cfg.write_text("model: {zoo: gpt, n_layer: 1, n_embd: 16, n_head: 2}\n"
                   "data: {dataset: TextFile, path: 'module:sidefx2.corpus', seq_len: 16, batch_size: 8}\n"
                   "epochs: 1\n")
    rc, out, err = run("train", cfg, "--out", tmp_path / "run", "--quiet", "--no-plot")
    assert rc == 0, err
    assert not marker.exists() and "sidefx2" not in sys.modules


# --- conventions ------------------------------------------------------------------------------------------------
def test_version_in_process_and_through_python_m_ember():
    rc, out, _ = run("--version")
    assert rc == 0 and out == f"ember {ember.__version__}\n"
    proc = subprocess.run([sys.executable, "-m", "ember", "--version"], cwd=ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout == f"ember {ember.__version__}\n", proc.stderr


def test_python_m_ember_runs_a_command_and_reports_errors_like_ember():
    proc = subprocess.run([sys.executable, "-m", "ember", "time", "mlp", "--batch", "0"], cwd=ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "ember time: error: argument --batch" in proc.stderr


def test_print_config_shows_the_complete_config_and_trains_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run("train", "--print-config", "--set", "epochs=3", "--set", "early_stopping.patience=2",
                       "--threads", "2")
    assert rc == 0, err
    printed = config.parse_yaml(out, "printed")
    assert printed == config.resolve(printed)  # complete: resolving it changes nothing
    assert printed["epochs"] == 3 and printed["early_stopping"] == {"patience": 2} and printed["threads"] == 2
    assert printed["optimizer"] == {"name": "Adam", "lr": 0.002} and printed["tensorboard"] is None
    assert list(tmp_path.iterdir()) == []  # no runs/ directory, nothing trained


def test_bench_help_names_ember_bench(capfd, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.main(["bench", "--help"]) == 0
    assert capfd.readouterr().out.startswith("usage: ember bench ")


def test_diagnostics_go_to_stderr_through_logging(tmp_path):
    """A warning raised during a run (EarlyStopping watching a value that is never logged) is one line on
    stderr naming the command, not Python's warning with a file and line number; stdout has the output only."""
    rc, out, err = run("train", "--out", tmp_path / "run", "--set", "early_stopping.monitor=val_nothing", *QUICK)
    assert rc == 0, err
    assert "ember train: warning: EarlyStopping: 'val_nothing' is not among the logged values" in err
    assert "RuntimeWarning" not in err and "callbacks.py" not in err and "val_nothing" not in out
    seen = []

    class Recorder(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())
    handler, logger = Recorder(), logging.getLogger("ember")
    logger.addHandler(handler)  # a program that runs the command line in-process sees the records too
    try:
        run("train", "--out", tmp_path / "run2", "--set", "early_stopping.monitor=val_nothing", *QUICK)
    finally:
        logger.removeHandler(handler)
    assert any("val_nothing" in m for m in seen)


def test_progress_of_a_long_time_run(monkeypatch):
    """After `after` seconds, a line rewritten in place on a terminal; in a log, a line every `every` seconds."""
    monkeypatch.setattr(cli._TimeProgress.__init__, "__defaults__", (0.0, 0.0))
    rc, out, err = run("time", "mlp", "--iterations", 3, "--warmup", 1)
    assert rc == 0, err
    assert [ln.split(",")[0] for ln in err.splitlines()] == [
        f"ember time: timing: {i} of 4 iterations done (warm-up included)" for i in (1, 2, 3)]
    assert "Forward-backward" in out and "timing:" not in out

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    progress = cli._TimeProgress()
    progress(1, 4)
    progress(2, 4)
    progress.close()
    text = term.getvalue()
    assert text.startswith("\rtiming: 1 of 4") and "\rtiming: 2 of 4" in text and text.endswith("\r")


# --- threads ----------------------------------------------------------------------------------------------------
@pytest.fixture
def thread_calls(monkeypatch):
    """The counts the command line passes to ember.set_num_threads."""
    calls = []
    real = ember.set_num_threads
    monkeypatch.setattr(ember, "set_num_threads", lambda n: (calls.append(n), real(n))[1])
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    return calls


def test_threads_default_to_one_and_follow_the_option_and_the_config(thread_calls, tmp_path):
    before = ember.get_num_threads()
    assert run("time", "mlp", "--iterations", 1)[0] == 0
    assert thread_calls[0] == 1  # the default, which does not collapse when the cores are busy
    del thread_calls[:]
    assert run("time", "mlp", "--iterations", 1, "--threads", 2)[0] == 0
    assert thread_calls[0] == 2
    del thread_calls[:]
    rc, _, err = run("train", "--out", tmp_path / "a", "--set", "threads=2", *QUICK)
    assert rc == 0, err
    assert thread_calls[0] == 2
    assert config.load_config(tmp_path / "a")["threads"] == 2  # the run records what it used
    del thread_calls[:]
    rc, _, err = run("train", "--out", tmp_path / "b", "--set", "threads=2", "--threads", "3", *QUICK)
    assert rc == 0 and thread_calls[0] == 3  # the option wins over the config
    assert ember.get_num_threads() == before  # in-process callers get their count back


def test_threads_from_the_environment_are_the_users_choice(thread_calls, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert run("time", "mlp", "--iterations", 1)[0] == 0
    assert thread_calls[0] == ember.get_num_threads()
    assert error_line(run("train", "--set", "threads=0"), "train", 2).endswith(
        "threads: expected an integer >= 1 or null, got an integer (0)")


def test_info_shows_the_thread_counts(thread_calls):
    rc, out, _ = run("info")
    assert rc == 0 and f"threads: {ember.get_num_threads()} (ember.set_num_threads)\n" in out
    assert "threads of the ember commands: 1 (--threads N, or threads: N in a config)" in out


# --- callbacks from the config ----------------------------------------------------------------------------------
def test_early_stopping_from_the_config_stops_the_run(tmp_path):
    """min_delta 100: no epoch after the first improves, so patience 1 stops after the second of 6 epochs, and
    the run is finished (no resume hint, status 0)."""
    out = tmp_path / "run"
    rc, text, err = run("train", "--out", out, "--set", "epochs=6", "--set", "data.limit=64",
                        "--set", "early_stopping={patience: 1, min_delta: 100}", "--no-plot")
    assert rc == 0, err
    assert [r["epoch"] for r in csv.DictReader(open(out / "metrics.csv"))] == ["0", "1"]
    assert "ember resume" not in text + err


def test_tensorboard_from_the_config_writes_every_epoch(tmp_path):
    out = tmp_path / "run"
    rc, _, err = run("train", "--out", out, "--set", "epochs=2", "--set", "tensorboard=true", *QUICK[2:])
    assert rc == 0, err
    (events,) = (out / "tensorboard").glob("events.out.tfevents.*")
    scalars = ember.train.read_scalars(events)
    assert [step for step, _ in scalars["loss"]] == [0, 1] and "val_accuracy" in scalars
    log_dir = tmp_path / "tb"
    rc, _, err = run("train", "--out", tmp_path / "run2", "--set", f"tensorboard.log_dir={log_dir}",
                     "--set", "tensorboard.update_freq=2", *QUICK)
    assert rc == 0, err
    assert "batch/loss" in ember.train.read_scalars(next(log_dir.glob("events.out.tfevents.*")))


@pytest.mark.parametrize("assignment,message", [
    ("early_stopping.patince=2", "unknown key 'patince' in early_stopping"),
    ("early_stopping.patience=-1", "early_stopping.patience: expected an integer >= 0"),
    ("early_stopping.mode=up", "early_stopping.mode: expected one of: auto, min, max"),
    ("early_stopping=3", "early_stopping: expected true, false, null or a mapping"),
    ("tensorboard.update_freq=0", "tensorboard.update_freq: expected 'epoch' or an integer >= 1"),
    ("tensorboard.logdir=x", "unknown key 'logdir' in tensorboard"),
])
def test_bad_callback_keys_are_config_errors(assignment, message):
    assert message in error_line(run("train", "--set", assignment), "train", 2)


# --- ember time: the layers are timed inside the whole pass -----------------------------------------------------
@pytest.mark.parametrize("name,shape,batch", [("mlp", None, 1), ("resnet8", (3, 16, 16), 2),
                                              ("gpt", (8,), 1)])
def test_time_outside_layers_is_never_negative(name, shape, batch):
    """Timed one by one, the layers' backward passes each paid the engine's start-up, and their sum exceeded the
    whole model's (mlp at batch 1: "Outside layers" -0.16 ms). Timed inside the whole pass, the layers' times
    are disjoint parts of it."""
    kwargs = profile.zoo_kwargs(name, {"vocab_size": 50, "block_size": 8} if name == "gpt" else {})
    model = zoo.get_model(name, **kwargs)
    spec = profile.zoo_input_spec(name, kwargs, shape)
    rows, total = profile.time_layers(model, [profile.make_inputs(spec, batch)], iterations=3, warmup=1)
    for part in ("forward", "backward"):
        assert 0 < sum(r[part] or 0.0 for r in rows) <= total[part]
    table = profile.format_times(rows, total)
    outside = next(ln for ln in table.splitlines() if ln.startswith("Outside layers"))
    assert "-" not in outside.split(")", 1)[1], outside
    assert all(p.grad is None for p in model.parameters())


def test_build_layer_builds_classes_only():
    """A layer name reaches only the public classes of ember.nn: not a module, a function or a private name."""
    assert type(config.build_layer({"Linear": [2, 3]})).__name__ == "Linear"
    for name in ("functional", "init", "_reduction", "Module.__subclasses__"):
        with pytest.raises(config.ConfigError, match="unknown name"):
            config.build_layer(name)
