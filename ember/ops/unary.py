"""Unary math: neg, abs, sign, exp/log and their variants, sqrt/rsqrt, reciprocal, square, trigonometric and
hyperbolic functions, sigmoid, relu, erf/erfc, floor/ceil/round/trunc/frac and nan_to_num, with their in-place
(exp_, relu_, ...) and operator (-x, abs(x), +x) forms."""
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd import Node, is_grad_enabled
from ..autograd.graph import apply
from ..autograd.inplace import inplace
from ..device import get_array_module
from ..tensor import Tensor
from ._checks import check_tensor, not_tensor
from ._erf import erf as _erf_array, erfc as _erfc_array
from ._promotion import FLOAT_KINDS, as_float
from ._util import bind, grad_tensor, zero_gradient
from .compare import isfinite
from .copy import clone, to_copy
from .ternary import where

__all__ = [
    "neg", "negative", "abs", "absolute", "sign", "exp", "exp2", "log", "log2", "log10", "log1p", "expm1", "sqrt",
    "rsqrt", "reciprocal", "square", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid",
    "relu", "erf", "erfc", "floor", "ceil", "round", "trunc", "frac", "nan_to_num",
]

_ndarray = np.ndarray


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


def sigmoid_array(xp, a):
    # exp of a non-positive number never overflows: sigmoid(a) = 1/(1+e^-a) = e^a/(1+e^a)
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


Sigmoid = _unary_node("Sigmoid", sigmoid_array, lambda x, y, g: g * y * (1 - y), ("y",),
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
        return (zero_gradient(g),)


def _zero_grad_node(name, fn):
    return type(name, (_ZeroGrad,), {"fn": staticmethod(fn)})


def _sign_array(xp, a):
    if a.dtype.kind == "b":
        return a.copy()
    s = xp.sign(a)
    if a.dtype.kind in FLOAT_KINDS:  # PyTorch: sign(nan) = 0
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
            raise not_tensor(input, name, pos=1)
        if input.data.dtype.kind in "biu" and kind != "any":
            if kind == "identity_int":
                return clone(input)
            input = as_float(input)
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
    check_tensor(input, "nan_to_num", pos=1)
    return apply(NanToNum(0.0 if nan is None else nan, posinf, neginf), input)


def _inplace_unary(fn, name):
    def method(self, *args, **kwargs):
        return inplace(self, name, lambda s: fn(s, *args, **kwargs))

    method.__name__ = name
    return method


bind(
    neg=neg, negative=neg, abs=abs, absolute=abs, sign=sign, exp=exp, exp2=exp2, log=log, log2=log2, log10=log10,
    log1p=log1p, expm1=expm1, sqrt=sqrt, rsqrt=rsqrt, reciprocal=reciprocal, square=square, sin=sin, cos=cos,
    tan=tan, asin=asin, acos=acos, atan=atan, sinh=sinh, cosh=cosh, tanh=tanh, sigmoid=sigmoid, relu=relu, erf=erf,
    erfc=erfc, floor=floor, ceil=ceil, round=round, trunc=trunc, frac=frac, nan_to_num=nan_to_num,
    __neg__=neg, __abs__=abs, __pos__=lambda self: self,
    neg_=_inplace_unary(neg, "neg_"), exp_=_inplace_unary(exp, "exp_"), sqrt_=_inplace_unary(sqrt, "sqrt_"),
    relu_=_inplace_unary(relu, "relu_"), sigmoid_=_inplace_unary(sigmoid, "sigmoid_"),
    tanh_=_inplace_unary(tanh, "tanh_"), abs_=_inplace_unary(abs, "abs_"), log_=_inplace_unary(log, "log_"),
    floor_=_inplace_unary(floor, "floor_"), round_=_inplace_unary(round, "round_"),
)
