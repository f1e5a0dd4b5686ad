"""Neural-network ONNX ops: MatMul, Gemm, Einsum, Conv, ConvTranspose, pooling, normalization, Dropout, LRN.

Convolution and pooling of any rank are composed from ember ops: 2-D convolution runs F.conv2d (1-D as 2-D with
a unit height, 3-D as a sum of 2-D convolutions over the kernel's depth); pooling takes the windows as strided
slices of the padded input, so every padding, dilation and ceil_mode combination follows ONNX exactly.
"""
import itertools
import math

import numpy as np

import ember as E
from ...nn import functional as F
from .._registry import onnx_op
from .._values import to_numpy, to_value
from ._util import float_path, numpy_op, scalar


@onnx_op("MatMul", since=(1, 9, 13))
def matmul(ctx, inputs, attrs):
    a, b = inputs
    if float_path(a, b):
        return E.matmul(a, b)
    return numpy_op(np.matmul, a, b)


@onnx_op("Gemm", since=(1, 6, 7, 9, 11, 13))
def gemm(ctx, inputs, attrs):
    a, b = inputs[0], inputs[1]
    c = inputs[2] if len(inputs) > 2 else None
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    if attrs.get("transA", 0):
        a = a.T if float_path(a) else to_value(to_numpy(a).T)
    if attrs.get("transB", 0):
        b = b.T if float_path(b) else to_value(to_numpy(b).T)
    if not float_path(a, b, c):
        return numpy_op(lambda x, y, *z: (alpha * (x @ y) + (beta * z[0] if z else 0)).astype(x.dtype),
                        a, b, *([c] if c is not None else []))
    y = E.matmul(a, b)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c * beta if beta != 1.0 else c)
    return y


@onnx_op("Einsum", since=12)
def einsum(ctx, inputs, attrs):
    eq = attrs["equation"].replace(" ", "")
    if float_path(*inputs):
        return E.einsum(eq, *inputs)
    return numpy_op(lambda *a: np.einsum(eq, *a), *inputs)


def _conv_geometry(attrs, x_shape, k_shape):
    nd = len(k_shape)
    strides = attrs.get("strides") or [1] * nd
    dil = attrs.get("dilations") or [1] * nd
    pads = attrs.get("pads") or [0] * (2 * nd)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * nd)
        for i in range(nd):
            out = -(-x_shape[i] // strides[i])
            total = max((out - 1) * strides[i] + (k_shape[i] - 1) * dil[i] + 1 - x_shape[i], 0)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + nd] = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto == "VALID":
        pads = [0] * (2 * nd)
    return list(strides), list(dil), list(pads)


def _pad_spatial(x, pads, value=0.0):
    nd = len(pads) // 2
    if not any(pads):
        return x
    flat = []
    for i in reversed(range(nd)):
        flat += [pads[i], pads[i + nd]]
    return F.pad(x, tuple(flat), mode="constant", value=value)


def _conv2d(x, w, strides, dil, groups):
    return F.conv2d(x, w, None, stride=tuple(strides), padding=0, dilation=tuple(dil), groups=groups)


def _conv(x, w, strides, dil, groups):
    """Convolution of an already padded input, any spatial rank, as 2-D convolutions."""
    nd = len(x.shape) - 2
    if nd == 2:
        return _conv2d(x, w, strides, dil, groups)
    if nd == 1:
        y = _conv2d(E.unsqueeze(x, 2), E.unsqueeze(w, 2), [1] + strides, [1] + dil, groups)
        return E.squeeze(y, 2)
    if nd == 3:
        n, c, d = x.shape[:3]
        kd = w.shape[2]
        out_d = (d - dil[0] * (kd - 1) - 1) // strides[0] + 1
        total = None
        for k in range(kd):
            start = k * dil[0]
            xs = x[:, :, start:start + (out_d - 1) * strides[0] + 1:strides[0]]
            xs = E.permute(xs, (0, 2, 1, 3, 4)).reshape((n * out_d, c) + tuple(x.shape[3:]))
            y = _conv2d(xs, w[:, :, k], strides[1:], dil[1:], groups)
            total = y if total is None else total + y
        y = total.reshape((n, out_d) + tuple(total.shape[1:]))
        return E.permute(y, (0, 2, 1, 3, 4))
    raise NotImplementedError(f"Conv: {nd}-D convolution is not supported")


@onnx_op("Conv", since=(1, 11, 22))
def conv(ctx, inputs, attrs):
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    strides, dil, pads = _conv_geometry(attrs, x.shape[2:], w.shape[2:])
    y = _conv(_pad_spatial(x, pads), w, strides, dil, attrs.get("group", 1))
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * (len(y.shape) - 2))
    return y


@onnx_op("ConvTranspose", since=(1, 11, 22))
def conv_transpose(ctx, inputs, attrs):
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    nd = len(x.shape) - 2
    group = attrs.get("group", 1)
    strides = attrs.get("strides") or [1] * nd
    dil = attrs.get("dilations") or [1] * nd
    k = list(w.shape[2:])
    out_pad = attrs.get("output_padding") or [0] * nd
    pads = attrs.get("pads")
    in_sp = list(x.shape[2:])
    full = [(in_sp[i] - 1) * strides[i] + (k[i] - 1) * dil[i] + 1 for i in range(nd)]
    if "output_shape" in attrs:
        out_sp = list(attrs["output_shape"])[-nd:]
    else:
        out_sp = None
    auto = attrs.get("auto_pad", "NOTSET")
    if out_sp is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        if out_sp is None:
            out_sp = [in_sp[i] * strides[i] for i in range(nd)]
        total = [full[i] + out_pad[i] - out_sp[i] for i in range(nd)]
        # an output larger than the full transposed convolution grows at the end, as output_padding
        out_pad = [out_pad[i] - min(total[i], 0) for i in range(nd)]
        total = [max(t, 0) for t in total]
        lower = auto == "SAME_LOWER"
        pads = [(t + 1) // 2 if lower else t // 2 for t in total] + [t - ((t + 1) // 2 if lower else t // 2)
                                                                       for t in total]
    pads = pads or [0] * (2 * nd)
    # a transposed convolution is the convolution of the stride-dilated, (k-1)*dil padded input with the
    # flipped, transposed kernel
    cin, cout_g = w.shape[0], w.shape[1]
    wt = w.reshape((group, cin // group, cout_g) + tuple(k))
    wt = E.permute(wt, (0, 2, 1) + tuple(range(3, 3 + nd))).reshape((group * cout_g, cin // group) + tuple(k))
    wt = E.flip(wt, tuple(range(2, 2 + nd)))
    xd = _dilate(x, strides)
    conv_pads = [(k[i] - 1) * dil[i] - pads[i] for i in range(nd)] + \
                [(k[i] - 1) * dil[i] - pads[i + nd] + out_pad[i] for i in range(nd)]
    xd = _pad_or_crop(xd, conv_pads)
    y = _conv(xd, wt, [1] * nd, list(dil), group)
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y


def _dilate(x, strides):
    if all(s == 1 for s in strides):
        return x
    shape = list(x.shape)
    for i, s in enumerate(strides):
        if s == 1:
            continue
        ax = 2 + i
        n = shape[ax]
        z = E.zeros(tuple(shape[:ax]) + (n, s - 1) + tuple(shape[ax + 1:]), dtype=x.dtype)
        y = E.cat([E.unsqueeze(x, ax + 1), z], dim=ax + 1)
        y = y.reshape(tuple(shape[:ax]) + (n * s,) + tuple(shape[ax + 1:]))
        x = y[(slice(None),) * ax + (slice(0, (n - 1) * s + 1),)]
        shape = list(x.shape)
    return x


def _pad_or_crop(x, pads):
    nd = len(pads) // 2
    if any(p < 0 for p in pads):
        key = [slice(None), slice(None)]
        for i in range(nd):
            lo, hi = max(-pads[i], 0), max(-pads[i + nd], 0)
            key.append(slice(lo, x.shape[2 + i] - hi))
        x = x[tuple(key)]
        pads = [max(p, 0) for p in pads]
    return _pad_spatial(x, pads)


def _pool_geometry(attrs, in_sp):
    k = attrs["kernel_shape"]
    nd = len(k)
    strides = attrs.get("strides") or [1] * nd
    dil = attrs.get("dilations") or [1] * nd
    pads = list(attrs.get("pads") or [0] * (2 * nd))
    auto = attrs.get("auto_pad", "NOTSET")
    ceil = attrs.get("ceil_mode", 0)
    eff = [(k[i] - 1) * dil[i] + 1 for i in range(nd)]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out = [-(-in_sp[i] // strides[i]) for i in range(nd)]
        for i in range(nd):
            total = max((out[i] - 1) * strides[i] + eff[i] - in_sp[i], 0)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + nd] = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto == "VALID":
        pads = [0] * (2 * nd)
        out = [(in_sp[i] - eff[i]) // strides[i] + 1 for i in range(nd)]
    if auto not in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        out = []
        for i in range(nd):
            span = in_sp[i] + pads[i] + pads[i + nd] - eff[i]
            o = (-(-span // strides[i]) if ceil else span // strides[i]) + 1
            if ceil and (o - 1) * strides[i] >= in_sp[i] + pads[i]:
                o -= 1  # the last window must start inside the input or its left padding
            out.append(o)
    return k, strides, dil, pads, out


def _windows(x, k, strides, dil, pads, out, fill):
    """The pooling windows of x as a list of tensors of the output's shape, one per kernel offset."""
    nd = len(k)
    extra = [max((out[i] - 1) * strides[i] + (k[i] - 1) * dil[i] + 1 - (x.shape[2 + i] + pads[i] + pads[i + nd]), 0)
             for i in range(nd)]
    full = pads[:nd] + [pads[nd + i] + extra[i] for i in range(nd)]
    xp = _pad_spatial(x, full, fill)
    views = []
    for offs in itertools.product(*[range(n) for n in k]):
        key = [slice(None), slice(None)]
        for i, o in enumerate(offs):
            start = o * dil[i]
            key.append(slice(start, start + (out[i] - 1) * strides[i] + 1, strides[i]))
        views.append(xp[tuple(key)])
    return views, full


@onnx_op("MaxPool", since=(1, 8, 10, 11, 12, 22))
def max_pool(ctx, inputs, attrs):
    x = inputs[0]
    k, strides, dil, pads, out = _pool_geometry(attrs, list(x.shape[2:]))
    if len(ctx.node.output) > 1 and ctx.node.output[1]:
        return _max_pool_with_indices(x, k, strides, dil, pads, out, attrs.get("storage_order", 0))
    if not float_path(x):
        fill = np.iinfo(to_numpy(x).dtype).min
        views, _ = _windows(to_value(to_numpy(x).astype(np.float64)), k, strides, dil, pads, out, float(fill))
        y = views[0]
        for v in views[1:]:
            y = E.maximum(y, v)
        return to_value(to_numpy(y).astype(to_numpy(x).dtype))
    views, _ = _windows(x, k, strides, dil, pads, out, -math.inf)
    y = views[0]
    for v in views[1:]:
        y = E.maximum(y, v)
    return y


def _max_pool_with_indices(x, k, strides, dil, pads, out, storage_order):
    a = to_numpy(x)
    views, full = _windows(x, k, strides, dil, pads, out, -math.inf)
    stacked = np.stack([to_numpy(v) for v in views])
    best = np.argmax(stacked, axis=0)
    nd = len(k)
    offs = np.array(list(itertools.product(*[range(n) for n in k])))
    spatial = list(a.shape[2:])
    coords = []
    for i in range(nd):
        o = np.arange(out[i]).reshape([-1 if j == i else 1 for j in range(nd)])
        coords.append(o * strides[i] + offs[best][..., i] * dil[i] - pads[i])
    if storage_order:  # column-major flat indices
        flat = sum(coords[i] * int(np.prod(spatial[:i])) for i in range(nd))
    else:
        flat = sum(coords[i] * int(np.prod(spatial[i + 1:])) for i in range(nd))
    n, c = a.shape[:2]
    base = (np.arange(n).reshape(-1, 1, *([1] * nd)) * c + np.arange(c).reshape(1, -1, *([1] * nd)))
    idx = base * int(np.prod(spatial)) + flat
    y = views[0]
    for v in views[1:]:
        y = E.maximum(y, v)
    return y, to_value(idx.astype(np.int64))


@onnx_op("AveragePool", since=(1, 7, 10, 11, 19, 22))
def average_pool(ctx, inputs, attrs):
    x = inputs[0]
    k, strides, dil, pads, out = _pool_geometry(attrs, list(x.shape[2:]))
    views, full = _windows(x, k, strides, dil, pads, out, 0.0)
    total = views[0]
    for v in views[1:]:
        total = total + v
    # the divisor: the window's cells inside the input (count_include_pad=0), or inside input + explicit pads
    nd = len(k)
    spatial = list(x.shape[2:])
    ones = np.ones([1, 1] + spatial, dtype=np.float64)
    if attrs.get("count_include_pad", 0):
        ones = np.pad(ones, [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)], constant_values=1)
        inner = [0] * (2 * nd)
        inner[nd:] = [full[nd + i] - pads[nd + i] for i in range(nd)]
    else:
        inner = full
    ones = np.pad(ones, [(0, 0), (0, 0)] + [(inner[i], inner[i + nd]) for i in range(nd)])
    count = np.zeros([1, 1] + out)
    for offs in itertools.product(*[range(n) for n in k]):
        key = [slice(None), slice(None)]
        for i, o in enumerate(offs):
            start = o * dil[i]
            key.append(slice(start, start + (out[i] - 1) * strides[i] + 1, strides[i]))
        count += ones[tuple(key)]
    return total / to_value(count.astype(to_numpy(x).dtype))


@onnx_op("LpPool", since=(1, 2, 11, 18, 22))
def lp_pool(ctx, inputs, attrs):
    x = inputs[0]
    p = attrs.get("p", 2)
    k, strides, dil, pads, out = _pool_geometry(attrs, list(x.shape[2:]))
    views, _ = _windows(x, k, strides, dil, pads, out, 0.0)
    total = None
    for v in views:
        t = E.abs(v) ** p
        total = t if total is None else total + t
    return total ** (1.0 / p)


@onnx_op("GlobalAveragePool", since=(1, 22))
def global_average_pool(ctx, inputs, attrs):
    x = inputs[0]
    return E.mean(x, dim=tuple(range(2, len(x.shape))), keepdim=True)


@onnx_op("GlobalMaxPool", since=(1, 22))
def global_max_pool(ctx, inputs, attrs):
    x = inputs[0]
    return E.amax(x, dim=tuple(range(2, len(x.shape))), keepdim=True)


def _channel(v, nd):
    return v.reshape((1, -1) + (1,) * nd)


@onnx_op("BatchNormalization", since=(1, 6, 7, 9, 14, 15))
def batch_norm(ctx, inputs, attrs):
    x, scale, bias, mean, var = inputs[:5]
    eps = attrs.get("epsilon", 1e-5)
    nd = len(x.shape) - 2
    training = attrs.get("training_mode", 0) and ctx.opset >= 14
    if training:
        axes = (0,) + tuple(range(2, 2 + nd))
        m = E.mean(x, dim=axes)
        v = E.mean((x - _channel(m, nd)) ** 2, dim=axes)
        momentum = attrs.get("momentum", 0.9)
        y = (x - _channel(m, nd)) / E.sqrt(_channel(v, nd) + eps) * _channel(scale, nd) + _channel(bias, nd)
        return y, mean * momentum + m * (1 - momentum), var * momentum + v * (1 - momentum)
    y = (x - _channel(mean, nd)) / E.sqrt(_channel(var, nd) + eps) * _channel(scale, nd) + _channel(bias, nd)
    return y


@onnx_op("InstanceNormalization", since=(1, 6, 22))
def instance_norm(ctx, inputs, attrs):
    x, scale, bias = inputs
    nd = len(x.shape) - 2
    axes = tuple(range(2, 2 + nd))
    m = E.mean(x, dim=axes, keepdim=True)
    v = E.mean((x - m) ** 2, dim=axes, keepdim=True)
    return (x - m) / E.sqrt(v + attrs.get("epsilon", 1e-5)) * _channel(scale, nd) + _channel(bias, nd)


@onnx_op("LayerNormalization", since=17)
def layer_norm(ctx, inputs, attrs):
    x, scale = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    axis = attrs.get("axis", -1)
    axis = axis + len(x.shape) if axis < 0 else axis
    axes = tuple(range(axis, len(x.shape)))
    stash = attrs.get("stash_type", 1)
    xc = x.to(E.float32) if stash == 1 and x.dtype != E.float64 else x
    m = E.mean(xc, dim=axes, keepdim=True)
    v = E.mean((xc - m) ** 2, dim=axes, keepdim=True)
    inv = 1.0 / E.sqrt(v + attrs.get("epsilon", 1e-5))
    y = ((xc - m) * inv).to(x.dtype) * scale
    if bias is not None:
        y = y + bias
    return y, m, inv


@onnx_op("RMSNormalization", since=23)
def rms_norm(ctx, inputs, attrs):
    x, scale = inputs
    axis = attrs.get("axis", -1)
    axis = axis + len(x.shape) if axis < 0 else axis
    axes = tuple(range(axis, len(x.shape)))
    xc = x.to(E.float32) if attrs.get("stash_type", 1) == 1 and x.dtype != E.float64 else x
    ms = E.mean(xc * xc, dim=axes, keepdim=True)
    return (xc / E.sqrt(ms + attrs.get("epsilon", 1e-5))).to(x.dtype) * scale


@onnx_op("GroupNormalization", since=(18, 21))
def group_norm(ctx, inputs, attrs):
    x, scale, bias = inputs
    g = attrs["num_groups"]
    n, c = x.shape[:2]
    nd = len(x.shape) - 2
    xg = x.reshape((n, g, -1))
    m = E.mean(xg, dim=2, keepdim=True)
    v = E.mean((xg - m) ** 2, dim=2, keepdim=True)
    y = ((xg - m) / E.sqrt(v + attrs.get("epsilon", 1e-5))).reshape(tuple(x.shape))
    if ctx.opset < 21:  # scale and bias per group
        scale = E.repeat_interleave(scale, c // g)
        bias = E.repeat_interleave(bias, c // g)
    return y * _channel(scale, nd) + _channel(bias, nd)


@onnx_op("LpNormalization", since=(1, 22))
def lp_normalization(ctx, inputs, attrs):
    x = inputs[0]
    axis, p = attrs.get("axis", -1), attrs.get("p", 2)
    norm = E.sum(E.abs(x), dim=axis, keepdim=True) if p == 1 else E.sqrt(E.sum(x * x, dim=axis, keepdim=True))
    return E.where(norm == 0, E.zeros_like(x), x / E.where(norm == 0, E.ones_like(norm), norm))


@onnx_op("MeanVarianceNormalization", since=(1, 9, 13))
def mean_variance_normalization(ctx, inputs, attrs):
    x = inputs[0]
    axes = tuple(attrs.get("axes", [0, 2, 3]))
    m = E.mean(x, dim=axes, keepdim=True)
    v = E.mean((x - m) ** 2, dim=axes, keepdim=True)
    return (x - m) / (E.sqrt(v) + 1e-9)


@onnx_op("LRN", since=(1, 13))
def lrn(ctx, inputs, attrs):
    x = inputs[0]
    size = attrs["size"]
    alpha, beta, bias = attrs.get("alpha", 1e-4), attrs.get("beta", 0.75), attrs.get("bias", 1.0)
    c = x.shape[1]
    sq = x * x
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    padded = F.pad(sq, (0, 0) * (len(x.shape) - 2) + (lo, hi))
    total = None
    for i in range(size):
        part = E.narrow(padded, 1, i, c)
        total = part if total is None else total + part
    return x / (bias + alpha / size * total) ** beta


@onnx_op("Dropout", since=(1, 6, 7, 10, 12, 13, 22))
def dropout(ctx, inputs, attrs):
    x = inputs[0]
    training = ctx.opset >= 12 and len(inputs) > 2 and inputs[2] is not None and bool(scalar(inputs[2]))
    ratio = scalar(inputs[1], 0.5) if ctx.opset >= 12 and len(inputs) > 1 and inputs[1] is not None else \
        attrs.get("ratio", 0.5)
    if not training or ratio == 0:
        mask = to_value(np.ones(tuple(x.shape), dtype=bool))
        return x, mask
    # with a seed, the mask of onnx's reference implementation (NumPy's legacy generator) for that seed
    keep = np.random.RandomState(attrs.get("seed")).uniform(0, 1.0, tuple(x.shape)) >= ratio
    y = x * to_value(keep.astype(to_numpy(x).dtype)) / (1 - ratio)
    return y, to_value(keep)
