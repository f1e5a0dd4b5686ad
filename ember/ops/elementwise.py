"""Elementwise ops: arithmetic, math functions, comparisons, logic, where, clamp, casts, and in-place forms."""
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd import Node, is_grad_enabled
from ..autograd.graph import increment_version
from ..autograd.inplace import check_inplace, check_writable, inplace, records
from ..device import device_of, get_array_module, move
from ..autograd.graph import apply
from ..tensor import Tensor
from ._broadcast import sum_to, sum_to_array
from ._erf import erf as _erf_array, erfc as _erfc_array
from ._util import as_array, bind, grad_tensor

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
_PY_SCALARS = (int, float, bool)  # exact classes: numpy scalars (np.float64 subclasses float) are converted
_FLOAT_KINDS = "fV"  # "V": bfloat16 from ml_dtypes
_ndarray = np.ndarray


# --- promotion and devices ------------------------------------------------------------------------------------

def _same_device(a, b, op):
    if a.data.__class__ is not b.data.__class__ and a.device != b.device:
        raise RuntimeError(f"{op}: Expected all tensors to be on the same device, but found at least two devices, "
                           f"{a.device} and {b.device}!")


def _scalar(x, op):
    """A Python number stays one (NumPy scalars become one, as in PyTorch); arrays become tensors."""
    if x.__class__ in _PY_SCALARS:
        return x
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, _SCALARS):  # other subclasses of int/float
        return float(x) if isinstance(x, float) else (bool(x) if isinstance(x, bool) else int(x))
    if isinstance(x, np.ndarray):
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
        a = _scalar(a, op)
        if not isinstance(a, Tensor):
            a = Tensor._wrap(np.asarray(a, dtype=_dt.result_type(a).np))
        b = _scalar(b, op)
    rt = _dt.result_type(a, b)
    if isinstance(a, Tensor) and a.data.dtype != rt.np:
        a = to_copy(a, dtype=rt)
    if isinstance(b, Tensor) and b.data.dtype != rt.np:
        b = to_copy(b, dtype=rt)
    if rt.np.kind == "V":  # ml_dtypes' bfloat16 with a Python float gives float32: make the number a bfloat16 array
        a, b = _scalar_as(a, b, rt), _scalar_as(b, a, rt)
    return a, b


def _scalar_as(x, other, dt):
    if isinstance(x, Tensor) or not isinstance(other, Tensor):
        return x
    return Tensor._wrap(get_array_module(other.data).asarray(x, dtype=dt.np))


def _float(t):
    """Integer and bool tensors become the default float dtype (for ops like exp and true division)."""
    if t.data.dtype.kind in "biu":
        return to_copy(t, dtype=_dt.get_default_dtype())
    return t


def _is_float(x):
    return x.data.dtype.kind in _FLOAT_KINDS if isinstance(x, Tensor) else x.__class__ is float


def _shape(x):
    return getattr(x, "shape", ())


def _zeros(g):
    """A zero gradient shaped like g (not g * 0, which would turn inf into nan)."""
    return Tensor._wrap(get_array_module(g.data).zeros_like(g.data))


def _broadcast_error(op, *shapes):
    """PyTorch's message for shapes that do not broadcast, with the op and all shapes."""
    shapes = [tuple(s) for s in shapes]
    sa, sb = shapes[0], shapes[1]
    for i in range(1, min(len(sa), len(sb)) + 1):
        if sa[-i] != sb[-i] and sa[-i] != 1 and sb[-i] != 1:
            return RuntimeError(f"{op}: The size of tensor a ({sa[-i]}) must match the size of tensor b ({sb[-i]}) "
                                f"at non-singleton dimension {max(len(sa), len(sb)) - i} (shapes "
                                f"{' and '.join(map(str, shapes))})")
    return RuntimeError(f"{op}: shapes {', '.join(map(str, shapes))} are not broadcastable")


def _binary(node, a, b, op):
    """Promote the operands and apply a binary node (the hot path of every arithmetic operator)."""
    a, b = promote(a, b, op)
    try:
        return apply(node, a, b)
    except (ValueError, OverflowError) as e:
        return _binary_failed(node, a, b, op, e)


def _apply2(node, a, b, op):
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
    sa, sb = _shape(a), _shape(b)
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        raise _broadcast_error(op, sa, sb) from None
    raise error


def _wrap_int(x, other):
    if x.__class__ is not int or not isinstance(other, Tensor):
        return x
    return get_array_module(other.data).asarray(np.array(x).astype(other.data.dtype))


class _Binary(Node):
    """Base for binary nodes: forward remembers the input shapes for sum_to in backward."""

    saves = ()

    def remember(self, a, b):
        self.sa = a.shape if a.__class__ is _ndarray else _shape(a)
        self.sb = b.shape if b.__class__ is _ndarray else _shape(b)


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
                ga = _zeros(g)
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
        return (sum_to(_zeros(g), self.sa) if na else None, sum_to(_zeros(g), self.sb) if nb else None)


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
    return _binary(Add(), input, other, "add")


def sub(input, other, alpha=1):
    """input - alpha * other."""
    if (input.__class__ is bool or other.__class__ is bool or (isinstance(input, Tensor) and
            input.data.dtype.kind == "b") or (isinstance(other, Tensor) and other.data.dtype.kind == "b")):
        raise RuntimeError("sub: Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
                           "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _binary(Sub(), input, other, "sub")


def mul(input, other):
    """input * other."""
    return _binary(Mul(), input, other, "mul")


def div(input, other, rounding_mode=None):
    """input / other (true division: integers give the default float dtype); rounding_mode 'trunc' or 'floor'."""
    if rounding_mode is not None:
        return _rounded_div(input, other, rounding_mode)
    a, b = promote(input, other, "div")
    if not (_is_float(a) or _is_float(b)):
        a = _float(a) if isinstance(a, Tensor) else float(a)
        b = _float(b) if isinstance(b, Tensor) else float(b)
    return _apply2(Div(), a, b, "div")


def _rounded_div(input, other, rounding_mode):
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode != "trunc":
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                         f"'{rounding_mode}'")
    a, b = promote(input, other, "div")
    if _is_float(a) or _is_float(b):
        return trunc(_apply2(Div(), a, b, "div"))
    _check_int_zero(b, "div")
    return _apply2(_TruncDivInt(), a, b, "div")


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
    if not (_is_float(a) or _is_float(b)):
        _check_int_zero(b, "floor_divide")
    return _apply2(FloorDivide(), a, b, "floor_divide")


def remainder(input, other):
    """Python-style modulus: the result has the sign of the divisor."""
    a, b = promote(input, other, "remainder")
    if not (_is_float(a) or _is_float(b)):
        _check_int_zero(b, "remainder")
    return _apply2(Remainder(), a, b, "remainder")


def fmod(input, other):
    """C-style modulus: the result has the sign of the dividend."""
    a, b = promote(input, other, "fmod")
    if not (_is_float(a) or _is_float(b)):
        _check_int_zero(b, "fmod")
    return _apply2(Fmod(), a, b, "fmod")


def pow(input, exponent):
    """input ** exponent (either may be a number)."""
    a, b = promote(input, exponent, "pow")
    if not (_is_float(a) or _is_float(b)):
        neg = bool((b.data < 0).any()) if isinstance(b, Tensor) else b < 0
        if neg:
            raise RuntimeError("pow: Integers to negative integer powers are not allowed.")
    return _apply2(Pow(), a, b, "pow")


def atan2(input, other):
    """The angle of (other, input), elementwise."""
    a, b = promote(input, other, "atan2")
    a = _float(a) if isinstance(a, Tensor) else a
    b = _float(b) if isinstance(b, Tensor) else b
    return _apply2(Atan2(), a, b, "atan2")


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
    """A unary op from an array function and a gradient rule grad(x, y, g) -> tensor (x: input, y: output).

    agrad(xp, x, y, g), when given, is the same rule on arrays, for a plain backward (see _array_grad)."""

    fn = None
    agrad = None
    uses_input = True
    saves_output = False

    def forward(self, xp, a):
        out = self.fn(xp, a)
        if self.saves_output:
            self.out = out
        return out

    def backward(self, g):
        if self.agrad is not None and not is_grad_enabled():
            gd = g.data
            x = self.inputs[0].data if self.uses_input else None
            xp = np if gd.__class__ is _ndarray else get_array_module(gd)
            return (grad_tensor(self.agrad(xp, x, self.out if self.saves_output else None, gd), gd.dtype),)
        x = self.inputs[0] if self.uses_input else None
        y = self.saved_output() if self.saves_output else None
        return (self.grad(x, y, g),)


def _unary_node(name, fn, grad, uses=("x",), agrad=None):
    attrs = {"fn": staticmethod(fn), "grad": staticmethod(grad), "uses_input": "x" in uses,
             "saves_output": "y" in uses, "saves": (0,) if "x" in uses else (),
             "agrad": None if agrad is None else staticmethod(agrad)}
    return type(name, (_Unary,), attrs)


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

Neg = _unary_node("Neg", lambda xp, a: -a, lambda x, y, g: -g, (), lambda xp, x, y, g: -g)
Abs = _unary_node("Abs", lambda xp, a: xp.abs(a), lambda x, y, g: g * sign(x))
Exp = _unary_node("Exp", lambda xp, a: xp.exp(a), lambda x, y, g: g * y, ("y",), lambda xp, x, y, g: g * y)
Exp2 = _unary_node("Exp2", lambda xp, a: xp.exp2(a), lambda x, y, g: g * y * _LN2, ("y",))
Log = _unary_node("Log", lambda xp, a: xp.log(a), lambda x, y, g: g / x, ("x",), lambda xp, x, y, g: g / x)
Log2 = _unary_node("Log2", lambda xp, a: xp.log2(a), lambda x, y, g: g / (x * _LN2))
Log10 = _unary_node("Log10", lambda xp, a: xp.log10(a), lambda x, y, g: g / (x * _LN10))
Log1p = _unary_node("Log1p", lambda xp, a: xp.log1p(a), lambda x, y, g: g / (x + 1))
Expm1 = _unary_node("Expm1", lambda xp, a: xp.expm1(a), lambda x, y, g: g * (y + 1), ("y",))
Sqrt = _unary_node("Sqrt", lambda xp, a: xp.sqrt(a), lambda x, y, g: g / (2 * y), ("y",),
                   lambda xp, x, y, g: g / (2 * y))
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
Tanh = _unary_node("Tanh", lambda xp, a: xp.tanh(a), lambda x, y, g: g * (1 - y * y), ("y",),
                   lambda xp, x, y, g: g * (1 - y * y))
Erf = _unary_node("Erf", _erf_array, lambda x, y, g: g * exp(-(x * x)) * _TWO_OVER_SQRT_PI)
Erfc = _unary_node("Erfc", _erfc_array, lambda x, y, g: g * exp(-(x * x)) * -_TWO_OVER_SQRT_PI)


def _sigmoid_array(xp, a):
    # exp of a non-positive number never overflows: sigmoid(a) = 1/(1+e^-a) = e^a/(1+e^a)
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


Sigmoid = _unary_node("Sigmoid", _sigmoid_array, lambda x, y, g: g * y * (1 - y), ("y",),
                      lambda xp, x, y, g: g * y * (1 - y))


def _relu_grad_array(xp, x, y, g):
    """g where y > 0, else 0. A product with the mask is branch-free (np.where with a random mask is ~10x slower);
    where g is not finite the product could give 0 * inf = nan, so that rare case takes np.where."""
    with np.errstate(invalid="ignore"):
        out = xp.multiply(g, y > 0)
    if not xp.isfinite(out.sum()):
        out = xp.where(y > 0, g, 0.0)
    return out


Relu = _unary_node("Relu", lambda xp, a: xp.maximum(a, 0), lambda x, y, g: where(y > 0, g, 0.0), ("y",),
                   _relu_grad_array)


class _ZeroGrad(Node):
    """Piecewise-constant functions (floor, ceil, round, trunc, sign): zero gradient almost everywhere."""

    saves = ()
    fn = None

    def forward(self, xp, a):
        return self.fn(xp, a)

    def backward(self, g):
        return (_zeros(g),)


def _zero_grad_node(name, fn):
    return type(name, (_ZeroGrad,), {"fn": staticmethod(fn)})


def _sign_array(xp, a):
    if a.dtype.kind == "b":
        return a.copy()
    s = xp.sign(a)
    if a.dtype.kind in _FLOAT_KINDS:  # PyTorch: sign(nan) = 0
        s = xp.where(s == s, s, 0).astype(a.dtype, copy=False)
    return s


Sign = _zero_grad_node("Sign", _sign_array)
Floor = _zero_grad_node("Floor", lambda xp, a: xp.floor(a))
Ceil = _zero_grad_node("Ceil", lambda xp, a: xp.ceil(a))
Trunc = _zero_grad_node("Trunc", lambda xp, a: xp.trunc(a))


class Round(_ZeroGrad):
    def __init__(self, decimals=0):
        self.decimals = decimals

    def forward(self, xp, a):
        return xp.round(a, self.decimals)


def _unary_op(node_cls, name, kind="float"):
    """The public function of a unary op. kind: 'float' (integers become the default float dtype), 'any'
    (integers stay integers), 'identity_int' (integers are returned unchanged, copied: floor, ceil, ...)."""
    def op(input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        if input.data.dtype.kind in "biu" and kind != "any":
            if kind == "identity_int":
                return clone(input)
            input = _float(input)
        return apply(node_cls(), input)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}."
    return op


def neg(input):
    """Elementwise -input."""
    if isinstance(input, Tensor) and input.data.dtype.kind == "b":
        raise RuntimeError("neg: Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                           "to invert a mask, use the `~` or `logical_not()` operator instead.")
    return _neg(input)


def square(input):
    """Elementwise input * input (bool becomes int64, as in PyTorch)."""
    if isinstance(input, Tensor) and input.data.dtype.kind == "b":
        input = to_copy(input, dtype=_dt.int64)
    return _square(input)


_neg = _unary_op(Neg, "neg", "any")
negative = neg
abs = absolute = _unary_op(Abs, "abs", "any")
sign = _unary_op(Sign, "sign", "any")
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
_square = _unary_op(Square, "square", "any")
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
relu = _unary_op(Relu, "relu", "any")
erf = _unary_op(Erf, "erf")
erfc = _unary_op(Erfc, "erfc")
floor = _unary_op(Floor, "floor", "identity_int")
ceil = _unary_op(Ceil, "ceil", "identity_int")
trunc = _unary_op(Trunc, "trunc", "identity_int")


def round(input, decimals=0):
    """Round half to even, like torch.round (optionally to a number of decimals)."""
    if input.data.dtype.kind in "biu":
        return clone(input)
    return apply(Round(decimals), input)


def frac(input):
    """The fractional part: input - trunc(input)."""
    return input - trunc(input)


# --- clamp ----------------------------------------------------------------------------------------------------

class Clamp(Node):
    """clamp with number bounds; the gradient passes where lo <= x <= hi (inclusive, as in PyTorch)."""

    saves = (0,)

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, xp, a):
        return xp.clip(a, self.lo, self.hi).astype(a.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        if self.lo is None:
            mask = x <= self.hi
        elif self.hi is None:
            mask = x >= self.lo
        else:
            mask = (x >= self.lo) & (x <= self.hi)
        return (where(mask, g, 0.0),)


class ClampTensor(Node):
    """clamp with tensor bounds (broadcast); gradients follow PyTorch's clamp_backward_min_max."""

    saves = None

    def forward(self, xp, a, lo, hi):
        self.shapes = (_shape(a), _shape(lo), _shape(hi))
        out = a if lo is None else xp.maximum(a, lo)
        return out if hi is None else xp.minimum(out, hi)

    def backward(self, g):
        x, lo, hi = self.inputs
        nx, nlo, nhi = self.needs_input_grad
        if lo is None:
            keep, to_lo, to_hi = x <= hi, None, x > hi
        elif hi is None:
            keep, to_lo, to_hi = x >= lo, x < lo, None
        else:
            keep = (x >= lo) & (x <= hi)
            to_lo = (x < lo) & (lo < hi)
            to_hi = (x > hi) | (hi < lo)
        sx, slo, shi = self.shapes
        return (sum_to(where(keep, g, 0.0), sx) if nx else None,
                sum_to(where(to_lo, g, 0.0), slo) if nlo else None,
                sum_to(where(to_hi, g, 0.0), shi) if nhi else None)


def clamp(input, min=None, max=None):
    """Limit values to [min, max]; min/max may be numbers or tensors (broadcast)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"clamp(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensor(input, min, max)
    if input.data.dtype.kind in "biu" and (isinstance(min, float) or isinstance(max, float)):
        input = _float(input)
    return apply(Clamp(_scalar(min, "clamp") if min is not None else None,
                       _scalar(max, "clamp") if max is not None else None), input)


def _clamp_tensor(input, lo, hi):
    lo, hi = [x if x is None or isinstance(x, Tensor) else _scalar(x, "clamp") for x in (lo, hi)]
    operands = [x for x in (input, lo, hi) if x is not None]
    for x in operands:
        if isinstance(x, Tensor):
            _same_device(input, x, "clamp")
    rt = _dt.result_type(*operands)
    lo, hi = [x if x is None or not isinstance(x, Tensor) or x.dtype is rt else to_copy(x, dtype=rt)
              for x in (lo, hi)]
    if input.dtype is not rt:
        input = to_copy(input, dtype=rt)
    try:
        return apply(ClampTensor(), input, lo, hi)
    except ValueError:
        raise RuntimeError(f"clamp: shapes {tuple(input.shape)}, {tuple(_shape(lo))} and {tuple(_shape(hi))} are "
                           "not broadcastable") from None


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
        _check_tensor(input, name)
        if arity == 1:
            return apply(node_cls(), input)
        if not isinstance(other, Tensor):
            other = Tensor._wrap(np.asarray(other))
        _same_device(input, other, name)
        try:
            return apply(node_cls(), input, other)
        except ValueError:
            raise _broadcast_error(name, input.shape, other.shape) from None

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}; a bool tensor."
    return op


def _check_tensor(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")


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
        return _binary(node_cls(), self, other, name)

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


class NanToNum(Node):
    saves = (0,)

    def __init__(self, nan, posinf, neginf):
        self.nan, self.posinf, self.neginf = nan, posinf, neginf

    def forward(self, xp, a):
        return xp.nan_to_num(a, nan=self.nan, posinf=self.posinf, neginf=self.neginf)

    def backward(self, g):
        return (where(isfinite(self.inputs[0]), g, 0.0),)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN with nan and infinities with posinf/neginf (default: the dtype's extremes)."""
    _check_tensor(input, "nan_to_num")
    return apply(NanToNum(0.0 if nan is None else nan, posinf, neginf), input)


# --- where, lerp ----------------------------------------------------------------------------------------------

class Where(Node):
    saves = (0,)

    def forward(self, xp, cond, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        return xp.where(cond, a, b)

    def backward(self, g):
        cond = self.inputs[0]
        _, na, nb = self.needs_input_grad
        return (None, sum_to(where(cond, g, 0.0), self.sa) if na else None,
                sum_to(where(cond, 0.0, g), self.sb) if nb else None)


def where(condition, input=None, other=None):
    """input where condition is true, else other (broadcast); where(condition) gives the nonzero indices."""
    if input is None and other is None:
        from .index import nonzero
        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError(f"where(): argument 'condition' must be Tensor, not {type(condition).__name__}")
    if condition.data.dtype.kind != "b":
        raise RuntimeError(f"where: expected condition to be a bool tensor, got {condition.dtype}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):  # two numbers: a 0-dim tensor on cond's device
        dt = _dt.result_type(_scalar(input, "where"), _scalar(other, "where"))
        input = Tensor._wrap(get_array_module(condition.data).asarray(input, dtype=dt.np))
    a, b = promote(input, other, "where")
    for x in (a, b):
        if isinstance(x, Tensor):
            _same_device(condition, x, "where")
    try:
        return apply(Where(), condition, a, b)
    except ValueError:
        raise _broadcast3_error("where", condition, a, b) from None


def _broadcast3_error(op, *xs):
    shapes = [str(tuple(_shape(x))) for x in xs]
    return RuntimeError(f"{op}: shapes {', '.join(shapes[:-1])} and {shapes[-1]} are not broadcastable")


class Lerp(Node):
    """start + weight * (end - start), computed as PyTorch does (exact at weight 0 and 1)."""

    @property
    def saves(self):  # the weight is read for the gradients of start and end; start and end for the weight's
        na, nb, nw = self.needs_input_grad
        return (0, 1) * nw + (2,) * (na or nb)

    def forward(self, xp, a, b, w):
        self.shapes = (_shape(a), _shape(b), _shape(w))
        d = b - a
        if isinstance(w, (int, float)):
            out = a + w * d if -0.5 < w < 0.5 else b - d * (1 - w)
        else:
            out = xp.where(xp.abs(w) < 0.5, a + w * d, b - d * (1 - w))
        return out.astype(d.dtype, copy=False)

    def backward(self, g):
        a, b, w = self.inputs
        na, nb, nw = self.needs_input_grad
        sa, sb, sw = self.shapes
        return (sum_to(g * (1 - w), sa) if na else None, sum_to(g * w, sb) if nb else None,
                sum_to(g * (b - a), sw) if nw else None)


def lerp(input, end, weight):
    """input + weight * (end - input), with weight a number or a tensor (broadcast)."""
    _check_tensor(input, "lerp")
    _check_tensor(end, "lerp")
    _same_device(input, end, "lerp")
    weight = _scalar(weight, "lerp") if not isinstance(weight, Tensor) else weight
    rt = _dt.result_type(input, end, weight)
    if not rt.is_floating_point:
        raise RuntimeError(f"lerp: expected floating-point inputs, got {input.dtype} and {end.dtype}")
    input, end = [x if x.dtype is rt else to_copy(x, dtype=rt) for x in (input, end)]
    if isinstance(weight, Tensor):
        _same_device(input, weight, "lerp")
        if weight.dtype is not rt:
            weight = to_copy(weight, dtype=rt)
    try:
        return apply(Lerp(), input, end, weight)
    except ValueError:
        raise _broadcast3_error("lerp", input, end, weight) from None


# --- casts and copies ---------------------------------------------------------------------------------------------

class ToCopy(Node):
    saves = ()

    def __init__(self, dtype=None, device=None):
        self.dtype, self.device = dtype, device

    def forward(self, xp, a):
        self.src_dtype, self.src_device = a.dtype, None
        out = a
        if self.device is not None:
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
        return (_zeros(g),)


def fill_(self, value):
    """Set every element to value (a number or a 0-dim tensor), in place."""
    if isinstance(value, Tensor):
        if value.data.ndim:
            raise RuntimeError(f"fill_: only supports 0-dimension value tensor but got tensor with "
                               f"{value.data.ndim} dimensions.")
        return copy_(self, value)
    value = _scalar(value, "fill_")
    if not records(self):
        check_writable(self, "fill_")
        self.data[...] = value
        increment_version(self)
        return self
    return inplace(self, "fill_", lambda s: apply(Fill(value), s))


def zero_(self):
    """Set every element to zero (in place)."""
    return fill_(self, 0)


class CopyFrom(Node):
    saves = ()

    def forward(self, xp, dst, src):
        self.src_shape, self.src_dtype, self.src_device = _shape(src), src.dtype, device_of(src)
        out = xp.empty_like(dst)
        out[...] = move(src, device_of(dst))
        return out

    def backward(self, g):
        ndst, nsrc = self.needs_input_grad
        gs = None
        if nsrc:
            gs = sum_to(g, self.src_shape)
            if gs.data.dtype != self.src_dtype:
                gs = to_copy(gs, dtype=_dt.from_numpy_dtype(self.src_dtype))
            if device_of(gs.data) != self.src_device:
                gs = to_copy(gs, device=self.src_device)
        return (_zeros(g) if ndst else None, gs)


def copy_(self, src, non_blocking=False):
    """Copy src (broadcast, cast, moved between devices) into self, in place."""
    if not isinstance(src, Tensor):
        src = Tensor._wrap(np.asarray(src))
    dst_shape = tuple(self.data.shape)
    try:
        ok = np.broadcast_shapes(tuple(src.data.shape), dst_shape) == dst_shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"copy_: the source of shape {tuple(src.shape)} cannot be broadcast to the destination "
                           f"shape {dst_shape}")
    if not records(self, src):
        check_writable(self, "copy_")
        self.data[...] = move(src.data, device_of(self.data))
        increment_version(self)
        return self
    return inplace(self, "copy_", lambda s: apply(CopyFrom(), s, src))


def clamp_(self, min=None, max=None):
    """Clamp in place (see clamp)."""
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
    __pos__=lambda self: self, __eq__=_compare_method(eq), __ne__=_compare_method(ne), __lt__=_compare_method(lt),
    __le__=_compare_method(le), __gt__=_compare_method(gt), __ge__=_compare_method(ge),
    __and__=_and, __or__=_or, __xor__=_xor, __rand__=_and, __ror__=_or, __rxor__=_xor, __invert__=_invert,
    bitwise_and=_and, bitwise_or=_or, bitwise_xor=_xor, bitwise_not=_invert,
    add_=add_, sub_=sub_, mul_=mul_, div_=div_, pow_=_inplace_binary(pow, "pow_"),
    __iadd__=add_, __isub__=sub_, __imul__=mul_, __itruediv__=div_,
    clamp_=clamp_, clip_=clamp_, fill_=fill_, zero_=zero_, copy_=copy_,
    neg_=_inplace_unary(neg, "neg_"), exp_=_inplace_unary(exp, "exp_"), sqrt_=_inplace_unary(sqrt, "sqrt_"),
    relu_=_inplace_unary(relu, "relu_"), sigmoid_=_inplace_unary(sigmoid, "sigmoid_"),
    tanh_=_inplace_unary(tanh, "tanh_"), abs_=_inplace_unary(abs, "abs_"), log_=_inplace_unary(log, "log_"),
    floor_=_inplace_unary(floor, "floor_"), round_=_inplace_unary(round, "round_"),
)
Tensor.__hash__ = lambda self: id(self)  # defining __eq__ must not make tensors unhashable
