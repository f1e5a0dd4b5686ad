"""ember's own float32 GEMM on AVX-512 machines: ``c = op(a) @ op(b)`` (``+ c``) (``+ bias``) (relu'd, gated).

C segments call it for their products (``em_sgemm_on`` in c_graph, one call a thread), and the LSTM's C for its
weight gradients (``c_rnn``); NumPy's BLAS where it does not run. At the sizes of the bench's transformer and MLP
(a thread's block: 512 x 512 x 128, 128 x 256 x 784) OpenBLAS's float32 kernels reach 110-135 GFLOP/s a core on
the Intel machine of step 13 (MKL, PyTorch's: 130-165; the core's peak: 213). This GEMM reaches 140-160 there: a
12 x 32 register tile (24 accumulators of 16 floats; 12 x 16 for a last panel of 16 columns or fewer) reading
``b`` packed per block of 256 of the shared dimension into panels of 32 columns (1024 columns packed at once; zeros
past the last column) and ``a``'s block of 12 rows packed as the tile broadcasts it, 12 values a step of the
shared dimension. Packing is a copy where the operand's rows lie that way (``b``, or a transposed ``a``: a Linear's
weight gradient), else a transpose in registers, 16 x 16 at a time (``b.T``: a Linear's weight; ``a``): element by
element, that transpose had cost the product a fifth of its time. Each element of ``c`` is a sum in the same
order whatever the block of rows or columns a thread computes: a product's bits do not depend on the thread count.

``em_sgemm_own`` runs where the module is compiled for AVX-512 (``-march=native`` on such a machine), alpha is 1,
beta 0 or 1 and the product has at least a tile's rows and 16 columns; else NumPy's BLAS does.

The GEMM is one library (``LIBRARY``, compiled once and cached as the other modules are): a module that calls it
includes ``CALLS`` and is given its address as it is loaded (c_backend), so that it is not compiled again in
every such module (0.25 s each) and each thread holds one packing buffer (1 MB) for them all.
"""

import ctypes

import numpy as np

from . import cache

__all__ = ["AFTER", "BODY", "CALLS", "LIBRARY", "NONE", "address", "runs"]

# what a product does with each block of c's rows once they are final (a segment's optimizer update of a weight
# gradient's rows, while they are in cache): fn(after, the block's first element, rows, columns, c's leading
# dimension); the GEMM's library and the modules calling it declare it alike
AFTER = r"""
#include <stdint.h>
typedef struct em_gemm_after em_gemm_after;
struct em_gemm_after {
    void (*fn)(const em_gemm_after *after, void *c, int64_t rows, int64_t cols, int64_t ldc);
};
"""

BODY = AFTER + r"""
#include <stddef.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#define EM_GEMM_MR 12    /* rows of c's register tile */
#define EM_GEMM_NR 32    /* its columns: two vectors of 16 */
#define EM_GEMM_KC 256   /* the shared dimension's block: a packed panel of b is 32 KB */
#define EM_GEMM_NC 1024  /* columns of b packed at once: the pack (1 MB) stays in L2 */
static __thread float *em_gemm_packed;  /* this thread's packed panels of b (EM_GEMM_KC x EM_GEMM_NC), then a's block */

/* c[:mr, :16 * NV] (=, or += with add) a[:mr, :kc] @ panel (+ bias where not NULL) (then relu'd where relu),
   where a holds a's block as kc rows of EM_GEMM_MR (em_gemm_pack_a: zeros past row mr) and panel b's kc x 32
   block row by row (its first 16 columns only with NV 1: a last panel of 16 columns or fewer); the masks keep
   the stores to c's columns. relu as the Relu kernels: x where x > 0 or NaN, else +0; then, where gate is not
   NULL (a ReLU's output, rows ldc apart as c's), x where the gate's value > 0, else 0 (as the ReluGrad ones) */
#define EM_GEMM_TILE(NV)                                                                                        \
static inline void em_gemm_tile##NV(int64_t kc, const float *restrict a, const float *restrict panel,            \
                                    float *restrict c, int64_t ldc, int mr, const __mmask16 *mask, int add,     \
                                    const float *bias, int relu, const float *restrict gate)                    \
{                                                                                                               \
    __m512 acc[EM_GEMM_MR][NV], b[NV];                                                                          \
    _Pragma("GCC unroll 12")                                                                                    \
    for (int r = 0; r < EM_GEMM_MR; ++r)                                                                        \
        for (int v = 0; v < NV; ++v)                                                                            \
            acc[r][v] = _mm512_setzero_ps();                                                                    \
    for (int64_t k = 0; k < kc; ++k) {                                                                          \
        for (int v = 0; v < NV; ++v)                                                                            \
            b[v] = _mm512_load_ps(panel + k * EM_GEMM_NR + 16 * v);                                             \
        _Pragma("GCC unroll 12")                                                                                \
        for (int r = 0; r < EM_GEMM_MR; ++r) {                                                                  \
            const __m512 ar = _mm512_set1_ps(a[k * EM_GEMM_MR + r]);                                            \
            for (int v = 0; v < NV; ++v)                                                                        \
                acc[r][v] = _mm512_fmadd_ps(ar, b[v], acc[r][v]);                                               \
        }                                                                                                       \
    }                                                                                                           \
    __m512 row_bias[NV];                                                                                        \
    for (int v = 0; v < NV; ++v)                                                                                \
        row_bias[v] = bias ? _mm512_maskz_loadu_ps(mask[v], bias + 16 * v) : _mm512_setzero_ps();               \
    _Pragma("GCC unroll 12")                                                                                    \
    for (int r = 0; r < EM_GEMM_MR; ++r) {                                                                      \
        if (r >= mr)                                                                                            \
            continue;                                                                                           \
        float *cr = c + r * ldc;                                                                                \
        for (int v = 0; v < NV; ++v) {                                                                          \
            if (add)                                                                                            \
                acc[r][v] = _mm512_add_ps(_mm512_maskz_loadu_ps(mask[v], cr + 16 * v), acc[r][v]);             \
            if (bias)  /* after the product, as NumPy's form adds it */                                         \
                acc[r][v] = _mm512_add_ps(acc[r][v], row_bias[v]);                                              \
            if (relu)                                                                                           \
                acc[r][v] = _mm512_maskz_mov_ps(                                                                \
                    _mm512_cmp_ps_mask(acc[r][v], _mm512_setzero_ps(), _CMP_NLE_UQ), acc[r][v]);                \
            if (gate)                                                                                           \
                acc[r][v] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(                                             \
                    _mm512_maskz_loadu_ps(mask[v], gate + r * ldc + 16 * v), _mm512_setzero_ps(), _CMP_GT_OQ),  \
                    acc[r][v]);                                                                                 \
            _mm512_mask_storeu_ps(cr + 16 * v, mask[v], acc[r][v]);                                             \
        }                                                                                                       \
    }                                                                                                           \
}
EM_GEMM_TILE(1)
EM_GEMM_TILE(2)

/* r[j] (16 rows of 16) into its transpose: r[q]'s element j is the old r[j]'s element q */
static inline void em_gemm_transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    for (int i = 0; i < 16; i += 8)
        for (int q = 0; q < 4; ++q) {
            t[i + q] = _mm512_shuffle_f32x4(r[i + q], r[i + 4 + q], 0x88);
            t[i + 4 + q] = _mm512_shuffle_f32x4(r[i + q], r[i + 4 + q], 0xdd);
        }
    for (int q = 0; q < 8; ++q) {
        r[q] = _mm512_shuffle_f32x4(t[q], t[8 + q], 0x88);
        r[8 + q] = _mm512_shuffle_f32x4(t[q], t[8 + q], 0xdd);
    }
}

/* the kc x `rows` block whose element (k, j) is at x[j * sj + k] (rows of x in memory, rows <= 16), transposed
   16 x 16 in registers, as kc rows of 16 floats `width` floats apart at out (zeros past column `rows`); written
   in order of k, so that a row of 16 written past a narrower row's end is written over by the next (out holds
   16 - width floats past its last row) */
static inline void em_gemm_pack_transposed(int64_t kc, int rows, const float *x, int64_t sj, float *out,
                                           int64_t width)
{
    for (int64_t k0 = 0; k0 < kc; k0 += 16) {
        const int kk = kc - k0 < 16 ? (int)(kc - k0) : 16;
        const __mmask16 km = (__mmask16)((1u << kk) - 1);
        __m512 r[16];
        for (int j = 0; j < 16; ++j)
            r[j] = j < rows ? _mm512_maskz_loadu_ps(km, x + j * sj + k0) : _mm512_setzero_ps();
        em_gemm_transpose16(r);
        for (int q = 0; q < kk; ++q)
            _mm512_storeu_ps(out + (k0 + q) * width, r[q]);
    }
}

/* b's kc x nc block (element (k, j) at b[k * sk + j * sj]) into panels of 32 columns, each kc rows of 32 floats
   (zeros past column nc) */
static void em_gemm_pack(int64_t kc, int64_t nc, const float *b, int64_t sk, int64_t sj, float *restrict packed)
{
    for (int64_t j0 = 0; j0 < nc; j0 += EM_GEMM_NR) {
        const int64_t nj = nc - j0 < EM_GEMM_NR ? nc - j0 : EM_GEMM_NR;
        float *restrict panel = packed + j0 * kc;
        if (sj == 1) {
            const __mmask16 m0 = nj >= 16 ? 0xffff : (__mmask16)((1u << nj) - 1);
            const __mmask16 m1 = nj >= 32 ? 0xffff : nj <= 16 ? 0 : (__mmask16)((1u << (nj - 16)) - 1);
            for (int64_t k = 0; k < kc; ++k) {
                const float *row = b + k * sk + j0;
                _mm512_store_ps(panel + k * EM_GEMM_NR, _mm512_maskz_loadu_ps(m0, row));
                _mm512_store_ps(panel + k * EM_GEMM_NR + 16, _mm512_maskz_loadu_ps(m1, row + 16));
            }
        } else {  /* b's columns are rows in memory (sk == 1) */
            for (int h = 0; h < EM_GEMM_NR; h += 16)
                em_gemm_pack_transposed(kc, nj - h >= 16 ? 16 : nj > h ? (int)(nj - h) : 0, b + (j0 + h) * sj, sj,
                                        panel + h, EM_GEMM_NR);
        }
    }
}

/* a's mr x kc block (element (r, k) at a[r * sr + k * sk]) as kc rows of EM_GEMM_MR floats, in the order the
   tile broadcasts them (zeros past row mr; packed holds 16 - EM_GEMM_MR floats past the last row): copies where
   a is transposed (sr == 1), else transposes */
static void em_gemm_pack_a(int64_t kc, int mr, const float *a, int64_t sr, int64_t sk, float *restrict packed)
{
    if (sr != 1) {
        em_gemm_pack_transposed(kc, mr, a, sr, packed, EM_GEMM_MR);
        return;
    }
    const __mmask16 rows = (__mmask16)((1u << mr) - 1);
    for (int64_t k = 0; k < kc; ++k)  /* in order of k, as em_gemm_pack_transposed */
        _mm512_storeu_ps(packed + k * EM_GEMM_MR, _mm512_maskz_loadu_ps(rows, a + k * sk));
}

/* c (m x n, row-major, leading dimension ldc) = op(a) @ op(b) (+ c where add) (+ bias, a row of n, where not
   NULL): op(a) is a (m x k, lda) or, with ta, a.T (a: k x m, lda); op(b) is b (k x n, ldb) or, with tb, b.T (b:
   n x k, ldb); relu'd where relu (after the bias), gated where gate is not NULL (em_gemm_tile); after (where
   not NULL) is given each block of c's rows as they are final. 0 when it cannot get its buffer (the caller uses
   the BLAS) */
static int em_sgemm_own(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                        const float *b, int64_t ldb, int add, float *c, int64_t ldc, const float *bias, int relu,
                        const float *gate, const em_gemm_after *after)
{
    const int64_t sk = tb ? 1 : ldb, sj = tb ? ldb : 1, ar = ta ? 1 : lda, ak = ta ? lda : 1;
    if (!em_gemm_packed) {  /* b's panels, then a's block (and the 16 - EM_GEMM_MR floats its packing writes past) */
        em_gemm_packed = _mm_malloc(sizeof(float) * (EM_GEMM_KC * EM_GEMM_NC + EM_GEMM_KC * EM_GEMM_MR + 16), 64);
        if (!em_gemm_packed)
            return 0;
    }
    float *const packed_a = em_gemm_packed + EM_GEMM_KC * EM_GEMM_NC;
    for (int64_t jc = 0; jc < n; jc += EM_GEMM_NC) {
        const int64_t nc = n - jc < EM_GEMM_NC ? n - jc : EM_GEMM_NC;
        for (int64_t pc = 0; pc < k; pc += EM_GEMM_KC) {
            const int64_t kc = k - pc < EM_GEMM_KC ? k - pc : EM_GEMM_KC;
            const int last = pc + kc == k;  /* the bias, relu and after with the last block of k */
            em_gemm_pack(kc, nc, b + pc * sk + jc * sj, sk, sj, em_gemm_packed);
            for (int64_t i0 = 0; i0 < m; i0 += EM_GEMM_MR) {
                const int mr = m - i0 < EM_GEMM_MR ? (int)(m - i0) : EM_GEMM_MR;
                em_gemm_pack_a(kc, mr, a + i0 * ar + pc * ak, ar, ak, packed_a);
                for (int64_t j0 = 0; j0 < nc; j0 += EM_GEMM_NR) {
                    const int64_t nj = nc - j0 < EM_GEMM_NR ? nc - j0 : EM_GEMM_NR;
                    const __mmask16 mask[2] = {nj >= 16 ? 0xffff : (__mmask16)((1u << nj) - 1),
                                               nj >= 32 ? 0xffff : nj <= 16 ? 0 : (__mmask16)((1u << (nj - 16)) - 1)};
                    const float *row_bias = bias && last ? bias + jc + j0 : NULL;
                    const float *tile_gate = gate && last ? gate + i0 * ldc + jc + j0 : NULL;
                    if (nj > 16)
                        em_gemm_tile2(kc, packed_a, em_gemm_packed + j0 * kc, c + i0 * ldc + jc + j0, ldc, mr, mask,
                                      add || pc > 0, row_bias, relu && last, tile_gate);
                    else  /* a last panel of 16 columns or fewer: one vector (a third less work where n is 65) */
                        em_gemm_tile1(kc, packed_a, em_gemm_packed + j0 * kc, c + i0 * ldc + jc + j0, ldc, mr, mask,
                                      add || pc > 0, row_bias, relu && last, tile_gate);
                }
                if (after && last)
                    after->fn(after, c + i0 * ldc + jc, mr, nc, ldc);
            }
        }
    }
    return 1;
}
#endif
"""

# the library of the GEMM, one for every module that calls it (CALLS): one packing buffer a thread, one compile
LIBRARY = "#include <stdint.h>\n" + BODY + r"""
/* em_sgemm_own for the other modules (CALLS): 1 when it computed the product, 0 where it cannot (no AVX-512 on
   this machine, no buffer): the caller uses the BLAS then */
int em_gemm_f32(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                int64_t ldb, int add, float *c, int64_t ldc, const float *bias, int relu, const float *gate,
                const em_gemm_after *after)
{
#if defined(__AVX512F__)
    return em_sgemm_own(ta, tb, m, n, k, a, lda, b, ldb, add, c, ldc, bias, relu, gate, after);
#else
    (void)ta; (void)tb; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)add; (void)c;
    (void)ldc; (void)bias; (void)relu; (void)gate; (void)after;
    return 0;
#endif
}
"""

# what a module whose products can use the GEMM includes: LIBRARY's function through its address, which the
# module's em_set_gemm is given as it is loaded (c_backend), and EM_GEMM_OWN_s/_d, which compute a product there
# where it takes it (CBLAS's arguments: 111 not transposed, 112 transposed) and are 0 otherwise (the BLAS then)
CALLS = AFTER + r"""
#include <stddef.h>
static int (*em_sgemm_own)(int, int, int64_t, int64_t, int64_t, const float *, int64_t, const float *, int64_t,
                           int, float *, int64_t, const float *, int, const float *, const em_gemm_after *);
void em_set_gemm(void *fn)
{
    *(void **)&em_sgemm_own = fn;
}
/* whether em_sgemm_own takes a product of these sizes (a tile's rows, half its columns: runs() in Python) */
#define EM_GEMM_TAKES(m, n, k) ((m) >= 12 && (n) >= 16 && (k) > 0)
#define EM_GEMM_OWN_s(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, relu, gate, after)            \
    ((alpha) == 1 && ((beta) == 0 || (beta) == 1) && EM_GEMM_TAKES(m, n, k) && em_sgemm_own                    \
     && em_sgemm_own((ta) == 112, (tb) == 112, m, n, k, a, lda, b, ldb, (beta) == 1, c, ldc, bias, relu, gate,  \
                     after))
#define EM_GEMM_OWN_d(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, relu, gate, after) 0
"""

# what a module whose products cannot use the GEMM includes instead of CALLS
NONE = AFTER + r"""
#define EM_GEMM_OWN_s(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, relu, gate, after) 0
#define EM_GEMM_OWN_d(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, relu, gate, after) 0
"""


def runs(dtype, m, n, k):
    """Whether em_sgemm_own can take a product of an ``m x k`` ``op(a)`` of this dtype and an ``op(b)`` of ``n``
    columns (where the module is built for AVX-512): ``EM_GEMM_TAKES``, in Python."""
    return np.dtype(dtype) == np.float32 and m >= 12 and n >= 16 and k > 0


def address(compiler):
    """The address of LIBRARY's em_gemm_f32 (the library compiled once and cached as the other modules are)."""
    return ctypes.cast(cache.load(LIBRARY, compiler).em_gemm_f32, ctypes.c_void_p).value
