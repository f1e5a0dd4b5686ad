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
import textwrap

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
asin = arcsin = _unary_op(Asin, "asin", aliases=("arcsin",))
acos = arccos = _unary_op(Acos, "acos", aliases=("arccos",))
atan = arctan = _unary_op(Atan, "atan", aliases=("arctan",))
sinh = _unary_op(Sinh, "sinh")
cosh = _unary_op(Cosh, "cosh")
tanh = _unary_op(Tanh, "tanh")
sigmoid = _unary_op(Sigmoid, "sigmoid")
relu = _unary_op(Relu, "relu", "any")
erf = _unary_op(Erf, "erf")
erfc = _unary_op(Erfc, "erfc")
floor = _unary_op(Floor, "floor", "identity_int")
ceil = _unary_op(Ceil, "ceil", "identity_int")
trunc = fix = _unary_op(Trunc, "trunc", "identity_int", aliases=("fix",))


# --- their docstrings: one builder (as PyTorch's add_docstr), a summary and an example per name ----------------------

_RETURNS = {
    "float": "Tensor: of input's shape; floating-point (integer and bool inputs give the default float dtype).",
    "any": "Tensor: of input's shape and dtype.",
    "identity_int": "Tensor: of input's shape and dtype (integer and bool inputs come back unchanged, as a copy).",
}
_SAME = "same semantics (no ``out=`` argument)"
_BOOL_TOO = "a bool tensor is accepted and returned as a copy (PyTorch raises)"


def _unary_doc(name, kind, summary, example, result, note=_SAME, aliases=()):
    """The docstring of the unary op `name`: summary, Args, Returns by kind, PyTorch (with note), an example call of
    ember.<name> on ``ember.tensor(example)`` printing result."""
    names = [f"``{where}.{n}``" for where in ("torch", "Tensor") for n in (name,) + aliases]
    torch_names = ", ".join(names[:-1]) + (", " if note.startswith("and ") else " and ") + names[-1]
    mirrors = textwrap.fill(f"{torch_names}{'' if note.startswith('and ') else ';'} {note}.", 112,
                            subsequent_indent=" " * 8)
    return f"""{summary}

    Args:
        input (Tensor): the input tensor.

    Returns:
        {_RETURNS[kind]}

    PyTorch:
        {mirrors}

    Example:
        >>> ember.{name}(ember.tensor({example}))
        {result}
    """


_UNARY_DOCS = (  # (function, kind, summary, example input, its printed result[, PyTorch note[, aliases]])
    (abs, "any", "The absolute value |input| of each element.", "[-1.5, 0.0, 2.0]", "tensor([1.5000, 0.0000, 2.0000])",
     f"and the builtin ``abs(x)``; same semantics, except that {_BOOL_TOO}", ("absolute",)),
    (sign, "any", "The sign of each element: -1, 0 or 1 (0 for NaN; a bool tensor stays bool).", "[-2.0, 0.0, 3.0]",
     "tensor([-1.,  0.,  1.])"),
    (exp, "float", "The exponential e^x of each element.", "[0.0, 1.0]", "tensor([1.0000, 2.7183])"),
    (exp2, "float", "Two to the power of each element, 2^x.", "[0, 1, 3]", "tensor([1., 2., 8.])"),
    (log, "float", "The natural logarithm of each element (-inf at 0, NaN below 0).", "[1.0, 2.0, 0.0]",
     "tensor([0.0000, 0.6931,   -inf])"),
    (log2, "float", "The base-2 logarithm of each element (-inf at 0, NaN below 0).", "[1.0, 8.0, 0.5]",
     "tensor([ 0.,  3., -1.])"),
    (log10, "float", "The base-10 logarithm of each element (-inf at 0, NaN below 0).", "[1.0, 100.0]",
     "tensor([0.0000, 2.0000])"),
    (log1p, "float", "log(1 + x) of each element, accurate for small x (where log(1 + x) rounds to 0).",
     "[0.0, 1e-10]", "tensor([0.0000e+00, 1.0000e-10])"),
    (expm1, "float", "e^x - 1 of each element, accurate for small x (where e^x - 1 rounds to 0).", "[0.0, 1e-10]",
     "tensor([0.0000e+00, 1.0000e-10])"),
    (sqrt, "float", "The square root of each element (NaN below 0).", "[4, 9]", "tensor([2., 3.])"),
    (rsqrt, "float", "The reciprocal of the square root, 1 / sqrt(x), of each element (inf at 0, NaN below).",
     "[4.0, 0.25]", "tensor([0.5000, 2.0000])"),
    (reciprocal, "float", "The reciprocal 1 / x of each element (inf at 0).", "[2, 4]", "tensor([0.5000, 0.2500])"),
    (sin, "float", "The sine of each element (in radians).", "[0.0, np.pi / 2]", "tensor([0., 1.])"),
    (cos, "float", "The cosine of each element (in radians).", "[0.0, np.pi]", "tensor([ 1., -1.])"),
    (tan, "float", "The tangent of each element (in radians).", "[0.0, np.pi / 4]", "tensor([0., 1.])"),
    (asin, "float", "The arcsine of each element, in radians in [-pi/2, pi/2] (NaN outside [-1, 1]).", "[0.0, 1.0]",
     "tensor([0.0000, 1.5708])", _SAME, ("arcsin",)),
    (acos, "float", "The arccosine of each element, in radians in [0, pi] (NaN outside [-1, 1]).", "[1.0, 0.0]",
     "tensor([0.0000, 1.5708])", _SAME, ("arccos",)),
    (atan, "float", "The arctangent of each element, in radians in (-pi/2, pi/2).", "[0.0, 1.0]",
     "tensor([0.0000, 0.7854])", _SAME, ("arctan",)),
    (sinh, "float", "The hyperbolic sine of each element.", "[0.0, 1.0]", "tensor([0.0000, 1.1752])"),
    (cosh, "float", "The hyperbolic cosine of each element.", "[0.0, 1.0]", "tensor([1.0000, 1.5431])"),
    (tanh, "float", "The hyperbolic tangent of each element, in (-1, 1).", "[-1.0, 0.0, 1.0]",
     "tensor([-0.7616,  0.0000,  0.7616])"),
    (sigmoid, "float", "The logistic sigmoid 1 / (1 + e^-x) of each element, computed without overflow.",
     "[0.0, 2.0]", "tensor([0.5000, 0.8808])"),
    (relu, "any", "The rectified linear unit max(x, 0) of each element (integers stay integers).",
     "[-1.0, 0.0, 2.0]", "tensor([0., 0., 2.])",
     "same semantics, except that a bool tensor gives an int64 result (PyTorch raises)"),
    (erf, "float", "The error function 2/sqrt(pi) * integral from 0 to x of e^(-t^2) dt, of each element.",
     "[0.0, 1.0]", "tensor([0.0000, 0.8427])"),
    (erfc, "float", "The complementary error function 1 - erf(x) of each element, accurate where erf(x) is near 1.",
     "[0.0, 1.0]", "tensor([1.0000, 0.1573])"),
    (floor, "identity_int", "The largest integer not above each element.", "[-1.5, 1.5]", "tensor([-2.,  1.])",
     f"same semantics, except that {_BOOL_TOO}"),
    (ceil, "identity_int", "The smallest integer not below each element.", "[-1.5, 1.5]", "tensor([-1.,  2.])",
     f"same semantics, except that {_BOOL_TOO}"),
    (trunc, "identity_int", "Each element rounded toward zero (its integer part).", "[-1.5, 1.5]",
     "tensor([-1.,  1.])", f"same semantics, except that {_BOOL_TOO}", ("fix",)),
)
for _fn, *_args in _UNARY_DOCS:
    _fn.__doc__ = _unary_doc(_fn.__name__, *_args)


@export(Square, methods=("square",))
def square(input):
    """The square input * input of each element.

    Args:
        input (Tensor): the input tensor.

    Returns:
        Tensor: of input's shape and dtype (a bool tensor gives int64, as in PyTorch).

    PyTorch:
        ``torch.square`` and ``Tensor.square``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.square(ember.tensor([-2, 3]))
        tensor([4, 9])
    """
    if not isinstance(input, Tensor):
        raise not_tensor(input, "square", pos=1)
    if input._data.dtype.kind == "b":
        input = to_copy(input, dtype=_dt.int64)
    return apply(Square(), input)


@export(Round, methods=("round",))
def round(input, decimals=0):
    """Each element rounded to the nearest integer, or to ``decimals`` decimal places; halves round to even.

    Args:
        input (Tensor): the input tensor.
        decimals (int): the number of decimal places (negative: round to tens, hundreds...). Default: 0.

    Returns:
        Tensor: of input's shape and dtype (integer and bool inputs come back unchanged, as a copy).

    PyTorch:
        ``torch.round`` and ``Tensor.round``; same semantics, except that integer and bool tensors are accepted
        and returned as a copy (PyTorch raises).

    Example:
        >>> ember.round(ember.tensor([0.5, 1.5, 2.5]))
        tensor([0., 2., 2.])
        >>> ember.round(ember.tensor([1.234, 5.678]), decimals=1)
        tensor([1.2000, 5.7000])
    """
    if input._data.dtype.kind in "biu":
        return clone(input)
    return apply(Round(decimals), input)


@export(methods=("frac",))
def frac(input):
    """The fractional part input - trunc(input) of each element (it has the sign of input).

    Args:
        input (Tensor): the input tensor.

    Returns:
        Tensor: of input's shape and dtype.

    PyTorch:
        ``torch.frac`` and ``Tensor.frac``; same semantics, except that an integer tensor is accepted (its
        fractional parts are 0; PyTorch raises).

    Example:
        >>> ember.frac(ember.tensor([1.5, -2.25]))
        tensor([ 0.5000, -0.2500])
    """
    return input - trunc(input)


@export(NanToNum, methods=("nan_to_num",))
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """A copy of input with NaN, +inf and -inf replaced by finite numbers.

    The gradient flows through the finite elements only (it is 0 at the replaced ones). Integer and bool tensors
    come back unchanged (as a copy).

    Args:
        input (Tensor): the input tensor.
        nan (float, optional): the value for NaN; 0 when None. Default: 0.0.
        posinf (float, optional): the value for +inf; the dtype's largest finite value when None. Default: None.
        neginf (float, optional): the value for -inf; the dtype's lowest finite value when None. Default: None.

    Returns:
        Tensor: of input's shape and dtype.

    PyTorch:
        ``torch.nan_to_num`` and ``Tensor.nan_to_num``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.nan_to_num(ember.tensor([float("nan"), float("inf"), -1.0]), posinf=100.0)
        tensor([  0., 100.,  -1.])
    """
    check_tensor(input, "nan_to_num", pos=1)
    return apply(NanToNum(0.0 if nan is None else nan, posinf, neginf), input)


@export(ember=("positive",), methods=("positive", "__pos__"))
def positive(input):
    """input itself (the unary ``+`` operator).

    Args:
        input (Tensor): the input tensor.

    Returns:
        Tensor: input, not a copy.

    PyTorch:
        ``torch.positive``, ``Tensor.positive`` and the unary ``+`` operator; same semantics, except that a bool
        tensor is accepted (PyTorch raises).

    Example:
        >>> x = ember.tensor([-1.0, 2.0])
        >>> ember.positive(x) is x
        True
    """
    return input


# --- in-place forms (Tensor methods only) --------------------------------------------------------------------------

def _inplace_unary(fn, *node_cls, name=None):
    name = name or f"{fn.__name__}_"

    def method(self, *args, **kwargs):
        return inplace(self, name, lambda s: fn(s, *args, **kwargs))

    method.__name__ = method.__qualname__ = name
    return export(*node_cls, ember=False, methods=(name,))(method)


def _inplace_doc(method, arguments, example, result, note):
    """The docstring of the in-place method `method` (``exp_``, ...): the further arguments of its out-of-place
    function, an example on ``ember.tensor(example)`` printing result, and the PyTorch note."""
    name, fn = method.__name__, method.__name__[:-1]
    call = "" if arguments == "none" else "*args, **kwargs"
    mirrors = textwrap.fill(f"``Tensor.{name}``; same semantics{note}.", 112, subsequent_indent=" " * 8)
    method.__doc__ = f"""Write ``self.{fn}({call})`` into self (in place) and return self.

    Args:
        *args, **kwargs: the further arguments of ``Tensor.{fn}``: {arguments}.

    Returns:
        Tensor: self, modified (its version counter advanced, as autograd checks).

    PyTorch:
        {mirrors}

    Example:
        >>> x = ember.tensor({example})
        >>> x.{name}()
        {result}
    """


exp_ = _inplace_unary(exp, Exp)
sqrt_ = _inplace_unary(sqrt, Sqrt)
relu_ = _inplace_unary(relu, Relu)
sigmoid_ = _inplace_unary(sigmoid, Sigmoid)
tanh_ = _inplace_unary(tanh, Tanh)
abs_ = _inplace_unary(abs, Abs)
export(Abs, ember=False, methods=("absolute_",))(abs_)
log_ = _inplace_unary(log, Log)
floor_ = _inplace_unary(floor, Floor)
round_ = _inplace_unary(round, Round)


_FLOAT_ONLY = ": the result must fit self's dtype, so an integer tensor raises"
for _method, _args in (
        (exp_, ("none", "[0.0, 1.0]", "tensor([1.0000, 2.7183])", _FLOAT_ONLY)),
        (sqrt_, ("none", "[4.0, 9.0]", "tensor([2., 3.])", _FLOAT_ONLY)),
        (relu_, ("none", "[-1, 0, 2]", "tensor([0, 0, 2])", "")),
        (sigmoid_, ("none", "[0.0, 2.0]", "tensor([0.5000, 0.8808])", _FLOAT_ONLY)),
        (tanh_, ("none", "[0.0, 1.0]", "tensor([0.0000, 0.7616])", _FLOAT_ONLY)),
        (abs_, ("none", "[-1, 2]", "tensor([1, 2])", "")),
        (log_, ("none", "[1.0, 4.0]", "tensor([0.0000, 1.3863])", _FLOAT_ONLY)),
        (floor_, ("none", "[-1.5, 1.5]", "tensor([-2.,  1.])", ", except that a bool tensor is accepted (PyTorch "
                  "raises)")),
        (round_, ("``decimals`` (int, default 0)", "[0.5, 1.5]", "tensor([0., 2.])", ", except that integer and bool "
                  "tensors are accepted, left unchanged (PyTorch raises)"))):
    _inplace_doc(_method, *_args)


# the other in-place forms PyTorch has, and their aliases (arccos_ is acos_, fix_ is trunc_, ...)
for _fn, _node, _aliases, _args in (
        (exp2, Exp2, (), ("[0.0, 3.0]", "tensor([1., 8.])")), (expm1, Expm1, (), ("[0.0]", "tensor([0.])")),
        (log2, Log2, (), ("[1.0, 8.0]", "tensor([0., 3.])")),
        (log10, Log10, (), ("[1.0, 100.0]", "tensor([0.0000, 2.0000])")),
        (log1p, Log1p, (), ("[0.0]", "tensor([0.])")), (rsqrt, Rsqrt, (), ("[4.0]", "tensor([0.5000])")),
        (reciprocal, Reciprocal, (), ("[2.0, 4.0]", "tensor([0.5000, 0.2500])")),
        (square, Square, (), ("[-2.0, 3.0]", "tensor([4., 9.])")), (sin, Sin, (), ("[0.0]", "tensor([0.])")),
        (cos, Cos, (), ("[0.0]", "tensor([1.])")), (tan, Tan, (), ("[0.0]", "tensor([0.])")),
        (asin, Asin, ("arcsin_",), ("[0.0, 1.0]", "tensor([0.0000, 1.5708])")),
        (acos, Acos, ("arccos_",), ("[1.0]", "tensor([0.])")),
        (atan, Atan, ("arctan_",), ("[0.0, 1.0]", "tensor([0.0000, 0.7854])")),
        (sinh, Sinh, (), ("[0.0]", "tensor([0.])")), (cosh, Cosh, (), ("[0.0]", "tensor([1.])")),
        (erf, Erf, (), ("[0.0, 1.0]", "tensor([0.0000, 0.8427])")), (erfc, Erfc, (), ("[0.0]", "tensor([1.])")),
        (sign, Sign, (), ("[-2.0, 0.0, 3.0]", "tensor([-1.,  0.,  1.])")),
        (ceil, Ceil, (), ("[-1.5, 1.5]", "tensor([-1.,  2.])")),
        (trunc, Trunc, ("fix_",), ("[-1.5, 1.5]", "tensor([-1.,  1.])")),
        (frac, Trunc, (), ("[1.5, -2.25]", "tensor([ 0.5000, -0.2500])")),
        (nan_to_num, NanToNum, (), ("[float('nan'), 1.0]", "tensor([0., 1.])"))):
    _method = _inplace_unary(_fn, _node)
    export(_node, ember=False, methods=_aliases)(_method)
    _more = "``nan`` (float, default 0.0), ``posinf`` and ``neginf`` (float, default None)"
    _inplace_doc(_method, _more if _fn is nan_to_num else "none", *_args,
                 "" if _fn in (sign, ceil, trunc, frac, nan_to_num, square) else _FLOAT_ONLY)
