"""In-place operations under autograd.

An in-place op runs its out-of-place form on an alias of the old tensor (same data, old history) and writes the
result into the tensor's buffer; the tensor takes the result's history and its version counter goes up, so that
nodes which saved the old values for backward raise instead of computing a wrong gradient.
"""
from .. import _tracing, dtypes as _dt
from ..tensor import Tensor
from .grad_mode import is_grad_enabled
from .graph import alias, increment_version

__all__ = ["inplace", "check_inplace", "check_writable", "records"]


def check_writable(t, op):
    """Raise when t's memory can't be written (a read-only array, or a broadcast view whose elements alias)."""
    arr = t._data
    if getattr(arr.flags, "writeable", True):
        return
    if arr.size > 1 and 0 in arr.strides:
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the written-to tensor refers to "
                           "a single memory location. Please clone() the tensor before performing the operation.")
    raise RuntimeError(f"{op}: the tensor's memory is read-only (e.g. from a read-only NumPy array); clone() it "
                       "first")


def check_inplace(t, op):
    """Raise PyTorch's errors for in-place ops that autograd or the memory can't allow (before anything changes)."""
    check_writable(t, op)
    if not is_grad_enabled():
        return
    if t.requires_grad and t.grad_fn is None:
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation.")
    if t.requires_grad and t._base is not None and t._base.requires_grad:
        raise RuntimeError(f"{op}: in-place modification of a view of a tensor that requires grad is not "
                           "supported; use an out-of-place op instead")


def _keep_old_values(node, old):
    """When node saved `old` (whose buffer is about to be overwritten) for backward, give it a private copy."""
    versions = node._versions
    if not versions:
        return
    copy = None
    for k, (i, vbox, _) in enumerate(versions):
        if i >= 0 and node.inputs[i] is old:
            if copy is None:
                copy = Tensor._wrap(old._data.copy(), old.requires_grad, old.grad_fn)
                copy._out_index = old._out_index
            versions[k] = (i, copy._vbox, 0)
    if copy is not None:
        node.inputs = tuple(copy if x is old else x for x in node.inputs)


def inplace(t, op, compute):
    """Run compute(old_t) out of place and write the result into t, recording it for autograd."""
    check_inplace(t, op)
    old = alias(t) if is_grad_enabled() else t
    result = uncast = compute(old)
    rd = result._data.dtype
    if rd != t._data.dtype:
        if not _dt.can_cast(_dt.from_numpy_dtype(rd), t.dtype):
            raise RuntimeError(f"{op}: result type {_dt.from_numpy_dtype(rd).name.capitalize()} can't be cast to "
                               f"the desired output type {t.dtype.name.capitalize()}")
        if result.requires_grad:
            result = result.to(t.dtype)
    if tuple(result._data.shape) != tuple(t._data.shape):
        raise RuntimeError(f"{op}: output with shape {tuple(t.shape)} doesn't match the broadcast shape "
                           f"{tuple(result.shape)}")
    if result.requires_grad and t._base is not None:
        raise RuntimeError(f"{op}: an in-place operation on a view that records autograd history is not "
                           "supported; clone() the view first")
    if uncast.grad_fn is not None and old is not t:
        _keep_old_values(uncast.grad_fn, old)
    if result._data is not t._data:
        t._data[...] = result._data
    if result.requires_grad:
        t.grad_fn, t._out_index, t.requires_grad = result.grad_fn, result._out_index, True
    if _tracing.active[0]:
        _tracing.wrote(t, result)
    increment_version(t)
    return t


def records(*tensors):
    """True when an op on these arguments (tensors or numbers) is recorded for autograd, or traced (the in-place
    ops' array fast paths, taken otherwise, are invisible to a tracer)."""
    return (is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad for t in tensors)) or \
        _tracing.active[0] > 0
