"""Special functions and more elementwise math (torch.special's, and torch's acosh, lgamma, xlogy...).

The array functions below need NumPy only (no SciPy). Float inputs narrower than float64 are computed in float64
and rounded. Where NumPy has the function (arccosh, logaddexp, gcd, nextafter, ...) it is used; the others are
series, asymptotic expansions and Newton/Halley refinements whose constants are computed here (Bernoulli numbers,
zeta values), not tabulated:

- lgamma: Taylor series about 1 and 2 (coefficients from zeta values) on (0, 2.5), shifted down onto them below 12,
  Stirling's series above, reflection below 0.
- digamma: shifted up to 10, then its asymptotic series (the algorithm PyTorch uses); reflection below 0.
- polygamma(n >= 1) and zeta: Hurwitz zeta by direct summation and Euler-Maclaurin.
- erfinv, ndtri: an initial estimate refined by Halley's method on erf/erfc (erfcx in the far tail).
- i0, i1 (and the scaled i0e, i1e): power series below 25, the asymptotic expansion above.
Measured against PyTorch and mpmath (tests/test_special.py) they agree to about 1e-14 relative in float64, except
near the zeros of lgamma and digamma, where the error is a few 1e-16 absolute.

Every gradient is written once with ember ops, so double backward works.
"""
import math
from collections import namedtuple
from fractions import Fraction

import numpy as np

from .. import dtypes as _dt
from ..autograd import Node
from ..autograd.graph import apply
from ..autograd.inplace import inplace
from ..device import get_array_module
from ..tensor import Tensor
from ._checks import check_tensor, not_tensor
from ._erf import erf as _erf_array, erfc as _erfc_array
from ._promotion import FLOAT_KINDS, as_float, promote, apply2
from ._quiet import quiet
from .arith import pow as _pow
from .compare import gt, ge, lt, le, ne
from .copy import to_copy
from .meta import broadcast, same_as
from .registry import export, register
from .ternary import where
from .unary import (_unary_doc, _unary_node, _unary_op, abs as _abs, cos, erfc, exp, exp2, log, rsqrt, sign,
                    Sign)

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)
_SQRT1_2 = math.sqrt(0.5)
_EULER = 0.57721566490153286061


# --- constants: Bernoulli numbers and zeta values --------------------------------------------------------------

def _bernoulli_even(n):
    """B_2, B_4, ..., B_2n as Fractions (Akiyama-Tanigawa)."""
    a, out = [], []
    for m in range(2 * n + 1):
        a.append(Fraction(1, m + 1))
        for j in range(m, 0, -1):
            a[j - 1] = j * (a[j - 1] - a[j])
        if m >= 2 and m % 2 == 0:
            out.append(a[0])
    return out


_B2K = _bernoulli_even(14)
_STIRLING = [float(b / (2 * k * (2 * k - 1))) for k, b in enumerate(_B2K[:10], 1)]  # lgamma's series
_DIGAMMA = [float(b / (2 * k)) for k, b in enumerate(_B2K[:7], 1)]  # B_2k / 2k
_EULER_MACLAURIN = [float(b / math.factorial(2 * k)) for k, b in enumerate(_B2K, 1)]  # B_2k / (2k)!


def _horner(z, coefficients):
    """sum(c_k z^k) for coefficients c_0, c_1, ... (lowest first)."""
    out = z * 0 + coefficients[-1]
    for c in coefficients[-2::-1]:
        out = out * z + c
    return out


# --- the array functions (float64 arrays in, float64 out) ---------------------------------------------------------

def _zeta64(xp, s, q):
    """The Hurwitz zeta function sum_k (q + k)^-s for s > 1 (inf at s = 1, NaN below; q <= 0 must be a non-integer
    and s an integer), by summing until q + k >= 10 + s, then Euler-Maclaurin with 14 terms."""
    s, q = xp.broadcast_arrays(xp.asarray(s, dtype=np.float64), xp.asarray(q, dtype=np.float64))
    out = xp.zeros(s.shape)
    ok = (s > 1) & xp.isfinite(q) & ~((q <= 0) & ((q == xp.floor(q)) | (s != xp.floor(s))))
    if ok.any():
        ss, qq = s[ok], q[ok]
        n = int(max(0.0, math.ceil(float((10 + ss - qq).max()))))
        total = xp.zeros(ss.shape)
        for k in range(n):
            total += (qq + k) ** -ss
        a = qq + n
        tail = a ** (1 - ss) / (ss - 1) + 0.5 * a ** -ss
        rising, power = ss.copy(), a ** (-ss - 1)  # s (s+1) ... (s+2k-2) and a^(-s-2k+1)
        for k, c in enumerate(_EULER_MACLAURIN, 1):
            tail += c * rising * power
            rising = rising * (ss + 2 * k - 1) * (ss + 2 * k)
            power = power / (a * a)
        out[ok] = total + tail
    out[s == 1] = np.inf
    out[(q <= 0) & (q == xp.floor(q)) & (s > 1)] = np.inf
    out[~ok & ~(s == 1) & ~((q <= 0) & (q == xp.floor(q)) & (s > 1))] = np.nan
    out[(q == np.inf) & (s > 1)] = 0.0
    return out


# Taylor coefficients of lgamma about 1 and 2: lgamma(1 + z) = -gamma z + sum_k>=2 (-1)^k zeta(k) z^k / k
_ZETA_K = _zeta64(np, np.arange(2.0, 58.0), 1.0)
_ZETA_K_MINUS_1 = _zeta64(np, np.arange(2.0, 34.0), 2.0)
_LGAMMA_AT_1 = [0.0, -_EULER] + [(-1) ** k * z / k for k, z in enumerate(_ZETA_K, 2)]
_LGAMMA_AT_2 = [0.0, 1 - _EULER] + [(-1) ** k * z / k for k, z in enumerate(_ZETA_K_MINUS_1, 2)]


def _lgamma_pos(xp, x):
    """lgamma for x > 0 (finite or inf)."""
    out = xp.empty_like(x)
    small, near1, near2 = x < 0.5, (x >= 0.5) & (x < 1.5), (x >= 1.5) & (x < 2.5)
    mid, big = (x >= 2.5) & (x < 12), x >= 12
    out[small] = _horner(x[small], _LGAMMA_AT_1) - xp.log(x[small])
    out[near1] = _horner(x[near1] - 1, _LGAMMA_AT_1)
    out[near2] = _horner(x[near2] - 2, _LGAMMA_AT_2)
    if mid.any():  # lgamma(x) = lgamma(x - m) + log((x - 1) ... (x - m)), x - m in [1.5, 2.5) (exact)
        v = x[mid]
        m = xp.floor(v - 1.5)
        prod = xp.ones_like(v)
        for j in range(1, 11):
            prod *= xp.where(j <= m, v - j, 1.0)
        out[mid] = _horner(v - m - 2, _LGAMMA_AT_2) + xp.log(prod)
    if big.any():
        v = x[big]
        w = 1 / v
        out[big] = (v - 0.5) * xp.log(v) - v + 0.5 * math.log(2 * math.pi) + w * _horner(w * w, _STIRLING)
        out[big & xp.isinf(x)] = np.inf
    return out


def _sinpi_abs(xp, x):
    """|sin(pi x)|, exact reduction (x - round(x) is exact)."""
    return xp.abs(xp.sin(math.pi * (x - xp.round(x))))


def _lgamma64(xp, x):
    out = xp.empty_like(x)
    pos, neg = x > 0, x <= 0
    out[pos] = _lgamma_pos(xp, x[pos])
    if neg.any():
        v = x[neg]
        near = v > -0.5  # lgamma(1 - v) = lgamma(1 + |v|): the series about 1 in |v|, exactly
        rest = xp.empty_like(v)
        rest[near] = _horner(-v[near], _LGAMMA_AT_1)
        rest[~near] = _lgamma_pos(xp, 1 - v[~near])
        out[neg] = xp.log(math.pi / _sinpi_abs(xp, v)) - rest  # inf at the poles (sin = 0)
        out[neg & (x == xp.floor(x))] = np.inf
    out[xp.isnan(x)] = np.nan
    return out


def _digamma64(xp, x):
    neg = x < 0
    v = xp.where(neg, 1 - x, x)
    shift = xp.zeros_like(v)
    for _ in range(10):
        low = v < 10
        shift -= xp.where(low, 1 / v, 0.0)
        v = xp.where(low, v + 1, v)
    z = 1 / (v * v)
    out = shift + xp.log(v) - 0.5 / v - z * _horner(z, _DIGAMMA[:1] + _DIGAMMA[1:])
    out = xp.where(neg, out - math.pi / xp.tan(math.pi * (x - xp.trunc(x))), out)
    out = xp.where(neg & (x == xp.trunc(x)), np.nan, out)
    return xp.where(x == 0, xp.copysign(np.inf, -x), out)


def _polygamma64(xp, n, x):
    if n == 0:
        return _digamma64(xp, x)
    return (-1) ** (n + 1) * math.factorial(n) * _zeta64(xp, float(n + 1), x)


def _halley_step(x, delta):
    """One step of Halley's method for erf or erfc (f'' = -2x f'): x - delta / (1 + x delta), delta = f / f'."""
    return x - delta / (1 + x * delta)


def _erfinv_estimate(xp, t, y):
    """Winitzki's estimate of |erfinv| from t = log(1 - y^2), to about 2e-3 (Halley makes it exact)."""
    a = 0.147
    b = 2 / (math.pi * a) + t / 2
    return xp.sqrt(xp.maximum(xp.sqrt(b * b - t / a) - b, 0.0)) + 0 * y


def _erfinv64(xp, y):
    ay = xp.abs(y)
    q = 1 - ay  # exact for |y| >= 0.5
    tail = ay >= 0.5
    t = xp.where(tail, xp.log(xp.maximum(q, 1e-300)) + xp.log(1 + ay), xp.log1p(-(ay * ay)))
    x = _erfinv_estimate(xp, t, y)
    x = xp.where(ay < 1e-3, ay * (_SQRT_PI / 2) * (1 + math.pi / 12 * ay * ay), x)
    for _ in range(3):
        # erf(x) - |y| = q - erfc(x), computed without cancellation where |y| is near 1
        f = xp.where(tail, q - _erfc_array(xp, x), _erf_array(xp, x) - ay)
        x = _halley_step(x, f / (2 / _SQRT_PI * xp.exp(-x * x)))
    x = xp.where(ay == 1, np.inf, x)
    x = xp.where(ay > 1, np.nan, x)
    return xp.copysign(x, y)


def _erfcx64(xp, x):
    """exp(x^2) erfc(x): x^2 split exactly into hi + lo below 26, the asymptotic series above."""
    ax = xp.abs(x)
    split = ax * 134217729.0  # Dekker's split: ax = h + l, h with 26 bits
    h = split - (split - ax)
    lo_part = ax - h
    hi = ax * ax
    lo = ((h * h - hi) + 2 * h * lo_part) + lo_part * lo_part
    e2 = xp.exp(hi) * (1 + lo)  # exp(x^2), to about 1 ulp
    small = e2 * _erfc_array(xp, xp.minimum(ax, 26.0))
    w = 1 / (2 * xp.maximum(ax, 26.0) ** 2)
    term, series = xp.ones_like(x), xp.ones_like(x)
    for k in range(1, 10):
        term = term * -(2 * k - 1) * w
        series = series + term
    large = series / (xp.maximum(ax, 26.0) * _SQRT_PI)
    pos = xp.where(ax < 26, small, large)
    out = xp.where(x < 0, 2 * e2 - pos, pos)  # erfcx(-x) = 2 exp(x^2) - erfcx(x)
    return xp.where(x == -np.inf, np.inf, out)


def _ndtri64(xp, p):
    # central part: sqrt(2) erfinv(2p - 1) (2p - 1 is exact); tails: -sqrt(2) erfcinv(2p) solved with erfcx
    c = (p > 0.25) & (p < 0.75)
    central = math.sqrt(2) * _erfinv64(xp, xp.where(c, 2 * p - 1, 0.0))
    small = xp.where(p <= 0.5, p, 1 - p)  # 1 - p exact for p >= 0.5
    q = 2 * xp.where(c | ~(small > 0), 0.25, small)
    log_q = xp.log(q)
    x = _erfinv_estimate(xp, log_q + xp.log(2 - q), q)
    for _ in range(4):  # erfc(x) - q over erfc'(x), with both sides scaled by exp(x^2)
        delta = (_erfcx64(xp, x) - xp.exp(log_q + x * x)) / (-2 / _SQRT_PI)
        x = _halley_step(x, delta)
    tail = xp.where(p <= 0.5, -x, x) * math.sqrt(2)
    out = xp.where(c, central, tail)
    out = xp.where(p == 0, -np.inf, xp.where(p == 1, np.inf, out))
    return xp.where((p < 0) | (p > 1) | xp.isnan(p), np.nan, out)


def _log_ndtr64(xp, x):
    t = -x * _SQRT1_2
    left = xp.log(_erfcx64(xp, xp.maximum(t, 0.0)) / 2) - t * t
    right = xp.log1p(-_erfc_array(xp, -t) / 2)
    return xp.where(x < -1, left, right)


def _bessel64(xp, x, order, scaled):
    """I0 or I1 of x (exp(-|x|) times it when scaled): power series below 25, asymptotic expansion above."""
    ax = xp.abs(x)
    out = xp.empty_like(x)
    low = ax < 25
    if low.any():
        v = ax[low]
        y = v * v / 4
        term = xp.ones_like(v) if order == 0 else v / 2
        total = term.copy()
        for k in range(1, 60):
            term = term * y / (k * (k + order))
            total += term
        out[low] = total * xp.exp(-v) if scaled else total
    high = ~low
    if high.any():
        v = ax[high]
        mu = 4 * order * order
        term, total = xp.ones_like(v), xp.ones_like(v)
        for k in range(1, 40):
            term = term * -(mu - (2 * k - 1) ** 2) / (8 * k * v)
            total += term
        total = total / xp.sqrt(2 * math.pi * v)
        out[high] = total if scaled else total * xp.exp(v)
        out[high & xp.isinf(x)] = 0.0 if scaled else np.inf
    out[xp.isnan(x)] = np.nan
    return out if order == 0 else xp.copysign(out, x)


def _entr64(xp, x):
    out = xp.where(x > 0, -x * xp.log(xp.where(x > 0, x, 1.0)), xp.where(x == 0, 0.0, -np.inf))
    return xp.where(xp.isnan(x), x, out)


def _sinc64(xp, x):
    px = math.pi * xp.where(x == 0, 1.0, x)
    return xp.where(x == 0, 1.0, xp.sin(px) / px)


def _in_float64(fn):
    """fn on float64 arrays, as an array function of any float dtype (narrower ones are computed in float64)."""
    def forward(xp, a, *rest):
        if a.dtype == np.float64:
            return fn(xp, a, *rest)
        return fn(xp, a.astype(np.float64), *rest).astype(a.dtype)
    return forward


# --- the unary nodes ------------------------------------------------------------------------------------------

def _i1_over_x_grad(x, i0, i1):
    """The derivative of i1 from i0 and i1 at x: i0 - i1 / x, 0.5 at 0."""
    safe = where(x == 0, 1.0, x)
    return where(x == 0, 0.5, i0 - i1 / safe)


Acosh = _unary_node("Acosh", lambda xp, a: xp.arccosh(a), lambda x, y, g: g * rsqrt(x * x - 1))
Asinh = _unary_node("Asinh", lambda xp, a: xp.arcsinh(a), lambda x, y, g: g * rsqrt(x * x + 1))
Atanh = _unary_node("Atanh", lambda xp, a: xp.arctanh(a), lambda x, y, g: g / (1 - x * x))
Lgamma = _unary_node("Lgamma", _in_float64(_lgamma64), lambda x, y, g: g * digamma(x))
Digamma = _unary_node("Digamma", _in_float64(_digamma64), lambda x, y, g: g * polygamma(1, x))
Erfinv = _unary_node("Erfinv", _in_float64(_erfinv64), lambda x, y, g: g * exp(y * y) * (_SQRT_PI / 2), ("y",))
Erfcx = _unary_node("Erfcx", _in_float64(_erfcx64), lambda x, y, g: g * (2 * x * y - 2 / _SQRT_PI), ("x", "y"))
Ndtri = _unary_node("Ndtri", _in_float64(_ndtri64), lambda x, y, g: g * exp(y * y / 2) * _SQRT_2PI, ("y",))
LogNdtr = _unary_node("LogNdtr", _in_float64(_log_ndtr64), lambda x, y, g: g * exp(-x * x / 2 - y) / _SQRT_2PI,
                      ("x", "y"))
I0 = _unary_node("I0", _in_float64(lambda xp, a: _bessel64(xp, a, 0, False)), lambda x, y, g: g * i1(x))
I0e = _unary_node("I0e", _in_float64(lambda xp, a: _bessel64(xp, a, 0, True)),
                  lambda x, y, g: g * (i1e(x) - sign(x) * y), ("x", "y"))
I1 = _unary_node("I1", _in_float64(lambda xp, a: _bessel64(xp, a, 1, False)),
                 lambda x, y, g: g * _i1_over_x_grad(x, i0(x), y), ("x", "y"))
I1e = _unary_node("I1e", _in_float64(lambda xp, a: _bessel64(xp, a, 1, True)),
                  lambda x, y, g: g * (_i1_over_x_grad(x, i0e(x), y) - sign(x) * y), ("x", "y"))
Entr = _unary_node("Entr", _in_float64(_entr64), lambda x, y, g: g * -(log(x) + 1))
Sinc = _unary_node("Sinc", _sinc64, lambda x, y, g: g * (cos(x * math.pi) - y) / where(x == 0, 1.0, x), ("x", "y"))


@register
class Polygamma(Node):
    """The n-th derivative of digamma."""

    saves = (0,)

    def __init__(self, n):
        self.n = n

    def infer(self, a):
        return same_as(a)

    @quiet
    def forward(self, xp, a):
        return _in_float64(lambda xp, v: _polygamma64(xp, self.n, v))(xp, a)

    def backward(self, g):
        return (g * polygamma(self.n + 1, self.inputs[0]),)


@register
class Logit(Node):
    """log(p / (1 - p)), p clamped to [eps, 1 - eps] when eps is given."""

    saves = (0,)

    def __init__(self, eps):
        self.eps = eps

    def infer(self, a):
        return same_as(a)

    @quiet
    def forward(self, xp, a):
        if self.eps is not None:
            a = xp.clip(a, self.eps, 1 - self.eps)
        return xp.log(a / (1 - a))

    def backward(self, g):
        x = self.inputs[0]
        grad = g / (x * (1 - x))
        if self.eps is None:
            return (grad,)
        return (where((x < self.eps) | (x > 1 - self.eps), 0.0, grad),)


class _NoGrad(Node):
    """An elementwise op without a gradient: fn(xp, *arrays), result dtype `dtype` (None: the operands')."""

    differentiable = False
    fn = None
    dtype = None

    def infer(self, *args):
        return broadcast(*args, dtype=self.dtype)

    def forward(self, xp, *arrays):
        return self.fn(xp, *arrays)


def _no_grad_node(name, fn, dtype=None):
    return register(type(name, (_NoGrad,), {"fn": staticmethod(quiet(fn)), "dtype": dtype}))


Signbit = _no_grad_node("Signbit", lambda xp, a: xp.signbit(a) if a.dtype.kind != "b" else xp.zeros(a.shape, bool),
                        np.dtype(bool))
Gcd = _no_grad_node("Gcd", lambda xp, a, b: xp.gcd(a, b))
Lcm = _no_grad_node("Lcm", lambda xp, a, b: xp.lcm(a, b))
Nextafter = _no_grad_node("Nextafter", lambda xp, a, b: xp.nextafter(a, b))
Zeta = _no_grad_node("Zeta", lambda xp, a, b: _zeta64(xp, a, b).astype(a.dtype))
FrexpExponent = _no_grad_node("FrexpExponent", lambda xp, a: xp.frexp(a)[1].astype(np.int32), np.dtype(np.int32))


@register
class FrexpMantissa(Node):
    saves = (0,)

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        return xp.frexp(a)[0]

    def backward(self, g):
        return (g / exp2(to_copy(apply(FrexpExponent(), self.inputs[0]), dtype=g.dtype)),)


class _Binary(Node):
    """A binary node whose operands already have one floating-point dtype (tensors)."""

    saves = (0, 1)
    fn = None

    def infer(self, a, b):
        return broadcast(a, b)

    @quiet
    def forward(self, xp, a, b):
        return self.fn(xp, a, b)


def _xlogy_array(xp, a, b, log_fn):
    out = a * log_fn(b)
    return xp.where((a == 0) & ~xp.isnan(b), 0.0, out).astype(out.dtype, copy=False)


@register
class Xlogy(_Binary):
    fn = staticmethod(lambda xp, a, b: _xlogy_array(xp, a, b, xp.log))

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (where((a == 0) & (b <= 0), 0.0, xlogy(g, b)) if na else None, g * a / b if nb else None)


@register
class Xlog1py(_Binary):
    fn = staticmethod(lambda xp, a, b: _xlogy_array(xp, a, b, xp.log1p))

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (where((a == 0) & (b <= -1), 0.0, xlog1py(g, b)) if na else None, g * a / (b + 1) if nb else None)


@register
class Logaddexp(_Binary):
    fn = staticmethod(lambda xp, a, b: xp.logaddexp(a, b))

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (g / (exp(b - a) + 1) if na else None, g / (exp(a - b) + 1) if nb else None)


@register
class Logaddexp2(_Binary):
    fn = staticmethod(lambda xp, a, b: xp.logaddexp2(a, b))

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (g / (exp2(b - a) + 1) if na else None, g / (exp2(a - b) + 1) if nb else None)


# --- operands -----------------------------------------------------------------------------------------------------

def _wrap_like(x, t):
    """A number as a 0-d tensor of t's dtype, on t's device."""
    if isinstance(x, Tensor):
        return x
    return Tensor._wrap(get_array_module(t._data).asarray(x, dtype=t._data.dtype))


def _operands(input, other, op, to_float=True):
    """Two tensors of PyTorch's promoted dtype (integers to the default float dtype when to_float)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise not_tensor(input, op, pos=1)
    a, b = promote(input, other, op)
    a, b = _wrap_like(a, b), _wrap_like(b, a)
    if to_float:
        a, b = as_float(a), as_float(b)
    return a, b


def _float_input(input, op):
    if not isinstance(input, Tensor):
        raise not_tensor(input, op, pos=1)
    return as_float(input)


# --- the public functions: unary ----------------------------------------------------------------------------------

acosh = _unary_op(Acosh, "acosh", aliases=("arccosh",))
asinh = _unary_op(Asinh, "asinh", aliases=("arcsinh",))
atanh = _unary_op(Atanh, "atanh", aliases=("arctanh",))
lgamma = _unary_op(Lgamma, "lgamma")
digamma = _unary_op(Digamma, "digamma")
erfinv = _unary_op(Erfinv, "erfinv")
i0 = _unary_op(I0, "i0")
sinc = _unary_op(Sinc, "sinc")
sgn = _unary_op(Sign, "sgn", "any")
@export(Polygamma)
def polygamma(n, input):
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise RuntimeError(f"polygamma: n must be a non-negative integer, got {n!r}")
    return apply(Polygamma(n), _float_input(input, "polygamma"))


@export(Polygamma, ember=False, methods=("polygamma",))
def polygamma_method(self, n):
    return polygamma(n, self)


@export(Logit, methods=("logit",))
def logit(input, eps=None):
    return apply(Logit(None if eps is None else float(eps)), _float_input(input, "logit"))


@export(methods=("mvlgamma",))
def mvlgamma(input, p):
    input = _float_input(input, "mvlgamma")
    if not isinstance(p, int) or p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1, got {p!r}")
    if bool((input._data <= (p - 1) / 2).any()):
        raise RuntimeError(f"mvlgamma: All elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    out = lgamma(input) + p * (p - 1) / 4 * math.log(math.pi)
    for j in range(1, p):
        out = out + lgamma(input - j / 2)
    return out


def _special_unary(node_cls, name):
    def op(input):
        return apply(node_cls(), _float_input(input, name))
    op.__name__ = op.__qualname__ = name
    return op


erfcx = _special_unary(Erfcx, "erfcx")
ndtri = _special_unary(Ndtri, "ndtri")
log_ndtr = _special_unary(LogNdtr, "log_ndtr")
i0e = _special_unary(I0e, "i0e")
i1 = _special_unary(I1, "i1")
i1e = _special_unary(I1e, "i1e")
entr = _special_unary(Entr, "entr")


def ndtr(input):
    return erfc(_float_input(input, "ndtr") * -_SQRT1_2) * 0.5


@export(Xlogy, methods=("xlogy",))
def xlogy(input, other):
    a, b = _operands(input, other, "xlogy")
    return apply2(Xlogy(), a, b, "xlogy")


def xlog1py(input, other):
    a, b = _operands(input, other, "xlog1py")
    return apply2(Xlog1py(), a, b, "xlog1py")


def zeta(input, other):
    a, b = _operands(input, other, "zeta")
    return apply2(Zeta(), a, b, "zeta")


@export(Logaddexp, methods=("logaddexp",))
def logaddexp(input, other):
    a, b = _operands(input, other, "logaddexp")
    return apply2(Logaddexp(), a, b, "logaddexp")


@export(Logaddexp2, methods=("logaddexp2",))
def logaddexp2(input, other):
    a, b = _operands(input, other, "logaddexp2")
    return apply2(Logaddexp2(), a, b, "logaddexp2")


def _integers(input, other, op):
    a, b = _operands(input, other, op, to_float=False)
    if a._data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected integer tensors, got {a.dtype}")
    return a, b


@export(Gcd, methods=("gcd",))
def gcd(input, other):
    return apply2(Gcd(), *_integers(input, other, "gcd"), "gcd")


@export(Lcm, methods=("lcm",))
def lcm(input, other):
    return apply2(Lcm(), *_integers(input, other, "lcm"), "lcm")


@export(Nextafter, methods=("nextafter",))
def nextafter(input, other):
    a, b = _operands(input, other, "nextafter", to_float=False)
    if a._data.dtype.kind not in FLOAT_KINDS:
        raise RuntimeError(f"nextafter: expected floating-point tensors, got {a.dtype}")
    return apply2(Nextafter(), a, b, "nextafter")


@export(Signbit, methods=("signbit",))
def signbit(input):
    check_tensor(input, "signbit", pos=1)
    return apply(Signbit(), input)


@export(methods=("copysign",))
def copysign(input, other):
    a, b = _operands(input, other, "copysign")
    magnitude = _abs(a)
    return where(signbit(b), -magnitude, magnitude)


@export(methods=("heaviside",))
def heaviside(input, values):
    a, b = _operands(input, values, "heaviside", to_float=False)
    step = gt(a, 0).to(a.dtype)
    return where(a == 0, b, step)


@export(methods=("float_power",))
def float_power(input, exponent):
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise not_tensor(input, "float_power", pos=1)
    a, b = (to_copy(x, dtype=_dt.float64) if isinstance(x, Tensor) else float(x) for x in (input, exponent))
    return _pow(a, b)


@export(methods=("ldexp",))
def ldexp(input, other):
    check_tensor(input, "ldexp", pos=1)
    return input * _pow(2.0, other)


Frexp = namedtuple("frexp", ["mantissa", "exponent"])


@export(FrexpMantissa, FrexpExponent, methods=("frexp",))
def frexp(input):
    check_tensor(input, "frexp", pos=1)
    if input._data.dtype.kind not in FLOAT_KINDS:
        raise RuntimeError(f"frexp: only supports floating-point dtypes, got {input.dtype}")
    return Frexp(apply(FrexpMantissa(), input), apply(FrexpExponent(), input))


@export(methods=("deg2rad",))
def deg2rad(input):
    return _float_input(input, "deg2rad") * (math.pi / 180)


@export(methods=("rad2deg",))
def rad2deg(input):
    return _float_input(input, "rad2deg") * (180 / math.pi)


for _name, _fn in (("greater", gt), ("greater_equal", ge), ("less", lt), ("less_equal", le), ("not_equal", ne)):
    export(ember=(_name,))(_fn)


# --- in-place forms (Tensor methods) -----------------------------------------------------------------------------

def _inplace_method(fn, name, nodes=(), aliases=(), check=None):
    def method(self, *args, **kwargs):
        if check is not None:
            check(self)
        return inplace(self, name, lambda s: fn(s, *args, **kwargs))

    method.__name__ = method.__qualname__ = name
    return export(*nodes, ember=False, methods=(name,) + aliases)(method)


def _needs_float64(self):
    if self._data.dtype != np.float64:
        raise RuntimeError(f"float_power_: the base given to float_power_ has dtype {self.dtype.name.capitalize()} "
                           "but the operation's result requires dtype Double")


_INPLACE = {}  # name -> (method, arguments, example input, example call arguments, printed result)
for _fn, _nodes, _aliases, _arguments, _example, _call, _result in (
        (acosh, (Acosh,), ("arccosh_",), "none", "[1.0]", "", "tensor([0.])"),
        (asinh, (Asinh,), ("arcsinh_",), "none", "[0.0]", "", "tensor([0.])"),
        (atanh, (Atanh,), ("arctanh_",), "none", "[0.0]", "", "tensor([0.])"),
        (lgamma, (Lgamma,), (), "none", "[1.0, 3.0]", "", "tensor([0.0000, 0.6931])"),
        (digamma, (Digamma,), (), "none", "[1.0]", "", "tensor([-0.5772])"),
        (erfinv, (Erfinv,), (), "none", "[0.0, 0.5]", "", "tensor([0.0000, 0.4769])"),
        (i0, (I0,), (), "none", "[0.0, 1.0]", "", "tensor([1.0000, 1.2661])"),
        (sinc, (Sinc,), (), "none", "[0.0, 0.5]", "", "tensor([1.0000, 0.6366])"),
        (sgn, (Sign,), (), "none", "[-2.0, 0.0]", "", "tensor([-1.,  0.])"),
        (logit, (Logit,), (), "``eps`` (float, optional)", "[0.5]", "", "tensor([0.])"),
        (polygamma_method, (Polygamma,), (), "``n`` (int)", "[1.0]", "1", "tensor([1.6449])"),
        (mvlgamma, (), (), "``p`` (int)", "[2.5]", "2", "tensor([0.8570])"),
        (xlogy, (Xlogy,), (), "``other`` (Tensor or number)", "[0.0, 2.0]", "ember.tensor([0.0, 2.0])",
         "tensor([0.0000, 1.3863])"),
        (copysign, (), (), "``other`` (Tensor or number)", "[1.0, 2.0]", "-1.0", "tensor([-1., -2.])"),
        (heaviside, (), (), "``values`` (Tensor or number)", "[-1.0, 0.0, 2.0]", "0.5",
         "tensor([0.0000, 0.5000, 1.0000])"),
        (float_power, (), (), "``exponent`` (Tensor or number)", "[2.0, 3.0], dtype=ember.float64", "2",
         "tensor([4., 9.], dtype=ember.float64)"),
        (ldexp, (), (), "``other`` (Tensor or number)", "[1.0, 3.0]", "ember.tensor([2, 3])", "tensor([ 4., 24.])"),
        (nextafter, (Nextafter,), (), "``other`` (Tensor or number)", "[1.0]", "2.0", "tensor([1.0000])"),
        (gcd, (Gcd,), (), "``other`` (Tensor or number)", "[4, 6]", "ember.tensor([6, 9])", "tensor([2, 3])"),
        (lcm, (Lcm,), (), "``other`` (Tensor or number)", "[4, 6]", "ember.tensor([6, 9])", "tensor([12, 18])"),
        (deg2rad, (), (), "none", "[180.0]", "", "tensor([3.1416])"),
        (rad2deg, (), (), "none", "[3.141592653589793]", "", "tensor([180.])")):
    _name = ("polygamma" if _fn is polygamma_method else _fn.__name__) + "_"
    _m = _inplace_method(_fn, _name, _nodes, _aliases, _needs_float64 if _fn is float_power else None)
    _call_doc = f"({_call})"
    _m.__doc__ = f"""Write ``self.{_name[:-1]}{'(...)' if _call else '()'}`` into self (in place) and return self.

    Args:
        *args, **kwargs: the further arguments of ``Tensor.{_name[:-1]}``: {_arguments}.

    Returns:
        Tensor: self, modified (its version counter advanced; a result dtype that self cannot hold raises).

    PyTorch:
        ``Tensor.{_name}``{''.join(f', ``Tensor.{a}``' for a in _aliases)}; same semantics.

    Example:
        >>> x = ember.tensor({_example})
        >>> x.{_name}{_call_doc}
        {_result}
    """
    _INPLACE[_name] = _m


# --- docstrings ------------------------------------------------------------------------------------------------

_UNARY_DOCS = (  # (function, summary, example input, printed result[, PyTorch note[, aliases]])
    (acosh, "The inverse hyperbolic cosine of each element (NaN below 1).", "[1.0, 2.0]", "tensor([0.0000, 1.3170])",
     "same semantics (no ``out=`` argument)", ("arccosh",)),
    (asinh, "The inverse hyperbolic sine of each element.", "[0.0, 1.0]", "tensor([0.0000, 0.8814])",
     "same semantics (no ``out=`` argument)", ("arcsinh",)),
    (atanh, "The inverse hyperbolic tangent of each element (+-inf at +-1, NaN outside [-1, 1]).", "[0.0, 0.5]",
     "tensor([0.0000, 0.5493])", "same semantics (no ``out=`` argument)", ("arctanh",)),
    (lgamma, "The logarithm of the absolute value of the gamma function, log|Gamma(x)| (inf at 0 and the negative "
     "integers).", "[0.5, 1.0, 10.0]", "tensor([ 0.5724,  0.0000, 12.8018])",
     "and ``torch.special.gammaln``; same semantics (computed in float64 with NumPy; near its zeros 1 and 2 and "
     "below 0 the error is absolute, a few 1e-16)"),
    (digamma, "The digamma function, the derivative of lgamma (-inf at +0, NaN at the negative integers).",
     "[1.0, 0.5]", "tensor([-0.5772, -1.9635])",
     "and ``torch.special.digamma``/``psi``; same semantics (computed in float64 with NumPy)"),
    (erfinv, "The inverse error function of each element (+-inf at +-1, NaN outside [-1, 1]).", "[0.0, 0.5, -1.0]",
     "tensor([0.0000, 0.4769,   -inf])", "and ``torch.special.erfinv``; same semantics (computed in float64)"),
    (i0, "The modified Bessel function of the first kind of order 0, I0(x).", "[0.0, 1.0, 2.0]",
     "tensor([1.0000, 1.2661, 2.2796])",
     "and ``torch.special.i0``; same semantics, except that i0(+-inf) is inf (PyTorch gives NaN; computed in float64)"),
    (sinc, "The normalized sinc function sin(pi x) / (pi x) of each element (1 at 0).", "[0.0, 0.5, 1.0]",
     "tensor([ 1.0000e+00,  6.3662e-01, -2.7828e-08])", "and ``torch.special.sinc``; same semantics"),
)
for _fn, _summary, _example, _result, *_more in _UNARY_DOCS:
    _fn.__doc__ = _unary_doc(_fn.__name__, "float", _summary, _example, _result, *_more)
sgn.__doc__ = _unary_doc("sgn", "any", "The sign of each element, -1, 0 or 1 (for real tensors, ``sign``).",
                         "[-2.0, 0.0, 3.0]", "tensor([-1.,  0.,  1.])")

_INPUT = "input (Tensor): the input tensor."
_FLOAT = "Tensor: of input's shape; floating-point (integer and bool inputs give the default float dtype)."
_BROADCAST = "Tensor: of the broadcast shape and the promoted dtype (integers give the default float dtype)."
_TWO = ("input (Tensor or number): the first operand.", "other (Tensor or number): the second operand.")
_NO_OUT = "same semantics (no ``out=`` argument)"


def _doc(fn, summary, args, returns, pytorch, example, result):
    arg_lines = "\n        ".join(args)
    fn.__doc__ = f"""{summary}

    Args:
        {arg_lines}

    Returns:
        {returns}

    PyTorch:
        {pytorch}

    Example:
        >>> {example}
        {result}
    """


_doc(polygamma, "The n-th derivative of the digamma function, psi^(n)(x) (digamma itself for n = 0).",
     ("n (int): the order of the derivative, 0 or more.", _INPUT), _FLOAT,
     f"``torch.polygamma`` and ``torch.special.polygamma``; {_NO_OUT}. Computed in float64 (Hurwitz zeta); for n = 1 "
     "it is more accurate than PyTorch's trigamma (which is good to about 1e-9).",
     "ember.polygamma(1, ember.tensor([1.0, 2.0]))", "tensor([1.6449, 0.6449])")
_doc(polygamma_method, "``ember.polygamma(n, self)``.", ("n (int): the order of the derivative, 0 or more.",),
     _FLOAT, "``Tensor.polygamma``; same semantics.", "ember.tensor([1.0]).polygamma(1)", "tensor([1.6449])")
_doc(logit, "The log-odds log(p / (1 - p)) of each element, p first clamped to [eps, 1 - eps] when eps is given.",
     (_INPUT, "eps (float, optional): the clamp; none when None. Default: None."), _FLOAT,
     f"``torch.logit``, ``Tensor.logit`` and ``torch.special.logit``; {_NO_OUT}. The gradient is 0 where input is "
     "outside [eps, 1 - eps].", "ember.logit(ember.tensor([0.5, 0.75, 0.0]), eps=1e-6)",
     "tensor([  0.0000,   1.0986, -13.8155])")
_doc(mvlgamma, "The multivariate log-gamma function of dimension p: log(pi) p (p - 1) / 4 + sum_j lgamma(x - j / 2).",
     (_INPUT + " Every element must be greater than (p - 1) / 2.", "p (int): the dimension, 1 or more."), _FLOAT,
     f"``torch.mvlgamma``, ``Tensor.mvlgamma`` and ``torch.special.multigammaln``; {_NO_OUT}.",
     "ember.mvlgamma(ember.tensor([2.5, 3.0]), p=2)", "tensor([0.8570, 1.5502])")
_doc(xlogy, "input * log(other), 0 where input is 0 (unless other is NaN).", _TWO, _BROADCAST,
     f"``torch.xlogy``, ``Tensor.xlogy`` and ``torch.special.xlogy``; {_NO_OUT}.",
     "ember.xlogy(ember.tensor([0.0, 2.0]), ember.tensor([0.0, 3.0]))", "tensor([0.0000, 2.1972])")
_doc(logaddexp, "log(exp(input) + exp(other)), computed without overflow.", _TWO, _BROADCAST,
     f"``torch.logaddexp`` and ``Tensor.logaddexp``; {_NO_OUT}.",
     "ember.logaddexp(ember.tensor([0.0, 800.0]), ember.tensor([0.0, 800.0]))", "tensor([6.9315e-01, 8.0069e+02])")
_doc(logaddexp2, "log2(2^input + 2^other), computed without overflow.", _TWO, _BROADCAST,
     f"``torch.logaddexp2`` and ``Tensor.logaddexp2``; {_NO_OUT}.",
     "ember.logaddexp2(ember.tensor([1.0, 3.0]), ember.tensor([1.0, 3.0]))", "tensor([2., 4.])")
_doc(gcd, "The greatest common divisor of each pair of elements (non-negative; gcd(0, 0) = 0).", _TWO,
     "Tensor: of the broadcast shape and the promoted (integer) dtype.",
     f"``torch.gcd`` and ``Tensor.gcd``; {_NO_OUT}. Float operands raise.",
     "ember.gcd(ember.tensor([4, -6, 0]), ember.tensor([6, 9, 5]))", "tensor([2, 3, 5])")
_doc(lcm, "The least common multiple of each pair of elements (non-negative).", _TWO,
     "Tensor: of the broadcast shape and the promoted (integer) dtype.",
     f"``torch.lcm`` and ``Tensor.lcm``; {_NO_OUT}. Float operands raise.",
     "ember.lcm(ember.tensor([4, 6]), ember.tensor([6, 9]))", "tensor([12, 18])")
_doc(nextafter, "The next floating-point value after input in the direction of other, elementwise.", _TWO,
     "Tensor: of the broadcast shape and the promoted (floating-point) dtype.",
     "``torch.nextafter`` and ``Tensor.nextafter``; same semantics, except that other may be a number.",
     "ember.nextafter(ember.tensor([1.0], dtype=ember.float64), 2.0) - 1", "tensor([2.2204e-16], dtype=ember.float64)")
_doc(signbit, "True where the sign bit of an element is set (negative numbers, -0.0 and -nan).", (_INPUT,),
     "Tensor: bool, of input's shape.", f"``torch.signbit`` and ``Tensor.signbit``; {_NO_OUT}.",
     "ember.signbit(ember.tensor([-1.0, -0.0, 0.0, 2.0]))", "tensor([ True,  True, False, False])")
_doc(copysign, "The magnitude of input with the sign of other, elementwise.", _TWO, _BROADCAST,
     f"``torch.copysign`` and ``Tensor.copysign``; {_NO_OUT}.",
     "ember.copysign(ember.tensor([1.0, -2.0, 3.0]), ember.tensor([-1.0, 1.0, -0.0]))", "tensor([-1.,  2., -3.])")
_doc(heaviside, "The Heaviside step: 0 where input < 0, values where input == 0, 1 where input > 0 (0 for NaN).",
     ("input (Tensor): the input tensor.", "values (Tensor or number): the values where input is 0."),
     "Tensor: of the broadcast shape and the promoted dtype.",
     "``torch.heaviside`` and ``Tensor.heaviside``; same semantics, except that values may be a number and the "
     "dtypes may differ (they promote).", "ember.heaviside(ember.tensor([-1.5, 0.0, 2.0]), ember.tensor([0.5]))",
     "tensor([0.0000, 0.5000, 1.0000])")
_doc(float_power, "input raised to the power exponent, in float64.",
     ("input (Tensor or number): the base.", "exponent (Tensor or number): the exponent."),
     "Tensor: float64, of the broadcast shape.", f"``torch.float_power`` and ``Tensor.float_power``; {_NO_OUT}.",
     "ember.float_power(ember.tensor([2, 3]), 2)", "tensor([4., 9.], dtype=ember.float64)")
_doc(ldexp, "input * 2^other, elementwise.", ("input (Tensor): the mantissas.", "other (Tensor or number): the "
     "exponents."), _BROADCAST, f"``torch.ldexp`` and ``Tensor.ldexp``; {_NO_OUT}.",
     "ember.ldexp(ember.tensor([1.0, 0.75]), ember.tensor([3, 2]))", "tensor([8., 3.])")
_doc(frexp, "Split each element into a mantissa in [0.5, 1) (in magnitude) and an integer power of two.", (_INPUT
     + " Floating-point.",), "frexp: the named tuple (mantissa, exponent) with input = mantissa * 2^exponent; "
     "mantissa of input's dtype, exponent int32.", f"``torch.frexp`` and ``Tensor.frexp``; {_NO_OUT}.",
     "ember.frexp(ember.tensor([8.0, -0.75, 0.0]))",
     "frexp(mantissa=tensor([ 0.5000, -0.7500,  0.0000]), exponent=tensor([4, 0, 0], dtype=ember.int32))")
_doc(deg2rad, "Each element converted from degrees to radians.", (_INPUT,), _FLOAT,
     f"``torch.deg2rad`` and ``Tensor.deg2rad``; {_NO_OUT}.", "ember.deg2rad(ember.tensor([180, 90]))",
     "tensor([3.1416, 1.5708])")
_doc(rad2deg, "Each element converted from radians to degrees.", (_INPUT,), _FLOAT,
     f"``torch.rad2deg`` and ``Tensor.rad2deg``; {_NO_OUT}.", "ember.rad2deg(ember.tensor([np.pi, 1.0]))",
     "tensor([180.0000,  57.2958])")
_doc(erfcx, "The scaled complementary error function exp(x^2) erfc(x), accurate where erfc underflows.", (_INPUT,),
     _FLOAT, f"``torch.special.erfcx``; {_NO_OUT}.", "ember.special.erfcx(ember.tensor([0.0, 1.0, 30.0]))",
     "tensor([1.0000, 0.4276, 0.0188])")
_doc(ndtr, "The standard normal cumulative distribution function of each element.", (_INPUT,), _FLOAT,
     f"``torch.special.ndtr``; {_NO_OUT}.", "ember.special.ndtr(ember.tensor([0.0, 1.0, -3.0]))",
     "tensor([0.5000, 0.8413, 0.0013])")
_doc(ndtri, "The inverse of the standard normal cumulative distribution function (-inf at 0, inf at 1).",
     (_INPUT + " Probabilities in [0, 1] (NaN outside).",), _FLOAT, f"``torch.special.ndtri``; {_NO_OUT}.",
     "ember.special.ndtri(ember.tensor([0.5, 0.975, 0.0]))", "tensor([0.0000, 1.9600,   -inf])")
_doc(log_ndtr, "The logarithm of the standard normal cumulative distribution function, accurate in both tails.",
     (_INPUT,), _FLOAT, f"``torch.special.log_ndtr``; {_NO_OUT}.",
     "ember.special.log_ndtr(ember.tensor([0.0, -40.0]))", "tensor([-6.9315e-01, -8.0461e+02])")
_doc(i0e, "The exponentially scaled modified Bessel function of order 0, exp(-|x|) I0(x).", (_INPUT,), _FLOAT,
     f"``torch.special.i0e``; {_NO_OUT}.", "ember.special.i0e(ember.tensor([0.0, 1.0, 100.0]))",
     "tensor([1.0000, 0.4658, 0.0399])")
_doc(i1, "The modified Bessel function of the first kind of order 1, I1(x).", (_INPUT,), _FLOAT,
     f"``torch.special.i1``; {_NO_OUT}, except that i1(+-inf) is +-inf (PyTorch gives NaN).",
     "ember.special.i1(ember.tensor([0.0, 1.0, -2.0]))",
     "tensor([ 0.0000,  0.5652, -1.5906])")
_doc(i1e, "The exponentially scaled modified Bessel function of order 1, exp(-|x|) I1(x).", (_INPUT,), _FLOAT,
     f"``torch.special.i1e``; {_NO_OUT}.", "ember.special.i1e(ember.tensor([0.0, 1.0, 100.0]))",
     "tensor([0.0000, 0.2079, 0.0397])")
_doc(entr, "The elementwise entropy term -x log(x) (0 at 0, -inf below 0).", (_INPUT,), _FLOAT,
     f"``torch.special.entr``; {_NO_OUT}.", "ember.special.entr(ember.tensor([0.0, 0.5, 1.0, -1.0]))",
     "tensor([0.0000, 0.3466, -0.0000,   -inf])")
_doc(xlog1py, "input * log1p(other), 0 where input is 0 (unless other is NaN).", _TWO, _BROADCAST,
     f"``torch.special.xlog1py``; {_NO_OUT}.",
     "ember.special.xlog1py(ember.tensor([0.0, 2.0]), ember.tensor([-1.0, 1e-10]))", "tensor([0.0000e+00, 2.0000e-10])")
_doc(zeta, "The Hurwitz zeta function sum over k >= 0 of (other + k)^-input (no gradient).",
     ("input (Tensor or number): the exponent s (above 1; inf at 1, NaN below).",
      "other (Tensor or number): the shift q (q <= 0 needs an integer s; slow for large negative q)."), _BROADCAST,
     f"``torch.special.zeta``; {_NO_OUT}.", "ember.special.zeta(ember.tensor([2.0, 4.0]), 1.0)",
     "tensor([1.6449, 1.0823])")
