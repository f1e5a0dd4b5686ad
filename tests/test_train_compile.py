"""Trainer(compile=True): the compiled training, evaluation and prediction steps give the eager Trainer's results,
and the loop around them (callbacks, accumulation, clipping, schedulers, resuming, autocast) behaves as before."""
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.train import GradientClipping, LambdaCallback, LearningRateMonitor, Trainer

RTOL = 1e-5


def regression(n=64, seed=0):
    """(x float32 (n, 6), y float32 (n, 2)): a noisy linear map."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    return ember.tensor(x), ember.tensor(x @ rng.normal(size=(6, 2)).astype(np.float32) + 0.1)


def make(compile, seed=0, cls=Trainer, **kw):
    """BatchNorm (running statistics), Dropout (random numbers every step), Adam (state), a per-step scheduler."""
    ember.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    opt = ember.optim.Adam(model.parameters(), lr=0.01)
    sched = ember.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    return cls(model, opt, nn.MSELoss(), metrics=["mae"], scheduler=sched, scheduler_interval="step",
               compile=compile, **kw)


def run(compile, epochs=2, callbacks=(), cls=Trainer, **kw):
    """Per-batch losses, the History, final weights, evaluate() and predict() of a run, and its trainer."""
    trainer = make(compile, cls=cls, **kw)
    x, y = regression()
    batch_losses = []
    record = LambdaCallback(on_batch_end=lambda i, logs: batch_losses.append(logs["loss"]))
    history = trainer.fit((x, y), epochs=epochs, val=(x[:20], y[:20]), batch_size=16, verbose=0,
                          callbacks=[record, *callbacks])
    weights = [p.detach().numpy().copy() for p in trainer.model.state_dict().values()]
    return {"batch_losses": batch_losses, "history": history.history, "weights": weights,
            "evaluate": trainer.evaluate((x, y), batch_size=24), "predict": trainer.predict(x).numpy()}, trainer


# a measurement, not a result: a compiled step's intermediate buffers are no tensors, so its peak is lower
MEASURED = "peak_memory_mib"


def assert_same(got, want):
    np.testing.assert_allclose(got["batch_losses"], want["batch_losses"], rtol=RTOL)
    assert got["history"].keys() == want["history"].keys()
    for k, v in want["history"].items():
        if k != MEASURED:
            np.testing.assert_allclose(got["history"][k], v, rtol=RTOL, err_msg=k)
    for a, b in zip(got["weights"], want["weights"]):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-7)
    for k, v in want["evaluate"].items():
        np.testing.assert_allclose(got["evaluate"][k], v, rtol=RTOL, err_msg=k)
    np.testing.assert_allclose(got["predict"], want["predict"], rtol=RTOL, atol=1e-7)


@pytest.mark.parametrize("kw", [{}, {"grad_clip": 0.3}], ids=["plain", "grad_clip"])
def test_compiled_trainer_equals_eager_over_two_epochs(kw):
    want, _ = run(False, **kw)
    got, trainer = run(True, **kw)
    assert_same(got, want)
    # one graph held the whole step: forward, backward, (clipping,) the optimizer's updates
    step = trainer._compiled["_train_and_update"]
    assert len(step.cache) == 1 and any(op.name == "OptimizerUpdate" for op in step.graph.walk())
    assert {"eval_step", "predict_step"} <= set(trainer._compiled) and "train_step" not in trainer._compiled


@pytest.mark.parametrize("case", ["accumulate", "clipping callback", "lr monitor per step"])
def test_what_runs_between_backward_and_the_update_splits_the_step_and_keeps_the_results(case):
    callbacks, kw = [], {}
    if case == "accumulate":
        kw = {"accumulate_steps": 3}  # 4 batches an epoch: steps after 3 and after the last, partial one
    elif case == "clipping callback":
        callbacks = [GradientClipping(0.3)]
    else:
        callbacks = [LearningRateMonitor(logging_interval="step")]
    want, _ = run(False, callbacks=callbacks, **kw)
    got, trainer = run(True, callbacks=callbacks, **kw)
    assert_same(got, want)
    assert "_train_and_update" not in trainer._compiled  # train_step and the update are graphs of their own
    for name in ("train_step", "_update"):
        step = trainer._compiled[name]
        assert step.graph is not None and all(e.broken is None for entries in step.cache.values() for e in entries)
    if case == "accumulate":  # the later batches of an accumulation add to the gradients in their own graph
        assert [len(entries) for entries in trainer._compiled["train_step"].cache.values()] == [2]


def test_compiled_classification_equals_eager():
    """Class-index targets change every batch: the graph must read this batch's, not the traced one's."""
    def fit(compile):
        ember.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
        trainer = Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                          compile=compile)
        x = ember.randn(48, 6)
        return trainer.fit((x, x[:, :3].argmax(1)), epochs=2, batch_size=16, verbose=0)["loss"]

    np.testing.assert_allclose(fit(True), fit(False), rtol=RTOL)


def test_callbacks_run_in_the_same_order_with_the_same_logs():
    def calls(compile):
        seen = []
        hooks = {name: (lambda name: lambda *a: seen.append((name, a[0] if a and not isinstance(a[0], dict)
                                                              else None)))(name)
                 for name in ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_batch_end",
                              "on_epoch_end", "on_train_end")}
        result, _ = run(compile, callbacks=[LambdaCallback(**hooks)])
        return seen, result["batch_losses"]

    (eager, eager_losses), (compiled, losses) = calls(False), calls(True)
    assert compiled == eager
    np.testing.assert_allclose(losses, eager_losses, rtol=RTOL)


def test_mid_epoch_resume_of_a_compiled_run_equals_an_uninterrupted_one(tmp_path):
    path = tmp_path / "stop.safetensors"
    want, _ = run(False, epochs=3)

    def stop(i, logs):
        if trainer.epoch == 1 and i == 1:
            raise KeyboardInterrupt

    trainer = make(True)
    x, y = regression()
    trainer.fit((x, y), epochs=3, val=(x[:20], y[:20]), batch_size=16, verbose=0, interrupt_checkpoint=path,
                callbacks=[LambdaCallback(on_batch_end=stop)])
    assert trainer.interrupted
    resumed = make(True, seed=7)
    history = resumed.fit((x, y), epochs=3, val=(x[:20], y[:20]), batch_size=16, verbose=0, resume_from=path)
    for k, v in want["history"].items():
        if k != MEASURED:
            np.testing.assert_allclose(history.history[k], v, rtol=RTOL, err_msg=k)
    for a, b in zip(resumed.model.state_dict().values(), want["weights"]):
        np.testing.assert_allclose(a.numpy(), b, rtol=RTOL, atol=1e-7)


def test_load_checkpoint_into_a_trainer_that_already_ran_compiled(tmp_path):
    """The optimizer state a checkpoint restores is new tensors: graphs traced before must not be reused."""
    def weights_after(compile):
        trainer = make(compile)
        x, y = regression()
        trainer.fit((x, y), epochs=1, batch_size=16, verbose=0)
        trainer.save_checkpoint(tmp_path / f"{compile}.safetensors")
        trainer.fit((x, y), epochs=2, initial_epoch=1, batch_size=16, verbose=0)
        trainer.load_checkpoint(tmp_path / f"{compile}.safetensors")
        trainer.fit((x, y), epochs=2, initial_epoch=1, batch_size=16, verbose=0)
        return [p.numpy().copy() for p in trainer.model.state_dict().values()]

    for a, b in zip(weights_after(True), weights_after(False)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-7)


def test_a_changed_grad_clip_is_seen():
    """A graph holds the Python values it was traced with: the trainer's compiled steps are made again."""
    def weights_after(compile):
        trainer = make(compile)
        x, y = regression()
        trainer.fit((x, y), epochs=1, batch_size=16, verbose=0)
        trainer.grad_clip = 0.05
        trainer.fit((x, y), epochs=2, initial_epoch=1, batch_size=16, verbose=0)
        return [p.numpy().copy() for p in trainer.model.state_dict().values()]

    for a, b in zip(weights_after(True), weights_after(False)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-7)


class AmpTrainer(Trainer):
    """Mixed precision as PyTorch recommends it: autocast around the forward and the loss only."""

    def train_step(self, batch):
        *inputs, targets = batch
        with ember.autocast("cpu", dtype=ember.bfloat16):
            outputs = self.model(*inputs)
            loss = self.loss_fn(outputs, targets)
        (loss / self.accumulate_steps).backward()
        return loss, outputs, targets


def test_autocast_in_the_step_gives_the_eager_results():
    pytest.importorskip("ml_dtypes")
    want, _ = run(False, cls=AmpTrainer)
    got, trainer = run(True, cls=AmpTrainer)
    assert_same(got, want)
    graph = trainer._compiled["_train_and_update"].graph
    assert any(op.name == "OptimizerUpdate" for op in graph.walk())
    assert any(v is not None and v.dtype == ember.bfloat16.np for op in graph.walk() for v in op.outputs)


class ItemTrainer(Trainer):
    """A train_step with a graph break: .item() in the middle."""

    seen = []

    def train_step(self, batch):
        loss, outputs, targets = super().train_step(batch)
        self.seen.append(loss.item())
        return loss, outputs, targets


def test_a_step_that_cannot_be_compiled_warns_once_and_runs_eagerly():
    want, _ = run(False, cls=ItemTrainer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got, _ = run(True, cls=ItemTrainer)
    breaks = [str(w.message) for w in caught if "graph break" in str(w.message)]
    assert len(breaks) == 1 and "_train_and_update" in breaks[0] and "item()" in breaks[0], breaks
    assert_same(got, want)


def test_compile_must_be_a_boolean():
    with pytest.raises(TypeError, match="compile must be True or False"):
        make("yes")
