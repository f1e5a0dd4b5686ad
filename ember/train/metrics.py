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
    """Base class: subclasses set `name`, keep sums in reset()/update() and turn them into a float in compute()."""

    name = "metric"
    higher_is_better = True

    def reset(self):
        raise NotImplementedError

    def update(self, outputs, targets):
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError

    def state_dict(self):
        """The running state, to continue an epoch later (a resumed run): every number, array or tensor the metric
        holds (its sums and counts, and numeric settings such as a threshold, which are the same on resume)."""
        return {k: v for k, v in vars(self).items() if isinstance(v, (int, float, np.number, np.ndarray, Tensor))}

    def load_state_dict(self, state):
        """Restore what state_dict returned."""
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
    Keras' in_top_k)."""

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
    """Macro-averaged precision: the mean over classes of TP / (TP + FP)."""
    name, _which = "precision", 0


class Recall(_Confusion):
    """Macro-averaged recall: the mean over classes of TP / (TP + FN)."""
    name, _which = "recall", 1


class F1Score(_Confusion):
    """Macro-averaged F1: the mean over classes of each class's harmonic mean of precision and recall."""
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
    """Mean of |outputs - targets| over all elements."""
    name = "mae"

    @staticmethod
    def _error(diff):
        return abs(diff)


class MeanSquaredError(_Error):
    """Mean of (outputs - targets)^2 over all elements."""
    name = "mse"

    @staticmethod
    def _error(diff):
        return diff * diff


class Perplexity(Metric):
    """exp of the mean token cross-entropy of logits against class-index targets (ignore_index tokens skipped)."""

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
    """A user function fn(outputs, targets) -> float, averaged over an epoch weighted by batch size."""

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
    "perplexity"), a Metric instance (returned as is) or a callable fn(outputs, targets) -> float.

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
