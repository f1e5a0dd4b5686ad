"""Convolution, pooling, resampling and padding: torch.nn.functional's convolution family.

Every op works on 2-D internally; a 1-D op runs as 2-D with height 1. A convolution is im2col + matmul: the windows
of the (padded) input are an ``as_strided`` view copied into a (C*KH*KW, N*OH*OW) matrix, in blocks of images small
enough to stay in the L2 cache for their matmul (large ops spread their blocks over threads, see _threads).
Convolution outputs are (N, C, H, W) views of (C, N, H, W) memory: the next convolution's im2col and the weight
gradient's matmul read them without a transpose copy, and elementwise ops and the pooling ops here keep that layout
(gradients are laid out like their inputs).

The geometry of one spatial dimension is a tuple ``(k, s, d, lo, n_in, n_out)``: kernel, stride, dilation, padding
before the input, input length and output length. The windows read ``span = (n_out - 1) * s + d * (k - 1) + 1``
positions of the padded input, which holds the input at [lo, lo + n_in).

Gradients are ops of this module, so double backward works: conv's input gradient is conv_transpose, its weight
gradient the op ConvWeight, and each of the three is the others' adjoint; each pooling/resampling op and its
scatter-back are a pair of adjoint ops as well.
"""
import math

import numpy as np  # host-side index tables and shapes only; device math goes through xp

from ..autograd import Node, is_grad_enabled
from ..autograd.graph import apply
from ..tensor import Tensor
from . import _threads

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d",
           "adaptive_avg_pool1d", "adaptive_max_pool1d"]
# nn.functional also takes avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d, interpolate and pad from here
# (they are not top-level names in PyTorch).

_FLAT_H = (1, 1, 1, 0, 1, 1)  # the height geometry of a 1-D op


# ---------------------------------------------------------------------------------------------------------------
# window helpers (arrays)


def _span(g):
    return (g[5] - 1) * g[1] + g[2] * (g[0] - 1) + 1


def _as2d(a):
    """(N, C, L) -> (N, C, 1, L), a view."""
    return a.reshape(a.shape[:-1] + (1, a.shape[-1]))


_CN = (1, 0, 2, 3)  # the memory order of convolution arrays: (N, C, H, W) views of (C, N, H, W) memory


def _order(a):
    """The axes of a from the largest stride to the smallest (its memory order)."""
    return sorted(range(a.ndim), key=lambda i: -a.strides[i])


def _in_order(a, order):
    """Whether a's memory order is ``order`` (dimensions of size 1 aside)."""
    return [i for i in _order(a) if a.shape[i] > 1] == [i for i in order if a.shape[i] > 1]


def _alloc(xp, shape, dtype, order, fill=None):
    """A new array of shape laid out in memory in the axis order ``order``; zeros, filled with fill, or empty."""
    mshape = tuple(shape[a] for a in order)
    if fill is None:
        buf = xp.empty(mshape, dtype)
    else:
        buf = xp.zeros(mshape, dtype) if fill == 0 else xp.full(mshape, fill, dtype)
    inverse = [0] * len(order)
    for i, a in enumerate(order):
        inverse[a] = i
    return buf.transpose(inverse)


def _fits(x, geo, order=None, extra=None):
    """Whether the windows can read x (..., H, W) as it is (see _place)."""
    gh, gw = geo
    sh, sw = _span(gh), _span(gw)
    if gh[3] or gw[3] or x.shape[-2] < sh + (extra or 0) or x.shape[-1] < sw:
        return False
    if order is not None and not _in_order(x, order):
        return False
    return extra is None or x.strides[-1] == x.itemsize and x.strides[-2] == sw * x.itemsize


def _place(xp, x, geo, fill=0, order=None):
    """x (..., H, W) at offset (lo_h, lo_w) in a buffer as large as the windows read; x itself when it already fits.
    The buffer's memory order is ``order`` (default: x's)."""
    if _fits(x, geo, order):
        return x
    gh, gw = geo
    lh, lw, sh, sw = gh[3], gw[3], _span(gh), _span(gw)
    h, w = x.shape[-2], x.shape[-1]
    buf = _alloc(xp, x.shape[:-2] + (sh, sw), x.dtype, order or _order(x), fill)
    h0, h1, w0, w1 = max(lh, 0), min(lh + h, sh), max(lw, 0), min(lw + w, sw)
    if h0 < h1 and w0 < w1:
        buf[..., h0:h1, w0:w1] = x[..., h0 - lh:h1 - lh, w0 - lw:w1 - lw]
    return buf


# ---------------------------------------------------------------------------------------------------------------
# im2col and col2im

# im2col matrices are built for blocks of images about _BLOCK_BYTES large, which stay in the L2 cache for their
# matmul. A forward whose whole matrix is at most _KEEP_BYTES keeps it for the weight gradient (cheaper than
# building it again there); larger ones are rebuilt block by block in backward.
_BLOCK_BYTES = 1 << 20
_KEEP_BYTES = 1 << 23

# Stride-1 windows can be copied in the "wide" layout: an image's P = OH * WB columns of the im2col matrix are the
# positions q = y * WB + x (x < WB) of the padded input, whose rows are WB = span_w elements long, so each kernel
# position copies one contiguous run per image instead of OH runs of OW (the buffer has an extra row of zeros for
# the runs that go past the span). The WB - OW columns past each output row are junk: computed by the matmul and
# dropped, or multiplied by zero gradients. It pays when output rows are short; _wide weighs the faster copies
# against the extra matmul columns (costs per matrix element in ns, measured with OpenBLAS on AVX-512).
# None: choose by cost; True/False: always/never (for tests).
_WIDE = None


def _wide(geo, o):
    """Whether the im2col matrix of geo (with o output channels per group) is built in the wide layout."""
    (kh, sh, dh, _, _, oh), (kw, sw, dw, _, _, ow) = geo
    if sh != 1 or sw != 1 or _WIDE is False:
        return False
    p = oh * (ow + dw * (kw - 1))
    return _WIDE or (0.12 + 4.6 / p + 0.015 * o) * p <= (0.12 + 4.6 / ow + 0.015 * o) * oh * ow


def _columns(geo, wide):
    """The number of im2col columns per image, and the row pitch of those columns (wide layout)."""
    (_, _, _, _, _, oh), (kw, _, dw, _, _, ow) = geo
    if not wide:
        return oh * ow, ow
    wb = ow + dw * (kw - 1)
    return oh * wb, wb


def _block_images(rows, p, itemsize):
    return max(1, _BLOCK_BYTES // (rows * p * itemsize or 1))


class _Im2col:
    """The im2col matrix (C*KH*KW, N*P) of x (N, C, H, W) for geo, block by block of images: the windows are one
    as_strided view of x, or of a padded copy of it that each block fills for its own images."""

    def __init__(self, xp, x, geo, wide):
        (kh, sh, dh, lh, h, oh), (kw, sw, dw, lw, w, ow) = geo
        n, c = x.shape[0], x.shape[1]
        self.p, self.rows, self.fill, self.mat = _columns(geo, wide)[0], c * kh * kw, None, None
        extra = int(kw > 1) if wide else None  # a row of zeros for the wide runs that go past the span
        if _fits(x, geo, _CN, extra):
            buf = x
        else:
            buf = _alloc(xp, (n, c, _span(geo[0]) + (extra or 0), _span(geo[1])), x.dtype, _CN, 0)
            h0, h1, w0, w1 = max(lh, 0), min(lh + h, _span(geo[0])), max(lw, 0), min(lw + w, _span(geo[1]))
            if h0 < h1 and w0 < w1:
                self.fill = (buf[:, :, h0:h1, w0:w1], x[:, :, h0 - lh:h1 - lh, w0 - lw:w1 - lw])
        bn, bc, bh, bw = buf.strides
        lead, st = (c, kh, kw, n), (bc, bh * dh, bw * dw, bn)
        if wide:
            self.win = xp.lib.stride_tricks.as_strided(buf, lead + (self.p,), st + (bw,))
            if self.rows == c and bn == self.p * bw:  # a 1x1 convolution of an input laid out as its matrix
                self.mat = self.win[:, 0, 0].reshape(c, n * self.p)
        else:
            self.win = xp.lib.stride_tricks.as_strided(buf, lead + (oh, ow), st + (bh * sh, bw * sw))

    def block(self, xp, n0, m, state, kept=None):
        """The matrix's columns of the images [n0, n0 + m): copied into a scratch buffer of ``state`` reused across
        blocks, or into the block's part of ``kept`` (the whole matrix _conv_mm keeps)."""
        p = self.p
        if self.fill is not None:
            dst, src = self.fill
            dst[n0:n0 + m] = src[n0:n0 + m]
        if self.mat is not None:
            return self.mat[:, n0 * p:(n0 + m) * p]
        win = self.win[:, :, :, n0:n0 + m]
        size = self.rows * m * p
        if kept is not None:
            space = kept[n0 * self.rows * p:]
        else:
            space = state.get("cols")
            if space is None or space.size < size:
                space = state["cols"] = xp.empty(size, self.win.dtype)
        space[:size].reshape(win.shape)[...] = win
        return space[:size].reshape(self.rows, m * p)


def _scratch(xp, state, key, shape, dtype):
    """An empty array of shape from a buffer of ``state`` reused across blocks."""
    size = math.prod(shape)
    buf = state.get(key)
    if buf is None or buf.size < size:
        buf = state[key] = xp.empty(size, dtype)
    return buf[:size].reshape(shape)


def _narrow(a, m, geo):
    """The (O, m*P) wide-layout columns of a block of m images as an (O, m, OH, OW) view without the junk."""
    return a.reshape(a.shape[0], m, geo[0][5], -1)[..., :geo[1][5]]


def _widen(xp, g4, geo):
    """g4 (O, m, OH, OW) in the wide layout (O, m*P), zeros in the junk columns."""
    o, m, oh, ow = g4.shape
    out = xp.zeros((o, m, oh, _columns(geo, True)[1]), g4.dtype)
    out[..., :ow] = g4
    return out.reshape(o, -1)


def _mm_into(xp, w2, cols, out, groups):
    """out = w2 (O, C/groups*KH*KW) times cols (C*KH*KW, P), per group."""
    if groups == 1:
        return xp.matmul(w2, cols, out=out)
    o, m = w2.shape[0], cols.shape[1]
    xp.matmul(w2.reshape(groups, o // groups, -1), cols.reshape(groups, -1, m),
              out=out.reshape(groups, o // groups, m))
    return out


def _conv_mm(xp, x, geo, w2, groups, bias=None, keep=False):
    """w2 (O, C/groups*KH*KW) times the im2col matrix of x (N, C, H, W), per group, plus bias -> (O, N*OH*OW); and
    when keep is set and it is small enough the whole matrix for the weight gradient (else None): a flat array
    holding each block of nb images' (C*KH*KW, nb*OH*OW) matrix after the other, and nb."""
    n, o, rows = x.shape[0], w2.shape[0], w2.shape[1] * groups
    q = geo[0][5] * geo[1][5]
    keep = keep and rows * n * q * x.itemsize <= _KEEP_BYTES  # kept in the compact layout
    wide = not keep and _wide(geo, o // groups)
    p = _columns(geo, wide)[0]
    out = xp.empty((o, n * q), x.dtype)
    work = o // groups * rows * n * p
    k, nb = _threads.plan(xp, n, work, _block_images(rows, p, x.itemsize), n if keep else None)
    kept = xp.empty(rows * n * p, x.dtype) if keep else None
    b2 = None if bias is None else bias[:, None]
    im = _Im2col(xp, x, geo, wide)

    def block(n0, m, state):
        cols = im.block(xp, n0, m, state, kept)
        dst = out[:, n0 * q:(n0 + m) * q]
        if p == q:
            _mm_into(xp, w2, cols, dst, groups)
            if bias is not None:
                dst += b2
            return
        r = _mm_into(xp, w2, cols, _scratch(xp, state, "out", (o, m * p), x.dtype), groups)
        d4 = dst.reshape(o, m, geo[0][5], geo[1][5])
        if bias is None:
            d4[...] = _narrow(r, m, geo)
        else:
            xp.add(_narrow(r, m, geo), b2[:, :, None, None], out=d4)

    _threads.for_blocks(xp, n, nb, k, block)
    return out, (None if kept is None else (kept, nb))


def _conv_wgrad(xp, x, g4, geo, groups, cols=None):
    """g4 (O, N, OH, OW) times the transposed im2col matrix of x (or the one kept by _conv_mm), per group
    -> (O, C/groups*KH*KW)."""
    o, n = g4.shape[0], x.shape[0]
    rows = x.shape[1] * geo[0][0] * geo[1][0]
    wide = cols is None and _wide(geo, o // groups)
    p = _columns(geo, wide)[0]
    junk = p != geo[0][5] * geo[1][5]
    g2 = None if junk else g4.reshape(o, -1)
    im = _Im2col(xp, x, geo, wide) if cols is None else None
    work = o // groups * rows * n * p

    def block(n0, m, state):
        if cols is None:
            cb = im.block(xp, n0, m, state)
        else:
            cb = cols[0][n0 * rows * p:(n0 + m) * rows * p].reshape(rows, m * p)
        gb = _widen(xp, g4[:, n0:n0 + m], geo) if junk else g2[:, n0 * p:(n0 + m) * p]
        if groups == 1:
            r = cb @ gb.T  # (C*KH*KW, O): faster in OpenBLAS than gb @ cols.T (long reduction axis)
        else:
            r = xp.matmul(cb.reshape(groups, -1, m * p), gb.reshape(groups, o // groups, -1).transpose(0, 2, 1))
        if "acc" in state:
            state["acc"] += r
        else:
            state["acc"] = r

    k, nb = _threads.plan(xp, n, work, _block_images(rows, p, x.itemsize))
    if cols is not None:
        nb = cols[1]  # the blocks the forward kept
    parts = [st["acc"] for st in _threads.for_blocks(xp, n, nb, k, block) if "acc" in st]
    if not parts:  # an empty batch
        return xp.zeros((o, rows // groups), x.dtype)
    acc = parts[0]
    for r in parts[1:]:
        acc += r
    return acc.T if groups == 1 else acc.transpose(0, 2, 1).reshape(o, -1)


def _slices(geo):
    """Index tuples (..., rows, cols) of the window elements at each kernel position, in PyTorch's scan order."""
    (kh, sh, dh, _, _, oh), (kw, sw, dw, _, _, ow) = geo
    return [(Ellipsis, slice(i * dh, i * dh + (oh - 1) * sh + 1, sh), slice(j * dw, j * dw + (ow - 1) * sw + 1, sw))
            for i in range(kh) for j in range(kw)]


def _disjoint(geo):
    """True when no two kernel positions touch the same input element (windows do not overlap)."""
    return all(g[0] == 1 or g[1] > g[2] * (g[0] - 1) for g in geo)


def _scatter_buffer(xp, lead, geo, dtype, order):
    """Zeros covering both the windows and the input (at its offset), for adding windows back."""
    gh, gw = geo
    return _alloc(xp, lead + (max(_span(gh), gh[3] + gh[4]), max(_span(gw), gw[3] + gw[4])), dtype, order, 0)


def _crop(buf, geo):
    gh, gw = geo
    return buf[..., gh[3]:gh[3] + gh[4], gw[3]:gw[3] + gw[4]]


def _col2im_mm(xp, wt, x4, geo, groups):
    """The adjoint of _conv_mm: the columns wt (C*KH*KW, O/groups) times x4 (O, N, OH, OW), per group, added back
    into an (N, C, H, W) array, in blocks of images. Stride-1 windows are added in the wide layout (see _wide):
    one contiguous run per image, channel and kernel position instead of OH runs of OW."""
    (kh, sh, dh, _, _, oh), (kw, sw, dw, _, _, ow) = geo
    rows, n = wt.shape[0], x4.shape[1]
    c = rows // (kh * kw)
    height, width = (max(_span(g), g[3] + g[4]) for g in geo)
    wide = sh == 1 and sw == 1 and kw > 1 and width == _span(geo[1])
    if wide:  # rows of exactly the span, and one more for the runs that go past it
        p = _columns(geo, True)[0]
        flat = xp.zeros((c, n, (height + 1) * width), x4.dtype)
        buf = flat.reshape(c, n, height + 1, width).transpose(1, 0, 2, 3)
    else:
        p = oh * ow
        buf = _scatter_buffer(xp, (n, c), geo, x4.dtype, _CN)
        x2 = x4.reshape(x4.shape[0], -1)
    slices = _slices(geo)
    work = wt.shape[1] * rows * n * p

    def block(n0, m, state):
        if wide:
            cols = _gmm(xp, wt, _widen(xp, x4[:, n0:n0 + m], geo), groups).reshape(c, kh * kw, m, p)
            for k in range(kh * kw):
                off = k // kw * dh * width + k % kw * dw
                flat[:, n0:n0 + m, off:off + p] += cols[:, k]
            return
        cols = _gmm(xp, wt, x2[:, n0 * p:(n0 + m) * p], groups).reshape(c, kh * kw, m, oh, ow)
        for k, sl in enumerate(slices):
            buf[n0:n0 + m][sl] += cols[:, k].transpose(1, 0, 2, 3)

    k, nb = _threads.plan(xp, n, work, 2 * _block_images(rows, p, x4.itemsize), n)
    _threads.for_blocks(xp, n, nb, k, block)
    return _crop(buf, geo)


def _gmm(xp, a, b, groups):
    """Grouped matmul: a (G*M, K) times b (G*K, P), block by block -> (G*M, P)."""
    if groups == 1:
        return a @ b
    m, k = a.shape[0] // groups, a.shape[1]
    return xp.matmul(a.reshape(groups, m, k), b.reshape(groups, k, -1)).reshape(groups * m, -1)


def _unflatten(out, n, h, w, one_d):
    """The output (C, N*H*W) -> (N, C, H, W) (or (N, C, W)), a view."""
    out = out.reshape(out.shape[0], n, h, w).transpose(1, 0, 2, 3)
    return out[:, :, 0] if one_d else out


# ---------------------------------------------------------------------------------------------------------------
# convolution ops


class _ConvOp(Node):
    def __init__(self, geo, groups, one_d):
        self.geo, self.groups, self.one_d = geo, groups, one_d

    def _bias_grad(self, g):
        return g.sum((0, 2) if self.one_d else (0, 2, 3))


class Conv(_ConvOp):
    """y = conv(x, w) + b (cross-correlation, PyTorch's conv1d/conv2d)."""

    def __init__(self, geo, groups, one_d, keep_cols=False):
        super().__init__(geo, groups, one_d)
        self.keep_cols = keep_cols

    def forward(self, xp, x, w, b=None):
        if self.one_d:
            x, w = _as2d(x), _as2d(w)
        out, self.cols = _conv_mm(xp, x, self.geo, w.reshape(w.shape[0], -1), self.groups, b, self.keep_cols)
        return _unflatten(out, x.shape[0], self.geo[0][5], self.geo[1][5], self.one_d)

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        gx = apply(ConvTranspose(self.geo, self.groups, self.one_d), g, w) if need[0] else None
        gw = None
        if need[1]:
            gw = apply(ConvWeight(self.geo, self.groups, self.one_d, w.data.shape, self.cols), x, g)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, (self._bias_grad(g) if need[2] else None)


class ConvTranspose(_ConvOp):
    """y = conv_transpose(x, w) + b: the adjoint of Conv in its input (and the input gradient of conv)."""

    def forward(self, xp, x, w, b=None):
        if self.one_d:
            x, w = _as2d(x), _as2d(w)
        (kh, sh, dh, lh, hin, oh), (kw, sw, dw, lw, win, ow) = self.geo
        g = self.groups
        n, o, cg = x.shape[0], x.shape[1], w.shape[1]
        og, c = o // g, cg * g
        if sh == 1 and sw == 1 and o * hin * win <= 2 * c * oh * ow:
            # A stride-1 transposed convolution is a convolution with the flipped kernel: a gather, cheaper than
            # col2im's scatter-add unless its im2col matrix is much larger than col2im's.
            fgeo = ((kh, 1, dh, dh * (kh - 1) - lh, oh, hin), (kw, 1, dw, dw * (kw - 1) - lw, ow, win))
            wf = w.reshape(g, og, cg, kh, kw)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4).reshape(c, og * kh * kw)
            out = _conv_mm(xp, x, fgeo, wf, g, b)[0]
            return _unflatten(out, n, hin, win, self.one_d)
        wt = w.reshape(g, og, cg * kh * kw).transpose(0, 2, 1).reshape(g * cg * kh * kw, og)
        out = _col2im_mm(xp, wt, x.transpose(1, 0, 2, 3), self.geo, g)
        if b is not None:
            out += b[:, None, None]
        return out[:, :, 0] if self.one_d else out

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        gx = apply(Conv(self.geo, self.groups, self.one_d), gy, w) if need[0] else None
        gw = apply(ConvWeight(self.geo, self.groups, self.one_d, w.data.shape), gy, x) if need[1] else None
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, (self._bias_grad(gy) if need[2] else None)


class ConvWeight(_ConvOp):
    """The weight gradient of Conv: the correlation of x with g, matmuls with blocks of x's im2col matrix."""

    def __init__(self, geo, groups, one_d, wshape, cols=None):
        super().__init__(geo, groups, one_d)
        self.wshape, self.cols = tuple(wshape), cols

    def forward(self, xp, x, g):
        if self.one_d:
            x, g = _as2d(x), _as2d(g)
        gw = _conv_wgrad(xp, x, g.transpose(1, 0, 2, 3), self.geo, self.groups, self.cols)
        self.cols = None
        return xp.ascontiguousarray(gw).reshape(self.wshape)

    def backward(self, gw):
        x, g = self.inputs
        need = self.needs_input_grad
        gx = apply(ConvTranspose(self.geo, self.groups, self.one_d), g, gw) if need[0] else None
        gg = apply(Conv(self.geo, self.groups, self.one_d), x, gw) if need[1] else None
        return gx, gg


# ---------------------------------------------------------------------------------------------------------------
# pooling ops


class _PoolOp(Node):
    saves = ()
    order = None  # the memory order of the forward input: gradients are laid out like it

    def __init__(self, geo, one_d):
        self.geo, self.one_d = geo, one_d

    def _in(self, a):
        return a.reshape(a.shape[:-1] + (1, a.shape[-1])) if self.one_d else a

    def _out(self, a):
        return a[..., 0, :] if self.one_d else a


class MaxPool(_PoolOp):
    """Max over windows; ``kidx`` keeps the kernel position of each maximum (the first one, as PyTorch)."""

    def __init__(self, geo, one_d, need_idx=True):
        super().__init__(geo, one_d)
        self.need_idx = need_idx

    def forward(self, xp, x):
        x = self._in(x)
        self.order = _order(x)
        buf = _place(xp, x, self.geo, -math.inf)
        views = [buf[sl] for sl in _slices(self.geo)]
        out = views[0].copy(order="K")
        for v in views[1:]:
            xp.maximum(out, v, out=out)
        if self.need_idx:
            kidx = xp.zeros_like(out, dtype=xp.int8 if len(views) < 128 else xp.int32)
            for k in range(len(views) - 1, 0, -1):  # backwards, so the first maximum's position is left
                hit = views[k] == out
                kidx += hit * (k - kidx)
            self.kidx = kidx
        return self._out(out)

    def indices(self, xp):
        """PyTorch's return_indices: flat positions h * W + w of the maxima in the unpadded input."""
        (kh, sh, dh, lh, hin, oh), (kw, sw, dw, lw, win, ow) = self.geo
        k = self.kidx.astype(xp.int64)
        rows = xp.arange(oh, dtype=xp.int64)[:, None] * sh - lh + (k // kw) * dh
        cols = xp.arange(ow, dtype=xp.int64) * sw - lw + (k % kw) * dw
        return self._out(rows * win + cols)

    def backward(self, g):
        return (apply(MaxPoolScatter(self.geo, self.one_d, self.kidx, self.order), g),)


class MaxPoolScatter(_PoolOp):
    """The gradient of MaxPool: each window's gradient sent to the position of its maximum."""

    def __init__(self, geo, one_d, kidx, order=None):
        super().__init__(geo, one_d)
        self.kidx, self.order = kidx, order

    def forward(self, xp, g):
        g = self._in(g)
        buf = _scatter_buffer(xp, g.shape[:-2], self.geo, g.dtype, self.order or _order(g))
        disjoint = _disjoint(self.geo)
        for k, sl in enumerate(_slices(self.geo)):
            part = g * (self.kidx == k)
            if disjoint:
                buf[sl] = part
            else:
                buf[sl] += part
        return self._out(_crop(buf, self.geo))

    def backward(self, gg):
        return (apply(MaxPoolGather(self.geo, self.one_d, self.kidx), gg),)


class MaxPoolGather(MaxPoolScatter):
    """The adjoint of MaxPoolScatter: the value at each window's argmax position."""

    def forward(self, xp, x):
        buf = _place(xp, self._in(x), self.geo)
        out = None
        for k, sl in enumerate(_slices(self.geo)):
            part = buf[sl] * (self.kidx == k)
            out = part if out is None else xp.add(out, part, out=out)
        return self._out(out)

    def backward(self, g):
        return (apply(MaxPoolScatter(self.geo, self.one_d, self.kidx), g),)


class AvgPool(_PoolOp):
    """Window sums times ``scale`` (1/divisor: a number, or an (OH, OW) array when divisors differ)."""

    def __init__(self, geo, one_d, scale):
        super().__init__(geo, one_d)
        self.scale = scale

    def _scale(self, xp, dtype):
        s = self.scale
        return s if isinstance(s, float) else xp.asarray(s, dtype=dtype)

    def forward(self, xp, x):
        x = self._in(x)
        self.order = _order(x)
        buf = _place(xp, x, self.geo)
        sl = _slices(self.geo)
        out = buf[sl[0]] * self._scale(xp, x.dtype) if len(sl) == 1 else xp.add(buf[sl[0]], buf[sl[1]])
        for s in sl[2:]:
            out += buf[s]
        if len(sl) > 1:
            out *= self._scale(xp, x.dtype)
        return self._out(out)

    def backward(self, g):
        node = AvgPoolScatter(self.geo, self.one_d, self.scale)
        node.order = self.order
        return (apply(node, g),)


class AvgPoolScatter(AvgPool):
    """The gradient of AvgPool: each window's gradient times its scale spread over the window."""

    def forward(self, xp, g):
        g = self._in(g) * self._scale(xp, g.dtype)
        buf = _scatter_buffer(xp, g.shape[:-2], self.geo, g.dtype, self.order or _order(g))
        disjoint = _disjoint(self.geo)
        for sl in _slices(self.geo):
            if disjoint:
                buf[sl] = g
            else:
                buf[sl] += g
        return self._out(_crop(buf, self.geo))

    def backward(self, gg):
        return (apply(AvgPool(self.geo, self.one_d, self.scale), gg),)


# ---------------------------------------------------------------------------------------------------------------
# resampling: linear maps along axes (interpolate, adaptive average pooling, reflect/replicate/circular padding)

_DENSE_MAX = 1024  # along an axis this long or shorter, a map is applied as a dense matrix (one matmul)


class _AxisMap:
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


class Resample(Node):
    """A sequence of _AxisMap linear maps along trailing axes."""

    saves = ()

    def __init__(self, maps):
        self.maps = maps

    def forward(self, xp, x):
        if all(mp.mean for mp in self.maps):  # global average pooling: one reduction
            self.order = _order(x)
            return x.mean(axis=tuple(mp.axis for mp in self.maps), keepdims=True)
        for mp in self.maps:
            x = _map_forward(xp, x, mp)
        return x

    def backward(self, g):
        node = ResampleT(self.maps)
        node.order = self.__dict__.get("order")
        return (apply(node, g),)


class ResampleT(Resample):
    """The adjoint (gradient) of Resample."""

    def forward(self, xp, g):
        if all(mp.mean for mp in self.maps):
            shape, n = list(g.shape), 1
            for mp in self.maps:
                shape[mp.axis] = mp.n_in
                n *= mp.n_in
            out = _alloc(xp, tuple(shape), g.dtype, self.__dict__.get("order") or range(g.ndim))
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


def _resample(input, maps):
    """Apply the maps that are not the identity (a copy when none is left, as PyTorch returns a new tensor)."""
    maps = tuple(m for m in maps if not _identity(m))
    if not maps:
        return apply(ConstantPad(((0, 0),) * input.data.ndim), input)
    return apply(Resample(maps), input)


class ConstantPad(Node):
    """Pad (or crop, for negative amounts) every dimension by (before, after) with a constant."""

    saves = ()

    def __init__(self, pads, value=0.0):
        self.pads, self.value = pads, value

    def forward(self, xp, x):
        shape = tuple(n + a + b for n, (a, b) in zip(x.shape, self.pads))
        out = xp.zeros(shape, x.dtype) if self.value == 0 else xp.full(shape, self.value, x.dtype)
        dst = tuple(slice(max(a, 0), m - max(b, 0)) for m, (a, b) in zip(shape, self.pads))
        src = tuple(slice(max(-a, 0), n - max(-b, 0)) for n, (a, b) in zip(x.shape, self.pads))
        out[dst] = x[src]
        return out

    def backward(self, g):
        return (apply(ConstantPad(tuple((-a, -b) for a, b in self.pads)), g),)


# ---------------------------------------------------------------------------------------------------------------
# argument checking


def _ntuple(v, n, name, op):
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            v = tuple(v) * n
        if len(v) != n:
            raise RuntimeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
        try:
            return tuple(int(a) for a in v)
        except TypeError:
            raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}") from None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    return (int(v),) * n


def _check_input(op, t, nd, what="input"):
    names = "N, C, L" if nd == 1 else ("N, C, H, W" if nd == 2 else "N, C, D, H, W")
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected {what} to be a Tensor, got {type(t).__name__}")
    if t.data.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: expected {what} with {nd + 2} dims ({names}) or {nd + 1} dims, "
                           f"got shape {tuple(t.data.shape)}")
    if t.data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating-point {what}, got {t.dtype}")


def _check_conv(op, nd, input, weight, bias):
    _check_input(op, input, nd)
    kn = "kL" if nd == 1 else "kH, kW"
    if not isinstance(weight, Tensor) or weight.data.ndim != nd + 2:
        shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise RuntimeError(f"{op}: expected weight with {nd + 2} dims (out_channels, in_channels/groups, {kn}), "
                           f"got shape {shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")
        if t.data.dtype != input.data.dtype:
            raise RuntimeError(f"{op}: input dtype {input.dtype} and {name} dtype {t.dtype} must be the same")
        if type(t.data) is not type(input.data) or t.device != input.device:
            raise RuntimeError(f"{op}: input is on {input.device} but {name} is on {t.device}")


def _check_groups(op, groups):
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    if groups < 1:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got groups={groups}")
    return int(groups)


def _check_positive(op, name, values, what="non-positive {name} is not supported"):
    if any(v <= 0 for v in values):
        raise RuntimeError(f"{op}: {what.format(name=name)}, got {name}={values}")


def _geo(dims):
    return (_FLAT_H, dims[0]) if len(dims) == 1 else tuple(dims)


def _conv_geometry(op, nd, xshape, wshape, stride, padding, dilation):
    ks = tuple(wshape[2:])
    stride = _ntuple(stride, nd, "stride", op)
    dilation = _ntuple(dilation, nd, "dilation", op)
    _check_positive(op, "stride", stride)
    _check_positive(op, "dilation", dilation, "dilation should be greater than zero")
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError(f"{op}: padding='same' is not supported for strided convolutions "
                                   f"(stride={stride})")
            total = [d * (k - 1) for d, k in zip(dilation, ks)]
            lo = tuple(t // 2 for t in total)
            hi = tuple(t - t // 2 for t in total)
        else:
            raise RuntimeError(f"{op}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
    else:
        lo = hi = _ntuple(padding, nd, "padding", op)
        if any(p < 0 for p in lo):
            raise RuntimeError(f"{op}: negative padding is not supported, got padding={lo}")
    eff = tuple(d * (k - 1) + 1 for d, k in zip(dilation, ks))
    padded = tuple(n + a + b for n, a, b in zip(xshape[2:], lo, hi))
    if any(e > p for e, p in zip(eff, padded)):
        dil = f" (dilated {eff})" if eff != ks else ""
        raise RuntimeError(f"{op}: kernel size {ks}{dil} is larger than the padded input size {padded} "
                           f"(input shape {tuple(xshape)}, padding {padding!r})")
    return _geo([(k, s, d, a, n, (p - e) // s + 1)
                 for k, s, d, a, n, p, e in zip(ks, stride, dilation, lo, xshape[2:], padded, eff)])


# ---------------------------------------------------------------------------------------------------------------
# convolutions


def _batched(input, nd):
    """input with a batch dimension, and whether it had one."""
    if input.data.ndim == nd + 2:
        return input, True
    return input.reshape((1,) + tuple(input.data.shape)), False


def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):
    _check_conv(op, nd, input, weight, bias)
    groups = _check_groups(op, groups)
    x, batched = _batched(input, nd)
    xs, ws = x.data.shape, weight.data.shape
    if ws[0] % groups:
        raise RuntimeError(f"{op}: out_channels (weight.shape[0] = {ws[0]}) must be divisible by groups={groups}")
    if xs[1] != ws[1] * groups:
        raise RuntimeError(f"{op}: input has {xs[1]} channels but weight expects {ws[1] * groups} (groups={groups})")
    if bias is not None and tuple(bias.data.shape) != (ws[0],):
        raise RuntimeError(f"{op}: expected bias of shape ({ws[0]},) for weight of shape {tuple(ws)}, "
                           f"got {tuple(bias.data.shape)}")
    geo = _conv_geometry(op, nd, xs, ws, stride, padding, dilation)
    node = Conv(geo, groups, nd == 1, weight.requires_grad and is_grad_enabled())
    out = apply(node, x, weight) if bias is None else apply(node, x, weight, bias)
    return out if batched else out.reshape(tuple(out.data.shape[1:]))


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) of input (N, C, L) with weight (O, C/groups, K); padding may be
    an int, a tuple, 'valid' or 'same'."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of input (N, C, H, W) with weight (O, C/groups, KH, KW); padding may be
    an int, a tuple, 'valid' or 'same'."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _check_conv(op, nd, input, weight, bias)
    groups = _check_groups(op, groups)
    x, batched = _batched(input, nd)
    xs, ws = x.data.shape, weight.data.shape
    if xs[1] != ws[0]:
        raise RuntimeError(f"{op}: input has {xs[1]} channels but weight expects {ws[0]} (groups={groups})")
    if ws[0] % groups:
        raise RuntimeError(f"{op}: in_channels (weight.shape[0] = {ws[0]}) must be divisible by groups={groups}")
    cout = ws[1] * groups
    if bias is not None and tuple(bias.data.shape) != (cout,):
        raise RuntimeError(f"{op}: expected bias of shape ({cout},) for weight of shape {tuple(ws)} and "
                           f"groups={groups}, got {tuple(bias.data.shape)}")
    if isinstance(padding, str):
        raise RuntimeError(f"{op}: padding must be an int or a tuple of ints, got {padding!r}")
    stride = _ntuple(stride, nd, "stride", op)
    padding = _ntuple(padding, nd, "padding", op)
    output_padding = _ntuple(output_padding, nd, "output_padding", op)
    dilation = _ntuple(dilation, nd, "dilation", op)
    _check_positive(op, "stride", stride)
    _check_positive(op, "dilation", dilation, "dilation should be greater than zero")
    if any(p < 0 for p in padding + output_padding):
        raise RuntimeError(f"{op}: negative padding is not supported, got padding={padding}, "
                           f"output_padding={output_padding}")
    if any(op_ >= s and op_ >= d for op_, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(f"{op}: output padding must be smaller than either stride or dilation, got "
                           f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    ks = tuple(ws[2:])
    sizes = tuple((m - 1) * s - 2 * p + d * (k - 1) + q + 1
                  for m, s, p, d, k, q in zip(xs[2:], stride, padding, dilation, ks, output_padding))
    if any(n <= 0 for n in sizes):
        raise RuntimeError(f"{op}: output size {sizes} is not positive (input shape {tuple(xs)}, weight shape "
                           f"{tuple(ws)}, stride {stride}, padding {padding})")
    geo = _geo([(k, s, d, p, n, m) for k, s, d, p, n, m in zip(ks, stride, dilation, padding, sizes, xs[2:])])
    node = ConvTranspose(geo, groups, nd == 1)
    out = apply(node, x, weight) if bias is None else apply(node, x, weight, bias)
    return out if batched else out.reshape(tuple(out.data.shape[1:]))


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution of input (N, C_in, L) with weight (C_in, C_out/groups, K)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution of input (N, C_in, H, W) with weight (C_in, C_out/groups, KH, KW)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


# ---------------------------------------------------------------------------------------------------------------
# pooling


def _pool_geometry(op, nd, shape, kernel_size, stride, padding, dilation, ceil_mode, avg):
    k = _ntuple(kernel_size, nd, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else \
        _ntuple(stride, nd, "stride", op)
    p = _ntuple(padding, nd, "padding", op)
    d = _ntuple(dilation, nd, "dilation", op)
    _check_positive(op, "kernel_size", k)
    _check_positive(op, "stride", s)
    _check_positive(op, "dilation", d, "dilation should be greater than zero")
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
        dims.append((kk, ss, dd, pp, n, out))
    outs = tuple(g[5] for g in dims)
    if any(o < 1 for o in outs):
        raise RuntimeError(f"{op}: output size {outs} is too small (input shape {tuple(shape)}, kernel_size {k}, "
                           f"stride {s}, padding {p}, dilation {d})")
    return _geo(dims)


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    _check_input(op, input, nd)
    geo = _pool_geometry(op, nd, input.data.shape, kernel_size, stride, padding, dilation, ceil_mode, False)
    node = MaxPool(geo, nd == 1, return_indices or (input.requires_grad and is_grad_enabled()))
    out = apply(node, input)
    if return_indices:
        return out, Tensor._wrap(node.indices(_xp(input)))
    return out


def _xp(t):
    from ..device import get_array_module
    return get_array_module(t.data)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, L) input; stride defaults to kernel_size."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, H, W) input; stride defaults to kernel_size."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _pool_divisors(g, count_include_pad):
    """Per output position along one dimension: PyTorch's avg_pool divisor."""
    k, s, _, p, n, out = g
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    if count_include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    _check_input(op, input, nd)
    geo = _pool_geometry(op, nd, input.data.shape, kernel_size, stride, padding, 1, ceil_mode, True)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor must be not zero")
        scale = 1.0 / divisor_override
    else:
        div = np.outer(_pool_divisors(geo[0], count_include_pad), _pool_divisors(geo[1], count_include_pad))
        scale = 1.0 / float(div.flat[0]) if (div == div.flat[0]).all() else 1.0 / div
    return apply(AvgPool(geo, nd == 1, scale), input)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average over sliding windows of (N, C, L) input; stride defaults to kernel_size."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average over sliding windows of (N, C, H, W) input; stride defaults to kernel_size."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _adaptive_sizes(op, nd, input, output_size):
    _check_input(op, input, nd)
    shape = input.data.shape
    out = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * nd
    if len(out) != nd:
        raise RuntimeError(f"{op}: output_size must be an int or a tuple of {nd} ints, got {output_size!r}")
    out = tuple(shape[-nd + i] if o is None else int(o) for i, o in enumerate(out))
    if any(o <= 0 for o in out) or any(n <= 0 for n in shape[-nd:]):
        raise RuntimeError(f"{op}: output_size {out} must be positive and the input non-empty, "
                           f"got input of shape {tuple(shape)}")
    return tuple(shape[-nd:]), out


def _adaptive_windows(n, out):
    """Start and end of each adaptive pooling window (PyTorch's floor/ceil rule)."""
    i = np.arange(out)
    return (i * n) // out, ((i + 1) * n + out - 1) // out


def _adaptive_avg_map(axis, n, out):
    start, end = _adaptive_windows(n, out)
    taps = int((end - start).max())
    idx = start[:, None] + np.arange(taps)
    valid = idx < end[:, None]
    w = np.where(valid, 1.0 / (end - start)[:, None], 0.0)
    return _AxisMap(axis, n, np.minimum(idx, end[:, None] - 1), w)


def _adaptive_avg(op, nd, input, output_size):
    ins, outs = _adaptive_sizes(op, nd, input, output_size)
    return _resample(input, [_adaptive_avg_map(-nd + i, n, o) for i, (n, o) in enumerate(zip(ins, outs))])


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of (N, C, L) input to output_size positions (windows chosen by PyTorch's rule)."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling of (N, C, H, W) input to output_size (an int or (OH, OW); None keeps a size)."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def _adaptive_max(op, nd, input, output_size, return_indices):
    ins, outs = _adaptive_sizes(op, nd, input, output_size)
    if all(n % o == 0 for n, o in zip(ins, outs)):  # equal windows: an ordinary max pool
        k = tuple(n // o for n, o in zip(ins, outs))
        return _max_pool(op, nd, input, k, k, 0, 1, False, return_indices)
    # Gather every window, repeating its last element up to the longest window, onto a regular grid; max pool it.
    starts, ends, taps = [], [], []
    for n, o in zip(ins, outs):
        s, e = _adaptive_windows(n, o)
        t = int((e - s).max())
        starts.append(np.minimum(s[:, None] + np.arange(t), e[:, None] - 1))
        taps.append(t)
    maps = tuple(_AxisMap(-nd + i, n, ix.reshape(-1, 1)) for i, (n, ix) in enumerate(zip(ins, starts)))
    grid = apply(Resample(maps), input)
    geo = _geo([(t, t, 1, 0, o * t, o) for t, o in zip(taps, outs)])
    node = MaxPool(geo, nd == 1, return_indices or (grid.requires_grad and is_grad_enabled()))
    out = apply(node, grid)
    if not return_indices:
        return out
    xp = _xp(input)
    k = node.kidx.astype(xp.int64)
    kw = taps[-1]
    cols = xp.asarray(starts[-1])[xp.arange(outs[-1]), k % kw]
    if nd == 1:
        return out, Tensor._wrap(cols[..., 0, :])
    rows = xp.asarray(starts[0])[xp.arange(outs[0])[:, None], k // kw]
    return out, Tensor._wrap(rows * ins[1] + cols)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling of (N, C, L) input to output_size positions."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling of (N, C, H, W) input to output_size (an int or (OH, OW); None keeps a size)."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


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
    return _AxisMap(axis, n, idx.reshape(-1, 1))


def _linear_map(axis, n, out, scale, align_corners, dtype):
    f = np.float64 if dtype == np.float64 else np.float32  # PyTorch's opmath type
    i = np.arange(out).astype(f)
    if align_corners:
        src = i * (f(n - 1) / f(out - 1) if out > 1 else f(0))
    else:
        sc = f(1.0 / scale) if scale else f(n) / f(out)
        src = np.maximum(sc * (i + f(0.5)) - f(0.5), f(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    lam = np.clip(src - i0, 0, 1)
    i1 = i0 + (i0 < n - 1)
    return _AxisMap(axis, n, np.stack([i0, i1], 1), np.stack([1 - lam, lam], 1).astype(np.float64))


_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions of (N, C, ...) input to size or by scale_factor; modes 'nearest',
    'nearest-exact', 'linear' (3-D), 'bilinear' (4-D), 'trilinear' (5-D) and 'area'."""
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected input to be a Tensor, got {type(input).__name__}")
    nd = input.data.ndim - 2
    if mode not in ("nearest", "nearest-exact", "area", "bicubic") + tuple(_LINEAR) or nd not in (1, 2, 3):
        raise NotImplementedError(f"{op}: only 3-D, 4-D and 5-D inputs are supported for the modes nearest | "
                                  f"nearest-exact | linear | bilinear | trilinear | area, got a {input.data.ndim}-D "
                                  f"input and mode {mode!r}")
    if mode == "bicubic" or antialias:
        raise NotImplementedError(f"{op}: mode 'bicubic' and antialias=True are not implemented in ember")
    if align_corners is not None and mode not in _LINEAR:
        raise ValueError(f"{op}: align_corners option can only be set with the interpolating modes: "
                         f"linear | bilinear | trilinear (got mode {mode!r})")
    if mode in _LINEAR and _LINEAR[mode] != nd:
        raise NotImplementedError(f"{op}: got a {input.data.ndim}-D input, but {mode} mode needs a "
                                  f"{_LINEAR[mode] + 2}-D input")
    if input.data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating-point input, got {input.dtype}")
    ins = tuple(input.data.shape[2:])
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
        raise ValueError(f"{op}: output size {outs} must be positive (input shape {tuple(input.data.shape)})")
    if mode == "area":
        maps = [_adaptive_avg_map(-nd + i, n, o) for i, (n, o) in enumerate(zip(ins, outs))]
    elif mode in ("nearest", "nearest-exact"):
        maps = [_nearest_map(-nd + i, n, o, s, mode == "nearest-exact")
                for i, (n, o, s) in enumerate(zip(ins, outs, scales))]
    else:
        maps = [_linear_map(-nd + i, n, o, s, bool(align_corners), input.data.dtype)
                for i, (n, o, s) in enumerate(zip(ins, outs, scales))]
    return _resample(input, maps)


# ---------------------------------------------------------------------------------------------------------------
# pad


def _pad_index(n, a, b, mode):
    j = np.arange(-a, n + b)
    if mode == "reflect":
        j = np.abs(j)
        return np.where(j >= n, 2 * (n - 1) - j, j)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    return j % n  # circular


def pad(input, pad, mode="constant", value=None):
    """Pad the trailing dimensions: pad = (last_before, last_after, second_last_before, ...); modes 'constant'
    (negative amounts crop), 'reflect', 'replicate' and 'circular'."""
    op = "pad"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected input to be a Tensor, got {type(input).__name__}")
    try:
        amounts = tuple(int(p) for p in pad)
    except TypeError:
        raise TypeError(f"{op}: pad must be a sequence of ints, got {pad!r}") from None
    ndim, shape = input.data.ndim, tuple(input.data.shape)
    if len(amounts) % 2:
        raise RuntimeError(f"{op}: padding length must be divisible by 2, got pad={amounts}")
    k = len(amounts) // 2
    if k > ndim:
        raise RuntimeError(f"{op}: padding length {len(amounts)} is too large for an input of shape {shape} "
                           f"(at most 2 * {ndim})")
    pairs = [(amounts[2 * i], amounts[2 * i + 1]) for i in range(k)][::-1]  # first padded dim first
    if mode == "constant":
        full = ((0, 0),) * (ndim - k) + tuple(pairs)
        for d, ((a, b), n) in enumerate(zip(full, shape)):
            if n + a + b < 0:
                raise RuntimeError(f"{op}: the input size {n} plus padding ({a}, {b}) is negative in dimension {d} "
                                   f"of input shape {shape}")
        return apply(ConstantPad(full, 0.0 if value is None else value), input)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"{op}: unrecognised padding mode {mode!r} (use 'constant', 'reflect', "
                                  "'replicate' or 'circular')")
    if value is not None and value != 0:
        raise RuntimeError(f'{op}: padding mode "{mode}" doesn\'t take in value argument')
    if k > 3 or ndim not in (k + 1, k + 2):
        raise NotImplementedError(f"{op}: padding size {len(amounts)} is not supported for {ndim}-D input with mode "
                                  f"{mode!r}: pad the last 1, 2 or 3 dimensions of an input with 1 or 2 more dims")
    maps = []
    for i, (a, b) in enumerate(pairs):
        axis = -k + i
        n = shape[axis]
        if mode == "reflect" and (a >= n or b >= n):
            raise RuntimeError(f"{op}: padding ({a}, {b}) should be less than the input size {n} in dimension "
                               f"{ndim + axis} of input shape {shape} for mode 'reflect'")
        if mode == "circular" and (a > n or b > n):
            raise RuntimeError(f"{op}: padding ({a}, {b}) should be at most the input size {n} in dimension "
                               f"{ndim + axis} of input shape {shape} for mode 'circular'")
        if n == 0 or n + a + b < 0:
            raise RuntimeError(f"{op}: can't pad dimension {ndim + axis} of size {n} with ({a}, {b}) in mode {mode!r}")
        maps.append(_AxisMap(axis, n, _pad_index(n, a, b, mode).reshape(-1, 1)))
    return _resample(input, maps)
