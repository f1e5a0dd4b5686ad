"""Quantization ONNX ops: QuantizeLinear, DequantizeLinear (per tensor, per axis, blocked; integer, float8 and
4-bit types), DynamicQuantizeLinear, QLinearMatMul, MatMulInteger, ConvInteger, QLinearConv.

Integer arithmetic runs NumPy (no gradient); DequantizeLinear's product with the scale is an ember op, so a
float scale stays differentiable.
"""
import ml_dtypes
import numpy as np

from .._registry import onnx_op
from ...tensor import Tensor
from .._values import is_float, np_dtype, to_numpy, to_value
from ._util import onnx_np_dtype
from .nn import conv as _float_conv


_INT_RANGES = {"uint8": (0, 255), "int8": (-128, 127), "uint16": (0, 65535), "int16": (-32768, 32767),
               "uint4": (0, 15), "int4": (-8, 7), "uint2": (0, 3), "int2": (-2, 1)}


def _broadcastable(v, shape, axis, block):
    """A scale or zero point reshaped (and repeated for blocks) to broadcast against ``shape``."""
    v = np.asarray(v)
    if v.ndim == 0 or v.size == 1:
        return v.reshape(())
    axis = axis + len(shape) if axis < 0 else axis
    if not block:
        dims = [1] * len(shape)
        dims[axis] = v.size
        return v.reshape(dims)
    return np.take(np.repeat(v, block, axis=axis), range(shape[axis]), axis=axis)


@onnx_op("QuantizeLinear", since=(10, 13, 19, 21, 23, 24, 25))
def quantize_linear(ctx, inputs, attrs):
    x = to_numpy(inputs[0])
    zp = to_numpy(inputs[2]) if len(inputs) > 2 and inputs[2] is not None else None
    axis, block = attrs.get("axis", 1), attrs.get("block_size", 0)
    scale = _broadcastable(to_numpy(inputs[1]), x.shape, axis, block)
    target = zp.dtype if zp is not None else (onnx_np_dtype(attrs["output_dtype"]) if attrs.get("output_dtype")
                                              else np.dtype(np.uint8))
    if attrs.get("precision"):
        p = onnx_np_dtype(attrs["precision"])
        q = x.astype(p) / scale.astype(p)
    else:
        q = x / scale
    if target.name in _INT_RANGES:
        qi = np.rint(q).astype(np.int32)
        if zp is not None:
            qi = qi + _broadcastable(zp, x.shape, axis, block).astype(np.int32)
        lo, hi = _INT_RANGES[target.name]
        return to_value(np.clip(qi, lo, hi).astype(target))
    if "float8" in target.name and attrs.get("saturate", 1):
        big = float(ml_dtypes.finfo(target).max)
        q = np.where(np.isnan(q), q, np.clip(q, -big, big))
    elif zp is not None and "float8" not in target.name:
        q = q + _broadcastable(zp, x.shape, axis, block).astype(np.float32)
    return to_value(np.asarray(q).astype(target))


@onnx_op("DequantizeLinear", since=(10, 13, 19, 21, 23, 24, 25))
def dequantize_linear(ctx, inputs, attrs):
    x = to_numpy(inputs[0])
    scale = inputs[1]
    zp = to_numpy(inputs[2]) if len(inputs) > 2 and inputs[2] is not None else None
    axis, block = attrs.get("axis", 1), attrs.get("block_size", 0)
    dx = x.astype(np.float32)
    if zp is not None and "float8" not in x.dtype.name and "float4" not in x.dtype.name:
        dx = dx - _broadcastable(zp, x.shape, axis, block).astype(np.float32)
    out_dtype = onnx_np_dtype(attrs["output_dtype"]) if attrs.get("output_dtype") else np_dtype(scale)
    s = _broadcastable(to_numpy(scale), x.shape, axis, block)
    if isinstance(scale, Tensor) and is_float(scale) and not block and out_dtype == np_dtype(scale):
        return to_value(dx.astype(out_dtype)) * scale.reshape(s.shape)  # differentiable in the scale
    return to_value((dx * s).astype(out_dtype))


@onnx_op("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(ctx, inputs, attrs):
    x = to_numpy(inputs[0])
    hi, lo = np.float32(max(0, np.max(x))), np.float32(min(0, np.min(x)))
    scale = np.float32(1.0 if hi == lo else hi - lo) / np.float32(255)
    zp = np.rint(max(0, min(255, np.float32(0) - lo / scale)))
    y = np.clip(np.rint(x / scale) + zp, 0, 255).astype(np.uint8)
    return to_value(y), to_value(np.array(scale.astype(x.dtype))), to_value(np.array(zp.astype(np.uint8)))


def _centered(v, zp):
    a = to_numpy(v).astype(np.int32)
    return a - to_numpy(zp).astype(np.int32) if zp is not None else a


def _requantize(real, y_scale, y_zp, fallback_dtype):
    d = real / to_numpy(y_scale)
    dtype = to_numpy(y_zp).dtype if y_zp is not None else fallback_dtype
    if y_zp is not None:
        d = d + to_numpy(y_zp)
    info = np.iinfo(dtype)
    return to_value(np.clip(np.rint(d), info.min, info.max).astype(dtype))


@onnx_op("QLinearMatMul", since=(10, 21))
def qlinear_matmul(ctx, inputs, attrs):
    a, a_s, a_zp, b, b_s, b_zp, y_s, y_zp = inputs
    c = np.matmul(_centered(a, a_zp), _centered(b, b_zp))
    return _requantize(c * (to_numpy(a_s) * to_numpy(b_s)), y_s, y_zp, to_numpy(a).dtype)


@onnx_op("MatMulInteger", since=10)
def matmul_integer(ctx, inputs, attrs):
    a, b = inputs[0], inputs[1]
    a_zp = inputs[2] if len(inputs) > 2 else None
    b_zp = inputs[3] if len(inputs) > 3 else None
    return to_value(np.matmul(_centered(a, a_zp), _centered(b, b_zp)).astype(np.int32))


def _integer_conv(ctx, x, w, attrs):
    # exact in float64 for the integer ranges of 8-bit operands
    y = _float_conv(ctx, [to_value(x.astype(np.float64)), to_value(w.astype(np.float64))], attrs)
    return np.rint(to_numpy(y))


@onnx_op("ConvInteger", since=10)
def conv_integer(ctx, inputs, attrs):
    x, w = inputs[0], inputs[1]
    x_zp = inputs[2] if len(inputs) > 2 else None
    w_zp = inputs[3] if len(inputs) > 3 else None
    wz = _centered(w, w_zp if w_zp is None or to_numpy(w_zp).size == 1 else None)
    if w_zp is not None and to_numpy(w_zp).size > 1:
        wz = wz - to_numpy(w_zp).astype(np.int32).reshape(-1, *([1] * (wz.ndim - 1)))
    return to_value(_integer_conv(ctx, _centered(x, x_zp), wz, attrs).astype(np.int32))


@onnx_op("QLinearConv", since=10)
def qlinear_conv(ctx, inputs, attrs):
    x, x_s, x_zp, w, w_s, w_zp, y_s, y_zp = inputs[:8]
    bias = inputs[8] if len(inputs) > 8 else None
    wz = to_numpy(w).astype(np.int32) - _broadcastable(to_numpy(w_zp).astype(np.int32), to_numpy(w).shape, 0, 0)
    acc = _integer_conv(ctx, _centered(x, x_zp), wz, attrs)
    if bias is not None:
        acc = acc + to_numpy(bias).reshape(1, -1, *([1] * (acc.ndim - 2)))
    scale = to_numpy(x_s) * _broadcastable(to_numpy(w_s), acc.shape, 1, 0)
    return _requantize(acc * scale, y_s, y_zp, to_numpy(x).dtype)
