"""LSTM layers in C: whole layers split over threads, and the cell where a layer cannot run so.

``lower_rnns`` gives the ``LSTMLayer`` and ``LSTMLayerGrad`` ops of float32 or float64 arrays this module's nodes. A
layer without projections (and NumPy's BLAS found) runs whole in C (``em_lstm_layer``, its gradient
``em_lstm_layer_grad``) on an OpenMP team: each thread owns a block of hidden units, computes their gates' input
projections for every step, then at each step the product of their rows of the hidden weights with the previous
state and their cells, and meets the other threads (a spin on a shared counter) before the next step, which needs
every unit's state. (On ember's Python thread pool the LSTM step of the bench took 15-16 ms where on the team it
takes 11.4, on a host that preempted threads more than usual.) The backward is the same with the cells' gradient
first and the product with the hidden weights' transpose after the meeting. OpenBLAS repacks its operands at every
call, a quarter of a step's time at these sizes, so a batch of whole vectors (16 floats) multiplies by weights
packed once per call (``em_rnn_mm``: 55 billion multiply-adds a second per core on the AVX-512 machine it was
measured on, OpenBLAS 45); other batches call the BLAS. Packing also halves the sigmoid gates' weight rows (where
Python halves them otherwise). The weight (and input) gradients are GEMMs over all the steps (ember's, ``c_gemm``,
on an AVX-512 machine, else the BLAS's), split over the team too; the gates' gradients are written gate-major for
them, and the states time-major. The other layers keep NumPy's loop with each step's cell in C.

The cells' arithmetic is the NumPy form's, operation by operation, except tanh (and so the sigmoids): a rational
approximation within 7 ulp; so results differ from eager by rounding.
"""
import ctypes
import math

import numpy as np

from ..ops import _threads
from ..ops.rnn import LSTMLayer, LSTMLayerGrad, _scratch
from . import blas, c_gemm
from .lower import SUFFIX, c_array, function_table, swap_to_c

__all__ = ["BODY", "lower_rnns", "team_work"]

BODY = c_gemm.CALLS + r"""
#include <sched.h>
#include <stdlib.h>

/* the CBLAS GEMM of NumPy's BLAS (its address from ember.compiler.blas), with 64-bit or 32-bit sizes (wide) */
#define EM_RNN_GEMM(T, S)                                                                                       \
typedef void (*em_rnn_gemm64_##S)(int, int, int, int64_t, int64_t, int64_t, T, const T *, int64_t, const T *,   \
                                  int64_t, T, T *, int64_t);                                                    \
typedef void (*em_rnn_gemm32_##S)(int, int, int, int, int, int, T, const T *, int, const T *, int, T, T *, int); \
/* c (m, n; row stride ldc) = op(a) (m, k) @ op(b) (k, n), row-major; op(x) = x, or x's transpose when tx */     \
static void em_rnn_gemm_##S(void *fn, int wide, int ta, int tb, int64_t m, int64_t n, int64_t k, const T *a,   \
                            int64_t lda, const T *b, int64_t ldb, T *c, int64_t ldc)                            \
{                                                                                                               \
    if (wide)                                                                                                   \
        ((em_rnn_gemm64_##S)fn)(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, (T)1, a, lda, b, ldb, (T)0, c,   \
                                ldc);                                                                           \
    else                                                                                                        \
        ((em_rnn_gemm32_##S)fn)(101, ta ? 112 : 111, tb ? 112 : 111, (int)m, (int)n, (int)k, (T)1, a,          \
                                (int)lda, b, (int)ldb, (T)0, c, (int)ldc);                                      \
}

/* The layers' per-step products with their weights packed once per call: c (m x n) = a (m x k) @ x (k x n, rows
   ldx apart), n a multiple of a vector (16 floats, 8 doubles), a packed by em_rnn_pack in panels of 12 rows
   (element (r, kk) of a panel at kk * 12 + r), each tile keeping 12 rows x 1 or 2 vectors of c in registers.
   (BLAS packs the weights again at every call: a quarter of the step's time at these sizes.) Multiply-adds are
   fused here only. */
EM_FUSED_MULTIPLY_ADDS

#define EM_RNN_TILE(T, S, L, V)                                                                                 \
static void em_rnn_tile_##S##_##V(int64_t k, const T *ap, const T *x, int64_t ldx, int64_t nr, T *c,          \
                                  int64_t ldc)                                                                  \
{                                                                                                               \
    em_rnn_vec_##S acc[12][V];                                                                                  \
    for (int r = 0; r < 12; ++r)                                                                                \
        for (int v = 0; v < V; ++v)                                                                             \
            acc[r][v] = (em_rnn_vec_##S){0};                                                                    \
    for (int64_t kk = 0; kk < k; ++kk) {                                                                        \
        const T *xr = x + kk * ldx, *w = ap + kk * 12;                                                          \
        em_rnn_vec_##S xv[V];                                                                                   \
        for (int v = 0; v < V; ++v)                                                                             \
            xv[v] = *(const em_rnn_vecu_##S *)(xr + L * v);                                                     \
        for (int r = 0; r < 12; ++r)                                                                            \
            for (int v = 0; v < V; ++v)                                                                         \
                acc[r][v] += w[r] * xv[v];                                                                      \
    }                                                                                                           \
    for (int r = 0; r < nr; ++r)                                                                                \
        for (int v = 0; v < V; ++v)                                                                             \
            *(em_rnn_vecu_##S *)(c + r * ldc + L * v) = acc[r][v];                                              \
}

#define EM_RNN_MM(T, S, L)                                                                                      \
typedef T em_rnn_vec_##S __attribute__((vector_size(64)));                                                     \
typedef T em_rnn_vecu_##S __attribute__((vector_size(64), aligned(sizeof(T))));                                 \
EM_RNN_TILE(T, S, L, 1)                                                                                         \
EM_RNN_TILE(T, S, L, 2)                                                                                         \
/* rows [0, m) of a matrix in blocks of nb rows into panels of 12 rows (zeros past m): its element (r, kk) at  */ \
/* a[(r / nb) * bs + (r % nb) * rs + kk * cs]                                                                   */ \
static void em_rnn_pack_##S(int64_t m, int64_t k, const T *a, int64_t rs, int64_t cs, int64_t nb, int64_t bs,  \
                            const T *f, T *ap)                                                                  \
{                                                                                                               \
    for (int64_t p = 0; p < m; p += 12) {                                                                       \
        const T *row[12];                                                                                       \
        T fr[12];  /* the rows' factors: f[block] (exact: 1 or 0.5, the sigmoid gates' halving), 1 without f */ \
        for (int64_t r = 0; r < 12; ++r) {                                                                      \
            row[r] = p + r < m ? a + (p + r) / nb * bs + (p + r) % nb * rs : 0;                                 \
            fr[r] = f && p + r < m ? f[(p + r) / nb] : (T)1;                                                    \
        }                                                                                                       \
        if (cs == 1)  /* along a's rows */                                                                      \
            for (int64_t r = 0; r < 12; ++r)                                                                    \
                for (int64_t kk = 0; kk < k; ++kk)                                                              \
                    ap[p * k + kk * 12 + r] = row[r] ? row[r][kk] * fr[r] : (T)0;                               \
        else  /* along its columns (a's transpose) */                                                           \
            for (int64_t kk = 0; kk < k; ++kk)                                                                  \
                for (int64_t r = 0; r < 12; ++r)                                                                \
                    ap[p * k + kk * 12 + r] = row[r] ? row[r][kk * cs] * fr[r] : (T)0;                          \
    }                                                                                                           \
}                                                                                                               \
static void em_rnn_mm_##S(int64_t m, int64_t n, int64_t k, const T *ap, const T *x, int64_t ldx, T *c,         \
                          int64_t ldc)                                                                          \
{                                                                                                               \
    for (int64_t p = 0; p < m; p += 12) {                                                                       \
        const int64_t nr = m - p < 12 ? m - p : 12;                                                             \
        int64_t j = 0;                                                                                          \
        for (; j + 2 * L <= n; j += 2 * L)                                                                      \
            em_rnn_tile_##S##_2(k, ap + p * k, x + j, ldx, nr, c + p * ldc + j, ldc);                           \
        if (j < n)                                                                                              \
            em_rnn_tile_##S##_1(k, ap + p * k, x + j, ldx, nr, c + p * ldc + j, ldc);                           \
    }                                                                                                           \
}

EM_RNN_MM(float, f32, 16)
#ifndef EM_FLOAT32_ONLY
EM_RNN_MM(double, f64, 8)
#endif

EM_END_FUSED_MULTIPLY_ADDS

/* Weights of a layer call's thread packed for em_rnn_mm (see em_rnn_pack), or NULL where the batch is not a
   multiple of a vector (the BLAS's GEMM then) or there is no memory (failed) */
#define EM_RNN_PACKED(T, S, L)                                                                                  \
static T *em_rnn_packed_##S(int64_t B, int64_t m, int64_t k, const T *a, int64_t rs, int64_t cs, int64_t nb,   \
                            int64_t bs, const T *f, int *failed)                                                \
{                                                                                                               \
    *failed = 0;                                                                                                \
    if (B % L)                                                                                                  \
        return 0;                                                                                               \
    T *ap = (T *)malloc((size_t)((m + 11) / 12 * 12 * k) * sizeof(T));                                          \
    if (ap)                                                                                                     \
        em_rnn_pack_##S(m, k, a, rs, cs, nb, bs, f, ap);                                                        \
    *failed = !ap;                                                                                              \
    return ap;                                                                                                  \
}

EM_RNN_PACKED(float, f32, 16)
#ifndef EM_FLOAT32_ONLY
EM_RNN_PACKED(double, f64, 8)
#endif

/* The threads of one layer call meet after each step: each adds 1 to sync[0] and waits until all have (k per
   step); sync[1] != 0 says a thread failed before starting, and the others give up (returning -1). */
static int em_rnn_meet(int64_t *sync, int64_t target)
{
    __atomic_add_fetch(sync, 1, __ATOMIC_ACQ_REL);
    for (int spins = 0; __atomic_load_n(sync, __ATOMIC_ACQUIRE) < target; ++spins) {
        if (__atomic_load_n(sync + 1, __ATOMIC_ACQUIRE))
            return -1;
        if (spins > 100)
            sched_yield();  /* a busy machine: let the thread we wait for run */
    }
    return 0;
}

/* a thread that cannot start (out of memory) tells the others and returns -2 */
static int em_rnn_fail(int64_t *sync)
{
    __atomic_store_n(sync + 1, 1, __ATOMIC_RELEASE);
    return -2;
}

#ifdef _OPENMP
#include <omp.h>
#define EM_TEAM_SIZE() omp_get_num_threads()
#define EM_TEAM_RANK() omp_get_thread_num()
#else
#define EM_TEAM_SIZE() 1
#define EM_TEAM_RANK() 0
#endif

/* The calling thread's block [u0, u0 + nu) of n units (n > 0) in its OpenMP team: blocks of ceil(n / threads) units
   (nu 0 past the last); returns the number of blocks (the threads that meet: a team may be smaller than asked) */
static int64_t em_team_block(int64_t n, int64_t *u0, int64_t *nu)
{
    const int64_t size = EM_TEAM_SIZE(), nb = (n + size - 1) / size;
    *u0 = EM_TEAM_RANK() * nb;
    *nu = *u0 >= n ? 0 : n - *u0 < nb ? n - *u0 : nb;
    return (n + nb - 1) / nb;
}

/* a block's result r into results: results[0] that of the block at unit 0, results[1] -2 once a block ran out of
   memory (the others then return -1) */
static void em_team_result(int *results, int64_t u0, int r)
{
    if (r == -2)
        __atomic_store_n(results + 1, -2, __ATOMIC_RELAXED);
    else if (u0 == 0)
        results[0] = r;
}

/* return what `block` gives on an OpenMP team of up to `threads` threads over H units: block (an expression of
   u0, nu, k and sync: the thread's units [u0, u0 + nu), the number of blocks, their meeting counter) at unit 0,
   or -2 if a block ran out of memory */
#define EM_LSTM_TEAM(threads, H, block)                                                                         \
    int64_t sync[2] = {0, 0};                                                                                   \
    int results[2] = {0, 0};                                                                                    \
    EM_OMP(parallel num_threads(threads) if(threads > 1))                                                       \
    {                                                                                                           \
        int64_t u0, nu;                                                                                         \
        const int64_t k = em_team_block(H, &u0, &nu);                                                           \
        if (nu)                                                                                                 \
            em_team_result(results, u0, block);                                                                 \
    }                                                                                                           \
    return results[1] ? results[1] : results[0];

/* The cells' tanh in float32: Eigen's rational approximation (x P(x^2) / Q(x^2) on [-7.9, 7.9]), within 7 ulp
   of tanh (4e-7 near +-1) and about twice as fast as em_tanh_f32, which keeps the last bits for gelu's 1 + tanh */
static inline float em_lstm_tanh_f32(float x)
{
    const float m = 7.90531110763549805f, c = x < -m ? -m : x > m ? m : x;
    const float z = c * c;
    float p = -2.76076847742355e-16f;
    p = EM_FMA32(p, z, 2.00018790482477e-13f);
    p = EM_FMA32(p, z, -8.60467152213735e-11f);
    p = EM_FMA32(p, z, 5.12229709037114e-08f);
    p = EM_FMA32(p, z, 1.48572235717979e-05f);
    p = EM_FMA32(p, z, 6.37261928875436e-04f);
    p = EM_FMA32(p, z, 4.89352455891786e-03f);
    float q = 1.19825839466702e-06f;
    q = EM_FMA32(q, z, 1.18534705686654e-04f);
    q = EM_FMA32(q, z, 2.26843463243900e-03f);
    q = EM_FMA32(q, z, 4.89352518554385e-03f);
    return fabsf(c) < 0.0004f ? c : c * p / q;  /* (NaN stays NaN) */
}
static inline double em_lstm_tanh_f64(double x) { return em_tanh_f64(x); }

#define EM_LSTM(T, S)                                                                                           \
/* one step on n units x batch: gates a (gate g at a + g * as), whose i, f, o rows hold half their             */ \
/* pre-activations, and gh (gate g at gh + g * gs): a += gh, then the activations [i f g o] into a (a sigmoid  */ \
/* is 0.5 * tanh(x / 2) + 0.5), c = f * c_prev + i * g, tc = tanh(c), h = o * tc (n values each)               */ \
static inline void em_lstm_cell_##S(int64_t n, int64_t as, int64_t gs, T *a, const T *gh, const T *cp, T *c,   \
                                    T *tc, T *h)                                                                \
{                                                                                                               \
    /* a pointer per gate (rows that do not overlap), so that the loop vectorises */                            \
    T *restrict ai = a, *restrict af = a + as, *restrict ag = a + 2 * as, *restrict ao_ = a + 3 * as;           \
    const T *restrict hi = gh, *restrict hf = gh + gs, *restrict hg = gh + 2 * gs, *restrict ho_ = gh + 3 * gs; \
    const T *restrict cpr = cp;                                                                                 \
    T *restrict cr = c, *restrict tcr = tc, *restrict hr = h;                                                   \
    EM_OMP(simd)  /* without it GCC leaves the tanh calls scalar (8x slower) */                                 \
    for (int64_t k = 0; k < n; ++k) {                                                                           \
        const T i = em_lstm_tanh_##S(ai[k] + hi[k]) * (T)0.5 + (T)0.5;                                          \
        const T f = em_lstm_tanh_##S(af[k] + hf[k]) * (T)0.5 + (T)0.5;                                          \
        const T g = em_lstm_tanh_##S(ag[k] + hg[k]);                                                            \
        const T o = em_lstm_tanh_##S(ao_[k] + ho_[k]) * (T)0.5 + (T)0.5;                                        \
        const T ck = f * cpr[k] + i * g, t = em_lstm_tanh_##S(ck);                                              \
        ai[k] = i;                                                                                              \
        af[k] = f;                                                                                              \
        ag[k] = g;                                                                                              \
        ao_[k] = o;                                                                                             \
        cr[k] = ck;                                                                                             \
        tcr[k] = t;                                                                                             \
        hr[k] = o * t;                                                                                          \
    }                                                                                                           \
}                                                                                                               \
/* its gradient on n values: from the activations a (gate g at a + g * as), c_prev, tc and dh (dc if dc), the  */ \
/* gates' gradient into dg (gate g at dg + g * ds) and c_prev's into dcp                                        */ \
static inline void em_lstm_cell_grad_##S(int64_t n, int64_t as, const T *a, const T *cp, const T *tc,          \
                                         const T *dh, const T *dc, T *dg, int64_t ds, T *dcp)                   \
{                                                                                                               \
    const T *restrict ai = a, *restrict af = a + as, *restrict ag = a + 2 * as, *restrict ao_ = a + 3 * as;     \
    const T *restrict cpr = cp, *restrict tcr = tc, *restrict dhr = dh, *restrict dcr = dc;                     \
    T *restrict di = dg, *restrict df = dg + ds, *restrict dgg = dg + 2 * ds, *restrict dgo_ = dg + 3 * ds;     \
    T *restrict dcpr = dcp;                                                                                     \
    const int has_dc = dc != 0;                                                                                 \
    EM_OMP(simd)                                                                                                \
    for (int64_t k = 0; k < n; ++k) {                                                                           \
        const T i = ai[k], f = af[k], g = ag[k], o = ao_[k], t = tcr[k];                                        \
        const T d0 = ((T)1 - t * t) * o * dhr[k];                                                               \
        const T d = has_dc ? d0 + dcr[k] : d0;                                                                  \
        di[k] = d * g * (i - i * i);                                                                            \
        df[k] = d * cpr[k] * (f - f * f);                                                                       \
        dgg[k] = d * i * ((T)1 - g * g);                                                                        \
        dgo_[k] = dhr[k] * t * (o - o * o);                                                                     \
        dcpr[k] = d * f;                                                                                        \
    }                                                                                                           \
}                                                                                                               \
/* one step's cell on (4H, B) gates a and gh and (H, B) states (hb = H * B values) */                          \
void em_lstm_step_##S(int64_t hb, void *ao, void *gho, void *cpo, void *co, void *tco, void *ho)               \
{                                                                                                               \
    em_lstm_cell_##S(hb, hb, hb, EM_DATA(ao, T), EM_DATA(gho, const T), EM_DATA(cpo, const T), EM_DATA(co, T), \
                     EM_DATA(tco, T), EM_DATA(ho, T));                                                          \
}                                                                                                               \
/* its gradient: the gates' gradient into dg (4H, B) and c_prev's into dcp (dc read only if has_dc) */          \
void em_lstm_step_grad_##S(int64_t hb, int has_dc, void *ao, void *cpo, void *tco, void *dho, void *dco,       \
                           void *dgo, void *dcpo)                                                               \
{                                                                                                               \
    em_lstm_cell_grad_##S(hb, hb, EM_DATA(ao, const T), EM_DATA(cpo, const T), EM_DATA(tco, const T),          \
                          EM_DATA(dho, const T), has_dc ? EM_DATA(dco, const T) : 0, EM_DATA(dgo, T), hb,      \
                          EM_DATA(dcpo, T));                                                                    \
}                                                                                                               \
/* xs (ni + 1 rows of nt * B, ldx apart) = the inputs x (nt, B, ni; strides st, sb, si in values) as columns, */ \
/* then a row of ones (the projections' operand: the bias rides along in W_ih's last column); 16 columns at a */ \
/* time, which stay in the cache while their rows are written                                                  */ \
void em_rnn_columns_##S(int64_t nt, int64_t B, int64_t ni, int64_t st, int64_t sb, int64_t si, int64_t ldx,    \
                        void *xo, void *xso)                                                                    \
{                                                                                                               \
    const T *x = EM_DATA(xo, const T);                                                                          \
    T *xs = EM_DATA(xso, T);                                                                                    \
    for (int64_t t = 0; t < nt; ++t)                                                                            \
        for (int64_t b0 = 0; b0 < B; b0 += 16) {                                                                \
            const int64_t b1 = b0 + 16 < B ? b0 + 16 : B;                                                       \
            for (int64_t i = 0; i < ni; ++i)                                                                    \
                for (int64_t b = b0; b < b1; ++b)                                                               \
                    xs[i * ldx + t * B + b] = x[t * st + b * sb + i * si];                                      \
        }                                                                                                       \
    for (int64_t c = 0; c < nt * B; ++c)                                                                        \
        xs[ni * ldx + c] = (T)1;                                                                                \
}                                                                                                               \
/* A whole layer on one of the threads of a call: this thread's units are [u0, u0 + nu) of H, k threads in    */ \
/* all. First the input projections of its units' gates for every step: a's rows (gate-major: 4H rows of nt * */ \
/* B, ld apart) = wx (4H, kx: W_ih and the bias, scaled as w) @ xs (kx rows of nt * B, ldx apart: the inputs  */ \
/* and a row of ones). Then at each step the product of its units' gate rows of the hidden weights w (4H, H;  */ \
/* the sigmoid gates' rows halved: by the gates' factors gf (4) as the weights are packed, where B is a       */ \
/* multiple of a vector, else already in wx and w) with the previous state (all units: the threads meet after */ \
/* each step) into tmp (4H, B: each thread's [i f g o] rows one after the other), and the cell of its units:  */ \
/* a becomes the activations; hs, cs, tcs: (nt, H, B); h0, c0: (H, B); the states also time-major into ht (nt */ \
/* + 1, B, H): step t's at t + 1 (t, reversed: the initial state's place is left as it is). -1 if another     */ \
/* thread failed, -2 if out of memory.                                                                        */ \
static int em_lstm_block_##S(int64_t u0, int64_t nu, int64_t k, int64_t nt, int64_t H, int64_t B, int64_t ld,  \
                             int64_t kx, int64_t ldx, int reverse, void *gemm, int wide, const T *wx,           \
                             const T *xs, const T *w, const T *gf, T *a, T *hs, T *cs, T *tcs, const T *h0,     \
                             const T *c0, T *ht, T *tmp, int64_t *sync)                                         \
{                                                                                                               \
    const int64_t hb = H * B;                                                                                   \
    int failed;                                                                                                 \
    tmp += 4 * u0 * B;                                                                                          \
    for (int64_t q = 0; q < 4; ++q) {                                                                           \
        const T *wq = wx + (q * H + u0) * kx;                                                                   \
        T *aq = a + (q * H + u0) * ld, *apx = em_rnn_packed_##S(B, nu, kx, wq, kx, 1, nu, 0, gf + q, &failed);  \
        if (failed)                                                                                             \
            return em_rnn_fail(sync);                                                                           \
        if (apx)                                                                                                \
            em_rnn_mm_##S(nu, nt * B, kx, apx, xs, ldx, aq, ld);                                                \
        else                                                                                                    \
            em_rnn_gemm_##S(gemm, wide, 0, 0, nu, nt * B, kx, wq, kx, xs, ldx, aq, ld);                            \
        free(apx);                                                                                              \
    }                                                                                                           \
    T *ap = em_rnn_packed_##S(B, 4 * nu, H, w + u0 * H, H, 1, nu, H * H, gf, &failed);                          \
    if (failed)                                                                                                 \
        return em_rnn_fail(sync);                                                                               \
    for (int64_t s = 0; s < nt; ++s) {                                                                          \
        const int64_t t = reverse ? nt - 1 - s : s, p = reverse ? t + 1 : t - 1;                                \
        const T *h_prev = s ? hs + p * hb : h0, *c_prev = s ? cs + p * hb : c0;                                 \
        if (ap)                                                                                                 \
            em_rnn_mm_##S(4 * nu, B, H, ap, h_prev, B, tmp, B);                                                 \
        else                                                                                                    \
            for (int64_t q = 0; q < 4; ++q)                                                                     \
                em_rnn_gemm_##S(gemm, wide, 0, 0, nu, B, H, w + (q * H + u0) * H, H, h_prev, B,                 \
                                tmp + q * nu * B, B);                                                           \
        for (int64_t u = u0; u < u0 + nu; ++u)  /* a unit at a time: a's rows are ld apart */                   \
            em_lstm_cell_##S(B, H * ld, nu * B, a + u * ld + t * B, tmp + (u - u0) * B, c_prev + u * B,         \
                             cs + t * hb + u * B, tcs + t * hb + u * B, hs + t * hb + u * B);                   \
        for (int64_t b = 0; b < B; ++b) {  /* (rows of ht written one after the other: fewer cache lines) */    \
            T *htb = ht + (t + !reverse) * hb + b * H;                                                          \
            for (int64_t u = u0; u < u0 + nu; ++u)                                                              \
                htb[u] = hs[t * hb + u * B + b];                                                                \
        }                                                                                                       \
        if (k > 1 && s + 1 < nt && em_rnn_meet(sync, k * (s + 1))) {                                           \
            free(ap);                                                                                           \
            return -1;                                                                                          \
        }                                                                                                       \
    }                                                                                                           \
    free(ap);                                                                                                   \
    return 0;                                                                                                   \
}                                                                                                               \
/* Its back-propagation through time on one thread (units [u0, u0 + nu)): at each step (last first) dh += the  */ \
/* output's gradient (d_out (nt, H, B), if has_out), the cell's gradient of this thread's units into the     */ \
/* step's gate gradients (4H rows of B in xs, two such buffers shared by the threads, taking turns) and dc   */ \
/* (two (H, B) buffers taking turns, dcs; dc is c_n's gradient, if has_dc), then (once every thread's rows of */ \
/* the step are written) dh's rows of these units = W_hh[:, units]^T (the step's gate gradients) (w: (4H,   */ \
/* H)), and the thread's rows copied into dg (4H rows of nt * B, ld apart: gate-major, as the weights'        */ \
/* gradients read it; rows pages apart, written in the cells they took 3x as long). Without the packed       */ \
/* product (a batch not a multiple of a vector) the cells write dg and the BLAS reads it. a (laid out as dg), */ \
/* cs, tcs as the layer left them; dh (H, B) holds h_n's gradient, and h0's at the end. Returns which dcs     */ \
/* buffer holds c0's gradient (-1 if another thread failed, -2 if out of memory).                             */ \
static int em_lstm_block_grad_##S(int64_t u0, int64_t nu, int64_t k, int64_t nt, int64_t H, int64_t B,         \
                                  int64_t ld, int reverse, void *gemm, int wide, const T *w, const T *a,        \
                                  const T *cs, const T *tcs, const T *c0, const T *dout, const T *dc, T *dh,    \
                                  T *dcs, T *dg, T *xs2, int64_t *sync)                                         \
{                                                                                                               \
    const int64_t hb = H * B, off = u0 * B;                                                                     \
    int buf = 0, failed;                                                                                        \
    T *ap = em_rnn_packed_##S(B, nu, 4 * H, w + u0, 1, H, nu, 0, NULL, &failed);  /* W[:, units]^T */           \
    if (failed)                                                                                                 \
        return em_rnn_fail(sync);                                                                               \
    for (int64_t s = 0; s < nt; ++s) {                                                                          \
        const int64_t t = reverse ? s : nt - 1 - s, p = reverse ? t + 1 : t - 1;                                \
        const int first = reverse ? t == nt - 1 : t == 0;                                                       \
        if (dout)                                                                                               \
            for (int64_t q = off; q < off + nu * B; ++q)                                                        \
                dh[q] += dout[t * hb + q];                                                                      \
        buf = (int)(s & 1);                                                                                     \
        T *dgt = dg + t * B;  /* row g of step t at dgt + g * ld */                                            \
        T *xb = xs2 + (s & 1) * 4 * hb;                                                                         \
        for (int64_t u = u0; u < u0 + nu; ++u)  /* a unit at a time: dg's rows are ld apart */              \
            em_lstm_cell_grad_##S(B, H * ld, a + u * ld + t * B, (first ? c0 : cs + p * hb) + u * B,            \
                                  tcs + t * hb + u * B, dh + u * B, dc ? dc + u * B : 0,                        \
                                  ap ? xb + u * B : dgt + u * ld, ap ? hb : H * ld, dcs + buf * hb + u * B);    \
        dc = dcs + buf * hb;                                                                                    \
        if (k > 1 && em_rnn_meet(sync, k * (s + 1))) {                                                          \
            free(ap);                                                                                           \
            return -1;                                                                                          \
        }                                                                                                       \
        if (ap) {                                                                                               \
            em_rnn_mm_##S(nu, B, 4 * H, ap, xb, B, dh + off, B);                                                \
            for (int64_t g = 0; g < 4; ++g)                                                                     \
                for (int64_t u = u0; u < u0 + nu; ++u)                                                          \
                    for (int64_t b = 0; b < B; ++b)                                                             \
                        dgt[(g * H + u) * ld + b] = xb[(g * H + u) * B + b];                                    \
        } else                                                                                                  \
            em_rnn_gemm_##S(gemm, wide, 1, 0, nu, B, 4 * H, w + u0, H, dgt, ld, dh + off, B);                      \
    }                                                                                                           \
    free(ap);                                                                                                   \
    return buf;                                                                                                 \
}                                                                                                               \
/* A whole layer (em_lstm_block) on an OpenMP team of up to `threads` threads, a block of units each (see     */ \
/* em_team_block); -2 if out of memory                                                                        */ \
int em_lstm_layer_##S(int64_t threads, int64_t nt, int64_t H, int64_t B, int64_t ld, int64_t kx, int64_t ldx,   \
                      int reverse, void *gemm, int wide, void *wxo, void *xso, void *wo, void *gfo, void *ao,   \
                      void *hso, void *cso, void *tcso, void *h0o, void *c0o, void *hto, void *tmpo)            \
{                                                                                                               \
    const T *wx = EM_DATA(wxo, const T), *xs = EM_DATA(xso, const T), *w = EM_DATA(wo, const T);                \
    const T *gf = EM_DATA(gfo, const T), *h0 = EM_DATA(h0o, const T), *c0 = EM_DATA(c0o, const T);              \
    T *a = EM_DATA(ao, T), *hs = EM_DATA(hso, T), *cs = EM_DATA(cso, T), *tcs = EM_DATA(tcso, T);               \
    T *ht = EM_DATA(hto, T), *tmp = EM_DATA(tmpo, T);                                                           \
    EM_LSTM_TEAM(threads, H, em_lstm_block_##S(u0, nu, k, nt, H, B, ld, kx, ldx, reverse, gemm, wide, wx, xs,   \
                                               w, gf, a, hs, cs, tcs, h0, c0, ht, tmp, sync))                   \
}                                                                                                               \
/* its back-propagation through time (em_lstm_block_grad) on an OpenMP team as em_lstm_layer: which dcs       */ \
/* buffer holds c0's gradient, or -2 if out of memory                                                         */ \
int em_lstm_layer_grad_##S(int64_t threads, int64_t nt, int64_t H, int64_t B, int64_t ld, int reverse,         \
                           void *gemm, int wide, void *wo, void *ao, void *cso, void *tcso, void *c0o,          \
                           void *douto, int has_out, void *dco, int has_dc, void *dho, void *dcso, void *dgo,  \
                           void *xso)                                                                           \
{                                                                                                               \
    const T *w = EM_DATA(wo, const T), *a = EM_DATA(ao, const T), *cs = EM_DATA(cso, const T);                  \
    const T *tcs = EM_DATA(tcso, const T), *c0 = EM_DATA(c0o, const T);                                         \
    const T *dout = has_out ? EM_DATA(douto, const T) : 0, *dc = has_dc ? EM_DATA(dco, const T) : 0;           \
    T *dh = EM_DATA(dho, T), *dcs = EM_DATA(dcso, T), *dg = EM_DATA(dgo, T), *xs = EM_DATA(xso, T);             \
    EM_LSTM_TEAM(threads, H, em_lstm_block_grad_##S(u0, nu, k, nt, H, B, ld, reverse, gemm, wide, w, a, cs,     \
                                                    tcs, c0, dout, dc, dh, dcs, dg, xs, sync))                  \
}

EM_RNN_GEMM(float, f32)
EM_LSTM(float, f32)
#ifndef EM_FLOAT32_ONLY
EM_RNN_GEMM(double, f64)
EM_LSTM(double, f64)
#endif

/* c (m x n, rows ldc apart) = op(a) (m x k) @ op(b) (k x n) (as em_rnn_gemm) on an OpenMP team of up to
   `threads` threads, a block of c's rows each: ember's GEMM where it runs (c_gemm), else the BLAS's */
#define EM_RNN_MATMUL(T, S, P)                                                                                  \
void em_rnn_matmul_##S(int64_t threads, void *gemm, int wide, int ta, int tb, int64_t m, int64_t n, int64_t k,  \
                       void *ao, int64_t lda, void *bo, int64_t ldb, void *co, int64_t ldc)                     \
{                                                                                                               \
    const T *a = EM_DATA(ao, const T), *b = EM_DATA(bo, const T);                                               \
    T *c = EM_DATA(co, T);                                                                                      \
    EM_OMP(parallel num_threads(threads) if(threads > 1))                                                       \
    {                                                                                                           \
        int64_t r0, rows;                                                                                       \
        em_team_block(m, &r0, &rows);                                                                           \
        const T *ar = ta ? a + r0 : a + r0 * lda;                                                               \
        if (rows && !EM_GEMM_OWN_##P(ta ? 112 : 111, tb ? 112 : 111, rows, n, k, (T)1, ar, lda, b, ldb, (T)0,  \
                                     c + r0 * ldc, ldc, NULL, 0, NULL, NULL))                                   \
            em_rnn_gemm_##S(gemm, wide, ta, tb, rows, n, k, ar, lda, b, ldb, c + r0 * ldc, ldc);                \
    }                                                                                                           \
}
EM_RNN_MATMUL(float, f32, s)
#ifndef EM_FLOAT32_ONLY
EM_RNN_MATMUL(double, f64, d)
#endif
"""


class CLSTMLayer(LSTMLayer):
    """LSTMLayer with its steps run by C (see the module docstring)."""

    lib = None  # {dtype suffix: (step, step gradient, layer, layer gradient, inputs' columns)}: lower_rnns
    runs = "c"

    def forward(self, xp, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
        self.c_layer = _layer_functions(self.lib, xp, x, w_hr)  # whole steps in C (else only the cells)
        return super().forward(xp, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)

    def _project(self, xp, x, w_ih, bias):
        """Where the steps run in C, the projections' operands (W_ih with the bias, and the inputs (I', T * B)
        with a row of ones), kept for the C layer, which computes them; the gates' array that it writes them to,
        gate-major (G, T, B) in rows of T * B values padded to ``_row_stride``."""
        if self.c_layer is None:
            return super()._project(xp, x, w_ih, bias)
        T, B, I = x.shape
        if bias is None:  # (the bias rides along as W_ih's last column: a zero column without one)
            bias = np.zeros(w_ih.shape[0], x.dtype)
        xs = np.empty((I + 1, _row_stride(T * B, x.dtype)), x.dtype)
        self.c_layer[0][4](T, B, I, *(n // x.itemsize for n in x.strides), xs.shape[1], x, xs)
        self.xa = xs[:, :T * B].T.reshape(T, B, I + 1)  # (a view: the backward's weight gradients read it so)
        self.gate_factors = self._gate_factors(x.dtype, B)
        if self.gate_factors is None:
            w = c_array(self._projection_weights(xp, w_ih, bias))
        else:  # scaled as C packs it
            w = np.concatenate([w_ih, bias[:, None].astype(w_ih.dtype, copy=False)], 1)
        self.x_operands = (w, xs)
        self.rows = np.empty((w.shape[0], _row_stride(T * B, x.dtype, hidden=w.shape[0] // 4)), x.dtype)
        return self.rows[:, :T * B].reshape(-1, T, B)

    def _run(self, xp, a, h0, c0, w_hh, b_hh, w_hr):
        if self.c_layer is None:
            return super()._run(xp, a, h0, c0, w_hh, b_hh, w_hr)
        fns, gemm, wide = self.c_layer
        G, T, B = a.shape
        H = G // 4
        hs, cs, tcs = (np.empty((T, H, B), a.dtype) for _ in range(3))
        h0t, c0t = np.ascontiguousarray(h0.T), np.ascontiguousarray(c0.T)
        tmp = np.empty((G, B), a.dtype)
        factors = self.gate_factors
        whh = self._hidden_weights(xp, w_hh) if factors is None else c_array(w_hh)
        factors = np.ones(4, a.dtype) if factors is None else factors
        states = np.empty((T + 1, B, H), a.dtype)  # time-major, with h0 (for the gradient of W_hh)
        states[T if self.reverse else 0] = h0
        wx, xs = self.x_operands
        _checked(_on_team(H, T * G * (H + wx.shape[1]) * B, fns[2], T, H, B, self.rows.shape[1], wx.shape[1],
                          xs.shape[1], self.reverse, gemm, wide, wx, xs, whh, factors, self.rows, hs, cs, tcs, h0t,
                          c0t, states, tmp))
        # what CLSTMLayerGrad reads: hs is the time-major states with h0 here
        self.act, self.cs, self.tcs, self.hs, self.hr, self.out = self.rows, cs, tcs, states, None, None
        self.x_operands = None
        out = states[:T] if self.reverse else states[1:]
        h_n = out[self.steps[-1]].copy() if T else h0.copy()
        return np.ascontiguousarray(out.transpose(1, 0, 2)) if self.bf_out else out, h_n, self._last(cs, c0)

    def _gate_factors(self, dtype, B):
        """The four gates' factors (the sigmoid gates' 0.5: see LSTMLayer.scale) that C applies to the weights as
        it packs them (B a multiple of its vector: 16 floats, 8 doubles), else None (the weights given scaled)."""
        if B % (64 // np.dtype(dtype).itemsize) or self.scale is None:
            return None
        H = self.scale.shape[0] // 4
        return np.ascontiguousarray(self.scale[::H], dtype=dtype)

    def _cell(self, xp, a, gh, c_prev, c, tc, h, tmp):
        fns = self.lib[SUFFIX[a.dtype]] if xp is np and a.dtype in SUFFIX else None
        if fns is None or not all(x.flags.c_contiguous for x in (a, gh, c, tc, h)):
            return super()._cell(xp, a, gh, c_prev, c, tc, h, tmp)
        fns[0](c.size, a, gh, c_array(c_prev), c, tc, h)


class CLSTMLayerGrad(LSTMLayerGrad):
    """LSTMLayerGrad with its steps run by C (see the module docstring)."""

    lib = None
    runs = "c"

    def matmul(self, xp, a, b):
        """a @ b for the products over all steps (the weights' and the input's gradients) on the OpenMP team
        (``_team``), a block of rows a thread: ember's GEMM where it runs (float32, a's rows contiguous, the module
        built for AVX-512: 150-160 against OpenBLAS's 130-140 GFLOP/s a core at these sizes), else the BLAS's.
        Operands whose rows or columns are not contiguous: _threads.matmul."""
        c_layer = _layer_functions(self.lib, xp, a, None)
        ops = _blas_operand(a), _blas_operand(b)
        if c_layer is None or b.dtype != a.dtype or None in ops or 0 in a.shape + b.shape:
            return _threads.matmul(xp, a, b)
        fns, gemm, wide = c_layer
        (m, k), n = a.shape, b.shape[1]
        (ta, lda), (tb, ldb) = ops
        out = np.empty((m, n), a.dtype)
        _on_team(m, m * n * k, fns[5], gemm, wide, ta, tb, m, n, k, a, lda, b, ldb, out, n)
        return out

    def _bptt(self, xp, ins, d_out, dh, dc):
        c0, w_hh, w_hr = ins[2], ins[4], ins[7]
        a = self.act
        c_layer = _layer_functions(self.lib, xp, a, w_hr)
        if c_layer is None or a.ndim != 2:  # (the layer ran its steps in C when it left its activations 2-D)
            return super()._bptt(xp, ins, d_out, dh, dc)
        fns, gemm, wide = c_layer
        c0t = np.ascontiguousarray(c0.T)
        H, B = c0t.shape
        G, T = 4 * H, len(self.steps)
        ld = a.shape[1]
        dg = _scratch(self.workspace, "dg", xp, a.shape, a.dtype)  # laid out as a: as _weight_grads reads it
        dh = np.zeros((H, B), a.dtype) if dh is None else dh  # (a copy of h_n's gradient: written over)
        dcs = np.empty((2, H, B), a.dtype)
        w = c_array(w_hh)
        xs = np.empty((2, G, B), a.dtype)
        last = _checked(_on_team(H, T * G * H * B, fns[3], T, H, B, ld, self.reverse, gemm, wide, w, a, self.cs,
                                 self.tcs, c0t, d_out, d_out is not None, dc, dc is not None, dh, dcs, dg, xs))
        if T == 0:
            dcs[0] = 0 if dc is None else dc
        dg = dg[:, :T * B].reshape(G, T, B).transpose(1, 0, 2)
        return dg, dg, dh, dcs[last], None

    def _hidden_weight_grad(self, xp, gh, h0, B):
        if self.act.ndim != 2:
            return super()._hidden_weight_grad(xp, gh, h0, B)
        before = self.hs[1:] if self.reverse else self.hs[:-1]  # the states fed into the steps, h0 among them
        return self.matmul(xp, gh, before.reshape(-1, before.shape[-1]))

    def _cell_grad(self, xp, a, c_prev, tc, dh, dc, dg, dct, d):
        fns = self.lib[SUFFIX[a.dtype]] if xp is np and a.dtype in SUFFIX else None
        if fns is None or not all(x.flags.c_contiguous for x in (a, tc, dg, dct)):
            return super()._cell_grad(xp, a, c_prev, tc, dh, dc, dg, dct, d)
        fns[1](tc.size, dc is not None, a, c_array(c_prev), tc, c_array(dh), dct if dc is None else c_array(dc), dg,
               dct)
        return dct


def _row_stride(n, dtype, hidden=1):
    """The row stride (in values) of arrays of rows of n values read a column block at a time: at least a cache
    line more than n, and where it can be, such that neither the rows (a step's GEMM reads them all: 1.3x slower)
    nor blocks of hidden rows (the gates' blocks: the cells read a unit's four, 1.3x slower) are a multiple of 4
    KB apart, which would put them in the same cache sets."""
    size = np.dtype(dtype).itemsize
    first = n + 64 // size
    for ld in range(first, first + 64):
        if (ld * size) % 4096 and 512 <= (hidden * ld * size) % 4096 <= 3584:
            return ld
    return first


def _layer_functions(lib, xp, a, w_hr):
    """(the C functions of a's dtype, the address of the BLAS's GEMM for it, whether its sizes are 64-bit) when
    a whole layer can run in C (NumPy arrays, no projections, a BLAS found), else None."""
    if xp is not np or a.dtype not in SUFFIX or w_hr is not None:
        return None
    functions = blas.find()
    if functions is None:
        return None
    gemm = functions.addresses["sgemm" if a.dtype == np.float32 else "dgemm"]
    return lib[SUFFIX[a.dtype]], gemm, functions.int_type == "int64_t"


def team_work(op):
    """The multiply-adds of the recurrent products of op where it is a layer (or its gradient) that runs whole in C
    (float32 or float64, no projections), on the OpenMP team with its products over all steps; else 0."""
    if not isinstance(op.node, (CLSTMLayer, CLSTMLayerGrad)) or op.args[7] is not None:
        return 0
    x, w_hh = op.args[0], op.args[4]
    return math.prod(x.shape) // max(1, x.shape[-1]) * math.prod(w_hh.shape)


def _team(n, work):
    """The threads of the OpenMP team a layer's C or its products over all steps run on (``_threads.team``), ember's
    count also where the graph runs the BLAS on one thread: its segments own the threads (c_graph.owns_threads),
    and these nodes never run inside another op's split."""
    return _threads.team(n, work, graph_op=True)


def _on_team(n, work, fn, *args):
    """fn(threads, *args) with the threads of _team(n, work), the BLAS on one thread meanwhile where there are
    several (each may call it: its own threads would spin beside the team's)."""
    threads = _team(n, work)
    if threads == 1:
        return fn(threads, *args)
    with _threads.one_blas_thread():
        return fn(threads, *args)


def _checked(result):
    """A C layer's result, unless it ran out of memory for its packed weights (-2)."""
    if result == -2:
        raise MemoryError("ember.compile: no memory for an LSTM layer's packed weights")
    return result


def _blas_operand(x):
    """(transposed, leading dimension) of a 2-D array as a BLAS reads it: its rows contiguous (0), or its
    columns (1); None where neither is."""
    item = x.itemsize
    if x.ndim != 2 or any(s % item for s in x.strides):
        return None
    rows, cols = (s // item for s in x.strides)
    if cols == 1 and rows >= max(1, x.shape[1]):
        return 0, rows
    if rows == 1 and cols >= max(1, x.shape[0]):
        return 1, cols
    return None


def _functions(lib):
    i64, i32, obj, ptr = ctypes.c_int64, ctypes.c_int, ctypes.py_object, ctypes.c_void_p
    sizes = [i64] * 5 + [i32, ptr, i32]  # threads, T, H, B, ld, reverse, the GEMM, its width
    return function_table(lib, (("lstm_step", [i64] + [obj] * 6, None),
                                ("lstm_step_grad", [i64, i32] + [obj] * 7, None),
                                ("lstm_layer", [i64] * 7 + [i32, ptr, i32] + [obj] * 12, i32),
                                ("lstm_layer_grad", sizes + [obj] * 5 + [obj, i32, obj, i32] + [obj] * 4, i32),
                                ("rnn_columns", [i64] * 7 + [obj] * 2, None),
                                ("rnn_matmul", [i64, ptr, i32, i32, i32] + [i64] * 3 + [obj, i64] * 3, None)))


def lower_rnns(graph, load):
    """graph with its LSTM layers (and their gradients) run in C: whole, or their cells (its ops list replaced;
    the other Op objects are shared). ``load()`` gives the library of ``BODY``; built when such a node first runs."""
    classes = {id(op): CLSTMLayer if type(op.node) is LSTMLayer else CLSTMLayerGrad for op in graph.ops
               if type(op.node) in (LSTMLayer, LSTMLayerGrad) and op.args[0].dtype in SUFFIX}
    return swap_to_c(graph, classes, lambda: _functions(load()))
