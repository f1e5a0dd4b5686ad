"""Max pooling in C: the forward (each window's maximum and its kernel position) and its gradient (each window's
gradient sent back to that position), one pass over the input, where NumPy's forms take a pass per kernel position.

``lower_pools`` gives the ``MaxPool`` ops (without ``return_indices``) and ``MaxPoolScatter`` ops of float32 or
float64 arrays this module's nodes. The forward is PyTorch's CPU loop: a window's running maximum is replaced by a
greater value or a NaN, starting from -inf at the window's first element inside the input, so the kernel position
kept (``kidx``, in the dtype NumPy's form uses) is the eager one: the first maximum, the last NaN, the first
element inside the input for a window of -inf. Either node can run with the other's NumPy form.
"""
import ctypes

import numpy as np

from ..ops.pooling import MaxPool, MaxPoolScatter
from . import render_c
from .lower import SUFFIX, swap_to_c

__all__ = ["BODY", "lower_pools"]

BODY = r"""
/* geo: kh, sh, dh, lh, kw, sw, dw, lw (kernel, stride, dilation, padding before, per axis); planes of h x w in,
   oh x ow out */
#define EM_POOL_CHUNK 256

/* whether geo's windows are 2 x 2 at stride 2 inside the planes (no padding, dilation or partial window) */
static inline int em_pool_2x2(const int64_t *geo, int64_t h, int64_t w, int64_t oh, int64_t ow)
{
    return geo[0] == 2 && geo[1] == 2 && geo[2] == 1 && geo[3] == 0 && geo[4] == 2 && geo[5] == 2 && geo[6] == 1
           && geo[7] == 0 && 2 * oh <= h && 2 * ow <= w;
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
/* the lanes of vector half (0 or 1) of the 2n floats (two vectors) under n <= 16 windows of a row */
static inline __mmask16 em_pool_pairs(int64_t n, int half)
{
    const int64_t lanes = 2 * n - 16 * half;
    return lanes >= 16 ? 0xffff : lanes <= 0 ? 0 : (__mmask16)((1u << lanes) - 1);
}

/* float32 2 x 2 windows at stride 2 (em_pool_2x2), 16 windows of a row at a time: each input row's pairs split
   into their first and second elements by two permutes, the pairs' maxima, then the rows' (the scan's order:
   the first maximum, the last NaN), with masks for a row's last windows; branches on the data would be
   mispredicted half the time. 0 where the windows are others (the general loop runs) */
__attribute__((noinline))  /* one copy, not one in each function that tries it (a compile 0.2 s shorter) */
static int em_maxpool_2x2_f32(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, const int64_t *geo,
                              int nthreads, int index_bytes, const float *x, float *out, int8_t *kidx)
{
    if (!em_pool_2x2(geo, h, w, oh, ow) || index_bytes != 1)  /* (2 x 2 windows' positions are int8) */
        return 0;
    EM_OMP(parallel for if(parallel: nthreads > 1) num_threads(nthreads) schedule(static))
    for (int64_t row = 0; row < planes * oh; ++row) {
        const int64_t p = row / oh, oy = row % oh;
        const __m512i first = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        const __m512i second = _mm512_add_epi32(first, _mm512_set1_epi32(1));
        const float *r0 = x + (p * h + 2 * oy) * w, *r1 = r0 + w;
        for (int64_t ox = 0; ox < ow; ox += 16) {
            const int64_t n = ow - ox < 16 ? ow - ox : 16, o = row * ow + ox;
            const __mmask16 m = (__mmask16)((1u << n) - 1), lo = em_pool_pairs(n, 0), hi = em_pool_pairs(n, 1);
            __m512 best[2];
            __mmask16 second_taken[2];
            for (int i = 0; i < 2; ++i) {
                const float *r = (i ? r1 : r0) + 2 * ox;
                const __m512 v0 = _mm512_maskz_loadu_ps(lo, r), v1 = _mm512_maskz_loadu_ps(hi, r + 16);
                const __m512 a = _mm512_permutex2var_ps(v0, first, v1), b = _mm512_permutex2var_ps(v0, second, v1);
                second_taken[i] = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q);
                best[i] = _mm512_mask_blend_ps(second_taken[i], a, b);
            }
            const __mmask16 lower = _mm512_cmp_ps_mask(best[1], best[0], _CMP_GT_OQ)
                                    | _mm512_cmp_ps_mask(best[1], best[1], _CMP_UNORD_Q);
            _mm512_mask_storeu_ps(out + o, m, _mm512_mask_blend_ps(lower, best[0], best[1]));
            /* the kernel position: 2 * lower + the row's second_taken */
            const __mmask16 odd = (lower & second_taken[1]) | (~lower & second_taken[0]);
            _mm_mask_storeu_epi8(kidx + o, m, _mm_add_epi8(_mm_maskz_set1_epi8(lower, 2), _mm_maskz_set1_epi8(odd, 1)));
        }
    }
    return 1;
}

/* the gradient of em_maxpool_2x2_f32: each window's gradient at its kernel position, zeros at the others (the
   windows do not overlap: stores, no adds), and zeros in the rows and columns past the last window */
__attribute__((noinline))
static int em_maxpool_scatter_2x2_f32(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                      const int64_t *geo, int nthreads, int index_bytes, const float *g,
                                      const int8_t *kidx, float *out)
{
    if (!em_pool_2x2(geo, h, w, oh, ow) || index_bytes != 1)
        return 0;
    EM_OMP(parallel for if(parallel: nthreads > 1) num_threads(nthreads) schedule(static))
    for (int64_t p = 0; p < planes; ++p) {
        const __m512i low = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
        const __m512i high = _mm512_add_epi32(low, _mm512_set1_epi32(8));
        for (int64_t oy = 0; oy < oh; ++oy) {
            float *r0 = out + (p * h + 2 * oy) * w, *r1 = r0 + w;
            for (int64_t ox = 0; ox < ow; ox += 16) {
                const int64_t n = ow - ox < 16 ? ow - ox : 16, o = (p * oh + oy) * ow + ox;
                const __mmask16 m = (__mmask16)((1u << n) - 1), lo = em_pool_pairs(n, 0), hi = em_pool_pairs(n, 1);
                const __m512 gv = _mm512_maskz_loadu_ps(m, g + o);
                const __m128i k = _mm_maskz_loadu_epi8(m, kidx + o);
                __mmask16 at[4];
                for (int j = 0; j < 4; ++j)
                    at[j] = _mm_cmpeq_epi8_mask(k, _mm_set1_epi8((char)j));
                for (int i = 0; i < 2; ++i) {
                    const __m512 e = _mm512_maskz_mov_ps(at[2 * i], gv), f = _mm512_maskz_mov_ps(at[2 * i + 1], gv);
                    float *r = (i ? r1 : r0) + 2 * ox;
                    _mm512_mask_storeu_ps(r, lo, _mm512_permutex2var_ps(e, low, f));
                    _mm512_mask_storeu_ps(r + 16, hi, _mm512_permutex2var_ps(e, high, f));
                }
            }
            for (int64_t j = 2 * ow; j < w; ++j)
                r0[j] = r1[j] = 0;
        }
        for (int64_t i = 2 * oh * w; i < h * w; ++i)
            out[p * h * w + i] = 0;
    }
    return 1;
}
#else
#define em_maxpool_2x2_f32(...) 0
#define em_maxpool_scatter_2x2_f32(...) 0
#endif
#define em_maxpool_2x2_f64(...) 0
#define em_maxpool_scatter_2x2_f64(...) 0

#define EM_MAXPOOL(T, S)                                                                                        \
void em_maxpool_##S(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, void *geoo, int nthreads,     \
                    int index_bytes, void *xo, void *oo, void *ko)                                             \
{                                                                                                               \
    const int64_t *restrict geo = EM_DATA(geoo, const int64_t);                                                 \
    const T *restrict x = EM_DATA(xo, const T);                                                                 \
    T *restrict out = EM_DATA(oo, T);                                                                           \
    const int64_t kh = geo[0], sh = geo[1], dh = geo[2], lh = geo[3];                                           \
    const int64_t kw = geo[4], sw = geo[5], dw = geo[6], lw = geo[7];                                           \
    if (em_maxpool_2x2_##S(planes, h, w, oh, ow, geo, nthreads, index_bytes, x, out, EM_DATA(ko, int8_t)))       \
        return;                                                                                                 \
    /* for each chunk of a row and kernel column j: the chunk's windows whose column is inside the input */   \
    /* (computed once: two divisions per row and position cost as much as the scan)                      */   \
    const int64_t chunks = (ow + EM_POOL_CHUNK - 1) / EM_POOL_CHUNK;                                            \
    int64_t span[chunks * kw * 2 + 1];                                                                          \
    for (int64_t ch = 0; ch < chunks; ++ch)                                                                     \
        for (int64_t j = 0; j < kw; ++j) {                                                                      \
            const int64_t n = ow - ch * EM_POOL_CHUNK < EM_POOL_CHUNK ? ow - ch * EM_POOL_CHUNK : EM_POOL_CHUNK; \
            const int64_t off = ch * EM_POOL_CHUNK * sw + j * dw - lw;                                          \
            const int64_t end = w - off <= 0 ? 0 : (w - off - 1) / sw + 1;                                      \
            span[(ch * kw + j) * 2] = off >= 0 ? 0 : (-off + sw - 1) / sw;                                      \
            span[(ch * kw + j) * 2 + 1] = end < n ? end : n;                                                    \
        }                                                                                                       \
    EM_OMP(parallel for if(parallel: nthreads > 1) num_threads(nthreads)                                       \
           schedule(static))                                                                                    \
    for (int64_t p = 0; p < planes; ++p) {                                                                      \
        const T *restrict xp = x + p * h * w;                                                                   \
        for (int64_t oy = 0; oy < oh; ++oy)                                                                     \
        for (int64_t ox0 = 0; ox0 < ow; ox0 += EM_POOL_CHUNK) {                                                 \
            /* EM_POOL_CHUNK windows of a row at once, one kernel position after another (the scan's order),   */\
            /* so the loop over the windows is independent and vectorises; a window's running maximum is       */\
            /* kept by selects (which element wins is data: branches would be mispredicted), in local arrays   */\
            /* (stores to the output could alias the input's loads every 4 KiB: NumPy's large arrays start at  */\
            /* the same page offset; that doubled the time)                                                    */\
            const int64_t n = ow - ox0 < EM_POOL_CHUNK ? ow - ox0 : EM_POOL_CHUNK;                              \
            T best[EM_POOL_CHUNK];                                                                              \
            int32_t at[EM_POOL_CHUNK];                                                                          \
            for (int64_t c = 0; c < n; ++c) {                                                                   \
                best[c] = -(T)INFINITY;                                                                         \
                at[c] = -1;                                                                                     \
            }                                                                                                   \
            const int64_t y0 = oy * sh - lh;                                                                    \
            for (int64_t i = 0; i < kh; ++i) {                                                                  \
                const int64_t y = y0 + i * dh;                                                                  \
                if (y < 0 || y >= h)                                                                            \
                    continue;                                                                                   \
                const T *restrict row = xp + y * w;                                                             \
                for (int64_t j = 0; j < kw; ++j) {                                                              \
                    const int64_t off = ox0 * sw + j * dw - lw;  /* column of window c: c * sw + off */         \
                    const int64_t *bounds = span + (ox0 / EM_POOL_CHUNK * kw + j) * 2;                          \
                    const int64_t lo = bounds[0], hi = bounds[1];                                               \
                    const int32_t pos = (int32_t)(i * kw + j);                                                  \
                    for (int64_t c = lo; c < hi; ++c) {                                                         \
                        const T v = row[c * sw + off], b = best[c];                                             \
                        const int take = (v > b) | (v != v) | (at[c] < 0);                                      \
                        best[c] = take ? v : b;                                                                 \
                        at[c] = take ? pos : at[c];                                                             \
                    }                                                                                           \
                }                                                                                               \
            }                                                                                                   \
            T *restrict o = out + (p * oh + oy) * ow + ox0;                                                     \
            const int64_t at0 = (p * oh + oy) * ow + ox0;                                                       \
            for (int64_t c = 0; c < n; ++c) {  /* a window wholly in the padding: position 0 */                \
                o[c] = best[c];                                                                                 \
                at[c] = at[c] < 0 ? 0 : at[c];                                                                  \
            }                                                                                                   \
            if (index_bytes == 1)  /* the positions' dtype (int8 or int32): a branch, not a function each */   \
                for (int64_t c = 0; c < n; ++c)                                                                 \
                    EM_DATA(ko, int8_t)[at0 + c] = (int8_t)at[c];                                               \
            else                                                                                                \
                for (int64_t c = 0; c < n; ++c)                                                                 \
                    EM_DATA(ko, int32_t)[at0 + c] = at[c];                                                      \
        }                                                                                                       \
    }                                                                                                           \
}

#define EM_MAXPOOL_SCATTER(T, S, I, IS)                                                                         \
void em_maxpool_scatter_##S##_##IS(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, void *geoo,   \
                                   int nthreads, void *go, void *ko, void *oo)                                  \
{                                                                                                               \
    const int64_t *restrict geo = EM_DATA(geoo, const int64_t);                                                 \
    const T *restrict g = EM_DATA(go, const T);                                                                 \
    const I *restrict kidx = EM_DATA(ko, const I);                                                              \
    T *restrict out = EM_DATA(oo, T);                                                                           \
    const int64_t kh = geo[0], sh = geo[1], dh = geo[2], lh = geo[3];                                           \
    const int64_t kw = geo[4], sw = geo[5], dw = geo[6], lw = geo[7];                                           \
    (void)kh;                                                                                                   \
    if (em_maxpool_scatter_2x2_##S(planes, h, w, oh, ow, geo, nthreads, sizeof(I), g, (const int8_t *)kidx, out)) \
        return;                                                                                                 \
    EM_OMP(parallel for if(parallel: nthreads > 1) num_threads(nthreads) schedule(static))                     \
    for (int64_t p = 0; p < planes; ++p) {                                                                      \
        T *restrict op = out + p * h * w;                                                                       \
        for (int64_t i = 0; i < h * w; ++i)                                                                     \
            op[i] = 0;                                                                                          \
        for (int64_t oy = 0; oy < oh; ++oy)                                                                     \
            for (int64_t ox = 0; ox < ow; ++ox) {                                                               \
                const int64_t o = (p * oh + oy) * ow + ox, k = kidx[o];                                         \
                const int64_t y = oy * sh - lh + k / kw * dh, xx = ox * sw - lw + k % kw * dw;                  \
                if (y >= 0 && y < h && xx >= 0 && xx < w)                                                       \
                    op[y * w + xx] += g[o];                                                                     \
            }                                                                                                   \
    }                                                                                                           \
}

EM_MAXPOOL(float, f32)
EM_MAXPOOL_SCATTER(float, f32, int8_t, i8)
EM_MAXPOOL_SCATTER(float, f32, int32_t, i32)
#ifndef EM_FLOAT32_ONLY
EM_MAXPOOL(double, f64)
EM_MAXPOOL_SCATTER(double, f64, int8_t, i8)
EM_MAXPOOL_SCATTER(double, f64, int32_t, i32)
#endif
"""

_INDEX = {np.dtype("int8"): "i8", np.dtype("int32"): "i32"}


def _geometry(geo):
    (kh, sh, dh, lh, _, _), (kw, sw, dw, lw, _, _) = geo
    return np.array([kh, sh, dh, lh, kw, sw, dw, lw], np.int64)


def _planes(a):
    """a (..., H, W) as C-contiguous (planes, H, W), and the number of planes."""
    a = a if a.flags.carray else np.array(a, order="C")
    return a, a.size // (a.shape[-1] * a.shape[-2]) if a.size else 0


class CMaxPool(MaxPool):
    """MaxPool run by C (see the module docstring)."""

    lib = None  # {(dtype suffix, index suffix): (forward, scatter)}, set by lower_pools
    runs = "c"

    def forward(self, xp, x):
        x, planes = _planes(self._in(x))
        (kh, _, _, _, h, oh), (kw, _, _, _, w, ow) = self.geo
        out = np.empty(x.shape[:-2] + (oh, ow), x.dtype)
        kidx = np.empty(out.shape, np.int8 if kh * kw < 128 else np.int32)
        threads = render_c.threads_for(out.size * kh * kw)
        self.lib[SUFFIX[x.dtype], _INDEX[kidx.dtype]][0](planes, h, w, oh, ow, _geometry(self.geo), threads,
                                                            kidx.itemsize, x, out, kidx)
        self.kidx = kidx
        return self._out(out)


class CMaxPoolScatter(MaxPoolScatter):
    """MaxPoolScatter run by C (see the module docstring)."""

    lib = None
    runs = "c"

    def forward(self, xp, g):
        g, planes = _planes(self._in(g))
        kidx = self.kidx if self.kidx.flags.carray else np.ascontiguousarray(self.kidx)
        (_, _, _, _, h, oh), (_, _, _, _, w, ow) = self.geo
        out = np.empty(g.shape[:-2] + (h, w), g.dtype)
        threads = render_c.threads_for(out.size)
        self.lib[SUFFIX[g.dtype], _INDEX[kidx.dtype]][1](planes, h, w, oh, ow, _geometry(self.geo), threads, g,
                                                            kidx, out)
        return self._out(out)


def _functions(lib):
    i64, i32, obj = ctypes.c_int64, ctypes.c_int, ctypes.py_object
    table = {}
    for s in SUFFIX.values():
        if not hasattr(lib, f"em_maxpool_{s}"):
            continue  # built for float32 only
        for i in _INDEX.values():
            forward, scatter = getattr(lib, f"em_maxpool_{s}"), getattr(lib, f"em_maxpool_scatter_{s}_{i}")
            forward.argtypes, forward.restype = [i64] * 5 + [obj, i32, i32, obj, obj, obj], None
            scatter.argtypes, scatter.restype = [i64] * 5 + [obj, i32, obj, obj, obj], None
            table[s, i] = (forward, scatter)
    return table


def _covered(op):
    node = op.node
    if type(node) is MaxPool:
        return node.positions is None and op.args[0].dtype in SUFFIX
    return type(node) is MaxPoolScatter and op.args[0].dtype in SUFFIX


def lower_pools(graph, load):
    """graph with its max pooling and its gradients run by C (its ops list replaced; the other Op objects are
    shared). ``load()`` gives the library of ``BODY``; it is built when such a node first runs outside a C
    segment."""
    classes = {id(op): CMaxPool if type(op.node) is MaxPool else CMaxPoolScatter
               for op in graph.ops if _covered(op)}
    return swap_to_c(graph, classes, lambda: _functions(load()))
