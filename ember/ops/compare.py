"""Comparisons, logic and bitwise ops (no gradient): eq, ne, lt, le, gt, ge and the comparison operators,
logical_and/or/xor/not, the bitwise operators (& | ^ ~), isnan/isinf/isfinite, equal, isclose and allclose."""
import textwrap

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


def _shift(xp, a, b, left):
    """a shifted by b bits (PyTorch's rule for counts of the width or more: 0 to the left; to the right, the
    sign bit's fill for signed types, 0 for unsigned ones)."""
    if a.dtype == np.bool_:
        a = a.astype(np.int64)
    bits = a.dtype.itemsize * 8
    count = xp.clip(b, 0, bits - 1).astype(a.dtype, copy=False)
    wide = b >= bits
    if left:
        return xp.where(wide, 0, xp.left_shift(a, count)).astype(a.dtype, copy=False)
    fill = xp.right_shift(a, bits - 1) if a.dtype.kind == "i" else xp.zeros_like(a)
    return xp.where(wide, fill, xp.right_shift(a, count)).astype(a.dtype, copy=False)


BitwiseLeftShift = _node("BitwiseLeftShift", lambda xp, a, b: _shift(xp, a, b, True), _Bitwise)
BitwiseRightShift = _node("BitwiseRightShift", lambda xp, a, b: _shift(xp, a, b, False), _Bitwise)


def _compare_op(node_cls, name):
    def op(input, other):
        return binary(node_cls(), input, other, name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = _compare_doc(name)
    return op


# name -> (operator, its words, the aliases of the method, the example's printed result)
_COMPARISONS = {
    "eq": ("==", "equal to", (), "tensor([False,  True, False])"),
    "ne": ("!=", "not equal to", ("not_equal",), "tensor([ True, False,  True])"),
    "lt": ("<", "less than", ("less",), "tensor([ True, False, False])"),
    "le": ("<=", "less than or equal to", ("less_equal",), "tensor([ True,  True, False])"),
    "gt": (">", "greater than", ("greater",), "tensor([False, False,  True])"),
    "ge": (">=", "greater than or equal to", ("greater_equal",), "tensor([False,  True,  True])"),
}


def _compare_doc(name):
    """The docstring of the comparison `name` (eq, ne, lt, le, gt, ge)."""
    symbol, words, aliases, result = _COMPARISONS[name]
    names = ", ".join([f"``torch.{name}``", f"``Tensor.{name}``"] + [f"``Tensor.{n}``" for n in aliases])
    missing = f" There is no ``ember.{aliases[0]}`` (``torch.{aliases[0]}``), only the method." if aliases else ""
    mirrors = textwrap.fill(f"{names} and the ``{symbol}`` operator; same semantics, except that input may be a "
                            f"number (PyTorch requires a tensor there). No ``out=`` argument.{missing}", 112,
                            subsequent_indent=" " * 8)
    return f"""Whether each element of input is {words} other (``input {symbol} other``), as a bool tensor.

    Shapes broadcast and dtypes promote as in ``ember.add``; NaN compares unequal to everything. No gradient.

    Args:
        input (Tensor or number): the first operand.
        other (Tensor or number): the second operand.

    Returns:
        Tensor: bool, of the broadcast shape.

    PyTorch:
        {mirrors}

    Example:
        >>> ember.{name}(ember.tensor([1, 2, 3]), 2)
        {result}
    """


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
    def predicate(input):
        check_tensor(input, name, pos=1)
        return apply(node_cls(), input)

    def op(input, other):
        check_tensor(input, name, pos=1)
        if not isinstance(other, Tensor):
            other = Tensor._wrap(np.asarray(other))
        same_device(input, other, name)
        try:
            return apply(node_cls(), input, other)
        except ValueError:
            raise broadcast_error(name, input.shape, other.shape) from None

    fn = predicate if arity == 1 else op
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = _logical_doc(name, arity)
    return export(node_cls, methods=(name,))(fn)


# name -> (summary, example call, its printed result)
_LOGICAL = {
    "logical_and": ("Whether both input and other are nonzero (true), elementwise.",
                    "ember.logical_and(ember.tensor([1, 0, 2]), ember.tensor([True, True, False]))",
                    "tensor([ True, False, False])"),
    "logical_or": ("Whether input or other (or both) is nonzero (true), elementwise.",
                   "ember.logical_or(ember.tensor([1, 0, 0]), ember.tensor([True, True, False]))",
                   "tensor([ True,  True, False])"),
    "logical_xor": ("Whether exactly one of input and other is nonzero (true), elementwise.",
                    "ember.logical_xor(ember.tensor([1, 0, 2]), ember.tensor([True, True, False]))",
                    "tensor([False,  True,  True])"),
    "logical_not": ("Whether each element of input is zero (false): the logical negation.",
                    "ember.logical_not(ember.tensor([0, 1, 2]))", "tensor([ True, False, False])"),
    "isnan": ("Whether each element of input is NaN.", 'ember.isnan(ember.tensor([1.0, float("nan")]))',
              "tensor([False,  True])"),
    "isinf": ("Whether each element of input is +inf or -inf.",
              'ember.isinf(ember.tensor([1.0, float("inf"), -float("inf"), float("nan")]))',
              "tensor([False,  True,  True, False])"),
    "isfinite": ("Whether each element of input is finite (neither inf nor NaN; integers always are).",
                 'ember.isfinite(ember.tensor([1.0, float("inf"), float("nan")]))',
                 "tensor([ True, False, False])"),
}


def _logical_doc(name, arity):
    """The docstring of the logical op or predicate `name` (arity 2: it has an operand other)."""
    summary, call, result = _LOGICAL[name]
    if arity == 2:
        other = "\n        other (Tensor or number): the second operand (a number is made a tensor); it broadcasts."
        semantics = ("Operands of any dtype (nonzero is true); their shapes broadcast. No gradient.\n\n    ")
        mirrors = (f"``torch.{name}`` and ``Tensor.{name}``; same semantics, except that other may be a number "
                   "(PyTorch requires a tensor). No ``out=`` argument.")
    else:
        other = ""
        semantics = "No gradient.\n\n    "
        mirrors = f"``torch.{name}`` and ``Tensor.{name}``; same semantics (no ``out=`` argument)."
    return f"""{summary}

    {semantics}Args:
        input (Tensor): the input tensor.{other}

    Returns:
        Tensor: bool, of the {"broadcast" if arity == 2 else "input's"} shape.

    PyTorch:
        {textwrap.fill(mirrors, 112, subsequent_indent=" " * 8)}

    Example:
        >>> {call}
        {result}
    """


logical_and = _logical_op(LogicalAnd, "logical_and")
logical_or = _logical_op(LogicalOr, "logical_or")
logical_xor = _logical_op(LogicalXor, "logical_xor")
logical_not = _logical_op(LogicalNot, "logical_not", arity=1)
isnan = _logical_op(IsNan, "isnan", arity=1)
isinf = _logical_op(IsInf, "isinf", arity=1)
isfinite = _logical_op(IsFinite, "isfinite", arity=1)


def _check_integral(t, name):
    if t._data.dtype.kind not in "biu":  # NotImplementedError, as PyTorch's (a RuntimeError)
        raise NotImplementedError(f"{name}: only integer and bool tensors are supported, got {t.dtype}")


def _bitwise_op(node_cls, name, operator):
    """A bitwise op (commutative: the reflected operator is the same function)."""
    @export(node_cls, ember=name, methods=(name, f"__{operator}__", f"__r{operator}__"))
    def op(input, other):
        _check_integral(input, name)
        return binary(node_cls(), input, other, name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = _bitwise_doc(name, operator)
    return op


# operator -> (its symbol, its words, the example's printed result)
_BITWISE = {"and": ("&", "AND", "tensor([8, 2])"), "or": ("|", "OR", "tensor([14, 14])"),
            "xor": ("^", "exclusive OR", "tensor([ 6, 12])")}


def _bitwise_doc(name, operator):
    """The docstring of the bitwise method `name` (the Python operator `operator`: and, or, xor)."""
    symbol, words, result = _BITWISE[operator]
    return f"""The bitwise {words} ``input {symbol} other`` of integer or bool tensors (for bool: the logical {words}).

    Shapes broadcast and dtypes promote as in ``ember.add``. No gradient.

    Args:
        input (Tensor): the first operand, of an integer or bool dtype (else NotImplementedError).
        other (Tensor or int or bool): the second operand, of an integer or bool dtype.

    Returns:
        Tensor: of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.{name}``, ``Tensor.{name}`` and the ``{symbol}`` operator (also reflected: ``1 {symbol} t``); same
        semantics (no ``out=`` argument).

    Example:
        >>> ember.{name}(ember.tensor([12, 10]), ember.tensor([10, 6]))
        {result}
    """


bitwise_and = _bitwise_op(BitwiseAnd, "bitwise_and", "and")
bitwise_or = _bitwise_op(BitwiseOr, "bitwise_or", "or")
bitwise_xor = _bitwise_op(BitwiseXor, "bitwise_xor", "xor")


def _shift_op(node_cls, name, operator, symbol, example, result):
    """A bit shift (not commutative: its reflected operator swaps the operands)."""
    @export(node_cls, ember=name, methods=(name, f"__{operator}__"))
    def op(input, other):
        _check_integral(input, name)
        return binary(node_cls(), input, other, name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"""Shift the bits of ``input`` {"left" if operator == "lshift" else "right"} by ``other``:
    ``input {symbol} other`` elementwise (integers; a count of the type's width or more gives 0, or to the right the
    sign's fill).

    Shapes broadcast and dtypes promote as in ``ember.add``. No gradient.

    Args:
        input (Tensor): the integers to shift (else NotImplementedError).
        other (Tensor or int): the shift counts.

    Returns:
        Tensor: of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.{name}``, ``Tensor.{name}`` and the ``{symbol}`` operator (also reflected: ``1 {symbol} t``); same
        semantics (no ``out=`` argument).

    Example:
        >>> {example}
        {result}
    """

    def reflected(self, other):
        return op(other if isinstance(other, Tensor) else Tensor._wrap(np.asarray(other, self._data.dtype)), self)

    reflected.__name__ = reflected.__qualname__ = f"__r{operator}__"
    reflected.__doc__ = f"``other {symbol} self`` (a number on the left)."
    export(node_cls, ember=False, methods=(f"__r{operator}__",))(reflected)
    return op


bitwise_left_shift = _shift_op(BitwiseLeftShift, "bitwise_left_shift", "lshift", "<<",
                               "ember.tensor([1, -3, 5]) << 2", "tensor([  4, -12,  20])")
bitwise_right_shift = _shift_op(BitwiseRightShift, "bitwise_right_shift", "rshift", ">>",
                                "ember.tensor([8, -8, 5]) >> 1", "tensor([ 4, -4,  2])")


@export(BitwiseNot, methods=("bitwise_not", "__invert__"))
def bitwise_not(input):
    """The bitwise NOT ``~input`` of each element of an integer or bool tensor (the logical NOT for bool).

    No gradient.

    Args:
        input (Tensor): of an integer or bool dtype (else NotImplementedError).

    Returns:
        Tensor: of input's shape and dtype.

    PyTorch:
        ``torch.bitwise_not``, ``Tensor.bitwise_not`` and the ``~`` operator; same semantics (no ``out=``
        argument).

    Example:
        >>> ~ember.tensor([0, 5])
        tensor([-1, -6])
        >>> ember.tensor([True, False]).bitwise_not()
        tensor([False,  True])
    """
    _check_integral(input, "bitwise_not")
    return apply(BitwiseNot(), input)


@export(methods=("equal",))
def equal(input, other):
    """Whether input and other have the same shape and the same elements, as a Python bool.

    The values are compared, whatever the dtypes (an int tensor can equal a float one); NaN is never equal.

    Args:
        input (Tensor): the first tensor.
        other (Tensor): the second tensor.

    Returns:
        bool: True when the shapes and all elements are equal.

    PyTorch:
        ``torch.equal`` and ``Tensor.equal``; same semantics.

    Example:
        >>> ember.equal(ember.tensor([1, 2]), ember.tensor([1.0, 2.0]))
        True
        >>> ember.equal(ember.tensor([1, 2]), ember.tensor([[1, 2]]))
        False
    """
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
    """Whether each element of input is close to other's: ``|input - other| <= atol + rtol * |other|``.

    Infinities are close only to themselves; NaN is close to NaN only when equal_nan. No gradient.

    Args:
        input (Tensor): the first tensor.
        other (Tensor or number): the second operand; it broadcasts with input.
        rtol (float): the relative tolerance. Default: 1e-05.
        atol (float): the absolute tolerance. Default: 1e-08.
        equal_nan (bool): whether NaN counts as close to NaN. Default: False.

    Returns:
        Tensor: bool, of the broadcast shape.

    PyTorch:
        ``torch.isclose`` and ``Tensor.isclose``; same semantics, except that other may be a number, operands of
        different dtypes are compared (PyTorch raises), and shapes that do not broadcast raise NumPy's ValueError.

    Example:
        >>> ember.isclose(ember.tensor([1.0, 1.0]), ember.tensor([1.000001, 1.1]))
        tensor([ True, False])
    """
    return apply(IsClose(rtol, atol, equal_nan), input, other)


@export(IsClose, methods=("allclose",))
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of input is close to other's (``isclose(...).all()``), as a Python bool.

    Args:
        input (Tensor): the first tensor.
        other (Tensor or number): the second operand; it broadcasts with input.
        rtol (float): the relative tolerance. Default: 1e-05.
        atol (float): the absolute tolerance. Default: 1e-08.
        equal_nan (bool): whether NaN counts as close to NaN. Default: False.

    Returns:
        bool: True when ``|input - other| <= atol + rtol * |other|`` everywhere.

    PyTorch:
        ``torch.allclose`` and ``Tensor.allclose``; same semantics, with the differences of ``isclose``.

    Example:
        >>> ember.allclose(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 2.000001]))
        True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())
