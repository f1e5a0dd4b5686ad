"""Trainer: fit / evaluate / predict in one call, as a short loop over ember's public API.

The loop in fit() and train_epoch() is meant to be read and copied: model.train(), then for each batch
train_step() (forward, loss, backward), and every accumulate_steps batches (clip), optimizer.step(),
optimizer.zero_grad(); scheduler.step() once per epoch, or after every optimizer step. Nothing is hidden behind it.

train_step(batch) is the override point, as in Keras: a subclass rewrites the maths of one step and keeps the loop
(accumulation, clipping, the optimizer and scheduler steps, callbacks, metrics, progress, checkpoints).
eval_step(batch) and predict_step(batch) are the same override points for evaluate() and predict().

With compile=True the steps run through ember.compile (see Trainer); the loop stays the same.
"""
import contextlib
import math
import os
import sys
import time

import numpy as np

from .. import dtypes as _dt
from .. import io
from .. import memory as _memory
from ..amp import GradScaler, autocast
from ..autograd import no_grad
from ..compiler import compile as _compile
from ..data import DataLoader, Dataset, IterableDataset, TensorDataset
from ..device import to_device
from ..nn.utils import clip_grad_norm_
from ..ops.random import Generator, default_generator
from ..optim.lr_scheduler import ReduceLROnPlateau
from ..serialization import InvalidCheckpointError
from ..tensor import Tensor, as_tensor
from .callbacks import Callback, CallbackList, History, ModelCheckpoint
from .interrupt import StopRequest
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

    compile=True runs the steps compiled (``ember.compile``), with the same results: while nothing has to run
    between backward and the optimizer step, one graph holds train_step, the clipping, optimizer.step() and
    zero_grad(); eval_step and predict_step are graphs of their own. Where the loop must run code in between (a
    callback with on_before_optimizer_step, such as GradientClipping or LearningRateMonitor, or accumulate_steps >
    1), train_step and the update are two graphs (train_step's with and without gradients to add to). A step the
    compiler cannot capture (``.item()`` in an overridden train_step, say) runs eagerly after ember.compile's one
    warning.

    precision="bf16" or "fp16" trains in mixed precision: train_step, eval_step and predict_step run inside
    ``ember.autocast(<the device's type>, dtype=bfloat16 / float16)`` (the parameters stay float32); with "fp16"
    a ``GradScaler`` (``self.scaler``) scales the loss in ``self.backward(loss)``, unscales the gradients before
    clipping and the callbacks' on_before_optimizer_step, and skips the optimizer steps whose gradients hold an
    inf or a NaN. "32" (the default) trains in the parameters' dtype. compile=True takes "32" and "bf16".

    Args:
        model (nn.Module): the model to train (moved to device when one is given).
        optimizer (Optimizer): the optimizer of the model's parameters.
        loss_fn (callable): ``loss_fn(outputs, targets)`` -> a scalar tensor; None for a trainer that only
            predicts (fit needs one).
        metrics (sequence): metric names, Metric objects or functions (see ``get_metric``); their names must be
            unique. Default: ``("accuracy",)``.
        scheduler (LRScheduler or ReduceLROnPlateau, optional): stepped by the loop. Default: None.
        device (str or ember.device, optional): where to train. Default: None (the model's parameters' device).
        grad_clip (float, optional): the largest total gradient norm (clip_grad_norm_). Default: None (no clip).
        accumulate_steps (int): the number of batches whose gradients one optimizer step uses. Default: 1.
        scheduler_interval (str): ``"epoch"`` or ``"step"`` (after every optimizer step). Default: ``"epoch"``.
        compile (bool): run the steps through ``ember.compile``. Default: False.
        precision (str): ``"32"``, ``"bf16"`` or ``"fp16"`` (mixed precision, as above). Default: ``"32"``.

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``Model.fit`` / ``evaluate`` / ``predict`` and its
        callbacks); the loop it runs is the usual PyTorch loop over ember's PyTorch API.

    Example:
        >>> from ember.train import Trainer
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> trainer = Trainer(model, ember.optim.Adam(model.parameters()), nn.CrossEntropyLoss())
        >>> x, y = ember.randn(16, 4), (ember.randn(16) > 0).long()
        >>> history = trainer.fit((x, y), epochs=1, verbose=0)
        >>> sorted(history.history), len(history["loss"])
        (['accuracy', 'loss', 'lr', 'peak_memory_mib'], 1)
        >>> sorted(trainer.evaluate((x, y)))
        ['accuracy', 'loss']
    """

    PRECISIONS = {"32": None, "bf16": _dt.bfloat16, "fp16": _dt.float16}
    _fuse_update = True  # compile=True: one graph may run a step's backward and its update

    def __init__(self, model, optimizer, loss_fn, metrics=("accuracy",), scheduler=None, device=None,
                 grad_clip=None, accumulate_steps=1, scheduler_interval="epoch", compile=False, precision="32"):
        if not isinstance(compile, bool):
            raise TypeError(f"Trainer: compile must be True or False, got {compile!r}")
        if not isinstance(precision, str) or precision not in self.PRECISIONS:
            raise ValueError(f"Trainer: precision must be one of {', '.join(map(repr, self.PRECISIONS))}, got "
                             f"{precision!r}")
        if precision == "bf16" and _dt.bfloat16 is None:
            raise RuntimeError("Trainer: precision='bf16' needs the ml_dtypes package (pip install ember[bf16])")
        if precision == "fp16" and compile:  # the scaler's inf checks read values between the graph's steps
            raise ValueError("Trainer: compile=True does not take precision='fp16' (its GradScaler runs eagerly); "
                             "use precision='bf16', or compile=False")
        if not isinstance(accumulate_steps, int) or accumulate_steps < 1:
            raise ValueError(f"Trainer: accumulate_steps must be a positive integer, got {accumulate_steps!r}")
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        self.model, self.optimizer, self.loss_fn, self.scheduler = model, optimizer, loss_fn, scheduler
        self.grad_clip, self.accumulate_steps, self.scheduler_interval = grad_clip, accumulate_steps, scheduler_interval
        self.compile = compile
        self._compiled, self._compiled_for = {}, None  # the compiled steps, and the objects they were traced with
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
        self.precision = precision
        self.scaler = GradScaler(self.device.type) if precision == "fp16" else None
        self.epoch, self.global_step, self.stop_training, self.interrupted = 0, 0, False, False
        self.history = History()
        # what the message after Ctrl-C suggests to continue (None: fit(..., resume_from=<the checkpoint>))
        self.resume_hint = None
        # where training stands inside an epoch, for checkpoints saved there (see _position), and what
        # load_checkpoint restored for the next fit
        self._epoch_state = self._done = self._restored = self._stop = self._callbacks = self._loader = None
        self._in_step = False

    # --- the training loop ------------------------------------------------------------------------------------
    def fit(self, train, epochs=1, val=None, callbacks=None, initial_epoch=0, *, resume_from=None, verbose=1,
            batch_size=32, interrupt_checkpoint=None):
        """Train until epoch `epochs` (counting from 0, so resumed runs pass the same total); returns the History.

        resume_from=path continues from a checkpoint (ModelCheckpoint's, or one saved on Ctrl-C, even in the
        middle of an epoch) exactly where it stopped: weights, optimizer, scheduler, random state, the batches of
        the epoch already done (the loader's pass is replayed up to there without training, so that its order and
        random transforms come out the same), the epoch's running metrics, the callbacks' state (the best value
        of ModelCheckpoint). A fit right after load_checkpoint(path) continues the same way.

        The first Ctrl-C stops training at the end of the current batch (a second one at once), saves a
        checkpoint to interrupt_checkpoint (default: the ModelCheckpoint directory, else
        ./interrupted.safetensors), sets ``self.interrupted`` and returns the History of the finished epochs.

        Args:
            train (DataLoader, Dataset or tuple): the training data: a DataLoader, a Dataset (batched, shuffled)
                or (x, y) arrays/tensors (see as_loader).
            epochs (int): the index at which training stops (the total number of epochs). Default: 1.
            val (DataLoader, Dataset or tuple, optional): validation data, evaluated after every epoch (its
                values logged as ``val_<name>``). Default: None.
            callbacks (list[Callback], optional): the callbacks, called in order. Default: None.
            initial_epoch (int): the epoch to start from. Default: 0.
            resume_from (str or os.PathLike, optional): a checkpoint to continue from (sets initial_epoch).
                Default: None.
            verbose (int): 0 silent, 1 a progress bar when stdout is a terminal (else one line per epoch), 2 one
                line per epoch. Default: 1.
            batch_size (int): the batch size for data that is not a DataLoader. Default: 32.
            interrupt_checkpoint (str or os.PathLike, optional): where Ctrl-C saves. Default: None (see above).

        Returns:
            History: the logs of the epochs run (also ``self.history``).

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``Model.fit``).

        Example:
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> x, y = ember.ones(4, 2), ember.tensor([0, 1, 0, 1])
            >>> history = trainer.fit((x, y), epochs=1, verbose=0)
            >>> len(history), sorted(history.history)
            (1, ['accuracy', 'loss', 'lr', 'peak_memory_mib'])
        """
        if self.loss_fn is None:
            raise ValueError("Trainer.fit: a loss_fn is needed to train")
        train = as_loader(train, batch_size, shuffle=True)
        val = None if val is None else as_loader(val, batch_size)
        callbacks = CallbackList(callbacks, self)
        self.history, self.stop_training, self.interrupted = History(), False, False
        self._epoch_state = self._done = None
        self._in_step = False
        if resume_from is not None:
            initial_epoch = self.load_checkpoint(resume_from)
        restored, self._restored = self._restored, None
        if restored is not None and restored["epoch"] != initial_epoch:
            restored = None  # fit starts elsewhere than the checkpoint: its position means nothing here
        self.epoch = initial_epoch
        self._callbacks, self._loader = callbacks, train
        if restored is not None and restored["data_rng"] is not None:
            _set_states(_generators(train)[1:], restored["data_rng"])
        callbacks.on_train_begin()
        if restored is not None:
            callbacks.load_state_dict(restored["callbacks"])
        resume = restored["position"] if restored is not None else None
        progress = None
        with StopRequest() as self._stop, _memory.counting():  # for each epoch's peak_memory_mib
            try:
                for epoch in range(initial_epoch, epochs):
                    callbacks.on_epoch_begin(epoch)
                    device = self._memory_device()
                    _memory.reset_peak(device)
                    held = _memory.allocated(device)
                    progress = _Progress(verbose, epoch, epochs, _num_samples(train))
                    # the rates used in this epoch
                    lrs = resume["lrs"] if resume is not None else [g["lr"] for g in self.optimizer.param_groups]
                    logs = self.train_epoch(train, callbacks, progress, _lrs=lrs, _resume=resume)
                    resume = None
                    if val is not None:
                        logs.update({"val_" + k: v for k, v in self.evaluate(val).items()})
                    # the most tensor memory the epoch held at once beyond what was live before it (activations,
                    # gradients, the optimizer's state in the epoch that makes it), so a resumed run reports the same
                    logs["peak_memory_mib"] = round((_memory.max_allocated(device) - held) / 2**20, 2)
                    logs.update(_lr_logs(lrs))
                    self._in_step = True  # the scheduler, the epoch count and the history change together
                    if self.scheduler is not None and self.scheduler_interval == "epoch":
                        if isinstance(self.scheduler, ReduceLROnPlateau):
                            self.scheduler.step(logs.get("val_loss", logs["loss"]))
                        else:
                            self.scheduler.step()
                    self.epoch = epoch + 1
                    self.history.append(epoch, logs)
                    self._epoch_state = self._done = None
                    self._in_step = False
                    progress.close(logs)
                    callbacks.on_epoch_end(epoch, logs)
                    if self.stop_training:
                        break
                    self._stop.check()
            except KeyboardInterrupt:
                self._on_interrupt(progress, interrupt_checkpoint, callbacks)
        self._stop = None
        callbacks.on_train_end()
        return self.history

    def _memory_device(self):
        """The device whose tensor memory fit reports: the model's (the CPU for a model without parameters)."""
        p = next(iter(self.model.parameters()), None)
        return None if p is None else p.device

    def _on_interrupt(self, progress, path, callbacks):
        if progress is not None:
            progress.close(None)
        self.interrupted = True
        if self._in_step:  # a second Ctrl-C, or a KeyboardInterrupt raised inside a step
            print("\nTraining interrupted in the middle of a step: no checkpoint saved (the weights may be "
                  "half-updated); the last checkpoint saved before is kept")
            return
        path = self._interrupt_path(path, callbacks)
        self.save_checkpoint(path, interrupted=True)
        hint = self.resume_hint or f"fit(..., resume_from={path!r})"
        print(f"\nTraining interrupted {self._where()}: checkpoint saved to {path}; continue with: {hint}")

    def _where(self):
        done = self._done[0] if self._done is not None else 0
        if not done:
            return f"after {self.epoch} finished epochs"
        try:
            total = f" of {len(self._loader)}"
        except TypeError:
            total = ""
        return f"in epoch {self.epoch + 1} after {done}{total} batches"

    def train_epoch(self, loader, callbacks=None, progress=None, *, _lrs=None, _resume=None):
        """One pass over loader in training mode: what fit runs for each epoch (without validation, scheduler
        epochs or history).

        Args:
            loader (iterable): the batches (a DataLoader).
            callbacks (CallbackList, optional): the callbacks whose batch hooks run. Default: None (none).
            progress (optional): fit's progress display. Default: None (none).

        Returns:
            dict: the epoch's loss and metrics, averaged over the samples.

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``Model.fit`` with ``epochs=1``).

        Example:
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> x, y = ember.ones(4, 2), ember.tensor([0, 1, 0, 1])
            >>> sorted(trainer.train_epoch(ember.train.as_loader((x, y))))
            ['accuracy', 'loss']
        """
        model, optimizer, n_acc = self.model, self.optimizer, self.accumulate_steps
        callbacks = callbacks or CallbackList()
        meter = _Meter(self.metrics)
        model.train()
        optimizer.zero_grad()
        generators = _generators(loader)
        if _resume is not None:
            _set_states(generators, _resume["epoch_rng"])
        # the random state before the pass draws its order: a checkpoint saved inside the epoch replays from it
        lrs = _lrs if _lrs is not None else [g["lr"] for g in optimizer.param_groups]
        self._epoch_state = {"rng": [g.rng.bit_generator.state for g in generators], "meter": meter, "lrs": lrs}
        batches, done, pending = iter(loader), 0, 0
        if _resume is not None:
            done, pending = self._replay(batches, _resume, meter)
            if progress is not None:
                progress.skip(meter.n)
        self._done = (done, pending, default_generator.rng.bit_generator.state)
        # compile=True with nothing to run between backward and the update: one graph does both
        fused = self.compile and self._fuse_update and n_acc == 1 and not _hooks_before_step(callbacks)
        for i, batch in enumerate(batches, start=done):
            callbacks.on_batch_begin(i)
            self._in_step = True
            batch = self._to_device(batch)
            if fused:
                with self.autocast():
                    loss, outputs, targets = self._step("_train_and_update")(batch)
                batch_logs = {"loss": float(loss), "size": _batch_size(batch)}
                self._after_update()
            else:
                with self.autocast():
                    loss, outputs, targets = self._step("train_step")(batch)
                batch_logs = {"loss": float(loss), "size": _batch_size(batch)}
                pending += 1
                if pending == n_acc:
                    self._optimizer_step(callbacks, batch_logs)
                    pending = 0
            meter.update(batch_logs["loss"], _detach(outputs), targets, batch_logs["size"])
            # a consistent point: i + 1 batches done (a checkpoint saved from here on resumes after them)
            self._done = (i + 1, pending, default_generator.rng.bit_generator.state)
            self._in_step = False
            callbacks.on_batch_end(i, batch_logs)
            if progress is not None:
                progress.update(batch_logs["size"], meter, optimizer.param_groups[0]["lr"])
            if self._stop is not None:
                self._stop.check()
        if pending:  # a last, partial accumulation
            self._in_step = True
            self._optimizer_step(callbacks, {})
            self._done = (self._done[0], 0, default_generator.rng.bit_generator.state)
            self._in_step = False
        return meter.result()

    def _replay(self, batches, resume, meter):
        """Draw the batches a checkpoint's epoch had done (without training on them), then restore the state after
        them: random state, running metrics, accumulated gradients. Returns (batches done, pending steps)."""
        done = resume["batches"]
        for n in range(done):
            if next(batches, None) is None:
                raise ValueError(f"Trainer.fit: cannot resume after batch {done} of the epoch: the data now has "
                                 f"only {n} batches (it changed since the checkpoint was saved)")
        default_generator.set_state(resume["rng"])
        meter.load_state_dict(resume["meter"])
        params = self._params()
        for p, g in zip(params, resume.get("grads") or [None] * len(params)):
            if g is not None:
                p.grad = g.to(p.device)
        return done, resume["pending"]

    def _params(self):
        return [p for group in self.optimizer.param_groups for p in group["params"]]

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
                    self.backward(loss / self.accumulate_steps)  # loss.backward(), scaled under "fp16"
                    return loss, outputs, targets

        A step may also update other models with their own optimizers (a GAN's discriminator) before it leaves
        the gradients of ``self.optimizer``'s parameters to the loop.

        Args:
            batch (tuple or Tensor): one batch, on the trainer's device.

        Returns:
            tuple: ``(loss, outputs, targets)``.

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``Model.train_step``).

        Example:
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> x, y = ember.ones(4, 2), ember.tensor([0, 1, 0, 1])
            >>> loss, outputs, targets = trainer.train_step((x, y))
            >>> outputs.shape, model.weight.grad.shape
            (ember.Size([4, 2]), ember.Size([2, 2]))
        """
        inputs, targets = _unpack(batch)
        outputs = self.model(*inputs)
        loss = self.loss_fn(outputs, targets)
        self.backward(loss / self.accumulate_steps if self.accumulate_steps > 1 else loss)
        return loss, outputs, targets

    def backward(self, loss) -> None:
        """``loss.backward()``, with the loss scaled by the GradScaler under precision="fp16" (what a train_step
        override calls to train in every precision).

        Args:
            loss (Tensor): the scalar loss to differentiate.

        PyTorch:
            No PyTorch counterpart: ember's own (like PyTorch Lightning's ``manual_backward``; in plain PyTorch,
            ``scaler.scale(loss).backward()``).

        Example:
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> x, y = ember.ones(4, 2), ember.tensor([0, 1, 0, 1])
            >>> trainer.backward(trainer.loss_fn(model(x), y)); model.weight.grad.shape
            ember.Size([2, 2])
        """
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def autocast(self):
        """The autocast region of the steps: ``ember.autocast(<device type>, dtype)`` for precision "bf16" and
        "fp16"; nothing for "32".

        Returns:
            a context manager (``contextlib.nullcontext()`` for "32").

        PyTorch:
            No PyTorch counterpart: ember's own (in plain PyTorch, ``torch.autocast(device_type, dtype)``).

        Example:
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters()), None, precision="bf16")
            >>> with trainer.autocast():
            ...     print(model(ember.ones(1, 2)).dtype)
            ember.bfloat16
        """
        dtype = self.PRECISIONS[self.precision]
        return contextlib.nullcontext() if dtype is None else autocast(self.device.type, dtype=dtype)

    def _optimizer_step(self, callbacks, logs):
        if self.scaler is not None:  # the callbacks (GradientClipping) and grad_clip see the true gradients
            self.scaler.unscale_(self.optimizer)
        callbacks.on_before_optimizer_step(self.global_step, logs)
        self._step("_update")()
        self._after_update()

    def _update(self):
        """Clip the gradients (grad_clip), optimizer.step() (through the GradScaler under "fp16", which skips a
        step with inf/NaN gradients and updates its scale), optimizer.zero_grad()."""
        if self.grad_clip is not None:
            clip_grad_norm_(self.model.parameters(), self.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad()

    def _after_update(self):
        self.global_step += 1
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()

    def _train_and_update(self, batch):
        """train_step(batch) and the update after it: what one compiled graph runs (compile=True)."""
        loss, outputs, targets = self.train_step(batch)
        self._update()
        return loss, outputs, targets

    def _step(self, name):
        """The step method `name`, compiled by ember.compile when compile=True (else the method itself). The
        compiled steps are made again for a new model, optimizer, loss_fn, grad_clip or accumulate_steps (a graph
        holds the values it was traced with), and after load_checkpoint (whose optimizer state is new tensors that
        a graph traced before would not read)."""
        method = getattr(self, name)
        if not self.compile:
            return method
        owners = (self.model, self.optimizer, self.loss_fn, self.grad_clip, self.accumulate_steps)
        if self._compiled_for is None or any(a is not b and a != b for a, b in zip(owners, self._compiled_for)):
            self._compiled, self._compiled_for = {}, owners
        step = self._compiled.get(name)
        if step is None:
            step = self._compiled[name] = _compile(method)
        return step

    # --- evaluation and inference -----------------------------------------------------------------------------
    def evaluate(self, data, batch_size=32):
        """The loss and metrics over data, in eval mode without gradients (the model's mode is restored after).

        Args:
            data (DataLoader, Dataset or tuple): the data (see as_loader; not shuffled).
            batch_size (int): the batch size for data that is not a DataLoader. Default: 32.

        Returns:
            dict: ``{'loss': ..., 'accuracy': ...}``, averaged over the samples (no loss without a loss_fn).

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``Model.evaluate``).

        Example:
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> x, y = ember.ones(4, 2), ember.tensor([0, 1, 0, 1])
            >>> sorted(trainer.evaluate((x, y)))
            ['accuracy', 'loss']
        """
        loader, meter, was_training = as_loader(data, batch_size), _Meter(self.metrics), self.model.training
        self.model.eval()
        with no_grad():
            for batch in loader:
                batch = self._to_device(batch)
                with self.autocast():
                    loss, outputs, targets = self._step("eval_step")(batch)
                meter.update(None if loss is None else float(loss), outputs, targets, _batch_size(batch))
        self.model.train(was_training)
        return meter.result()

    def predict(self, data, batch_size=32):
        """The model's outputs for every sample of data, concatenated along dim 0 (targets, if any, are ignored:
        a batch of several elements feeds all but the last to the model).

        Args:
            data (DataLoader, Dataset, Tensor or tuple): the inputs (see as_loader; not shuffled).
            batch_size (int): the batch size for data that is not a DataLoader. Default: 32.

        Returns:
            Tensor: the outputs (a tuple of tensors for a model with several outputs).

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``Model.predict``).

        Example:
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> x, y = ember.ones(4, 2), ember.tensor([0, 1, 0, 1])
            >>> trainer.predict(x, batch_size=2).shape
            ember.Size([4, 2])
        """
        from ..ops.join import cat
        loader, outs, was_training = as_loader(data, batch_size), [], self.model.training
        self.model.eval()
        with no_grad():
            for batch in loader:
                batch = self._to_device(batch)
                with self.autocast():
                    outs.append(self._step("predict_step")(batch))
        self.model.train(was_training)
        if not outs:
            raise ValueError("Trainer.predict: the data is empty")
        if isinstance(outs[0], (tuple, list)):
            return tuple(cat(list(parts)) for parts in zip(*outs))
        return cat(outs)

    def eval_step(self, batch):
        """One step of evaluate(), run in eval mode without gradients: ``(loss, outputs, targets)`` as train_step
        returns them, with loss None when the trainer has no loss_fn. Override it along with train_step when the
        batch layout or the loss changes (fit's validation runs evaluate()).

        Args:
            batch (tuple or Tensor): one batch, on the trainer's device.

        Returns:
            tuple: ``(loss, outputs, targets)``.

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``Model.test_step``).

        Example:
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> x, y = ember.ones(4, 2), ember.tensor([0, 1, 0, 1])
            >>> loss, outputs, targets = trainer.eval_step((x, y)); outputs.shape
            ember.Size([4, 2])
        """
        inputs, targets = _unpack(batch)
        outputs = self.model(*inputs)
        return (self.loss_fn(outputs, targets) if self.loss_fn is not None else None), outputs, targets

    def predict_step(self, batch):
        """One step of predict(), run in eval mode without gradients: the model's outputs for the batch's inputs.

        Args:
            batch (tuple or Tensor): one batch, on the trainer's device (a last element is taken as targets and
                left out).

        Returns:
            the model's outputs (a Tensor, or what the model returns).

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``Model.predict_step``).

        Example:
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> x, y = ember.ones(4, 2), ember.tensor([0, 1, 0, 1])
            >>> trainer.predict_step((x,)).shape
            ember.Size([4, 2])
        """
        inputs, _ = _unpack(batch)
        return self.model(*inputs)

    # --- checkpoints --------------------------------------------------------------------------------------------
    def save_checkpoint(self, path, **extra) -> None:
        """Save model, optimizer, scheduler, finished epochs, random state, history and the callbacks' state
        (atomically); inside an epoch (from a callback's on_batch_end, or on Ctrl-C), also the position in it.

        Args:
            path (str or os.PathLike): the checkpoint file (ember.io.save_checkpoint's format).
            **extra: more values to store in the checkpoint's ``extra`` (numbers, strings, tensors, lists, dicts).

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``Model.save``; in plain PyTorch, ``torch.save`` of
            the state dicts).

        Example:
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> x, y = ember.ones(4, 2), ember.tensor([0, 1, 0, 1])
            >>> trainer.save_checkpoint("ckpt.safetensors", note="baseline")
            >>> import os; os.path.exists("ckpt.safetensors")
            True
        """
        if self._in_step:
            raise RuntimeError("Trainer.save_checkpoint: called in the middle of a training step, where the "
                               "weights and gradients are not at a point training can resume from; save between "
                               "batches (on_batch_end, on_epoch_end)")
        rng, position = self._position()
        if self._epoch_state is not None:
            data_rng = self._epoch_state["rng"][1:]
        else:
            data_rng = [g.rng.bit_generator.state for g in _generators(self._loader)[1:]]
        try:
            io.save_checkpoint(path, self.model, self.optimizer, self.scheduler, epoch=self.epoch,
                               rng_state=None if rng is None else _state_tensor(rng),
                               global_step=self.global_step, history=self.history.history,
                               history_epochs=self.history.epoch,
                               callbacks=self._callbacks.state_dict() if self._callbacks is not None else {},
                               data_rng=[_state_tensor(s) for s in data_rng], position=position,
                               **({"grad_scaler": self.scaler.state_dict()} if self.scaler is not None else {}),
                               **extra)
        except OSError as e:  # name the file: a full disk fails inside a write that does not know it
            if e.filename is None:
                e.filename = os.fspath(path)
            raise

    def _position(self):
        """(random state, position) a checkpoint saved now records: (None, None) between epochs; inside one, the
        random state after the last batch done and, once a batch is done, where the epoch stands."""
        if self._done is None:
            return None, None
        done, pending, rng = self._done
        epoch = self._epoch_state
        if not done:
            return epoch["rng"][0], None
        grads = None
        if pending:  # gradients accumulated for an optimizer step still to come
            grads = [None if p.grad is None else p.grad.detach() for p in self._params()]
        return rng, {"batches": done, "pending": pending, "lrs": epoch["lrs"], "meter": epoch["meter"].state_dict(),
                     "epoch_rng": [_state_tensor(s) for s in epoch["rng"]], "grads": grads}

    def load_checkpoint(self, path):
        """Restore everything save_checkpoint saved (the random state included, so shuffling continues as in an
        uninterrupted run); returns the number of finished epochs, where training goes on. The next fit starting
        at that epoch continues from the checkpoint's position in it and gives the callbacks their state back.

        Args:
            path (str or os.PathLike): a checkpoint of save_checkpoint (or ModelCheckpoint).

        Returns:
            int: the number of finished epochs.

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``Model.load_weights``, restoring more than the
            weights).

        Example:
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> x, y = ember.ones(4, 2), ember.tensor([0, 1, 0, 1])
            >>> _ = trainer.fit((x, y), epochs=1, verbose=0); trainer.save_checkpoint("ckpt.safetensors")
            >>> trainer.load_checkpoint("ckpt.safetensors")
            1
        """
        state = io.load_checkpoint(path, self.model, self.optimizer, self.scheduler)
        self._compiled = {}
        extra = state.get("extra") or {}
        position = extra.get("position")
        _check_position(position, state, path)
        self.epoch, self.global_step = int(state.get("epoch") or 0), int(extra.get("global_step", 0))
        self.history = History(extra.get("history"), extra.get("history_epochs"))
        if self.scaler is not None and extra.get("grad_scaler"):  # a checkpoint of an "fp16" run
            self.scaler.load_state_dict(extra["grad_scaler"])
        if position is not None:
            position = {**position, "rng": state["rng_state"]}
        self._restored = {"epoch": self.epoch, "position": position, "callbacks": extra.get("callbacks") or {},
                          "data_rng": extra.get("data_rng")}
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


def _hooks_before_step(callbacks):
    """Whether a callback runs code in on_before_optimizer_step (between backward and the optimizer step)."""
    hook = "on_before_optimizer_step"
    return any(getattr(type(cb), hook) is not getattr(Callback, hook) or hook in vars(cb) for cb in callbacks)


def _generators(loader):
    """The generators a pass over loader draws its order from: ember's default one, then the loader's own and its
    sampler's, if they have one."""
    found = [default_generator]
    sampler = getattr(loader, "sampler", None)
    for owner in (loader, sampler, getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        g = getattr(owner, "generator", None)
        if isinstance(g, Generator) and all(g is not f for f in found):
            found.append(g)
    return found


def _state_tensor(state):
    """A generator's bit-generator state as the tensor Generator.get_state returns."""
    g = Generator()
    g.rng.bit_generator.state = state
    return g.get_state()


def _set_states(generators, states):
    if len(states) != len(generators):
        raise ValueError(f"Trainer.fit: the checkpoint holds {len(states)} random states for the data loader, which "
                         f"draws from {len(generators)} generators here: it is not the loader the checkpoint was "
                         "saved with")
    for g, state in zip(generators, states):
        g.set_state(state)


def _check_position(position, state, path):
    if position is None:
        return
    ok = (isinstance(position, dict) and type(position.get("batches")) is int and position["batches"] > 0
          and type(position.get("pending")) is int and isinstance(position.get("meter"), dict)
          and isinstance(position.get("epoch_rng"), list) and isinstance(position.get("lrs"), list)
          and isinstance(state.get("rng_state"), Tensor))
    if not ok:
        raise InvalidCheckpointError(f"load_checkpoint: {path} holds a position in an epoch that is not valid")


def as_loader(data, batch_size=32, shuffle=False):
    """A DataLoader (or any iterable of batches) as is; a Dataset wrapped in a DataLoader; (x, y) arrays or
    tensors (or a single x) wrapped in a TensorDataset first. Floating NumPy arrays get the default dtype.

    Args:
        data (DataLoader, Dataset, Tensor, array or tuple): the data.
        batch_size (int): the batch size of a DataLoader it makes. Default: 32.
        shuffle (bool): whether a DataLoader it makes shuffles (not for an IterableDataset). Default: False.

    Returns:
        DataLoader or iterable: the batches.

    PyTorch:
        No PyTorch counterpart: ember's own (like the data adapters of Keras's ``Model.fit``).

    Example:
        >>> loader = ember.train.as_loader((ember.ones(5, 2), ember.zeros(5)), batch_size=2)
        >>> [batch[0].shape[0] for batch in loader]
        [2, 2, 1]
    """
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

    def state_dict(self):
        return {"loss_sum": self.loss_sum, "n": self.n, "has_loss": self.has_loss,
                "metrics": [m.state_dict() for m in self.metrics]}

    def load_state_dict(self, state):
        if len(state["metrics"]) != len(self.metrics):
            raise ValueError(f"Trainer.fit: the checkpoint's epoch has {len(state['metrics'])} running metrics, the "
                             f"trainer {len(self.metrics)}: the metrics changed since it was saved")
        self.loss_sum, self.n, self.has_loss = state["loss_sum"], state["n"], state["has_loss"]
        for m, s in zip(self.metrics, state["metrics"]):
            m.load_state_dict(s)

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
    (verbose=2, or verbose=1 when stdout is not a terminal -- a CI log, a pipe -- or tqdm is missing), or nothing."""

    def __init__(self, verbose, epoch, epochs, total):
        tty = getattr(sys.stdout, "isatty", lambda: False)()
        tqdm = _tqdm() if verbose == 1 and tty else None
        self.mode = "bar" if tqdm else ("line" if verbose in (1, 2) else None)
        self.title, self.samples, self.shown = f"Epoch {epoch + 1}/{epochs}", 0, 0.0
        self.start = self.last = time.perf_counter()
        self.bar = (tqdm(total=total, desc=self.title, unit=" samples", file=sys.stdout, leave=True)
                    if tqdm else None)  # tqdm's rate is then the samples/s

    def rate(self):
        return self.samples / max(self.last - self.start, 1e-9)  # training samples only, not validation

    def skip(self, n):
        """Samples of the epoch done before a resume: shown on the bar, not counted in the rate."""
        if self.bar is not None:
            self.bar.update(n)

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
