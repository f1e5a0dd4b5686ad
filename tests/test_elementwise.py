"""Elementwise ops: gradcheck (float64) of every differentiable op, PyTorch values and gradients, erf accuracy,
in-place ops and autograd, and error messages."""
import math
import operator
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from helpers import rand64


def _rand(*shape, low=-1.0, high=1.0, seed=0, requires_grad=True):
    return rand64(*shape, low=low, high=high, seed=seed, requires_grad=requires_grad)


def _torch(t, torch):
    return torch.tensor(np.array(t.detach().numpy()), requires_grad=t.requires_grad)


# --- unary ops ------------------------------------------------------------------------------------------------
# name -> (ember fn, torch fn name, low, high); domains keep away from kinks and singularities
UNARY = {
    "neg": (ember.neg, "neg", -1, 1),
    "abs": (ember.abs, "abs", 0.1, 1),  # and negative values below
    "exp": (ember.exp, "exp", -1, 1),
    "exp2": (ember.exp2, "exp2", -1, 1),
    "log": (ember.log, "log", 0.2, 2),
    "log2": (ember.log2, "log2", 0.2, 2),
    "log10": (ember.log10, "log10", 0.2, 2),
    "log1p": (ember.log1p, "log1p", -0.5, 2),
    "expm1": (ember.expm1, "expm1", -1, 1),
    "sqrt": (ember.sqrt, "sqrt", 0.2, 2),
    "rsqrt": (ember.rsqrt, "rsqrt", 0.2, 2),
    "reciprocal": (ember.reciprocal, "reciprocal", 0.3, 2),
    "square": (ember.square, "square", -1, 1),
    "sin": (ember.sin, "sin", -2, 2),
    "cos": (ember.cos, "cos", -2, 2),
    "tan": (ember.tan, "tan", -1, 1),
    "tanh": (ember.tanh, "tanh", -2, 2),
    "sigmoid": (ember.sigmoid, "sigmoid", -3, 3),
    "relu": (ember.relu, "relu", -1, 1),
    "erf": (ember.erf, "erf", -2, 2),
    "erfc": (ember.erfc, "erfc", -2, 2),
    "asin": (ember.asin, "asin", -0.8, 0.8),
    "acos": (ember.acos, "acos", -0.8, 0.8),
    "atan": (ember.atan, "atan", -2, 2),
    "sinh": (ember.sinh, "sinh", -1, 1),
    "cosh": (ember.cosh, "cosh", -1, 1),
    "floor": (ember.floor, "floor", -2, 2),
    "ceil": (ember.ceil, "ceil", -2, 2),
    "round": (ember.round, "round", -2, 2),
    "trunc": (ember.trunc, "trunc", -2, 2),
    "frac": (ember.frac, "frac", -2, 2),
    "sign": (ember.sign, "sign", -2, 2),
    "nan_to_num": (ember.nan_to_num, "nan_to_num", -2, 2),
}
# smooth ops whose second derivative is checked too
SMOOTH = ["exp", "exp2", "log", "log2", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal", "square", "sin", "cos", "tan",
          "tanh", "sigmoid", "erf", "erfc", "asin", "atan", "sinh", "cosh"]


def _unary_input(name, shape=(2, 3), seed=0):
    fn, _, lo, hi = UNARY[name]
    x = _rand(*shape, low=lo, high=hi, seed=seed)
    if name in ("relu", "abs", "floor", "ceil", "round", "trunc", "frac", "sign"):
        with ember.no_grad():  # both signs, away from 0 and from integers/half-integers
            x = _rand(*shape, low=0.1, high=0.4, seed=seed) * ember.tensor(np.resize([1.0, -1.0, 3.0], shape[-1]))
        x = x.detach().requires_grad_()
    return fn, x


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck(name):
    fn, x = _unary_input(name)
    assert gradcheck(fn, [x])


@pytest.mark.parametrize("name", SMOOTH)
def test_unary_gradgradcheck(name):
    fn, x = _unary_input(name, shape=(3,))
    assert gradgradcheck(fn, [x])


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch(name, torch):
    fn, x = _unary_input(name, shape=(3, 4), seed=1)
    out = fn(x)
    w = _rand(3, 4, seed=2, requires_grad=False)
    (out * w).sum().backward()
    tx = _torch(x, torch)
    tout = getattr(torch, UNARY[name][1])(tx)
    (tout * _torch(w, torch)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.filterwarnings("ignore:divide by zero")  # log(False), 1 / False
@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "tanh", "sigmoid", "erf", "erfc", "rsqrt", "relu",
                                  "abs", "neg", "floor", "round", "square", "sign", "reciprocal", "expm1"])
@pytest.mark.parametrize("dtype", ["float32", "float16", "int64", "int32", "bool"])
def test_unary_dtypes_match_torch(name, dtype, torch):
    vals = np.array([[0.5, 1.0, 2.0], [3.0, 0.25, 1.5]])
    if dtype == "bool":
        vals = vals > 1
    x = ember.tensor(vals).to(getattr(ember, dtype))
    tx = torch.tensor(vals).to(getattr(torch, dtype))
    try:
        ref = getattr(torch, UNARY[name][1])(tx)
    except (RuntimeError, NotImplementedError):
        pytest.skip(f"torch has no {name} for {dtype}")
    out = UNARY[name][0](x)
    assert out.dtype.name == str(ref.dtype).split(".")[1]
    tol = 1e-3 if dtype == "float16" else 1e-6
    np.testing.assert_allclose(np.asarray(out).astype(np.float64), ref.double().numpy(), rtol=tol, atol=tol)


def test_special_values_match_torch(torch):
    vals = [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, -2.5, 2.5, 0.5, -0.5, 1.5]
    x, tx = ember.tensor(vals, dtype=ember.float64), torch.tensor(vals, dtype=torch.float64)
    for name in ["sign", "round", "floor", "ceil", "trunc", "relu", "sigmoid", "tanh", "erf", "erfc", "abs", "exp"]:
        np.testing.assert_allclose(UNARY[name][0](x).numpy(), getattr(torch, name)(tx).numpy(), rtol=1e-15,
                                   err_msg=name)
    np.testing.assert_array_equal(ember.nan_to_num(x).numpy(), torch.nan_to_num(tx).numpy())
    np.testing.assert_array_equal(ember.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-2.0).numpy(),
                                  torch.nan_to_num(tx, nan=1.0, posinf=2.0, neginf=-2.0).numpy())
    np.testing.assert_array_equal(ember.isnan(x).numpy(), torch.isnan(tx).numpy())
    np.testing.assert_array_equal(ember.isinf(x).numpy(), torch.isinf(tx).numpy())
    np.testing.assert_array_equal(ember.isfinite(x).numpy(), torch.isfinite(tx).numpy())


def test_relu_and_nan_to_num_gradients_at_special_points():
    x = ember.tensor([-1.0, 0.0, 2.0, float("nan"), float("inf")], dtype=ember.float64, requires_grad=True)
    ember.relu(x).backward(ember.tensor([1.0, 1.0, 1.0, 1.0, 1.0], dtype=ember.float64))
    assert x.grad.tolist()[:3] == [0.0, 0.0, 1.0]
    x.grad = None
    ember.nan_to_num(x).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]


@pytest.mark.parametrize("name,node", [("tanh", "TanhGrad"), ("sigmoid", "SigmoidGrad"), ("relu", "ReluGrad")])
def test_activation_gradients_are_gradient_nodes(name, node, torch):
    """One backward: a plain backward runs the gradient node's array forward without recording it; create_graph
    records it, and its backward gives the second derivative (PyTorch's)."""
    fn, x = _unary_input(name, (2, 3))
    g, = ember.autograd.grad(fn(x).sum(), x)
    assert not g.requires_grad and g.grad_fn is None
    g, = ember.autograd.grad(fn(x).sum(), x, create_graph=True)
    assert g.grad_fn.name == node
    gg, = ember.autograd.grad((g * g).sum(), x, allow_unused=True, materialize_grads=True)  # relu's: zero
    tx = _torch(x, torch)
    tg, = torch.autograd.grad(getattr(torch, name)(tx).sum(), tx, create_graph=True)
    tgg, = torch.autograd.grad((tg * tg).sum(), tx)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-12, atol=1e-14)


def test_relu_gradient_of_non_finite_gradients_warns_nothing():
    x = ember.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.relu().backward(ember.tensor([np.inf, np.nan, np.nan, -np.inf]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, np.nan, 0.0, -np.inf])


def test_round_decimals():
    x = ember.tensor([1.2345, -2.5551, 0.125])
    np.testing.assert_allclose(ember.round(x, decimals=2).numpy(), [1.23, -2.56, 0.12], rtol=1e-6)
    assert ember.round(ember.tensor([0.5, 1.5, 2.5, -0.5])).tolist() == [0.0, 2.0, 2.0, -0.0]


# --- erf accuracy -----------------------------------------------------------------------------------------------

def _erf_points():
    rng = np.random.default_rng(0)
    return np.concatenate([
        rng.standard_normal(3000) * 2, rng.uniform(-30, 30, 2000), rng.uniform(-1.3, 1.3, 2000),
        10.0 ** rng.uniform(-310, 1.5, 2000) * rng.choice([-1.0, 1.0], 2000),
        [0.0, -0.0, 0.84375, -0.84375, 1.25, -1.25, 2.857142857142857, 6.0, -6.0, 27.9, 28.0, 1e-300, 5e-324,
         2.0 ** -28, 2.0 ** -56, 0.25, 0.8437499, 1.2499999]])


@pytest.mark.parametrize("which", ["erf", "erfc"])
def test_erf_matches_math_float64(which):
    from ember.ops import _erf
    x = _erf_points()
    got = getattr(_erf, which)(np, x)
    ref = np.array([getattr(math, which)(v) for v in x])
    assert got.dtype == np.float64 and got.shape == x.shape
    normal = np.abs(ref) >= np.finfo(np.float64).tiny
    rel = np.abs(got[normal] - ref[normal]) / np.abs(ref[normal])
    assert rel.max() <= 1e-15, x[normal][np.argmax(rel)]
    # subnormal results: within one unit in the last place
    assert np.all(np.abs(got[~normal] - ref[~normal]) <= 5e-324)


def test_erf_special_values():
    from ember.ops._erf import erf, erfc
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 30.0, -30.0])
    e, c = erf(np, x), erfc(np, x)
    assert e[:4].tolist() == [0.0, -0.0, 1.0, -1.0] and np.signbit(e[1]) and not np.signbit(e[0])
    assert np.isnan(e[4]) and np.isnan(c[4])
    assert e[5:].tolist() == [1.0, -1.0]
    assert c[:4].tolist() == [1.0, 1.0, 0.0, 2.0] and c[5:].tolist() == [0.0, 2.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_erf_low_precision(dtype):
    from ember.ops._erf import erf
    x = _erf_points().astype(dtype)
    with np.errstate(over="ignore"):
        got = erf(np, x)
    assert got.dtype == dtype
    ref = np.array([math.erf(float(v)) for v in x])
    # float32 uses a single rational approximation: within a few float32 ulp (5e-7 absolute) of the true value
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=0, atol=5e-7 if dtype == np.float32 else 1e-3)


def test_erf_keeps_shape_and_noncontiguous_input():
    from ember.ops._erf import erf
    x = np.linspace(-3, 3, 24).reshape(4, 6)[:, ::2]
    assert erf(np, x).shape == (4, 3)
    np.testing.assert_allclose(erf(np, x), np.vectorize(math.erf)(x), rtol=1e-15)
    assert erf(np, np.array(0.5)).shape == ()


# --- binary ops ---------------------------------------------------------------------------------------------------

BINARY = {
    "add": (operator.add, -1, 1, -1, 1),
    "sub": (operator.sub, -1, 1, -1, 1),
    "mul": (operator.mul, -1, 1, -1, 1),
    "div": (operator.truediv, -1, 1, 0.5, 2),
    "pow": (operator.pow, 0.5, 2, -1, 2),
    "remainder": (operator.mod, 2.2, 2.8, 1.0, 1.05),
    "floor_divide": (operator.floordiv, 2.2, 2.8, 1.0, 1.05),
    "maximum": (ember.maximum, -1, 1, -1, 1),
    "minimum": (ember.minimum, -1, 1, -1, 1),
    "atan2": (ember.atan2, -1, 1, 0.5, 1),
    "fmod": (ember.fmod, 2.2, 2.8, 1.0, 1.05),
}
SHAPES = [((2, 3), (2, 3)), ((3, 1, 4), (5, 1)), ((4,), ()), ((), (2, 1)), ((2, 1), (1, 3))]


def _binary_inputs(name, sa, sb, seed=0):
    fn, alo, ahi, blo, bhi = BINARY[name]
    return fn, _rand(*sa, low=alo, high=ahi, seed=seed), _rand(*sb, low=blo, high=bhi, seed=seed + 7)


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck(name, shapes):
    fn, a, b = _binary_inputs(name, *shapes)
    assert gradcheck(fn, [a, b])


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "maximum", "atan2"])
def test_binary_gradgradcheck(name):
    fn, a, b = _binary_inputs(name, (2, 1), (3,))
    assert gradgradcheck(fn, [a, b])


@pytest.mark.parametrize("shapes", SHAPES[:3], ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_torch(name, shapes, torch):
    fn, a, b = _binary_inputs(name, *shapes, seed=3)
    out = fn(a, b)
    g = _rand(*out.shape, seed=5, requires_grad=False)
    out.backward(g)
    ta, tb = _torch(a, torch), _torch(b, torch)
    tfn = {"maximum": torch.maximum, "minimum": torch.minimum, "atan2": torch.atan2, "fmod": torch.fmod}.get(name, fn)
    tout = tfn(ta, tb)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    if name == "floor_divide":  # PyTorch has no derivative for floor_divide; ember's is zero
        assert not a.grad.numpy().any() and not b.grad.numpy().any()
        return
    tout.backward(_torch(g, torch))
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12, atol=1e-14)


SCALAR_OPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow, operator.mod,
              operator.floordiv]


@pytest.mark.parametrize("op", SCALAR_OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scalar", [2, 2.5, -1.5, 0.5])
def test_scalar_operands_both_sides(op, scalar):
    x = _rand(2, 3, low=0.5, high=1.5, seed=1)
    if op is operator.pow and scalar < 0:  # a negative base needs integer exponents
        assert gradcheck(lambda t: op(t, scalar), [x])
        return
    assert gradcheck(lambda t: op(t, scalar), [x])
    assert gradcheck(lambda t: op(scalar, t), [x])


@pytest.mark.parametrize("op", SCALAR_OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scalar", [2, 2.5, -1.5])
def test_scalar_operands_match_torch(op, scalar, torch):
    x = _rand(2, 3, low=0.5, high=1.5, seed=2)
    tx = _torch(x, torch)
    pairs = [(op(x, scalar), op(tx, scalar))]
    if not (op is operator.pow and scalar < 0):
        pairs.append((op(scalar, x), op(scalar, tx)))
    for out, ref in pairs:
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
        if op is not operator.floordiv and (op is not operator.mod or ref is pairs[0][1]):  # no torch gradient
            gx, = ember.autograd.grad(out.sum(), x)
            tgx, = torch.autograd.grad(ref.sum(), tx)
            np.testing.assert_allclose(gx.numpy(), tgx.numpy(), rtol=1e-12, atol=1e-14)


def test_double_backward_of_cube():
    x = ember.tensor([0.5, -1.0, 2.0], dtype=ember.float64, requires_grad=True)
    g, = ember.autograd.grad((x ** 3).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2)
    gg, = ember.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.detach().numpy())


@pytest.mark.filterwarnings("ignore:divide by zero", "ignore:invalid value")
def test_pow_special_cases(torch):
    a = ember.tensor([0.0, 0.0, 2.0, 0.0], dtype=ember.float64, requires_grad=True)
    b = ember.tensor([0.0, 2.0, 0.0, -1.0], dtype=ember.float64, requires_grad=True)
    ta, tb = _torch(a, torch), _torch(b, torch)
    (a ** b).sum().backward()
    (ta ** tb).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_array_equal(b.grad.numpy(), tb.grad.numpy())
    for base in (0.0, 2.0, -2.0):  # a number to a tensor power, including log(0) and log of a negative
        e = ember.tensor([0.0, 1.0, 2.0], dtype=ember.float64, requires_grad=True)
        te = _torch(e, torch)
        (base ** e).sum().backward()
        (base ** te).sum().backward()
        np.testing.assert_array_equal(e.grad.numpy(), te.grad.numpy())
    x = ember.tensor([0.0, 1.5], dtype=ember.float64, requires_grad=True)
    (x ** 0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_maximum_minimum_ties_and_nan_match_torch(torch):
    va, vb = [1.0, 2.0, float("nan"), 3.0], [1.0, 3.0, 0.0, float("nan")]
    for name in ("maximum", "minimum", "fmax", "fmin"):
        a = ember.tensor(va, dtype=ember.float64, requires_grad=True)
        b = ember.tensor(vb, dtype=ember.float64, requires_grad=True)
        ta, tb = _torch(a, torch), _torch(b, torch)
        out, ref = getattr(ember, name)(a, b), getattr(torch, name)(ta, tb)
        np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy(), err_msg=name)
        np.testing.assert_array_equal(b.grad.numpy(), tb.grad.numpy(), err_msg=name)


def test_integer_arithmetic_matches_torch(torch):
    va, vb = [-7, 7, -7, 7, 0, 2 ** 62 + 1], [2, -2, -2, 2, 3, 3]
    a, b = ember.tensor(va), ember.tensor(vb)
    ta, tb = torch.tensor(va), torch.tensor(vb)
    for name, fn in [("floordiv", operator.floordiv), ("mod", operator.mod), ("truediv", operator.truediv),
                     ("mul", operator.mul), ("add", operator.add), ("fmod", ember.fmod)]:
        tfn = torch.fmod if name == "fmod" else fn
        out, ref = fn(a, b), tfn(ta, tb)
        assert out.dtype.name == str(ref.dtype).split(".")[1], name
        np.testing.assert_array_equal(np.asarray(out), ref.numpy(), err_msg=name)
    for mode in ("trunc", "floor"):
        out, ref = ember.div(a, b, rounding_mode=mode), torch.div(ta, tb, rounding_mode=mode)
        assert out.dtype is ember.int64
        np.testing.assert_array_equal(out.numpy(), ref.numpy())
    fa = a.double()
    np.testing.assert_array_equal(ember.div(fa, b, rounding_mode="trunc").numpy(),
                                  torch.div(ta.double(), tb, rounding_mode="trunc").numpy())
    wrapped = torch.tensor([3, -3], dtype=torch.int8) + 1000  # a Python int outside int8 wraps around
    assert (ember.tensor([3, -3], dtype=ember.int8) + 1000).tolist() == wrapped.tolist()
    assert (ember.tensor([2, 3]) ** 2).dtype is ember.int64
    assert (ember.tensor([2, 3]) ** 0.5).dtype is ember.float32


def test_add_sub_alpha(torch):
    a, b = _rand(3, 2, seed=1), _rand(2, seed=2)
    ta, tb = _torch(a, torch), _torch(b, torch)
    for fn in ("add", "sub"):
        out, ref = getattr(ember, fn)(a, b, alpha=2.5), getattr(torch, fn)(ta, tb, alpha=2.5)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy())
        out.sum().backward()
        ref.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy())
    np.testing.assert_allclose(ember.add(a, 2, alpha=3).detach().numpy(), a.detach().numpy() + 6)


# --- clamp, where, lerp -------------------------------------------------------------------------------------------

def test_clamp_scalar_bounds_gradcheck():
    x = _rand(3, 4, low=-2, high=2, seed=4)
    assert gradcheck(lambda t: ember.clamp(t, -0.5, 0.7), [x])
    assert gradcheck(lambda t: t.clamp(min=-0.5), [x])
    assert gradcheck(lambda t: ember.clip(t, max=0.3), [x])


def test_clamp_tensor_bounds_gradcheck_broadcast():
    x = _rand(3, 1, 4, low=-2, high=2, seed=5)
    lo = _rand(5, 1, low=-1.5, high=-0.1, seed=6)
    hi = _rand(4, low=0.1, high=1.5, seed=7)
    assert gradcheck(lambda t, l, h: ember.clamp(t, l, h), [x, lo, hi])
    assert gradcheck(lambda t, l: ember.clamp(t, min=l), [x, lo])
    assert gradcheck(lambda t, h: ember.clamp(t, max=h), [x, hi])


def test_clamp_matches_torch(torch):
    x = _rand(3, 4, low=-2, high=2, seed=8)
    lo = ember.tensor([-1.0, 0.5, 0.2, -0.3], dtype=ember.float64, requires_grad=True)
    hi = ember.tensor([[1.0], [0.0], [1.5]], dtype=ember.float64, requires_grad=True)  # some hi < lo
    tx, tlo, thi = _torch(x, torch), _torch(lo, torch), _torch(hi, torch)
    out, ref = ember.clamp(x, lo, hi), torch.clamp(tx, tlo, thi)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    w = _rand(3, 4, seed=9, requires_grad=False)
    (out * w).sum().backward()
    (ref * _torch(w, torch)).sum().backward()
    for e, t in ((x, tx), (lo, tlo), (hi, thi)):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    for args in [(-0.5, 0.5), (None, 0.5), (-0.5, None), (1.0, -1.0)]:
        np.testing.assert_array_equal(ember.clamp(x, *args).detach().numpy(), torch.clamp(tx, *args).detach().numpy())
    ix = ember.tensor([1, 5, -3])
    assert ember.clamp(ix, 0, 2).dtype is ember.int64 and ember.clamp(ix, 0, 2).tolist() == [1, 2, 0]
    assert ember.clamp(ix, min=0.5).dtype is ember.float32
    assert ember.clamp(ix, min=ember.tensor(2.5)).dtype is ember.float32


def test_clamp_needs_a_bound():
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        ember.clamp(ember.ones(2))


def test_where_gradcheck_broadcast():
    rng = np.random.default_rng(0)
    cond = ember.tensor(rng.random((3, 1, 4)) > 0.5)
    a, b = _rand(5, 1, seed=1), _rand(1, 5, 4, seed=2)
    assert gradcheck(lambda x, y: ember.where(cond, x, y), [a, b])
    assert gradcheck(lambda x: ember.where(cond, x, 0.5), [a])
    assert gradcheck(lambda y: ember.where(cond, 2.0, y), [b])


def test_where_matches_torch(torch):
    rng = np.random.default_rng(1)
    cond = rng.random((2, 3)) > 0.5
    a, b = _rand(2, 3, seed=1), _rand(3, seed=2)
    ta, tb = _torch(a, torch), _torch(b, torch)
    out, ref = ember.where(ember.tensor(cond), a, b), torch.where(torch.tensor(cond), ta, tb)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_array_equal(b.grad.numpy(), tb.grad.numpy())
    assert ember.where(ember.tensor(cond), 1.0, 0.0).dtype is ember.float32
    assert ember.where(ember.tensor(cond), ember.ones(3, dtype=ember.float16), 0.5).dtype is ember.float16
    assert a.where(ember.tensor(cond), 0.0).shape == (2, 3)


def test_where_gradient_is_zero_not_nan_where_unselected():
    a, b = _rand(2, seed=1), _rand(2, seed=2)
    out = ember.where(ember.tensor([True, False]), a, b)
    out.backward(ember.tensor([math.inf, math.inf], dtype=ember.float64))
    assert a.grad.tolist() == [math.inf, 0.0] and b.grad.tolist() == [0.0, math.inf]


def test_lerp_gradcheck_and_torch(torch):
    a, b = _rand(3, 1, seed=1), _rand(4, seed=2)
    w = _rand(3, 4, low=0, high=1, seed=3)
    assert gradcheck(ember.lerp, [a, b, w])
    assert gradcheck(lambda x, y: ember.lerp(x, y, 0.3), [a, b])
    assert gradcheck(lambda x, y: x.lerp(y, 0.8), [a, b])
    out, ref = ember.lerp(a, b, w), torch.lerp(_torch(a, torch), _torch(b, torch), _torch(w, torch))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-14)
    s, e = ember.tensor([1.0, 3.0]), ember.tensor([1e8, 0.1])
    assert ember.lerp(s, e, 1.0).tolist() == e.tolist()  # exact at weight 1


# --- comparisons and logic ----------------------------------------------------------------------------------------

CMP = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("op", CMP, ids=lambda f: f.__name__)
def test_comparisons_match_torch(op, torch):
    va = np.array([[1.0, 2.0, 3.0], [2.0, float("nan"), 0.0]])
    vb = np.array([2.0, 2.0, 1.0])
    a, b = ember.tensor(va), ember.tensor(vb)
    ta, tb = torch.tensor(va), torch.tensor(vb)
    for out, ref in [(op(a, b), op(ta, tb)), (op(a, 2), op(ta, 2)), (op(2.0, a), op(2.0, ta)),
                     (op(ember.tensor([1, 2, 3]), 2.5), op(torch.tensor([1, 2, 3]), 2.5))]:
        assert out.dtype is ember.bool and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), ref.numpy())
    name = op.__name__
    np.testing.assert_array_equal(getattr(ember, name)(a, b).numpy(), getattr(torch, name)(ta, tb).numpy())
    x = _rand(3)
    assert not op(x, 0.0).requires_grad


def test_equality_with_non_numbers():
    t = ember.tensor([1, 2])
    assert (t == None) is False  # noqa: E711  (as in PyTorch)
    assert (t != None) is True  # noqa: E711
    assert t in {t: 1}


def test_logical_ops_match_torch(torch):
    va, vb = np.array([[True, False, True]]), np.array([[True], [False]])
    a, b = ember.tensor(va), ember.tensor(vb)
    ta, tb = torch.tensor(va), torch.tensor(vb)
    for name in ("logical_and", "logical_or", "logical_xor"):
        np.testing.assert_array_equal(getattr(ember, name)(a, b).numpy(), getattr(torch, name)(ta, tb).numpy())
    np.testing.assert_array_equal(ember.logical_not(a).numpy(), torch.logical_not(ta).numpy())
    x = ember.tensor([0.0, 1.5, -2.0])
    np.testing.assert_array_equal(ember.logical_and(x, 1).numpy(), [False, True, True])
    np.testing.assert_array_equal((a & b).numpy(), (ta & tb).numpy())
    np.testing.assert_array_equal((~a).numpy(), (~ta).numpy())


# --- in-place ops -------------------------------------------------------------------------------------------------

def test_inplace_values():
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    x.add_(ember.tensor([1.0, 1.0]))
    x.sub_(1.0, alpha=2)
    x.mul_(ember.tensor([[2.0], [3.0]]))
    x.div_(2)
    np.testing.assert_allclose(x.numpy(), [[0.0, 1.0], [3.0, 4.5]])
    x.add_(ember.ones(2), alpha=2)
    np.testing.assert_allclose(x.numpy(), [[2.0, 3.0], [5.0, 6.5]])
    x.clamp_(2.5, 6.0)
    np.testing.assert_allclose(x.numpy(), [[2.5, 3.0], [5.0, 6.0]])
    x.clamp_(min=ember.tensor([3.0, 0.0]))
    np.testing.assert_allclose(x.numpy(), [[3.0, 3.0], [5.0, 6.0]])
    x.fill_(7)
    assert x.tolist() == [[7.0, 7.0], [7.0, 7.0]]
    x.zero_()
    assert x.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    x.copy_(ember.tensor([1, 2]))
    assert x.tolist() == [[1.0, 2.0], [1.0, 2.0]] and x.dtype is ember.float32
    x.fill_(ember.tensor(3.5))
    assert x.tolist() == [[3.5, 3.5], [3.5, 3.5]]
    x += 1
    x -= 0.5
    x *= 2
    x /= 4
    assert x.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    i = ember.tensor([1, 2, 3])
    i.add_(2)
    i.mul_(ember.tensor([2], dtype=ember.int8))
    assert i.tolist() == [6, 8, 10] and i.dtype is ember.int64
    h = ember.ones(2, dtype=ember.float16)
    h.add_(ember.ones(2, dtype=ember.float64))
    assert h.dtype is ember.float16 and h.tolist() == [2.0, 2.0]


def test_inplace_returns_self_and_bumps_version():
    x = ember.zeros(3)
    v = x._version
    for op in (lambda t: t.add_(1), lambda t: t.sub_(1), lambda t: t.mul_(2), lambda t: t.div_(2),
               lambda t: t.zero_(), lambda t: t.fill_(1), lambda t: t.copy_(ember.ones(3)), lambda t: t.clamp_(0, 1)):
        assert op(x) is x
        assert x._version == v + 1
        v += 1
    d = x.detach()
    d.add_(1)
    assert x._version == v + 1 and x.tolist() == [2.0, 2.0, 2.0]  # detach shares data and the version counter


def test_inplace_matches_torch_with_autograd(torch):
    x, w = _rand(2, 3, seed=1), _rand(3, seed=2)
    tx, tw = _torch(x, torch), _torch(w, torch)

    def run(x, w):
        y = x * 2
        y.add_(w, alpha=0.5)
        y.mul_(w)  # w's gradient needs y's value before the multiplication
        y.sub_(x)
        y.div_(w + 3)
        y.clamp_(-0.3, 0.4)
        return (y * y).sum()

    run(x, w).backward()
    run(tx, tw).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_inplace_cast_keeps_gradients():
    x = ember.tensor([1.0, 2.0], dtype=ember.float32, requires_grad=True)
    w = ember.tensor([3.0, 4.0], dtype=ember.float64, requires_grad=True)
    y = x * 1.0
    y.mul_(w)  # float64 result written into float32 y
    assert y.dtype is ember.float32
    y.sum().backward()
    assert x.grad.dtype is ember.float32 and x.grad.tolist() == [3.0, 4.0]
    assert w.grad.dtype is ember.float64 and w.grad.tolist() == [1.0, 2.0]


def test_inplace_gradcheck_on_non_leaf():
    def f(x, w):
        y = x.exp()
        y = y * 1.0  # exp saves its output: modify a copy
        y.add_(w)
        y.mul_(w)
        return y

    assert gradcheck(f, [_rand(2, 3, seed=1), _rand(3, seed=2)])
    assert gradgradcheck(f, [_rand(2, 3, seed=1), _rand(3, seed=2)])


def test_inplace_on_tensor_without_grad_records_history():
    x = ember.zeros(3)
    w = _rand(3, seed=1)
    x.add_(w)
    x.mul_(w)
    assert x.requires_grad and x.grad_fn is not None
    x.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.detach().numpy())


def test_copy_and_fill_gradients():
    src = _rand(3, seed=1)
    val = ember.tensor(2.0, dtype=ember.float64, requires_grad=True)
    x = _rand(2, 3, seed=2) * 1.0
    x.copy_(src)
    (x * 3).sum().backward()
    np.testing.assert_allclose(src.grad.numpy(), [6.0, 6.0, 6.0])
    leaf = _rand(2, 3, seed=3)
    y = leaf * 1.0
    y.fill_(val)
    y.sum().backward()
    assert val.grad.item() == 6.0
    assert not leaf.grad.numpy().any()
    z = _rand(2, seed=4)
    y = z * 1.0
    y.zero_()
    (y + z).sum().backward()
    assert z.grad.tolist() == [1.0, 1.0]


def test_inplace_on_leaf_requiring_grad_raises():
    x = _rand(3)
    for op in (lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.zero_(), lambda t: t.copy_(ember.ones(3)),
               lambda t: t.clamp_(0, 1), lambda t: t.fill_(2)):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            op(x)
    assert x._version == 0
    with ember.no_grad():
        x.add_(1)  # allowed without autograd (optimizer steps)
    assert x._version == 1


def test_saved_tensor_modified_in_place_raises():
    x = _rand(3)
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    x = _rand(3)
    y = x * 1.0
    z = y * x  # mul saves y for x's gradient
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    y = x.sigmoid()
    with ember.no_grad():
        y.zero_()
    with pytest.raises(RuntimeError, match="version 1; expected version 0"):
        y.sum().backward()


def test_inplace_errors():
    with pytest.raises(RuntimeError, match="result type Float32 can't be cast to the desired output type Int64"):
        ember.tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        ember.tensor([1, 2]).div_(2)
    x = ember.ones(3)
    with pytest.raises(RuntimeError,
                       match=r"add_: output with shape \(3,\) doesn't match the broadcast shape \(2, 3\)"):
        x.add_(ember.ones(2, 3))
    assert x.tolist() == [1.0, 1.0, 1.0] and x._version == 0
    with pytest.raises(RuntimeError, match=r"copy_: the source of shape \(2, 3\) cannot be broadcast"):
        x.copy_(ember.ones(2, 3))
    with pytest.raises(RuntimeError, match="fill_: only supports 0-dimension value tensor"):
        x.fill_(ember.ones(2))
    e = ember.Tensor._wrap(np.broadcast_to(np.ones(3, dtype=np.float32), (2, 3)))
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        e.mul_(2)


# --- error messages -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op, name", [(operator.add, "add"), (operator.sub, "sub"), (operator.mul, "mul"),
                                      (operator.truediv, "div"), (operator.pow, "pow"), (operator.lt, "lt"),
                                      (ember.maximum, "maximum")])
def test_shape_mismatch_names_op_and_shapes(op, name):
    a, b = ember.ones(3, 4), ember.ones(5)
    with pytest.raises(RuntimeError, match=rf"^{name}: The size of tensor a \(4\) must match the size of tensor b "
                                           rf"\(5\) at non-singleton dimension 1 \(shapes \(3, 4\) and \(5,\)\)"):
        op(a, b)


def test_other_shape_errors():
    with pytest.raises(RuntimeError, match=r"where: shapes \(2,\), \(3,\) and \(\) are not broadcastable"):
        ember.where(ember.tensor([True, False]), ember.ones(3), 0.0)
    with pytest.raises(RuntimeError, match=r"clamp: shapes \(3,\), \(2,\) and \(\) are not broadcastable"):
        ember.clamp(ember.ones(3), min=ember.zeros(2))
    with pytest.raises(RuntimeError, match=r"logical_and: .*\(3,\) and \(2,\)"):
        ember.logical_and(ember.ones(3), ember.ones(2))


def test_type_errors():
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor is not supported"):
        ember.tensor([True]) - ember.tensor([False])
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor is not supported"):
        -ember.tensor([True])
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        ember.tensor([2, 3]) ** -1
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        ember.tensor([2, 3]) ** ember.tensor([1, -1])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        ember.tensor([1, 2]) // 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        ember.tensor([1, 2]) % ember.tensor([1, 0])
    with pytest.raises(ValueError, match="rounding_mode"):
        ember.div(ember.ones(2), 2, rounding_mode="round")
    with pytest.raises(TypeError, match="add: unsupported operand type str"):
        ember.ones(2) + "a"
    with pytest.raises(TypeError, match="exp\\(\\): argument 'input'"):
        ember.exp(2.0)
    with pytest.raises(RuntimeError, match="where: expected condition to be a bool tensor"):
        ember.where(ember.ones(2), ember.ones(2), 0.0)


@pytest.mark.skip(reason="needs two devices (a GPU) to test a device mismatch")
def test_device_mismatch():  # pragma: no cover
    pass


def test_power_assignment_is_in_place_vs_torch(torch):
    x, tx = ember.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0])
    alias, talias = x, tx
    x **= 2
    tx **= 2
    assert x is alias and tx is talias
    np.testing.assert_array_equal(alias.numpy(), talias.numpy())
    with pytest.raises(RuntimeError):
        leaf = ember.tensor([1.0], requires_grad=True)
        leaf **= 2  # an in-place op on a leaf that requires grad, as PyTorch


def test_bitwise_functions_and_float_errors():
    a, b = ember.tensor([12, 10, -3]), ember.tensor([10, 6, 5])
    assert ember.bitwise_and(a, b).tolist() == [8, 2, 5]
    assert ember.bitwise_or(a, 1).tolist() == [13, 11, -3]
    assert ember.bitwise_xor(a, b).tolist() == [6, 12, -8]
    assert ember.bitwise_not(a).tolist() == [-13, -11, 2]
    assert ember.bitwise_and(ember.tensor([True, False]), True).tolist() == [True, False]
    assert (a << 2).tolist() == [48, 40, -12] and (a >> 1).tolist() == [6, 5, -2]
    assert (3 << b).tolist() == [3072, 192, 96]
    assert ember.bitwise_right_shift(a, 70).tolist() == [0, 0, -1]  # counts past the width: the sign's fill
    assert ember.bitwise_left_shift(a, 64).tolist() == [0, 0, 0]
    for fn in (lambda: ember.bitwise_and(ember.ones(2), a[:2]), lambda: ember.ones(2) | 1, lambda: ~ember.ones(2),
               lambda: ember.ones(2) << 1):
        with pytest.raises(NotImplementedError, match="only integer and bool tensors are supported, got "
                                                      "ember.float32"):
            fn()


def test_clamp_min_and_clamp_max():
    x = ember.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    assert ember.clamp_min(x, 0).tolist() == [0.0, 0.5, 2.0] and x.clamp_max(1).tolist() == [-1.0, 0.5, 1.0]
    ember.clamp_min(x, ember.tensor([0.0, 1.0, 0.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]
    y = ember.tensor([-1.0, 3.0])
    assert y.clamp_min_(0.0) is y and y.tolist() == [0.0, 3.0] and y.clamp_max_(2.0).tolist() == [0.0, 2.0]
