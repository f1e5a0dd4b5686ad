"""Pooling: max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool1d/2d and adaptive_max_pool1d/2d (the 3-D ones, in
pooling3d.py, run these).

As for convolutions (see _window), every op works on 2-D internally (a 1-D op runs as 2-D with height 1), the
windows are strided views of the (padded) input, and outputs and gradients are new C-contiguous arrays (as
PyTorch's): the gradients are added back straight into the input's shape (scatter_slices). Each pooling op and
its scatter-back are a pair of adjoint ops, so double backward works. Adaptive average pooling is a resampling (a
linear map along each axis, see resample); adaptive max pooling gathers its uneven windows onto a regular grid and
max-pools that. A bfloat16 input is pooled in float32 and the output rounded to bfloat16 (bfloat16_in_float32).
"""
import functools
import math

import numpy as np  # host-side index tables and shapes only; device math goes through xp

from ..autograd import Node, is_grad_enabled
from ..autograd.graph import apply
from ..tensor import Tensor
from ._window import Window, check_input, check_positive, geometry2d, kernel_slices, ntuple, place, scatter_slices
from .meta import TensorMeta
from .registry import export, register
from .resample import AxisMap, ConstantPad, Resample, adaptive_avg_map, adaptive_windows, resample


# ---------------------------------------------------------------------------------------------------------------
# pooling ops


class _PoolOp(Node):
    saves = ()

    def __init__(self, geo, one_d):
        self.geo, self.one_d = geo, one_d

    def _in(self, a):
        return a.reshape(a.shape[:-1] + (1, a.shape[-1])) if self.one_d else a

    def _out(self, a):
        return a[..., 0, :] if self.one_d else a

    def _meta(self, a, dim):
        """The meta of a pooled (dim "n_out") or unpooled (dim "n_in") array of a's leading dimensions."""
        gh, gw = self.geo
        if self.one_d:
            return TensorMeta(a.shape[:-1] + (getattr(gw, dim),), a.dtype)
        return TensorMeta(a.shape[:-2] + (getattr(gh, dim), getattr(gw, dim)), a.dtype)


@register
class MaxPool(_PoolOp):
    """Max over windows; ``kidx`` keeps the kernel position of each maximum, the one PyTorch's scan picks (it
    replaces its running maximum by a greater value or a NaN): the first maximum, the last NaN, and in a window of
    -inf only its first element inside the input (never the padding).

    With ``positions`` (PyTorch's return_indices) a second output gives the flat position h * W + w of each maximum
    in the input: ``positions`` is (rows (OH,), dh, cols (OW,), dw, W), the input row and column where each output
    row's and column's window starts, the input distances between kernel rows and columns, and the input width (see
    _window_positions); adaptive pooling adds (row_taps (OH,), col_taps (OW,)), the window lengths, as its grid
    repeats a window's last element up to the longest window."""

    def __init__(self, geo, one_d, need_idx=True, positions=None):
        super().__init__(geo, one_d)
        self.need_idx = need_idx or positions is not None
        self.positions = positions
        if positions is not None:
            self.n_outputs = 2

    def infer(self, x):
        out = self._meta(x, "n_out")
        return out if self.positions is None else (out, TensorMeta(out.shape, np.dtype(np.int64)))

    def forward(self, xp, x):
        buf = place(xp, self._in(x), self.geo, -math.inf)
        views = [buf[sl] for sl in kernel_slices(self.geo)]
        out = views[0].copy()  # C-contiguous
        for v in views[1:]:
            xp.maximum(out, v, out=out)
        if self.need_idx:
            kidx = xp.zeros_like(out, dtype=xp.int8 if len(views) < 128 else xp.int32)
            for k in range(len(views) - 1, 0, -1):  # backwards, so the first maximum's position is left
                hit = views[k] == out
                kidx += hit * (k - kidx)
            kidx *= views[0] != out  # (k = 0)
            self._pytorch_ties(xp, out, views, kidx)
            self.kidx = kidx
        if self.positions is None:
            return self._out(out)
        return self._out(out), self._out(self._flat_positions(xp, self.kidx))

    def _pytorch_ties(self, xp, out, views, kidx):
        """Where the first maximum is not PyTorch's pick (rare, so each case is one test of the output): a NaN
        (the first-maximum scan never matches it) and a window of -inf starting in the padding (whose -inf matches)."""
        if out.dtype.kind != "f":
            return
        if xp.isnan(out).any():
            for k in range(1, len(views)):  # forwards, so the last NaN's position is left
                xp.putmask(kidx, xp.isnan(views[k]), k)
        if (self.geo[0].lo or self.geo[1].lo) and (out == -math.inf).any():
            xp.putmask(kidx, out == -math.inf, xp.asarray(_first_inside(self.geo), dtype=kidx.dtype))

    def _flat_positions(self, xp, kidx):
        """The flat input position of each maximum (return_indices), from its kernel position kidx."""
        rows, dh, cols, dw, width = self.positions[:5]
        kw = self.geo[1].k
        k = kidx.astype(xp.int64)
        kr, kc = k // kw, k % kw
        if len(self.positions) > 5:  # a repeat of a window's last element is that element
            row_taps, col_taps = self.positions[5:]
            kr = xp.minimum(kr, xp.asarray(row_taps)[:, None] - 1)
            kc = xp.minimum(kc, xp.asarray(col_taps) - 1)
        return (xp.asarray(rows)[:, None] + kr * dh) * width + xp.asarray(cols) + kc * dw

    def backward(self, g, _=None):
        return (apply(MaxPoolScatter(self.geo, self.one_d, self.kidx), g),)


def _first_inside(geo):
    """(OH, OW): the kernel position of each window's first element inside the input (not in the padding)."""
    firsts = []
    for k, s, d, lo, _, n_out in geo:  # output y, kernel i reads input y * s + i * d - lo
        firsts.append(np.clip(-((np.arange(n_out) * s - lo) // d), 0, k - 1))
    return firsts[0][:, None] * geo[1].k + firsts[1]


def _window_positions(geo):
    """MaxPool's ``positions`` for windows on a regular grid (the padding is outside [0, H) x [0, W) and never
    holds a maximum)."""
    (_, sh, dh, lh, _, oh), (_, sw, dw, lw, win, ow) = geo
    return np.arange(oh) * sh - lh, dh, np.arange(ow) * sw - lw, dw, win


@register
class MaxPoolScatter(_PoolOp):
    """The gradient of MaxPool: each window's gradient sent to the position of its maximum."""

    def __init__(self, geo, one_d, kidx):
        super().__init__(geo, one_d)
        self.kidx = kidx

    def infer(self, g):
        return self._meta(g, "n_in")

    def forward(self, xp, g):
        g = self._in(g)
        out = _input_zeros(xp, g, self.geo)
        disjoint = _disjoint(self.geo)
        for k, (dst, src) in scatter_slices(self.geo):
            part = g[src] * (self.kidx[src] == k)
            if disjoint:
                out[dst] = part
            else:
                out[dst] += part
        return self._out(out)

    def backward(self, gg):
        return (apply(MaxPoolGather(self.geo, self.one_d, self.kidx), gg),)


@register
class MaxPoolGather(MaxPoolScatter):
    """The adjoint of MaxPoolScatter: the value at each window's argmax position."""

    def infer(self, x):
        return self._meta(x, "n_out")

    def forward(self, xp, x):
        x = self._in(x)
        out = xp.zeros(self.kidx.shape, x.dtype)
        for k, (src, dst) in scatter_slices(self.geo):
            out[dst] += x[src] * (self.kidx[dst] == k)
        return self._out(out)

    def backward(self, g):
        return (apply(MaxPoolScatter(self.geo, self.one_d, self.kidx), g),)


@register
class AvgPool(_PoolOp):
    """Window sums times ``scale`` (1/divisor: a number, or an (OH, OW) array when divisors differ)."""

    def __init__(self, geo, one_d, scale):
        super().__init__(geo, one_d)
        self.scale = scale

    def infer(self, x):
        return self._meta(x, "n_out")

    def _scale(self, xp, dtype):
        s = self.scale
        return s if isinstance(s, float) else xp.asarray(s, dtype=dtype)

    def forward(self, xp, x):
        buf = place(xp, self._in(x), self.geo)
        sl = kernel_slices(self.geo)
        out = xp.empty(buf[sl[0]].shape, x.dtype)  # C-contiguous
        if len(sl) == 1:
            return self._out(xp.multiply(buf[sl[0]], self._scale(xp, x.dtype), out=out))
        xp.add(buf[sl[0]], buf[sl[1]], out=out)
        for s in sl[2:]:
            out += buf[s]
        out *= self._scale(xp, x.dtype)
        return self._out(out)

    def backward(self, g):
        return (apply(AvgPoolScatter(self.geo, self.one_d, self.scale), g),)


@register
class AvgPoolScatter(AvgPool):
    """The gradient of AvgPool: each window's gradient times its scale spread over the window."""

    def infer(self, g):
        return self._meta(g, "n_in")

    def forward(self, xp, g):
        g = self._in(g) * self._scale(xp, g.dtype)
        out = _input_zeros(xp, g, self.geo)
        disjoint = _disjoint(self.geo)
        for _, (dst, src) in scatter_slices(self.geo):
            if disjoint:
                out[dst] = g[src]
            else:
                out[dst] += g[src]
        return self._out(out)

    def backward(self, gg):
        return (apply(AvgPool(self.geo, self.one_d, self.scale), gg),)


def _input_zeros(xp, g, geo):
    """Zeros of the forward input's shape (..., H, W), for g (..., OH, OW) windows to be added back into."""
    return xp.zeros(g.shape[:-2] + (geo[0].n_in, geo[1].n_in), g.dtype)


def _disjoint(geo):
    """True when no two kernel positions touch the same input element (windows do not overlap)."""
    return all(g.k == 1 or g.s > g.d * (g.k - 1) for g in geo)


# ---------------------------------------------------------------------------------------------------------------
# pooling


def pool_geometry(op, nd, shape, kernel_size, stride, padding, dilation, ceil_mode, avg):
    """The pooling arguments checked (PyTorch's rules) and their geometry: one Window per spatial dimension of
    shape (a 1-D op's as 2-D); ``avg`` for average pooling's padding rule."""
    k = ntuple(kernel_size, nd, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else \
        ntuple(stride, nd, "stride", op)
    p = ntuple(padding, nd, "padding", op)
    d = ntuple(dilation, nd, "dilation", op)
    check_positive(op, "kernel_size", k)
    check_positive(op, "stride", s)
    check_positive(op, "dilation", d, "dilation should be greater than zero")
    dims = []
    for kk, ss, pp, dd, n in zip(k, s, p, d, shape[-nd:]):
        eff = dd * (kk - 1) + 1
        if pp < 0 or 2 * pp > (kk if avg else eff):
            what = "kernel size" if avg else "effective kernel size"
            raise RuntimeError(f"{op}: pad should be at most half of {what}, but got padding={p}, "
                               f"kernel_size={k}" + ("" if avg else f" and dilation={d}"))
        out = (n + 2 * pp - eff + (ss - 1 if ceil_mode else 0)) // ss + 1
        if ceil_mode and (out - 1) * ss >= n + pp:
            out -= 1
        dims.append(Window(kk, ss, dd, pp, n, out))
    outs = tuple(g.n_out for g in dims)
    if any(o < 1 for o in outs):
        raise RuntimeError(f"{op}: output size {outs} is too small (input shape {tuple(shape)}, kernel_size {k}, "
                           f"stride {s}, padding {p}, dilation {d})")
    return geometry2d(dims)


def bfloat16_in_float32(pool):
    """pool(op, nd, input, ...) that takes a bfloat16 input as PyTorch's CPU kernels do: computed in float32 (the
    same maxima; averages accumulated in float32), the output rounded to bfloat16 once, the gradient flowing back
    through the casts (so it is bfloat16 too)."""
    @functools.wraps(pool)
    def run(op, nd, input, *args):
        if not (isinstance(input, Tensor) and input._data.dtype.kind == "V"):  # "V": ml_dtypes' bfloat16
            return pool(op, nd, input, *args)
        out = pool(op, nd, input.float(), *args)
        if isinstance(out, tuple):  # (values, indices)
            return (out[0].to(input.dtype),) + out[1:]
        return out.to(input.dtype)
    return run


@bfloat16_in_float32
def max_pool_nd(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    """max_pool1d/2d under the name op (nd spatial dimensions; pooling3d runs two of them)."""
    check_input(op, input, nd)
    geo = pool_geometry(op, nd, input._data.shape, kernel_size, stride, padding, dilation, ceil_mode, False)
    return apply(MaxPool(geo, nd == 1, input.requires_grad and is_grad_enabled(),
                         _window_positions(geo) if return_indices else None), input)


@export(MaxPool, functional=True)
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Take the maximum over sliding windows of a 1-d signal of channels (L).

    Args:
        input (Tensor): the floating-point input, batched or not.
        kernel_size (int or tuple of one int): the window size.
        stride (int or tuple of one int, optional): the step between windows. Default: ``kernel_size``.
        padding (int or tuple of one int): implicit -inf padding on each side, at most half the window. Default: 0.
        dilation (int or tuple of one int): the spacing between the window's elements. Default: 1.
        ceil_mode (bool): round the output size up, letting a last window start in the right padding. Default: False.
        return_indices (bool): also return where each maximum is, as a flat index into each input plane.
            Default: False.

    Returns:
        Tensor or (Tensor, Tensor): the maxima; with ``return_indices``, also their int64 indices.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, L_out) or (C, L_out), where
          out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1 (ceil with ``ceil_mode``).

    PyTorch:
        ``torch.nn.functional.max_pool1d`` and ``torch.max_pool1d``; same semantics.

    Example:
        >>> x = ember.arange(8.0).reshape(1, 1, 8)
        >>> F.max_pool1d(x, 2)
        tensor([[[1., 3., 5., 7.]]])
        >>> F.max_pool1d(x, 3, stride=2, padding=1, return_indices=True)
        (tensor([[[1., 3., 5., 7.]]]), tensor([[[1, 3, 5, 7]]]))
    """
    return max_pool_nd("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@export(MaxPool, functional=True)
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Take the maximum over sliding windows of a 2-d signal of channels (H, W).

    Args:
        input (Tensor): the floating-point input, batched or not.
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the step between windows. Default: ``kernel_size``.
        padding (int or tuple): implicit -inf padding on each side, at most half the window. Default: 0.
        dilation (int or tuple): the spacing between the window's elements. Default: 1.
        ceil_mode (bool): round the output size up, letting a last window start in the right padding. Default: False.
        return_indices (bool): also return where each maximum is, as a flat index into each input plane.
            Default: False.

    Returns:
        Tensor or (Tensor, Tensor): the maxima; with ``return_indices``, also their int64 indices.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out), where
          out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1 (ceil with ``ceil_mode``).

    PyTorch:
        ``torch.nn.functional.max_pool2d`` and ``torch.max_pool2d``; same semantics, except
        that integer inputs raise RuntimeError (PyTorch accepts them).

    Example:
        >>> F.max_pool2d(ember.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    return max_pool_nd("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@export(MaxPool, functional=True)
def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """``max_pool1d`` that always returns the indices of the maxima too.

    Args:
        input (Tensor): the floating-point input, batched or not.
        kernel_size (int or tuple of one int): the window size.
        stride (int or tuple of one int, optional): the step between windows. Default: ``kernel_size``.
        padding (int or tuple of one int): implicit -inf padding on each side, at most half the window. Default: 0.
        dilation (int or tuple of one int): the spacing between the window's elements. Default: 1.
        ceil_mode (bool): round the output size up, letting a last window start in the right padding. Default: False.
        return_indices (bool): ignored (the indices are always returned), as in PyTorch. Default: False.

    Returns:
        (Tensor, Tensor): the maxima and their int64 flat indices into each input plane.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, L_out) or (C, L_out), as ``max_pool1d``'s.

    PyTorch:
        ``torch.nn.functional.max_pool1d_with_indices`` and ``torch.max_pool1d_with_indices``; same semantics.

    Example:
        >>> F.max_pool1d_with_indices(ember.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
        (tensor([[[3., 2.]]]), tensor([[[1, 2]]]))
    """
    return max_pool_nd("max_pool1d_with_indices", 1, input, kernel_size, stride, padding, dilation, ceil_mode, True)


@export(MaxPool, ember=False, functional=True)
def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """``max_pool2d`` that always returns the indices of the maxima too.

    Args:
        input (Tensor): the floating-point input, batched or not.
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the step between windows. Default: ``kernel_size``.
        padding (int or tuple): implicit -inf padding on each side, at most half the window. Default: 0.
        dilation (int or tuple): the spacing between the window's elements. Default: 1.
        ceil_mode (bool): round the output size up, letting a last window start in the right padding. Default: False.
        return_indices (bool): ignored (the indices are always returned), as in PyTorch. Default: False.

    Returns:
        (Tensor, Tensor): the maxima and their int64 flat indices h * W + w into each input plane.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out), as ``max_pool2d``'s.

    PyTorch:
        ``torch.nn.functional.max_pool2d_with_indices``; same semantics.

    Example:
        >>> F.max_pool2d_with_indices(ember.arange(16.0).reshape(1, 1, 4, 4), 2)[1]
        tensor([[[[ 5,  7],
                  [13, 15]]]])
    """
    return max_pool_nd("max_pool2d_with_indices", 2, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _pool_divisors(g, count_include_pad):
    """Per output position along one dimension: PyTorch's avg_pool divisor."""
    k, s, _, p, n, out = g
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    if count_include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


@bfloat16_in_float32
def avg_pool_nd(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """avg_pool1d/2d under the name op (nd spatial dimensions; pooling3d runs two of them)."""
    check_input(op, input, nd)
    geo = pool_geometry(op, nd, input._data.shape, kernel_size, stride, padding, 1, ceil_mode, True)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor must be not zero")
        scale = 1.0 / divisor_override
    else:
        div = np.outer(_pool_divisors(geo[0], count_include_pad), _pool_divisors(geo[1], count_include_pad))
        scale = 1.0 / float(div.flat[0]) if (div == div.flat[0]).all() else 1.0 / div
    return apply(AvgPool(geo, nd == 1, scale), input)


@export(AvgPool, functional=True)
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average over sliding windows of a 1-d signal of channels (L).

    Args:
        input (Tensor): the floating-point input, batched or not.
        kernel_size (int or tuple of one int): the window size.
        stride (int or tuple of one int, optional): the step between windows. Default: ``kernel_size``.
        padding (int or tuple of one int): implicit zero padding on each side, at most half the window. Default: 0.
        ceil_mode (bool): round the output size up, letting a last window start in the right padding. Default: False.
        count_include_pad (bool): count the padding zeros in each window's divisor. Default: True.

    Returns:
        Tensor: the averages.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, L_out) or (C, L_out), where
          out = floor((in + 2 padding - kernel_size) / stride) + 1 (ceil with ``ceil_mode``).

    PyTorch:
        ``torch.nn.functional.avg_pool1d`` and ``torch.avg_pool1d``; same semantics, except
        that integer inputs raise RuntimeError (PyTorch accepts them).

    Example:
        >>> x = ember.arange(8.0).reshape(1, 1, 8)
        >>> F.avg_pool1d(x, 4)
        tensor([[[1.5000, 5.5000]]])
        >>> F.avg_pool1d(x, 3, stride=3, padding=1, count_include_pad=False)
        tensor([[[0.5000, 3.0000, 6.0000]]])
    """
    return avg_pool_nd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


@export(AvgPool, ember=False, functional=True)
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average over sliding windows of a 2-d signal of channels (H, W).

    Args:
        input (Tensor): the floating-point input, batched or not.
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the step between windows. Default: ``kernel_size``.
        padding (int or tuple): implicit zero padding on each side, at most half the window. Default: 0.
        ceil_mode (bool): round the output size up, letting a last window start in the right padding. Default: False.
        count_include_pad (bool): count the padding zeros in each window's divisor. Default: True.
        divisor_override (int, optional): divide every window's sum by this instead; 0 raises RuntimeError.
            Default: None.

    Returns:
        Tensor: the averages.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out), where
          out = floor((in + 2 padding - kernel_size) / stride) + 1 (ceil with ``ceil_mode``).

    PyTorch:
        ``torch.nn.functional.avg_pool2d``; same semantics, except
        that integer inputs raise RuntimeError (PyTorch accepts them).

    Example:
        >>> F.avg_pool2d(ember.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """
    return avg_pool_nd("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def adaptive_sizes(op, nd, input, output_size):
    """The input's nd spatial sizes and the output's, checked (None keeps an input size)."""
    check_input(op, input, nd)
    shape = input._data.shape
    out = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * nd
    if len(out) != nd:
        raise RuntimeError(f"{op}: output_size must be an int or a tuple of {nd} ints, got {output_size!r}")
    out = tuple(shape[-nd + i] if o is None else int(o) for i, o in enumerate(out))
    if any(o <= 0 for o in out) or any(n <= 0 for n in shape[-nd:]):
        raise RuntimeError(f"{op}: output_size {out} must be positive and the input non-empty, "
                           f"got input of shape {tuple(shape)}")
    return tuple(shape[-nd:]), out


@bfloat16_in_float32
def adaptive_avg_nd(op, nd, input, output_size):
    """adaptive_avg_pool1d/2d/3d under the name op: a resampling along each spatial axis."""
    ins, outs = adaptive_sizes(op, nd, input, output_size)
    return resample(input, [adaptive_avg_map(-nd + i, n, o) for i, (n, o) in enumerate(zip(ins, outs))])


@export(Resample, ConstantPad, functional=True)
def adaptive_avg_pool1d(input, output_size):
    """Take the average over windows of a 1-d signal of channels chosen to give ``output_size`` outputs.

    Output i covers the input positions floor(i * in / out) to ceil((i + 1) * in / out), PyTorch's rule (windows may
    overlap or differ in size when ``in`` is not a multiple of ``out``).

    Args:
        input (Tensor): the floating-point input, batched or not, non-empty.
        output_size (int or tuple of one int): the output length.

    Returns:
        Tensor: the averages.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, *output_size) or (C, *output_size).

    PyTorch:
        ``torch.nn.functional.adaptive_avg_pool1d`` and ``torch.adaptive_avg_pool1d``; same semantics.

    Example:
        >>> F.adaptive_avg_pool1d(ember.arange(8.0).reshape(1, 1, 8), 3)
        tensor([[[1.0000, 3.5000, 6.0000]]])
    """
    return adaptive_avg_nd("adaptive_avg_pool1d", 1, input, output_size)


@export(Resample, ConstantPad, ember=False, functional=True)
def adaptive_avg_pool2d(input, output_size):
    """Take the average over windows of a 2-d signal of channels chosen to give ``output_size`` outputs.

    Output i covers the input positions floor(i * in / out) to ceil((i + 1) * in / out), PyTorch's rule (windows may
    overlap or differ in size when ``in`` is not a multiple of ``out``).

    Args:
        input (Tensor): the floating-point input, batched or not, non-empty.
        output_size (int or tuple): the output size, an int for a square or (H_out, W_out); None in the tuple
            keeps that input size.

    Returns:
        Tensor: the averages.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, *output_size) or (C, *output_size).

    PyTorch:
        ``torch.nn.functional.adaptive_avg_pool2d``; same semantics.

    Example:
        >>> x = ember.arange(16.0).reshape(1, 1, 4, 4)
        >>> F.adaptive_avg_pool2d(x, 1)
        tensor([[[[7.5000]]]])
        >>> F.adaptive_avg_pool2d(x, (1, None)).shape
        ember.Size([1, 1, 1, 4])
    """
    return adaptive_avg_nd("adaptive_avg_pool2d", 2, input, output_size)


@bfloat16_in_float32
def adaptive_max_nd(op, nd, input, output_size, return_indices):
    """adaptive_max_pool1d/2d under the name op (pooling3d runs two of them)."""
    ins, outs = adaptive_sizes(op, nd, input, output_size)
    if all(n % o == 0 for n, o in zip(ins, outs)):  # equal windows: an ordinary max pool
        k = tuple(n // o for n, o in zip(ins, outs))
        return max_pool_nd(op, nd, input, k, k, 0, 1, False, return_indices)
    # Gather every window, repeating its last element up to the longest window, onto a regular grid; max pool it.
    starts, ends, gathers, taps = [], [], [], []
    for n, o in zip(ins, outs):
        s, e = adaptive_windows(n, o)
        t = int((e - s).max())
        starts.append(s)
        ends.append(e)
        gathers.append(np.minimum(s[:, None] + np.arange(t), e[:, None] - 1))
        taps.append(t)
    maps = tuple(AxisMap(-nd + i, n, ix.reshape(-1, 1)) for i, (n, ix) in enumerate(zip(ins, gathers)))
    grid = resample(input, maps)  # without the maps of axes left as they are
    geo = geometry2d([Window(t, t, 1, 0, o * t, o) for t, o in zip(taps, outs)])
    positions = None
    if return_indices:  # in the input, each window starts at its start and steps by 1
        lengths = [e - s for s, e in zip(starts, ends)]
        positions = (starts[0] if nd == 2 else np.zeros(1, np.int64), 1, starts[-1], 1, ins[-1],
                     lengths[0] if nd == 2 else np.ones(1, np.int64), lengths[-1])
    return apply(MaxPool(geo, nd == 1, grid.requires_grad and is_grad_enabled(), positions), grid)


@export(MaxPool, Resample, functional=True)
def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Take the maximum over windows of a 1-d signal of channels chosen to give ``output_size`` outputs.

    Output i covers the input positions floor(i * in / out) to ceil((i + 1) * in / out), PyTorch's rule (windows may
    overlap or differ in size when ``in`` is not a multiple of ``out``).

    Args:
        input (Tensor): the floating-point input, batched or not, non-empty.
        output_size (int or tuple of one int): the output length.
        return_indices (bool): also return where each maximum is, as a flat index into each input plane.
            Default: False.

    Returns:
        Tensor or (Tensor, Tensor): the maxima; with ``return_indices``, also their int64 indices.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, *output_size) or (C, *output_size).

    PyTorch:
        ``torch.nn.functional.adaptive_max_pool1d`` and ``torch.adaptive_max_pool1d``; same semantics.

    Example:
        >>> F.adaptive_max_pool1d(ember.arange(8.0).reshape(1, 1, 8), 3, return_indices=True)
        (tensor([[[2., 5., 7.]]]), tensor([[[2, 5, 7]]]))
    """
    return adaptive_max_nd("adaptive_max_pool1d", 1, input, output_size, return_indices)


@export(MaxPool, Resample, ember=False, functional=True)
def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Take the maximum over windows of a 2-d signal of channels chosen to give ``output_size`` outputs.

    Output i covers the input positions floor(i * in / out) to ceil((i + 1) * in / out), PyTorch's rule (windows may
    overlap or differ in size when ``in`` is not a multiple of ``out``).

    Args:
        input (Tensor): the floating-point input, batched or not, non-empty.
        output_size (int or tuple): the output size, an int for a square or (H_out, W_out); None in the tuple
            keeps that input size.
        return_indices (bool): also return where each maximum is, as a flat index into each input plane.
            Default: False.

    Returns:
        Tensor or (Tensor, Tensor): the maxima; with ``return_indices``, also their int64 indices.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, *output_size) or (C, *output_size).

    PyTorch:
        ``torch.nn.functional.adaptive_max_pool2d``; same semantics.

    Example:
        >>> F.adaptive_max_pool2d(ember.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    return adaptive_max_nd("adaptive_max_pool2d", 2, input, output_size, return_indices)


@export(MaxPool, Resample, ember=False, functional=True)
def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool1d`` that always returns the indices of the maxima too.

    Args:
        input (Tensor): the floating-point input, batched or not, non-empty.
        output_size (int or tuple of one int): the output length.
        return_indices (bool): ignored (the indices are always returned), as in PyTorch. Default: False.

    Returns:
        (Tensor, Tensor): the maxima and their int64 flat indices into each input plane.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, *output_size) or (C, *output_size).

    PyTorch:
        ``torch.nn.functional.adaptive_max_pool1d_with_indices``; same semantics.

    Example:
        >>> F.adaptive_max_pool1d_with_indices(ember.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
        (tensor([[[3., 2.]]]), tensor([[[1, 2]]]))
    """
    return adaptive_max_nd("adaptive_max_pool1d_with_indices", 1, input, output_size, True)


@export(MaxPool, Resample, ember=False, functional=True)
def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool2d`` that always returns the indices of the maxima too.

    Args:
        input (Tensor): the floating-point input, batched or not, non-empty.
        output_size (int or tuple): the output size, an int for a square or (H_out, W_out); None in the tuple
            keeps that input size.
        return_indices (bool): ignored (the indices are always returned), as in PyTorch. Default: False.

    Returns:
        (Tensor, Tensor): the maxima and their int64 flat indices h * W + w into each input plane.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, *output_size) or (C, *output_size).

    PyTorch:
        ``torch.nn.functional.adaptive_max_pool2d_with_indices``; same semantics.

    Example:
        >>> F.adaptive_max_pool2d_with_indices(ember.arange(16.0).reshape(1, 1, 4, 4), 1)
        (tensor([[[[15.]]]]), tensor([[[[15]]]]))
    """
    return adaptive_max_nd("adaptive_max_pool2d_with_indices", 2, input, output_size, True)
