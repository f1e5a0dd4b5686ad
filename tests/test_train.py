"""ember.train: Trainer fit/evaluate/predict, metrics, callbacks, loggers, resuming and Ctrl-C."""
import csv
import io as _io
import math
import os
import struct
import sys
import textwrap
import time

import numpy as np
import pytest

import ember
from ember import nn
from ember.data import DataLoader, TensorDataset
from ember.data.datasets import Digits
from ember.train import (Accuracy, CSVLogger, EarlyStopping, F1Score, GradientClipping, LambdaCallback,
                         LearningRateMonitor, MeanAbsoluteError, MeanSquaredError, ModelCheckpoint, Perplexity,
                         PlotHistory, Precision, Recall, TensorBoard, TopKAccuracy, Trainer, get_metric)
from ember.train import loggers, trainer as trainer_module


# --- fixtures ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    return Digits(train=True), Digits(train=False)


def mlp(hidden=32, dropout=0.0):
    layers = [nn.Flatten(), nn.Linear(64, hidden), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(hidden, 10))


def blobs(n=96, seed=0):
    """A small separable 3-class problem: (x float32 (n, 4), y int64 (n,))."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)).astype(np.float32) + np.eye(3, 4, dtype=np.float32)[y] * 3
    return x, y


def small_trainer(lr=0.1, **kw):
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    return Trainer(model, ember.optim.SGD(model.parameters(), lr=lr, momentum=0.9), nn.CrossEntropyLoss(), **kw)


def weights(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


# --- end to end ---------------------------------------------------------------------------------------------------
def test_mlp_on_digits_reaches_95_percent(digits):
    train, test = digits
    model = mlp(64)
    trainer = Trainer(model, ember.optim.Adam(model.parameters(), lr=1e-2), nn.CrossEntropyLoss(),
                      metrics=["accuracy", "f1"])
    start = time.perf_counter()
    history = trainer.fit(train, epochs=12, val=test, verbose=0)
    assert time.perf_counter() - start < 10
    result = trainer.evaluate(test)
    assert result["accuracy"] >= 0.95
    assert set(result) == {"loss", "accuracy", "f1"}
    assert history.epoch == list(range(12))
    for key in ("loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1", "lr"):
        assert len(history.history[key]) == 12
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] == pytest.approx(result["accuracy"])
    out = trainer.predict(test)
    assert out.shape == (len(test), 10)
    labels = np.array([test[i][1] for i in range(len(test))])
    assert (out.numpy().argmax(1) == labels).mean() == pytest.approx(result["accuracy"])


def test_fit_accepts_arrays_tensors_and_loaders():
    x, y = blobs()
    trainer = small_trainer()
    h = trainer.fit((x, y), epochs=3, verbose=0)  # numpy float arrays get the default dtype
    assert len(h["loss"]) == 3
    r1 = trainer.evaluate((ember.tensor(x), ember.tensor(y)))
    r2 = trainer.evaluate(DataLoader(TensorDataset(ember.tensor(x), ember.tensor(y)), batch_size=7))
    assert r1["loss"] == pytest.approx(r2["loss"], rel=1e-5)  # sample-weighted: batch size does not matter
    assert r1["accuracy"] == pytest.approx(r2["accuracy"])
    assert trainer.predict(x).shape == (len(x), 3)
    assert trainer.predict(TensorDataset(ember.tensor(x), ember.tensor(y))).shape == (len(x), 3)
    with pytest.raises(TypeError, match="DataLoader"):
        trainer.fit(42, epochs=1, verbose=0)


def test_evaluate_restores_training_mode_and_needs_no_grad():
    x, y = blobs()
    trainer = small_trainer()
    trainer.model.train()
    trainer.evaluate((x, y))
    assert trainer.model.training
    trainer.model.eval()
    trainer.predict(x)
    assert not trainer.model.training


def test_bad_arguments():
    model = nn.Linear(4, 3)
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="accumulate_steps"):
        Trainer(model, opt, nn.CrossEntropyLoss(), accumulate_steps=0)
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        Trainer(model, opt, nn.CrossEntropyLoss(), metrics=["acuracy"])
    with pytest.raises(ValueError, match="unique"):
        Trainer(model, opt, nn.CrossEntropyLoss(), metrics=["accuracy", Accuracy()])
    with pytest.raises(ValueError, match="loss_fn"):
        Trainer(model, opt, None, metrics=[]).fit(blobs(), epochs=1)


# --- the override points: train_step, eval_step, predict_step ------------------------------------------------------
def _docstring_example(obj):
    """Run the indented example after '::' in obj's docstring (up to its first blank line); its namespace."""
    namespace = {"Trainer": Trainer}
    exec(textwrap.dedent(obj.__doc__.split("::\n\n")[1].split("\n\n")[0]), namespace)
    return namespace


def norm(model):
    return math.sqrt(sum(float((v ** 2).sum()) for v in weights(model).values()))


def test_train_step_override_is_used_by_fit_and_its_loss_is_what_history_reports(digits):
    train, test = digits
    L2Trainer = _docstring_example(Trainer.train_step)["L2Trainer"]

    class Recorded(L2Trainer):
        def train_step(self, batch):
            loss, outputs, targets = super().train_step(batch)
            self.returned.append((float(loss), len(targets)))
            return loss, outputs, targets

    ember.manual_seed(0)
    model = mlp(64)
    plain = Trainer(model, ember.optim.Adam(model.parameters(), lr=1e-2), nn.CrossEntropyLoss())
    plain.fit(train, epochs=4, verbose=0)
    ember.manual_seed(0)
    model = mlp(64)
    l2 = Recorded(model, ember.optim.Adam(model.parameters(), lr=1e-2), nn.CrossEntropyLoss())
    l2.returned = []
    history = l2.fit(train, epochs=4, verbose=0)
    per_epoch = math.ceil(len(train) / 32)
    assert len(l2.returned) == 4 * per_epoch  # one call per batch
    for epoch, loss in enumerate(history["loss"]):  # the sample-weighted mean of what train_step returned
        returned = l2.returned[epoch * per_epoch:(epoch + 1) * per_epoch]
        assert loss == pytest.approx(sum(l * n for l, n in returned) / sum(n for _, n in returned), rel=1e-12)
    assert l2.evaluate(test)["accuracy"] >= 0.9
    assert norm(l2.model) < 0.9 * norm(plain.model)  # the penalty reached the weights


def test_the_loop_keeps_accumulation_clipping_and_the_step_scheduler_around_an_override():
    x, y = blobs(n=40)
    data = DataLoader(TensorDataset(ember.tensor(x), ember.tensor(y)), batch_size=8)  # 5 batches

    class Delegating(Trainer):
        def train_step(self, batch):
            self.steps_seen.append(self.global_step)
            return super().train_step(batch)

    runs = []
    for cls in (Trainer, Delegating):
        ember.manual_seed(2)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        opt = ember.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        trainer = cls(model, opt, nn.CrossEntropyLoss(), scheduler=ember.optim.lr_scheduler.ExponentialLR(opt, 0.9),
                      grad_clip=0.05, accumulate_steps=2, scheduler_interval="step")
        trainer.steps_seen = []
        history = trainer.fit(data, epochs=2, verbose=0)
        runs.append((weights(model), history.history, trainer.global_step, trainer.steps_seen))
    (w0, h0, g0, _), (w1, h1, g1, seen) = runs
    assert g0 == g1 == 6 and seen == [0, 0, 1, 1, 2, 3, 3, 4, 4, 5]  # the loop steps every 2 batches and at the end
    assert h1 == h0
    for k, v in w0.items():
        np.testing.assert_array_equal(w1[k], v)


def test_eval_step_and_predict_step_read_another_batch_layout():
    x, y = blobs()

    class TargetsFirst(Trainer):  # batches are (targets, inputs)
        def train_step(self, batch):
            targets, inputs = batch
            outputs = self.model(inputs)
            loss = self.loss_fn(outputs, targets)
            loss.backward()
            return loss, outputs, targets

        def eval_step(self, batch):
            targets, inputs = batch
            outputs = self.model(inputs)
            return self.loss_fn(outputs, targets), outputs, targets

        def predict_step(self, batch):
            return self.model(batch[1])

    trainers = []
    for cls in (Trainer, TargetsFirst):
        ember.manual_seed(4)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        trainers.append(cls(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss()))
    plain, swapped = trainers
    ember.manual_seed(5)
    expected = plain.fit((x, y), epochs=2, val=(x, y), verbose=0)
    ember.manual_seed(5)
    assert swapped.fit((y, x), epochs=2, val=(y, x), verbose=0).history == expected.history
    assert swapped.evaluate((y, x)) == plain.evaluate((x, y))
    np.testing.assert_array_equal(swapped.predict((y, x)).numpy(), plain.predict(x).numpy())


def test_a_step_without_outputs_trains_without_metrics():
    x, y = blobs()

    class LossOnly(Trainer):
        def train_step(self, batch):
            loss, _, _ = super().train_step(batch)
            return loss.item(), None, None

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    history = LossOnly(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                       metrics=[]).fit((x, y), epochs=3, verbose=0)
    assert set(history.history) == {"loss", "peak_memory_mib", "lr"} and history["loss"][-1] < history["loss"][0]


# --- metrics -------------------------------------------------------------------------------------------------------
LOGITS = ember.tensor([[2.0, 1.0, 0.0], [0.1, 0.3, 0.2], [0.0, 0.0, 5.0], [1.0, 3.0, 2.0], [4.0, 0.0, 1.0]])
TARGETS = ember.tensor([0, 2, 2, 0, 1])
# argmax predictions: 0, 1, 2, 1, 0 -> correct: yes, no, yes, no, no


def test_accuracy_by_hand():
    assert Accuracy()(LOGITS, TARGETS) == pytest.approx(2 / 5)
    m = Accuracy()
    m.update(LOGITS[:1], TARGETS[:1])  # 1/1 correct
    m.update(LOGITS[1:], TARGETS[1:])  # 1/4 correct: per-batch averaging would give (1 + 0.25) / 2
    assert m.compute() == pytest.approx(2 / 5)
    m.reset()
    assert math.isnan(m.compute())
    assert Accuracy()(LOGITS, ember.tensor([0, -100, 2, -100, 1])) == pytest.approx(2 / 3)  # ignore_index
    onehot = ember.tensor(np.eye(3, dtype=np.float32)[[0, 2, 2, 0, 1]])
    assert Accuracy()(LOGITS, onehot) == pytest.approx(2 / 5)
    probs, labels = ember.tensor([0.9, 0.2, 0.6, 0.4]), ember.tensor([1.0, 0.0, 0.0, 0.0])
    assert Accuracy()(probs, labels) == pytest.approx(3 / 4)
    assert Accuracy()(probs.reshape(4, 1), labels) == pytest.approx(3 / 4)
    assert Accuracy(threshold=0.5)(ember.tensor([0.3, -1.0]), ember.tensor([1, 0])) == pytest.approx(1 / 2)
    assert Accuracy(threshold=0.0)(ember.tensor([0.3, -1.0]), ember.tensor([1, 0])) == 1.0
    # (N, T, C) language-model outputs and (N, C, T) PyTorch layout give the same answer
    seq = ember.tensor(np.stack([LOGITS.numpy(), LOGITS.numpy()[::-1]]))  # (2, 5, 3)
    tgt = ember.tensor(np.stack([TARGETS.numpy(), TARGETS.numpy()[::-1]]))
    assert Accuracy()(seq, tgt) == pytest.approx(2 / 5)
    assert Accuracy()(seq.permute(0, 2, 1), tgt) == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match=r"accuracy: outputs of shape \(5, 3\) do not match"):
        Accuracy()(LOGITS, ember.tensor([0, 1]))


def test_top_k_accuracy_by_hand():
    # classes scoring above the target: 0, 1 (0.3 > 0.2), 0, 2 (3, 2 > 1), 2 (4, 1 > 0)
    assert TopKAccuracy(1)(LOGITS, TARGETS) == pytest.approx(2 / 5)
    assert TopKAccuracy(2)(LOGITS, TARGETS) == pytest.approx(3 / 5)
    assert TopKAccuracy(3)(LOGITS, TARGETS) == 1.0
    assert get_metric("top2_accuracy").compute is not None and get_metric("top2_accuracy").k == 2
    assert get_metric("top5_accuracy").name == "top5_accuracy"
    ties = ember.tensor([[1.0, 1.0, 1.0, 0.0]])  # all tied classes count as in the top k (Keras' in_top_k)
    assert TopKAccuracy(1)(ties, ember.tensor([2])) == 1.0
    assert TopKAccuracy(1)(ties, ember.tensor([3])) == 0.0
    with pytest.raises(ValueError, match="k must be >= 1"):
        TopKAccuracy(0)


def test_precision_recall_f1_macro_by_hand():
    # preds 0,1,2,1,0 vs targets 0,2,2,0,1
    # class 0: tp 1, predicted 2, actual 2 -> p 1/2 r 1/2 f1 1/2
    # class 1: tp 0, predicted 2, actual 1 -> p 0 r 0 f1 0
    # class 2: tp 1, predicted 1, actual 2 -> p 1 r 1/2 f1 2/3
    assert Precision()(LOGITS, TARGETS) == pytest.approx((0.5 + 0 + 1) / 3)
    assert Recall()(LOGITS, TARGETS) == pytest.approx((0.5 + 0 + 0.5) / 3)
    assert F1Score()(LOGITS, TARGETS) == pytest.approx((0.5 + 0 + 2 / 3) / 3)
    m = F1Score()
    for i in range(5):  # one sample at a time accumulates the same confusion matrix
        m.update(LOGITS[i:i + 1], TARGETS[i:i + 1])
    assert m.compute() == pytest.approx((0.5 + 0 + 2 / 3) / 3)
    # binary scores: preds 1,0,1,0 vs 1,0,0,0 -> class 1: p 1/2 r 1; class 0: p 1 r 2/3
    probs, labels = ember.tensor([0.9, 0.2, 0.6, 0.4]), ember.tensor([1, 0, 0, 0])
    assert Precision()(probs, labels) == pytest.approx((0.5 + 1) / 2)
    assert Recall()(probs, labels) == pytest.approx((1 + 2 / 3) / 2)


def test_precision_recall_f1_match_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    logits, y = rng.normal(size=(200, 6)).astype(np.float32), rng.integers(0, 6, 200)
    pred = logits.argmax(1)
    for cls, fn in ((Precision, metrics.precision_score), (Recall, metrics.recall_score), (F1Score, metrics.f1_score)):
        assert cls()(ember.tensor(logits), ember.tensor(y)) == pytest.approx(fn(y, pred, average="macro"))


def test_regression_metrics_by_hand():
    out, tgt = ember.tensor([[1.0], [2.0], [4.0]]), ember.tensor([1.5, 2.0, 1.0])
    assert MeanAbsoluteError()(out, tgt) == pytest.approx((0.5 + 0 + 3) / 3)
    assert MeanSquaredError()(out, tgt) == pytest.approx((0.25 + 0 + 9) / 3)
    m = MeanSquaredError()
    m.update(out[:1], tgt[:1])
    m.update(out[1:], tgt[1:])
    assert m.compute() == pytest.approx((0.25 + 0 + 9) / 3)
    assert get_metric("mae").name == "mae" and not get_metric("mse").higher_is_better
    with pytest.raises(ValueError, match="different numbers of elements"):
        MeanAbsoluteError()(out, ember.tensor([1.0, 2.0]))


def test_perplexity_is_exp_of_mean_token_cross_entropy():
    assert Perplexity()(ember.zeros(4, 7), ember.tensor([0, 3, 6, 2])) == pytest.approx(7.0)  # uniform over 7
    rng = np.random.default_rng(0)
    logits = ember.tensor(rng.normal(size=(2, 5, 11)).astype(np.float32))
    tgt = ember.tensor(rng.integers(0, 11, (2, 5)))
    ce = nn.functional.cross_entropy(logits.reshape(10, 11), tgt.reshape(10)).item()
    assert Perplexity()(logits, tgt) == pytest.approx(math.exp(ce), rel=1e-5)
    m = Perplexity()
    m.update(logits[:1], tgt[:1])
    m.update(logits[1:], tgt[1:])
    assert m.compute() == pytest.approx(math.exp(ce), rel=1e-5)  # token-weighted, not per batch
    masked = ember.tensor(np.where(np.arange(10).reshape(2, 5) < 3, tgt.numpy(), -100))
    ce_masked = nn.functional.cross_entropy(logits.reshape(10, 11), masked.reshape(10)).item()
    assert Perplexity()(logits, masked) == pytest.approx(math.exp(ce_masked), rel=1e-5)


def test_user_function_metric_is_named_and_batch_weighted():
    def mean_output(outputs, targets):
        return float(outputs.numpy().mean())

    m = get_metric(mean_output)
    assert m.name == "mean_output"
    m.update(ember.tensor([[1.0]]), ember.tensor([0]))
    m.update(ember.tensor([[4.0], [4.0], [4.0]]), ember.tensor([0, 0, 0]))
    assert m.compute() == pytest.approx((1 + 12) / 4)
    x, y = blobs()
    history = small_trainer(metrics=["accuracy", mean_output]).fit((x, y), epochs=1, verbose=0)
    assert "mean_output" in history.history
    with pytest.raises(TypeError, match="metric"):
        get_metric(3)


# --- callbacks -----------------------------------------------------------------------------------------------------
def scripted(values, key="score"):
    """A callback that puts values[epoch] into the logs under key (placed before the callback under test)."""
    return LambdaCallback(on_epoch_end=lambda epoch, logs: logs.__setitem__(key, values[epoch]))


def test_early_stopping_stops_and_restores_best_weights():
    x, y = blobs()
    trainer = small_trainer()
    snapshots = []
    snap = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(weights(trainer.model)))
    stop = EarlyStopping(monitor="score", mode="min", patience=2, restore_best_weights=True)
    history = trainer.fit((x, y), epochs=20, callbacks=[scripted([5, 3, 4, 3.5, 1, 1, 1]), snap, stop], verbose=0)
    assert history.epoch == [0, 1, 2, 3]  # best at epoch 1, then two epochs of patience, stop after the third
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1 and stop.best == 3
    now = weights(trainer.model)
    for k in now:
        np.testing.assert_array_equal(now[k], snapshots[1][k])
    assert not np.array_equal(snapshots[3]["0.weight"], snapshots[1]["0.weight"])


def test_early_stopping_modes_min_delta_and_missing_monitor():
    x, y = blobs()
    stop = EarlyStopping(monitor="val_accuracy", patience=0, min_delta=0.1)  # auto: accuracy is maximised
    small_trainer().fit((x, y), epochs=10, callbacks=[scripted([0.5, 0.55, 0.9], "val_accuracy"), stop], verbose=0)
    assert stop.mode == "max" and stop.stopped_epoch == 1 and stop.best == 0.5
    missing = EarlyStopping(monitor="val_loss")
    with pytest.warns(RuntimeWarning, match="'val_loss' is not among the logged values"):
        h = small_trainer().fit((x, y), epochs=2, callbacks=[missing], verbose=0)
    assert len(h) == 2
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_model_checkpoint_writes_best_and_last_and_they_load(tmp_path):
    x, y = blobs()
    trainer = small_trainer()
    snapshots = []
    snap = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(weights(trainer.model)))
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="score", mode="max")
    trainer.fit((x, y), epochs=4, callbacks=[scripted([1, 3, 2, 2.5]), snap, ckpt], verbose=0)
    assert sorted(os.listdir(tmp_path / "ck")) == ["best.safetensors", "last.safetensors"]
    assert ckpt.best == 3 and ckpt.best_model_path == str(tmp_path / "ck" / "best.safetensors")
    for name, epoch in (("best", 1), ("last", 3)):
        fresh = small_trainer()
        assert fresh.load_checkpoint(tmp_path / "ck" / f"{name}.safetensors") == epoch + 1
        for k, v in weights(fresh.model).items():
            np.testing.assert_array_equal(v, snapshots[epoch][k])
        assert len(fresh.history["loss"]) == epoch + 1
    state = ember.io.load_checkpoint(tmp_path / "ck" / "best.safetensors")
    assert state["extra"]["monitor"] == "score" and state["extra"]["monitor_value"] == 3


def test_model_checkpoint_filepath_template_and_every_epoch(tmp_path):
    x, y = blobs()
    ckpt = ModelCheckpoint(filepath=str(tmp_path / "m-{epoch:02d}-{loss:.2f}.safetensors"), save_best_only=False)
    history = small_trainer().fit((x, y), epochs=3, callbacks=[ckpt], verbose=0)
    names = sorted(os.listdir(tmp_path))
    assert names == [f"m-{e + 1:02d}-{history['loss'][e]:.2f}.safetensors" for e in range(3)]
    assert ckpt.monitor == "loss"  # no validation data: loss is monitored
    with pytest.raises(ValueError, match="exactly one"):
        ModelCheckpoint()


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    x, y = blobs()
    path = tmp_path / "log.csv"
    history = small_trainer().fit((x, y), epochs=3, val=(x[:32], y[:32]), callbacks=[CSVLogger(path)], verbose=0)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "peak_memory_mib", "lr"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    for key in ("loss", "val_accuracy", "lr"):
        assert [float(r[key]) for r in rows] == history[key]  # every digit kept
    small_trainer().fit((x, y), epochs=2, callbacks=[CSVLogger(path, append=True)], verbose=0)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 and rows[-1]["val_loss"] == ""


def test_tensorboard_event_file_has_valid_crcs_and_the_scalars(tmp_path):
    x, y = blobs()
    history = small_trainer().fit((x, y), epochs=3, val=(x[:32], y[:32]),
                                  callbacks=[TensorBoard(tmp_path / "tb", update_freq=2)], verbose=0)
    (name,) = os.listdir(tmp_path / "tb")
    assert name.startswith("events.out.tfevents.")
    path = tmp_path / "tb" / name
    events = loggers.read_events(path)  # raises on any bad CRC
    assert events[0]["file_version"] == "brain.Event:2"
    scalars = loggers.read_scalars(str(tmp_path / "tb"))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert [s for s, _ in scalars[key]] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in scalars[key]], history[key], rtol=1e-6)  # stored as float32
    assert [s for s, _ in scalars["batch/loss"]] == list(range(2, 3 * 3 + 1, 2))  # 3 batches an epoch
    raw = bytearray(path.read_bytes())
    raw[30] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="CRC"):
        loggers.read_events(path)


def test_tensorboard_itself_reads_the_event_file(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    with loggers.SummaryWriter(tmp_path) as w:
        for step, value in enumerate([0.5, 0.25, 0.125]):
            w.add_scalar("loss", value, step)
        w.add_scalar("a", 1.5, 7)
        w.add_scalar("b", -2.0, 7)
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert sorted(acc.Tags()["scalars"]) == ["a", "b", "loss"]
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(0, 0.5), (1, 0.25), (2, 0.125)]
    assert [(e.step, e.value) for e in acc.Scalars("b")] == [(7, -2.0)]


def test_crc32c_and_varint():
    assert loggers.crc32c(b"123456789") == 0xE3069283  # the standard check value of CRC-32C
    assert loggers.crc32c(b"") == 0
    assert loggers._varint(300) == b"\xac\x02"
    assert len(loggers._varint(-1)) == 10
    assert loggers._decode_event(loggers._event(1.0, step=-3))["step"] == -3


def test_plot_history_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = blobs()
    path = tmp_path / "plots" / "curves.png"
    small_trainer().fit((x, y), epochs=2, val=(x, y), callbacks=[PlotHistory(path)], verbose=0)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _history():
    from ember.train.callbacks import History
    h = History()
    for e, (loss, val_loss, acc, val_acc, lr) in enumerate([(1.0, 0.9, 0.5, 0.6, 0.1), (0.6, 0.5, 0.7, 0.8, 0.1),
                                                           (0.4, 0.2, 0.8, 0.85, 0.01), (0.3, 0.3, 0.9, 0.9, 0.01),
                                                           (0.2, 0.2, 0.95, 0.8, 0.001)]):
        h.append(e, {"loss": loss, "accuracy": acc, "val_loss": val_loss, "val_accuracy": val_acc, "lr": lr})
    return h


def test_plot_history_marks_integer_epochs_the_best_epoch_a_title_and_a_small_lr_panel():
    pytest.importorskip("matplotlib")
    from matplotlib.ticker import MaxNLocator
    from ember.train import plot_history
    fig = plot_history(_history(), title="run-1")
    assert fig._suptitle.get_text() == "run-1: best val_loss 0.2 at epoch 3 of 5"  # the first of two equal bests
    fig.draw_without_rendering()
    loss_ax, acc_ax, lr_ax = fig.axes
    assert (loss_ax.get_title(), acc_ax.get_title(), lr_ax.get_ylabel()) == ("loss", "accuracy", "learning rate")
    assert lr_ax.get_position().height < 0.5 * loss_ax.get_position().height  # a small panel, below the others
    assert lr_ax.get_position().y1 < loss_ax.get_position().y0 and lr_ax.get_yscale() == "log"
    assert [list(line.get_ydata()) for line in lr_ax.get_lines()][0] == [0.1, 0.1, 0.01, 0.01, 0.001]
    for ax in fig.axes:
        assert isinstance(ax.xaxis.get_major_locator(), MaxNLocator) and ax.get_xlabel() == "epoch"
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks) and min(ticks) >= 1 and max(ticks) <= 5
        assert [list(line.get_xdata()) for line in ax.get_lines() if line.get_gid() == "best_epoch"] == [[3, 3]]
    star = [line for line in loss_ax.get_lines() if line.get_gid() == "best"]
    assert [(list(s.get_xdata()), list(s.get_ydata())) for s in star] == [([3], [0.2])]
    fig = plot_history(_history(), monitor="val_accuracy", mode="max")
    assert fig._suptitle.get_text() == "best val_accuracy 0.9 at epoch 4 of 5"
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        plot_history(_history(), mode="auto")


def test_plot_history_callback_marks_the_best_of_its_monitor(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from ember.train import plots
    figures = []
    plot = plots.plot_history
    monkeypatch.setattr(plots, "plot_history", lambda *a, **kw: figures.append(plot(*a, **kw)))
    x, y = blobs()
    history = small_trainer(metrics=["accuracy"]).fit(
        (x, y), epochs=3, val=(x, y), verbose=0,
        callbacks=[PlotHistory(tmp_path / "a.png", title="t"),
                   PlotHistory(tmp_path / "b.png", monitor="val_accuracy")])  # mode auto: higher is better
    best_loss = int(np.argmin(history["val_loss"])) + 1
    best_acc = int(np.argmax(history["val_accuracy"])) + 1
    titles = [f._suptitle.get_text() for f in figures]
    assert titles[0].startswith("t: best val_loss ") and titles[0].endswith(f" at epoch {best_loss} of 3")
    assert titles[1].startswith("best val_accuracy ") and titles[1].endswith(f" at epoch {best_acc} of 3")


def test_plot_history_without_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        PlotHistory("x.png")


def test_learning_rate_monitor_and_scheduler_per_epoch():
    x, y = blobs()
    trainer = small_trainer(lr=0.1)
    trainer.scheduler = ember.optim.lr_scheduler.StepLR(trainer.optimizer, step_size=2, gamma=0.1)
    monitor = LearningRateMonitor()
    history = trainer.fit((x, y), epochs=5, callbacks=[monitor], verbose=0)
    expected = [0.1, 0.1, 0.01, 0.01, 0.001]
    np.testing.assert_allclose(monitor.lrs["lr"], expected)
    np.testing.assert_allclose(history["lr"], expected)
    steps = LearningRateMonitor(logging_interval="step")
    trainer = small_trainer(lr=0.1, scheduler_interval="step")
    trainer.scheduler = ember.optim.lr_scheduler.ExponentialLR(trainer.optimizer, gamma=0.5)
    trainer.fit((x, y), epochs=1, callbacks=[steps], verbose=0)  # 3 batches, 3 steps
    np.testing.assert_allclose(steps.lrs["lr"], [0.1, 0.05, 0.025])
    seen = []
    trainer = small_trainer(lr=0.1, scheduler_interval="step")
    trainer.scheduler = ember.optim.lr_scheduler.ExponentialLR(trainer.optimizer, gamma=0.5)
    batch_lr = LambdaCallback(on_batch_end=lambda batch, logs: seen.append(logs["lr"]))
    trainer.fit((x, y), epochs=1, callbacks=[LearningRateMonitor("step"), batch_lr], verbose=0)
    np.testing.assert_allclose(seen, [0.1, 0.05, 0.025])  # per-step rates reach the batch logs
    with pytest.raises(ValueError, match="logging_interval"):
        LearningRateMonitor("batch")


def test_learning_rate_of_every_group_is_logged():
    x, y = blobs()
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = ember.optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.01}], lr=0.1)
    monitor = LearningRateMonitor()
    history = Trainer(model, opt, nn.CrossEntropyLoss()).fit((x, y), epochs=2, callbacks=[monitor], verbose=0)
    assert history["lr_group1"] == [0.01, 0.01] and history["lr"] == [0.1, 0.1]
    assert monitor.lrs == {"lr_group0": [0.1, 0.1], "lr_group1": [0.01, 0.01]}


def test_reduce_lr_on_plateau_gets_the_val_loss():
    x, y = blobs()
    trainer = small_trainer(lr=0.1)
    trainer.scheduler = ember.optim.lr_scheduler.ReduceLROnPlateau(trainer.optimizer, patience=100)
    history = trainer.fit((x, y), epochs=3, val=(x[:16], y[:16]), verbose=0)
    assert trainer.scheduler.best == min(history["val_loss"]) != min(history["loss"])


def test_gradient_clipping_callback_and_argument_agree():
    x, y = blobs()
    norms = []

    def check(step, logs):
        total = math.sqrt(sum(float((p.grad * p.grad).sum()) for p in trainer.model.parameters()))
        norms.append(total)

    ember.manual_seed(1)
    trainer = small_trainer(lr=0.5)
    clip = GradientClipping(0.05)
    trainer.fit((x, y), epochs=2, callbacks=[clip, LambdaCallback(on_before_optimizer_step=check)], verbose=0)
    assert len(norms) == 6 and max(norms) <= 0.05 * (1 + 1e-5) and clip.last_norm > 0.05
    # the same run with Trainer(grad_clip=...) gives the same weights
    ember.manual_seed(1)
    t1 = small_trainer(lr=0.5)
    t1.fit((x, y), epochs=2, callbacks=[GradientClipping(0.05)], verbose=0)
    ember.manual_seed(1)
    t2 = small_trainer(lr=0.5, grad_clip=0.05)
    t2.fit((x, y), epochs=2, verbose=0)
    for k, v in weights(t1.model).items():
        np.testing.assert_allclose(v, weights(t2.model)[k], rtol=1e-6)


def test_callback_hooks_run_in_order():
    x, y = blobs(n=40)
    calls = []
    hooks = {name: (lambda name: lambda *a: calls.append(name))(name)
             for name in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin",
                          "on_batch_end", "on_before_optimizer_step")}
    small_trainer().fit((x, y), epochs=1, batch_size=32, callbacks=[LambdaCallback(**hooks)], verbose=0)
    batch = ["on_batch_begin", "on_before_optimizer_step", "on_batch_end"]
    assert calls == ["on_train_begin", "on_epoch_begin"] + batch * 2 + ["on_epoch_end", "on_train_end"]
    with pytest.raises(TypeError, match="unknown hook"):
        LambdaCallback(on_epoch_finish=print)


# --- accumulation, resuming, interrupting ---------------------------------------------------------------------------
def test_gradient_accumulation_equals_one_big_batch_with_sgd():
    x, y = blobs(n=64)
    data = TensorDataset(ember.tensor(x), ember.tensor(y))
    results = []
    for batch_size, steps in ((32, 1), (8, 4)):
        ember.manual_seed(3)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        trainer = Trainer(model, ember.optim.SGD(model.parameters(), lr=0.5), nn.CrossEntropyLoss(),
                          accumulate_steps=steps)
        trainer.fit(DataLoader(data, batch_size=batch_size), epochs=3, verbose=0)
        assert trainer.global_step == 6
        results.append(weights(model))
    for k in results[0]:
        np.testing.assert_allclose(results[1][k], results[0][k], rtol=1e-5, atol=1e-6)
    ember.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    moved = not np.allclose(weights(model)["0.weight"], results[0]["0.weight"])
    assert moved


def test_partial_accumulation_at_the_end_of_an_epoch_still_steps():
    x, y = blobs(n=40)
    trainer = small_trainer(accumulate_steps=4)
    trainer.fit(DataLoader(TensorDataset(ember.tensor(x), ember.tensor(y)), batch_size=8), epochs=1, verbose=0)
    assert trainer.global_step == 2  # 5 batches: a step after 4, one for the last


def _resume_setup(seed):
    ember.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = ember.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    return Trainer(model, opt, nn.CrossEntropyLoss(), scheduler=sched)


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(tmp_path):
    x, y = blobs()
    data = TensorDataset(ember.tensor(x), ember.tensor(y))  # shuffled by ember's global generator
    straight = _resume_setup(0)
    full = straight.fit(data, epochs=4, val=(x[:16], y[:16]), verbose=0)

    first = _resume_setup(0)
    first.fit(data, epochs=2, val=(x[:16], y[:16]), callbacks=[ModelCheckpoint(tmp_path)], verbose=0)
    ember.manual_seed(123)  # a different random state and different initial weights
    resumed = _resume_setup(99)
    rest = resumed.fit(data, epochs=4, val=(x[:16], y[:16]), resume_from=tmp_path / "last.safetensors", verbose=0)
    assert rest.epoch == [0, 1, 2, 3]
    for key in ("loss", "accuracy", "val_loss", "lr"):
        assert rest[key] == full[key]
    for k, v in weights(straight.model).items():
        np.testing.assert_array_equal(weights(resumed.model)[k], v)
    assert resumed.scheduler.last_epoch == straight.scheduler.last_epoch == 4


def test_resume_with_adam_through_trainer_load_checkpoint(tmp_path):
    x, y = blobs()

    def make(seed):
        ember.manual_seed(seed)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        return Trainer(model, ember.optim.Adam(model.parameters(), lr=0.01), nn.CrossEntropyLoss())

    full = make(0).fit((x, y), epochs=3, verbose=0)
    first = make(0)
    first.fit((x, y), epochs=1, verbose=0)
    first.save_checkpoint(tmp_path / "c.safetensors")
    second = make(5)
    assert second.load_checkpoint(tmp_path / "c.safetensors") == 1
    rest = second.fit((x, y), epochs=3, initial_epoch=second.epoch, verbose=0)
    assert rest["loss"] == full["loss"][1:]


def test_ctrl_c_saves_a_checkpoint_and_returns_the_history(tmp_path, capsys):
    x, y = blobs()

    def interrupt(batch, logs):
        if trainer.epoch == 2 and batch == 1:
            raise KeyboardInterrupt

    trainer = small_trainer()
    ends = []
    done = LambdaCallback(on_train_end=lambda logs: ends.append(True))
    history = trainer.fit((x, y), epochs=10, callbacks=[LambdaCallback(on_batch_end=interrupt), done,
                                                        ModelCheckpoint(tmp_path / "ck")], verbose=0)
    assert history.epoch == [0, 1] and ends == [True]
    path = tmp_path / "ck" / "interrupted.safetensors"
    assert path.exists()
    assert str(path) in capsys.readouterr().out
    state = ember.io.load_checkpoint(path, restore_rng=False)
    assert state["epoch"] == 2 and state["extra"]["interrupted"] is True
    again = small_trainer()
    rest = again.fit((x, y), epochs=3, resume_from=path, verbose=0)
    assert rest.epoch == [0, 1, 2]

    explicit = tmp_path / "mine.safetensors"
    trainer = small_trainer()
    trainer.fit((x, y), epochs=3, callbacks=[LambdaCallback(on_epoch_begin=lambda e, logs: _raise(e == 1))],
                interrupt_checkpoint=explicit, verbose=0)
    assert explicit.exists() and str(explicit) in capsys.readouterr().out


def _raise(cond):
    if cond:
        raise KeyboardInterrupt


# --- progress display ----------------------------------------------------------------------------------------------
class _Terminal(_io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("verbose", [1, 2])
def test_progress_off_a_terminal_is_one_line_per_epoch(verbose, capsys):
    """A CI log or a pipe (pytest's captured stdout is not a terminal either) gets one line per epoch with
    verbose=1 as with verbose=2, and nothing with verbose=0."""
    x, y = blobs()
    small_trainer().fit((x, y), epochs=2, val=(x, y), verbose=verbose)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2 - loss: ")
    assert "val_accuracy" in lines[1] and "lr: 0.1" in lines[1] and "samples/s" in lines[1]
    small_trainer().fit((x, y), epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_on_a_terminal_and_fallback_without_tqdm(monkeypatch):
    pytest.importorskip("tqdm")
    x, y = blobs()
    term = _Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    small_trainer().fit((x, y), epochs=1, verbose=1)
    out = term.getvalue()
    assert "Epoch 1/1" in out and "samples/s" in out and "accuracy" in out and "lr=0.1" in out and "96/96" in out
    term = _Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    monkeypatch.setattr(trainer_module, "_tqdm", lambda: None)
    small_trainer().fit((x, y), epochs=2, verbose=1)
    assert len(term.getvalue().strip().splitlines()) == 2
    term = _Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    small_trainer().fit((x, y), epochs=2, verbose=0)
    assert term.getvalue() == ""


def test_event_record_layout_by_hand(tmp_path):
    """Each record is: u64 length, u32 masked crc of the length, data, u32 masked crc of the data."""
    with loggers.SummaryWriter(tmp_path) as w:
        w.add_scalar("x", 2.0, 5)
    data = open(w.path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert struct.unpack("<I", data[8:12])[0] == loggers.masked_crc32c(data[:8])
    assert struct.unpack("<I", data[12 + n:16 + n])[0] == loggers.masked_crc32c(data[12:12 + n])
    assert b"brain.Event:2" in data[12:12 + n]
    second = loggers.read_events(w.path)[1]
    assert second["step"] == 5 and second["scalars"] == {"x": 2.0}
