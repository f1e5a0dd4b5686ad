"""ember.special and the elementwise math beside it (acosh, lgamma, xlogy, logaddexp, gcd, frexp, ...): values over
wide grids, gradients and dtypes against PyTorch, gradcheck in float64, the in-place methods, the errors, and the
docstrings of ember.special (which no reference page lists yet)."""
import doctest
import math
import pathlib
import sys

import numpy as np
import pytest

import ember
import ember.special as S
from ember.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "docs" / "_ext"))
from ember_names import docstring_problems  # noqa: E402

RNG = np.random.default_rng(0)
INF, NAN = math.inf, math.nan
WIDE = np.concatenate([RNG.uniform(-30, 30, 400), 10 ** RNG.uniform(-8, 2.5, 200), -(10 ** RNG.uniform(-8, 2, 100)),
                       [0.0, -0.0, 0.5, 1.0, 2.0, 1 + 1e-9, 2 - 1e-9, -0.5, -1.5, 25.0, 1e5, INF, -INF, NAN]])
UNIT = np.concatenate([RNG.uniform(-1, 1, 400), 1 - 10 ** RNG.uniform(-15, 0, 100), -1 + 10 ** RNG.uniform(-15, 0, 50),
                       10 ** RNG.uniform(-300, -1, 50), [0.0, 1.0, -1.0, 1.5, -2.0, NAN]])
PROB = np.concatenate([RNG.uniform(0, 1, 400), 10 ** RNG.uniform(-300, -1, 100), 1 - 10 ** RNG.uniform(-15, -1, 50),
                       [0.0, 1.0, 0.5, -0.1, 1.1, NAN]])
FINITE = WIDE[~np.isinf(WIDE)]
NO_POLES = WIDE[(WIDE > 0) | (WIDE != np.round(WIDE)) | np.isnan(WIDE)]

# (ember function, torch function, grid, float64 (rtol, atol), float32 (rtol, atol))
UNARY = [
    (ember.acosh, torch.acosh, np.abs(WIDE) + 1, (1e-14, 0), (1e-6, 1e-6)),
    (ember.asinh, torch.asinh, WIDE, (1e-14, 0), (1e-6, 1e-6)),
    (ember.atanh, torch.atanh, UNIT, (1e-14, 0), (1e-6, 1e-6)),
    (ember.lgamma, torch.lgamma, WIDE, (1e-13, 1e-15), (1e-5, 1e-5)),
    (ember.digamma, torch.digamma, NO_POLES, (1e-13, 1e-14), (1e-5, 1e-5)),
    (S.psi, torch.special.psi, NO_POLES, (1e-13, 1e-14), (1e-5, 1e-5)),
    (ember.erfinv, torch.erfinv, UNIT, (1e-14, 0), (1e-6, 1e-6)),
    (S.erfcx, torch.special.erfcx, WIDE, (1e-12, 0), (1e-5, 0)),
    (S.ndtr, torch.special.ndtr, WIDE, (1e-14, 1e-16), (1e-6, 1e-7)),  # PyTorch underflows early
    (S.ndtri, torch.special.ndtri, PROB, (1e-14, 0), (1e-5, 1e-6)),
    (S.log_ndtr, torch.special.log_ndtr, WIDE, (1e-14, 1e-300), (1e-5, 1e-30)),
    (ember.i0, torch.i0, FINITE, (1e-14, 0), (1e-6, 0)),  # PyTorch: i0(inf) = nan
    (S.i0e, torch.special.i0e, WIDE, (1e-14, 0), (1e-6, 0)),
    (S.i1, torch.special.i1, FINITE, (1e-14, 0), (1e-6, 0)),
    (S.i1e, torch.special.i1e, WIDE, (1e-14, 0), (1e-6, 0)),
    (ember.sinc, torch.sinc, WIDE, (1e-14, 1e-16), (1e-5, 1e-6)),
    (S.entr, torch.special.entr, WIDE, (1e-14, 0), (1e-6, 0)),
    (S.expit, torch.special.expit, WIDE, (1e-14, 0), (1e-6, 0)),
    (S.gammaln, torch.special.gammaln, WIDE, (1e-13, 1e-15), (1e-5, 1e-5)),
    (ember.logit, torch.logit, PROB, (1e-14, 0), (1e-6, 1e-6)),
    (ember.deg2rad, torch.deg2rad, WIDE, (1e-15, 0), (1e-6, 0)),
    (ember.rad2deg, torch.rad2deg, WIDE, (1e-15, 0), (1e-6, 0)),
    (ember.sgn, torch.sgn, WIDE, (0, 0), (0, 0)),
    (ember.signbit, torch.signbit, WIDE, (0, 0), (0, 0)),
    (ember.arccos, torch.arccos, UNIT, (1e-15, 0), (1e-6, 0)),
    (ember.fix, torch.fix, WIDE, (0, 0), (0, 0)),
]
IDS = [f"{e.__name__}" for e, *_ in UNARY]


def _compare(ours, theirs, rtol, atol):
    theirs = theirs.numpy()
    assert ours.dtype.name == str(theirs.dtype).replace("bool", "bool"), (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("fn, ref, grid, tol64, tol32", UNARY, ids=IDS)
def test_values_match_pytorch_in_float64_and_float32(fn, ref, grid, tol64, tol32):
    for dtype, tol in (("float64", tol64), ("float32", tol32)):
        x = grid.astype(dtype)
        with np.errstate(all="ignore"):
            _compare(fn(ember.tensor(x)), ref(torch.tensor(x)), *tol)


def test_accuracy_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    x = np.concatenate([RNG.uniform(-20, 20, 60), 10 ** RNG.uniform(-5, 2, 30)])
    x = x[x != np.round(x)]
    checks = [(ember.lgamma, lambda v: mpmath.log(abs(mpmath.gamma(v))), x, 1e-13),
              (lambda t: ember.polygamma(1, t), lambda v: mpmath.polygamma(1, v), x, 1e-13),
              (lambda t: ember.polygamma(3, t), lambda v: mpmath.polygamma(3, v), x, 1e-13),
              (ember.erfinv, mpmath.erfinv, UNIT[np.abs(UNIT) < 1], 1e-14),
              (S.i1, lambda v: mpmath.besseli(1, v), x, 1e-14),
              (lambda t: S.zeta(t, 2.5), lambda v: mpmath.zeta(v, 2.5), np.abs(x) + 1.1, 1e-14)]
    for fn, ref, grid, rtol in checks:
        ours = fn(ember.tensor(grid)).numpy()
        np.testing.assert_allclose(ours, [float(ref(mpmath.mpf(float(v)))) for v in grid], rtol=rtol, atol=1e-15)


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_polygamma_matches_pytorch(n):
    x = NO_POLES[np.abs(NO_POLES) < 40]
    rtol = 1e-8 if n == 1 else 1e-12  # PyTorch's trigamma is good to about 1e-9
    _compare(ember.polygamma(n, ember.tensor(x)), torch.polygamma(n, torch.tensor(x)), rtol, 1e-13)
    _compare(ember.tensor(x).polygamma(n), torch.tensor(x).polygamma(n), rtol, 1e-13)


def test_mvlgamma_and_zeta_match_pytorch():
    x = RNG.uniform(2.0, 30.0, 50)
    for p in (1, 2, 5):
        _compare(ember.mvlgamma(ember.tensor(x), p), torch.mvlgamma(torch.tensor(x), p), 1e-13, 0)
    s, q = RNG.uniform(1.0, 20.0, 50), RNG.uniform(-5.5, 40.0, 50)
    s[:5], q[5:10] = 1.0, np.array([-1.0, -2.0, 0.0, -3.5, -4.5])
    s[7:10] = np.round(s[7:10])
    _compare(S.zeta(ember.tensor(s), ember.tensor(q)), torch.special.zeta(torch.tensor(s), torch.tensor(q)), 1e-13, 0)


BINARY_GRID = (np.concatenate([RNG.uniform(-5, 5, 200), [0.0, 0.0, -0.0, 1.0, INF, -INF, NAN, 2.0]]),
               np.concatenate([RNG.uniform(-5, 5, 200), [0.0, -1.0, 2.0, -0.0, INF, -INF, 1.0, NAN]]))


@pytest.mark.parametrize("name", ["xlogy", "xlog1py", "logaddexp", "logaddexp2", "copysign", "nextafter",
                                  "heaviside", "float_power", "arctan2"])
def test_binary_values_match_pytorch(name):
    fn = getattr(S, name, None) or getattr(ember, name)
    ref = getattr(torch.special, name, None) or getattr(torch, name)
    a, b = BINARY_GRID
    if name == "float_power":
        a = np.abs(a)
    for dtype in ("float64", "float32"):
        with np.errstate(all="ignore"):
            ours = fn(ember.tensor(a.astype(dtype)), ember.tensor(b.astype(dtype)))
        _compare(ours, ref(torch.tensor(a.astype(dtype)), torch.tensor(b.astype(dtype))),
                 1e-13 if dtype == "float64" or name == "float_power" else 1e-6,
                 0 if dtype == "float64" else 1e-6)


def test_integer_functions_match_pytorch():
    a, b = RNG.integers(-50, 50, 100), RNG.integers(-50, 50, 100)
    for fn in ("gcd", "lcm"):
        _compare(getattr(ember, fn)(ember.tensor(a), ember.tensor(b)), getattr(torch, fn)(torch.tensor(a),
                                                                                        torch.tensor(b)), 0, 0)
    x = np.concatenate([RNG.uniform(-1e5, 1e5, 50), [0.0, -0.0, 5e-324, 1e300, 0.75]])
    m, e = ember.frexp(ember.tensor(x))
    tm, te = torch.frexp(torch.tensor(x))
    _compare(m, tm, 0, 0)
    _compare(e, te, 0, 0)
    _compare(ember.ldexp(ember.tensor(x), ember.tensor(b[:55])), torch.ldexp(torch.tensor(x), torch.tensor(b[:55])),
             1e-15, 0)


# --- dtypes --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["acosh", "asinh", "lgamma", "digamma", "erfinv", "i0", "sinc", "logit",
                                  "deg2rad", "rad2deg", "sgn", "signbit", "fix", "arcsinh"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float64"])
def test_unary_dtypes_match_pytorch(name, dtype):
    x = np.array([0, 1, 3], dtype=dtype)
    try:
        theirs = getattr(torch, name)(torch.tensor(x))
    except RuntimeError:
        return
    ours = getattr(ember, name)(ember.tensor(x))
    assert ours.dtype.name == str(theirs.dtype)[6:], (name, dtype)


@pytest.mark.parametrize("name", ["xlogy", "logaddexp", "logaddexp2", "copysign", "float_power", "ldexp", "gcd",
                                  "lcm", "heaviside", "arctan2", "nextafter"])
@pytest.mark.parametrize("dtypes", [("int64", "int64"), ("int32", "float64"), ("float32", "float64"),
                                    ("float32", "int64"), ("int64", "float"), ("float32", "int")])
def test_binary_dtypes_match_pytorch(name, dtypes):
    def make(lib, dt):
        if dt in ("float", "int"):
            return 2.0 if dt == "float" else 2
        return lib.tensor(np.array([1, 2, 3], dtype=dt))
    try:
        theirs = getattr(torch, name)(make(torch, dtypes[0]), make(torch, dtypes[1]))
    except (RuntimeError, TypeError):
        return
    ours = getattr(ember, name)(make(ember, dtypes[0]), make(ember, dtypes[1]))
    assert ours.dtype.name == str(theirs.dtype)[6:], (name, dtypes)
    np.testing.assert_allclose(ours.numpy().astype(float), theirs.double().numpy(), rtol=1e-6)


# --- gradients -----------------------------------------------------------------------------------------------------

GRADS = [  # (name, ember function, torch function, domain)
    ("acosh", ember.acosh, torch.acosh, (1.2, 4.0)), ("asinh", ember.asinh, torch.asinh, (-3.0, 3.0)),
    ("atanh", ember.atanh, torch.atanh, (-0.9, 0.9)), ("lgamma", ember.lgamma, torch.lgamma, (-3.9, 6.0)),
    ("digamma", ember.digamma, torch.digamma, (0.3, 6.0)), ("erfinv", ember.erfinv, torch.erfinv, (-0.95, 0.95)),
    ("erfcx", S.erfcx, torch.special.erfcx, (-3.0, 30.0)), ("ndtri", S.ndtri, torch.special.ndtri, (0.01, 0.99)),
    ("log_ndtr", S.log_ndtr, torch.special.log_ndtr, (-30.0, 5.0)), ("ndtr", S.ndtr, torch.special.ndtr, (-5, 5)),
    ("i0", ember.i0, torch.i0, (-30.0, 30.0)), ("i0e", S.i0e, torch.special.i0e, (-30.0, 30.0)),
    ("i1", S.i1, torch.special.i1, (-30.0, 30.0)), ("i1e", S.i1e, torch.special.i1e, (-30.0, 30.0)),
    ("sinc", ember.sinc, torch.sinc, (-3.0, 3.0)), ("entr", S.entr, torch.special.entr, (0.1, 3.0)),
    ("logit", ember.logit, torch.logit, (0.05, 0.95)),
    ("logit_eps", lambda t: ember.logit(t, 0.2), lambda t: torch.logit(t, 0.2), (0.05, 0.95)),
    ("polygamma2", lambda t: ember.polygamma(2, t), lambda t: torch.polygamma(2, t), (0.3, 5.0)),
    ("mvlgamma", lambda t: ember.mvlgamma(t, 3), lambda t: torch.mvlgamma(t, 3), (1.2, 5.0)),
    ("deg2rad", ember.deg2rad, torch.deg2rad, (-3.0, 3.0)),
]


@pytest.mark.parametrize("name, fn, ref, domain", GRADS, ids=[g[0] for g in GRADS])
def test_gradients_match_pytorch_and_gradcheck(name, fn, ref, domain):
    x = np.concatenate([RNG.uniform(*domain, 12), [0.0] if domain[0] < 0 < domain[1] else []])
    ex = ember.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    g = RNG.standard_normal(x.shape)
    fn(ex).backward(ember.tensor(g))
    ref(tx).backward(torch.tensor(g))
    rtol = 1e-8 if name in ("polygamma2", "digamma") else 1e-10  # PyTorch's trigamma is good to about 1e-9
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=rtol,
                               atol=1e-12)
    x = ember.tensor(x[:4] if name not in ("i1", "i1e") else np.array([0.3, -2.0, 27.0, 0.0]), requires_grad=True)
    assert gradcheck(fn, (x,))
    if name not in ("ndtr",):
        assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("name", ["xlogy", "xlog1py", "logaddexp", "logaddexp2", "copysign", "ldexp"])
def test_binary_gradients_match_pytorch_and_gradcheck(name):
    fn = getattr(S, name, None) or getattr(ember, name)
    ref = getattr(torch.special, name, None) or getattr(torch, name)
    a, b = RNG.uniform(-2, 2, (3, 4)), RNG.uniform(0.1, 3, (4,))
    a[0, 0] = 0.0
    ea, eb = ember.tensor(a, requires_grad=True), ember.tensor(b, requires_grad=name != "ldexp")
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=name != "ldexp")
    fn(ea, eb).sum().backward()
    ref(ta, tb).sum().backward()
    np.testing.assert_allclose(ea.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    if name not in ("ldexp", "copysign"):
        np.testing.assert_allclose(eb.grad.numpy(), tb.grad.numpy(), rtol=1e-12)
    ea, eb = ember.tensor(a[1:], requires_grad=True), ember.tensor(b, requires_grad=name not in ("ldexp", "copysign"))
    assert gradcheck(fn, (ea, eb)) and gradgradcheck(fn, (ea, eb))


def test_special_edge_gradients():
    x = ember.tensor([0.0, 0.0], requires_grad=True)
    S.i1(x).sum().backward()
    assert x.grad.tolist() == [0.5, 0.5]
    x = ember.tensor([0.0, 1.0], requires_grad=True)
    S.xlogy(x, ember.tensor([0.0, 0.0])).sum().backward()
    assert x.grad.tolist()[0] == 0.0  # 0 * log(0) has no slope in x, as in PyTorch


# --- in-place methods ----------------------------------------------------------------------------------------------

INPLACE = [("acosh_", (), (1.5, 3.0)), ("arccosh_", (), (1.5, 3.0)), ("asinh_", (), (-2, 2)),
           ("arcsinh_", (), (-2, 2)), ("atanh_", (), (-0.5, 0.5)), ("arctanh_", (), (-0.5, 0.5)),
           ("lgamma_", (), (0.5, 5)), ("digamma_", (), (0.5, 5)), ("erfinv_", (), (-0.9, 0.9)), ("i0_", (), (-3, 3)),
           ("sinc_", (), (-2, 2)), ("sgn_", (), (-2, 2)), ("logit_", (), (0.1, 0.9)), ("logit_", (0.2,), (0.1, 0.9)),
           ("polygamma_", (2,), (0.5, 3)), ("mvlgamma_", (2,), (1.0, 3)), ("xlogy_", (2.0,), (0, 2)),
           ("copysign_", (-1.0,), (-2, 2)), ("heaviside_", ("T",), (-2, 2)), ("ldexp_", ("T",), (-2, 2)),
           ("nextafter_", ("T",), (-2, 2)), ("deg2rad_", (), (-2, 2)), ("rad2deg_", (), (-2, 2)),
           ("fix_", (), (-2, 2)), ("arccos_", (), (-1, 1)), ("arcsin_", (), (-1, 1)), ("arctan_", (), (-1, 1)),
           ("arctan2_", ("T",), (-2, 2)), ("atan2_", ("T",), (-2, 2)), ("hypot_", ("T",), (-2, 2)),
           ("fmod_", (1.5,), (-2, 2)), ("remainder_", (1.5,), (-2, 2)), ("floor_divide_", (0.5,), (-2, 2)),
           ("multiply_", (3.0,), (-2, 2)), ("divide_", (3.0,), (-2, 2)), ("subtract_", (3.0,), (-2, 2)),
           ("true_divide_", (3.0,), (-2, 2)), ("negative_", (), (-2, 2)), ("absolute_", (), (-2, 2))] + [
          (f"{n}_", (), (0.1, 0.9)) for n in ("acos", "asin", "atan", "cos", "cosh", "sin", "sinh", "tan", "ceil",
                                              "trunc", "frac", "exp2", "expm1", "log10", "log1p", "log2", "rsqrt",
                                              "sign", "erf", "erfc", "reciprocal", "square", "nan_to_num")]


@pytest.mark.parametrize("name, args, domain", INPLACE, ids=[f"{n}{a}" for n, a, _ in INPLACE])
def test_inplace_methods_return_self_bump_the_version_and_match_pytorch(name, args, domain):
    x = RNG.uniform(*domain, 6)
    y = RNG.uniform(0.5, 2.0, 6)
    e, t = ember.tensor(x), torch.tensor(x)
    eargs = [ember.tensor(y) if a == "T" else a for a in args]
    targs = [torch.tensor(y) if a == "T" else a for a in args]
    version = e._version
    assert getattr(e, name)(*eargs) is e
    assert e._version > version
    getattr(t, name)(*targs)
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12, atol=1e-15)


def test_inplace_on_an_integer_tensor_or_a_narrower_float_raises():
    with pytest.raises(RuntimeError, match="lgamma_: result type Float32 can't be cast"):
        ember.tensor([1, 2]).lgamma_()
    with pytest.raises(RuntimeError, match="float_power_: the base given to float_power_ has dtype Float32"):
        ember.tensor([1.0, 2.0]).float_power_(2)
    x = ember.tensor([1.0, 2.0], dtype=ember.float64)
    assert x.float_power_(2) is x and x.tolist() == [1.0, 4.0]


def test_inplace_under_autograd():
    a = ember.tensor([0.3, 0.6], requires_grad=True)
    b = a * 1.0
    b.logit_()
    b.sum().backward()
    ta = torch.tensor([0.3, 0.6], requires_grad=True)
    tb = ta * 1.0
    tb.logit_()
    tb.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-6)


# --- errors ---------------------------------------------------------------------------------------------------------

def test_errors_name_the_op_and_the_problem():
    with pytest.raises(RuntimeError, match="gcd: expected integer tensors, got ember.float32"):
        ember.gcd(ember.tensor([1.0]), ember.tensor([2.0]))
    with pytest.raises(RuntimeError, match="nextafter: expected floating-point tensors, got ember.int64"):
        ember.nextafter(ember.tensor([1]), ember.tensor([2]))
    with pytest.raises(RuntimeError, match="frexp: only supports floating-point dtypes, got ember.int64"):
        ember.frexp(ember.tensor([1]))
    with pytest.raises(RuntimeError, match="polygamma: n must be a non-negative integer, got -1"):
        ember.polygamma(-1, ember.tensor([1.0]))
    with pytest.raises(RuntimeError, match=r"mvlgamma: All elements must be greater than \(p-1\)/2 = 1.0"):
        ember.mvlgamma(ember.tensor([1.0, 3.0]), p=3)
    with pytest.raises(TypeError, match=r"lgamma\(\): argument 'input' \(position 1\) must be Tensor, not list"):
        ember.lgamma([1.0])
    with pytest.raises(TypeError, match="must be Tensor"):
        S.xlogy(1.0, 2.0)
    with pytest.raises(RuntimeError, match="xlogy: The size of tensor a"):
        ember.xlogy(ember.ones(3), ember.ones(4))


# --- the namespace and its docstrings ------------------------------------------------------------------------------

def test_the_namespace_mirrors_torch_special():
    wanted = {"erf", "erfc", "erfcx", "erfinv", "expit", "logit", "exp2", "expm1", "log1p", "logsumexp", "softmax",
              "log_softmax", "round", "sinc", "xlogy", "xlog1py", "entr", "gammaln", "digamma", "psi", "polygamma",
              "multigammaln", "i0", "i0e", "i1", "i1e", "ndtr", "ndtri", "log_ndtr", "zeta"}
    assert wanted <= set(S.__all__) and all(hasattr(torch.special, n) for n in S.__all__)
    x = np.array([[0.5, -1.0, 2.0], [3.0, 0.0, 1.0]])
    _compare(S.softmax(ember.tensor(x), 1), torch.special.softmax(torch.tensor(x), 1), 1e-14, 0)
    _compare(S.log_softmax(ember.tensor(x), 0), torch.special.log_softmax(torch.tensor(x), 0), 1e-14, 0)
    _compare(S.logsumexp(ember.tensor(x), 1), torch.special.logsumexp(torch.tensor(x), 1), 1e-14, 0)
    _compare(S.round(ember.tensor(x)), torch.special.round(torch.tensor(x)), 0, 0)


@pytest.mark.parametrize("name", S.__all__)
def test_special_docstrings_follow_the_house_format_and_run(name):
    fn = getattr(S, name)
    assert not docstring_problems(fn), docstring_problems(fn)
    test = doctest.DocTestParser().get_doctest(fn.__doc__, {"ember": ember, "np": np}, name, None, 0)
    runner, report = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE), []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
