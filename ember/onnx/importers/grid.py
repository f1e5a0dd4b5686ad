"""Spatial sampling ONNX ops: AffineGrid (differentiable in theta), DeformConv (bilinear samples at the offset
kernel positions, then a grouped matrix product: differentiable in the input, weights, bias and mask) and GridSample (nearest, linear, cubic; zeros,
border, reflection padding; any number of spatial dimensions), whose output is a weighted gather of the input
(differentiable in the input; the sampling weights come from the grid as constants)."""
import itertools

import numpy as np

import ember as E
from .._registry import onnx_op
from .._values import to_numpy, to_value
from ._util import ints


def _base_coords(n, align_corners):
    if align_corners:
        return np.linspace(-1.0, 1.0, n) if n > 1 else np.array([-1.0])
    step = 2.0 / n
    return -1 + step / 2 + step * np.arange(n)


@onnx_op("AffineGrid", since=20)
def affine_grid(ctx, inputs, attrs):
    theta, size = inputs[0], ints(inputs[1])
    align = attrs.get("align_corners", 0)
    spatial = size[2:]
    axes = [_base_coords(n, align) for n in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")
    # homogeneous coordinates (x, y[, z], 1) with x along the last spatial axis
    base = np.stack([m.reshape(-1) for m in reversed(mesh)] + [np.ones(mesh[0].size)], axis=1)
    grid = E.matmul(theta, to_value(base.T.astype(to_numpy(theta).dtype)))  # (N, nd, points)
    return E.permute(grid, (0, 2, 1)).reshape((theta.shape[0],) + tuple(spatial) + (len(spatial),))


def _reflect(x, lo, hi):
    span = hi - lo
    below, above = x < lo, x > hi
    dx = np.where(below, lo - x, x - hi)
    n = np.floor(dx / span) if span > 0 else np.zeros_like(dx)
    r = dx - n * span
    even = n % 2 == 0
    return np.where(below, np.where(even, lo + r, hi - r), np.where(above, np.where(even, hi - r, lo + r), x))


def _cubic(t):
    a = -0.75
    t = np.abs(t)
    return [((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
            ((a + 2) * t - (a + 3)) * t * t + 1,
            ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
            ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a]


def _taps(x, n, mode, padding, lo, hi):
    """Per output point: a list of (index, weight, valid) for one spatial axis."""
    if mode == "nearest":
        x = np.rint(x)
    out = (x < lo) | (x > hi)
    if padding == "border":
        x = np.where(out, np.clip(x, 0, n - 1), x)
    elif padding == "reflection":
        x = np.where(out, _reflect(x, lo, hi), x)
    if mode == "nearest":
        offsets, weights = [np.trunc(x).astype(np.int64)], [np.ones_like(x)]
    else:
        x0 = np.floor(x)
        frac = x - x0
        x0 = x0.astype(np.int64)
        if mode == "linear":
            offsets, weights = [x0, x0 + 1], [1 - frac, frac]
        else:
            offsets, weights = [x0 - 1, x0, x0 + 1, x0 + 2], _cubic(frac)
    taps = []
    for i, w in zip(offsets, weights):
        if padding == "zeros":
            valid = (i >= 0) & (i < n)
            i = np.clip(i, 0, n - 1)
        elif padding == "border":
            valid = np.ones(i.shape, dtype=bool)
            i = np.clip(i, 0, n - 1)
        else:
            valid = np.ones(i.shape, dtype=bool)
            i = np.clip(np.trunc(_reflect(i.astype(np.float64), lo, hi)).astype(np.int64), 0, n - 1)
        taps.append((i, w, valid))
    return taps


@onnx_op("GridSample", since=(16, 20, 22))
def grid_sample(ctx, inputs, attrs):
    x, grid = inputs
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(attrs.get("mode", "linear" if ctx.opset >= 20 else
                                                                    "bilinear"), attrs.get("mode", "linear"))
    padding = attrs.get("padding_mode", "zeros")
    align = attrs.get("align_corners", 0)
    n, c = x.shape[:2]
    dims = list(x.shape[2:])
    nd = len(dims)
    g = to_numpy(grid).astype(np.float64)
    out_shape = g.shape[1:-1]
    per_axis = []
    for i, d in enumerate(dims):
        v = g[..., nd - 1 - i]
        coord = (v + 1) / 2 * (d - 1) if align else ((v + 1) * d - 1) / 2
        lo, hi = (0.0, d - 1.0) if align else (-0.5, d - 0.5)
        per_axis.append(_taps(coord.reshape(n, -1), d, mode, padding, lo, hi))
    flat = E.permute(x, (0,) + tuple(range(2, 2 + nd)) + (1,)).reshape((n, -1, c))
    batch = np.arange(n).reshape(n, 1)
    dtype = to_numpy(x).dtype
    total = None
    for combo in itertools.product(*per_axis):
        index = np.zeros(combo[0][0].shape, dtype=np.int64)
        weight = np.ones(combo[0][0].shape)
        for (i, w, valid), d in zip(combo, dims):
            index = index * d + i
            weight = weight * w * valid
        picked = flat[to_value(np.broadcast_to(batch, index.shape).copy()), to_value(index)]
        term = picked * to_value(weight[..., None].astype(dtype))
        total = term if total is None else total + term
    y = total.reshape((n,) + tuple(out_shape) + (c,))
    return E.permute(y, (0, nd + 1) + tuple(range(1, nd + 1)))


@onnx_op("DeformConv", since=(19, 22))
def deform_conv(ctx, inputs, attrs):
    inputs = list(inputs) + [None] * (5 - len(inputs))
    x, w, offset, bias, mask = inputs[:5]
    n, c, h, wd = x.shape
    oc, icg = w.shape[:2]
    kh, kw = attrs.get("kernel_shape") or w.shape[2:]
    sh, sw = attrs.get("strides") or [1, 1]
    dh, dw = attrs.get("dilations") or [1, 1]
    pads = attrs.get("pads") or [0, 0, 0, 0]
    group, ogroups = attrs.get("group", 1), attrs.get("offset_group", 1)
    oh, ow = offset.shape[2:]
    off = to_numpy(offset).astype(np.float64).reshape(n, ogroups, kh, kw, 2, oh, ow)
    m = mask.reshape((n, ogroups, kh, kw, oh * ow)) if mask is not None else None
    base_y = (-pads[0] + sh * np.arange(oh))[:, None]
    base_x = (-pads[1] + sw * np.arange(ow))[None, :]
    flat = x.reshape((n, c, h * wd))
    cpg = c // ogroups
    dtype = to_numpy(flat).dtype
    cols = []  # per kernel position: (N, C, oh * ow)
    for a in range(kh):
        for b in range(kw):
            per_group = []
            for g in range(ogroups):
                ys = (base_y + a * dh + off[:, g, a, b, 0]).reshape(n, -1)
                xs = (base_x + b * dw + off[:, g, a, b, 1]).reshape(n, -1)
                part = flat[:, g * cpg:(g + 1) * cpg]
                sample = None
                for (iy, wy, vy), (ix, wx, vx) in itertools.product(
                        _taps(ys, h, "linear", "zeros", 0.0, h - 1.0), _taps(xs, wd, "linear", "zeros", 0.0, wd - 1.0)):
                    index = np.broadcast_to((iy * wd + ix)[:, None, :], (n, cpg, iy.shape[1])).copy()
                    term = E.gather(part, 2, to_value(index)) * to_value((wy * wx * vy * vx)[:, None, :].astype(dtype))
                    sample = term if sample is None else sample + term
                if m is not None:
                    sample = sample * E.unsqueeze(m[:, g, a, b], 1)
                per_group.append(sample)
            cols.append(E.cat(per_group, dim=1) if ogroups > 1 else per_group[0])
    stacked = E.stack(cols, dim=2)  # (N, C, kh * kw, P) -> grouped (N, group, icg * kh * kw, P)
    stacked = stacked.reshape((n, group, icg * kh * kw, oh * ow))
    weights = w.reshape((group, oc // group, icg * kh * kw))
    y = E.matmul(weights, stacked).reshape((n, oc, oh, ow))
    if bias is not None:
        y = y + bias.reshape((1, -1, 1, 1))
    return y
