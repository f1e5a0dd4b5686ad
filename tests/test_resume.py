"""Stopping and resuming runs: Ctrl-C anywhere in an epoch then resume equals the uninterrupted run (weights, history,
metrics.csv), the best-checkpoint tracker survives a resume, a full disk keeps the last good checkpoint, and the
`ember train` / `ember resume` / `ember eval` behaviour around them (exit 130, --force, --set on resume, which
weights the test line used)."""
import csv
import json
import errno
import shutil
import signal

import numpy as np
import pytest

import ember
from ember import nn
from ember.data import DataLoader, TensorDataset
from ember.data.datasets import Digits
from ember.train import CSVLogger, LambdaCallback, ModelCheckpoint, Trainer, loggers

EPOCHS = 3
# a measurement of the process, not a training result: a resumed run measures the interrupted epoch's peak from
# where it resumed, so its figure may differ from the uninterrupted run's (as a time would)
MEASURED = "peak_memory_mib"


def _results(history):
    return {k: v for k, v in history.history.items() if k != MEASURED}


def _csv_results(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k != MEASURED} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def digits_subset():
    """256 training and 64 validation samples of the bundled digits: 8 batches of 32 per epoch."""
    train = Digits(train=True)
    x, y = ember.tensor(train.data[:320]), ember.tensor(train.targets[:320])
    return TensorDataset(x[:256], y[:256]), TensorDataset(x[256:], y[256:])


def make_trainer(seed, accumulate_steps=1):
    """Dropout (random numbers in every step), Adam (state), a per-step scheduler, two running metrics."""
    ember.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
    opt = ember.optim.Adam(model.parameters(), lr=0.01)
    sched = ember.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.8)
    return Trainer(model, opt, nn.CrossEntropyLoss(), metrics=["accuracy", "f1"], scheduler=sched,
                   scheduler_interval="step", accumulate_steps=accumulate_steps)


def make_loader(data, generator_seed):
    """Shuffled by ember's default generator, or by a generator of the loader's own."""
    if generator_seed is None:
        return DataLoader(data, batch_size=32, shuffle=True)
    return DataLoader(data, batch_size=32, shuffle=True, generator=ember.Generator().manual_seed(generator_seed))


def weights(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def fit_run(trainer, data, out, extra=(), resume_from=None, generator_seed=None):
    train, val = data
    callbacks = [ModelCheckpoint(dirpath=out), CSVLogger(out / "metrics.csv", append=resume_from is not None),
                 *extra]
    return trainer.fit(make_loader(train, generator_seed), epochs=EPOCHS, val=val, callbacks=callbacks,
                       resume_from=resume_from, verbose=0)


def stop_at(trainer, epoch, batch, how):
    """A callback that stops the trainer in `epoch` (0-based) at `batch` the way `how` says."""
    def at(i):
        return trainer.epoch == epoch and i == batch

    if how == "raise at batch end":  # a KeyboardInterrupt from a callback, after batch `batch`
        return LambdaCallback(on_batch_end=lambda i, logs: _raise(at(i)))
    if how == "signal mid-batch":  # a real SIGINT before the step: the batch still completes, then training stops
        return LambdaCallback(on_batch_begin=lambda i, logs: at(i) and signal.raise_signal(signal.SIGINT))
    if how == "signal twice":  # the second SIGINT stops at once, here before batch `batch` starts
        return LambdaCallback(on_batch_begin=lambda i, logs: at(i) and _sigint(2))
    if how == "raise at batch begin":  # nothing of batch `batch` is done yet
        return LambdaCallback(on_batch_begin=lambda i, logs: _raise(at(i)))
    if how == "raise at epoch begin":
        return LambdaCallback(on_epoch_begin=lambda e, logs: _raise(e == epoch))
    raise ValueError(how)


def _sigint(times):
    for _ in range(times):
        signal.raise_signal(signal.SIGINT)


def _raise(cond):
    if cond:
        raise KeyboardInterrupt


@pytest.mark.parametrize("how, batch, accumulate, generator_seed", [
    ("raise at batch end", 2, 1, None),
    ("signal mid-batch", 4, 1, None),
    ("raise at batch begin", 5, 1, 7),       # the loader's own generator draws the order
    ("signal twice", 6, 1, None),
    ("raise at batch end", 2, 2, None),      # 3 batches done, one accumulated gradient waits for its step
    ("raise at batch begin", 0, 1, None),    # at the very start of an epoch
    ("raise at epoch begin", 0, 1, 7),
])
def test_ctrl_c_anywhere_then_resume_equals_the_uninterrupted_run(digits_subset, tmp_path, how, batch, accumulate,
                                                                   generator_seed, capsys):
    straight = make_trainer(0, accumulate)
    full = fit_run(straight, digits_subset, tmp_path / "straight", generator_seed=generator_seed)

    first = make_trainer(0, accumulate)
    fit_run(first, digits_subset, tmp_path / "run", extra=[stop_at(first, 1, batch, how)],
            generator_seed=generator_seed)
    assert first.interrupted and first.epoch == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # fit gave Ctrl-C back
    out = capsys.readouterr()
    checkpoint = tmp_path / "run" / "interrupted.safetensors"
    assert out.out.count("continue with") == 1 and str(checkpoint) in out.out
    if how.startswith("signal"):
        assert "stopping at the end of this batch" in out.err
    done = {"raise at batch end": batch + 1, "signal mid-batch": batch + 1}.get(how, batch)
    state = ember.io.load_checkpoint(checkpoint, restore_rng=False)
    assert state["epoch"] == 1
    assert (state["extra"]["position"] or {}).get("batches", 0) == done

    ember.manual_seed(123)  # another random state and other initial weights: all of it comes from the checkpoint
    resumed = make_trainer(99, accumulate)
    history = fit_run(resumed, digits_subset, tmp_path / "run", resume_from=checkpoint,
                      generator_seed=None if generator_seed is None else generator_seed + 1)
    assert not resumed.interrupted
    assert history.epoch == full.epoch and _results(history) == _results(full)
    for k, v in weights(straight.model).items():
        np.testing.assert_array_equal(weights(resumed.model)[k], v)
    assert resumed.global_step == straight.global_step
    assert _csv_results(tmp_path / "run" / "metrics.csv") == _csv_results(tmp_path / "straight" / "metrics.csv")


def test_a_checkpoint_saved_between_batches_resumes_exactly(digits_subset, tmp_path):
    """A callback saving every few batches (long epochs) gets resumable checkpoints too."""
    straight = make_trainer(0)
    full = straight.fit(make_loader(digits_subset[0], None), epochs=2, verbose=0)
    first = make_trainer(0)
    path = tmp_path / "step.safetensors"
    saver = LambdaCallback(on_batch_end=lambda i, logs: first.epoch == 1 and i == 5 and first.save_checkpoint(path))
    first.fit(make_loader(digits_subset[0], None), epochs=2, callbacks=[saver], verbose=0)
    resumed = make_trainer(5)
    assert resumed.load_checkpoint(path) == 1
    history = resumed.fit(make_loader(digits_subset[0], None), epochs=2, initial_epoch=1, verbose=0)
    assert history["loss"] == full["loss"][1:] and history["accuracy"] == full["accuracy"][1:]
    for k, v in weights(straight.model).items():
        np.testing.assert_array_equal(weights(resumed.model)[k], v)


def test_saving_inside_a_step_is_refused(digits_subset, tmp_path):
    trainer = make_trainer(0)
    saver = LambdaCallback(on_before_optimizer_step=lambda step, logs: trainer.save_checkpoint(tmp_path / "x"))
    with pytest.raises(RuntimeError, match="in the middle of a training step"):
        trainer.fit(make_loader(digits_subset[0], None), epochs=1, callbacks=[saver], verbose=0)


def test_an_interrupt_inside_a_step_saves_no_checkpoint(digits_subset, tmp_path, capsys):
    """A second Ctrl-C (or a KeyboardInterrupt raised in the step) may leave the weights half-updated."""
    class Interrupted(Trainer):
        def train_step(self, batch):
            if self.global_step == 3:
                raise KeyboardInterrupt
            return super().train_step(batch)

    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    trainer = Interrupted(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
    trainer.fit(make_loader(digits_subset[0], None), epochs=2, callbacks=[ModelCheckpoint(dirpath=tmp_path)],
                verbose=0)
    assert trainer.interrupted
    assert "no checkpoint saved" in capsys.readouterr().out
    assert not (tmp_path / "interrupted.safetensors").exists()


def _scripted_score_trainer(scores):
    """make() -> a fresh Trainer (same seed) whose metric "score" is scores[epoch]: a scripted quantity to monitor."""
    made = []

    def score(outputs, targets):
        return scores[made[-1].epoch]

    def make():
        ember.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
        made.append(Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                            metrics=[score]))
        return made[-1]
    return make


def test_resume_keeps_the_best_checkpoint_tracker(digits_subset, tmp_path):
    """best.safetensors is not overwritten by a worse epoch after a resume: the best value is in the checkpoint."""
    scores = [0.5, 0.9, 0.3, 0.4]  # a scripted "score" per epoch; the best is epoch 2 (index 1)

    make = _scripted_score_trainer(scores)

    trainer = make()
    trainer.fit(digits_subset[0], epochs=2, callbacks=[ModelCheckpoint(dirpath=tmp_path, monitor="score",
                                                                       mode="max")], verbose=0)
    after_two = tmp_path / "after_two.safetensors"
    shutil.copy(tmp_path / "last.safetensors", after_two)
    state = ember.io.load_checkpoint(after_two, restore_rng=False)
    assert state["extra"]["callbacks"]["ModelCheckpoint"] == {"monitor": "score", "best": pytest.approx(0.9)}
    trainer = make()
    checkpoint = ModelCheckpoint(dirpath=tmp_path, monitor="score", mode="max")
    trainer.fit(digits_subset[0], epochs=4, callbacks=[checkpoint], resume_from=after_two, verbose=0)
    assert checkpoint.best == pytest.approx(0.9)
    best = ember.io.load_checkpoint(tmp_path / "best.safetensors", restore_rng=False)
    assert best["epoch"] == 2 and best["extra"]["monitor_value"] == pytest.approx(0.9)
    # a callback monitoring another quantity ignores the saved best
    trainer = make()
    other = ModelCheckpoint(dirpath=tmp_path / "other", monitor="loss")
    trainer.fit(digits_subset[0], epochs=3, callbacks=[other], resume_from=after_two, verbose=0)
    assert other.best == trainer.history["loss"][2]


def test_csv_rows_are_whole_even_when_the_disk_fills(tmp_path, monkeypatch):
    """A row that cannot be written completely is taken back: the file stays a valid CSV of the earlier rows."""
    path = tmp_path / "metrics.csv"
    writer = loggers.CSVWriter(path)
    writer.write({"epoch": 0, "loss": 0.5})
    real = writer._file

    class Full:
        def write(self, data):
            real.write(data[:3])  # part of the row reaches the disk
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(writer, "_file", Full())
    with pytest.raises(OSError, match="No space left") as info:
        writer.write({"epoch": 1, "loss": 0.25})
    assert info.value.filename == str(path)
    monkeypatch.setattr(writer, "_file", real)
    writer.write({"epoch": 2, "loss": 0.125})
    writer.close()
    assert list(csv.DictReader(open(path))) == [{"epoch": "0", "loss": "0.5"}, {"epoch": "2", "loss": "0.125"}]


# --- the command line -----------------------------------------------------------------------------------------------
SHORT = ["--set", "data.limit=200", "--quiet", "--no-plot"]  # 7 batches of 32 per epoch


def cli_run(*argv):
    from test_cli import run
    return run(*argv)


def cli_ok(*argv):
    from test_cli import ok
    return ok(*argv)


def parse_test_lines(out):
    """{which weights: metrics} of the `test (...)` lines."""
    from test_cli import TEST_LINE
    return {m.group(1): m.group(2) for m in TEST_LINE.finditer(out)}


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """`ember train` for 3 epochs without a stop: (run directory, output)."""
    out_dir = tmp_path_factory.mktemp("straight") / "run"
    return out_dir, cli_ok("train", "--set", "epochs=3", *SHORT, "--out", out_dir)


def assert_same_run(run_dir, straight_dir):
    """The same final weights, optimizer state and metrics.csv as the uninterrupted run."""
    a = ember.load(run_dir / "last.safetensors")
    b = ember.load(straight_dir / "last.safetensors")
    assert a["epoch"] == b["epoch"] == 3
    for k, v in b["model"].items():
        np.testing.assert_array_equal(a["model"][k].numpy(), v.numpy())
    for i, state in b["optimizer"]["state"].items():
        np.testing.assert_array_equal(a["optimizer"]["state"][i]["exp_avg"].numpy(), state["exp_avg"].numpy())
    assert _csv_results(run_dir / "metrics.csv") == _csv_results(straight_dir / "metrics.csv")


class _CtrlC(ember.train.Callback):
    """Sends this process a real SIGINT when batch `batch` of epoch `epoch` (0-based) begins."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_batch_begin(self, batch, logs=None):
        if self.trainer.epoch == self.epoch and batch == self.batch:
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_in_ember_train_exits_130_and_resume_finishes_the_same_run(straight, tmp_path, monkeypatch):
    from ember import cli
    real = cli._callbacks
    monkeypatch.setattr(cli, "_callbacks", lambda *a, **kw: real(*a, **kw) + [_CtrlC(1, 3)])
    run_dir = tmp_path / "run"
    rc, out, err = cli_run("train", "--set", "epochs=3", *SHORT, "--out", run_dir)
    monkeypatch.undo()
    assert rc == 130
    assert "stopping at the end of this batch" in err
    # one hint, and no test evaluation of an unfinished run
    assert out.count("continue with") == 1 and f"continue with: ember resume {run_dir}" in out
    assert "in epoch 2 after 4 of 7 batches" in out
    assert not parse_test_lines(out) and not (run_dir / "results.json").exists()
    assert len((run_dir / "metrics.csv").read_text().splitlines()) == 2  # header and epoch 0

    out = cli_ok("resume", run_dir, "--quiet", "--no-plot")
    assert f"from {run_dir / 'interrupted.safetensors'} (epoch 1)" in out
    assert_same_run(run_dir, straight[0])
    assert parse_test_lines(out) == parse_test_lines(straight[1])


def test_resume_from_the_end_of_an_epoch_is_exact(straight, tmp_path):
    run_dir = tmp_path / "run"
    cli_ok("train", "--set", "epochs=1", *SHORT, "--out", run_dir)
    out = cli_ok("resume", run_dir, "--set", "epochs=3", "--quiet", "--no-plot")
    assert_same_run(run_dir, straight[0])
    assert parse_test_lines(out) == parse_test_lines(straight[1])


def test_a_full_disk_stops_with_one_line_and_keeps_the_last_good_checkpoint(straight, tmp_path):
    """A real write error: the file size limit (ulimit -f) of a subprocess lets the checkpoints of epoch 2 through
    but not those of epoch 3 (each is some 64 bytes larger than the one before, for its history)."""
    import os
    import subprocess
    import sys
    resource = pytest.importorskip("resource")
    from test_cli import ROOT
    limit = os.path.getsize(straight[0] / "last.safetensors") - 16

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    run_dir = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "ember.cli", "train", "--set", "epochs=3", *SHORT, "--out",
                           str(run_dir)], preexec_fn=limited, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("ember train: error: ") and "File too large" in line
    assert line.endswith(f"continue with: ember resume {run_dir}")
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert ember.io.load_checkpoint(run_dir / "last.safetensors", restore_rng=False)["epoch"] == 2
    assert not [n for n in os.listdir(run_dir) if n.startswith(".tmp")]
    out = cli_ok("resume", run_dir, "--quiet", "--no-plot")
    assert_same_run(run_dir, straight[0])
    assert parse_test_lines(out) == parse_test_lines(straight[1])


def test_resume_applies_optimizer_overrides_and_refuses_what_the_checkpoint_fixes(tmp_path):
    run_dir = tmp_path / "run"
    cli_ok("train", "--set", "epochs=1", *SHORT, "--out", run_dir)
    rc, out, err = cli_run("resume", run_dir, "--set", "epochs=2", "--set", "optimizer.lr=0.5", "--quiet",
                           "--no-plot")
    assert rc == 0 and "optimizer.lr: 0.002 in the checkpoint, 0.5 from here on" in err
    assert ember.config.load_config(run_dir / "config.yaml")["optimizer"]["lr"] == 0.5
    assert [r["lr"] for r in csv.DictReader(open(run_dir / "metrics.csv"))] == ["0.002", "0.5"]
    state = ember.io.load_checkpoint(run_dir / "last.safetensors", restore_rng=False)
    assert state["optimizer"]["param_groups"][0]["lr"] == 0.5
    saved = (run_dir / "config.yaml").read_text()
    for key in ("data.batch_size=16", "seed=3", "model.0.Conv2d=[1, 8, 3]", "optimizer.name=SGD",
                "data.val_split=0.2", "metrics=[f1]"):
        rc, _, err = cli_run("resume", run_dir, "--set", key, "--set", "epochs=3")
        assert rc == 2 and "a resumed run continues its checkpoint" in err and "Traceback" not in err, (key, err)
        assert f"--set {key.split('=')[0]}: the checkpoint fixes" in err
    assert (run_dir / "config.yaml").read_text() == saved  # refused before anything is written


def test_resume_refuses_an_lr_the_scheduler_would_undo(tmp_path):
    run_dir = tmp_path / "run"
    cli_ok("train", "--set", "epochs=1", "--set", "scheduler={name: CosineAnnealingLR}", *SHORT, "--out", run_dir)
    rc, _, err = cli_run("resume", run_dir, "--set", "optimizer.lr=0.5")
    assert rc == 2 and "the scheduler (CosineAnnealingLR) sets the learning rate" in err
    rc, _, err = cli_run("resume", run_dir, "--set", "epochs=5")
    assert rc == 2 and "schedule was laid out for epochs=1" in err


def test_train_refuses_an_existing_run_directory_unless_forced(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    cli_ok("train", "--set", "epochs=1", *SHORT, "--out", run_dir)
    (run_dir / "curves.png").write_bytes(b"stale")
    (run_dir / "epoch7.safetensors").write_bytes(b"stale")
    (run_dir / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    rc, out, err = cli_run("train", "--set", "epochs=2", *SHORT, "--out", run_dir)
    assert rc == 1 and err.startswith(f"ember train: error: --out {run_dir} already holds a run (")
    assert "ember resume" in err and "--force" in err and len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    # --force with a config that does not build leaves the old run alone
    monkeypatch.setenv("EMBER_DATA", str(tmp_path / "no-data"))
    rc, _, _ = cli_run("train", "--set", "data.dataset=MNIST", "--set", "data.download=false", *SHORT, "--out",
                       run_dir, "--force")
    assert rc == 1 and {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    out = cli_ok("train", "--set", "epochs=2", *SHORT, "--out", run_dir, "--force")
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == ["best.safetensors", "config.yaml", "last.safetensors", "metrics.csv", "notes.txt",
                     "results.json"]
    assert "curves.png" not in out and len(list(csv.DictReader(open(run_dir / "metrics.csv")))) == 2


def test_the_test_lines_and_results_say_which_weights(tmp_path):
    """After training: the last weights and the best checkpoint's, both in results.json; eval names its weights."""
    run_dir = tmp_path / "run"
    # a learning rate this high makes the last epoch worse than an earlier one: best and last differ
    out = cli_ok("train", "--set", "epochs=4", "--set", "optimizer.lr=0.5", "--set", "data.limit=100", "--quiet",
                 "--no-plot", "--out", run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    lines = parse_test_lines(out)
    best = ember.io.load_checkpoint(run_dir / "best.safetensors", restore_rng=False)
    assert results["last"]["epoch"] == 4 and results["best"]["epoch"] == best["epoch"] < 4
    assert results["last"]["test"] != results["best"]["test"]
    assert results["best"]["monitor"] == "val_loss" and results["best"]["value"] == best["extra"]["monitor_value"]
    best_label = f"best weights, epoch {best['epoch']}, val_loss {results['best']['value']:.4f}"
    assert list(lines) == ["last weights, epoch 4", best_label]
    for which, label in (("last", "last weights, epoch 4"), ("best", best_label)):
        metrics = lines[label].split()
        assert {k: float(v) for k, v in zip(metrics[::2], metrics[1::2])} == pytest.approx(
            results[which]["test"], abs=5e-5)
    assert parse_test_lines(cli_ok("eval", run_dir)) == {f"{run_dir / 'best.safetensors'}: {best_label}": lines[best_label]}
    evaluated = parse_test_lines(cli_ok("eval", run_dir, "--checkpoint", run_dir / "last.safetensors"))
    assert evaluated == {f"{run_dir / 'last.safetensors'}: last weights, epoch 4": lines["last weights, epoch 4"]}


def test_early_stopping_keeps_its_patience_across_a_resume(digits_subset, tmp_path):
    """EarlyStopping's best and wait are in the checkpoint: the resumed run stops where the straight one does."""
    from ember.train import EarlyStopping
    scores = [0.5, 0.9, 0.8, 0.7, 0.6, 0.5]  # best at epoch 2; with patience 2 training stops after epoch 4

    make = _scripted_score_trainer(scores)

    def callbacks(out):  # ModelCheckpoint last, so that its checkpoints hold EarlyStopping's state of the epoch
        return [EarlyStopping(monitor="score", mode="max", patience=2), ModelCheckpoint(dirpath=out)]

    trainer = make()
    assert len(trainer.fit(digits_subset[0], epochs=6, callbacks=callbacks(tmp_path / "a"), verbose=0)) == 4
    trainer = make()
    trainer.fit(digits_subset[0], epochs=2, callbacks=callbacks(tmp_path / "b"), verbose=0)
    trainer = make()
    history = trainer.fit(digits_subset[0], epochs=6, callbacks=callbacks(tmp_path / "b"),
                          resume_from=tmp_path / "b" / "last.safetensors", verbose=0)
    assert len(history) == 4 and trainer.stop_training


def test_ctrl_c_outside_training_exits_130_without_a_traceback(tmp_path, monkeypatch):
    from ember import cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "_Run", interrupted)  # Ctrl-C while the data loads
    rc, _, err = cli_run("train", "--set", "epochs=1", "--out", tmp_path / "run")
    assert rc == 130 and err == "ember train: error: interrupted\n"
