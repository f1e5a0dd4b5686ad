"""The window copies of convolutions in C: im2col's copy of a strided view of the input's windows into its matrix,
one loop per run of the view's last dimension, where NumPy's copy of a view of five or six short dimensions spends
most of its time between runs (a 5x5 kernel over 14x14 images: runs of 10 elements).

``lower_convolutions`` sets ``copy_windows`` (see ember.ops.conv) on the Conv, ConvTranspose and ConvWeight nodes
of a graph: the same ops, the same arithmetic (a copy moves the same bits), faster copies.
"""
import ctypes

import numpy as np

from ..ops.conv import Conv, ConvTranspose, ConvWeight
from .lower import swap_nodes

__all__ = ["BODY", "lower_convolutions"]

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

EM_GATHER(float, f32)
EM_GATHER(double, f64)
"""


class WindowCopy:
    """``copy(dst, src)``: dst (C-contiguous, src's shape) = src, a strided view, by the C function of its dtype
    (NumPy's assignment for other dtypes, more than 8 dimensions or strides that are not whole elements)."""

    def __init__(self, lib):
        self.fns = {}
        for dtype, suffix in ((np.dtype("float32"), "f32"), (np.dtype("float64"), "f64")):
            fn = getattr(lib, f"em_gather_{suffix}")
            fn.argtypes, fn.restype = [ctypes.c_int64] + [ctypes.py_object] * 3, None
            self.fns[dtype] = fn

    def __call__(self, dst, src):
        fn, size = self.fns.get(src.dtype), src.itemsize
        if (fn is None or not 0 < src.ndim <= 8 or src.size == 0 or dst.dtype != src.dtype or dst.shape != src.shape
                or not dst.flags.carray or any(s % size for s in src.strides)):
            dst[...] = src
            return
        fn(src.ndim, np.array(src.shape + tuple(s // size for s in src.strides), np.int64), src, dst)

    def __repr__(self):
        return "c"  # how the graph prints it: {copy_windows=c}


def lower_convolutions(graph, load):
    """graph with the window copies of its convolutions run by C (its ops list replaced; the other Op objects
    are shared). ``load()`` gives the library of ``BODY``; it is called only when the graph has convolutions."""
    classes = {id(op): type(op.node) for op in graph.ops if type(op.node) in (Conv, ConvTranspose, ConvWeight)}
    return swap_nodes(graph, classes, copy_windows=WindowCopy(load())) if classes else graph
