"""Elementwise ops are silent about inf and nan, as PyTorch is (log(0), 1/0, 0*inf, sqrt(-1), fully masked softmax
rows), without touching the NumPy error state that the user's own code sees."""
import math
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F

SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, math.inf, -math.inf, math.nan, 3e38, -3e38, 1e-40, 100.0, 89.0]


def _x(requires_grad=False):
    return ember.tensor(SPECIAL, requires_grad=requires_grad)


def _y():
    return ember.tensor(SPECIAL[::-1])


CASES = {
    **{name: (lambda name: lambda x: getattr(ember, name)(x))(name) for name in (
        "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal", "exp", "exp2", "expm1", "sin", "cos", "tan",
        "asin", "acos", "sinh", "cosh", "square", "erf", "erfc", "atan", "frac")},
    "round_decimals": lambda x: ember.round(x, decimals=30),
    "add": lambda x: x + _y(), "sub": lambda x: x - _y(), "mul": lambda x: x * _y(), "div": lambda x: x / _y(),
    "rdiv": lambda x: 1.0 / x, "mul_zero": lambda x: x * 0.0, "floor_divide": lambda x: x // _y(),
    "remainder": lambda x: x % _y(), "fmod": lambda x: ember.fmod(x, _y()), "atan2": lambda x: ember.atan2(x, _y()),
    "hypot": lambda x: ember.hypot(x, _y()),
    **{f"pow_{n}": (lambda n: lambda x: x ** n)(n) for n in (0, 1, 2, 3, 4, -1, -2, -3, -4, 0.5, -0.5, 1.5, 7)},
    "pow_tensor": lambda x: x ** _y(), "rpow": lambda x: 0.0 ** x,
    "where_log": lambda x: ember.where(x > 0, x.log(), 0.0), "entropy": lambda x: x * x.log(),
    "softmax": lambda x: F.softmax(ember.stack([x, ember.full_like(x, -math.inf)]), dim=1),
    "log_softmax": lambda x: F.log_softmax(ember.stack([x, ember.full_like(x, -math.inf)]), dim=1),
    "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "silu": F.silu, "softplus": F.softplus,
    "elu": F.elu, "celu": lambda x: F.celu(x, 0.5), "selu": F.selu, "hardswish": F.hardswish,
    "leaky_relu": lambda x: F.leaky_relu(x, 3.0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_numpy_warning_forward_and_backward(name):
    fn = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails the test
        fn(_x())
        x = _x(requires_grad=True)
        out = fn(x)
        if out.requires_grad:
            out.backward(ember.ones_like(out))


def test_in_place_forms_are_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method, arg in (("add_", _y()), ("sub_", _y()), ("mul_", _y()), ("div_", _y()), ("pow_", 0.5),
                            ("log_", None), ("sqrt_", None), ("exp_", None)):
            x = _x()
            getattr(x, method)(*(() if arg is None else (arg,)))


def test_values_are_pytorchs_inf_and_nan():
    x = ember.tensor([0.0, -1.0, 4.0])
    assert x.log().tolist()[0] == -math.inf and math.isnan(x.log().tolist()[1])
    assert (1.0 / x).tolist()[0] == math.inf and math.isnan(x.sqrt().tolist()[1])
    assert math.isnan((x * math.inf).tolist()[0])
    rows = F.softmax(ember.tensor([[-math.inf, -math.inf], [0.0, -math.inf]]), dim=1)
    assert all(math.isnan(v) for v in rows.tolist()[0]) and rows.tolist()[1] == [1.0, 0.0]


def test_the_users_numpy_error_state_is_untouched():
    before = np.geterr()
    ember.tensor([0.0]).log()
    (ember.tensor([1.0]) / 0.0).sum()
    assert np.geterr() == before
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        np.log(np.zeros(1))  # the user's own NumPy code still warns
    with np.errstate(all="raise"):
        ember.tensor([0.0]).log()  # ember is silent under any NumPy setting, as PyTorch
        with pytest.raises(FloatingPointError):
            np.log(np.zeros(1))  # and the user's setting still holds for the user's code
    assert np.geterr() == before
