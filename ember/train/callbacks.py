"""Callbacks: code that runs at fixed points of Trainer.fit (Keras' hooks, with PyTorch-style objects).

A callback sees the trainer as ``self.trainer`` (its model, optimizer, scheduler, history) and the epoch's
``logs`` dict (loss, metrics, val_ metrics, lr). Setting ``self.trainer.stop_training = True`` ends fit after the
current epoch.
"""
import math
import os
import warnings

from .loggers import CSVWriter, SummaryWriter

__all__ = ["Callback", "CallbackList", "History", "LambdaCallback", "EarlyStopping", "ModelCheckpoint",
           "LearningRateMonitor", "CSVLogger", "TensorBoard", "PlotHistory", "GradientClipping"]


class Callback:
    """Base class of the callbacks: code that ``Trainer.fit`` runs at fixed points (override the hooks you need).

    The hooks, in the order fit calls them: on_train_begin, then for each epoch on_epoch_begin, for each batch
    on_batch_begin, on_before_optimizer_step (when the optimizer steps), on_batch_end, then on_epoch_end; and
    on_train_end. ``self.trainer`` is the Trainer (its model, optimizer, scheduler, history), set before
    on_train_begin; ``self.trainer.stop_training = True`` ends fit after the current epoch. A callback that must
    survive a resumed run saves its counters in state_dict.

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.Callback``; the batch hooks are Keras's
        on_train_batch_begin/end).

    Example:
        >>> class PrintLoss(ember.train.Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(f"epoch {epoch}: loss {logs['loss']:.2f}")
        >>> model = nn.Linear(2, 2)
        >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
        >>> _ = trainer.fit((ember.ones(4, 2), ember.tensor([0, 1, 0, 1])), verbose=0, callbacks=[PrintLoss()])
        epoch 0: loss 0.91
    """

    trainer = None

    def on_train_begin(self, logs=None) -> None:
        """Called once when ``Trainer.fit`` starts, before the first epoch.

        ``self.trainer`` is set by then; a resumed run gives the callback its saved state (load_state_dict)
        right after this hook. Reset per-run counters here.

        Args:
            logs (dict, optional): None (kept for Keras's signature).

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.Callback.on_train_begin``).

        Example:
            >>> class Show(ember.train.Callback):
            ...     def on_train_begin(self, logs=None):
            ...         print("start", type(self.trainer.model).__name__)
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> data = (ember.ones(4, 2), ember.tensor([0, 1, 0, 1]))
            >>> _ = trainer.fit(data, verbose=0, callbacks=[Show()])
            start Linear
        """

    def on_train_end(self, logs=None) -> None:
        """Called once when ``Trainer.fit`` ends: after the last epoch, an early stop or a Ctrl-C.

        Close files and restore weights here (EarlyStopping, CSVLogger, TensorBoard do).

        Args:
            logs (dict, optional): None (kept for Keras's signature).

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.Callback.on_train_end``).

        Example:
            >>> class Show(ember.train.Callback):
            ...     def on_train_end(self, logs=None):
            ...         print("epochs done:", self.trainer.epoch)
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> data = (ember.ones(4, 2), ember.tensor([0, 1, 0, 1]))
            >>> _ = trainer.fit(data, verbose=0, callbacks=[Show()])
            epochs done: 1
        """

    def on_epoch_begin(self, epoch, logs=None) -> None:
        """Called at the start of each epoch of ``Trainer.fit``, before its first batch.

        Args:
            epoch (int): the epoch's index, from 0 (from initial_epoch when resuming).
            logs (dict, optional): None (kept for Keras's signature).

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.Callback.on_epoch_begin``).

        Example:
            >>> class Show(ember.train.Callback):
            ...     def on_epoch_begin(self, epoch, logs=None):
            ...         print("epoch", epoch)
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> data = (ember.ones(4, 2), ember.tensor([0, 1, 0, 1]))
            >>> _ = trainer.fit(data, verbose=0, callbacks=[Show()])
            epoch 0
        """

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Called at the end of each epoch of ``Trainer.fit``, after validation and the scheduler's step.

        Setting ``self.trainer.stop_training = True`` here ends fit after this epoch.

        Args:
            epoch (int): the epoch's index, from 0 (from initial_epoch when resuming).
            logs (dict): the epoch's values: loss, the metrics, the val_ metrics with validation data, lr,
                peak_memory_mib.

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.Callback.on_epoch_end``).

        Example:
            >>> class Show(ember.train.Callback):
            ...     def on_epoch_end(self, epoch, logs=None):
            ...         print(epoch, sorted(logs))
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> data = (ember.ones(4, 2), ember.tensor([0, 1, 0, 1]))
            >>> _ = trainer.fit(data, verbose=0, callbacks=[Show()])
            0 ['accuracy', 'loss', 'lr', 'peak_memory_mib']
        """

    def on_batch_begin(self, batch, logs=None) -> None:
        """Called before each training batch of ``Trainer.fit``.

        Args:
            batch (int): the batch's index in the epoch, from 0.
            logs (dict, optional): None (kept for Keras's signature).

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.Callback.on_train_batch_begin``).

        Example:
            >>> class Show(ember.train.Callback):
            ...     def on_batch_begin(self, batch, logs=None):
            ...         print("batch", batch)
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> data = (ember.ones(4, 2), ember.tensor([0, 1, 0, 1]))
            >>> _ = trainer.fit(data, verbose=0, callbacks=[Show()], batch_size=2)
            batch 0
            batch 1
        """

    def on_batch_end(self, batch, logs=None) -> None:
        """Called after each training batch of ``Trainer.fit`` (and its optimizer step, if one was due).

        A checkpoint saved here (``self.trainer.save_checkpoint``) resumes after this batch.

        Args:
            batch (int): the batch's index in the epoch, from 0.
            logs (dict): the batch's ``loss`` (a float, not divided by accumulate_steps) and ``size`` (its
                number of samples), plus what on_before_optimizer_step added.

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.Callback.on_train_batch_end``).

        Example:
            >>> class Show(ember.train.Callback):
            ...     def on_batch_end(self, batch, logs=None):
            ...         print(batch, sorted(logs))
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> data = (ember.ones(4, 2), ember.tensor([0, 1, 0, 1]))
            >>> _ = trainer.fit(data, verbose=0, callbacks=[Show()], batch_size=2)
            0 ['loss', 'size']
            1 ['loss', 'size']
        """

    def on_before_optimizer_step(self, step, logs=None) -> None:
        """Called after backward (and gradient accumulation), before ``optimizer.step()``: the place to read or edit
        the gradients (GradientClipping clips them here).

        Under precision="fp16" the gradients are already unscaled. With compile=True, a callback that defines this
        hook makes the trainer run the update as a graph of its own.

        Args:
            step (int): the number of optimizer steps taken before this one (``trainer.global_step``).
            logs (dict): the batch's logs (``loss``, ``size``), which the hook may add values to (LearningRateMonitor
                adds the rates); empty for the last, partial accumulation of an epoch.

        PyTorch:
            No PyTorch counterpart: ember's own (like PyTorch Lightning's ``on_before_optimizer_step``; Keras has
            none).

        Example:
            >>> class GradNorm(ember.train.Callback):
            ...     def on_before_optimizer_step(self, step, logs=None):
            ...         print(step, round(float(self.trainer.model.weight.grad.norm()), 4))
            >>> model = nn.Linear(2, 2)
            >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
            >>> data = (ember.ones(4, 2), ember.tensor([0, 1, 0, 1]))
            >>> _ = trainer.fit(data, verbose=0, callbacks=[GradNorm()])
            0 ...
        """

    def state_dict(self):
        """What the callback must remember across a resumed run (numbers, strings, tensors).

        It is saved in every checkpoint the Trainer writes and given back to load_state_dict after on_train_begin
        when fit resumes. The base class has nothing to save.

        Returns:
            dict: the state; an empty dict saves nothing.

        PyTorch:
            No PyTorch counterpart: ember's own (Keras's callbacks keep no state across runs).

        Example:
            >>> class Counter(ember.train.Callback):
            ...     epochs = 0
            ...     def on_epoch_end(self, epoch, logs=None):
            ...         self.epochs += 1
            ...     def state_dict(self):
            ...         return {"epochs": self.epochs}
            >>> Counter().state_dict()
            {'epochs': 0}
        """
        return {}

    def load_state_dict(self, state) -> None:
        """Restore what state_dict returned (when ``Trainer.fit`` resumes from a checkpoint).

        Args:
            state (dict): what state_dict returned when the checkpoint was saved.

        PyTorch:
            No PyTorch counterpart: ember's own.

        Example:
            >>> class Counter(ember.train.Callback):
            ...     epochs = 0
            ...     def load_state_dict(self, state):
            ...         self.epochs = state["epochs"]
            >>> counter = Counter(); counter.load_state_dict({"epochs": 3}); counter.epochs
            3
        """


class CallbackList:
    """Calls each hook on every callback, in order: what ``Trainer.fit`` runs its callbacks through.

    Args:
        callbacks (list[Callback], optional): the callbacks. Default: None (none).
        trainer (Trainer, optional): the trainer set as each callback's ``trainer``. Default: None.

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.CallbackList``).

    Example:
        >>> hook = ember.train.LambdaCallback(on_epoch_begin=lambda epoch, logs: print("epoch", epoch))
        >>> ember.train.CallbackList([hook]).on_epoch_begin(0)
        epoch 0
    """

    def __init__(self, callbacks=None, trainer=None):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
            cb.trainer = trainer

    def __iter__(self):
        return iter(self.callbacks)

    def _keyed(self):
        """(key, callback) pairs: the class name, with #2, #3... for repeats, so a resumed run matches them."""
        seen = {}
        for cb in self.callbacks:
            name = type(cb).__name__
            seen[name] = seen.get(name, 0) + 1
            yield (name if seen[name] == 1 else f"{name}#{seen[name]}"), cb

    def state_dict(self):
        """{key: state} of the callbacks that have a state."""
        states = {}
        for key, cb in self._keyed():
            state = cb.state_dict()
            if state:
                states[key] = state
        return states

    def load_state_dict(self, states):
        for key, cb in self._keyed():
            if key in states:
                cb.load_state_dict(states[key])

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs)

    def on_before_optimizer_step(self, step, logs=None):
        self._call("on_before_optimizer_step", step, logs)


class History:
    """The per-epoch logs of a training run: what ``Trainer.fit`` returns.

    ``history.history`` maps each logged name (loss, val_loss, accuracy, lr, ...) to its per-epoch values;
    ``history.epoch`` lists the epoch numbers (0-based). ``history["loss"]`` is a shortcut, ``"loss" in history``
    and ``len(history)`` (the number of epochs) work.

    Args:
        history (dict, optional): {name: list of values} to start from. Default: None (empty).
        epoch (list[int], optional): the epoch numbers of those values. Default: None (empty).

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.History``).

    Example:
        >>> history = ember.train.History({"loss": [0.9, 0.5]}, [0, 1])
        >>> history["loss"], len(history), "val_loss" in history
        ([0.9, 0.5], 2, False)
    """

    def __init__(self, history=None, epoch=None):
        self.history = {k: list(v) for k, v in (history or {}).items()}
        self.epoch = list(epoch or [])

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def __len__(self):
        return len(self.epoch)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class LambdaCallback(Callback):
    """A callback made of functions, one per hook, for small jobs that need no class.

    Args:
        **hooks (callable): hook name (``on_train_begin``, ``on_epoch_end``, ...) = a function with the hook's
            arguments (``on_epoch_end=lambda epoch, logs: ...``). An unknown name raises TypeError.

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.LambdaCallback``).

    Example:
        >>> show = ember.train.LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, round(logs["loss"], 2)))
        >>> model = nn.Linear(2, 2)
        >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
        >>> _ = trainer.fit((ember.ones(4, 2), ember.tensor([0, 1, 0, 1])), verbose=0, callbacks=[show])
        0 0.91
    """

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not hasattr(Callback, name) or not name.startswith("on_"):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


def _auto_mode(monitor, trainer):
    """'max' for metrics where higher is better (accuracy, f1, ...), else 'min' (losses, errors)."""
    name = monitor[4:] if monitor.startswith("val_") else monitor
    for m in getattr(trainer, "metrics", ()):
        if m.name == name:
            return "max" if m.higher_is_better else "min"
    return "max" if any(s in name for s in ("acc", "f1", "precision", "recall", "auc")) else "min"


class _Monitor(Callback):
    """Tracks the best value of a logged quantity."""

    def _setup_monitor(self, monitor, mode, min_delta=0.0):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self._mode, self.min_delta = monitor, mode, abs(min_delta)
        self.best, self._warned = None, False

    @property
    def mode(self):
        return _auto_mode(self.monitor, self.trainer) if self._mode == "auto" else self._mode

    def _current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if not self._warned:
                warnings.warn(f"{type(self).__name__}: '{self.monitor}' is not among the logged values "
                              f"{sorted(logs or {})}; it does nothing", RuntimeWarning, stacklevel=3)
                self._warned = True
            return None
        return float(value)

    def _improved(self, value):
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop training when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With restore_best_weights, the model gets the weights of its best epoch back when training ends. A monitored
    name that is not logged gives one RuntimeWarning and the callback does nothing.

    Args:
        monitor (str): the logged value to watch (``"val_loss"``, ``"val_accuracy"``, ``"loss"``...).
            Default: ``"val_loss"``.
        patience (int): the number of epochs without improvement after which training stops. Default: 0.
        mode (str): ``"min"``, ``"max"``, or ``"auto"`` (max for accuracy-like metrics, min for losses and errors).
            Default: ``"auto"``.
        min_delta (float): the smallest change that counts as an improvement. Default: 0.0.
        restore_best_weights (bool): load the best epoch's weights into the model at the end. Default: False.
        verbose (int): 1 prints a line when it stops and when it restores weights. Default: 0.

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.EarlyStopping``, without its
        ``baseline`` and ``start_from_epoch`` arguments).

    Example:
        >>> from ember.train import EarlyStopping
        >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        >>> stop.patience
        3
    """

    def __init__(self, monitor="val_loss", patience=0, mode="auto", min_delta=0.0, restore_best_weights=False,
                 verbose=0):
        self._setup_monitor(monitor, mode, min_delta)
        self.patience, self.restore_best_weights, self.verbose = patience, restore_best_weights, verbose

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, None, None
        self.best, self.best_weights = None, None

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if value is None:
            return
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = {k: v.detach().clone() for k, v in self.trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True
            if self.verbose:
                print(f"EarlyStopping: {self.monitor} has not improved for {self.wait} epochs; stopping after "
                      f"epoch {epoch + 1} (best {self.best:.6g} at epoch {self.best_epoch + 1})")

    def state_dict(self):
        """Where the patience stands (and the best weights, with restore_best_weights), for a resumed run."""
        if self.best is None:
            return {}
        state = {"monitor": self.monitor, "best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}
        if self.best_weights is not None:
            state["best_weights"] = self.best_weights
        return state

    def load_state_dict(self, state):
        if state.get("monitor") == self.monitor:
            self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
            self.best_weights = state.get("best_weights")

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.trainer.model.load_state_dict(self.best_weights)
            if self.verbose:
                print(f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1}")


class ModelCheckpoint(_Monitor):
    """Save training checkpoints during ``Trainer.fit``: the best epoch's, the last one, or every epoch's.

    Each checkpoint (model, optimizer, scheduler, epoch, random state, history; ember.io.save_checkpoint, written
    atomically) lets ``fit(..., resume_from=path)`` continue from it.

    With dirpath: ``best.safetensors`` whenever `monitor` improves, ``last.safetensors`` after every epoch
    (save_last), and ``epoch{N}.safetensors`` every epoch unless save_best_only.
    With filepath (a name that may use ``{epoch}`` and logged values, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}"``):
    the file is written when `monitor` improves (save_best_only) or every epoch.
    monitor defaults to val_loss when there is validation data, else loss.
    A checkpoint also holds the state of the callbacks (state_dict) as it is when the checkpoint is written: list
    ModelCheckpoint after the callbacks whose state a resumed run needs (EarlyStopping).

    Args:
        dirpath (str or os.PathLike, optional): the directory of best/last/epoch{N}.safetensors. Default: None.
        filepath (str or os.PathLike, optional): a file name pattern instead (``{epoch}`` and logged values).
            Give exactly one of dirpath and filepath. Default: None.
        monitor (str, optional): the logged value that decides the best epoch. Default: None (val_loss, or loss).
        mode (str): ``"min"``, ``"max"`` or ``"auto"`` (as EarlyStopping). Default: ``"auto"``.
        save_best_only (bool): write only when monitor improves (with dirpath: no epoch{N} files). Default: True.
        save_last (bool, optional): also write last.safetensors every epoch. Default: None (True with dirpath).
        verbose (int): 1 prints a line per file written. Default: 0.

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.ModelCheckpoint``; the files are
        ember checkpoints, not ``torch.save`` files).

    Example:
        >>> model = nn.Linear(2, 2)
        >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
        >>> saver = ember.train.ModelCheckpoint(dirpath="ckpt")
        >>> _ = trainer.fit((ember.ones(4, 2), ember.tensor([0, 1, 0, 1])), verbose=0, callbacks=[saver])
        >>> saver.best_model_path, saver.monitor
        ('ckpt/best.safetensors', 'loss')
    """

    def __init__(self, dirpath=None, filepath=None, monitor=None, mode="auto", save_best_only=True, save_last=None,
                 verbose=0):
        if (dirpath is None) == (filepath is None):
            raise ValueError("ModelCheckpoint: give exactly one of dirpath or filepath")
        self._setup_monitor(monitor, mode)
        self.filepath = None if filepath is None else os.fspath(filepath)
        self.dirpath = os.fspath(dirpath) if dirpath is not None else os.path.dirname(os.path.abspath(filepath))
        self.save_best_only, self.verbose = save_best_only, verbose
        self.save_last = (dirpath is not None) if save_last is None else save_last
        self.best_model_path = self.last_model_path = None

    def on_train_begin(self, logs=None):
        self.best, self._auto_monitor = None, self.monitor is None

    def state_dict(self):
        """The best value so far (and what it measures), so that a resumed run does not overwrite the best
        checkpoint with a worse epoch."""
        return {"monitor": self.monitor, "best": self.best} if self.monitor is not None else {}

    def load_state_dict(self, state):
        # a best value of another quantity than this callback monitors means nothing to it
        if getattr(self, "_auto_monitor", self.monitor is None) or state.get("monitor") == self.monitor:
            self.monitor, self.best, self._auto_monitor = state.get("monitor"), state.get("best"), False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._auto_monitor:
            self.monitor = "val_loss" if "val_loss" in logs else "loss"
        value = self._current(logs)
        improved = value is not None and self._improved(value)
        if improved:
            self.best = value
        if self.filepath is not None:
            if improved or not self.save_best_only:
                path = self.filepath.format(epoch=epoch + 1, **logs)
                self._save(path, value)
                if improved:
                    self.best_model_path = path
        else:
            if improved:
                self.best_model_path = self._save(os.path.join(self.dirpath, "best.safetensors"), value)
            if not self.save_best_only:
                self._save(os.path.join(self.dirpath, f"epoch{epoch + 1}.safetensors"), value)
        if self.save_last:
            self.last_model_path = self._save(os.path.join(self.dirpath, "last.safetensors"), value)

    def _save(self, path, value):
        self.trainer.save_checkpoint(path, monitor=self.monitor, monitor_value=value)
        if self.verbose:
            print(f"ModelCheckpoint: saved {path} ({self.monitor}={value})")
        return path


class LearningRateMonitor(Callback):
    """Record the learning rate of every parameter group, per epoch or per optimizer step, in ``self.lrs``
    ({'lr': [...]} for one group, {'lr_group0': [...], ...} for several). Per-step values also go into the batch
    logs (so TensorBoard(update_freq=...) can write them).

    Args:
        logging_interval (str): ``"epoch"`` (at each epoch's start) or ``"step"`` (before each optimizer step).
            Default: ``"epoch"``.
        verbose (int): 1 prints the rates at each epoch's start (logging_interval="epoch"). Default: 0.

    PyTorch:
        No PyTorch counterpart: ember's own (like PyTorch Lightning's ``LearningRateMonitor``; Keras has none).

    Example:
        >>> model = nn.Linear(2, 2)
        >>> opt = ember.optim.SGD(model.parameters(), lr=1.0)
        >>> sched = ember.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> trainer = ember.train.Trainer(model, opt, nn.CrossEntropyLoss(), scheduler=sched,
        ...                               scheduler_interval="step")
        >>> monitor = ember.train.LearningRateMonitor(logging_interval="step")
        >>> _ = trainer.fit((ember.ones(4, 2), ember.tensor([0, 1, 0, 1])), batch_size=2, verbose=0,
        ...             callbacks=[monitor])
        >>> monitor.lrs  # before each of the two optimizer steps
        {'lr': [1.0, 0.5]}
    """

    def __init__(self, logging_interval="epoch", verbose=0):
        if logging_interval not in ("epoch", "step"):
            raise ValueError(f"LearningRateMonitor: logging_interval must be 'epoch' or 'step', got "
                             f"{logging_interval!r}")
        self.logging_interval, self.verbose = logging_interval, verbose
        self.lrs = {}

    def _record(self):
        groups = self.trainer.optimizer.param_groups
        names = ["lr"] if len(groups) == 1 else [f"lr_group{i}" for i in range(len(groups))]
        current = {name: g["lr"] for name, g in zip(names, groups)}
        for name, lr in current.items():
            self.lrs.setdefault(name, []).append(lr)
        return current

    def on_epoch_begin(self, epoch, logs=None):
        if self.logging_interval == "epoch":
            current = self._record()
            if self.verbose:
                print(f"epoch {epoch + 1}: " + ", ".join(f"{k}={v:.4g}" for k, v in current.items()))

    def on_before_optimizer_step(self, step, logs=None):
        if self.logging_interval == "step":
            current = self._record()
            if logs is not None:
                logs.update(current)


class CSVLogger(Callback):
    """Write one CSV row per epoch: epoch, then every logged value (loss, metrics, val_ metrics, lr).
    With append=True, rows are added to an existing file (for resumed runs).

    Args:
        path (str or os.PathLike): the CSV file (its directory is created).
        separator (str): the column separator. Default: ``","``.
        append (bool): add rows to an existing file (keeping its header) instead of overwriting it.
            Default: False.

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.CSVLogger``).

    Example:
        >>> model = nn.Linear(2, 2)
        >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
        >>> log = ember.train.CSVLogger("log.csv")
        >>> _ = trainer.fit((ember.ones(4, 2), ember.tensor([0, 1, 0, 1])), verbose=0, callbacks=[log])
        >>> open("log.csv").readline().strip()
        'epoch,loss,accuracy,peak_memory_mib,lr'
    """

    def __init__(self, path, separator=",", append=False):
        self.path, self.separator, self.append = os.fspath(path), separator, append
        self._writer = None

    def on_train_begin(self, logs=None):
        self._writer = CSVWriter(self.path, append=self.append, separator=self.separator)

    def on_epoch_end(self, epoch, logs=None):
        self._writer.write({"epoch": epoch, **(logs or {})})

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class TensorBoard(Callback):
    """Write every logged value as a TensorBoard scalar at step=epoch (``tensorboard --logdir log_dir``).
    update_freq=N also writes the batch loss (and step learning rates) every N optimizer steps, at the global
    step, under ``batch/<name>``.

    Args:
        log_dir (str or os.PathLike): the directory of the event files. Default: ``"runs"``.
        update_freq (str or int): ``"epoch"``, or write batch values every that many batches. Default: ``"epoch"``.

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.callbacks.TensorBoard``, scalars only); it writes
        with ember's SummaryWriter, which mirrors ``torch.utils.tensorboard.SummaryWriter``.

    Example:
        >>> model = nn.Linear(2, 2)
        >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
        >>> board = ember.train.TensorBoard("runs/demo")
        >>> _ = trainer.fit((ember.ones(4, 2), ember.tensor([0, 1, 0, 1])), verbose=0, callbacks=[board])
        >>> sorted(ember.train.read_scalars("runs/demo"))
        ['accuracy', 'loss', 'lr', 'peak_memory_mib']
    """

    def __init__(self, log_dir="runs", update_freq="epoch"):
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch' or a positive integer, got {update_freq!r}")
        self.log_dir, self.update_freq = os.fspath(log_dir), update_freq
        self.writer = None

    def on_train_begin(self, logs=None):
        self.writer = SummaryWriter(self.log_dir)
        self._batches = 0

    def state_dict(self):
        """The batches counted so far: a resumed run goes on writing batch scalars at the steps it would have."""
        return {"batches": self._batches} if self.update_freq != "epoch" else {}

    def load_state_dict(self, state):
        self._batches = state.get("batches", self._batches)

    def on_batch_end(self, batch, logs=None):
        self._batches += 1
        if self.update_freq != "epoch" and self._batches % self.update_freq == 0 and logs:
            for k, v in logs.items():
                if isinstance(v, (int, float)) and k != "size":
                    self.writer.add_scalar(f"batch/{k}", v, self._batches)

    def on_epoch_end(self, epoch, logs=None):
        for k, v in (logs or {}).items():
            if isinstance(v, (int, float)):
                self.writer.add_scalar(k, v, epoch)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()


class PlotHistory(Callback):
    """Save a PNG of the loss and metric curves (each with its val_ twin, the learning rate in a small panel, the
    best epoch of `monitor` marked, under `title`) when training ends, or after every epoch with every_epoch=True.
    monitor and mode default as ModelCheckpoint's (val_loss when there is validation data, else loss). Needs
    matplotlib.

    Args:
        path (str or os.PathLike): the PNG file to write (its directory is created).
        keys (list[str], optional): the logged names to plot. Default: None (all).
        every_epoch (bool): redraw after every epoch, not only at the end. Default: False.
        monitor (str, optional): the value whose best epoch is marked. Default: None (val_loss, or loss).
        mode (str): ``"min"``, ``"max"`` or ``"auto"`` (as EarlyStopping). Default: ``"auto"``.
        title (str, optional): the figure's title, before the best epoch's summary. Default: None.

    PyTorch:
        No PyTorch counterpart: ember's own (Keras users plot ``History.history`` themselves).

    Example:
        >>> model = nn.Linear(2, 2)
        >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
        >>> plot = ember.train.PlotHistory("curves.png")
        >>> _ = trainer.fit((ember.ones(4, 2), ember.tensor([0, 1, 0, 1])), verbose=0, callbacks=[plot])
        >>> import os; os.path.exists("curves.png")
        True
    """

    def __init__(self, path, keys=None, every_epoch=False, monitor=None, mode="auto", title=None):
        from .plots import require_matplotlib
        require_matplotlib("PlotHistory")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"PlotHistory: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.path, self.keys, self.every_epoch = os.fspath(path), keys, every_epoch
        self.monitor, self.mode, self.title = monitor, mode, title

    def _plot(self):
        from .plots import plot_history
        history = self.trainer.history
        if len(history):
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            monitor = self.monitor or ("val_loss" if "val_loss" in history else "loss")
            mode = _auto_mode(monitor, self.trainer) if self.mode == "auto" else self.mode
            plot_history(history, self.path, self.keys, monitor=monitor, mode=mode, title=self.title)

    def on_epoch_end(self, epoch, logs=None):
        if self.every_epoch:
            self._plot()

    def on_train_end(self, logs=None):
        self._plot()


class GradientClipping(Callback):
    """Clip the total gradient norm to max_norm before each optimizer step (ember.nn.utils.clip_grad_norm_).
    The last total norm (before clipping) is kept in ``self.last_norm``.

    Args:
        max_norm (float): the largest total norm the gradients keep.
        norm_type (float): the p of the p-norm (``inf`` for the largest element). Default: 2.0.

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's optimizer ``clipnorm``, or calling
        ``torch.nn.utils.clip_grad_norm_`` before each step); ``Trainer(grad_clip=...)`` does the same.

    Example:
        >>> model = nn.Linear(2, 2)
        >>> trainer = ember.train.Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
        >>> clip = ember.train.GradientClipping(max_norm=0.01)
        >>> _ = trainer.fit((ember.ones(4, 2), ember.tensor([0, 1, 0, 1])), verbose=0, callbacks=[clip])
        >>> clip.last_norm > 0.01
        True
    """

    def __init__(self, max_norm, norm_type=2.0):
        self.max_norm, self.norm_type, self.last_norm = max_norm, norm_type, None

    def on_before_optimizer_step(self, step, logs=None):
        from ..nn.utils import clip_grad_norm_
        self.last_norm = float(clip_grad_norm_(self.trainer.model.parameters(), self.max_norm, self.norm_type))

