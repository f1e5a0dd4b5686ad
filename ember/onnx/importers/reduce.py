"""Reductions and scans: Reduce*, ArgMax/ArgMin, CumSum/CumProd, TopK, Softmax/LogSoftmax/Hardmax."""
import numpy as np

import ember as E
from ...nn import functional as F
from .._registry import onnx_op
from .._values import to_numpy, to_value
from ._util import float_path, ints, numpy_op, scalar


def _axes(ctx, inputs, attrs, input_since):
    if ctx.opset >= input_since:
        return ints(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else None
    return attrs.get("axes")


def _reduce(op_type, ember_fn, np_fn, empty_value, input_since=18):
    def importer(ctx, inputs, attrs):
        x = inputs[0]
        axes = _axes(ctx, inputs, attrs, input_since)
        keep = bool(attrs.get("keepdims", 1))
        if not axes:
            if attrs.get("noop_with_empty_axes", 0):
                return x
            axes = list(range(len(x.shape)))
        axes = tuple(sorted(a + len(x.shape) if a < 0 else a for a in axes))
        if float_path(x) and all(x.shape[a] > 0 for a in axes):
            return ember_fn(x, axes, keep)

        def run(a):
            if a.size == 0 or any(a.shape[i] == 0 for i in axes):
                shape = [1 if i in axes else n for i, n in enumerate(a.shape)]
                out = np.full(shape, empty_value(a.dtype), dtype=a.dtype)
                return out if keep else out.reshape([n for i, n in enumerate(a.shape) if i not in axes])
            return np.asarray(np_fn(a, axes, keep)).astype(a.dtype)
        return numpy_op(run, x)
    importer.__name__ = op_type
    onnx_op(op_type, since=(1, 11, 13, 18, 20))(importer)


def _lowest(dtype):
    return False if dtype == bool else -np.inf if dtype.kind in "fV" else np.iinfo(dtype).min


def _highest(dtype):
    return True if dtype == bool else np.inf if dtype.kind in "fV" else np.iinfo(dtype).max


def _sum(x, axes, keep):
    return E.sum(x, dim=axes, keepdim=keep)


def _prod(x, axes, keep):
    for a in reversed(axes):
        x = E.prod(x, dim=a, keepdim=keep)
    return x


_reduce("ReduceSum", _sum, lambda a, ax, k: np.sum(a, axis=ax, keepdims=k), lambda d: 0, input_since=13)
_reduce("ReduceMean", lambda x, ax, k: E.mean(x, dim=ax, keepdim=k),
        lambda a, ax, k: np.mean(a, axis=ax, keepdims=k), lambda d: np.nan)
_reduce("ReduceMax", lambda x, ax, k: E.amax(x, dim=ax, keepdim=k),
        lambda a, ax, k: np.max(a, axis=ax, keepdims=k), _lowest)
_reduce("ReduceMin", lambda x, ax, k: E.amin(x, dim=ax, keepdim=k),
        lambda a, ax, k: np.min(a, axis=ax, keepdims=k), _highest)
_reduce("ReduceProd", _prod, lambda a, ax, k: np.prod(a, axis=ax, keepdims=k), lambda d: 1)
_reduce("ReduceL1", lambda x, ax, k: _sum(E.abs(x), ax, k),
        lambda a, ax, k: np.sum(np.abs(a), axis=ax, keepdims=k), lambda d: 0)
_reduce("ReduceL2", lambda x, ax, k: E.sqrt(_sum(x * x, ax, k)),
        lambda a, ax, k: np.sqrt(np.sum(a.astype(np.float64) ** 2, axis=ax, keepdims=k)), lambda d: 0)
_reduce("ReduceSumSquare", lambda x, ax, k: _sum(x * x, ax, k),
        lambda a, ax, k: np.sum(a * a, axis=ax, keepdims=k), lambda d: 0)
_reduce("ReduceLogSum", lambda x, ax, k: E.log(_sum(x, ax, k)),
        lambda a, ax, k: np.log(np.sum(a, axis=ax, keepdims=k)), lambda d: -np.inf)
_reduce("ReduceLogSumExp", lambda x, ax, k: E.logsumexp(x, dim=ax, keepdim=k),
        lambda a, ax, k: np.log(np.sum(np.exp(a.astype(np.float64)), axis=ax, keepdims=k)), lambda d: -np.inf)


def _arg(op_type, np_fn):
    @onnx_op(op_type, since=(1, 11, 12, 13))
    def importer(ctx, inputs, attrs):
        axis, keep, last = attrs.get("axis", 0), attrs.get("keepdims", 1), attrs.get("select_last_index", 0)

        def run(a):
            axis_ = axis + a.ndim if axis < 0 else axis
            if last:
                idx = a.shape[axis_] - 1 - np_fn(np.flip(a, axis_), axis=axis_)
            else:
                idx = np_fn(a, axis=axis_)
            return np.expand_dims(idx, axis_).astype(np.int64) if keep else idx.astype(np.int64)
        return numpy_op(run, inputs[0])
    importer.__name__ = op_type


_arg("ArgMax", np.argmax)
_arg("ArgMin", np.argmin)


def _scan(op_type, ember_fn, np_fn, identity):
    @onnx_op(op_type, since=(11, 14) if op_type == "CumSum" else (26,))
    def importer(ctx, inputs, attrs):
        x, axis = inputs[0], scalar(inputs[1])
        axis = axis + len(x.shape) if axis < 0 else axis
        exclusive, reverse = attrs.get("exclusive", 0), attrs.get("reverse", 0)
        if float_path(x):
            y = E.flip(x, (axis,)) if reverse else x
            if exclusive and y.shape[axis] > 0:
                first = E.full_like(E.narrow(y, axis, 0, 1), identity)
                y = E.cat([first, E.narrow(y, axis, 0, y.shape[axis] - 1)], dim=axis)
            y = ember_fn(y, dim=axis)
            return E.flip(y, (axis,)) if reverse else y

        def run(a):
            y = np.flip(a, axis) if reverse else a
            if exclusive:
                first = np.full_like(np.take(y, [0], axis=axis), identity)
                y = np.concatenate([first, np.take(y, range(y.shape[axis] - 1), axis=axis)], axis=axis)
            y = np_fn(y, axis=axis).astype(a.dtype)
            return np.flip(y, axis) if reverse else y
        return numpy_op(run, x)
    importer.__name__ = op_type


_scan("CumSum", E.cumsum, np.cumsum, 0)
_scan("CumProd", E.cumprod, np.cumprod, 1)


@onnx_op("TopK", since=(1, 10, 11))
def topk(ctx, inputs, attrs):
    x = inputs[0]
    k = attrs["k"] if ctx.opset < 10 else scalar(inputs[1])
    axis, largest = attrs.get("axis", -1), attrs.get("largest", 1)
    a = to_numpy(x)
    axis = axis + a.ndim if axis < 0 else axis
    # a stable sort keeps the lower index first among equal values, as ONNX asks
    order = np.argsort(-a if largest and a.dtype.kind == "f" else a, axis=axis, kind="stable")
    if largest and a.dtype.kind != "f":
        order = np.flip(np.argsort(np.flip(a, axis), axis=axis, kind="stable"), axis)
        order = a.shape[axis] - 1 - order
    idx = np.take(order, range(k), axis=axis).astype(np.int64)
    if float_path(x):
        return E.gather(x, axis, to_value(idx)), to_value(idx)
    return to_value(np.take_along_axis(a, idx, axis=axis)), to_value(idx)


def _softmax(op_type, ember_fn):
    @onnx_op(op_type, since=(1, 11, 13))
    def importer(ctx, inputs, attrs):
        x = inputs[0]
        if ctx.opset >= 13:
            return ember_fn(x, attrs.get("axis", -1))
        axis = attrs.get("axis", 1)
        axis = axis + len(x.shape) if axis < 0 else axis
        shape = tuple(x.shape)
        flat = x.reshape((int(np.prod(shape[:axis], dtype=np.int64)), -1))
        return ember_fn(flat, 1).reshape(shape)
    importer.__name__ = op_type


def _hardmax(x, axis):
    a = to_numpy(x)
    axis = axis + a.ndim if axis < 0 else axis
    out = np.zeros_like(a)
    np.put_along_axis(out, np.expand_dims(np.argmax(a, axis=axis), axis), 1, axis=axis)
    return to_value(out)


_softmax("Softmax", lambda x, axis: F.softmax(x, dim=axis))
_softmax("LogSoftmax", lambda x, axis: F.log_softmax(x, dim=axis))
_softmax("Hardmax", _hardmax)
