"""Metrics that accumulate over an epoch: ``reset()``, ``update(outputs, targets)`` per batch, ``compute()`` at the end.

Each metric keeps sums (correct predictions, errors, counts, a confusion matrix), never per-batch averages, so an
epoch's value is exact whatever the batch sizes. Outputs are the model's raw outputs (logits for classification);
targets are class indices, or tensors of the outputs' shape for regression and binary tasks.
Calling a metric, ``Accuracy()(outputs, targets)``, computes it on one batch without touching its running state.
"""
import copy
import math
import re

import numpy as np

from ..device import CPU, get_array_module, move
from ..tensor import Tensor

__all__ = ["Metric", "Accuracy", "TopKAccuracy", "Precision", "Recall", "F1Score", "MeanAbsoluteError",
           "MeanSquaredError", "Perplexity", "FunctionMetric", "get_metric"]


def _array(x):
    """The raw array (numpy or cupy) of a tensor, array or nested list."""
    if isinstance(x, Tensor):
        return x._data
    return x if hasattr(x, "__array_namespace__") or hasattr(x, "ndim") else np.asarray(x)


def _class_dim(name, out, tgt):
    """The class dimension of outputs that have one more dimension than class-index targets: 1 as in PyTorch's
    cross_entropy ((N, C, ...) vs (N, ...)), else the last one ((N, T, C) vs (N, T), as language models give)."""
    if out.shape[:1] + out.shape[2:] == tgt.shape:
        return 1
    if out.shape[:-1] == tgt.shape:
        return out.ndim - 1
    raise ValueError(f"{name}: outputs of shape {tuple(out.shape)} do not match class-index targets of shape "
                     f"{tuple(tgt.shape)} (expected (N, C, ...) with targets (N, ...), or (..., C) with targets (...))")


def _classes_last(name, outputs, targets, ignore_index, what):
    """For outputs with a class dimension (`what`: the word for them in errors) and class-index targets: the array
    module, the outputs with classes moved last, the mask of targets that are not ignore_index, and those targets
    with the ignored ones set to 0 (safe as indices)."""
    out, tgt = _array(outputs), _array(targets)
    if out.ndim != tgt.ndim + 1:
        raise ValueError(f"{name}: expected {what} with a class dimension and class-index targets, got "
                         f"shapes {tuple(out.shape)} and {tuple(tgt.shape)}")
    xp = get_array_module(out)
    scores = xp.moveaxis(out, _class_dim(name, out, tgt), -1)
    keep = tgt != ignore_index
    return xp, scores, keep, xp.where(keep, tgt, 0).astype(xp.int64)


def _labels(name, out, tgt, threshold, multilabel):
    """Predicted and true labels as integer arrays of one shape, plus the number of classes.

    Outputs with a class dimension give argmax predictions; floating targets of the outputs' shape are class
    probabilities (one-hot) unless multilabel; outputs of the targets' shape (or with a class dimension of 1) are
    binary scores, thresholded at `threshold`."""
    xp = get_array_module(out)
    if out.ndim == tgt.ndim + 1:
        dim = _class_dim(name, out, tgt)
        if out.shape[dim] > 1:
            return out.argmax(axis=dim), tgt, out.shape[dim]
    if out.size != tgt.size:
        raise ValueError(f"{name}: outputs of shape {tuple(out.shape)} do not match targets of shape "
                         f"{tuple(tgt.shape)}")
    if (out.shape == tgt.shape and out.ndim >= 2 and out.shape[1] > 1 and not multilabel
            and tgt.dtype.kind == "f"):
        return out.argmax(axis=1), tgt.argmax(axis=1), out.shape[1]
    pred = (out.reshape(tgt.shape) > threshold).astype(xp.int64)
    return pred, (tgt > 0.5).astype(xp.int64), 2


class Metric:
    """Base class of the metrics: a value accumulated over an epoch, batch by batch.

    ``reset()`` starts an epoch, ``update(outputs, targets)`` adds a batch, ``compute()`` gives the value; calling
    a metric, ``metric(outputs, targets)``, computes it on one batch without touching its running state. A subclass
    sets ``name`` (what the Trainer logs), ``higher_is_better`` (what ``mode="auto"`` of the callbacks reads), and
    keeps sums, never per-batch averages, so that an epoch's value is exact whatever the batch sizes.

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.metrics.Metric``, with update_state/result named
        update/compute as in torchmetrics).

    Example:
        >>> class MaxError(ember.train.Metric):
        ...     name, higher_is_better = "max_error", False
        ...     def reset(self): self.worst = 0.0
        ...     def update(self, outputs, targets): self.worst = max(self.worst, float((outputs - targets).abs().max()))
        ...     def compute(self): return self.worst
        >>> MaxError()(ember.tensor([1.0, 2.0]), ember.tensor([1.5, 1.0]))
        1.0
    """

    name = "metric"
    higher_is_better = True

    def reset(self) -> None:
        """Clear the running state: the start of an epoch (the Trainer calls it before each epoch and evaluation).

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``Metric.reset_state``).

        Example:
            >>> metric = ember.train.MeanSquaredError()
            >>> metric.update(ember.tensor([1.0]), ember.tensor([3.0])); metric.reset(); metric.compute()
            nan
        """
        raise NotImplementedError

    def update(self, outputs, targets) -> None:
        """Add one batch to the running state.

        Args:
            outputs (Tensor): the model's outputs for the batch (logits for classification).
            targets (Tensor): the batch's targets (class indices, or values of the outputs' shape).

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``Metric.update_state``).

        Example:
            >>> metric = ember.train.MeanAbsoluteError()
            >>> metric.update(ember.tensor([1.0, 2.0]), ember.tensor([1.5, 1.0]))
            >>> metric.update(ember.tensor([0.0]), ember.tensor([0.0])); metric.compute()
            0.5
        """
        raise NotImplementedError

    def compute(self):
        """The metric over every batch given to update since the last reset.

        Returns:
            float: the value (NaN when no batch was given).

        PyTorch:
            No PyTorch counterpart: ember's own (like Keras's ``Metric.result``).

        Example:
            >>> metric = ember.train.Accuracy()
            >>> metric.update(ember.tensor([[2.0, 1.0], [0.0, 3.0]]), ember.tensor([0, 0])); metric.compute()
            0.5
        """
        raise NotImplementedError

    def state_dict(self):
        """The running state, to continue an epoch later (a resumed run).

        Returns:
            dict: every number, array or tensor attribute of the metric (its sums and counts, and numeric settings
            such as a threshold, which are the same on resume).

        PyTorch:
            No PyTorch counterpart: ember's own.

        Example:
            >>> metric = ember.train.MeanSquaredError()
            >>> metric.update(ember.tensor([1.0]), ember.tensor([3.0])); metric.state_dict()
            {'total': 4.0, 'count': 1}
        """
        return {k: v for k, v in vars(self).items() if isinstance(v, (int, float, np.number, np.ndarray, Tensor))}

    def load_state_dict(self, state) -> None:
        """Restore what state_dict returned.

        Args:
            state (dict): what ``state_dict()`` returned.

        PyTorch:
            No PyTorch counterpart: ember's own.

        Example:
            >>> metric = ember.train.MeanSquaredError()
            >>> metric.load_state_dict({"total": 4.0, "count": 2}); metric.compute()
            2.0
        """
        for k, v in state.items():
            setattr(self, k, v)

    def __call__(self, outputs, targets):
        """The metric on one batch (the running state is left as it was)."""
        fresh = copy.copy(self)
        fresh.reset()
        fresh.update(outputs, targets)
        return fresh.compute()

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class _Ratio(Metric):
    """A metric that is (sum of something) / (count of elements)."""

    def reset(self):
        self.total, self.count = 0.0, 0

    def compute(self):
        return self.total / self.count if self.count else math.nan


class Accuracy(_Ratio):
    """Fraction of correct predictions: argmax over the class dimension for multi-class outputs, a threshold for
    binary outputs (0.5 for probabilities; use threshold=0.0 for logits). Targets equal to ignore_index are skipped.

    Outputs (N, C, ...) or (..., C) go with class-index targets (N, ...) or (...); outputs of the targets' shape
    are binary scores; floating targets of the outputs' shape are one-hot class probabilities (or independent
    labels with multilabel=True).

    Args:
        threshold (float): the score above which a binary output counts as positive (0.5 for probabilities, 0.0
            for logits). Default: 0.5.
        ignore_index (int): targets equal to it are skipped. Default: -100.
        multilabel (bool): outputs and targets of one shape are independent binary labels (thresholded), not
            one-hot class probabilities. Default: False.
        name (str): the name it logs under (``val_`` + name for validation). Default: ``"accuracy"``.

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.metrics.Accuracy``/``CategoricalAccuracy``, or
        torchmetrics' ``Accuracy``).

    Example:
        >>> from ember.train import Accuracy
        >>> metric = Accuracy()
        >>> metric.update(ember.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), ember.tensor([0, 1, 1]))
        >>> round(metric.compute(), 4)
        0.6667
    """

    def __init__(self, threshold=0.5, ignore_index=-100, multilabel=False, name="accuracy"):
        self.threshold, self.ignore_index, self.multilabel, self.name = threshold, ignore_index, multilabel, name
        self.reset()

    def update(self, outputs, targets):
        out, tgt = _array(outputs), _array(targets)
        keep = (tgt != self.ignore_index) if tgt.dtype.kind in "iu" and self.ignore_index is not None else None
        pred, true, _ = _labels(self.name, out, tgt, self.threshold, self.multilabel)
        hit = pred == true
        if keep is not None and keep.shape == hit.shape:
            self.total += float((hit & keep).sum())
            self.count += int(keep.sum())
        else:
            self.total += float(hit.sum())
            self.count += int(hit.size)


class TopKAccuracy(_Ratio):
    """Fraction of targets among the k highest-scoring classes (classes tied with the k-th all count, as in
    Keras' in_top_k).

    Args:
        k (int): how many of the highest scores count. Default: 5.
        ignore_index (int): targets equal to it are skipped. Default: -100.
        name (str): the name it logs under (``val_`` + name for validation). Default: None (``"top{k}_accuracy"``).

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.metrics.SparseTopKCategoricalAccuracy``).

    Example:
        >>> out = ember.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 2.0], [0.5, 2.0, 1.0]])
        >>> ember.train.TopKAccuracy(k=2)(out, ember.tensor([0, 1, 1, 2]))
        0.75
    """

    def __init__(self, k=5, ignore_index=-100, name=None):
        if k < 1:
            raise ValueError(f"TopKAccuracy: k must be >= 1, got {k}")
        self.k, self.ignore_index, self.name = int(k), ignore_index, name or f"top{k}_accuracy"
        self.reset()

    def update(self, outputs, targets):
        xp, scores, keep, idx = _classes_last(self.name, outputs, targets, self.ignore_index, "outputs")
        target_score = xp.take_along_axis(scores, idx[..., None], axis=-1)
        hit = (scores > target_score).sum(axis=-1) < self.k
        self.total += float((hit & keep).sum())
        self.count += int(keep.sum())


class _Confusion(Metric):
    """Accumulates a confusion matrix (rows: true class, columns: predicted class) on the host."""

    def __init__(self, threshold=0.5, ignore_index=-100, multilabel=False, name=None):
        self.threshold, self.ignore_index, self.multilabel = threshold, ignore_index, multilabel
        self.name = name or self.name
        self.reset()

    def reset(self):
        self.matrix = np.zeros((0, 0), dtype=np.int64)

    def update(self, outputs, targets):
        out, tgt = _array(outputs), _array(targets)
        pred, true, n = _labels(self.name, out, tgt, self.threshold, self.multilabel)
        pred, true = move(pred, CPU).reshape(-1), move(true, CPU).reshape(-1).astype(np.int64)
        keep = true != self.ignore_index if self.ignore_index is not None else slice(None)
        pred, true = pred[keep], true[keep]
        n = max(n, self.matrix.shape[0], int(true.max(initial=-1)) + 1, int(pred.max(initial=-1)) + 1)
        if n > self.matrix.shape[0]:
            grown = np.zeros((n, n), dtype=np.int64)
            grown[:self.matrix.shape[0], :self.matrix.shape[0]] = self.matrix
            self.matrix = grown
        self.matrix += np.bincount(true * n + pred, minlength=n * n).reshape(n, n)

    def _per_class(self):
        """Per-class precision, recall and F1 (0 where undefined) and the mask of classes seen in targets or
        predictions, over which the macro average is taken (as scikit-learn's average='macro')."""
        m = self.matrix
        tp, predicted, actual = np.diag(m).astype(np.float64), m.sum(0), m.sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(predicted > 0, tp / predicted, 0.0)
            recall = np.where(actual > 0, tp / actual, 0.0)
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        return precision, recall, f1, (predicted + actual) > 0

    def compute(self):
        values = self._per_class()
        seen = values[3]
        return float(values[self._which][seen].mean()) if seen.any() else math.nan


class Precision(_Confusion):
    """Macro-averaged precision: the mean over classes of TP / (TP + FP).

    Predictions are the argmax over the class dimension (or thresholded binary scores); the matrix of counts
    grows with the classes seen, and the mean is over the classes that occur in targets or predictions (as
    scikit-learn's ``average="macro"``).

    Args:
        threshold (float): the score above which a binary output counts as positive (0.5 for probabilities, 0.0
            for logits). Default: 0.5.
        ignore_index (int): targets equal to it are skipped. Default: -100.
        multilabel (bool): outputs and targets of one shape are independent binary labels (thresholded), not
            one-hot class probabilities. Default: False.
        name (str): the name it logs under (``val_`` + name for validation). Default: None ('precision').

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.metrics.Precision``, macro-averaged).

    Example:
        >>> out = ember.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 2.0], [0.5, 2.0, 1.0]])
        >>> ember.train.Precision()(out, ember.tensor([0, 1, 1, 2]))
        0.5
    """
    name, _which = "precision", 0


class Recall(_Confusion):
    """Macro-averaged recall: the mean over classes of TP / (TP + FN).

    Predictions are the argmax over the class dimension (or thresholded binary scores); the matrix of counts
    grows with the classes seen, and the mean is over the classes that occur in targets or predictions (as
    scikit-learn's ``average="macro"``).

    Args:
        threshold (float): the score above which a binary output counts as positive (0.5 for probabilities, 0.0
            for logits). Default: 0.5.
        ignore_index (int): targets equal to it are skipped. Default: -100.
        multilabel (bool): outputs and targets of one shape are independent binary labels (thresholded), not
            one-hot class probabilities. Default: False.
        name (str): the name it logs under (``val_`` + name for validation). Default: None ('recall').

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.metrics.Recall``, macro-averaged).

    Example:
        >>> out = ember.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 2.0], [0.5, 2.0, 1.0]])
        >>> ember.train.Recall()(out, ember.tensor([0, 1, 1, 2]))
        0.5
    """
    name, _which = "recall", 1


class F1Score(_Confusion):
    """Macro-averaged F1: the mean over classes of each class's harmonic mean of precision and recall.

    Predictions are the argmax over the class dimension (or thresholded binary scores); the matrix of counts
    grows with the classes seen, and the mean is over the classes that occur in targets or predictions (as
    scikit-learn's ``average="macro"``).

    Args:
        threshold (float): the score above which a binary output counts as positive (0.5 for probabilities, 0.0
            for logits). Default: 0.5.
        ignore_index (int): targets equal to it are skipped. Default: -100.
        multilabel (bool): outputs and targets of one shape are independent binary labels (thresholded), not
            one-hot class probabilities. Default: False.
        name (str): the name it logs under (``val_`` + name for validation). Default: None ('f1').

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.metrics.F1Score``, macro-averaged).

    Example:
        >>> out = ember.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 2.0], [0.5, 2.0, 1.0]])
        >>> ember.train.F1Score()(out, ember.tensor([0, 1, 1, 2]))
        0.5
    """
    name, _which = "f1", 2


class _Error(_Ratio):
    higher_is_better = False

    def __init__(self, name=None):
        self.name = name or self.name
        self.reset()

    def update(self, outputs, targets):
        out, tgt = _array(outputs), _array(targets)
        if out.size != tgt.size:
            raise ValueError(f"{self.name}: outputs of shape {tuple(out.shape)} and targets of shape "
                             f"{tuple(tgt.shape)} have different numbers of elements")
        diff = out.reshape(-1).astype(np.float64) - tgt.reshape(-1).astype(np.float64)
        self.total += float(self._error(diff).sum())
        self.count += int(diff.size)


class MeanAbsoluteError(_Error):
    """Mean of ``|outputs - targets|`` over all elements (computed in float64; lower is better).

    Args:
        name (str): the name it logs under (``val_`` + name for validation). Default: None (``"mae"``).

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.metrics.MeanAbsoluteError``; the value of
        ``torch.nn.functional.l1_loss`` over an epoch).

    Example:
        >>> ember.train.MeanAbsoluteError()(ember.tensor([1.0, 2.0]), ember.tensor([1.5, 1.0]))
        0.75
    """
    name = "mae"

    @staticmethod
    def _error(diff):
        return abs(diff)


class MeanSquaredError(_Error):
    """Mean of ``(outputs - targets) ** 2`` over all elements (computed in float64; lower is better).

    Args:
        name (str): the name it logs under (``val_`` + name for validation). Default: None (``"mse"``).

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.metrics.MeanSquaredError``; the value of
        ``torch.nn.functional.mse_loss`` over an epoch).

    Example:
        >>> ember.train.MeanSquaredError()(ember.tensor([1.0, 2.0]), ember.tensor([1.5, 1.0]))
        0.625
    """
    name = "mse"

    @staticmethod
    def _error(diff):
        return diff * diff


class Perplexity(Metric):
    """Perplexity: exp of the mean token cross-entropy of logits against class-index targets (lower is better).

    Logits (N, C, ...) or (..., C), as a language model's (N, T, vocab); tokens whose target is ignore_index are
    skipped. The mean is over every token of the epoch, not over batches.

    Args:
        ignore_index (int): targets equal to it (padding) are skipped. Default: -100.
        name (str): the name it logs under (``val_`` + name for validation). Default: None (``"perplexity"``).

    PyTorch:
        No PyTorch counterpart: ember's own (like keras-nlp's ``Perplexity``; ``exp(F.cross_entropy(...))`` over an
        epoch).

    Example:
        >>> ember.train.Perplexity()(ember.zeros(2, 4), ember.tensor([0, 3]))  # uniform over 4 classes
        4.0
    """

    name = "perplexity"
    higher_is_better = False

    def __init__(self, ignore_index=-100, name=None):
        self.ignore_index, self.name = ignore_index, name or self.name
        self.reset()

    def reset(self):
        self.nll, self.count = 0.0, 0

    def update(self, outputs, targets):
        xp, logits, keep, idx = _classes_last(self.name, outputs, targets, self.ignore_index, "logits")
        logits = logits.astype(xp.float64)
        top = logits.max(axis=-1, keepdims=True)
        lse = xp.log(xp.exp(logits - top).sum(axis=-1)) + top[..., 0]
        nll = lse - xp.take_along_axis(logits, idx[..., None], axis=-1)[..., 0]
        self.nll += float((nll * keep).sum())
        self.count += int(keep.sum())

    def compute(self):
        return math.exp(self.nll / self.count) if self.count else math.nan


class FunctionMetric(Metric):
    """A metric from a function ``fn(outputs, targets) -> float`` of one batch, averaged over an epoch weighted by
    the batch sizes (exact for per-sample means; approximate for other statistics).

    Args:
        fn (callable): the function of one batch.
        name (str, optional): the name it logs under. Default: None (the function's ``__name__``).
        higher_is_better (bool): what ``mode="auto"`` of EarlyStopping and ModelCheckpoint reads. Default: True.

    PyTorch:
        No PyTorch counterpart: ember's own (like passing a function in Keras's ``metrics=[...]``).

    Example:
        >>> def max_error(outputs, targets):
        ...     return float((outputs - targets).abs().max())
        >>> metric = ember.train.FunctionMetric(max_error, higher_is_better=False)
        >>> metric.name, metric(ember.tensor([1.0, 2.0]), ember.tensor([1.5, 1.0]))
        ('max_error', 1.0)
    """

    def __init__(self, fn, name=None, higher_is_better=True):
        self.fn, self.higher_is_better = fn, higher_is_better
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, outputs, targets):
        n = len(targets) if hasattr(targets, "__len__") else 1
        self.total += float(self.fn(outputs, targets)) * n
        self.count += n

    def compute(self):
        return self.total / self.count if self.count else math.nan


_NAMED = {
    "accuracy": Accuracy, "acc": Accuracy,
    "precision": Precision, "recall": Recall, "f1": F1Score, "f1_score": F1Score,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "perplexity": Perplexity, "ppl": Perplexity,
}


def get_metric(spec):
    """A Metric from a name ("accuracy", "top5_accuracy", "precision", "recall", "f1", "mae", "mse",
    "perplexity", and aliases: "acc", "f1_score", "ppl"...), a Metric instance (returned as is) or a callable
    fn(outputs, targets) -> float. What ``Trainer(metrics=[...])`` calls on each entry.

    Args:
        spec (str, Metric or callable): the metric; a name keeps its spelling as the metric's name.

    Returns:
        Metric: the metric (a FunctionMetric for a callable).

    PyTorch:
        No PyTorch counterpart: ember's own (like Keras's ``keras.metrics.get``).

    Example:
        >>> from ember.train import get_metric
        >>> type(get_metric("accuracy")).__name__, type(get_metric("top5_accuracy")).__name__
        ('Accuracy', 'TopKAccuracy')
    """
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key in _NAMED:
            return _NAMED[key](name=spec)
        match = re.fullmatch(r"top_?(\d+)_acc(uracy)?", key)
        if match:
            return TopKAccuracy(int(match.group(1)), name=spec)
        raise ValueError(f"unknown metric {spec!r}; known names: {sorted(_NAMED)} and 'top<k>_accuracy'")
    if callable(spec):
        return FunctionMetric(spec)
    raise TypeError(f"a metric must be a name, a Metric or a callable, not {type(spec).__name__}")
