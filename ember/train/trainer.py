"""Trainer: fit / evaluate / predict in one call, as a short loop over ember's public API.

The loop in fit() and train_epoch() is meant to be read and copied: model.train(), then for each batch
train_step() (forward, loss, backward), and every accumulate_steps batches (clip), optimizer.step(),
optimizer.zero_grad(); scheduler.step() once per epoch, or after every optimizer step. Nothing is hidden behind it.

train_step(batch) is the override point, as in Keras: a subclass rewrites the maths of one step and keeps the loop
(accumulation, clipping, the optimizer and scheduler steps, callbacks, metrics, progress, checkpoints).
eval_step(batch) and predict_step(batch) are the same override points for evaluate() and predict().
"""
import math
import os
import sys
import time

import numpy as np

from .. import dtypes as _dt
from .. import io
from ..autograd import no_grad
from ..data import DataLoader, Dataset, IterableDataset, TensorDataset
from ..device import to_device
from ..nn.utils import clip_grad_norm_
from ..optim.lr_scheduler import ReduceLROnPlateau
from ..tensor import Tensor, as_tensor
from .callbacks import CallbackList, History, ModelCheckpoint
from .metrics import get_metric

__all__ = ["Trainer", "as_loader"]


class Trainer:
    """Train, evaluate and run a model.

    ``Trainer(model, optimizer, loss_fn, metrics=["accuracy"])`` then ``fit(train, epochs, val=...)``,
    ``evaluate(data)`` and ``predict(data)``. Data can be a DataLoader, a Dataset (batched by 32, shuffled for
    training) or (x, y) arrays/tensors. A batch is (inputs..., targets): the model gets every element but the last.

    loss_fn(outputs, targets) returns a scalar tensor (e.g. ``nn.CrossEntropyLoss()``); metrics are names
    ("accuracy", "top5_accuracy", "f1", "mae", ...), Metric objects or functions fn(outputs, targets) -> float.
    scheduler.step() runs once per epoch (ReduceLROnPlateau gets val_loss, or loss without validation data), or
    after every optimizer step with scheduler_interval="step" (OneCycleLR). grad_clip clips the total gradient norm;
    accumulate_steps=N steps the optimizer every N batches with the loss scaled by 1/N.

    To change what one training step computes (an extra loss term, several models, another batch layout),
    subclass and override ``train_step(batch)`` (and eval_step, predict_step); ``fit`` stays as it is.
    """

    def __init__(self, model, optimizer, loss_fn, metrics=("accuracy",), scheduler=None, device=None,
                 grad_clip=None, accumulate_steps=1, scheduler_interval="epoch"):
        if not isinstance(accumulate_steps, int) or accumulate_steps < 1:
            raise ValueError(f"Trainer: accumulate_steps must be a positive integer, got {accumulate_steps!r}")
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        self.model, self.optimizer, self.loss_fn, self.scheduler = model, optimizer, loss_fn, scheduler
        self.grad_clip, self.accumulate_steps, self.scheduler_interval = grad_clip, accumulate_steps, scheduler_interval
        self.metrics = [get_metric(m) for m in (metrics or ())]
        names = ["loss"] + [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"Trainer: metric names must be unique and not 'loss', got {names[1:]}")
        if device is not None:
            self.device = to_device(device)
            model.to(self.device)
        else:
            first = next(iter(model.parameters()), None)
            self.device = first.device if first is not None else to_device("cpu")
        self.epoch, self.global_step, self.stop_training = 0, 0, False
        self.history = History()

    # --- the training loop ------------------------------------------------------------------------------------
    def fit(self, train, epochs=1, val=None, callbacks=None, initial_epoch=0, *, resume_from=None, verbose=1,
            batch_size=32, interrupt_checkpoint=None):
        """Train until epoch `epochs` (counting from 0, so resumed runs pass the same total); returns the History.

        resume_from=path continues from a checkpoint (ModelCheckpoint's, or one saved on Ctrl-C) exactly where it
        stopped. Ctrl-C saves a checkpoint to interrupt_checkpoint (default: the ModelCheckpoint directory, else
        ./interrupted.safetensors) and returns the History of the finished epochs.
        verbose: 0 silent, 1 a progress bar when stdout is a terminal, 2 one line per epoch.
        """
        if self.loss_fn is None:
            raise ValueError("Trainer.fit: a loss_fn is needed to train")
        train = as_loader(train, batch_size, shuffle=True)
        val = None if val is None else as_loader(val, batch_size)
        callbacks = CallbackList(callbacks, self)
        self.history, self.stop_training = History(), False
        if resume_from is not None:
            initial_epoch = self.load_checkpoint(resume_from)
        self.epoch = initial_epoch
        callbacks.on_train_begin()
        progress = None
        try:
            for epoch in range(initial_epoch, epochs):
                callbacks.on_epoch_begin(epoch)
                progress = _Progress(verbose, epoch, epochs, _num_samples(train))
                lrs = [g["lr"] for g in self.optimizer.param_groups]  # the rates used in this epoch
                logs = self.train_epoch(train, callbacks, progress)
                if val is not None:
                    logs.update({"val_" + k: v for k, v in self.evaluate(val).items()})
                logs.update(_lr_logs(lrs))
                if self.scheduler is not None and self.scheduler_interval == "epoch":
                    if isinstance(self.scheduler, ReduceLROnPlateau):
                        self.scheduler.step(logs.get("val_loss", logs["loss"]))
                    else:
                        self.scheduler.step()
                self.epoch = epoch + 1
                self.history.append(epoch, logs)
                progress.close(logs)
                callbacks.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        except KeyboardInterrupt:
            if progress is not None:
                progress.close(None)
            self.optimizer.zero_grad()
            path = self._interrupt_path(interrupt_checkpoint, callbacks)
            self.save_checkpoint(path, interrupted=True)
            print(f"\nTraining interrupted after {self.epoch} finished epochs: checkpoint saved to {path} "
                  f"(continue with fit(..., resume_from={path!r}))")
        callbacks.on_train_end()
        return self.history

    def train_epoch(self, loader, callbacks=None, progress=None):
        """One pass over loader in training mode; returns the epoch's loss and metrics (averaged over samples)."""
        model, optimizer, n_acc = self.model, self.optimizer, self.accumulate_steps
        callbacks = callbacks or CallbackList()
        meter = _Meter(self.metrics)
        model.train()
        optimizer.zero_grad()
        pending = 0
        for i, batch in enumerate(loader):
            callbacks.on_batch_begin(i)
            batch = self._to_device(batch)
            loss, outputs, targets = self.train_step(batch)
            batch_logs = {"loss": float(loss), "size": _batch_size(batch)}
            pending += 1
            if pending == n_acc:
                self._optimizer_step(callbacks, batch_logs)
                pending = 0
            meter.update(batch_logs["loss"], _detach(outputs), targets, batch_logs["size"])
            callbacks.on_batch_end(i, batch_logs)
            if progress is not None:
                progress.update(batch_logs["size"], meter, optimizer.param_groups[0]["lr"])
        if pending:  # a last, partial accumulation
            self._optimizer_step(callbacks, {})
        return meter.result()

    def train_step(self, batch):
        """One training step on one batch: forward, loss, backward. Returns ``(loss, outputs, targets)``.

        batch is what the loader yields, its tensors on the trainer's device (a list becomes a tuple):
        ``(inputs..., targets)`` for the data fit() accepts. The returned loss (a scalar tensor or a float, not
        divided by accumulate_steps) is what the batch logs and, averaged over samples, the History report;
        outputs and targets go to the metrics (return None for both, with ``metrics=[]``, when there are none).

        The step leaves the gradients in ``.grad``: the loop, not the step, clips them, runs ``optimizer.step()``
        and ``optimizer.zero_grad()`` every ``accumulate_steps`` batches, steps a per-step scheduler and calls the
        callbacks. So the step divides the loss by ``accumulate_steps`` before backward(), and N accumulated
        batches give the gradient of their mean. An override that adds an L2 penalty::

            class L2Trainer(Trainer):
                def train_step(self, batch):
                    *inputs, targets = batch
                    outputs = self.model(*inputs)
                    penalty = sum((p * p).sum() for p in self.model.parameters())
                    loss = self.loss_fn(outputs, targets) + 1e-3 * penalty
                    (loss / self.accumulate_steps).backward()
                    return loss, outputs, targets

        A step may also update other models with their own optimizers (a GAN's discriminator) before it leaves
        the gradients of ``self.optimizer``'s parameters to the loop.
        """
        inputs, targets = _unpack(batch)
        outputs = self.model(*inputs)
        loss = self.loss_fn(outputs, targets)
        (loss / self.accumulate_steps if self.accumulate_steps > 1 else loss).backward()
        return loss, outputs, targets

    def _optimizer_step(self, callbacks, logs):
        callbacks.on_before_optimizer_step(self.global_step, logs)
        if self.grad_clip is not None:
            clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.global_step += 1
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()

    # --- evaluation and inference -----------------------------------------------------------------------------
    def evaluate(self, data, batch_size=32):
        """The loss and metrics over data, in eval mode without gradients: {'loss': ..., 'accuracy': ...}."""
        loader, meter, was_training = as_loader(data, batch_size), _Meter(self.metrics), self.model.training
        self.model.eval()
        with no_grad():
            for batch in loader:
                batch = self._to_device(batch)
                loss, outputs, targets = self.eval_step(batch)
                meter.update(None if loss is None else float(loss), outputs, targets, _batch_size(batch))
        self.model.train(was_training)
        return meter.result()

    def predict(self, data, batch_size=32):
        """The model's outputs for every sample of data, concatenated along dim 0 (targets, if any, are ignored:
        a batch of several elements feeds all but the last to the model)."""
        from ..ops.join import cat
        loader, outs, was_training = as_loader(data, batch_size), [], self.model.training
        self.model.eval()
        with no_grad():
            for batch in loader:
                outs.append(self.predict_step(self._to_device(batch)))
        self.model.train(was_training)
        if not outs:
            raise ValueError("Trainer.predict: the data is empty")
        if isinstance(outs[0], (tuple, list)):
            return tuple(cat(list(parts)) for parts in zip(*outs))
        return cat(outs)

    def eval_step(self, batch):
        """One step of evaluate(), run in eval mode without gradients: ``(loss, outputs, targets)`` as train_step
        returns them, with loss None when the trainer has no loss_fn. Override it along with train_step when the
        batch layout or the loss changes (fit's validation runs evaluate())."""
        inputs, targets = _unpack(batch)
        outputs = self.model(*inputs)
        return (self.loss_fn(outputs, targets) if self.loss_fn is not None else None), outputs, targets

    def predict_step(self, batch):
        """One step of predict(), run in eval mode without gradients: the model's outputs for the batch's inputs."""
        inputs, _ = _unpack(batch)
        return self.model(*inputs)

    # --- checkpoints --------------------------------------------------------------------------------------------
    def save_checkpoint(self, path, **extra):
        """Save model, optimizer, scheduler, finished epochs, random state and history (atomically)."""
        io.save_checkpoint(path, self.model, self.optimizer, self.scheduler, epoch=self.epoch,
                           global_step=self.global_step, history=self.history.history,
                           history_epochs=self.history.epoch, **extra)

    def load_checkpoint(self, path):
        """Restore everything save_checkpoint saved (the random state included, so shuffling continues as in an
        uninterrupted run); returns the number of finished epochs, where training goes on."""
        state = io.load_checkpoint(path, self.model, self.optimizer, self.scheduler)
        extra = state.get("extra") or {}
        self.epoch, self.global_step = int(state.get("epoch") or 0), int(extra.get("global_step", 0))
        self.history = History(extra.get("history"), extra.get("history_epochs"))
        return self.epoch

    def _interrupt_path(self, path, callbacks):
        if path is not None:
            return os.fspath(path)
        for cb in callbacks:
            if isinstance(cb, ModelCheckpoint):
                return os.path.join(cb.dirpath, "interrupted.safetensors")
        return "interrupted.safetensors"

    # --- batches ------------------------------------------------------------------------------------------------
    def _to_device(self, batch):
        """The batch with its tensors on the trainer's device (a list becomes a tuple)."""
        dev = self.device

        def move(x):
            return x.to(dev) if isinstance(x, Tensor) and x.device != dev else x
        return tuple(map(move, batch)) if isinstance(batch, (list, tuple)) else move(batch)


def as_loader(data, batch_size=32, shuffle=False):
    """A DataLoader (or any iterable of batches) as is; a Dataset wrapped in a DataLoader; (x, y) arrays or
    tensors (or a single x) wrapped in a TensorDataset first. Floating NumPy arrays get the default dtype."""
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, (Tensor, np.ndarray)):
        return DataLoader(TensorDataset(_as_tensor(data)), batch_size=batch_size, shuffle=shuffle)
    if isinstance(data, (tuple, list)) and data and all(isinstance(d, (Tensor, np.ndarray)) for d in data):
        return DataLoader(TensorDataset(*map(_as_tensor, data)), batch_size=batch_size, shuffle=shuffle)
    if isinstance(data, IterableDataset):
        return DataLoader(data, batch_size=batch_size)
    if isinstance(data, Dataset) or (not isinstance(data, (tuple, list)) and hasattr(data, "__getitem__")
                                     and hasattr(data, "__len__")):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle)
    if hasattr(data, "__iter__"):
        return data
    raise TypeError(f"expected a DataLoader, a Dataset or (x, y) arrays/tensors, got {type(data).__name__}")


def _as_tensor(a):
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return as_tensor(a, dtype=_dt.get_default_dtype())
    return as_tensor(a)


def _unpack(batch):
    """(inputs tuple, targets) of a batch: the model gets every element but the last; a batch of one element, or
    one that is not a list or tuple, is all inputs and has no targets."""
    if not isinstance(batch, (list, tuple)):
        return (batch,), None
    return (tuple(batch[:-1]), batch[-1]) if len(batch) > 1 else (tuple(batch), None)


def _batch_size(batch):
    inputs, targets = _unpack(batch)
    ref = targets if isinstance(targets, Tensor) and targets.ndim else (inputs[0] if inputs else None)
    return int(ref.shape[0]) if isinstance(ref, Tensor) and ref.ndim else 1


def _detach(outputs):
    return outputs.detach() if isinstance(outputs, Tensor) else outputs


def _num_samples(loader):
    try:
        return len(loader.dataset)
    except (AttributeError, TypeError):
        return None


def _lr_logs(lrs):
    return {"lr": lrs[0]} if len(lrs) == 1 else {"lr": lrs[0], **{f"lr_group{i}": lr for i, lr in enumerate(lrs)}}


class _Meter:
    """Sample-weighted running loss plus the metrics' running state, for one epoch or one evaluation."""

    def __init__(self, metrics):
        self.metrics, self.loss_sum, self.n, self.has_loss = metrics, 0.0, 0, False
        for m in metrics:
            m.reset()

    def update(self, loss, outputs, targets, n):
        if loss is not None:
            self.loss_sum += loss * n
            self.has_loss = True
        self.n += n
        for m in self.metrics:
            m.update(outputs, targets)

    def result(self):
        out = {"loss": self.loss_sum / self.n if self.n else math.nan} if self.has_loss else {}
        out.update((m.name, m.compute()) for m in self.metrics)
        return out


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def _format(logs):
    return " - ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}" for k, v in logs.items())


class _Progress:
    """A tqdm bar per epoch with loss, metrics, lr and samples/s (verbose=1 on a terminal), or one line per epoch
    (verbose=2, or verbose=1 on a terminal without tqdm), or nothing."""

    def __init__(self, verbose, epoch, epochs, total):
        tty = getattr(sys.stdout, "isatty", lambda: False)()
        tqdm = _tqdm() if verbose == 1 and tty else None
        self.mode = "bar" if tqdm else ("line" if verbose == 2 or (verbose == 1 and tty) else None)
        self.title, self.samples, self.shown = f"Epoch {epoch + 1}/{epochs}", 0, 0.0
        self.start = self.last = time.perf_counter()
        self.bar = (tqdm(total=total, desc=self.title, unit=" samples", file=sys.stdout, leave=True)
                    if tqdm else None)  # tqdm's rate is then the samples/s

    def rate(self):
        return self.samples / max(self.last - self.start, 1e-9)  # training samples only, not validation

    def update(self, n, meter, lr):
        self.samples += n
        self.last = time.perf_counter()
        if self.bar is None:
            return
        self.bar.update(n)
        now = time.perf_counter()
        if now - self.shown > 0.2:  # computing the running metrics costs time: refresh a few times a second
            self.shown = now
            self.bar.set_postfix({**meter.result(), "lr": lr}, refresh=False)

    def close(self, logs):
        if self.bar is not None:
            if logs is not None:
                self.bar.set_postfix(logs, refresh=False)
            self.bar.close()
        elif self.mode == "line" and logs is not None:
            print(f"{self.title} - {_format(logs)} - {self.rate():.0f} samples/s - "
                  f"{time.perf_counter() - self.start:.1f}s", flush=True)
