"""Binary arithmetic: add, sub, mul, div, floor_divide, remainder, fmod, pow, atan2, hypot, maximum/minimum and
fmax/fmin, with their operators (+ - * / // % ** and the reflected and augmented forms) and add_, sub_, mul_, div_,
pow_."""
import math

import numpy as np

from ..autograd import Node, is_grad_enabled
from ..autograd.graph import increment_version
from ..autograd.inplace import inplace, records
from ..device import get_array_module
from ..tensor import Tensor
from ._broadcast import sum_to, sum_to_array
from ._promotion import apply2, as_float, binary, is_float, promote
from ._util import as_array, bind, grad_tensor, shape_of, zero_gradient
from .ternary import where
from .unary import log, sqrt, trunc

__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide", "remainder", "fmod",
    "pow", "maximum", "minimum", "fmax", "fmin", "atan2", "hypot",
]

_ndarray = np.ndarray


class _Binary(Node):
    """Base for binary nodes: forward remembers the input shapes for sum_to in backward."""

    saves = ()

    def remember(self, a, b):
        self.sa = a.shape if a.__class__ is _ndarray else shape_of(a)
        self.sb = b.shape if b.__class__ is _ndarray else shape_of(b)


# Hot backwards have a second form on arrays for a plain backward (no create_graph: no graph to build), which
# skips the op machinery; the form with ember ops is the reference, and the one that double backward runs.

def _data(x):
    """The array of a tensor operand, or the number itself."""
    return x.data if isinstance(x, Tensor) else x


def _array_grad(r, shape, dtype):
    """An input's gradient computed on arrays, summed to the input's shape, as a tensor of dtype."""
    r = as_array(r)
    if r.shape != shape:
        r = sum_to_array(r, shape)
    return grad_tensor(r, dtype)


# --- arithmetic -----------------------------------------------------------------------------------------------

class Add(_Binary):
    def forward(self, xp, a, b):
        self.remember(a, b)
        return a + b

    def backward(self, g):
        na, nb = self.needs_input_grad
        return (sum_to(g, self.sa) if na else None, sum_to(g, self.sb) if nb else None)


class Sub(_Binary):
    def forward(self, xp, a, b):
        self.remember(a, b)
        return a - b

    def backward(self, g):
        na, nb = self.needs_input_grad
        gb = None
        if nb:
            gb = sum_to(-g if is_grad_enabled() else grad_tensor(-g.data, g.data.dtype), self.sb)
        return (sum_to(g, self.sa) if na else None, gb)


class Mul(_Binary):
    @property
    def saves(self):  # a is read only for b's gradient, and b only for a's
        na, nb = self.needs_input_grad
        return (1,) * na + (0,) * nb

    def forward(self, xp, a, b):
        self.remember(a, b)
        return a * b

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        if not is_grad_enabled():
            gd = g.data
            return (_array_grad(gd * _data(b), self.sa, gd.dtype) if na else None,
                    _array_grad(gd * _data(a), self.sb, gd.dtype) if nb else None)
        return (sum_to(g * b, self.sa) if na else None, sum_to(g * a, self.sb) if nb else None)


class Div(_Binary):
    @property
    def saves(self):  # b is read for both gradients, a only for b's
        return (0, 1) if self.needs_input_grad[1] else (1,)

    def forward(self, xp, a, b):
        self.remember(a, b)
        return a / b

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        if not is_grad_enabled():
            gd, bd = g.data, _data(b)
            ga = gd / bd
            return (_array_grad(ga, self.sa, gd.dtype) if na else None,
                    _array_grad(-ga * _data(a) / bd, self.sb, gd.dtype) if nb else None)
        ga = g / b
        return (sum_to(ga, self.sa) if na else None, sum_to(-ga * a / b, self.sb) if nb else None)


def _log_scalar(a):
    """log of a Python number as PyTorch computes it (-inf at 0, nan below)."""
    return math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)


class Pow(_Binary):
    saves = None

    def forward(self, xp, a, b):
        self.remember(a, b)
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
            ga = sum_to(ga, self.sa)
        if nb:
            out = a ** b
            if isinstance(a, Tensor):  # d/db a^b = a^b log a, taken as 0 where a == 0 and b >= 0 (as PyTorch)
                gb = where((a == 0) & (b >= 0), 0.0, g * out * log(a))
            else:
                gb = g * out * _log_scalar(a)
                if a == 0:
                    gb = where(b >= 0, 0.0, gb)
            gb = sum_to(gb, self.sb)
        return ga, gb


class FloorDivide(_Binary):
    def forward(self, xp, a, b):
        self.remember(a, b)
        return a // b

    def backward(self, g):  # piecewise constant: zero gradient
        na, nb = self.needs_input_grad
        return (sum_to(zero_gradient(g), self.sa) if na else None, sum_to(zero_gradient(g), self.sb) if nb else None)


class _TruncDivInt(Node):
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


class Remainder(_ReadsBothForOther):

    def forward(self, xp, a, b):
        self.remember(a, b)
        return xp.remainder(a, b)

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (sum_to(g, self.sa) if na else None, sum_to(-g * floor_divide(a, b), self.sb) if nb else None)


class Fmod(_ReadsBothForOther):

    def forward(self, xp, a, b):
        self.remember(a, b)
        return xp.fmod(a, b)

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (sum_to(g, self.sa) if na else None, sum_to(-g * trunc(a / b), self.sb) if nb else None)


class Atan2(_Binary):
    saves = None

    def forward(self, xp, a, b):
        self.remember(a, b)
        return xp.arctan2(a, b)

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        d = a * a + b * b
        return (sum_to(g * b / d, self.sa) if na else None, sum_to(-g * a / d, self.sb) if nb else None)


class _Extremum(_Binary):
    """maximum/minimum: the gradient goes to the winner, split in half on ties (as in PyTorch)."""

    saves = None
    pick = None

    def forward(self, xp, a, b):
        self.remember(a, b)
        return getattr(xp, self.pick)(a, b)

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        g = where(a == b, g * 0.5, g)
        a_loses, b_loses = (a < b, a > b) if self.pick == "maximum" else (a > b, a < b)
        return (sum_to(where(a_loses, 0.0, g), self.sa) if na else None,
                sum_to(where(b_loses, 0.0, g), self.sb) if nb else None)


class Maximum(_Extremum):
    pick = "maximum"


class Minimum(_Extremum):
    pick = "minimum"


class _FExtremum(_Binary):
    """fmax/fmin ignore NaN; PyTorch gives the whole gradient to input on ties or when other is NaN."""

    saves = None
    pick = None

    def forward(self, xp, a, b):
        self.remember(a, b)
        return getattr(xp, self.pick)(a, b)

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        a_wins = ((a >= b) if self.pick == "fmax" else (a <= b)) | (b != b)  # b != b: b is NaN
        return (sum_to(where(a_wins, g, 0.0), self.sa) if na else None,
                sum_to(where(a_wins, 0.0, g), self.sb) if nb else None)


class Fmax(_FExtremum):
    pick = "fmax"


class Fmin(_FExtremum):
    pick = "fmin"


def add(input, other, alpha=1):
    """input + alpha * other, broadcasting, with PyTorch's type promotion."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return binary(Add(), input, other, "add")


def sub(input, other, alpha=1):
    """input - alpha * other."""
    if (input.__class__ is bool or other.__class__ is bool or (isinstance(input, Tensor) and
            input.data.dtype.kind == "b") or (isinstance(other, Tensor) and other.data.dtype.kind == "b")):
        raise RuntimeError("sub: Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
                           "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return binary(Sub(), input, other, "sub")


def mul(input, other):
    """input * other."""
    return binary(Mul(), input, other, "mul")


def div(input, other, rounding_mode=None):
    """input / other (true division: integers give the default float dtype); rounding_mode 'trunc' or 'floor'."""
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
        return trunc(apply2(Div(), a, b, "div"))
    _check_int_zero(b, "div")
    return apply2(_TruncDivInt(), a, b, "div")


def _check_int_zero(b, op):
    """PyTorch raises for integer division by zero (NumPy would warn and return 0)."""
    if isinstance(b, Tensor):
        zero = b.data.dtype.kind in "biu" and bool((b.data == 0).any())
    else:
        zero = isinstance(b, int) and b == 0
    if zero:
        raise RuntimeError(f"{op}: ZeroDivisionError")


def floor_divide(input, other):
    """Floor of input / other (Python's //); its gradient is zero."""
    a, b = promote(input, other, "floor_divide")
    if not (is_float(a) or is_float(b)):
        _check_int_zero(b, "floor_divide")
    return apply2(FloorDivide(), a, b, "floor_divide")


def remainder(input, other):
    """Python-style modulus: the result has the sign of the divisor."""
    a, b = promote(input, other, "remainder")
    if not (is_float(a) or is_float(b)):
        _check_int_zero(b, "remainder")
    return apply2(Remainder(), a, b, "remainder")


def fmod(input, other):
    """C-style modulus: the result has the sign of the dividend."""
    a, b = promote(input, other, "fmod")
    if not (is_float(a) or is_float(b)):
        _check_int_zero(b, "fmod")
    return apply2(Fmod(), a, b, "fmod")


def pow(input, exponent):
    """input ** exponent (either may be a number)."""
    a, b = promote(input, exponent, "pow")
    if not (is_float(a) or is_float(b)):
        neg = bool((b.data < 0).any()) if isinstance(b, Tensor) else b < 0
        if neg:
            raise RuntimeError("pow: Integers to negative integer powers are not allowed.")
    return apply2(Pow(), a, b, "pow")


def atan2(input, other):
    """The angle of (other, input), elementwise."""
    a, b = promote(input, other, "atan2")
    a = as_float(a) if isinstance(a, Tensor) else a
    b = as_float(b) if isinstance(b, Tensor) else b
    return apply2(Atan2(), a, b, "atan2")


def hypot(input, other):
    """sqrt(input**2 + other**2)."""
    return sqrt(input * input + other * other)


def maximum(input, other):
    """Elementwise maximum (NaN propagates)."""
    return binary(Maximum(), input, other, "maximum")


def minimum(input, other):
    """Elementwise minimum (NaN propagates)."""
    return binary(Minimum(), input, other, "minimum")


def fmax(input, other):
    """Elementwise maximum that ignores NaN."""
    return binary(Fmax(), input, other, "fmax")


def fmin(input, other):
    """Elementwise minimum that ignores NaN."""
    return binary(Fmin(), input, other, "fmin")


subtract, multiply, divide, true_divide = sub, mul, div, div


# --- in-place ops (the machinery is autograd.inplace) ------------------------------------------------------

def _ufunc_inplace(self, other, ufunc):
    """Without autograd: one ufunc writing into self's buffer. False when NumPy refuses (the slow path then
    raises PyTorch's error, or handles what NumPy can't)."""
    arr = self.data
    o = other.data if isinstance(other, Tensor) else other
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
    return other.data * alpha if isinstance(other, Tensor) else other * alpha


def add_(self, other, alpha=1):
    """self += alpha * other, in place."""
    if not records(self, other) and _ufunc_inplace(self, _times(other, alpha), "add"):
        return self
    return inplace(self, "add_", lambda s: add(s, other, alpha=alpha))


def sub_(self, other, alpha=1):
    """self -= alpha * other, in place."""
    if not records(self, other) and _ufunc_inplace(self, _times(other, alpha), "subtract"):
        return self
    return inplace(self, "sub_", lambda s: sub(s, other, alpha=alpha))


def mul_(self, other):
    """self *= other, in place."""
    if not records(self, other) and _ufunc_inplace(self, other, "multiply"):
        return self
    return inplace(self, "mul_", lambda s: mul(s, other))


def div_(self, other, rounding_mode=None):
    """self /= other, in place."""
    if rounding_mode is None and not records(self, other) and _ufunc_inplace(self, other, "true_divide"):
        return self
    return inplace(self, "div_", lambda s: div(s, other, rounding_mode=rounding_mode))


def _inplace_binary(fn, name):
    def method(self, other):
        return inplace(self, name, lambda s: fn(s, other))

    method.__name__ = name
    return method


# --- Tensor methods and operators -----------------------------------------------------------------------------

def _r(fn):
    def reflected(self, other):
        return fn(other, self)
    return reflected

bind(
    add=add, sub=sub, subtract=sub, mul=mul, multiply=mul, div=div, divide=div, true_divide=div,
    floor_divide=floor_divide, remainder=remainder, fmod=fmod, pow=pow, maximum=maximum, minimum=minimum,
    fmax=fmax, fmin=fmin, atan2=atan2, hypot=hypot,
    __add__=add, __radd__=_r(add), __sub__=sub, __rsub__=_r(sub), __mul__=mul, __rmul__=_r(mul),
    __truediv__=div, __rtruediv__=_r(div), __floordiv__=floor_divide, __rfloordiv__=_r(floor_divide),
    __mod__=remainder, __rmod__=_r(remainder), __pow__=pow, __rpow__=_r(pow),
    add_=add_, sub_=sub_, mul_=mul_, div_=div_, pow_=_inplace_binary(pow, "pow_"),
    __iadd__=add_, __isub__=sub_, __imul__=mul_, __itruediv__=div_,
)
