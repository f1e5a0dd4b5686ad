"""Convolution: conv1d, conv2d, conv_transpose1d and conv_transpose2d (torch.nn.functional's convolutions; the 3-D
ones, in conv3d.py, are made of these ops).

Every op works on 2-D internally; a 1-D op runs as 2-D with height 1, and the geometry of each spatial dimension is
a ``Window`` (see _window). A convolution is im2col + matmul: the windows of the (padded) input are an
``as_strided`` view copied into a (C*KH*KW, N*OH*OW) matrix, in blocks of images small enough to stay in the L2
cache for their matmul (large ops spread their blocks over threads, see _threads).
Each image's matrix is multiplied on its own (one batched matmul per block), so the product is the block's output
already laid out as PyTorch's: outputs and gradients are C-contiguous (N, C, H, W) arrays, and no internal layout
reaches the user.

Gradients are ops of this module, so double backward works: conv's input gradient is conv_transpose, its weight
gradient the op ConvWeight, and each of the three is the others' adjoint.
"""
import math

import numpy as np  # host-side index tables and shapes only; device math goes through xp

from ..autograd import Node, is_grad_enabled
from ..autograd.graph import apply
from ..tensor import Tensor
from . import _autocast, _threads
from ._checks import check_tensor, same_device
from ._window import Window, check_input, check_positive, crop, fits, geometry2d, ntuple, scatter_slices, span
from .meta import TensorMeta
from .registry import export, register


def _as2d(a):
    """(N, C, L) -> (N, C, 1, L), a view."""
    return a.reshape(a.shape[:-1] + (1, a.shape[-1]))


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


# The weight gradient sums products over images. With few matrix rows per group (C/groups*KH*KW) one matmul per
# image (in a batched matmul, reading the gradient as it is) is faster; with more, one matmul per block of images
# with a long reduction, after copying the block's gradient to the matrix's column order (measured with OpenBLAS:
# per image wins by 1.6-2x at 16-27 rows, ties at 144-150, loses by 10-25% at 288-576).
_WGRAD_PER_IMAGE_ROWS = 100


# A stride-1 transposed convolution (the input gradient of a stride-1 convolution) is a convolution with the
# flipped kernel (a gather) unless its im2col matrix would be more than _GATHER_RATIO times col2im's.
_GATHER_RATIO = 2


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
    as_strided view of x, or of a padded copy of it that each block fills for its own images. ``ops.copy(dst,
    win)`` copies the windows into the matrix (NumPy's assignment when ops is None; see _ConvOp.window_ops)."""

    def __init__(self, xp, x, geo, wide, ops=None):
        (kh, sh, dh, lh, h, oh), (kw, sw, dw, lw, w, ow) = geo
        self.ops = ops
        n, c = x.shape[0], x.shape[1]
        self.p, self.rows, self.fill, self.images = _columns(geo, wide)[0], c * kh * kw, None, None
        extra = int(kw > 1) if wide else None  # a row of zeros for the wide runs that go past the span
        if fits(x, geo, None, extra):
            buf = x
        else:
            buf = xp.zeros((n, c, span(geo[0]) + (extra or 0), span(geo[1])), x.dtype)
            h0, h1, w0, w1 = max(lh, 0), min(lh + h, span(geo[0])), max(lw, 0), min(lw + w, span(geo[1]))
            if h0 < h1 and w0 < w1:
                self.fill = (buf[:, :, h0:h1, w0:w1], x[:, :, h0 - lh:h1 - lh, w0 - lw:w1 - lw])
        bn, bc, bh, bw = buf.strides
        lead, st = (c, kh, kw, n), (bc, bh * dh, bw * dw, bn)
        if wide:
            self.win = xp.lib.stride_tricks.as_strided(buf, lead + (self.p,), st + (bw,))
            if self.rows == c and bc == self.p * bw:  # a 1x1 convolution: each image's matrix is the image
                self.images = self.win[:, 0, 0].transpose(1, 0, 2)
        else:
            self.win = xp.lib.stride_tricks.as_strided(buf, lead + (oh, ow), st + (bh * sh, bw * sw))

    def block(self, xp, n0, m, state, kept=None):
        """The matrix's columns of the images [n0, n0 + m), (C*KH*KW, m*P): copied into a scratch buffer of
        ``state`` reused across blocks, or into the block's part of ``kept`` (the whole matrix _conv_mm keeps).
        None where each image's matrix is the image itself (see images)."""
        p = self.p
        if self.fill is not None:
            dst, src = self.fill
            dst[n0:n0 + m] = src[n0:n0 + m]
        if self.images is not None:
            return None
        win = self.win[:, :, :, n0:n0 + m]
        size = self.rows * m * p
        if kept is not None:
            space = kept[n0 * self.rows * p:]
        else:
            space = _scratch(xp, state, "cols", (size,), self.win.dtype)
        if self.ops is None:
            space[:size].reshape(win.shape)[...] = win
        else:
            self.ops.copy(space[:size].reshape(win.shape), win)
        return space[:size].reshape(self.rows, m * p)

    def block_images(self, cols, n0, m):
        """The block's matrices image by image, (m, C*KH*KW, P) (views of cols, the block's matrix)."""
        return self.images[n0:n0 + m] if cols is None else _images(cols, m, self.p)


def _images(cols, m, p):
    """The (C*KH*KW, m*P) matrix of a block of m images as each image's matrix, (m, C*KH*KW, P), a view."""
    return cols.reshape(cols.shape[0], m, p).transpose(1, 0, 2)


def _scratch(xp, state, key, shape, dtype, fill=None):
    """An empty array of shape from a buffer of ``state`` reused across blocks; with fill (0), a buffer zeroed
    when it is made: blocks that write only the first OW columns of each row of a wide-layout shape (..., WB)
    find zeros in the junk columns, whatever their number of images."""
    size = math.prod(shape)
    buf = state.get(key)
    if buf is None or buf.size < size:
        buf = state[key] = xp.empty(size, dtype) if fill is None else xp.zeros(size, dtype)
    return buf[:size].reshape(shape)


def _narrow(a, geo):
    """Wide-layout columns (..., OH * WB) as an (..., OH, OW) view without the junk."""
    return a.reshape(a.shape[:-1] + (geo[0].n_out, -1))[..., :geo[1].n_out]


def _widen(xp, g4, geo, state):
    """g4 (m, O, OH, OW) in the wide layout (m, O, P), zeros in the junk columns (a scratch buffer of state)."""
    m, o, oh, ow = g4.shape
    wb = _columns(geo, True)[1]
    out = _scratch(xp, state, "wide", (m, o, oh, wb), g4.dtype, 0)
    out[..., :ow] = g4
    return out.reshape(m, o, oh * wb)


def _bmm(xp, a, b, groups, out=None):
    """a (G*M, K) times each image's b (G*K, P) of b (m, G*K, P), per group -> (m, G*M, P)."""
    if groups == 1:
        return xp.matmul(a, b, out=out)
    m, p = b.shape[0], b.shape[-1]
    r = xp.matmul(a.reshape(groups, a.shape[0] // groups, -1), b.reshape(m, groups, -1, p),
                  out=None if out is None else out.reshape(m, groups, -1, p))
    return r.reshape(m, -1, p)


def _conv_mm(xp, x, geo, w2, groups, bias=None, keep=False, ops=None):
    """w2 (O, C/groups*KH*KW) times the im2col matrix of each image of x (N, C, H, W), per group, plus bias ->
    (N, O, OH*OW), C-contiguous; and when keep is set and it is small enough the whole matrix for the weight
    gradient (else None): a flat array holding each block of nb images' (C*KH*KW, nb*OH*OW) matrix after the
    other, and nb. The block's matrix is built once, and each image's product is written in its place in the
    output (a batched matmul reading the image's columns of the block's matrix)."""
    direct = None if ops is None else ops.conv(x, geo, w2, groups, bias)
    if direct is not None:
        return direct, None
    n, o, rows = x.shape[0], w2.shape[0], w2.shape[1] * groups
    q = geo[0].n_out * geo[1].n_out
    keep = keep and rows * n * q * x.itemsize <= _KEEP_BYTES  # kept in the compact layout
    wide = not keep and _wide(geo, o // groups)
    p = _columns(geo, wide)[0]
    out = xp.empty((n, o, q), x.dtype)
    work = o // groups * rows * n * p
    k, nb = _threads.plan(xp, n, work, _block_images(rows, p, x.itemsize))
    kept = xp.empty(rows * n * p, x.dtype) if keep else None
    # the bias repeated over each channel's outputs: added to a block's (m, O*Q) view, numpy runs one long inner
    # loop per image (about twice as fast as adding (O, 1) values to (m, O, Q))
    brow = None if bias is None else xp.repeat(bias, q)
    im = _Im2col(xp, x, geo, wide, ops)

    def block(n0, m, state):
        cols = im.block_images(im.block(xp, n0, m, state, kept), n0, m)
        dst = out[n0:n0 + m]
        if p == q:
            _bmm(xp, w2, cols, groups, dst)
        else:
            r = _bmm(xp, w2, cols, groups, _scratch(xp, state, "out", (m, o, p), x.dtype))
            dst.reshape(m, o, geo[0].n_out, geo[1].n_out)[...] = _narrow(r, geo)
        if brow is not None:
            dst.reshape(m, o * q)[...] += brow

    _threads.for_blocks(xp, n, nb, k, block)
    return out, (None if kept is None else (kept, nb))


def _conv_wgrad(xp, x, g4, geo, groups, cols=None, ops=None):
    """The gradient g4 (N, O, OH, OW) times the transposed im2col matrix of x (or the one kept by _conv_mm), per
    group -> (O, C/groups*KH*KW). Each block's gradient is copied to the matrix's column order (O, m*P) for one
    matmul with a long reduction (faster than a matmul per image)."""
    direct = None if ops is None else ops.conv_weight(x, g4, geo, groups)
    if direct is not None:
        return direct
    n, o = x.shape[0], g4.shape[1]
    rows = x.shape[1] * geo[0].k * geo[1].k
    wide = cols is None and _wide(geo, o // groups)
    p = _columns(geo, wide)[0]
    junk = p != geo[0].n_out * geo[1].n_out
    im = _Im2col(xp, x, geo, wide, ops) if cols is None else None
    work = o // groups * rows * n * p
    per_image = rows // groups < _WGRAD_PER_IMAGE_ROWS

    def block(n0, m, state):
        if cols is None:
            cb = im.block(xp, n0, m, state)
        else:
            cb = cols[0][n0 * rows * p:(n0 + m) * rows * p].reshape(rows, m * p)
        if cb is None or per_image:  # one matmul per image, reading the gradient as it is
            gb = _widen(xp, g4[n0:n0 + m], geo, state) if junk else g4[n0:n0 + m].reshape(m, o, p)
            r = _wgrad_images(xp, im.block_images(cb, n0, m) if im else _images(cb, m, p), gb, groups)
        else:
            gb = _scratch(xp, state, "g", (o, m, geo[0].n_out, _columns(geo, wide)[1]), g4.dtype, 0 if junk else None)
            gb[..., :geo[1].n_out] = g4[n0:n0 + m].transpose(1, 0, 2, 3)
            gb = gb.reshape(o, m * p)
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


def _wgrad_images(xp, xb, gb, groups):
    """The sum over images of xb (m, C, P) times gb (m, O, P) transposed, per group: (C, O) or (G, C/G, O/G)."""
    m, p = xb.shape[0], xb.shape[-1]
    if groups == 1:
        return xp.matmul(xb, gb.transpose(0, 2, 1)).sum(0)
    return xp.matmul(xb.reshape(m, groups, -1, p), gb.reshape(m, groups, -1, p).transpose(0, 1, 3, 2)).sum(0)


def _col2im_mm(xp, wt, x4, geo, groups, ops=None):
    """The adjoint of _conv_mm: the columns wt (C*KH*KW, O/groups) times each image of x4 (N, O, OH, OW), per
    group, added back into a new C-contiguous (N, C, H, W) array, in blocks of images. Stride-1 windows are added
    in the wide layout (see _wide): one contiguous run per image, channel and kernel position instead of OH runs
    of OW, into a padded buffer that is then cropped."""
    (kh, sh, dh, _, _, oh), (kw, sw, dw, _, _, ow) = geo
    rows, n = wt.shape[0], x4.shape[0]
    c = rows // (kh * kw)
    height, width = (max(span(g), g.lo + g.n_in) for g in geo)
    wide = sh == 1 and sw == 1 and kw > 1 and width == span(geo[1])
    if wide:  # rows of exactly the span, and one more for the runs that go past it
        p = _columns(geo, True)[0]
        flat = xp.zeros((n, c, (height + 1) * width), x4.dtype)
        out = flat.reshape(n, c, height + 1, width)
    else:
        p = oh * ow
        out = xp.zeros((n, c, geo[0].n_in, geo[1].n_in), x4.dtype)
        x3 = x4.reshape(n, x4.shape[1], p)
    pairs = scatter_slices(geo)
    work = wt.shape[1] * rows * n * p

    def block(n0, m, state):
        if wide:
            cols = _bmm(xp, wt, _widen(xp, x4[n0:n0 + m], geo, state), groups).reshape(m, c, kh * kw, p)
            offsets = [k // kw * dh * width + k % kw * dw for k in range(kh * kw)]
            if ops is not None:
                ops.add_runs(flat[n0:n0 + m], cols, offsets)
                return
            for k, off in enumerate(offsets):
                flat[n0:n0 + m, :, off:off + p] += cols[:, :, k]
            return
        cols = _bmm(xp, wt, x3[n0:n0 + m], groups).reshape(m, c, kh * kw, oh, ow)
        dst = out[n0:n0 + m]
        if ops is not None:
            ops.add_windows(dst, cols, pairs)
            return
        for k, (d, s) in pairs:
            dst[d] += cols[:, :, k][s]

    k, nb = _threads.plan(xp, n, work, 2 * _block_images(rows, p, x4.itemsize), n)
    _threads.for_blocks(xp, n, nb, k, block)
    return xp.ascontiguousarray(crop(out, geo)) if wide else out


def _unflatten(out, h, w, one_d):
    """The output (N, C, H*W) -> (N, C, H, W) (or (N, C, W)), a view."""
    out = out.reshape(out.shape[0], out.shape[1], h, w)
    return out[:, :, 0] if one_d else out


# ---------------------------------------------------------------------------------------------------------------
# convolution ops


class _ConvOp(Node):
    # how im2col copies the windows (a strided view) into its matrix and col2im adds columns back (``copy``,
    # ``add_runs``, ``add_windows``): NumPy's array operations (None), or the C functions that the compiler's C
    # backend sets on the nodes of a graph (c_conv),
    # which also run some convolutions directly, without im2col (``conv``, ``conv_weight``, ``conv_input``: a
    # ConvTranspose's output as a convolution's input gradient)
    window_ops = None

    def __init__(self, geo, groups, one_d):
        self.geo, self.groups, self.one_d = geo, groups, one_d

    def _bias_grad(self, g):
        return g.sum((0, 2) if self.one_d else (0, 2, 3))

    def _meta(self, n, c, dim, dtype):
        """The (N, C, H, W) (or (N, C, L)) meta of n images of c channels, each Window's ``dim`` as the size."""
        gh, gw = self.geo
        spatial = (getattr(gw, dim),) if self.one_d else (getattr(gh, dim), getattr(gw, dim))
        return TensorMeta((n, c) + spatial, dtype)


@register
class Conv(_ConvOp):
    """y = conv(x, w) + b (cross-correlation, PyTorch's conv1d/conv2d)."""

    def __init__(self, geo, groups, one_d, keep_cols=False):
        super().__init__(geo, groups, one_d)
        self.keep_cols = keep_cols

    def infer(self, x, w, b=None):
        return self._meta(x.shape[0], w.shape[0], "n_out", x.dtype)

    def forward(self, xp, x, w, b=None):
        if self.one_d:
            x, w = _as2d(x), _as2d(w)
        out, self.cols = _conv_mm(xp, x, self.geo, w.reshape(w.shape[0], -1), self.groups, b, self.keep_cols,
                                  self.window_ops)
        return _unflatten(out, self.geo[0].n_out, self.geo[1].n_out, self.one_d)

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        gx = apply(ConvTranspose(self.geo, self.groups, self.one_d), g, w) if need[0] else None
        gw = None
        if need[1]:
            gw = apply(ConvWeight(self.geo, self.groups, self.one_d, w._data.shape, self.cols), x, g)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, (self._bias_grad(g) if need[2] else None)


@register
class ConvTranspose(_ConvOp):
    """y = conv_transpose(x, w) + b: the adjoint of Conv in its input (and the input gradient of conv)."""

    def infer(self, x, w, b=None):
        return self._meta(x.shape[0], w.shape[1] * self.groups, "n_in", x.dtype)

    def forward(self, xp, x, w, b=None):
        if self.one_d:
            x, w = _as2d(x), _as2d(w)
        (kh, sh, dh, lh, hin, oh), (kw, sw, dw, lw, win, ow) = self.geo
        g = self.groups
        o, cg = x.shape[1], w.shape[1]
        og, c = o // g, cg * g
        ops = self.window_ops
        out = None if ops is None else ops.conv_input(x, self.geo, w, g, (x.shape[0], c, hin, win))
        if out is not None:
            if b is not None:
                out += b[:, None, None]
            return out[:, :, 0] if self.one_d else out
        direct = ops is not None and ops.runs_directly(self.geo, g, x, w)
        if sh == 1 and sw == 1 and (direct or o * hin * win <= _GATHER_RATIO * c * oh * ow):
            # A stride-1 transposed convolution is a convolution with the flipped kernel: a gather, cheaper than
            # col2im's scatter-add unless its im2col matrix is much larger than col2im's (or it runs directly).
            fgeo = (Window(kh, 1, dh, dh * (kh - 1) - lh, oh, hin), Window(kw, 1, dw, dw * (kw - 1) - lw, ow, win))
            wf = w.reshape(g, og, cg, kh, kw)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4).reshape(c, og * kh * kw)
            out = _conv_mm(xp, x, fgeo, wf, g, b, ops=self.window_ops)[0]
            return _unflatten(out, hin, win, self.one_d)
        wt = w.reshape(g, og, cg * kh * kw).transpose(0, 2, 1).reshape(g * cg * kh * kw, og)
        out = _col2im_mm(xp, wt, x, self.geo, g, ops)
        if b is not None:
            out += b[:, None, None]
        return out[:, :, 0] if self.one_d else out

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        gx = apply(Conv(self.geo, self.groups, self.one_d), gy, w) if need[0] else None
        gw = apply(ConvWeight(self.geo, self.groups, self.one_d, w._data.shape), gy, x) if need[1] else None
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, (self._bias_grad(gy) if need[2] else None)


@register
class ConvWeight(_ConvOp):
    """The weight gradient of Conv: the correlation of x with g, matmuls with blocks of x's im2col matrix."""

    def __init__(self, geo, groups, one_d, wshape, cols=None):
        super().__init__(geo, groups, one_d)
        self.wshape, self.cols = tuple(wshape), cols

    def infer(self, x, g):
        return TensorMeta(self.wshape, x.dtype)

    def forward(self, xp, x, g):
        if self.one_d:
            x, g = _as2d(x), _as2d(g)
        gw = _conv_wgrad(xp, x, g, self.geo, self.groups, self.cols, self.window_ops)
        self.cols = None
        return xp.ascontiguousarray(gw).reshape(self.wshape)

    def backward(self, gw):
        x, g = self.inputs
        need = self.needs_input_grad
        gx = apply(ConvTranspose(self.geo, self.groups, self.one_d), g, gw) if need[0] else None
        gg = apply(Conv(self.geo, self.groups, self.one_d), x, gw) if need[1] else None
        return gx, gg


# ---------------------------------------------------------------------------------------------------------------
# argument checking


def _check_conv(op, nd, input, weight, bias):
    check_input(op, input, nd)
    kn = ("kL", "kH, kW", "kD, kH, kW")[nd - 1]
    if not isinstance(weight, Tensor) or weight._data.ndim != nd + 2:
        shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise RuntimeError(f"{op}: expected weight with {nd + 2} dims (out_channels, in_channels/groups, {kn}), "
                           f"got shape {shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        check_tensor(t, op, name)
        if t._data.dtype != input._data.dtype:
            raise RuntimeError(f"{op}: input dtype {input.dtype} and {name} dtype {t.dtype} must be the same")
        same_device(input, t, op)


def _check_groups(op, groups):
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    if groups < 1:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got groups={groups}")
    return int(groups)


def _conv_geometry(op, nd, xshape, wshape, stride, padding, dilation):
    ks = tuple(wshape[2:])
    stride = ntuple(stride, nd, "stride", op)
    dilation = ntuple(dilation, nd, "dilation", op)
    check_positive(op, "stride", stride)
    check_positive(op, "dilation", dilation, "dilation should be greater than zero")
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
        lo = hi = ntuple(padding, nd, "padding", op)
        if any(p < 0 for p in lo):
            raise RuntimeError(f"{op}: negative padding is not supported, got padding={lo}")
    eff = tuple(d * (k - 1) + 1 for d, k in zip(dilation, ks))
    padded = tuple(n + a + b for n, a, b in zip(xshape[2:], lo, hi))
    if any(e > p for e, p in zip(eff, padded)):
        dil = f" (dilated {eff})" if eff != ks else ""
        raise RuntimeError(f"{op}: kernel size {ks}{dil} is larger than the padded input size {padded} "
                           f"(input shape {tuple(xshape)}, padding {padding!r})")
    return geometry2d([Window(k, s, d, a, n, (p - e) // s + 1)
                       for k, s, d, a, n, p, e in zip(ks, stride, dilation, lo, xshape[2:], padded, eff)])


# ---------------------------------------------------------------------------------------------------------------
# convolutions


def _batched(input, nd):
    """input with a batch dimension, and whether it had one."""
    if input._data.ndim == nd + 2:
        return input, True
    return input.reshape((1,) + tuple(input._data.shape)), False


def conv_args(op, nd, input, weight, bias, stride, padding, dilation, groups):
    """A convolution's arguments checked (PyTorch's rules): (input with a batch dimension, whether it had one, the
    geometry (a Window per spatial dimension, a 1-D op's as 2-D), groups)."""
    _check_conv(op, nd, input, weight, bias)
    groups = _check_groups(op, groups)
    x, batched = _batched(input, nd)
    xs, ws = x._data.shape, weight._data.shape
    if ws[0] % groups:
        raise RuntimeError(f"{op}: out_channels (weight.shape[0] = {ws[0]}) must be divisible by groups={groups}")
    if xs[1] != ws[1] * groups:
        raise RuntimeError(f"{op}: input has {xs[1]} channels but weight expects {ws[1] * groups} (groups={groups})")
    if bias is not None and tuple(bias._data.shape) != (ws[0],):
        raise RuntimeError(f"{op}: expected bias of shape ({ws[0]},) for weight of shape {tuple(ws)}, "
                           f"got {tuple(bias._data.shape)}")
    return x, batched, _conv_geometry(op, nd, xs, ws, stride, padding, dilation), groups


def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):
    if _autocast.active and _autocast.on(input):
        return _autocast.in_float32(_conv, op, nd, input, weight, bias, stride, padding, dilation, groups)
    x, batched, geo, groups = conv_args(op, nd, input, weight, bias, stride, padding, dilation, groups)
    node = Conv(geo, groups, nd == 1, weight.requires_grad and is_grad_enabled())
    out = apply(node, x, weight) if bias is None else apply(node, x, weight, bias)
    return out if batched else out.reshape(tuple(out._data.shape[1:]))


@export(Conv, functional=True)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Apply a 1-d convolution (cross-correlation, as in PyTorch) over an input of channels (L).

    Args:
        input (Tensor): the floating-point input, batched or not.
        weight (Tensor): the filters, of ``input``'s dtype.
        bias (Tensor, optional): one value per output channel. Default: None.
        stride (int or tuple): the step between windows. Default: 1.
        padding (int or tuple or str): implicit zero padding on each side, or ``'valid'`` (none) or ``'same'``
            (the output as long as the input; stride 1 only). Default: 0.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.
        groups (int): split the input and output channels into this many independent groups. Default: 1.

    Returns:
        Tensor: the convolved signal, of ``input``'s dtype.

    Shape:
        - Input: (N, C_in, L) or (C_in, L).
        - Weight: (C_out, C_in / groups, kL).
        - Bias: (C_out,).
        - Output: (N, C_out, L_out) or (C_out, L_out), where
          out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1.

    PyTorch:
        ``torch.nn.functional.conv1d`` and ``torch.conv1d``; same semantics, except that integer inputs raise
        RuntimeError (PyTorch accepts them on the CPU).

    Example:
        >>> F.conv1d(ember.tensor([[[1.0, 2.0, 3.0, 4.0]]]), ember.tensor([[[1.0, -1.0]]]))
        tensor([[[-1., -1., -1.]]])
        >>> F.conv1d(ember.ones(1, 1, 4), ember.ones(2, 1, 3), padding="same").shape
        ember.Size([1, 2, 4])
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@export(Conv, functional=True)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Apply a 2-d convolution (cross-correlation, as in PyTorch) over an input of channels (H, W).

    Args:
        input (Tensor): the floating-point input, batched or not.
        weight (Tensor): the filters, of ``input``'s dtype.
        bias (Tensor, optional): one value per output channel. Default: None.
        stride (int or tuple): the step between windows. Default: 1.
        padding (int or tuple or str): implicit zero padding on each side, or ``'valid'`` (none) or ``'same'``
            (the output as long as the input; stride 1 only). Default: 0.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.
        groups (int): split the input and output channels into this many independent groups. Default: 1.

    Returns:
        Tensor: the convolved signal, of ``input``'s dtype.

    Shape:
        - Input: (N, C_in, H, W) or (C_in, H, W).
        - Weight: (C_out, C_in / groups, kH, kW).
        - Bias: (C_out,).
        - Output: (N, C_out, H_out, W_out) or (C_out, H_out, W_out), where
          out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1.

    PyTorch:
        ``torch.nn.functional.conv2d`` and ``torch.conv2d``; same semantics, except that integer inputs raise
        RuntimeError (PyTorch accepts them on the CPU).

    Example:
        >>> F.conv2d(ember.ones(1, 1, 3, 3), ember.ones(1, 1, 2, 2))
        tensor([[[[4., 4.],
                  [4., 4.]]]])
        >>> F.conv2d(ember.ones(1, 4, 5, 5), ember.ones(6, 2, 3, 3), stride=2, groups=2).shape
        ember.Size([1, 6, 2, 2])
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose_args(op, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    """A transposed convolution's arguments checked (PyTorch's rules): (input with a batch dimension, whether it
    had one, the geometry of the matching convolution (its input sizes are the output's), groups)."""
    _check_conv(op, nd, input, weight, bias)
    groups = _check_groups(op, groups)
    x, batched = _batched(input, nd)
    xs, ws = x._data.shape, weight._data.shape
    if xs[1] != ws[0]:
        raise RuntimeError(f"{op}: input has {xs[1]} channels but weight expects {ws[0]} (groups={groups})")
    if ws[0] % groups:
        raise RuntimeError(f"{op}: in_channels (weight.shape[0] = {ws[0]}) must be divisible by groups={groups}")
    cout = ws[1] * groups
    if bias is not None and tuple(bias._data.shape) != (cout,):
        raise RuntimeError(f"{op}: expected bias of shape ({cout},) for weight of shape {tuple(ws)} and "
                           f"groups={groups}, got {tuple(bias._data.shape)}")
    if isinstance(padding, str):
        raise RuntimeError(f"{op}: padding must be an int or a tuple of ints, got {padding!r}")
    stride = ntuple(stride, nd, "stride", op)
    padding = ntuple(padding, nd, "padding", op)
    output_padding = ntuple(output_padding, nd, "output_padding", op)
    dilation = ntuple(dilation, nd, "dilation", op)
    check_positive(op, "stride", stride)
    check_positive(op, "dilation", dilation, "dilation should be greater than zero")
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
    geo = geometry2d([Window(k, s, d, p, n, m)
                      for k, s, d, p, n, m in zip(ks, stride, dilation, padding, sizes, xs[2:])])
    return x, batched, geo, groups


def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    if _autocast.active and _autocast.on(input):
        return _autocast.in_float32(_conv_transpose, op, nd, input, weight, bias, stride, padding, output_padding,
                                    groups, dilation)
    x, batched, geo, groups = conv_transpose_args(op, nd, input, weight, bias, stride, padding, output_padding,
                                                  groups, dilation)
    node = ConvTranspose(geo, groups, nd == 1)
    out = apply(node, x, weight) if bias is None else apply(node, x, weight, bias)
    return out if batched else out.reshape(tuple(out._data.shape[1:]))


@export(ConvTranspose, functional=True)
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Apply a 1-d transposed convolution (the gradient of ``conv1d`` with respect to its input).

    Often called a deconvolution: each input value scatters a copy of the kernel, scaled by it, into the output,
    overlapping copies summed.

    Args:
        input (Tensor): the floating-point input, batched or not.
        weight (Tensor): the filters, of ``input``'s dtype.
        bias (Tensor, optional): one value per output channel. Default: None.
        stride (int or tuple): the step between the scattered kernels. Default: 1.
        padding (int or tuple): the padding of the matching ``conv1d``: the output loses this much on each side
            (the input is padded by ``dilation * (kernel_size - 1) - padding``); a string raises RuntimeError.
            Default: 0.
        output_padding (int or tuple): extra size added to one side of the output, smaller than ``stride`` or
            ``dilation``. Default: 0.
        groups (int): split the input and output channels into this many independent groups. Default: 1.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.

    Returns:
        Tensor: the result, of ``input``'s dtype.

    Shape:
        - Input: (N, C_in, L) or (C_in, L).
        - Weight: (C_in, C_out / groups, kL).
        - Bias: (C_out,).
        - Output: (N, C_out, L_out) or (C_out, L_out), where
          out = (in - 1) stride - 2 padding + dilation (kernel_size - 1) + output_padding + 1.

    PyTorch:
        ``torch.nn.functional.conv_transpose1d`` and ``torch.conv_transpose1d``; same semantics, except that
        integer inputs raise RuntimeError.

    Example:
        >>> F.conv_transpose1d(ember.tensor([[[1.0, 2.0]]]), ember.ones(1, 1, 2))
        tensor([[[1., 3., 2.]]])
        >>> F.conv_transpose1d(ember.ones(1, 2, 4), ember.ones(2, 3, 3), stride=2).shape
        ember.Size([1, 3, 9])
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


@export(ConvTranspose, functional=True)
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Apply a 2-d transposed convolution (the gradient of ``conv2d`` with respect to its input).

    Often called a deconvolution: each input value scatters a copy of the kernel, scaled by it, into the output,
    overlapping copies summed.

    Args:
        input (Tensor): the floating-point input, batched or not.
        weight (Tensor): the filters, of ``input``'s dtype.
        bias (Tensor, optional): one value per output channel. Default: None.
        stride (int or tuple): the step between the scattered kernels. Default: 1.
        padding (int or tuple): the padding of the matching ``conv2d``: the output loses this much on each side
            (the input is padded by ``dilation * (kernel_size - 1) - padding``); a string raises RuntimeError.
            Default: 0.
        output_padding (int or tuple): extra size added to one side of the output, smaller than ``stride`` or
            ``dilation``. Default: 0.
        groups (int): split the input and output channels into this many independent groups. Default: 1.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.

    Returns:
        Tensor: the result, of ``input``'s dtype.

    Shape:
        - Input: (N, C_in, H, W) or (C_in, H, W).
        - Weight: (C_in, C_out / groups, kH, kW).
        - Bias: (C_out,).
        - Output: (N, C_out, H_out, W_out) or (C_out, H_out, W_out), where
          out = (in - 1) stride - 2 padding + dilation (kernel_size - 1) + output_padding + 1.

    PyTorch:
        ``torch.nn.functional.conv_transpose2d`` and ``torch.conv_transpose2d``; same semantics, except that
        integer inputs raise RuntimeError.

    Example:
        >>> F.conv_transpose2d(ember.tensor([[[[1.0, 2.0]]]]), ember.ones(1, 1, 1, 2))
        tensor([[[[1., 3., 2.]]]])
        >>> x, w = ember.ones(1, 2, 3, 3), ember.ones(2, 4, 3, 3)
        >>> F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1).shape
        ember.Size([1, 4, 6, 6])
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)
