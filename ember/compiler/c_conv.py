"""Convolutions in C: float32 convolutions without groups (kernels past 1x1) and their weight gradients directly
(``c_direct``), and the input gradients of stride-1 ones; for the others, im2col's copy of a strided view of the
input's windows into its matrix, one loop per run of the view's last dimension, where NumPy's copy of a view of
five or six short dimensions spends most of its time between runs (a 5x5 kernel over 14x14 images: runs of 10
elements); and col2im's adds of each kernel position's columns back into the input gradient, one pass per image
and channel instead of one NumPy call per kernel position (contiguous runs in the wide layout of stride 1, every
stride-th element otherwise: a 3x3/2 input gradient's adds 1.55 -> 0.43 ms on 32x16x32x32).

``lower_convolutions`` sets ``window_ops`` (see ember.ops.conv) on the Conv, ConvTranspose and ConvWeight nodes of
a graph: the same ops; through im2col the same arithmetic in the same order (the same bits), fewer passes.
"""
import ctypes

import numpy as np

from ..ops.conv import Conv, ConvTranspose, ConvWeight
from ..ops.reduce import Mean, Sum
from . import c_direct, c_nhwc
from .c_norm import CNormalize, CNormalizeGrad
from .kernel import FusedKernel
from .lower import swap_nodes
from .passes.layout import choose_channels_last

__all__ = ["BODY", "lower_convolutions", "lower_layouts"]

BODY = r"""
/* dst (C-contiguous) = the strided view src of nd <= 8 dimensions: shape[0..nd), then strides in elements */
#define EM_GATHER(T, S)                                                                                         \
void em_gather_##S(int64_t nd, void *geoo, void *so, void *do_)                                                \
{                                                                                                               \
    const int64_t *restrict shape = EM_DATA(geoo, const int64_t);                                               \
    const int64_t *restrict st = shape + nd;                                                                    \
    const T *s = EM_DATA(so, const T);                                                                          \
    T *restrict dst = EM_DATA(do_, T);                                                                          \
    int64_t idx[8] = {0}, outer = 1;                                                                            \
    const int64_t inner = shape[nd - 1], step = st[nd - 1];                                                     \
    for (int64_t d = 0; d < nd - 1; ++d)                                                                        \
        outer *= shape[d];                                                                                      \
    for (int64_t o = 0; o < outer; ++o) {                                                                       \
        if (step == 1)                                                                                          \
            for (int64_t j = 0; j < inner; ++j)                                                                 \
                dst[j] = s[j];                                                                                  \
        else                                                                                                    \
            for (int64_t j = 0; j < inner; ++j)                                                                 \
                dst[j] = s[j * step];                                                                           \
        dst += inner;                                                                                           \
        for (int64_t d = nd - 2; d >= 0; --d) {  /* the next run: an odometer over the outer dimensions */     \
            s += st[d];                                                                                         \
            if (++idx[d] < shape[d])                                                                            \
                break;                                                                                          \
            s -= st[d] * shape[d];                                                                              \
            idx[d] = 0;                                                                                         \
        }                                                                                                       \
    }                                                                                                           \
}

/* dst (m, c, plane) += the columns cols (m, c, kk, p) of each kernel position k at offset off[k] of each plane,
   k in order (NumPy's order of additions) */
#define EM_ADD_RUNS(T, S)                                                                                       \
void em_add_runs_##S(int64_t m, int64_t c, int64_t kk, int64_t p, int64_t plane, void *offo, void *colso,      \
                     void *dsto)                                                                                \
{                                                                                                               \
    const int64_t *restrict off = EM_DATA(offo, const int64_t);                                                 \
    const T *restrict cols = EM_DATA(colso, const T);                                                           \
    T *restrict dst = EM_DATA(dsto, T);                                                                         \
    for (int64_t i = 0; i < m * c; ++i)                                                                         \
        for (int64_t k = 0; k < kk; ++k) {                                                                      \
            T *restrict d = dst + i * plane + off[k];                                                           \
            const T *restrict s = cols + (i * kk + k) * p;                                                      \
            for (int64_t q = 0; q < p; ++q)                                                                     \
                d[q] += s[q];                                                                                   \
        }                                                                                                       \
}

/* dst (mc, h, w) += the windows cols (mc, kk, oh, ow) of the table's kernel positions, n rows of (k, r0, c0, y0,
   y1, x0, x1): the window rows [y0, y1) and columns [x0, x1) of position k fall on the input's rows r0, r0 + sh, ...
   and columns c0, c0 + sw, ...; rows in order (NumPy's order of additions) */
#define EM_ADD_WINDOWS(T, S)                                                                                    \
void em_add_windows_##S(int64_t mc, int64_t kk, int64_t oh, int64_t ow, int64_t h, int64_t w, int64_t sh,      \
                        int64_t sw, int64_t n, void *tableo, void *colso, void *dsto)                           \
{                                                                                                               \
    const int64_t *restrict table = EM_DATA(tableo, const int64_t);                                             \
    const T *restrict cols = EM_DATA(colso, const T);                                                           \
    T *restrict dst = EM_DATA(dsto, T);                                                                         \
    for (int64_t i = 0; i < mc; ++i)                                                                            \
        for (int64_t e = 0; e < n; ++e) {                                                                       \
            const int64_t *t = table + 7 * e, x0 = t[5], run = t[6] - t[5];                                    \
            for (int64_t y = t[3]; y < t[4]; ++y) {                                                             \
                T *restrict d = dst + (i * h + t[1] + (y - t[3]) * sh) * w + t[2];                              \
                const T *restrict s = cols + ((i * kk + t[0]) * oh + y) * ow + x0;                              \
                for (int64_t q = 0; q < run; ++q)                                                               \
                    d[q * sw] += s[q];                                                                          \
            }                                                                                                   \
        }                                                                                                       \
}

EM_GATHER(float, f32)
EM_ADD_RUNS(float, f32)
EM_ADD_WINDOWS(float, f32)
#ifndef EM_FLOAT32_ONLY
EM_GATHER(double, f64)
EM_ADD_RUNS(double, f64)
EM_ADD_WINDOWS(double, f64)
#endif
""" + c_direct.BODY  # (c_nhwc's C is a library of its own: the two compile at once)


class WindowOps:
    """The C functions a convolution node calls (see ember.ops.conv._ConvOp.window_ops): the direct convolutions
    (``conv``, ``conv_weight``: None where they do not apply), and im2col's copies and col2im's adds, each falling
    back to NumPy's array operation for what it does not cover (other dtypes, more than 8 dimensions, strides
    that are not whole elements, arrays that are not C-contiguous where they must be)."""

    def __init__(self, load, load_channels_last, channels_last=False):
        self._load, self._load_channels_last, self._lib = load, load_channels_last, [None]
        self.channels_last = channels_last

    def with_channels_last(self):
        """These window ops for a node whose result is channels-last where it runs so (see passes.layout): the
        same libraries."""
        twin = WindowOps(self._load, self._load_channels_last, True)
        twin._lib = self._lib
        return twin

    def built(self):
        """The library's functions, loaded now if they were not yet (compiling it if the cache lacks it)."""
        return self._functions()

    def _functions(self):
        """(DirectConv, {dtype: gather}, {dtype: add_runs}, {dtype: add_windows}, ChannelsLastConv) of the
        library, loaded on first use."""
        if self._lib[0] is None:
            lib = self._load()
            gather, add, add_windows = {}, {}, {}
            i64, obj = ctypes.c_int64, ctypes.py_object
            for dtype, suffix in ((np.dtype("float32"), "f32"), (np.dtype("float64"), "f64")):
                if not hasattr(lib, f"em_gather_{suffix}"):
                    continue  # built for float32 only
                fn = gather[dtype] = getattr(lib, f"em_gather_{suffix}")
                fn.argtypes, fn.restype = [i64] + [obj] * 3, None
                fn = add[dtype] = getattr(lib, f"em_add_runs_{suffix}")
                fn.argtypes, fn.restype = [i64] * 5 + [obj] * 3, None
                fn = add_windows[dtype] = getattr(lib, f"em_add_windows_{suffix}")
                fn.argtypes, fn.restype = [i64] * 9 + [obj] * 3, None
            cl_lib = self._load_channels_last()
            self._lib[0] = (c_direct.DirectConv(lib, cl_lib), gather, add, add_windows,
                            c_nhwc.ChannelsLastConv(cl_lib))
        return self._lib[0]

    def runs_directly(self, geo, groups, *arrays):
        """Whether the convolution of these arrays over geo runs directly (float32, no groups, a kernel past 1x1)."""
        return groups == 1 and c_direct.DirectConv.covers(geo, *arrays)

    def conv(self, x, geo, w2, groups, bias=None):
        """x (N, C, H, W) times the kernels w2 (O, C*KH*KW) over the windows geo, plus bias, (N, O, OH*OW); None
        unless it runs directly (channels-last where the output channels fill its vectors)."""
        if groups != 1:
            return None
        direct, *_, channels_last = self._functions()
        w = w2.reshape(w2.shape[0], x.shape[1], geo[0].k, geo[1].k)
        if channels_last.covers_forward(geo, x, w, bias):
            return channels_last.conv(x, geo, w, bias, self.channels_last).reshape(x.shape[0], w.shape[0], -1)
        return direct.conv(x, geo, w2, bias) if self.runs_directly(geo, groups, x, w2, bias) else None

    def conv_weight(self, x, g4, geo, groups):
        """The weight gradient (O, C*KH*KW) of x's convolution over geo from its output gradient g4; None unless
        it runs directly."""
        if groups != 1:
            return None
        direct, *_, channels_last = self._functions()
        if channels_last.covers_weight(geo, x, g4):
            return channels_last.conv_weight(x, g4, geo)
        return direct.conv_weight(x, g4, geo) if self.runs_directly(geo, groups, x, g4) else None

    def conv_input(self, g4, geo, w, groups, shape):
        """The input gradient (N, C, H, W) = shape of a convolution by w (O, C, KH, KW) over geo from its output
        gradient g4, channels-last for any stride; None where it does not run so."""
        if groups != 1:
            return None
        channels_last = self._functions()[-1]
        if not channels_last.covers_input(geo, g4, w):
            return None
        return channels_last.conv_input(g4, geo, w, shape, self.channels_last)

    def copy(self, dst, src):
        """dst (C-contiguous, src's shape) = src, a strided view."""
        fn, size = self._functions()[1].get(src.dtype), src.itemsize
        if (fn is None or not 0 < src.ndim <= 8 or src.size == 0 or dst.dtype != src.dtype or dst.shape != src.shape
                or not dst.flags.carray or any(s % size for s in src.strides)):
            dst[...] = src
            return
        fn(src.ndim, np.array(src.shape + tuple(s // size for s in src.strides), np.int64), src, dst)

    def add_runs(self, dst, cols, offsets):
        """dst (m, c, plane)[:, :, off:off + p] += cols[:, :, k] for each k and off of offsets, in order."""
        m, c, kk, p = cols.shape
        fn = self._functions()[2].get(dst.dtype)
        if fn is None or cols.dtype != dst.dtype or not (dst.flags.carray and cols.flags.carray) or m * c == 0:
            for k, off in enumerate(offsets):
                dst[:, :, off:off + p] += cols[:, :, k]
            return
        fn(m, c, kk, p, dst.shape[2], np.array(offsets, np.int64), cols, dst)

    def add_windows(self, dst, cols, pairs):
        """dst (m, c, H, W)[d] += cols (m, c, KH*KW, OH, OW)[:, :, k][s] for each (k, (d, s)) of pairs (see
        ember.ops._window.scatter_slices), in order: col2im for any stride in one pass over each image's planes."""
        m, c, kk, oh, ow = cols.shape
        fn = self._functions()[3].get(dst.dtype)
        if (fn is None or cols.dtype != dst.dtype or not (dst.flags.carray and cols.flags.carray) or m * c == 0
                or not pairs):
            for k, (d, s) in pairs:
                dst[d] += cols[:, :, k][s]
            return
        (_, rows, columns), _ = pairs[0][1]
        table = np.array([(k, d[1].start, d[2].start, s[1].start, s[1].stop, s[2].start, s[2].stop)
                          for k, (d, s) in pairs], np.int64)
        fn(m * c, kk, oh, ow, dst.shape[2], dst.shape[3], rows.step, columns.step, len(pairs), table, cols, dst)

    def __repr__(self):
        return "c, channels-last" if self.channels_last else "c"  # how the graph prints it: {window_ops=c}


def lower_layouts(graph):
    """graph with the convolutions whose results stay in chains of channels-last ops writing them channels-last
    (passes.layout): those that run channels-last (c_nhwc: float32, no groups, channels filling the vectors), read
    by batch norms and elementwise kernels of their shape (which keep their inputs' layout) and in the end by
    convolutions and reductions only."""
    def producer(op):
        node = op.node
        if type(node) not in (Conv, ConvTranspose) or not isinstance(node.window_ops, WindowOps):
            return False
        out = op.outputs[0]
        return node.groups == 1 and not node.one_d and out.dtype == np.float32 and c_nhwc.fills_vectors(out.shape[1])

    def follows(op):
        node = op.node
        if type(node) in (CNormalize, CNormalizeGrad):
            return not node.lay.rows  # batch norm (layer norm's rows are not channels)
        return isinstance(node, FusedKernel) and node.kernel.flat and len(node.kernel.shape) == 4

    def absorbs(op):
        return type(op.node) in (Conv, ConvTranspose, ConvWeight, Mean, Sum)

    chosen = choose_channels_last(graph, producer, follows, absorbs)
    if not chosen:
        return graph
    twin = chosen[0].node.window_ops.with_channels_last()
    return swap_nodes(graph, {id(op): type(op.node) for op in chosen}, window_ops=twin)


def lower_convolutions(graph, load, load_channels_last):
    """graph with the window copies and adds of its convolutions run by C (its ops list replaced; the other Op
    objects are shared). ``load()`` gives the library of ``BODY``, ``load_channels_last()`` c_nhwc's; they are
    called when a convolution first runs."""
    classes = {id(op): type(op.node) for op in graph.ops if type(op.node) in (Conv, ConvTranspose, ConvWeight)}
    return swap_nodes(graph, classes, window_ops=WindowOps(load, load_channels_last)) if classes else graph
