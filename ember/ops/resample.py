"""Resampling: linear maps along axes (AxisMap), applied by the op Resample and its adjoint ResampleT: interpolate,
and the maps that adaptive average pooling (pooling.py) and reflect/replicate/circular padding (padding.py) are made
of. ConstantPad lives here too: pad's constant mode (padding.py), and the copy that resampling with identity maps
returns.
"""
import math
import warnings

import numpy as np  # host-side index tables and shapes only; device math goes through xp

from ..autograd import Node
from ..autograd.graph import apply
from ._checks import check_tensor
from ._window import alloc, memory_order
from .meta import TensorMeta
from .registry import export, register


# ---------------------------------------------------------------------------------------------------------------
# resampling: linear maps along axes (interpolate, adaptive average pooling, reflect/replicate/circular padding)

_DENSE_MAX = 1024  # along an axis this long or shorter, a map is applied as a dense matrix (one matmul)


class AxisMap:
    """y[..., i, ...] = sum_t w[i, t] * x[..., idx[i, t], ...] along one axis (w None: a gather, one tap)."""

    __slots__ = ("axis", "n_in", "idx", "w", "_m", "mean", "runs")

    def __init__(self, axis, n_in, idx, w=None):
        self.axis, self.n_in, self.idx, self.w, self._m = axis, n_in, idx, w, None
        # a whole-axis mean (global average pooling)
        self.mean = idx.shape == (1, n_in) and w is not None and (idx == np.arange(n_in)).all() and \
            (w == 1.0 / n_in).all()
        self.runs = _gather_runs(idx[:, 0], n_in) if w is None and idx.shape[1] == 1 else None

    def matrix(self):
        if self._m is None:
            n_out = self.idx.shape[0]
            m = np.zeros((n_out, self.n_in))
            np.add.at(m, (np.arange(n_out)[:, None], self.idx), 1.0 if self.w is None else self.w)
            self._m = m
        return self._m

    def dense(self):
        return max(self.n_in, self.idx.shape[0]) <= _DENSE_MAX


_MAX_RUNS = 16


def _gather_runs(idx, n_in):
    """A gather as a few strided copies [(j0, jstep, length, i0, istep)]: y[j0::jstep] = x[i0::istep] (lengths
    cut), or None. Finds the runs of pads (a reflected, repeated or wrapped border around the identity) and of
    nearest upsampling by an integer factor."""
    n, runs, j = len(idx), [], 0
    while j < n and len(runs) <= _MAX_RUNS:
        st, e = (int(idx[j + 1] - idx[j]) if j + 1 < n else 0), j + 1
        if st:
            while e < n and idx[e] - idx[e - 1] == st:
                e += 1
        runs.append((j, 1, e - j, int(idx[j]), st or 1))
        j = e
    r = n // n_in
    if 1 < r < len(runs) and r * n_in == n and (idx == np.arange(n) // r).all():
        return [(ph, r, n_in, 0, 1) for ph in range(r)]
    return runs if len(runs) <= _MAX_RUNS else None


def _run_slices(run, ax):
    j0, js, length, i0, st = run
    end = i0 + st * (length - 1) + (1 if st > 0 else -1)
    lead = (slice(None),) * ax
    return lead + (slice(j0, j0 + js * (length - 1) + 1, js),), lead + (slice(i0, end if end >= 0 else None, st),)


def _along(xp, x, axis, m):
    """The matrix m (n_out, n_in) applied along axis (negative) of x."""
    if axis == -1:
        return (x.reshape(-1, x.shape[-1]) @ m.T).reshape(x.shape[:-1] + (m.shape[0],))
    if axis == -2:
        return xp.matmul(m, x)
    return xp.moveaxis(xp.matmul(m, xp.moveaxis(x, axis, -2)), -2, axis)


def _map_forward(xp, x, mp):
    if mp.mean:
        return x.mean(axis=mp.axis, keepdims=True)
    if mp.runs is not None:
        ax = x.ndim + mp.axis
        out = xp.empty(x.shape[:ax] + (mp.idx.shape[0],) + x.shape[ax + 1:], x.dtype)
        for run in mp.runs:
            dst, src = _run_slices(run, ax)
            out[dst] = x[src]
        return out
    if mp.w is None and mp.idx.shape[1] == 1:
        return xp.take(x, xp.asarray(mp.idx[:, 0]), axis=mp.axis)
    if mp.dense():
        return _along(xp, x, mp.axis, xp.asarray(mp.matrix(), dtype=x.dtype))
    shape = (-1,) + (1,) * (-mp.axis - 1)
    out = None
    for t in range(mp.idx.shape[1]):
        v = xp.take(x, xp.asarray(mp.idx[:, t]), axis=mp.axis)
        if mp.w is not None:
            v *= xp.asarray(mp.w[:, t].reshape(shape), dtype=x.dtype)
        out = v if out is None else xp.add(out, v, out=out)
    return out


def _map_backward(xp, g, mp):
    if mp.mean:
        out = xp.empty(g.shape[:g.ndim + mp.axis] + (mp.n_in,) + g.shape[g.ndim + mp.axis + 1:], g.dtype)
        out[...] = g * (1.0 / mp.n_in)
        return out
    ax = g.ndim + mp.axis
    if mp.runs is not None:
        out = xp.zeros(g.shape[:ax] + (mp.n_in,) + g.shape[ax + 1:], g.dtype)
        for run in mp.runs:
            src, dst = _run_slices(run, ax)
            out[dst] += g[src]
        return out
    if mp.dense():
        return _along(xp, g, mp.axis, xp.asarray(mp.matrix().T, dtype=g.dtype))
    out = xp.zeros(g.shape[:ax] + (mp.n_in,) + g.shape[ax + 1:], g.dtype)
    shape = (-1,) + (1,) * (-mp.axis - 1)
    for t in range(mp.idx.shape[1]):
        v = g if mp.w is None else g * xp.asarray(mp.w[:, t].reshape(shape), dtype=g.dtype)
        xp.add.at(out, (slice(None),) * ax + (xp.asarray(mp.idx[:, t]),), v)
    return out


@register
class Resample(Node):
    """A sequence of AxisMap linear maps along trailing axes."""

    saves = ()

    def __init__(self, maps):
        self.maps = maps

    def infer(self, x):
        shape = list(x.shape)
        for mp in self.maps:
            shape[mp.axis] = mp.idx.shape[0]
        return TensorMeta(tuple(shape), x.dtype)

    def forward(self, xp, x):
        if all(mp.mean for mp in self.maps):  # global average pooling: one reduction
            self.order = memory_order(x)
            return x.mean(axis=tuple(mp.axis for mp in self.maps), keepdims=True)
        for mp in self.maps:
            x = _map_forward(xp, x, mp)
        return x

    def backward(self, g):
        node = ResampleT(self.maps)
        node.order = self.__dict__.get("order")
        return (apply(node, g),)


@register
class ResampleT(Resample):
    """The adjoint (gradient) of Resample."""

    def infer(self, g):
        shape = list(g.shape)
        for mp in self.maps:
            shape[mp.axis] = mp.n_in
        return TensorMeta(tuple(shape), g.dtype)

    def forward(self, xp, g):
        if all(mp.mean for mp in self.maps):
            shape, n = list(g.shape), 1
            for mp in self.maps:
                shape[mp.axis] = mp.n_in
                n *= mp.n_in
            out = alloc(xp, tuple(shape), g.dtype, self.__dict__.get("order") or range(g.ndim))
            out[...] = g * (1.0 / n)
            return out
        for mp in reversed(self.maps):
            g = _map_backward(xp, g, mp)
        return g

    def backward(self, gg):
        return (apply(Resample(self.maps), gg),)


def _identity(mp):
    n = mp.n_in
    if mp.idx.shape[0] != n or not (mp.idx[:, 0] == np.arange(n)).all():
        return False
    return mp.w is None or (mp.w[:, 0] == 1).all()


def resample(input, maps):
    """Apply the maps that are not the identity (a copy when none is left, as PyTorch returns a new tensor)."""
    maps = tuple(m for m in maps if not _identity(m))
    if not maps:
        return apply(ConstantPad(((0, 0),) * input._data.ndim), input)
    return apply(Resample(maps), input)


@register
class ConstantPad(Node):
    """Pad (or crop, for negative amounts) every dimension by (before, after) with a constant."""

    saves = ()

    def __init__(self, pads, value=0.0):
        self.pads, self.value = pads, value

    def infer(self, x):
        return TensorMeta(tuple(n + a + b for n, (a, b) in zip(x.shape, self.pads)), x.dtype)

    def forward(self, xp, x):
        shape = tuple(n + a + b for n, (a, b) in zip(x.shape, self.pads))
        out = xp.zeros(shape, x.dtype) if self.value == 0 else xp.full(shape, self.value, x.dtype)
        dst = tuple(slice(max(a, 0), m - max(b, 0)) for m, (a, b) in zip(shape, self.pads))
        src = tuple(slice(max(-a, 0), n - max(-b, 0)) for n, (a, b) in zip(x.shape, self.pads))
        out[dst] = x[src]
        return out

    def backward(self, g):
        return (apply(ConstantPad(tuple((-a, -b) for a, b in self.pads)), g),)


def adaptive_windows(n, out):
    """Start and end of each adaptive pooling window (PyTorch's floor/ceil rule)."""
    i = np.arange(out)
    return (i * n) // out, ((i + 1) * n + out - 1) // out


def adaptive_avg_map(axis, n, out):
    start, end = adaptive_windows(n, out)
    taps = int((end - start).max())
    idx = start[:, None] + np.arange(taps)
    valid = idx < end[:, None]
    w = np.where(valid, 1.0 / (end - start)[:, None], 0.0)
    return AxisMap(axis, n, np.minimum(idx, end[:, None] - 1), w)


# ---------------------------------------------------------------------------------------------------------------
# interpolate


def _nearest_map(axis, n, out, scale, exact):
    i = np.arange(out)
    if not exact and out == n:
        idx = i
    elif not exact and out == 2 * n:
        idx = i >> 1
    else:  # PyTorch computes these indices in float32
        sc = np.float32(1.0 / scale) if scale else np.float32(n) / np.float32(out)
        src = (i + 0.5) * np.float64(sc) if exact else i.astype(np.float32) * sc
        idx = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), n - 1)
    return AxisMap(axis, n, idx.reshape(-1, 1))


def _opmath(dtype):
    """The float type PyTorch computes sampling positions and weights in for this dtype."""
    return np.float64 if dtype == np.float64 else np.float32


def _source_scale(n, out, scale, align_corners, f):
    """Input positions per output position (PyTorch's area_pixel_compute_scale)."""
    if align_corners:
        return f(n - 1) / f(out - 1) if out > 1 else f(0)
    return f(1.0 / scale) if scale else f(n) / f(out)


def _source_index(n, out, scale, align_corners, f):
    """Each output position's position in the input, and the nearest input index at or below it (clamped to the
    last), and the fraction past it (PyTorch's guard_index_and_lambda)."""
    i = np.arange(out).astype(f)
    sc = _source_scale(n, out, scale, align_corners, f)
    src = sc * i if align_corners else sc * (i + f(0.5)) - f(0.5)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    return src, i0, np.clip(src - i0, 0, 1).astype(f)


def _linear_map(axis, n, out, scale, align_corners, dtype):
    f = _opmath(dtype)
    src, i0, lam = _source_index(n, out, scale, align_corners, f)
    if not align_corners and (src < 0).any():  # linear modes clamp positions left of the first pixel's centre
        src, i0, lam = np.maximum(src, f(0)), np.maximum(i0, 0), np.where(src < 0, f(0), lam)
    i1 = i0 + (i0 < n - 1)
    return AxisMap(axis, n, np.stack([i0, i1], 1), np.stack([1 - lam, lam], 1).astype(np.float64))


def _cubic(x, a):
    """Keys' cubic convolution kernel at |x| (a = -0.75 as OpenCV, -0.5 as PIL)."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0)).astype(x.dtype)


def _cubic_map(axis, n, out, scale, align_corners, dtype):
    """Bicubic along one axis (PyTorch's: a = -0.75, the four taps clamped to the input's ends)."""
    f = _opmath(dtype)
    _, i0, t = _source_index(n, out, scale, align_corners, f)
    a = f(-0.75)
    w = np.stack([_cubic(t + f(1), a), _cubic(t, a), _cubic(f(1) - t, a), _cubic(f(2) - t, a)], 1)
    idx = np.clip(i0[:, None] + np.arange(-1, 3), 0, n - 1)
    return AxisMap(axis, n, idx, w.astype(np.float64))


def _antialias_map(axis, n, out, scale, align_corners, dtype, cubic):
    """Bilinear or bicubic with antialiasing along one axis (PyTorch's, as PIL): when shrinking, the filter
    (triangle, or cubic with a = -0.5) is stretched over the input pixels an output pixel covers, its weights
    normalised to sum to one."""
    f = _opmath(dtype)
    sc = _source_scale(n, out, scale, align_corners, f)
    half = f(2 if cubic else 1)  # half the filter's width
    support = half * sc if sc >= 1 else half
    taps = int(np.ceil(support)) * 2 + 1
    inv = f(1) / sc if sc >= 1 else f(1)
    center = sc * (np.arange(out).astype(f) + f(0.5))
    first = np.maximum((center - support + f(0.5)).astype(np.int64), 0)  # truncated, as C's cast
    count = np.clip(np.minimum((center + support + f(0.5)).astype(np.int64), n) - first, 0, taps)
    j = np.arange(taps)
    x = ((first[:, None] + j).astype(f) - center[:, None] + f(0.5)) * inv
    w = _cubic(x, f(-0.5)) if cubic else np.maximum(f(0), f(1) - np.abs(x))
    w = np.where(j < count[:, None], w, f(0))
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total != 0, w / np.where(total != 0, total, f(1)), w)
    return AxisMap(axis, n, np.minimum(first[:, None] + j, n - 1), w.astype(np.float64))


_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}
_INTERPOLATING = {**_LINEAR, "bicubic": 2}  # mode -> its spatial dimensions


@export(Resample, ConstantPad, ember=False, functional=True)
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions of a batch of signals, images or volumes to ``size`` or by ``scale_factor``.

    Modes: ``'nearest'`` (PyTorch's legacy floor rule), ``'nearest-exact'`` (pixel centres), ``'linear'`` (3-d input),
    ``'bilinear'`` and ``'bicubic'`` (4-d), ``'trilinear'`` (5-d) and ``'area'`` (adaptive average pooling). Give
    exactly one of ``size`` and ``scale_factor`` (else ValueError).

    Args:
        input (Tensor): a floating-point (N, C, ...) tensor with 1 to 3 spatial dimensions.
        size (int or tuple, optional): the output's spatial size. Default: None.
        scale_factor (float or tuple, optional): the multiplier of each spatial size (the output size is floored).
            Default: None.
        mode (str): the resampling method. Default: ``'nearest'``.
        align_corners (bool, optional): for the linear and bicubic modes only (else ValueError): map the corner
            pixels' centres onto each other rather than the corners of the outer pixels; None means False.
            Default: None.
        recompute_scale_factor (bool, optional): compute the sampling from the floored output size rather than from
            ``scale_factor``. Default: None.
        antialias (bool): for ``'bilinear'`` and ``'bicubic'`` (else ValueError): when shrinking, average over
            every input pixel an output pixel covers (PIL's filters) rather than sample. Default: False.

    Returns:
        Tensor: the resized tensor, of ``input``'s dtype.

    Shape:
        - Input: (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        - Output: (N, C, *size), or each spatial size times ``scale_factor``, floored.

    PyTorch:
        ``torch.nn.functional.interpolate``; same semantics.

    Example:
        >>> x = ember.tensor([[[1.0, 2.0, 4.0]]])
        >>> F.interpolate(x, scale_factor=2)
        tensor([[[1., 1., 2., 2., 4., 4.]]])
        >>> F.interpolate(x, size=5, mode="linear", align_corners=True)
        tensor([[[1.0000, 1.5000, 2.0000, 3.0000, 4.0000]]])
        >>> F.interpolate(ember.ones(1, 3, 4, 4), size=(2, 3), mode="bilinear").shape
        ember.Size([1, 3, 2, 3])
    """
    op = "interpolate"
    check_tensor(input, op)
    nd = input._data.ndim - 2
    if mode not in ("nearest", "nearest-exact", "area") + tuple(_INTERPOLATING) or nd not in (1, 2, 3):
        raise NotImplementedError(f"{op}: only 3-D, 4-D and 5-D inputs are supported for the modes nearest | "
                                  f"nearest-exact | linear | bilinear | bicubic | trilinear | area, got a "
                                  f"{input._data.ndim}-D input and mode {mode!r}")
    if align_corners is not None and mode not in _INTERPOLATING:
        raise ValueError(f"{op}: align_corners option can only be set with the interpolating modes: "
                         f"linear | bilinear | bicubic | trilinear (got mode {mode!r})")
    if mode in _INTERPOLATING and _INTERPOLATING[mode] != nd:
        raise NotImplementedError(f"{op}: got a {input._data.ndim}-D input, but {mode} mode needs a "
                                  f"{_INTERPOLATING[mode] + 2}-D input")
    if antialias and mode not in ("bilinear", "bicubic"):
        raise ValueError(f"{op}: Anti-alias option is restricted to bilinear and bicubic modes and requires a 4-D "
                         f"tensor as input (got mode {mode!r})")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating-point input, got {input.dtype}")
    ins = tuple(input._data.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: " + ("only one of size or scale_factor should be defined" if size is not None
                                      else "either size or scale_factor should be defined"))
    if size is not None:
        outs = tuple(int(s) for s in size) if isinstance(size, (list, tuple)) else (int(size),) * nd
        if len(outs) != nd:
            raise ValueError(f"{op}: input with spatial shape {ins} needs a size of {nd} ints, got {size!r}")
        scales = (None,) * nd
    else:
        scales = tuple(float(s) for s in scale_factor) if isinstance(scale_factor, (list, tuple)) \
            else (float(scale_factor),) * nd
        if len(scales) != nd:
            raise ValueError(f"{op}: input with spatial shape {ins} needs a scale_factor of {nd} numbers, "
                             f"got {scale_factor!r}")
        outs = tuple(int(math.floor(n * s)) for n, s in zip(ins, scales))
        if recompute_scale_factor:
            scales = (None,) * nd
    if any(o <= 0 for o in outs):
        raise ValueError(f"{op}: output size {outs} must be positive (input shape {tuple(input._data.shape)})")
    if mode == "area":
        maps = [adaptive_avg_map(-nd + i, n, o) for i, (n, o) in enumerate(zip(ins, outs))]
    elif mode in ("nearest", "nearest-exact"):
        maps = [_nearest_map(-nd + i, n, o, s, mode == "nearest-exact")
                for i, (n, o, s) in enumerate(zip(ins, outs, scales))]
    else:
        dtype = input._data.dtype
        if antialias:
            make = lambda *a: _antialias_map(*a, dtype, mode == "bicubic")  # noqa: E731
        else:
            make = lambda *a: (_cubic_map if mode == "bicubic" else _linear_map)(*a, dtype)  # noqa: E731
        maps = [make(-nd + i, n, o, s, bool(align_corners)) for i, (n, o, s) in enumerate(zip(ins, outs, scales))]
    return resample(input, maps)


def _deprecated(name):
    warnings.warn(f"`nn.functional.{name}` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=3)


@export(Resample, ConstantPad, ember=False, functional=True)
def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """``interpolate`` under its old name, with a deprecation warning.

    Args:
        input (Tensor): as in ``interpolate``.
        size (int or tuple, optional): as in ``interpolate``. Default: None.
        scale_factor (float or tuple, optional): as in ``interpolate``. Default: None.
        mode (str): as in ``interpolate``. Default: ``'nearest'``.
        align_corners (bool, optional): as in ``interpolate``. Default: None.

    Returns:
        Tensor: the resized tensor.

    PyTorch:
        ``torch.nn.functional.upsample``; same semantics (deprecated there too).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True):
        ...     F.upsample(ember.tensor([[[1.0, 2.0]]]), scale_factor=2)
        tensor([[[1., 1., 2., 2.]]])
    """
    _deprecated("upsample")
    return interpolate(input, size, scale_factor, mode, align_corners)


@export(Resample, ConstantPad, ember=False, functional=True)
def upsample_nearest(input, size=None, scale_factor=None):
    """``interpolate(..., mode='nearest')`` under its old name, with a deprecation warning.

    Args:
        input (Tensor): as in ``interpolate``.
        size (int or tuple, optional): as in ``interpolate``. Default: None.
        scale_factor (float or tuple, optional): as in ``interpolate``. Default: None.

    Returns:
        Tensor: the resized tensor.

    PyTorch:
        ``torch.nn.functional.upsample_nearest``; same semantics (deprecated there too).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True):
        ...     F.upsample_nearest(ember.tensor([[[1.0, 2.0]]]), scale_factor=2)
        tensor([[[1., 1., 2., 2.]]])
    """
    _deprecated("upsample_nearest")
    return interpolate(input, size, scale_factor, mode="nearest")


@export(Resample, ConstantPad, ember=False, functional=True)
def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(..., mode='bilinear', align_corners=True)`` under its old name, with a deprecation warning.

    Args:
        input (Tensor): as in ``interpolate`` (4-D).
        size (int or tuple, optional): as in ``interpolate``. Default: None.
        scale_factor (float or tuple, optional): as in ``interpolate``. Default: None.

    Returns:
        Tensor: the resized tensor.

    PyTorch:
        ``torch.nn.functional.upsample_bilinear``; same semantics (deprecated there too).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True):
        ...     F.upsample_bilinear(ember.ones(1, 1, 2, 2), size=3).shape
        ember.Size([1, 1, 3, 3])
    """
    _deprecated("upsample_bilinear")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
