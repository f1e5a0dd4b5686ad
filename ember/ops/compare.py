"""Comparisons, logic and bitwise ops (no gradient): eq, ne, lt, le, gt, ge and the comparison operators,
logical_and/or/xor/not, the bitwise operators (& | ^ ~), isnan/isinf/isfinite, equal, isclose and allclose."""
import numpy as np

from ..autograd import Node
from ..autograd.graph import apply
from ..tensor import Tensor
from ._checks import check_tensor, same_device
from ._promotion import binary, broadcast_error
from .meta import broadcast
from .registry import export, register


_BOOL = np.dtype("bool")


# --- comparisons and logic (no gradient): nodes made by factories, one registered class per op -----------------

class _Predicate(Node):
    """An elementwise op with a bool result (the broadcast shape of its tensor arguments): fn(xp, *arrays)."""

    differentiable = False
    fn = None

    def infer(self, *args):
        return broadcast(*args, dtype=_BOOL)

    def forward(self, xp, *arrays):
        return self.fn(xp, *arrays)


class _Bitwise(_Predicate):
    """A bitwise op on integer or bool operands (already promoted to one dtype): their dtype."""

    def infer(self, *args):
        return broadcast(*args)


def _node(name, fn, base=_Predicate):
    """Register the node class `name` computing fn(xp, *arrays)."""
    return register(type(name, (base,), {"fn": staticmethod(fn), "__doc__": f"Elementwise {name}."}))


Eq = _node("Eq", lambda xp, a, b: a == b)
Ne = _node("Ne", lambda xp, a, b: a != b)
Lt = _node("Lt", lambda xp, a, b: a < b)
Le = _node("Le", lambda xp, a, b: a <= b)
Gt = _node("Gt", lambda xp, a, b: a > b)
Ge = _node("Ge", lambda xp, a, b: a >= b)
LogicalAnd = _node("LogicalAnd", lambda xp, a, b: xp.logical_and(a, b))
LogicalOr = _node("LogicalOr", lambda xp, a, b: xp.logical_or(a, b))
LogicalXor = _node("LogicalXor", lambda xp, a, b: xp.logical_xor(a, b))
LogicalNot = _node("LogicalNot", lambda xp, a: xp.logical_not(a))
IsNan = _node("IsNan", lambda xp, a: xp.isnan(a))
IsInf = _node("IsInf", lambda xp, a: xp.isinf(a))
IsFinite = _node("IsFinite", lambda xp, a: xp.isfinite(a))
BitwiseAnd = _node("BitwiseAnd", lambda xp, a, b: a & b, _Bitwise)
BitwiseOr = _node("BitwiseOr", lambda xp, a, b: a | b, _Bitwise)
BitwiseXor = _node("BitwiseXor", lambda xp, a, b: a ^ b, _Bitwise)
BitwiseNot = _node("BitwiseNot", lambda xp, a: ~a, _Bitwise)


def _compare_op(node_cls, name):
    def op(input, other):
        return binary(node_cls(), input, other, name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} comparison; a bool tensor."
    return op


eq = export(Eq, methods=("eq",))(_compare_op(Eq, "eq"))
ne = export(Ne, methods=("ne", "not_equal"))(_compare_op(Ne, "ne"))
lt = export(Lt, methods=("lt", "less"))(_compare_op(Lt, "lt"))
le = export(Le, methods=("le", "less_equal"))(_compare_op(Le, "le"))
gt = export(Gt, methods=("gt", "greater"))(_compare_op(Gt, "gt"))
ge = export(Ge, methods=("ge", "greater_equal"))(_compare_op(Ge, "ge"))

_COMPARABLE = (Tensor, int, float, np.generic, np.ndarray)


def _compare_method(node_cls, fn):
    """An operator method: other types give NotImplemented, so ``t == None`` is False as in PyTorch."""
    name = f"__{fn.__name__}__"

    @export(node_cls, ember=False, methods=(name,))
    def method(self, other):
        if isinstance(other, _COMPARABLE):
            return fn(self, other)
        return NotImplemented

    method.__name__ = method.__qualname__ = name
    return method


for _cls, _fn in ((Eq, eq), (Ne, ne), (Lt, lt), (Le, le), (Gt, gt), (Ge, ge)):
    _compare_method(_cls, _fn)


def _logical_op(node_cls, name, arity=2):
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
    return export(node_cls, methods=(name,))(op)


logical_and = _logical_op(LogicalAnd, "logical_and")
logical_or = _logical_op(LogicalOr, "logical_or")
logical_xor = _logical_op(LogicalXor, "logical_xor")
logical_not = _logical_op(LogicalNot, "logical_not", arity=1)
isnan = _logical_op(IsNan, "isnan", arity=1)
isinf = _logical_op(IsInf, "isinf", arity=1)
isfinite = _logical_op(IsFinite, "isfinite", arity=1)


def _check_integral(t, name):
    if t._data.dtype.kind not in "biu":
        raise TypeError(f"{name}: only integer and bool tensors are supported, got {t.dtype}")


def _bitwise_op(node_cls, name, operator):
    """A bitwise op (commutative: the reflected operator is the same function)."""
    @export(node_cls, ember=False, methods=(name, f"__{operator}__", f"__r{operator}__"))
    def op(self, other):
        _check_integral(self, name)
        return binary(node_cls(), self, other, name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} of integer or bool tensors."
    return op


bitwise_and = _bitwise_op(BitwiseAnd, "bitwise_and", "and")
bitwise_or = _bitwise_op(BitwiseOr, "bitwise_or", "or")
bitwise_xor = _bitwise_op(BitwiseXor, "bitwise_xor", "xor")


@export(BitwiseNot, ember=False, methods=("bitwise_not", "__invert__"))
def bitwise_not(self):
    """~self for an integer or bool tensor (logical not for bool)."""
    _check_integral(self, "bitwise_not")
    return apply(BitwiseNot(), self)


@export(methods=("equal",))
def equal(input, other):
    """True when both tensors have the same shape and elements."""
    return tuple(input.shape) == tuple(other.shape) and bool((input._data == other._data).all())


@register
class IsClose(Node):
    """|a - b| <= atol + rtol * |b| elementwise (NaNs equal when equal_nan); b may be a number."""

    differentiable = False

    def __init__(self, rtol, atol, equal_nan):
        self.rtol, self.atol, self.equal_nan = rtol, atol, equal_nan

    def infer(self, a, b):
        return broadcast(a, b, dtype=_BOOL)

    def forward(self, xp, a, b):
        return xp.isclose(a, b, rtol=self.rtol, atol=self.atol, equal_nan=self.equal_nan)


@export(IsClose, methods=("isclose",))
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise |input - other| <= atol + rtol * |other|."""
    return apply(IsClose(rtol, atol, equal_nan), input, other)


@export(IsClose, methods=("allclose",))
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element is close (see isclose)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())
