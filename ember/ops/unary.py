"""Unary math: abs, sign, exp/log and their variants, sqrt/rsqrt, reciprocal, square, trigonometric and hyperbolic
functions, sigmoid, relu, erf/erfc, floor/ceil/round/trunc/frac and nan_to_num, with their in-place forms (exp_,
relu_, ...) and the operators abs(x) and +x (negation is in arith).

Every gradient is written once, with ember ops (a small table of rules, grad(x, y, g) with x the input and y the
output). The hot activations tanh, sigmoid and relu have gradient nodes (TanhGrad, SigmoidGrad, ReluGrad,
Chainer's pattern): their forward is the array formula, their backward the second derivative.

Forwards that can meet log(0), 1/0, sqrt(-1), overflow or inf - inf are ``quiet`` (inf and nan without NumPy's
RuntimeWarning, as in PyTorch); abs, tanh, sigmoid and relu never warn and skip that cost.
"""
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd import Node
from ..autograd.graph import apply
from ..autograd.inplace import inplace
from ..tensor import Tensor
from ._checks import check_tensor, not_tensor
from ._erf import erf as _erf_array, erfc as _erfc_array
from ._promotion import FLOAT_KINDS, as_float
from ._quiet import quiet
from ._util import as_array, zero_gradient
from .arith import Div, Mul
from .compare import isfinite
from .copy import clone, to_copy
from .meta import same_as
from .registry import export, register
from .ternary import where


_ndarray = np.ndarray


def _mul(a, b):
    """a * b for operands whose dtypes agree (no promotion or broadcasting checks: for backwards)."""
    return apply(Mul(), a, b)


def _div(a, b):
    """a / b for operands whose dtypes agree (for backwards)."""
    return apply(Div(), a, b)


# --- unary math ---------------------------------------------------------------------------------------------

class _Unary(Node):
    """A unary op from an array function fn(xp, a) and a gradient rule grad(x, y, g) -> tensor (x: the input,
    y: the output, each saved only when the rule reads it)."""

    fn = None
    uses_input = True
    saves_output = False

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        out = self.fn(xp, a)
        if self.saves_output:
            if out.__class__ is not _ndarray:
                out = as_array(out)  # NumPy gives scalars for 0-d results
            self.out = out
        return out

    def backward(self, g):
        x = self.inputs[0] if self.uses_input else None
        y = self.saved_output() if self.saves_output else None
        return (self.grad(x, y, g),)


def _unary_node(name, fn, grad, uses=("x",), warns=True):
    """Register the unary node class `name`: forward fn(xp, a), gradient grad(x, y, g) reading what `uses` names;
    warns=False for a fn that never meets a floating-point error (it then runs without the ``quiet`` wrapper)."""
    attrs = {"fn": staticmethod(quiet(fn) if warns else fn), "grad": staticmethod(grad), "uses_input": "x" in uses,
             "saves_output": "y" in uses, "saves": (0,) if "x" in uses else ()}
    return register(type(name, (_Unary,), attrs))


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

Abs = _unary_node("Abs", lambda xp, a: xp.abs(a), lambda x, y, g: _mul(g, apply(Sign(), x)), warns=False)
Exp = _unary_node("Exp", lambda xp, a: xp.exp(a), lambda x, y, g: _mul(g, y), ("y",))
Exp2 = _unary_node("Exp2", lambda xp, a: xp.exp2(a), lambda x, y, g: _mul(g, _mul(y, _LN2)), ("y",))
Log = _unary_node("Log", lambda xp, a: xp.log(a), lambda x, y, g: _div(g, x))
Log2 = _unary_node("Log2", lambda xp, a: xp.log2(a), lambda x, y, g: _div(g, _mul(x, _LN2)))
Log10 = _unary_node("Log10", lambda xp, a: xp.log10(a), lambda x, y, g: _div(g, _mul(x, _LN10)))
Log1p = _unary_node("Log1p", lambda xp, a: xp.log1p(a), lambda x, y, g: g / (x + 1))
Expm1 = _unary_node("Expm1", lambda xp, a: xp.expm1(a), lambda x, y, g: g * (y + 1), ("y",))
Sqrt = _unary_node("Sqrt", lambda xp, a: xp.sqrt(a), lambda x, y, g: _div(g, _mul(y, 2)), ("y",))
Rsqrt = _unary_node("Rsqrt", lambda xp, a: 1 / xp.sqrt(a), lambda x, y, g: g * (y * y * y) * -0.5, ("y",))
Reciprocal = _unary_node("Reciprocal", lambda xp, a: 1 / a, lambda x, y, g: -g * y * y, ("y",))
Square = _unary_node("Square", lambda xp, a: a * a, lambda x, y, g: _mul(g, _mul(x, 2)))
Sin = _unary_node("Sin", lambda xp, a: xp.sin(a), lambda x, y, g: g * cos(x))
Cos = _unary_node("Cos", lambda xp, a: xp.cos(a), lambda x, y, g: -g * sin(x))
Tan = _unary_node("Tan", lambda xp, a: xp.tan(a), lambda x, y, g: g * (y * y + 1), ("y",))
Asin = _unary_node("Asin", lambda xp, a: xp.arcsin(a), lambda x, y, g: g * rsqrt(1 - x * x))
Acos = _unary_node("Acos", lambda xp, a: xp.arccos(a), lambda x, y, g: -g * rsqrt(1 - x * x))
Atan = _unary_node("Atan", lambda xp, a: xp.arctan(a), lambda x, y, g: g / (x * x + 1))
Sinh = _unary_node("Sinh", lambda xp, a: xp.sinh(a), lambda x, y, g: g * cosh(x))
Cosh = _unary_node("Cosh", lambda xp, a: xp.cosh(a), lambda x, y, g: g * sinh(x))
Erf = _unary_node("Erf", _erf_array, lambda x, y, g: g * exp(-(x * x)) * _TWO_OVER_SQRT_PI)
Erfc = _unary_node("Erfc", _erfc_array, lambda x, y, g: g * exp(-(x * x)) * -_TWO_OVER_SQRT_PI)


# --- tanh, sigmoid and relu, with their gradient nodes ------------------------------------------------------------

class _ActivationGrad(Node):
    """The gradient of an activation from its output y and the output's gradient g (inputs y, g): an array formula
    in forward; backward gives the second derivative."""

    saves = None

    def infer(self, y, g):
        return same_as(g)


@register
class TanhGrad(_ActivationGrad):
    """g * (1 - y^2) with y = tanh(x)."""

    def forward(self, xp, y, g):
        t = y * y  # one temporary, updated in place
        if not t.ndim:  # NumPy gives a scalar for 0-d arrays
            return g * (1 - t)
        xp.subtract(1, t, out=t)
        t *= g
        return t

    def backward(self, gg):
        y, g = self.inputs
        ny, ng = self.needs_input_grad
        return (gg * g * y * -2 if ny else None, apply(TanhGrad(), y, gg) if ng else None)


def sigmoid_array(xp, a):
    # exp of a non-positive number never overflows: sigmoid(a) = 1/(1+e^-a) = e^a/(1+e^a)
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


@register
class SigmoidGrad(_ActivationGrad):
    """g * y * (1 - y) with y = sigmoid(x)."""

    def forward(self, xp, y, g):
        t = 1 - y  # one temporary, updated in place (a 0-d scalar is rebound instead)
        t *= y
        t *= g
        return t

    def backward(self, gg):
        y, g = self.inputs
        ny, ng = self.needs_input_grad
        return (gg * g * (1 - 2 * y) if ny else None, apply(SigmoidGrad(), y, gg) if ng else None)


@register
class ReluGrad(_ActivationGrad):
    """g where y = relu(x) > 0, else 0 (also where g is infinite or NaN). Its gradient with respect to g is the
    same mask; y gets none (the mask is piecewise constant)."""

    saves = (0,)

    def forward(self, xp, y, g):
        mask = y > 0
        # A product with the mask is branch-free (np.where with a random mask is ~10x slower), but an infinite or
        # NaN g would give 0 * inf = nan where the mask is 0: that rare case takes np.where.
        if xp.isfinite(g.sum()):
            return xp.multiply(g, mask)
        return xp.where(mask, g, 0)

    def backward(self, gg):
        return (None, apply(ReluGrad(), self.inputs[0], gg) if self.needs_input_grad[1] else None)


Tanh = _unary_node("Tanh", lambda xp, a: xp.tanh(a), lambda x, y, g: apply(TanhGrad(), y, g), ("y",), False)
Sigmoid = _unary_node("Sigmoid", sigmoid_array, lambda x, y, g: apply(SigmoidGrad(), y, g), ("y",), False)
Relu = _unary_node("Relu", lambda xp, a: xp.maximum(a, 0), lambda x, y, g: apply(ReluGrad(), y, g), ("y",), False)


# --- piecewise-constant functions ---------------------------------------------------------------------------------

class _ZeroGrad(Node):
    """Piecewise-constant functions (floor, ceil, round, trunc, sign): zero gradient almost everywhere."""

    saves = ()
    fn = None

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        return self.fn(xp, a)

    def backward(self, g):
        return (zero_gradient(g),)


def _zero_grad_node(name, fn):
    return register(type(name, (_ZeroGrad,), {"fn": staticmethod(fn)}))


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


@register
class Round(_ZeroGrad):
    def __init__(self, decimals=0):
        self.decimals = decimals

    @quiet  # decimals scale by 10**decimals, which may overflow
    def forward(self, xp, a):
        return xp.round(a, self.decimals)


@register
class NanToNum(Node):
    saves = (0,)

    def __init__(self, nan, posinf, neginf):
        self.nan, self.posinf, self.neginf = nan, posinf, neginf

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        return xp.nan_to_num(a, nan=self.nan, posinf=self.posinf, neginf=self.neginf)

    def backward(self, g):
        return (where(isfinite(self.inputs[0]), g, 0.0),)


# --- the public functions -----------------------------------------------------------------------------------------

def _unary_op(node_cls, name, kind="float", aliases=(), methods=()):
    """The public function of a unary op, exported as ember.<name> (and aliases) and the Tensor methods of the same
    names (and methods). kind: 'float' (integers become the default float dtype), 'any' (integers stay integers),
    'identity_int' (integers are returned unchanged, copied: floor, ceil, ...)."""
    def op(input):
        if not isinstance(input, Tensor):
            raise not_tensor(input, name, pos=1)
        if input._data.dtype.kind in "biu" and kind != "any":
            if kind == "identity_int":
                return clone(input)
            input = as_float(input)
        return apply(node_cls(), input)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}."
    names = (name,) + aliases
    return export(node_cls, ember=names, methods=names + methods)(op)


abs = absolute = _unary_op(Abs, "abs", "any", aliases=("absolute",), methods=("__abs__",))
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


@export(Square, methods=("square",))
def square(input):
    """Elementwise input * input (bool becomes int64, as in PyTorch)."""
    if not isinstance(input, Tensor):
        raise not_tensor(input, "square", pos=1)
    if input._data.dtype.kind == "b":
        input = to_copy(input, dtype=_dt.int64)
    return apply(Square(), input)


@export(Round, methods=("round",))
def round(input, decimals=0):
    """Round half to even, like torch.round (optionally to a number of decimals)."""
    if input._data.dtype.kind in "biu":
        return clone(input)
    return apply(Round(decimals), input)


@export(methods=("frac",))
def frac(input):
    """The fractional part: input - trunc(input)."""
    return input - trunc(input)


@export(NanToNum, methods=("nan_to_num",))
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN with nan and infinities with posinf/neginf (default: the dtype's extremes)."""
    check_tensor(input, "nan_to_num", pos=1)
    return apply(NanToNum(0.0 if nan is None else nan, posinf, neginf), input)


@export(ember=False, methods=("__pos__",))
def positive(self):
    """+self: self itself."""
    return self


# --- in-place forms (Tensor methods only) --------------------------------------------------------------------------

def _inplace_unary(fn, node_cls):
    name = f"{fn.__name__}_"

    def method(self, *args, **kwargs):
        return inplace(self, name, lambda s: fn(s, *args, **kwargs))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"{fn.__name__} in place."
    return export(node_cls, ember=False, methods=(name,))(method)


exp_ = _inplace_unary(exp, Exp)
sqrt_ = _inplace_unary(sqrt, Sqrt)
relu_ = _inplace_unary(relu, Relu)
sigmoid_ = _inplace_unary(sigmoid, Sigmoid)
tanh_ = _inplace_unary(tanh, Tanh)
abs_ = _inplace_unary(abs, Abs)
log_ = _inplace_unary(log, Log)
floor_ = _inplace_unary(floor, Floor)
round_ = _inplace_unary(round, Round)
