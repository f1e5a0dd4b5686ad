"""ember's own float32 GEMM on AVX-512 machines: ``c = a @ op(b)`` (``+ c``) (``+ bias``) with a row-major ``a``.

C segments call it for their products (``em_sgemm_on`` in c_graph, one call a thread), and the LSTM's C for its
weight gradients (``c_rnn``); NumPy's BLAS where it does not run. At the sizes of the bench's transformer and MLP
(a thread's block: 512 x 512 x 128, 512 x 128 x 512) OpenBLAS's float32 kernels reach ~135 GFLOP/s a core on the
Intel machine of step 13 (MKL, PyTorch's: ~160; the core's peak: 213). This GEMM reaches 150-160 there: a 12 x 32
register tile (24 accumulators of 16 floats; 12 x 16 for a last panel of 16 columns or fewer), ``a``'s elements
broadcast straight from its rows (packing them, a transpose, cost more than it saved), ``b`` packed per block of
256 of the shared dimension into panels of 32 columns (a copy, or a transpose where ``op(b)`` is ``b.T``; zeros
past its last column) that the tile reads in order. Each element of ``c`` is a sum in the same order whatever the
block of rows or columns a thread computes: a product's bits do not depend on the thread count.

``em_sgemm_own`` runs where the module is compiled for AVX-512 (``-march=native`` on such a machine), ``a`` is
not transposed, alpha is 1, beta 0 or 1 and the product has at least a tile's rows and 16 columns; else NumPy's
BLAS does. Products whose ``a`` is transposed (a Linear's weight gradient) stay with the BLAS: packing ``b``, the
larger matrix there, cost this GEMM its lead (107-127 against OpenBLAS's 111-125 GFLOP/s).

The GEMM is one library (``LIBRARY``, compiled once and cached as the other modules): a module that calls it
includes ``CALLS`` and is given its address as it is loaded (c_backend), so that it is not compiled again in
every such module (0.25 s each) and each thread holds one packing buffer (1 MB) for them all.
"""

import ctypes

import numpy as np

from . import cache

__all__ = ["BODY", "CALLS", "LIBRARY", "NONE", "address", "runs"]

BODY = r"""
#include <stddef.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#define EM_GEMM_MR 12    /* rows of c's register tile */
#define EM_GEMM_NR 32    /* its columns: two vectors of 16 */
#define EM_GEMM_KC 256   /* the shared dimension's block: a packed panel of b is 32 KB */
#define EM_GEMM_NC 1024  /* columns of b packed at once: the pack (1 MB) stays in L2 */
static __thread float *em_gemm_packed;  /* this thread's packed panels of b (EM_GEMM_KC x EM_GEMM_NC) */

/* c[:mr, :16 * NV] (=, or += with add) a[:mr, :kc] @ panel (+ bias where not NULL), where panel holds b's kc x 32
   block row by row (its first 16 columns only with NV 1: a last panel of 16 columns or fewer); the masks keep the
   stores to c's columns */
#define EM_GEMM_TILE(NV)                                                                                        \
static inline void em_gemm_tile##NV(int64_t kc, const float *restrict a, int64_t lda, const float *restrict panel, \
                                    float *restrict c, int64_t ldc, int mr, const __mmask16 *mask, int add,     \
                                    const float *bias)                                                          \
{                                                                                                               \
    __m512 acc[EM_GEMM_MR][NV], b[NV];                                                                          \
    _Pragma("GCC unroll 12")                                                                                    \
    for (int r = 0; r < EM_GEMM_MR; ++r)                                                                        \
        for (int v = 0; v < NV; ++v)                                                                            \
            acc[r][v] = _mm512_setzero_ps();                                                                    \
    if (mr == EM_GEMM_MR) {                                                                                     \
        for (int64_t k = 0; k < kc; ++k) {                                                                      \
            for (int v = 0; v < NV; ++v)                                                                        \
                b[v] = _mm512_load_ps(panel + k * EM_GEMM_NR + 16 * v);                                         \
            _Pragma("GCC unroll 12")                                                                            \
            for (int r = 0; r < EM_GEMM_MR; ++r) {                                                              \
                const __m512 ar = _mm512_set1_ps(a[r * lda + k]);                                               \
                for (int v = 0; v < NV; ++v)                                                                    \
                    acc[r][v] = _mm512_fmadd_ps(ar, b[v], acc[r][v]);                                           \
            }                                                                                                   \
        }                                                                                                       \
    } else {  /* the last rows: those past mr are zeros, never read */                                          \
        for (int64_t k = 0; k < kc; ++k) {                                                                      \
            for (int v = 0; v < NV; ++v)                                                                        \
                b[v] = _mm512_load_ps(panel + k * EM_GEMM_NR + 16 * v);                                         \
            _Pragma("GCC unroll 12")                                                                            \
            for (int r = 0; r < EM_GEMM_MR; ++r) {                                                              \
                const __m512 ar = _mm512_set1_ps(r < mr ? a[r * lda + k] : 0.0f);                               \
                for (int v = 0; v < NV; ++v)                                                                    \
                    acc[r][v] = _mm512_fmadd_ps(ar, b[v], acc[r][v]);                                           \
            }                                                                                                   \
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
            _mm512_mask_storeu_ps(cr + 16 * v, mask[v], acc[r][v]);                                             \
        }                                                                                                       \
    }                                                                                                           \
}
EM_GEMM_TILE(1)
EM_GEMM_TILE(2)

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
        } else {  /* b's columns are rows in memory (sk == 1): read along them */
            for (int64_t j = 0; j < EM_GEMM_NR; ++j) {
                const float *col = b + (j0 + j) * sj;
                if (j < nj)
                    for (int64_t k = 0; k < kc; ++k) panel[k * EM_GEMM_NR + j] = col[k * sk];
                else
                    for (int64_t k = 0; k < kc; ++k) panel[k * EM_GEMM_NR + j] = 0.0f;
            }
        }
    }
}

/* c (m x n, row-major, leading dimension ldc) = a @ op(b) (+ c where add) (+ bias, a row of n, where not NULL):
   a is m x k row-major (lda), op(b) is b (k x n, ldb) or, with tb, b.T (b: n x k, ldb). 0 when it cannot get its
   buffer (the caller uses the BLAS) */
static int em_sgemm_own(int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                        int64_t ldb, int add, float *c, int64_t ldc, const float *bias)
{
    const int64_t sk = tb ? 1 : ldb, sj = tb ? ldb : 1;
    if (!em_gemm_packed) {
        em_gemm_packed = _mm_malloc(sizeof(float) * EM_GEMM_KC * EM_GEMM_NC, 64);
        if (!em_gemm_packed)
            return 0;
    }
    for (int64_t jc = 0; jc < n; jc += EM_GEMM_NC) {
        const int64_t nc = n - jc < EM_GEMM_NC ? n - jc : EM_GEMM_NC;
        for (int64_t pc = 0; pc < k; pc += EM_GEMM_KC) {
            const int64_t kc = k - pc < EM_GEMM_KC ? k - pc : EM_GEMM_KC;
            em_gemm_pack(kc, nc, b + pc * sk + jc * sj, sk, sj, em_gemm_packed);
            for (int64_t i0 = 0; i0 < m; i0 += EM_GEMM_MR) {
                const int mr = m - i0 < EM_GEMM_MR ? (int)(m - i0) : EM_GEMM_MR;
                for (int64_t j0 = 0; j0 < nc; j0 += EM_GEMM_NR) {
                    const int64_t nj = nc - j0 < EM_GEMM_NR ? nc - j0 : EM_GEMM_NR;
                    const __mmask16 mask[2] = {nj >= 16 ? 0xffff : (__mmask16)((1u << nj) - 1),
                                               nj >= 32 ? 0xffff : nj <= 16 ? 0 : (__mmask16)((1u << (nj - 16)) - 1)};
                    const float *row_bias = bias && pc + kc == k ? bias + jc + j0 : NULL;
                    if (nj > 16)
                        em_gemm_tile2(kc, a + i0 * lda + pc, lda, em_gemm_packed + j0 * kc, c + i0 * ldc + jc + j0,
                                      ldc, mr, mask, add || pc > 0, row_bias);
                    else  /* a last panel of 16 columns or fewer: one vector (a third less work where n is 65) */
                        em_gemm_tile1(kc, a + i0 * lda + pc, lda, em_gemm_packed + j0 * kc, c + i0 * ldc + jc + j0,
                                      ldc, mr, mask, add || pc > 0, row_bias);
                }
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
int em_gemm_f32(int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                int add, float *c, int64_t ldc, const float *bias)
{
#if defined(__AVX512F__)
    return em_sgemm_own(tb, m, n, k, a, lda, b, ldb, add, c, ldc, bias);
#else
    (void)tb; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)add; (void)c; (void)ldc;
    (void)bias;
    return 0;
#endif
}
"""

# what a module whose products can use the GEMM includes: LIBRARY's function through its address, which the
# module's em_set_gemm is given as it is loaded (c_backend), and EM_GEMM_OWN_s/_d, which compute a product there
# where it takes it (CBLAS's arguments: 111 not transposed, 112 transposed) and are 0 otherwise (the BLAS then)
CALLS = r"""
#include <stddef.h>
static int (*em_sgemm_own)(int, int64_t, int64_t, int64_t, const float *, int64_t, const float *, int64_t, int,
                           float *, int64_t, const float *);
void em_set_gemm(void *fn)
{
    *(void **)&em_sgemm_own = fn;
}
/* whether em_sgemm_own takes a product of these sizes (a tile's rows, half its columns: runs() in Python) */
#define EM_GEMM_TAKES(m, n, k) ((m) >= 12 && (n) >= 16 && (k) > 0)
#define EM_GEMM_OWN_s(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)                               \
    ((ta) == 111 && (alpha) == 1 && ((beta) == 0 || (beta) == 1) && EM_GEMM_TAKES(m, n, k) && em_sgemm_own      \
     && em_sgemm_own((tb) == 112, m, n, k, a, lda, b, ldb, (beta) == 1, c, ldc, bias))
#define EM_GEMM_OWN_d(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias) 0
"""

# what a module whose products cannot use the GEMM includes instead of CALLS
NONE = r"""
#define EM_GEMM_OWN_s(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias) 0
#define EM_GEMM_OWN_d(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias) 0
"""


def runs(dtype, m, n, k):
    """Whether em_sgemm_own can take a product of an ``m x k`` row-major ``a`` of this dtype and an ``op(b)`` of
    ``n`` columns (where the module is built for AVX-512): ``EM_GEMM_TAKES``, in Python."""
    return np.dtype(dtype) == np.float32 and m >= 12 and n >= 16 and k > 0


def address(compiler):
    """The address of LIBRARY's em_gemm_f32 (the library compiled once and cached as the other modules are)."""
    return ctypes.cast(cache.load(LIBRARY, compiler).em_gemm_f32, ctypes.c_void_p).value
