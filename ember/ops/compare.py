"""Comparisons, logic and bitwise ops (no gradient): eq, ne, lt, le, gt, ge and the comparison operators,
logical_and/or/xor/not, the bitwise operators (& | ^ ~), isnan/isinf/isfinite, equal, isclose and allclose."""
import numpy as np

from ..autograd import Node
from ..autograd.graph import apply
from ..device import get_array_module
from ..tensor import Tensor
from ._checks import check_tensor, same_device
from ._promotion import binary, broadcast_error
from ._util import bind

__all__ = [
    "eq", "ne", "lt", "le", "gt", "ge", "equal", "allclose", "isclose", "logical_and", "logical_or", "logical_not",
    "logical_xor", "isnan", "isinf", "isfinite",
]


# --- comparisons and logic (no gradient) -----------------------------------------------------------------------

class _Compare(Node):
    differentiable = False
    fn = None

    def forward(self, xp, a, b):
        return self.fn(a, b)


def _compare_op(name, fn):
    node_cls = type(name.capitalize(), (_Compare,), {"fn": staticmethod(fn)})

    def op(input, other):
        return binary(node_cls(), input, other, name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} comparison; a bool tensor."
    return op


eq = _compare_op("eq", lambda a, b: a == b)
ne = _compare_op("ne", lambda a, b: a != b)
lt = _compare_op("lt", lambda a, b: a < b)
le = _compare_op("le", lambda a, b: a <= b)
gt = _compare_op("gt", lambda a, b: a > b)
ge = _compare_op("ge", lambda a, b: a >= b)

_COMPARABLE = (Tensor, int, float, np.generic, np.ndarray)


def _compare_method(fn):
    """An operator method: other types give NotImplemented, so ``t == None`` is False as in PyTorch."""
    def method(self, other):
        if isinstance(other, _COMPARABLE):
            return fn(self, other)
        return NotImplemented

    method.__name__ = f"__{fn.__name__}__"
    return method


class _Logical(Node):
    differentiable = False
    fn = None

    def forward(self, xp, *arrays):
        return self.fn(xp, *arrays)


def _logical_op(name, fn, arity=2):
    node_cls = type(name, (_Logical,), {"fn": staticmethod(fn)})

    def op(input, other=None):
        check_tensor(input, name, pos=1)
        if arity == 1:
            return apply(node_cls(), input)
        if not isinstance(other, Tensor):
            other = Tensor._wrap(np.asarray(other))
        same_device(input, other, name)
        try:
            return apply(node_cls(), input, other)
        except ValueError:
            raise broadcast_error(name, input.shape, other.shape) from None

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}; a bool tensor."
    return op


logical_and = _logical_op("logical_and", lambda xp, a, b: xp.logical_and(a, b))
logical_or = _logical_op("logical_or", lambda xp, a, b: xp.logical_or(a, b))
logical_xor = _logical_op("logical_xor", lambda xp, a, b: xp.logical_xor(a, b))
logical_not = _logical_op("logical_not", lambda xp, a: xp.logical_not(a), arity=1)
isnan = _logical_op("isnan", lambda xp, a: xp.isnan(a), arity=1)
isinf = _logical_op("isinf", lambda xp, a: xp.isinf(a), arity=1)
isfinite = _logical_op("isfinite", lambda xp, a: xp.isfinite(a), arity=1)


def _bitwise(name, fn):
    node_cls = type(name, (_Logical,), {"fn": staticmethod(fn)})

    def op(self, other):
        if self.data.dtype.kind not in "biu":
            raise TypeError(f"{name}: only integer and bool tensors are supported, got {self.dtype}")
        return binary(node_cls(), self, other, name)

    return op


_and = _bitwise("bitwise_and", lambda xp, a, b: a & b)
_or = _bitwise("bitwise_or", lambda xp, a, b: a | b)
_xor = _bitwise("bitwise_xor", lambda xp, a, b: a ^ b)


class _Invert(_Logical):
    fn = staticmethod(lambda xp, a: ~a)


def _invert(self):
    if self.data.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: only integer and bool tensors are supported, got {self.dtype}")
    return apply(_Invert(), self)


def equal(input, other):
    """True when both tensors have the same shape and elements."""
    return tuple(input.shape) == tuple(other.shape) and bool((input.data == other.data).all())


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise |input - other| <= atol + rtol * |other|."""
    xp = get_array_module(input.data)
    o = other.data if isinstance(other, Tensor) else other
    return Tensor._wrap(xp.isclose(input.data, o, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element is close (see isclose)."""
    return bool(isclose(input, other, rtol, atol, equal_nan).data.all())


bind(
    eq=eq, ne=ne, lt=lt, le=le, gt=gt, ge=ge, greater=gt, less=lt, greater_equal=ge, less_equal=le, not_equal=ne,
    equal=equal, allclose=allclose, isclose=isclose, logical_and=logical_and, logical_or=logical_or,
    logical_xor=logical_xor, logical_not=logical_not, isnan=isnan, isinf=isinf, isfinite=isfinite,
    __eq__=_compare_method(eq), __ne__=_compare_method(ne), __lt__=_compare_method(lt),
    __le__=_compare_method(le), __gt__=_compare_method(gt), __ge__=_compare_method(ge),
    __and__=_and, __or__=_or, __xor__=_xor, __rand__=_and, __ror__=_or, __rxor__=_xor, __invert__=_invert,
    bitwise_and=_and, bitwise_or=_or, bitwise_xor=_xor, bitwise_not=_invert,
)
Tensor.__hash__ = lambda self: id(self)  # defining __eq__ must not make tensors unhashable
