"""Elementwise ONNX ops: math, activations, arithmetic, comparison, logic, bitwise, Where, Clip, Cast.

Floating-point inputs run ember ops (differentiable); integer, bool and string inputs run NumPy (no gradient).
"""
import ml_dtypes
import numpy as np
from onnx import TensorProto

import ember as E
from ...nn import functional as F
from ...tensor import Tensor
from .._registry import onnx_op
from .._values import ember_dtype, is_float, np_dtype, to_numpy, to_value
from ._util import float_path, numpy_op, onnx_np_dtype, scalar


def _unary(op_type, ember_fn, np_fn=None, since=(1,)):
    def importer(ctx, inputs, attrs):
        x = inputs[0]
        if float_path(x):
            return ember_fn(x, attrs)
        if np_fn is None:
            raise TypeError(f"{op_type}: dtype {np_dtype(x)} is not supported")
        return numpy_op(lambda a: np_fn(a, attrs).astype(a.dtype), x)
    importer.__name__ = op_type
    onnx_op(op_type, since)(importer)


def _sqrt_plus(x, c):
    return E.sqrt(x * x + c)


_unary("Abs", lambda x, a: E.abs(x), lambda x, a: np.abs(x))
_unary("Neg", lambda x, a: E.neg(x), lambda x, a: np.negative(x))
_unary("Sign", lambda x, a: E.sign(x), lambda x, a: np.sign(x))
_unary("Relu", lambda x, a: F.relu(x), lambda x, a: np.maximum(x, 0))
_unary("Acos", lambda x, a: E.acos(x))
_unary("Asin", lambda x, a: E.asin(x))
_unary("Atan", lambda x, a: E.atan(x))
_unary("Acosh", lambda x, a: E.log(x + E.sqrt(x * x - 1)))
_unary("Asinh", lambda x, a: E.log(x + _sqrt_plus(x, 1)))
_unary("Atanh", lambda x, a: 0.5 * E.log((1 + x) / (1 - x)))
_unary("Cos", lambda x, a: E.cos(x))
_unary("Sin", lambda x, a: E.sin(x))
_unary("Tan", lambda x, a: E.tan(x))
_unary("Cosh", lambda x, a: E.cosh(x))
_unary("Sinh", lambda x, a: E.sinh(x))
_unary("Tanh", lambda x, a: E.tanh(x))
_unary("Ceil", lambda x, a: E.ceil(x))
_unary("Floor", lambda x, a: E.floor(x))
_unary("Round", lambda x, a: E.round(x))
_unary("Erf", lambda x, a: E.erf(x))
_unary("Exp", lambda x, a: E.exp(x))
_unary("Log", lambda x, a: E.log(x))
_unary("Sqrt", lambda x, a: E.sqrt(x))
_unary("Reciprocal", lambda x, a: E.reciprocal(x))
_unary("Sigmoid", lambda x, a: E.sigmoid(x))
_unary("Softplus", lambda x, a: F.softplus(x))
_unary("Softsign", lambda x, a: F.softsign(x))
_unary("Elu", lambda x, a: F.elu(x, alpha=a.get("alpha", 1.0)))
_unary("Celu", lambda x, a: F.celu(x, alpha=a.get("alpha", 1.0)))
_unary("Selu", lambda x, a: a.get("gamma", 1.0507009873554805) * E.where(
    x > 0, x, a.get("alpha", 1.6732632423543772) * (E.exp(x) - 1)))
_unary("LeakyRelu", lambda x, a: F.leaky_relu(x, a.get("alpha", 0.01)))
_unary("ThresholdedRelu", lambda x, a: E.where(x > a.get("alpha", 1.0), x, E.zeros_like(x)))
_unary("HardSigmoid", lambda x, a: E.clamp(a.get("alpha", 0.2) * x + a.get("beta", 0.5), 0, 1))
_unary("HardSwish", lambda x, a: x * E.clamp(x / 6 + 0.5, 0, 1))
_unary("Mish", lambda x, a: F.mish(x))
_unary("Swish", lambda x, a: x * E.sigmoid(a.get("alpha", 1.0) * x))
_unary("Shrink", lambda x, a: E.where(x < -a.get("lambd", 0.5), x + a.get("bias", 0.0), E.where(
    x > a.get("lambd", 0.5), x - a.get("bias", 0.0), E.zeros_like(x))),
    lambda x, a: np.where(x < -a.get("lambd", 0.5), x + a.get("bias", 0.0), np.where(
        x > a.get("lambd", 0.5), x - a.get("bias", 0.0), 0)))


@onnx_op("SwiGLU", since=28)
def swiglu(ctx, inputs, attrs):
    a, b = inputs
    return a * E.sigmoid(attrs.get("alpha", 1.0) * a) * b


@onnx_op("Gelu", since=20)
def gelu(ctx, inputs, attrs):
    return F.gelu(inputs[0], approximate=attrs.get("approximate", "none"))


@onnx_op("PRelu", since=(1, 7))
def prelu(ctx, inputs, attrs):
    x, slope = inputs
    if ctx.opset < 7 and len(slope.shape) == 1 and len(x.shape) > 2 and slope.shape[0] == x.shape[1]:
        slope = slope.reshape((-1,) + (1,) * (len(x.shape) - 2))  # opset 6: one slope per channel
    if float_path(x, slope):
        return E.where(x < 0, x * slope, x)
    return numpy_op(lambda a, s: np.where(a < 0, a * s, a).astype(a.dtype), x, slope)


@onnx_op("IsNaN", since=9)
def isnan(ctx, inputs, attrs):
    return numpy_op(lambda a: np.isnan(a.astype(np.float64)), inputs[0])


@onnx_op("IsInf", since=10)
def isinf(ctx, inputs, attrs):
    neg, pos = attrs.get("detect_negative", 1), attrs.get("detect_positive", 1)
    return numpy_op(lambda a: np.isinf(a) & (((a < 0) & bool(neg)) | ((a > 0) & bool(pos))), inputs[0])


def _int_div(x, y):
    q = np.floor_divide(x, y)
    adjust = (np.remainder(x, y) != 0) & ((x < 0) ^ (y < 0)) if np.issubdtype(x.dtype, np.signedinteger) else 0
    return (q + adjust).astype(x.dtype)


def _binary(op_type, ember_fn, np_fn, since=(1, 7)):
    def importer(ctx, inputs, attrs):
        a, b = inputs
        if not (ctx.opset >= 7 or attrs.get("broadcast", 1)) or "axis" in attrs:
            b = _legacy_broadcast(a, b, attrs.get("axis"))
        if float_path(a, b):
            return ember_fn(a, b)
        return numpy_op(lambda x, y: np.asarray(np_fn(x, y)).astype(x.dtype), a, b)
    importer.__name__ = op_type
    onnx_op(op_type, since)(importer)


def _legacy_broadcast(a, b, axis):
    """Opset < 7 broadcasting: b's dimensions line up with a's starting at ``axis``."""
    nd_a, nd_b = len(a.shape), len(b.shape)
    axis = nd_a - nd_b if axis is None else (axis + nd_a if axis < 0 else axis)
    return b.reshape(tuple(b.shape) + (1,) * (nd_a - axis - nd_b))


_binary("Add", E.add, np.add)
_binary("Sub", E.sub, np.subtract)
_binary("Mul", E.mul, np.multiply)
_binary("Div", E.div, _int_div)


@onnx_op("Pow", since=(1, 7))
def pow_(ctx, inputs, attrs):
    x, y = inputs
    if float_path(x):
        if not is_float(y):
            y = to_value(to_numpy(y).astype(np_dtype(x)))
        return E.pow(x, y)
    return numpy_op(lambda a, b: np.power(a, b.astype(a.dtype) if b.dtype.kind in "iu" else b).astype(a.dtype), x, y)


@onnx_op("Mod", since=10)
def mod(ctx, inputs, attrs):
    a, b = inputs
    if attrs.get("fmod", 0):
        if float_path(a, b):
            return E.fmod(a, b)
        return numpy_op(lambda x, y: np.fmod(x, y).astype(x.dtype), a, b)
    if float_path(a, b):
        return E.remainder(a, b)
    return numpy_op(lambda x, y: np.mod(x, y).astype(x.dtype), a, b)


@onnx_op("BitShift", since=11)
def bitshift(ctx, inputs, attrs):
    fn = np.left_shift if attrs["direction"] == "LEFT" else np.right_shift
    return numpy_op(lambda x, y: fn(x, y).astype(x.dtype), *inputs)


def _numpy_binary(op_type, np_fn, since=(1, 7)):
    def importer(ctx, inputs, attrs):
        a, b = inputs
        if ctx.opset < 7 and attrs.get("broadcast", 0):
            b = _legacy_broadcast(a, b, attrs.get("axis"))
        return numpy_op(np_fn, a, b)
    importer.__name__ = op_type
    onnx_op(op_type, since)(importer)


for _name, _fn in [("Equal", np.equal), ("Greater", np.greater), ("Less", np.less), ("And", np.logical_and),
                   ("Or", np.logical_or), ("Xor", np.logical_xor)]:
    _numpy_binary(_name, _fn)
for _name, _fn in [("GreaterOrEqual", np.greater_equal), ("LessOrEqual", np.less_equal)]:
    _numpy_binary(_name, _fn, since=12)
for _name, _fn in [("BitwiseAnd", np.bitwise_and), ("BitwiseOr", np.bitwise_or), ("BitwiseXor", np.bitwise_xor)]:
    _numpy_binary(_name, _fn, since=18)


@onnx_op("Not", since=1)
def not_(ctx, inputs, attrs):
    return numpy_op(np.logical_not, inputs[0])


@onnx_op("BitwiseNot", since=18)
def bitwise_not(ctx, inputs, attrs):
    return numpy_op(np.bitwise_not, inputs[0])


def _variadic(op_type, ember_fn, np_fn, mean=False):
    def importer(ctx, inputs, attrs):
        xs = [x for x in inputs if x is not None]
        if float_path(*xs):
            out = xs[0]
            for x in xs[1:]:
                out = ember_fn(out, x)
            return out / len(xs) if mean else (out if len(xs) > 1 else out + 0)
        def run(*arrays):
            out = arrays[0]
            for a in arrays[1:]:
                out = np_fn(out, a)
            return (out / len(arrays) if mean else out).astype(arrays[0].dtype)
        return numpy_op(run, *xs)
    importer.__name__ = op_type
    onnx_op(op_type, since=(1, 6, 8))(importer)


_variadic("Max", E.maximum, np.maximum)
_variadic("Min", E.minimum, np.minimum)
_variadic("Sum", E.add, np.add)
_variadic("Mean", E.add, np.add, mean=True)


@onnx_op("Where", since=9)
def where(ctx, inputs, attrs):
    cond, x, y = inputs
    if float_path(x, y):
        return E.where(to_value(to_numpy(cond).astype(bool)), x, y)
    return numpy_op(np.where, cond, x, y)


@onnx_op("Clip", since=(1, 11))
def clip(ctx, inputs, attrs):
    x = inputs[0]
    if ctx.opset < 11:
        lo, hi = attrs.get("min"), attrs.get("max")
    else:
        lo = inputs[1] if len(inputs) > 1 else None
        hi = inputs[2] if len(inputs) > 2 else None
    if float_path(x):
        lo = scalar(lo) if isinstance(lo, Tensor) else lo
        hi = scalar(hi) if isinstance(hi, Tensor) else hi
        return x + 0 if lo is None and hi is None else E.clamp(x, lo, hi)
    lo = scalar(lo) if lo is not None and not isinstance(lo, (int, float)) else lo
    hi = scalar(hi) if hi is not None and not isinstance(hi, (int, float)) else hi
    return numpy_op(lambda a: np.clip(a, lo, hi).astype(a.dtype), x)


def _cast(x, target, attrs):
    """Cast to NumPy dtype ``target``: ember's differentiable ``to`` between ember float dtypes, NumPy otherwise."""
    target_is_float = target.kind == "f" or "float" in target.name
    if isinstance(x, Tensor) and is_float(x) and target_is_float and ember_dtype(target) is not None:
        return x.to(ember_dtype(target))
    a = to_numpy(x)
    if target == np.dtype(object):
        return to_value(_to_strings(a))
    if a.dtype == np.dtype(object):
        a = np.array([float(s) for s in a.reshape(-1)], dtype=np.float64).reshape(a.shape)
    if "e8m0" in target.name and attrs.get("round_mode", "up") in ("up", "down"):
        return to_value(_e8m0(a, attrs.get("round_mode", "up"), attrs.get("saturate", 1)).astype(target))
    if attrs.get("saturate", 1) and "float8" in target.name and "e8m0" not in target.name:
        # saturate: out-of-range values (infinities included) become the largest finite value
        big = float(ml_dtypes.finfo(target).max)
        f = a.astype(np.float32)
        a = np.where(np.isnan(f), f, np.clip(f, -big, big))
    with np.errstate(invalid="ignore", over="ignore"):  # NaN or out-of-range values cast as C casts them
        return to_value(a.astype(target))


def _e8m0(a, mode, saturate):
    """Powers of two for float8_e8m0 (an exponent only), rounded up or down as round_mode asks."""
    f = np.abs(a.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.ceil(np.log2(f)) if mode == "up" else np.floor(np.log2(f))
    e = np.clip(np.where(f == 0, -127, e), -127, 127)
    out = np.exp2(e)
    if not saturate:
        out = np.where(np.isinf(f), np.nan, out)
    return np.where(np.isnan(f), np.nan, out)


def _to_strings(a):
    def fmt(v):
        if isinstance(v, (float, np.floating)):
            if np.isnan(v):
                return "NaN"
            if np.isinf(v):
                return "INF" if v > 0 else "-INF"
            return np.format_float_positional(np.float32(v), unique=True, trim="-") if a.dtype == np.float32 else repr(v)
        return str(v)
    return np.vectorize(fmt, otypes=[object])(a)


@onnx_op("Cast", since=(1, 6, 9, 13, 19, 21))
def cast(ctx, inputs, attrs):
    return _cast(inputs[0], onnx_np_dtype(attrs["to"]) if ctx.opset >= 6 else _legacy_type(attrs["to"]), attrs)


def _legacy_type(name):
    return onnx_np_dtype(getattr(TensorProto, name.upper()) if isinstance(name, str) else name)


@onnx_op("CastLike", since=(15, 19, 21))
def cast_like(ctx, inputs, attrs):
    return _cast(inputs[0], np_dtype(inputs[1]), attrs)


@onnx_op("Identity", since=(1, 13, 14, 16))
def identity(ctx, inputs, attrs):
    return inputs[0]

