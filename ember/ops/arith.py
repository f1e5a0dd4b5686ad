"""Binary arithmetic: add, sub, mul, div, floor_divide, remainder, fmod, pow, atan2, hypot, maximum/minimum and
fmax/fmin, and negation, with their operators (+ - * / // % ** and unary -, the reflected and augmented forms) and
add_, sub_, mul_, div_, pow_, neg_.

Backwards are written once, with ember ops: the hot ones (add, sub, mul, div, neg) apply their nodes directly (the
operands' dtypes already agree), so a plain backward costs little more than the array arithmetic. A gradient with
the broadcast shape is summed back to the input's shape by the engine.

The forwards that can meet 1/0, 0*inf, inf-inf or overflow are ``quiet``: inf and nan come without NumPy's
RuntimeWarning, as in PyTorch. pow with a number exponent of 0, +-1, +-2, +-3, +-4 or +-0.5 is products, sqrt and
reciprocals (PyTorch's own special cases), not NumPy's general power, which is ~200x slower.
"""
import math

from ..autograd import Node
from ..autograd.graph import apply, increment_version
from ..autograd.inplace import inplace, records
from ..device import get_array_module
from ..tensor import Tensor
from ._checks import not_tensor
from ._promotion import apply2, as_float, binary, is_float, promote
from ._quiet import quiet, quiet_begin, quiet_end
from ._util import zero_gradient
from .meta import broadcast, same_as
from .registry import export, register
from .ternary import where


class _Binary(Node):
    """Base of the binary elementwise nodes: the result has the broadcast shape of the operands, whose dtypes
    agree (promoted beforehand); a number operand takes the tensor's dtype."""

    saves = ()

    def infer(self, a, b):
        return broadcast(a, b)


# --- arithmetic -----------------------------------------------------------------------------------------------

@register
class Neg(Node):
    saves = ()

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        return -a

    def backward(self, g):
        return (apply(Neg(), g),)


@register
class Add(_Binary):
    def forward(self, xp, a, b):
        token = quiet_begin()  # quiet, spelled out on this hot path
        try:
            return a + b
        finally:
            quiet_end(token)

    def backward(self, g):
        return (g, g)


@register
class Sub(_Binary):
    def forward(self, xp, a, b):
        token = quiet_begin()  # quiet, spelled out on this hot path
        try:
            return a - b
        finally:
            quiet_end(token)

    def backward(self, g):
        return (g, apply(Neg(), g) if self.needs_input_grad[1] else None)


@register
class Mul(_Binary):
    @property
    def saves(self):  # a is read only for b's gradient, and b only for a's
        na, nb = self.needs_input_grad
        return (1,) * na + (0,) * nb

    def forward(self, xp, a, b):
        token = quiet_begin()  # quiet, spelled out on this hot path
        try:
            return a * b
        finally:
            quiet_end(token)

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (apply(Mul(), g, b) if na else None, apply(Mul(), g, a) if nb else None)


@register
class Div(_Binary):
    @property
    def saves(self):  # b is read for both gradients, a only for b's
        return (0, 1) if self.needs_input_grad[1] else (1,)

    def forward(self, xp, a, b):
        token = quiet_begin()  # quiet, spelled out on this hot path
        try:
            return a / b
        finally:
            quiet_end(token)

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = apply(Div(), g, b)
        return (ga if na else None, apply(Neg(), apply(Div(), apply(Mul(), ga, a), b)) if nb else None)


def _log_scalar(a):
    """log of a Python number as PyTorch computes it (-inf at 0, nan below)."""
    return math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)


def _cube(xp, a):
    return a * a * a


def _fourth(xp, a):
    a2 = a * a
    return a2 * a2


# pow(a, n) for the exponents PyTorch special-cases (2, 3, -2: products; 0.5, -0.5, -1: sqrt, rsqrt, reciprocal;
# the same formulas, so the same values, up to PyTorch's sqrt being an ulp off at times) and a few more (0, 1, 4,
# -3, -4: products, within a few ulps of pow; the negative ones of 1 / a, which cannot overflow before the result)
_POW_FLOAT = {
    0: lambda xp, a: xp.ones_like(a), 1: lambda xp, a: a.copy(), 2: lambda xp, a: a * a, 3: _cube, 4: _fourth,
    -1: lambda xp, a: 1 / a, -2: lambda xp, a: 1 / (a * a), -3: lambda xp, a: _cube(xp, 1 / a),
    -4: lambda xp, a: _fourth(xp, 1 / a), 0.5: lambda xp, a: xp.sqrt(a), -0.5: lambda xp, a: 1 / xp.sqrt(a),
}
# integers: the non-negative ones, exact (wrapping around on overflow as NumPy's and PyTorch's power does)
_POW_INT = {n: _POW_FLOAT[n] for n in (0, 1, 2, 3, 4)}


@register
class Pow(_Binary):
    saves = None

    @quiet
    def forward(self, xp, a, b):
        if b.__class__ is int or b.__class__ is float:  # a number exponent (a tensor base: pow(2, t) has a number a)
            kind = a.dtype.kind
            fast = _POW_FLOAT.get(b) if kind == "f" else _POW_INT.get(b) if kind in "iu" else None
            if fast is not None:
                return fast(xp, a)
        return a ** b

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = gb = None
        if na:
            if isinstance(b, Tensor):
                ga = where(b == 0, 0.0, g * b * a ** (b - 1))
            elif b == 0:
                ga = zero_gradient(g)
            else:
                ga = g * b * a ** (b - 1)
        if nb:
            out = a ** b
            if isinstance(a, Tensor):  # d/db a^b = a^b log a, taken as 0 where a == 0 and b >= 0 (as PyTorch)
                gb = where((a == 0) & (b >= 0), 0.0, g * out * a.log())
            else:
                gb = g * out * _log_scalar(a)
                if a == 0:
                    gb = where(b >= 0, 0.0, gb)
        return ga, gb


@register
class FloorDivide(_Binary):
    @quiet
    def forward(self, xp, a, b):
        return a // b

    def backward(self, g):  # piecewise constant: zero gradient
        return (zero_gradient(g),) * 2


@register
class TruncDivInt(_Binary):
    """Integer division rounding toward zero (exact, unlike trunc(a / b) through floats)."""

    differentiable = False

    def forward(self, xp, a, b):
        q = xp.floor_divide(a, b)
        return q + ((q * b != a) & ((a < 0) != (b < 0)))


class _ReadsBothForOther(_Binary):
    """Binary nodes whose backward reads the inputs only for the second input's gradient."""

    @property
    def saves(self):
        return (0, 1) if self.needs_input_grad[1] else ()


@register
class Remainder(_ReadsBothForOther):
    @quiet
    def forward(self, xp, a, b):
        return xp.remainder(a, b)

    def backward(self, g):
        a, b = self.inputs
        return (g, -g * floor_divide(a, b) if self.needs_input_grad[1] else None)


@register
class Fmod(_ReadsBothForOther):
    @quiet
    def forward(self, xp, a, b):
        return xp.fmod(a, b)

    def backward(self, g):
        a, b = self.inputs
        return (g, -g * (a / b).trunc() if self.needs_input_grad[1] else None)


@register
class Atan2(_Binary):
    saves = None

    def forward(self, xp, a, b):
        return xp.arctan2(a, b)

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        d = a * a + b * b
        return (g * b / d if na else None, -g * a / d if nb else None)


class _Extremum(_Binary):
    """maximum/minimum: the gradient goes to the winner, split in half on ties (as in PyTorch)."""

    saves = None
    pick = None

    def forward(self, xp, a, b):
        return getattr(xp, self.pick)(a, b)

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        g = where(a == b, g * 0.5, g)
        a_loses, b_loses = (a < b, a > b) if self.pick == "maximum" else (a > b, a < b)
        return (where(a_loses, 0.0, g) if na else None, where(b_loses, 0.0, g) if nb else None)


@register
class Maximum(_Extremum):
    pick = "maximum"


@register
class Minimum(_Extremum):
    pick = "minimum"


class _FExtremum(_Extremum):
    """fmax/fmin ignore NaN; PyTorch gives the whole gradient to input on ties or when other is NaN."""

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        a_wins = ((a >= b) if self.pick == "fmax" else (a <= b)) | (b != b)  # b != b: b is NaN
        return (where(a_wins, g, 0.0) if na else None, where(a_wins, 0.0, g) if nb else None)


@register
class Fmax(_FExtremum):
    pick = "fmax"


@register
class Fmin(_FExtremum):
    pick = "fmin"


# --- the public functions ---------------------------------------------------------------------------------------

@export(Neg, ember=("neg", "negative"), methods=("neg", "negative", "__neg__"))
def neg(input):
    """The negation -input of each element.

    Args:
        input (Tensor): the input tensor (not bool: invert a mask with ``~`` or ``logical_not``).

    Returns:
        Tensor: of input's shape and dtype.

    PyTorch:
        ``torch.neg``, ``torch.negative``, ``Tensor.neg``, ``Tensor.negative`` and the unary ``-`` operator; same
        semantics (no ``out=`` argument).

    Example:
        >>> -ember.tensor([1, -2])
        tensor([-1,  2])
    """
    if not isinstance(input, Tensor):
        raise not_tensor(input, "neg", pos=1)
    if input._data.dtype.kind == "b":
        raise RuntimeError("neg: Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                           "to invert a mask, use the `~` or `logical_not()` operator instead.")
    return apply(Neg(), input)


@export(Add, methods=("add", "__add__"))
def add(input, other, alpha=1):
    """Add ``other``, scaled by ``alpha``, to ``input`` elementwise.

    Shapes broadcast as NumPy's, (3, 1) + (4,) -> (3, 4), and dtypes promote as PyTorch's (an integer tensor plus
    a float tensor is a float tensor; a Python number does not widen a tensor's float dtype).

    Args:
        input (Tensor or number): the first operand.
        other (Tensor or number): the second operand.
        alpha (number): the multiplier of ``other``. Default: 1.

    Returns:
        Tensor: ``input + alpha * other``, of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.add``, ``Tensor.add`` and the ``+`` operator; same semantics (no ``out=`` argument).

    Example:
        >>> ember.add(ember.tensor([1, 2]), ember.tensor([10, 20]), alpha=2)
        tensor([21, 42])
        >>> (ember.ones(3, 1) + ember.arange(4.0)).shape
        ember.Size([3, 4])
    """
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return binary(Add(), input, other, "add")


@export(Sub, ember=("sub", "subtract"), methods=("sub", "subtract", "__sub__"))
def sub(input, other, alpha=1):
    """Subtract ``other``, scaled by ``alpha``, from ``input`` elementwise.

    Shapes broadcast and dtypes promote as in ``ember.add``. Bool operands raise (invert a mask with ``~``).

    Args:
        input (Tensor or number): the first operand.
        other (Tensor or number): the second operand.
        alpha (number): the multiplier of ``other``. Default: 1.

    Returns:
        Tensor: ``input - alpha * other``, of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.sub``, ``torch.subtract``, ``Tensor.sub``, ``Tensor.subtract`` and the ``-`` operator; same semantics
        (no ``out=`` argument).

    Example:
        >>> ember.sub(ember.tensor([5, 6]), ember.tensor([1, 2]), alpha=2)
        tensor([3, 2])
    """
    if (input.__class__ is bool or other.__class__ is bool or (isinstance(input, Tensor) and
            input._data.dtype.kind == "b") or (isinstance(other, Tensor) and other._data.dtype.kind == "b")):
        raise RuntimeError("sub: Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
                           "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return binary(Sub(), input, other, "sub")


@export(Mul, ember=("mul", "multiply"), methods=("mul", "multiply", "__mul__"))
def mul(input, other):
    """Multiply ``input`` by ``other`` elementwise.

    Shapes broadcast and dtypes promote as in ``ember.add``.

    Args:
        input (Tensor or number): the first operand.
        other (Tensor or number): the second operand.

    Returns:
        Tensor: ``input * other``, of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.mul``, ``torch.multiply``, ``Tensor.mul``, ``Tensor.multiply`` and the ``*`` operator; same semantics
        (no ``out=`` argument).

    Example:
        >>> ember.mul(ember.tensor([1, 2]), 1.5)
        tensor([1.5000, 3.0000])
    """
    return binary(Mul(), input, other, "mul")


@export(Div, TruncDivInt, FloorDivide, ember=("div", "divide", "true_divide"),
        methods=("div", "divide", "true_divide", "__truediv__"))
def div(input, other, rounding_mode=None):
    """Divide ``input`` by ``other`` elementwise, optionally rounding the quotient.

    Shapes broadcast and dtypes promote as in ``ember.add``. Without rounding the division is true division: integer
    operands give the default float dtype. With a rounding mode, integer operands give an exact integer result and
    an integer division by zero raises; float division by zero gives inf or NaN.

    Args:
        input (Tensor or number): the dividend.
        other (Tensor or number): the divisor.
        rounding_mode (str, optional): None (no rounding), ``'trunc'`` (toward zero) or ``'floor'`` (toward -inf,
            as Python's ``//``). Default: None.

    Returns:
        Tensor: the quotient, of the broadcast shape.

    PyTorch:
        ``torch.div``, ``torch.divide``, ``torch.true_divide``, their ``Tensor`` methods and the ``/`` operator; same
        semantics (no ``out=`` argument).

    Example:
        >>> ember.div(ember.tensor([1, 7]), 2)
        tensor([0.5000, 3.5000])
        >>> ember.div(ember.tensor([-7, 7]), 2, rounding_mode="trunc")
        tensor([-3,  3])
    """
    if rounding_mode is not None:
        return _rounded_div(input, other, rounding_mode)
    a, b = promote(input, other, "div")
    if not (is_float(a) or is_float(b)):
        a = as_float(a) if isinstance(a, Tensor) else float(a)
        b = as_float(b) if isinstance(b, Tensor) else float(b)
    return apply2(Div(), a, b, "div")


def _rounded_div(input, other, rounding_mode):
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode != "trunc":
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                         f"'{rounding_mode}'")
    a, b = promote(input, other, "div")
    if is_float(a) or is_float(b):
        return apply2(Div(), a, b, "div").trunc()
    _check_int_zero(b, "div")
    return apply2(TruncDivInt(), a, b, "div")


def _check_int_zero(b, op):
    """PyTorch raises for integer division by zero (NumPy would warn and return 0)."""
    if isinstance(b, Tensor):
        zero = b._data.dtype.kind in "biu" and bool((b._data == 0).any())
    else:
        zero = isinstance(b, int) and b == 0
    if zero:
        raise RuntimeError(f"{op}: ZeroDivisionError")


def _integer_division(node, input, other, op):
    """A division-like node on promoted operands; integer operands raise on a zero divisor, as in PyTorch."""
    a, b = promote(input, other, op)
    if not (is_float(a) or is_float(b)):
        _check_int_zero(b, op)
    return apply2(node, a, b, op)


@export(FloorDivide, methods=("floor_divide", "__floordiv__"))
def floor_divide(input, other):
    """The quotient of ``input / other`` rounded toward -inf (Python's ``//``), elementwise.

    Shapes broadcast and dtypes promote as in ``ember.add``; integer operands stay integers, and an integer division
    by zero raises. Its gradient is zero (the result is piecewise constant).

    Args:
        input (Tensor or number): the dividend.
        other (Tensor or number): the divisor.

    Returns:
        Tensor: of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.floor_divide``, ``Tensor.floor_divide`` and the ``//`` operator; same semantics (no ``out=``
        argument).

    Example:
        >>> ember.floor_divide(ember.tensor([-7, 7]), 2)
        tensor([-4,  3])
    """
    return _integer_division(FloorDivide(), input, other, "floor_divide")


@export(Remainder, methods=("remainder", "__mod__"))
def remainder(input, other):
    """The remainder of ``input / other`` with the sign of the divisor (Python's ``%``), elementwise.

    ``input - floor_divide(input, other) * other``. Shapes broadcast and dtypes promote as in ``ember.add``; an
    integer division by zero raises.

    Args:
        input (Tensor or number): the dividend.
        other (Tensor or number): the divisor.

    Returns:
        Tensor: of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.remainder``, ``Tensor.remainder`` and the ``%`` operator; same semantics (no ``out=`` argument).

    Example:
        >>> ember.remainder(ember.tensor([-7, 7]), 3)
        tensor([2, 1])
    """
    return _integer_division(Remainder(), input, other, "remainder")


@export(Fmod, methods=("fmod",))
def fmod(input, other):
    """The remainder of ``input / other`` with the sign of the dividend (C's ``fmod``), elementwise.

    Shapes broadcast and dtypes promote as in ``ember.add``; an integer division by zero raises, a float one gives
    NaN.

    Args:
        input (Tensor or number): the dividend.
        other (Tensor or number): the divisor.

    Returns:
        Tensor: of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.fmod`` and ``Tensor.fmod``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.fmod(ember.tensor([-7, 7]), 3)
        tensor([-1,  1])
    """
    return _integer_division(Fmod(), input, other, "fmod")


@export(Pow, methods=("pow", "__pow__"))
def pow(input, exponent):
    """``input`` raised to the power ``exponent``, elementwise.

    Shapes broadcast and dtypes promote as in ``ember.add``; either operand may be a number. Integers to negative
    integer powers raise.

    Args:
        input (Tensor or number): the base.
        exponent (Tensor or number): the exponent.

    Returns:
        Tensor: ``input ** exponent``, of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.pow``, ``Tensor.pow`` and the ``**`` operator; same semantics (no ``out=`` argument).

    Example:
        >>> ember.pow(ember.tensor([1, 2, 3]), 2)
        tensor([1, 4, 9])
        >>> 2 ** ember.tensor([1.0, 0.5])
        tensor([2.0000, 1.4142])
    """
    a, b = promote(input, exponent, "pow")
    if not (is_float(a) or is_float(b)):
        neg = bool((b._data < 0).any()) if isinstance(b, Tensor) else b < 0
        if neg:
            raise RuntimeError("pow: Integers to negative integer powers are not allowed.")
    return apply2(Pow(), a, b, "pow")


@export(Atan2, ember=("atan2", "arctan2"), methods=("atan2", "arctan2"))
def atan2(input, other):
    """The angle in radians, in [-pi, pi], of the point (other, input): the arctangent of input / other by quadrant.

    Shapes broadcast and dtypes promote as in ``ember.add``; integer operands give the default float dtype.

    Args:
        input (Tensor or number): the y coordinates.
        other (Tensor or number): the x coordinates.

    Returns:
        Tensor: floating-point, of the broadcast shape.

    PyTorch:
        ``torch.atan2``, ``torch.arctan2`` and their ``Tensor`` methods; same semantics (no ``out=`` argument).

    Example:
        >>> ember.atan2(ember.tensor([1.0, 1.0]), ember.tensor([1.0, -1.0]))
        tensor([0.7854, 2.3562])
    """
    a, b = promote(input, other, "atan2")
    a = as_float(a) if isinstance(a, Tensor) else a
    b = as_float(b) if isinstance(b, Tensor) else b
    return apply2(Atan2(), a, b, "atan2")


@export(methods=("hypot",))
def hypot(input, other):
    """The hypotenuse sqrt(input^2 + other^2) of each pair of elements.

    Computed as written (it may overflow where the squares do). Shapes broadcast.

    Args:
        input (Tensor): the first leg.
        other (Tensor or number): the second leg.

    Returns:
        Tensor: floating-point, of the broadcast shape.

    PyTorch:
        ``torch.hypot`` and ``Tensor.hypot``; same values, except that integer tensors (giving the default float
        dtype) and a number other are accepted (PyTorch raises), and PyTorch avoids the overflow of the squares.

    Example:
        >>> ember.hypot(ember.tensor([3.0, 5.0]), ember.tensor([4.0, 12.0]))
        tensor([ 5., 13.])
    """
    return (input * input + other * other).sqrt()


@export(Maximum, methods=("maximum",))
def maximum(input, other):
    """The larger of ``input`` and ``other`` at each position; NaN wins (propagates).

    Shapes broadcast and dtypes promote as in ``ember.add``. On ties the gradient is split in half between the two.

    Args:
        input (Tensor or number): the first operand.
        other (Tensor or number): the second operand.

    Returns:
        Tensor: of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.maximum`` and ``Tensor.maximum`` (and ``torch.max(input, other)``); same semantics, except that
        ``other`` may be a number (PyTorch requires a tensor).

    Example:
        >>> ember.maximum(ember.tensor([1.0, float("nan")]), ember.tensor([2.0, 0.0]))
        tensor([2., nan])
    """
    return binary(Maximum(), input, other, "maximum")


@export(Minimum, methods=("minimum",))
def minimum(input, other):
    """The smaller of ``input`` and ``other`` at each position; NaN wins (propagates).

    Shapes broadcast and dtypes promote as in ``ember.add``. On ties the gradient is split in half between the two.

    Args:
        input (Tensor or number): the first operand.
        other (Tensor or number): the second operand.

    Returns:
        Tensor: of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.minimum`` and ``Tensor.minimum`` (and ``torch.min(input, other)``); same semantics, except that
        ``other`` may be a number (PyTorch requires a tensor).

    Example:
        >>> ember.minimum(ember.tensor([1, 5]), ember.tensor([3, 3]))
        tensor([1, 3])
    """
    return binary(Minimum(), input, other, "minimum")


@export(Fmax, methods=("fmax",))
def fmax(input, other):
    """The larger of ``input`` and ``other`` at each position, ignoring NaN (NaN only where both are NaN).

    Shapes broadcast and dtypes promote as in ``ember.add``. On ties, or where other is NaN, the gradient goes to
    input.

    Args:
        input (Tensor or number): the first operand.
        other (Tensor or number): the second operand.

    Returns:
        Tensor: of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.fmax`` and ``Tensor.fmax``; same semantics, except that ``other`` may be a number (PyTorch requires
        a tensor).

    Example:
        >>> ember.fmax(ember.tensor([1.0, float("nan")]), ember.tensor([2.0, 0.0]))
        tensor([2., 0.])
    """
    return binary(Fmax(), input, other, "fmax")


@export(Fmin, methods=("fmin",))
def fmin(input, other):
    """The smaller of ``input`` and ``other`` at each position, ignoring NaN (NaN only where both are NaN).

    Shapes broadcast and dtypes promote as in ``ember.add``. On ties, or where other is NaN, the gradient goes to
    input.

    Args:
        input (Tensor or number): the first operand.
        other (Tensor or number): the second operand.

    Returns:
        Tensor: of the broadcast shape and the promoted dtype.

    PyTorch:
        ``torch.fmin`` and ``Tensor.fmin``; same semantics, except that ``other`` may be a number (PyTorch requires
        a tensor).

    Example:
        >>> ember.fmin(ember.tensor([1.0, float("nan")]), ember.tensor([2.0, 0.0]))
        tensor([1., 0.])
    """
    return binary(Fmin(), input, other, "fmin")


negative, subtract, multiply, divide, true_divide = neg, sub, mul, div, div


# --- reflected operators (number op tensor) ---------------------------------------------------------------------

def _reflected(fn):
    """The method for ``other <op> self`` (a number on the left): fn with its operands swapped."""
    def method(self, other):
        return fn(other, self)

    method.__name__ = method.__qualname__ = f"r{fn.__name__}"
    method.__doc__ = f"{fn.__name__}(other, self)."
    return method


for _node, _fn, _name in ((Add, add, "__radd__"), (Sub, sub, "__rsub__"), (Mul, mul, "__rmul__"),
                          (Div, div, "__rtruediv__"), (FloorDivide, floor_divide, "__rfloordiv__"),
                          (Remainder, remainder, "__rmod__"), (Pow, pow, "__rpow__")):
    export(_node, ember=False, methods=(_name,))(_reflected(_fn))


# --- in-place ops (the machinery is autograd.inplace) ------------------------------------------------------

@quiet
def _ufunc_inplace(self, other, ufunc):
    """Without autograd: one ufunc writing into self's buffer. False when NumPy refuses (the slow path then
    raises PyTorch's error, or handles what NumPy can't)."""
    arr = self._data
    o = other._data if isinstance(other, Tensor) else other
    try:
        getattr(get_array_module(arr), ufunc)(arr, o, out=arr, casting="same_kind")
    except (TypeError, ValueError, OverflowError):
        return False
    increment_version(self)
    return True


def _times(other, alpha):
    """alpha * other as an array or a number, for the no-autograd path of add_/sub_."""
    if alpha == 1:
        return other
    return other._data * alpha if isinstance(other, Tensor) else other * alpha


@export(Add, ember=False, methods=("add_", "__iadd__"))
def add_(self, other, alpha=1):
    """Add ``alpha * other`` to self in place (``self += other``) and return self.

    The result must keep self's shape and dtype: ``other`` broadcasts to self's shape, and a result dtype that
    self cannot hold (a float into an integer tensor) raises.

    Args:
        other (Tensor or number): the operand added.
        alpha (number): the multiplier of ``other``. Default: 1.

    Returns:
        Tensor: self, modified.

    PyTorch:
        ``Tensor.add_`` and the ``+=`` operator; same semantics.

    Example:
        >>> x = ember.tensor([1.0, 2.0])
        >>> x.add_(ember.tensor([1.0, 1.0]), alpha=2)
        tensor([3., 4.])
    """
    if not records(self, other) and _ufunc_inplace(self, _times(other, alpha), "add"):
        return self
    return inplace(self, "add_", lambda s: add(s, other, alpha=alpha))


@export(Sub, ember=False, methods=("sub_", "subtract_", "__isub__"))
def sub_(self, other, alpha=1):
    """Subtract ``alpha * other`` from self in place (``self -= other``) and return self.

    The result must keep self's shape and dtype: ``other`` broadcasts to self's shape, and a result dtype that
    self cannot hold (a float into an integer tensor) raises.

    Args:
        other (Tensor or number): the operand subtracted.
        alpha (number): the multiplier of ``other``. Default: 1.

    Returns:
        Tensor: self, modified.

    PyTorch:
        ``Tensor.sub_``, ``Tensor.subtract_`` and the ``-=`` operator; same semantics.

    Example:
        >>> x = ember.tensor([5.0, 6.0])
        >>> x.sub_(1, alpha=2)
        tensor([3., 4.])
    """
    if not records(self, other) and _ufunc_inplace(self, _times(other, alpha), "subtract"):
        return self
    return inplace(self, "sub_", lambda s: sub(s, other, alpha=alpha))


@export(Mul, ember=False, methods=("mul_", "multiply_", "__imul__"))
def mul_(self, other):
    """Multiply self by ``other`` in place (``self *= other``) and return self.

    The result must keep self's shape and dtype: ``other`` broadcasts to self's shape, and a result dtype that
    self cannot hold (a float into an integer tensor) raises.

    Args:
        other (Tensor or number): the multiplier.

    Returns:
        Tensor: self, modified.

    PyTorch:
        ``Tensor.mul_``, ``Tensor.multiply_`` and the ``*=`` operator; same semantics.

    Example:
        >>> x = ember.tensor([1, 2])
        >>> x.mul_(2)
        tensor([2, 4])
    """
    if not records(self, other) and _ufunc_inplace(self, other, "multiply"):
        return self
    return inplace(self, "mul_", lambda s: mul(s, other))


@export(Div, ember=False, methods=("div_", "divide_", "true_divide_", "__itruediv__"))
def div_(self, other, rounding_mode=None):
    """Divide self by ``other`` in place (``self /= other``) and return self.

    The result must keep self's shape and dtype: ``other`` broadcasts to self's shape, and a result dtype that
    self cannot hold (true division of an integer tensor) raises.

    Args:
        other (Tensor or number): the divisor.
        rounding_mode (str, optional): None, ``'trunc'`` or ``'floor'``, as in ``ember.div``. Default: None.

    Returns:
        Tensor: self, modified.

    PyTorch:
        ``Tensor.div_``, ``Tensor.divide_``, ``Tensor.true_divide_`` and the ``/=`` operator; same semantics.

    Example:
        >>> x = ember.tensor([1.0, 3.0])
        >>> x.div_(2)
        tensor([0.5000, 1.5000])
    """
    if rounding_mode is None and not records(self, other) and _ufunc_inplace(self, other, "true_divide"):
        return self
    return inplace(self, "div_", lambda s: div(s, other, rounding_mode=rounding_mode))


@export(Pow, ember=False, methods=("pow_", "__ipow__"))
def pow_(self, exponent):
    """Raise self to the power ``exponent`` in place and return self.

    The result must keep self's shape and dtype: ``exponent`` broadcasts to self's shape, and a result dtype that
    self cannot hold (a float into an integer tensor) raises.

    Args:
        exponent (Tensor or number): the exponent.

    Returns:
        Tensor: self, modified.

    PyTorch:
        ``Tensor.pow_`` and ``**=``; same semantics.

    Example:
        >>> x = ember.tensor([1.0, 3.0])
        >>> x.pow_(2)
        tensor([1., 9.])
    """
    return inplace(self, "pow_", lambda s: pow(s, exponent))


@export(Neg, ember=False, methods=("neg_", "negative_"))
def neg_(self):
    """Negate self in place and return self.

    Returns:
        Tensor: self, modified.

    PyTorch:
        ``Tensor.neg_`` and ``Tensor.negative_``; same semantics.

    Example:
        >>> x = ember.tensor([1.0, -3.0])
        >>> x.neg_()
        tensor([-1.,  3.])
    """
    return inplace(self, "neg_", neg)


def _inplace_binary(fn, node, name, example, result):
    """The in-place method `name` (``atan2_``, ...): fn(self, other) written into self."""
    def method(self, other):
        return inplace(self, name, lambda s: fn(s, other))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"""Write ``self.{fn.__name__}(other)`` into self (in place) and return self.

    Args:
        other (Tensor or number): the second operand; it broadcasts to self's shape.

    Returns:
        Tensor: self, modified (a result dtype that self cannot hold raises).

    PyTorch:
        ``Tensor.{name}``; same semantics.

    Example:
        >>> x = ember.tensor({example})
        >>> x.{name}(2.0)
        {result}
    """
    return export(*(node,) if node else (), ember=False, methods=(name,))(method)


atan2_ = _inplace_binary(atan2, Atan2, "atan2_", "[2.0]", "tensor([0.7854])")
export(Atan2, ember=False, methods=("arctan2_",))(atan2_)
hypot_ = _inplace_binary(hypot, None, "hypot_", "[1.5]", "tensor([2.5000])")
fmod_ = _inplace_binary(fmod, Fmod, "fmod_", "[5.0]", "tensor([1.])")
remainder_ = _inplace_binary(remainder, Remainder, "remainder_", "[-5.0]", "tensor([1.])")
floor_divide_ = _inplace_binary(floor_divide, FloorDivide, "floor_divide_", "[5.0]", "tensor([2.])")
