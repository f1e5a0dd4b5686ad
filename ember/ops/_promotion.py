"""Operand handling shared by the elementwise ops: PyTorch's type promotion of two operands (numbers included),
integers to the default float dtype, and applying a binary node with PyTorch's errors for shapes that do not
broadcast."""
import numpy as np

from .. import dtypes as _dt
from ..autograd.graph import apply
from ..device import get_array_module
from ..tensor import Tensor
from ._checks import same_device, scalar
from ._util import shape_of
from .copy import to_copy

FLOAT_KINDS = "fV"  # "V": bfloat16 from ml_dtypes


def promote(a, b, op):
    """Cast the tensor operands of a binary op to PyTorch's result dtype (differentiably)."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        if a._data.dtype == b._data.dtype:
            if a._data.__class__ is not b._data.__class__:
                same_device(a, b, op)
            return a, b
        same_device(a, b, op)
    elif ta:
        b = scalar(b, op)
        k = a._data.dtype.kind
        if b.__class__ is not Tensor and (k == "f" or (k in "iu" and b.__class__ is int)):
            return a, b
    elif tb:
        a = scalar(a, op)
        k = b._data.dtype.kind
        if a.__class__ is not Tensor and (k == "f" or (k in "iu" and a.__class__ is int)):
            return a, b
    else:
        a = scalar(a, op)
        if not isinstance(a, Tensor):
            a = Tensor._wrap(np.asarray(a, dtype=_dt.result_type(a).np))
        b = scalar(b, op)
    rt = _dt.result_type(a, b)
    if isinstance(a, Tensor) and a._data.dtype != rt.np:
        a = to_copy(a, dtype=rt)
    if isinstance(b, Tensor) and b._data.dtype != rt.np:
        b = to_copy(b, dtype=rt)
    if rt.np.kind == "V":  # ml_dtypes' bfloat16 with a Python float gives float32: make the number a bfloat16 array
        a, b = _scalar_as(a, b, rt), _scalar_as(b, a, rt)
    return a, b


def _scalar_as(x, other, dt):
    if isinstance(x, Tensor) or not isinstance(other, Tensor):
        return x
    return Tensor._wrap(get_array_module(other._data).asarray(x, dtype=dt.np))


def as_float(t):
    """Integer and bool tensors become the default float dtype (for ops like exp and true division)."""
    if t._data.dtype.kind in "biu":
        return to_copy(t, dtype=_dt.get_default_dtype())
    return t


def is_float(x):
    return x._data.dtype.kind in FLOAT_KINDS if isinstance(x, Tensor) else x.__class__ is float


def broadcast_error(op, *shapes):
    """PyTorch's message for shapes that do not broadcast, with the op and all shapes."""
    shapes = [tuple(s) for s in shapes]
    sa, sb = shapes[0], shapes[1]
    for i in range(1, min(len(sa), len(sb)) + 1):
        if sa[-i] != sb[-i] and sa[-i] != 1 and sb[-i] != 1:
            return RuntimeError(f"{op}: The size of tensor a ({sa[-i]}) must match the size of tensor b ({sb[-i]}) "
                                f"at non-singleton dimension {max(len(sa), len(sb)) - i} (shapes "
                                f"{' and '.join(map(str, shapes))})")
    return RuntimeError(f"{op}: shapes {', '.join(map(str, shapes))} are not broadcastable")


def binary(node, a, b, op):
    """Promote the operands and apply a binary node (the hot path of every arithmetic operator)."""
    a, b = promote(a, b, op)
    try:
        return apply(node, a, b)
    except (ValueError, OverflowError) as e:
        return _binary_failed(node, a, b, op, e)


def apply2(node, a, b, op):
    """apply a binary node to operands that are already promoted."""
    try:
        return apply(node, a, b)
    except (ValueError, OverflowError) as e:
        return _binary_failed(node, a, b, op, e)


def _binary_failed(node, a, b, op, error):
    """PyTorch's error for shapes that don't broadcast; a Python int outside the tensor's integer dtype (which
    NumPy refuses) wraps around as in PyTorch."""
    if isinstance(error, OverflowError):
        return apply(node, _wrap_int(a, b), _wrap_int(b, a))
    sa, sb = shape_of(a), shape_of(b)
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        raise broadcast_error(op, sa, sb) from None
    raise error


def _wrap_int(x, other):
    if x.__class__ is not int or not isinstance(other, Tensor):
        return x
    return get_array_module(other._data).asarray(np.array(x).astype(other._data.dtype))


def broadcast3_error(op, *xs):
    shapes = [str(tuple(shape_of(x))) for x in xs]
    return RuntimeError(f"{op}: shapes {', '.join(shapes[:-1])} and {shapes[-1]} are not broadcastable")
