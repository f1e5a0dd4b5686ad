"""Convolution: conv1d, conv2d, conv_transpose1d and conv_transpose2d (torch.nn.functional's convolutions).

Every op works on 2-D internally; a 1-D op runs as 2-D with height 1, and the geometry of each spatial dimension is
a ``Window`` (see _window). A convolution is im2col + matmul: the windows of the (padded) input are an
``as_strided`` view copied into a (C*KH*KW, N*OH*OW) matrix, in blocks of images small enough to stay in the L2
cache for their matmul (large ops spread their blocks over threads, see _threads).
Convolution outputs are (N, C, H, W) views of (C, N, H, W) memory: the next convolution's im2col and the weight
gradient's matmul read them without a transpose copy, and elementwise ops and the pooling ops keep that layout
(gradients are laid out like their inputs).

Gradients are ops of this module, so double backward works: conv's input gradient is conv_transpose, its weight
gradient the op ConvWeight, and each of the three is the others' adjoint.
"""
import math

import numpy as np  # host-side index tables and shapes only; device math goes through xp

from ..autograd import Node, is_grad_enabled
from ..autograd.graph import apply
from ..tensor import Tensor
from . import _threads
from ._checks import check_tensor, same_device
from ._window import Window, alloc, check_input, check_positive, crop, fits, geometry2d, kernel_slices, ntuple, \
    scatter_buffer, span
from .meta import TensorMeta
from .registry import export, register


def _as2d(a):
    """(N, C, L) -> (N, C, 1, L), a view."""
    return a.reshape(a.shape[:-1] + (1, a.shape[-1]))


_CN = (1, 0, 2, 3)  # the memory order of convolution arrays: (N, C, H, W) views of (C, N, H, W) memory


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
        if fits(x, geo, _CN, extra):
            buf = x
        else:
            buf = alloc(xp, (n, c, span(geo[0]) + (extra or 0), span(geo[1])), x.dtype, _CN, 0)
            h0, h1, w0, w1 = max(lh, 0), min(lh + h, span(geo[0])), max(lw, 0), min(lw + w, span(geo[1]))
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
    return a.reshape(a.shape[0], m, geo[0].n_out, -1)[..., :geo[1].n_out]


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
    q = geo[0].n_out * geo[1].n_out
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
        d4 = dst.reshape(o, m, geo[0].n_out, geo[1].n_out)
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
    rows = x.shape[1] * geo[0].k * geo[1].k
    wide = cols is None and _wide(geo, o // groups)
    p = _columns(geo, wide)[0]
    junk = p != geo[0].n_out * geo[1].n_out
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


def _col2im_mm(xp, wt, x4, geo, groups):
    """The adjoint of _conv_mm: the columns wt (C*KH*KW, O/groups) times x4 (O, N, OH, OW), per group, added back
    into an (N, C, H, W) array, in blocks of images. Stride-1 windows are added in the wide layout (see _wide):
    one contiguous run per image, channel and kernel position instead of OH runs of OW."""
    (kh, sh, dh, _, _, oh), (kw, sw, dw, _, _, ow) = geo
    rows, n = wt.shape[0], x4.shape[1]
    c = rows // (kh * kw)
    height, width = (max(span(g), g.lo + g.n_in) for g in geo)
    wide = sh == 1 and sw == 1 and kw > 1 and width == span(geo[1])
    if wide:  # rows of exactly the span, and one more for the runs that go past it
        p = _columns(geo, True)[0]
        flat = xp.zeros((c, n, (height + 1) * width), x4.dtype)
        buf = flat.reshape(c, n, height + 1, width).transpose(1, 0, 2, 3)
    else:
        p = oh * ow
        buf = scatter_buffer(xp, (n, c), geo, x4.dtype, _CN)
        x2 = x4.reshape(x4.shape[0], -1)
    slices = kernel_slices(geo)
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
    return crop(buf, geo)


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

    def _meta(self, n, c, dim, dtype):
        """The (N, C, H, W) (or (N, C, L)) meta of n images of c channels, each Window's ``dim`` as the size: the
        logical shape (the memory of a convolution output is laid out (C, N, H, W))."""
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
        out, self.cols = _conv_mm(xp, x, self.geo, w.reshape(w.shape[0], -1), self.groups, b, self.keep_cols)
        return _unflatten(out, x.shape[0], self.geo[0].n_out, self.geo[1].n_out, self.one_d)

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
        n, o, cg = x.shape[0], x.shape[1], w.shape[1]
        og, c = o // g, cg * g
        if sh == 1 and sw == 1 and o * hin * win <= 2 * c * oh * ow:
            # A stride-1 transposed convolution is a convolution with the flipped kernel: a gather, cheaper than
            # col2im's scatter-add unless its im2col matrix is much larger than col2im's.
            fgeo = (Window(kh, 1, dh, dh * (kh - 1) - lh, oh, hin), Window(kw, 1, dw, dw * (kw - 1) - lw, ow, win))
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
# argument checking


def _check_conv(op, nd, input, weight, bias):
    check_input(op, input, nd)
    kn = "kL" if nd == 1 else "kH, kW"
    if not isinstance(weight, Tensor) or weight.data.ndim != nd + 2:
        shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise RuntimeError(f"{op}: expected weight with {nd + 2} dims (out_channels, in_channels/groups, {kn}), "
                           f"got shape {shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        check_tensor(t, op, name)
        if t.data.dtype != input.data.dtype:
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


@export(Conv, functional=True)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) of input (N, C, L) with weight (O, C/groups, K); padding may be
    an int, a tuple, 'valid' or 'same'."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@export(Conv, functional=True)
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
    node = ConvTranspose(geo, groups, nd == 1)
    out = apply(node, x, weight) if bias is None else apply(node, x, weight, bias)
    return out if batched else out.reshape(tuple(out.data.shape[1:]))


@export(ConvTranspose, functional=True)
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution of input (N, C_in, L) with weight (C_in, C_out/groups, K)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


@export(ConvTranspose, functional=True)
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution of input (N, C_in, H, W) with weight (C_in, C_out/groups, KH, KW)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)
