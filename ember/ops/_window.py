"""What the window ops (convolution and pooling) share: the geometry of a spatial dimension, the memory-layout
helpers that put an input where the windows read it, and the argument checks of window sizes.

Every op works on 2-D internally; a 1-D op runs as 2-D with height 1 (``geometry2d``). The geometry of one spatial
dimension is a ``Window(k, s, d, lo, n_in, n_out)``: kernel, stride, dilation, padding before the input, input
length and output length. The windows read ``span = (n_out - 1) * s + d * (k - 1) + 1`` positions of the padded
input, which holds the input at [lo, lo + n_in).
"""
import functools
from collections import namedtuple

import numpy as np

from ._checks import check_tensor

# A tuple (hashable, equal to the plain tuple of its fields), read by field name.
Window = namedtuple("Window", "k s d lo n_in n_out")

_FLAT_H = Window(1, 1, 1, 0, 1, 1)  # the height geometry of a 1-D op


# ---------------------------------------------------------------------------------------------------------------
# window helpers (arrays)


def span(g):
    return (g.n_out - 1) * g.s + g.d * (g.k - 1) + 1


def memory_order(a):
    """The axes of a from the largest stride to the smallest (its memory order)."""
    return sorted(range(a.ndim), key=lambda i: -a.strides[i])


def _in_order(a, order):
    """Whether a's memory order is ``order`` (dimensions of size 1 aside)."""
    return [i for i in memory_order(a) if a.shape[i] > 1] == [i for i in order if a.shape[i] > 1]


def alloc(xp, shape, dtype, order, fill=None):
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


def fits(x, geo, order=None, extra=None):
    """Whether the windows can read x (..., H, W) as it is (see place)."""
    gh, gw = geo
    sh, sw = span(gh), span(gw)
    if gh.lo or gw.lo or x.shape[-2] < sh + (extra or 0) or x.shape[-1] < sw:
        return False
    if order is not None and not _in_order(x, order):
        return False
    return extra is None or x.strides[-1] == x.itemsize and x.strides[-2] == sw * x.itemsize


def place(xp, x, geo, fill=0, order=None):
    """x (..., H, W) at offset (lo_h, lo_w) in a buffer as large as the windows read; x itself when it already fits.
    The buffer's memory order is ``order`` (default: x's)."""
    if fits(x, geo, order):
        return x
    gh, gw = geo
    lh, lw, sh, sw = gh.lo, gw.lo, span(gh), span(gw)
    h, w = x.shape[-2], x.shape[-1]
    buf = alloc(xp, x.shape[:-2] + (sh, sw), x.dtype, order or memory_order(x), fill)
    h0, h1, w0, w1 = max(lh, 0), min(lh + h, sh), max(lw, 0), min(lw + w, sw)
    if h0 < h1 and w0 < w1:
        buf[..., h0:h1, w0:w1] = x[..., h0 - lh:h1 - lh, w0 - lw:w1 - lw]
    return buf


def kernel_slices(geo):
    """Index tuples (..., rows, cols) of the window elements at each kernel position, in PyTorch's scan order."""
    (kh, sh, dh, _, _, oh), (kw, sw, dw, _, _, ow) = geo
    return [(Ellipsis, slice(i * dh, i * dh + (oh - 1) * sh + 1, sh), slice(j * dw, j * dw + (ow - 1) * sw + 1, sw))
            for i in range(kh) for j in range(kw)]


@functools.lru_cache(maxsize=256)
def scatter_slices(geo):
    """For each kernel position k (in PyTorch's scan order) that reads some of the input, (k, (into the input
    (..., H, W), into the windows (..., OH, OW))): the index pairs of the window elements that fall inside the input
    rather than in its padding. Adding windows back through them writes the input's shape directly, no padded
    buffer to crop."""
    dims = []
    for k, s, d, lo, n_in, n_out in geo:
        pos = []
        for i in range(k):  # output y reads input i * d + y * s - lo: inside for y in [y0, y1)
            y0, y1 = max(0, -((i * d - lo) // s)), min(n_out, -((i * d - lo - n_in) // s))
            r0 = i * d + y0 * s - lo
            pos.append((slice(r0, r0 + (y1 - y0 - 1) * s + 1, s), slice(y0, y1)) if y0 < y1 else None)
        dims.append(pos)
    kw = len(dims[1])
    return [(i * kw + j, ((Ellipsis, a[0], b[0]), (Ellipsis, a[1], b[1])))
            for i, a in enumerate(dims[0]) for j, b in enumerate(dims[1]) if a is not None and b is not None]


def scatter_buffer(xp, lead, geo, dtype, order):
    """Zeros covering both the windows and the input (at its offset), for adding windows back."""
    gh, gw = geo
    return alloc(xp, lead + (max(span(gh), gh.lo + gh.n_in), max(span(gw), gw.lo + gw.n_in)), dtype, order, 0)


def crop(buf, geo):
    gh, gw = geo
    return buf[..., gh.lo:gh.lo + gh.n_in, gw.lo:gw.lo + gw.n_in]


# ---------------------------------------------------------------------------------------------------------------
# argument checking


def ntuple(v, n, name, op):
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


def check_input(op, t, nd, what="input"):
    names = "N, C, L" if nd == 1 else ("N, C, H, W" if nd == 2 else "N, C, D, H, W")
    check_tensor(t, op, what)
    if t._data.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: expected {what} with {nd + 2} dims ({names}) or {nd + 1} dims, "
                           f"got shape {tuple(t._data.shape)}")
    if t._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating-point {what}, got {t.dtype}")


def check_positive(op, name, values, what="non-positive {name} is not supported"):
    if any(v <= 0 for v in values):
        raise RuntimeError(f"{op}: {what.format(name=name)}, got {name}={values}")


def geometry2d(dims):
    return (_FLAT_H, dims[0]) if len(dims) == 1 else tuple(dims)
