"""Elementwise ops: arithmetic, math functions, comparisons, logic, where, clamp, casts, and in-place forms."""
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd import Node, _mode
from ..device import move
from ..tensor import Tensor, apply
from ._broadcast import sum_to
from ._erf import erf as _erf_array
from ._util import bind

__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide", "remainder", "fmod",
    "pow", "neg", "negative", "abs", "absolute", "sign", "exp", "exp2", "log", "log2", "log10", "log1p", "expm1",
    "sqrt", "rsqrt", "reciprocal", "square", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
    "sigmoid", "relu", "erf", "erfc", "floor", "ceil", "round", "trunc", "frac", "clamp", "clip", "maximum",
    "minimum", "fmax", "fmin", "where", "lerp", "eq", "ne", "lt", "le", "gt", "ge", "equal", "allclose", "isclose",
    "logical_and", "logical_or", "logical_not", "logical_xor", "isnan", "isinf", "isfinite", "nan_to_num", "clone",
    "atan2", "hypot",
]

_SCALARS = (int, float, bool)


# --- promotion and devices ------------------------------------------------------------------------------------

def _same_device(a, b, op):
    if a.data.__class__ is not b.data.__class__ and a.device != b.device:
        raise RuntimeError(f"{op}: Expected all tensors to be on the same device, but found at least two devices, "
                           f"{a.device} and {b.device}!")


def _scalar(x, op):
    if isinstance(x, _SCALARS):
        return x
    if isinstance(x, (np.generic, np.ndarray)):
        return Tensor._wrap(np.asarray(x))
    raise TypeError(f"{op}: unsupported operand type {type(x).__name__} (expected a Tensor or a number)")


def promote(a, b, op):
    """Cast the tensor operands of a binary op to PyTorch's result dtype (differentiably)."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        if a.data.dtype == b.data.dtype:
            if a.data.__class__ is not b.data.__class__:
                _same_device(a, b, op)
            return a, b
        _same_device(a, b, op)
    elif ta:
        b = _scalar(b, op)
        k = a.data.dtype.kind
        if b.__class__ is not Tensor and (k == "f" or (k in "iu" and b.__class__ is int)):
            return a, b
    elif tb:
        a = _scalar(a, op)
        k = b.data.dtype.kind
        if a.__class__ is not Tensor and (k == "f" or (k in "iu" and a.__class__ is int)):
            return a, b
    else:
        a = Tensor._wrap(np.asarray(a, dtype=_dt.result_type(a).np))
    rt = _dt.result_type(a, b)
    if isinstance(a, Tensor) and a.dtype is not rt:
        a = to_copy(a, dtype=rt)
    if isinstance(b, Tensor) and b.dtype is not rt:
        b = to_copy(b, dtype=rt)
    return a, b


def _float(t):
    """Integer and bool tensors become the default float dtype (for ops like exp and true division)."""
    if t.data.dtype.kind in "biu":
        return to_copy(t, dtype=_dt.get_default_dtype())
    return t


def _shape(x):
    return getattr(x, "shape", ())


def _binary(node, a, b, op):
    a, b = promote(a, b, op)
    try:
        return apply(node, a, b)
    except ValueError as e:
        sa, sb = tuple(_shape(a)), tuple(_shape(b))
        for i in range(1, min(len(sa), len(sb)) + 1):
            if sa[-i] != sb[-i] and sa[-i] != 1 and sb[-i] != 1:
                raise RuntimeError(f"{op}: The size of tensor a ({sa[-i]}) must match the size of tensor b "
                                   f"({sb[-i]}) at non-singleton dimension {max(len(sa), len(sb)) - i} "
                                   f"(shapes {sa} and {sb})") from None
        raise


class _Binary(Node):
    """Base for binary nodes: forward remembers the input shapes for sum_to in backward."""

    saves = ()

    def remember(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)


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
        return (sum_to(g, self.sa) if na else None, sum_to(-g, self.sb) if nb else None)


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
        return (sum_to(g * b, self.sa) if na else None, sum_to(g * a, self.sb) if nb else None)


class Div(_Binary):
    saves = None

    def forward(self, xp, a, b):
        self.remember(a, b)
        return a / b

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = g / b
        return (sum_to(ga, self.sa) if na else None, sum_to(-ga * a / b, self.sb) if nb else None)


class Pow(_Binary):
    saves = None

    def forward(self, xp, a, b):
        self.remember(a, b)
        if b.__class__ is int and b < 0 and getattr(a, "dtype", np.float32).kind in "iu":
            raise RuntimeError("pow: Integers to negative integer powers are not allowed.")
        return a ** b

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = gb = None
        if na:
            if isinstance(b, Tensor):
                ga = where(b == 0, 0.0, g * b * a ** (b - 1))
            elif b == 0:
                ga = g * 0.0
            else:
                ga = g * b * a ** (b - 1)
            ga = sum_to(ga, self.sa)
        if nb:
            out = a ** b
            if isinstance(a, Tensor):
                gb = where((a == 0) & (b >= 0), 0.0, g * out * log(a))
            else:
                gb = g * out * math.log(a)
            gb = sum_to(gb, self.sb)
        return ga, gb


class FloorDivide(_Binary):
    def forward(self, xp, a, b):
        self.remember(a, b)
        return a // b

    def backward(self, g):  # piecewise constant: zero gradient
        na, nb = self.needs_input_grad
        return (sum_to(g * 0, self.sa) if na else None, sum_to(g * 0, self.sb) if nb else None)


class Remainder(_Binary):
    saves = None

    def forward(self, xp, a, b):
        self.remember(a, b)
        return xp.remainder(a, b)

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (sum_to(g, self.sa) if na else None, sum_to(-g * floor_divide(a, b), self.sb) if nb else None)


class Fmod(_Binary):
    saves = None

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
        a_wins = (a > b) if self.pick in ("maximum", "fmax") else (a < b)
        tie = a == b
        half = g * 0.5
        ga = where(tie, half, where(a_wins, g, 0.0)) if na else None
        gb = where(tie, half, where(a_wins, 0.0, g)) if nb else None
        return (sum_to(ga, self.sa) if na else None, sum_to(gb, self.sb) if nb else None)


class Maximum(_Extremum):
    pick = "maximum"


class Minimum(_Extremum):
    pick = "minimum"


class Fmax(_Extremum):
    pick = "fmax"


class Fmin(_Extremum):
    pick = "fmin"


def add(input, other, alpha=1):
    """input + alpha * other, broadcasting, with PyTorch's type promotion."""
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Add(), input, other, "add")


def sub(input, other, alpha=1):
    """input - alpha * other."""
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Sub(), input, other, "sub")


def mul(input, other):
    """input * other."""
    return _binary(Mul(), input, other, "mul")


def div(input, other, rounding_mode=None):
    """input / other (true division: integers give the default float dtype); rounding_mode 'trunc' or 'floor'."""
    if rounding_mode == "floor":
        return floor_divide(input, other)
    a, b = promote(input, other, "div")
    if not any(isinstance(x, Tensor) and x.data.dtype.kind == "f" for x in (a, b)) and \
            not isinstance(a, float) and not isinstance(b, float):
        a = _float(a) if isinstance(a, Tensor) else float(a)
        b = _float(b) if isinstance(b, Tensor) else float(b)
    out = _binary(Div(), a, b, "div")
    if rounding_mode == "trunc":
        out = trunc(out)
        if isinstance(input, Tensor) and input.data.dtype.kind in "iu":
            out = out.to(_dt.result_type(input, other))
    elif rounding_mode is not None:
        raise ValueError(f"div: expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                         f"'{rounding_mode}'")
    return out


def floor_divide(input, other):
    """Floor of input / other (Python's //)."""
    a, b = promote(input, other, "floor_divide")
    if _is_int_zero(b):
        raise RuntimeError("floor_divide: ZeroDivisionError (integer division by zero)")
    return _binary(FloorDivide(), a, b, "floor_divide")


def _is_int_zero(b):
    if isinstance(b, Tensor):
        return b.data.dtype.kind in "iu" and bool((b.data == 0).any())
    return isinstance(b, int) and b == 0


def remainder(input, other):
    """Python-style modulus: the result has the sign of the divisor."""
    if _is_int_zero(promote(input, other, "remainder")[1]):
        raise RuntimeError("remainder: ZeroDivisionError (integer division by zero)")
    return _binary(Remainder(), input, other, "remainder")


def fmod(input, other):
    """C-style modulus: the result has the sign of the dividend."""
    return _binary(Fmod(), input, other, "fmod")


def pow(input, exponent):
    """input ** exponent (either may be a number)."""
    if isinstance(input, Tensor) and isinstance(exponent, float) and input.data.dtype.kind in "biu":
        input = _float(input)
    return _binary(Pow(), input, exponent, "pow")


def atan2(input, other):
    """The angle of (other, input), elementwise."""
    a, b = promote(input, other, "atan2")
    a = _float(a) if isinstance(a, Tensor) else a
    b = _float(b) if isinstance(b, Tensor) else b
    return _binary(Atan2(), a, b, "atan2")


def hypot(input, other):
    """sqrt(input**2 + other**2)."""
    return sqrt(input * input + other * other)


def maximum(input, other):
    """Elementwise maximum (NaN propagates)."""
    return _binary(Maximum(), input, other, "maximum")


def minimum(input, other):
    """Elementwise minimum (NaN propagates)."""
    return _binary(Minimum(), input, other, "minimum")


def fmax(input, other):
    """Elementwise maximum that ignores NaN."""
    return _binary(Fmax(), input, other, "fmax")


def fmin(input, other):
    """Elementwise minimum that ignores NaN."""
    return _binary(Fmin(), input, other, "fmin")


subtract, multiply, divide, true_divide = sub, mul, div, div


# --- unary math ---------------------------------------------------------------------------------------------

class _Unary(Node):
    """A unary op from an array function and a gradient rule d(x, y, g) -> tensor (x: input, y: output)."""

    fn = None
    uses_input = True
    saves_output = False

    def forward(self, xp, a):
        out = self.fn(xp, a)
        if self.saves_output:
            self.out = out
        return out

    def backward(self, g):
        x = self.inputs[0] if self.uses_input else None
        y = self.saved_output() if self.saves_output else None
        return (self.grad(x, y, g),)


def _unary_node(name, fn, grad, uses=("x",)):
    attrs = {"fn": staticmethod(fn), "grad": staticmethod(grad), "uses_input": "x" in uses,
             "saves_output": "y" in uses, "saves": None if "x" in uses else ()}
    return type(name, (_Unary,), attrs)


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

Neg = _unary_node("Neg", lambda xp, a: -a, lambda x, y, g: -g, ())
Abs = _unary_node("Abs", lambda xp, a: xp.abs(a), lambda x, y, g: g * sign(x))
Exp = _unary_node("Exp", lambda xp, a: xp.exp(a), lambda x, y, g: g * y, ("y",))
Exp2 = _unary_node("Exp2", lambda xp, a: xp.exp2(a), lambda x, y, g: g * y * _LN2, ("y",))
Log = _unary_node("Log", lambda xp, a: xp.log(a), lambda x, y, g: g / x)
Log2 = _unary_node("Log2", lambda xp, a: xp.log2(a), lambda x, y, g: g / (x * _LN2))
Log10 = _unary_node("Log10", lambda xp, a: xp.log10(a), lambda x, y, g: g / (x * _LN10))
Log1p = _unary_node("Log1p", lambda xp, a: xp.log1p(a), lambda x, y, g: g / (x + 1))
Expm1 = _unary_node("Expm1", lambda xp, a: xp.expm1(a), lambda x, y, g: g * (y + 1), ("y",))
Sqrt = _unary_node("Sqrt", lambda xp, a: xp.sqrt(a), lambda x, y, g: g / (2 * y), ("y",))
Rsqrt = _unary_node("Rsqrt", lambda xp, a: 1 / xp.sqrt(a), lambda x, y, g: g * (y * y * y) * -0.5, ("y",))
Reciprocal = _unary_node("Reciprocal", lambda xp, a: 1 / a, lambda x, y, g: -g * y * y, ("y",))
Square = _unary_node("Square", lambda xp, a: a * a, lambda x, y, g: g * x * 2)
Sin = _unary_node("Sin", lambda xp, a: xp.sin(a), lambda x, y, g: g * cos(x))
Cos = _unary_node("Cos", lambda xp, a: xp.cos(a), lambda x, y, g: -g * sin(x))
Tan = _unary_node("Tan", lambda xp, a: xp.tan(a), lambda x, y, g: g * (y * y + 1), ("y",))
Asin = _unary_node("Asin", lambda xp, a: xp.arcsin(a), lambda x, y, g: g * rsqrt(1 - x * x))
Acos = _unary_node("Acos", lambda xp, a: xp.arccos(a), lambda x, y, g: -g * rsqrt(1 - x * x))
Atan = _unary_node("Atan", lambda xp, a: xp.arctan(a), lambda x, y, g: g / (x * x + 1))
Sinh = _unary_node("Sinh", lambda xp, a: xp.sinh(a), lambda x, y, g: g * cosh(x))
Cosh = _unary_node("Cosh", lambda xp, a: xp.cosh(a), lambda x, y, g: g * sinh(x))
Tanh = _unary_node("Tanh", lambda xp, a: xp.tanh(a), lambda x, y, g: g * (1 - y * y), ("y",))
Erf = _unary_node("Erf", lambda xp, a: _erf_array(xp, a), lambda x, y, g: g * exp(-(x * x)) * _TWO_OVER_SQRT_PI)
Erfc = _unary_node("Erfc", lambda xp, a: 1 - _erf_array(xp, a), lambda x, y, g: g * exp(-(x * x)) * -_TWO_OVER_SQRT_PI)


def _sigmoid_array(xp, a):
    # exp of a non-positive number never overflows: sigmoid(a) = 1/(1+e^-a) = e^a/(1+e^a)
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


Sigmoid = _unary_node("Sigmoid", _sigmoid_array, lambda x, y, g: g * y * (1 - y), ("y",))
Relu = _unary_node("Relu", lambda xp, a: xp.maximum(a, 0), lambda x, y, g: g * (y > 0), ("y",))


class _ZeroGrad(Node):
    """Piecewise-constant functions (floor, ceil, round, trunc, sign): zero gradient almost everywhere."""

    saves = ()
    fn = None

    def forward(self, xp, a):
        return self.fn(xp, a)

    def backward(self, g):
        return (g * 0,)


def _zero_grad_node(name, fn):
    return type(name, (_ZeroGrad,), {"fn": staticmethod(fn)})


Sign = _zero_grad_node("Sign", lambda xp, a: xp.sign(a))
Floor = _zero_grad_node("Floor", lambda xp, a: xp.floor(a))
Ceil = _zero_grad_node("Ceil", lambda xp, a: xp.ceil(a))
Trunc = _zero_grad_node("Trunc", lambda xp, a: xp.trunc(a))


class Round(_ZeroGrad):
    def __init__(self, decimals=0):
        self.decimals = decimals

    def forward(self, xp, a):
        return xp.round(a, self.decimals)


def _unary_op(node_cls, name, float_only=True, int_ok_identity=False):
    def op(input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
        if float_only and input.data.dtype.kind in "biu":
            if int_ok_identity:
                return apply(node_cls(), input)
            input = _float(input)
        return apply(node_cls(), input)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}."
    return op


neg = negative = _unary_op(Neg, "neg", float_only=False)
abs = absolute = _unary_op(Abs, "abs", float_only=False)
sign = _unary_op(Sign, "sign", float_only=False)
exp = _unary_op(Exp, "exp")
exp2 = _unary_op(Exp2, "exp2")
log = _unary_op(Log, "log")
log2 = _unary_op(Log2, "log2")
log10 = _unary_op(Log10, "log10")
log1p = _unary_op(Log1p, "log1p")
expm1 = _unary_op(Expm1, "expm1")
sqrt = _unary_op(Sqrt, "sqrt")
rsqrt = _unary_op(Rsqrt, "rsqrt")
reciprocal = _unary_op(Reciprocal, "reciprocal")
square = _unary_op(Square, "square", float_only=False)
sin = _unary_op(Sin, "sin")
cos = _unary_op(Cos, "cos")
tan = _unary_op(Tan, "tan")
asin = _unary_op(Asin, "asin")
acos = _unary_op(Acos, "acos")
atan = _unary_op(Atan, "atan")
sinh = _unary_op(Sinh, "sinh")
cosh = _unary_op(Cosh, "cosh")
tanh = _unary_op(Tanh, "tanh")
sigmoid = _unary_op(Sigmoid, "sigmoid")
relu = _unary_op(Relu, "relu", float_only=False)
erf = _unary_op(Erf, "erf")
erfc = _unary_op(Erfc, "erfc")
floor = _unary_op(Floor, "floor", int_ok_identity=True)
ceil = _unary_op(Ceil, "ceil", int_ok_identity=True)
trunc = _unary_op(Trunc, "trunc", int_ok_identity=True)


def round(input, decimals=0):
    """Round half to even, like torch.round (optionally to a number of decimals)."""
    if input.data.dtype.kind in "biu":
        return input.clone()
    return apply(Round(decimals), input)


def frac(input):
    """The fractional part: input - trunc(input)."""
    return input - trunc(input)


# --- clamp ----------------------------------------------------------------------------------------------------

class Clamp(Node):
    saves = (0,)

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, xp, a):
        return xp.clip(a, self.lo, self.hi)

    def backward(self, g):
        x = self.inputs[0]
        mask = None
        if self.lo is not None:
            mask = x >= self.lo
        if self.hi is not None:
            mask = (x <= self.hi) if mask is None else mask & (x <= self.hi)
        return (g * mask,)


def clamp(input, min=None, max=None):
    """Limit values to [min, max]; min/max may be numbers or tensors (broadcast)."""
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    if input.data.dtype.kind in "biu" and (isinstance(min, float) or isinstance(max, float)):
        input = _float(input)
    return apply(Clamp(min, max), input)


clip = clamp


# --- comparisons and logic (no gradient) -----------------------------------------------------------------------

class _Compare(Node):
    differentiable = False
    fn = None

    def forward(self, xp, a, b):
        return self.fn(a, b)


def _compare_op(name, fn):
    node_cls = type(name.capitalize(), (_Compare,), {"fn": staticmethod(fn)})

    def op(input, other):
        return _binary(node_cls(), input, other, name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} comparison; a bool tensor."
    return op


eq = _compare_op("eq", lambda a, b: a == b)
ne = _compare_op("ne", lambda a, b: a != b)
lt = _compare_op("lt", lambda a, b: a < b)
le = _compare_op("le", lambda a, b: a <= b)
gt = _compare_op("gt", lambda a, b: a > b)
ge = _compare_op("ge", lambda a, b: a >= b)


class _Logical(Node):
    differentiable = False
    fn = None

    def forward(self, xp, *arrays):
        return self.fn(xp, *arrays)


def _logical_op(name, fn, arity=2):
    node_cls = type(name, (_Logical,), {"fn": staticmethod(fn)})

    def op(input, other=None):
        if arity == 1:
            return apply(node_cls(), input)
        _check_tensor(input, name)
        if not isinstance(other, Tensor):
            other = Tensor._wrap(np.asarray(other))
        _same_device(input, other, name)
        try:
            return apply(node_cls(), input, other)
        except ValueError:
            raise RuntimeError(f"{name}: shapes {tuple(input.shape)} and {tuple(other.shape)} are not "
                               "broadcastable") from None

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}; a bool tensor."
    return op


def _check_tensor(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")


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
        a, b = promote(self, other, name)
        return apply(node_cls(), a, b) if isinstance(a, Tensor) else apply(node_cls(), b, a)

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
    xp = np if input.data.__class__ is np.ndarray else __import__("cupy")
    o = other.data if isinstance(other, Tensor) else other
    return Tensor._wrap(xp.isclose(input.data, o, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element is close (see isclose)."""
    return bool(isclose(input, other, rtol, atol, equal_nan).data.all())


class NanToNum(Node):
    saves = (0,)

    def __init__(self, nan, posinf, neginf):
        self.nan, self.posinf, self.neginf = nan, posinf, neginf

    def forward(self, xp, a):
        return xp.nan_to_num(a, nan=self.nan, posinf=self.posinf, neginf=self.neginf)

    def backward(self, g):
        return (g * isfinite(self.inputs[0]),)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN with nan and infinities with posinf/neginf (default: the dtype's extremes)."""
    return apply(NanToNum(nan, posinf, neginf), input)


# --- where, lerp ----------------------------------------------------------------------------------------------

class Where(Node):
    saves = (0,)

    def forward(self, xp, cond, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        return xp.where(cond, a, b)

    def backward(self, g):
        cond = self.inputs[0]
        _, na, nb = self.needs_input_grad
        zero = g * 0
        return (None, sum_to(where(cond, g, zero), self.sa) if na else None,
                sum_to(where(cond, zero, g), self.sb) if nb else None)


def where(condition, input=None, other=None):
    """input where condition is true, else other (broadcast); where(condition) gives the nonzero indices."""
    if input is None and other is None:
        from .index import nonzero
        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError(f"where(): argument 'condition' must be Tensor, not {type(condition).__name__}")
    if condition.data.dtype.kind != "b":
        raise RuntimeError(f"where: expected condition to be a bool tensor, got {condition.dtype}")
    a, b = promote(input, other, "where")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor._wrap(np.asarray(a, dtype=_dt.result_type(a, b).np))
    if isinstance(a, Tensor):
        _same_device(condition, a, "where")
    try:
        return apply(Where(), condition, a, b)
    except ValueError:
        raise RuntimeError(f"where: shapes {tuple(condition.shape)}, {tuple(_shape(a))} and {tuple(_shape(b))} "
                           "are not broadcastable") from None


def lerp(input, end, weight):
    """input + weight * (end - input)."""
    return input + weight * (end - input)


# --- casts and copies ---------------------------------------------------------------------------------------------

class ToCopy(Node):
    saves = ()

    def __init__(self, dtype=None, device=None):
        self.dtype, self.device = dtype, device

    def forward(self, xp, a):
        self.src_dtype, self.src_device = a.dtype, None
        out = a
        if self.device is not None:
            from ..device import device_of
            self.src_device = device_of(a)
            out = move(out, self.device)
        if self.dtype is not None and out.dtype != self.dtype.np:
            out = out.astype(self.dtype.np)
        if out is a:
            out = a.copy()
        return out

    def backward(self, g):
        if self.src_device is not None:
            g = to_copy(g, device=self.src_device)
        if g.data.dtype != self.src_dtype:
            g = to_copy(g, dtype=_dt.from_numpy_dtype(self.src_dtype))
        return (g,)


def to_copy(input, dtype=None, device=None):
    """A copy of input converted to dtype and/or moved to device (differentiable)."""
    node = ToCopy(dtype, device)
    if dtype is not None and dtype.category != _dt._FLOAT:
        node.differentiable = False
    return apply(node, input)


class Clone(Node):
    saves = ()

    def forward(self, xp, a):
        return a.copy()

    def backward(self, g):
        return (g,)


def clone(input, memory_format=None):
    """A copy of input that is part of the autograd graph."""
    return apply(Clone(), input)


# --- in-place ops ---------------------------------------------------------------------------------------------

def check_inplace(t, op):
    """Raise PyTorch's errors for in-place ops on leaves that require grad (before anything changes)."""
    if not _mode.enabled:
        return
    if t.requires_grad and t.grad_fn is None:
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation.")
    if t.requires_grad and t._base is not None and t._base.requires_grad:
        raise RuntimeError(f"{op}: in-place modification of a view of a tensor that requires grad is not "
                           "supported; use an out-of-place op instead")


def _alias(t):
    """A second tensor object for t's current value and history (the old self of an in-place op)."""
    a = Tensor._wrap(t.data, t.requires_grad, t.grad_fn)
    a._vbox, a._out_index, a._base = t._vbox, t._out_index, t._base
    return a


def inplace(t, op, compute):
    """Run compute(old_t) out of place and write the result into t, recording it for autograd."""
    check_inplace(t, op)
    result = compute(_alias(t) if t.requires_grad and _mode.enabled else t)
    rd = result.data.dtype
    if rd != t.data.dtype and not _dt.can_cast(_dt.from_numpy_dtype(rd), t.dtype):
        raise RuntimeError(f"{op}: result type {_dt.from_numpy_dtype(rd)} can't be cast to the desired output type "
                           f"{t.dtype}")
    if tuple(result.data.shape) != tuple(t.data.shape):
        raise RuntimeError(f"{op}: output with shape {tuple(t.shape)} doesn't match the broadcast shape "
                           f"{tuple(result.shape)}")
    if result.data is not t.data:
        t.data[...] = result.data
    if result.requires_grad:
        t.grad_fn, t._out_index, t.requires_grad = result.grad_fn, 0, True
    t._vbox[0] += 1
    return t


def _inplace_binary(fn, name):
    def method(self, other, *args, **kwargs):
        if not _mode.enabled or not (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            return _fast_inplace(self, other, fn, name, args, kwargs)
        return inplace(self, name, lambda s: fn(s, other, *args, **kwargs))

    method.__name__ = name
    return method


def _fast_inplace(self, other, fn, name, args, kwargs):
    with _NoGrad():
        result = fn(self, other, *args, **kwargs)
    return inplace(self, name, lambda s: result)


class _NoGrad:
    def __enter__(self):
        self.prev = _mode.enabled
        _mode.enabled = False

    def __exit__(self, *exc):
        _mode.enabled = self.prev


def _inplace_unary(fn, name):
    def method(self, *args, **kwargs):
        return inplace(self, name, lambda s: fn(s, *args, **kwargs))

    method.__name__ = name
    return method


class Fill(Node):
    saves = ()

    def __init__(self, value):
        self.value = value

    def forward(self, xp, a):
        return xp.full(a.shape, self.value, dtype=a.dtype)

    def backward(self, g):
        return (g * 0,)


def fill_(self, value):
    """Set every element to value (in place)."""
    if isinstance(value, Tensor):
        value = value.item()
    return inplace(self, "fill_", lambda s: apply(Fill(value), s))


def zero_(self):
    """Set every element to zero (in place)."""
    return fill_(self, 0)


class CopyFrom(Node):
    saves = ()

    def forward(self, xp, dst, src):
        self.src_shape, self.src_dtype = _shape(src), src.dtype
        out = xp.empty_like(dst)
        out[...] = move(src, _device_of_array(dst))
        return out

    def backward(self, g):
        ndst, nsrc = self.needs_input_grad
        gs = None
        if nsrc:
            gs = sum_to(g, self.src_shape)
            if gs.data.dtype != self.src_dtype:
                gs = to_copy(gs, dtype=_dt.from_numpy_dtype(self.src_dtype))
        return (g * 0 if ndst else None, gs)


def _device_of_array(a):
    from ..device import device_of
    return device_of(a)


def copy_(self, src, non_blocking=False):
    """Copy src (broadcast, cast, moved between devices) into self, in place."""
    if not isinstance(src, Tensor):
        src = Tensor._wrap(np.asarray(src))
    try:
        np.broadcast_shapes(tuple(src.shape), tuple(self.shape))
    except ValueError:
        raise RuntimeError(f"copy_: the source of shape {tuple(src.shape)} cannot be broadcast to the destination "
                           f"shape {tuple(self.shape)}") from None
    return inplace(self, "copy_", lambda s: apply(CopyFrom(), s, src))


def _clamp_(self, min=None, max=None):
    return inplace(self, "clamp_", lambda s: clamp(s, min, max))


# --- Tensor methods and operators -----------------------------------------------------------------------------

def _r(fn):
    def reflected(self, other):
        return fn(other, self)
    return reflected


bind(
    add=add, sub=sub, subtract=sub, mul=mul, multiply=mul, div=div, divide=div, true_divide=div,
    floor_divide=floor_divide, remainder=remainder, fmod=fmod, pow=pow, neg=neg, negative=neg, abs=abs,
    absolute=abs, sign=sign, exp=exp, exp2=exp2, log=log, log2=log2, log10=log10, log1p=log1p, expm1=expm1,
    sqrt=sqrt, rsqrt=rsqrt, reciprocal=reciprocal, square=square, sin=sin, cos=cos, tan=tan, asin=asin, acos=acos,
    atan=atan, sinh=sinh, cosh=cosh, tanh=tanh, sigmoid=sigmoid, relu=relu, erf=erf, erfc=erfc, floor=floor,
    ceil=ceil, round=round, trunc=trunc, frac=frac, clamp=clamp, clip=clamp, maximum=maximum, minimum=minimum,
    fmax=fmax, fmin=fmin, where=lambda self, condition, other: where(condition, self, other), lerp=lerp, eq=eq, ne=ne,
    lt=lt, le=le, gt=gt, ge=ge, greater=gt, less=lt, greater_equal=ge, less_equal=le, not_equal=ne, equal=equal,
    allclose=allclose, isclose=isclose, logical_and=logical_and, logical_or=logical_or, logical_xor=logical_xor,
    logical_not=logical_not, isnan=isnan, isinf=isinf, isfinite=isfinite, nan_to_num=nan_to_num, clone=clone,
    atan2=atan2, hypot=hypot,
    __add__=add, __radd__=_r(add), __sub__=sub, __rsub__=_r(sub), __mul__=mul, __rmul__=_r(mul),
    __truediv__=div, __rtruediv__=_r(div), __floordiv__=floor_divide, __rfloordiv__=_r(floor_divide),
    __mod__=remainder, __rmod__=_r(remainder), __pow__=pow, __rpow__=_r(pow), __neg__=neg, __abs__=abs,
    __pos__=lambda self: self, __eq__=eq, __ne__=ne, __lt__=lt, __le__=le, __gt__=gt, __ge__=ge,
    __and__=_and, __or__=_or, __xor__=_xor, __rand__=_and, __ror__=_or, __rxor__=_xor, __invert__=_invert,
    bitwise_and=_and, bitwise_or=_or, bitwise_xor=_xor, bitwise_not=_invert,
    add_=_inplace_binary(add, "add_"), sub_=_inplace_binary(sub, "sub_"), mul_=_inplace_binary(mul, "mul_"),
    div_=_inplace_binary(div, "div_"), pow_=_inplace_binary(pow, "pow_"),
    __iadd__=_inplace_binary(add, "add_"), __isub__=_inplace_binary(sub, "sub_"),
    __imul__=_inplace_binary(mul, "mul_"), __itruediv__=_inplace_binary(div, "div_"),
    clamp_=_clamp_, clip_=_clamp_, fill_=fill_, zero_=zero_, copy_=copy_,
    neg_=_inplace_unary(neg, "neg_"), exp_=_inplace_unary(exp, "exp_"), sqrt_=_inplace_unary(sqrt, "sqrt_"),
    relu_=_inplace_unary(relu, "relu_"), sigmoid_=_inplace_unary(sigmoid, "sigmoid_"),
    tanh_=_inplace_unary(tanh, "tanh_"), abs_=_inplace_unary(abs, "abs_"), log_=_inplace_unary(log, "log_"),
    floor_=_inplace_unary(floor, "floor_"), round_=_inplace_unary(round, "round_"),
)
Tensor.__hash__ = lambda self: id(self)  # defining __eq__ must not make tensors unhashable
