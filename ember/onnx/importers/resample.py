"""Resize and Upsample: every mode (nearest, linear, cubic, antialiased), coordinate transformation, nearest
rounding, exclude_outside, tf_crop_and_resize extrapolation and keep_aspect_ratio_policy.

Interpolation is separable: each resized axis is one matrix product with a (out, in) weight matrix built with
NumPy from onnx's formulas, so the result is differentiable with respect to the input.
"""
import math

import numpy as np

import ember as E
from .._registry import onnx_op
from .._values import is_float, to_numpy, to_value
from ._util import ints


def _nearest(mode):
    def coeffs(ratio, scale):
        if float(ratio).is_integer():
            return np.array([0.0, 1.0])
        if mode == "round_prefer_floor":
            return np.array([ratio <= 0.5, ratio > 0.5], dtype=np.float64)
        if mode == "round_prefer_ceil":
            return np.array([ratio < 0.5, ratio >= 0.5], dtype=np.float64)
        return np.array([1.0, 0.0]) if mode == "floor" else np.array([0.0, 1.0])
    return coeffs


def _linear(antialias):
    def coeffs(ratio, scale):
        if not antialias:
            return np.array([1 - ratio, ratio])
        scale = min(scale, 1.0)
        start = int(np.floor(-1 / scale) + 1)
        args = (np.arange(start, start + 2 - 2 * start) - ratio) * scale
        c = np.clip(1 - np.abs(args), 0, 1)
        return c / c.sum()
    return coeffs


def _cubic(a, antialias):
    def kernel(x):
        x = abs(x)
        if x <= 1:
            return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1
        return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a if x < 2 else 0.0

    def coeffs(ratio, scale):
        if not antialias:
            return np.array([kernel(ratio + 1), kernel(ratio), kernel(1 - ratio), kernel(2 - ratio)])
        scale = min(scale, 1.0)
        start = int(np.floor(-2 / scale) + 1)
        c = np.array([kernel(scale * (i - ratio)) for i in range(start, 2 - start)])
        return c / c.sum()
    return coeffs


def _source(mode, y, scale, n_in, n_out, roi):
    width = scale * n_in
    if mode == "align_corners":
        return np.zeros(n_out) if width == 1 else y * (n_in - 1) / (width - 1)
    if mode == "asymmetric":
        return y / scale
    if mode == "tf_crop_and_resize":
        x = np.full(n_out, (roi[1] - roi[0]) * (n_in - 1) / 2) if width == 1 else \
            y * (roi[1] - roi[0]) * (n_in - 1) / (width - 1)
        return x + roi[0] * (n_in - 1)
    if mode == "pytorch_half_pixel":
        return np.full(n_out, -0.5) if width == 1 else (y + 0.5) / scale - 0.5
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = n_in / 2 * (1 - n_out / width)
        return offset + (y + 0.5) / scale - 0.5
    raise ValueError(f"Resize: unknown coordinate_transformation_mode {mode!r}")


def axis_weights(n_in, n_out, scale, coeffs, mode, roi=None, exclude_outside=False):
    """The (n_out, n_in) interpolation matrix of one axis and the mask of extrapolated output rows."""
    y = np.arange(n_out, dtype=np.float64)
    x = _source(mode, y, scale, n_in, n_out, roi)
    base = np.floor(x).astype(np.int64)
    ratios = np.where(x == base, 1.0, x - base)
    c = np.stack([coeffs(float(r), scale) for r in ratios]) if n_out else np.zeros((0, 2))
    n = c.shape[1]
    pad = int(np.ceil(n / 2))
    xp = x + pad
    p = np.floor(xp).astype(np.int64)
    frac = xp - p
    if n % 2 == 0:
        start = p + np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        start = p + np.where(frac <= 0.5, -((n - 1) // 2), -((n - 1) // 2) + 1)
    idx = start[:, None] + np.arange(n)[None, :] - pad
    if exclude_outside:
        c = np.where((idx < 0) | (idx >= n_in), 0.0, c)
        total = c.sum(axis=1, keepdims=True)
        c = c / np.where(total == 0, 1.0, total)
    w = np.zeros((n_out, n_in))
    np.add.at(w, (np.repeat(np.arange(n_out), n), np.clip(idx, 0, n_in - 1).reshape(-1)), c.reshape(-1))
    extrapolated = (x < 0) | (x > n_in - 1) if mode == "tf_crop_and_resize" else np.zeros(n_out, dtype=bool)
    return w, extrapolated


def _resize(x, sizes, scales, axes, roi, attrs, coeffs, coord_mode):
    r = len(x.shape)
    axes = [a + r if a < 0 else a for a in axes] if axes is not None else list(range(r))
    if roi is not None and len(roi) == 2 * len(axes) and len(axes) != r:
        full = [0.0] * r + [1.0] * r
        for i, d in enumerate(axes):
            full[d], full[r + d] = roi[i], roi[len(axes) + i]
        roi = full
    if sizes is not None:
        out = list(x.shape)
        for i, d in enumerate(axes):
            out[d] = sizes[i]
        scale = [out[i] / x.shape[i] for i in range(r)]
        policy = attrs.get("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            s = (min if policy == "not_larger" else max)(scale[d] for d in axes)
            scale = [s if i in axes else 1.0 for i in range(r)]
            out = [int(s * x.shape[i] + 0.5) if i in axes else x.shape[i] for i in range(r)]
    else:
        scale = [1.0] * r
        for i, d in enumerate(axes):
            scale[d] = scales[i]
        out = [int(scale[i] * x.shape[i]) for i in range(r)]
    floating = is_float(x)
    y = x if floating else to_value(to_numpy(x).astype(np.float64))
    extrap_value = attrs.get("extrapolation_value", 0.0)
    for d in axes:
        same_roi = roi is None or (math.isclose(roi[d], 0.0) and math.isclose(roi[d + r], 1.0))
        if math.isclose(scale[d], 1.0) and out[d] == y.shape[d] and same_roi:
            continue
        w, extra = axis_weights(y.shape[d], out[d], scale[d], coeffs, coord_mode,
                                None if roi is None else [roi[d], roi[d + r]], attrs.get("exclude_outside", 0))
        moved = E.movedim(y, d, -1)
        res = E.matmul(moved, to_value(w.T.astype(to_numpy(moved).dtype)))
        if extra.any():
            keep = to_value((~extra).astype(to_numpy(res).dtype))
            res = res * keep + to_value((extra * extrap_value).astype(to_numpy(res).dtype))
        y = E.movedim(res, -1, d)
    if floating:
        return y
    dt = to_numpy(x).dtype
    info = np.iinfo(dt)
    return to_value(np.clip(np.round(to_numpy(y)), info.min, info.max).astype(dt))


def _coeffs(attrs, opset):
    mode = attrs.get("mode", "nearest")
    antialias = attrs.get("antialias", 0)
    if mode == "nearest":
        return _nearest(attrs.get("nearest_mode", "round_prefer_floor") if opset >= 11 else "floor")
    if mode in ("linear", "bilinear"):
        return _linear(antialias)
    if mode in ("cubic", "bicubic"):
        return _cubic(attrs.get("cubic_coeff_a", -0.75), antialias)
    raise ValueError(f"Resize: unknown mode {mode!r}")


def _floats(v):
    if v is None:
        return None
    a = np.asarray(to_numpy(v), dtype=np.float64).reshape(-1)
    return list(a) if a.size else None


@onnx_op("Resize", since=(10, 11, 13, 18, 19))
def resize(ctx, inputs, attrs):
    x = inputs[0]
    if ctx.opset < 11:
        return _resize(x, None, _floats(inputs[1]), None, None, attrs, _coeffs(attrs, 10), "asymmetric")
    inputs = list(inputs) + [None] * (4 - len(inputs))
    roi, scales, sizes = _floats(inputs[1]), _floats(inputs[2]), inputs[3]
    sizes = ints(sizes) if sizes is not None and to_numpy(sizes).size else None
    coord = attrs.get("coordinate_transformation_mode", "half_pixel")
    return _resize(x, sizes, None if sizes is not None else scales, attrs.get("axes"), roi, attrs,
                   _coeffs(attrs, ctx.opset), coord)


@onnx_op("Upsample", since=(7, 9))
def upsample(ctx, inputs, attrs):
    scales = attrs["scales"] if ctx.opset < 9 else _floats(inputs[1])
    return _resize(inputs[0], None, scales, None, None, attrs, _coeffs(attrs, 10), "asymmetric")
