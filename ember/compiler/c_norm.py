"""layer_norm and batch norm (training) in C: the forward (each row's or channel's mean and rstd, then the
normalised, scaled and shifted values) and its gradient (the three gradients from two passes), where NumPy's
forms take about six passes each.

``lower_norms`` gives the ``Normalize`` and ``NormalizeGrad`` ops that normalise with their own statistics
(centred; not evaluation mode's running statistics) float32 or float64 arrays, over the last dimension
(layer_norm) or per channel of (N, C, *) arrays (batch norm, whose running statistics are updated as the NumPy
form does), this module's nodes. They keep the statistics as the NumPy forms do (``mean`` and ``rstd`` in the
layout's kept shape), so either node runs with the other's NumPy form. Sums are taken in double, so results
differ from NumPy's float32 ones by rounding.
"""
import ctypes
import math

import numpy as np

from ..ops import _threads
from ..ops.norm import Normalize, NormalizeGrad
from ..ops.unary import ReluGrad
from . import render_c
from .c_nhwc import as_channels_last, is_channels_last
from .ir import Op
from .kernel import FusedKernel
from .lower import SUFFIX, c_array, function_table, swap_to_c

__all__ = ["BODY", "lower_norms", "fold_activations", "fold_relu_grads"]

# elements of a batch norm's input from which its channels (or rows) split over ember's threads: in resnet_small's
# step (channels-last, its OpenMP team hot) 32x32x16x16's three forwards 0.92-0.97 -> 0.57-0.59 ms and gradients
# 1.18-1.24 -> 0.69, 32x64x8x8's 0.54-0.57 -> 0.36-0.39 and 0.58-0.61 -> 0.37-0.39 when split (from 2^19 before)
_SPLIT_MIN = 1 << 16
_CL_BLOCK = 16  # channels-last: C's kernels take channels in blocks of 16
_CL_ROWS = 512  # channels-last: rows of a chunk, whose sums are its own (see em_bncl_sums_f32)
_LN_ROWS = 64  # layer norm's gradient: rows of a chunk, whose sums are its own

BODY = r"""
#include <stdlib.h>
#define EM_LN_ROWS """ + str(_LN_ROWS) + r"""
#define EM_LAYERNORM(T, S)                                                                                      \
/* rows of d values: mean, rstd = 1 / sqrt(var + eps) (as NumPy: in T), y = (x - mean) * rstd * w + b */         \
void em_layernorm_##S(int64_t m, int64_t d, double eps, int nthreads, void *xo, void *wo, void *bo, void *yo,    \
                      void *meano, void *rstdo)                                                                 \
{                                                                                                               \
    const T *restrict x = EM_DATA(xo, const T), *restrict w = EM_DATA(wo, const T);                             \
    const T *restrict b = EM_DATA(bo, const T);                                                                 \
    T *restrict y = EM_DATA(yo, T), *restrict mean = EM_DATA(meano, T), *restrict rstd = EM_DATA(rstdo, T);     \
    EM_OMP(parallel for if(parallel: nthreads > 1) num_threads(nthreads) schedule(static))                     \
    for (int64_t i = 0; i < m; ++i) {                                                                           \
        const T *restrict xi = x + i * d;                                                                       \
        T *restrict yi = y + i * d;                                                                             \
        double s = 0;                                                                                           \
        EM_OMP(simd reduction(+: s))  /* the order of the additions is free: the loop vectorises */            \
        for (int64_t j = 0; j < d; ++j)                                                                         \
            s += xi[j];                                                                                         \
        const T mu = (T)(s / (double)d);                                                                        \
        double v = 0;                                                                                           \
        EM_OMP(simd reduction(+: v))                                                                            \
        for (int64_t j = 0; j < d; ++j) {                                                                       \
            const T c = xi[j] - mu;                                                                             \
            v += (double)c * c;                                                                                 \
        }                                                                                                       \
        const T r = (T)1 / em_sqrt_##S((T)(v / (double)d) + (T)eps);                                            \
        for (int64_t j = 0; j < d; ++j)                                                                         \
            yi[j] = (xi[j] - mu) * r * w[j] + b[j];                                                             \
        mean[i] = mu;                                                                                           \
        rstd[i] = r;                                                                                            \
    }                                                                                                           \
}                                                                                                               \
/* the gradients: with xc = x - mean, a = sum(g * w) / d, k = rstd^2 * sum(g * w * xc) / d per row,          */ \
/* gx = rstd * (g * w - xc * k - a), gw = sum over rows of g * xc * rstd, gb = sum over rows of g; the rows    */ \
/* in chunks of EM_LN_ROWS on the threads, the chunks' sums (in double) added in chunk order: the same bits   */ \
/* on any number of threads                                                                                   */ \
int em_layernorm_grad_##S(int64_t m, int64_t d, int nthreads, int need_x, int need_w, int need_b, void *xo,    \
                           void *wo, void *go, void *meano, void *rstdo, void *gxo, void *gwo, void *gbo)       \
{                                                                                                               \
    const T *restrict x = EM_DATA(xo, const T), *restrict w = EM_DATA(wo, const T);                             \
    const T *restrict g = EM_DATA(go, const T);                                                                 \
    const T *restrict mean = EM_DATA(meano, const T), *restrict rstd = EM_DATA(rstdo, const T);                 \
    T *restrict gx = EM_DATA(gxo, T), *restrict gw = EM_DATA(gwo, T), *restrict gb = EM_DATA(gbo, T);           \
    const int64_t chunks = (m + EM_LN_ROWS - 1) / EM_LN_ROWS;                                                   \
    double *restrict part = calloc((size_t)(2 * d * (chunks ? chunks : 1)), sizeof(double));                    \
    if (part == NULL)                                                                                           \
        return 1;                                                                                               \
    EM_OMP(parallel for if(parallel: nthreads > 1) num_threads(nthreads) schedule(static))                     \
    for (int64_t c = 0; c < chunks; ++c) {                                                                      \
        double *restrict sw = part + 2 * d * c, *restrict sb = sw + d;                                          \
        const int64_t end = (c + 1) * EM_LN_ROWS < m ? (c + 1) * EM_LN_ROWS : m;                                \
        for (int64_t i = c * EM_LN_ROWS; i < end; ++i) {                                                        \
            const T *restrict xi = x + i * d, *restrict gi = g + i * d;                                         \
            const T mu = mean[i], r = rstd[i];                                                                  \
            if (need_b)                                                                                         \
                for (int64_t j = 0; j < d; ++j)                                                                 \
                    sb[j] += gi[j];                                                                             \
            if (need_w)                                                                                         \
                for (int64_t j = 0; j < d; ++j)                                                                 \
                    sw[j] += (double)(gi[j] * (xi[j] - mu) * r);                                                \
            if (!need_x)                                                                                        \
                continue;                                                                                       \
            double sa = 0, sk = 0;                                                                              \
            EM_OMP(simd reduction(+: sa, sk))                                                                   \
            for (int64_t j = 0; j < d; ++j) {                                                                   \
                const T gwj = gi[j] * w[j];                                                                     \
                sa += gwj;                                                                                      \
                sk += (double)gwj * (xi[j] - mu);                                                               \
            }                                                                                                   \
            const T a = (T)(sa / (double)d), k = (T)(sk / (double)d) * r * r;                                   \
            T *restrict gxi = gx + i * d;                                                                       \
            for (int64_t j = 0; j < d; ++j)                                                                     \
                gxi[j] = r * (gi[j] * w[j] - (xi[j] - mu) * k - a);                                             \
        }                                                                                                       \
    }                                                                                                           \
    for (int64_t j = 0; j < d; ++j) {                                                                           \
        double tw = 0, tb = 0;                                                                                  \
        for (int64_t c = 0; c < chunks; ++c) {                                                                  \
            tw += part[2 * d * c + j];                                                                          \
            tb += part[2 * d * c + d + j];                                                                      \
        }                                                                                                       \
        if (need_w)                                                                                             \
            gw[j] = (T)tw;                                                                                      \
        if (need_b)                                                                                             \
            gb[j] = (T)tb;                                                                                      \
    }                                                                                                           \
    free(part);                                                                                                 \
    return 0;                                                                                                   \
}

#define EM_BN_ACT(T, S)                                                                                         \
/* a batch norm's value v, plus the residual *r (act & 2), then relu (act & 1: NaN stays, -0 becomes 0) */      \
static inline T em_bn_act_##S(T v, int act, const T *r)                                                         \
{                                                                                                               \
    if (act & 2)                                                                                                \
        v = v + *r;                                                                                             \
    if (act & 1)                                                                                                \
        v = (v > (T)0 || v != v) ? v : (T)0;                                                                    \
    return v;                                                                                                   \
}
EM_BN_ACT(float, f32)
#ifndef EM_FLOAT32_ONLY
EM_BN_ACT(double, f64)
#endif

#define EM_BATCHNORM(T, S)                                                                                      \
/* (N, C, R) arrays, statistics per channel over N and R: mean, the biased variance (for the                 */ \
/* running statistics), rstd = 1 / sqrt(var + eps) (as NumPy: in T), y = (x - mean) * (rstd * w)             */ \
/* + b (act & 2: + the residual ro; act & 1: then relu, as np.maximum(y, 0)); the channels split             */ \
/* over `threads` OpenMP threads (a channel's sums are one thread's: the same bits for any split)            */ \
void em_batchnorm_##S(int64_t nb, int64_t c, int64_t r, int threads, double eps, void *xo, void *wo, void *bo,  \
                      void *yo, void *meano, void *varo, void *rstdo, int act, void *ro)                        \
{                                                                                                               \
    const T *restrict res = EM_DATA(ro, const T);                                                               \
    const T *restrict x = EM_DATA(xo, const T), *restrict w = EM_DATA(wo, const T);                             \
    const T *restrict b = EM_DATA(bo, const T);                                                                 \
    T *restrict y = EM_DATA(yo, T), *restrict mean = EM_DATA(meano, T), *restrict var = EM_DATA(varo, T);       \
    T *restrict rstd = EM_DATA(rstdo, T);                                                                       \
    const double n = (double)(nb * r);                                                                          \
    EM_OMP(parallel for if(parallel: threads > 1) num_threads(threads) schedule(static))                        \
    for (int64_t k = 0; k < c; ++k) {                                                                           \
        double s = 0;                                                                                           \
        for (int64_t i = 0; i < nb; ++i) {                                                                      \
            const T *restrict xi = x + (i * c + k) * r;                                                         \
            EM_OMP(simd reduction(+: s))                                                                        \
            for (int64_t j = 0; j < r; ++j)                                                                     \
                s += xi[j];                                                                                     \
        }                                                                                                       \
        const T mu = (T)(s / n);                                                                                \
        double v = 0;                                                                                           \
        for (int64_t i = 0; i < nb; ++i) {                                                                      \
            const T *restrict xi = x + (i * c + k) * r;                                                         \
            EM_OMP(simd reduction(+: v))                                                                        \
            for (int64_t j = 0; j < r; ++j) {                                                                   \
                const T d = xi[j] - mu;                                                                         \
                v += (double)d * d;                                                                             \
            }                                                                                                   \
        }                                                                                                       \
        const T vk = (T)(v / n), rk = (T)1 / em_sqrt_##S(vk + (T)eps), scale = rk * w[k], shift = b[k];          \
        for (int64_t i = 0; i < nb; ++i) {                                                                      \
            const T *restrict xi = x + (i * c + k) * r, *restrict ri = res + (i * c + k) * r;                  \
            T *restrict yi = y + (i * c + k) * r;                                                               \
            for (int64_t j = 0; j < r; ++j)                                                                     \
                yi[j] = em_bn_act_##S((xi[j] - mu) * scale + shift, act, ri + j);                              \
        }                                                                                                       \
        mean[k] = mu;                                                                                           \
        var[k] = vk;                                                                                            \
        rstd[k] = rk;                                                                                           \
    }                                                                                                           \
}                                                                                                               \
/* the gradients: with xc = x - mean, sg = sum(g), sx = sum(g * xc) per channel over N and R:                */ \
/* gx = w * rstd * (g - sg / n - xc * rstd^2 * sx / n), gw = sx * rstd, gb = sg (split as above)             */ \
void em_batchnorm_grad_##S(int64_t nb, int64_t c, int64_t r, int threads, int need_x, int need_w, int need_b,   \
                           void *xo, void *wo, void *go, void *meano, void *rstdo, void *gxo, void *gwo,        \
                           void *gbo)                                                                           \
{                                                                                                               \
    const T *restrict x = EM_DATA(xo, const T), *restrict w = EM_DATA(wo, const T);                             \
    const T *restrict g = EM_DATA(go, const T);                                                                 \
    const T *restrict mean = EM_DATA(meano, const T), *restrict rstd = EM_DATA(rstdo, const T);                 \
    T *restrict gx = EM_DATA(gxo, T), *restrict gw = EM_DATA(gwo, T), *restrict gb = EM_DATA(gbo, T);           \
    const double n = (double)(nb * r);                                                                          \
    EM_OMP(parallel for if(parallel: threads > 1) num_threads(threads) schedule(static))                        \
    for (int64_t k = 0; k < c; ++k) {                                                                           \
        const T mu = mean[k], rk = rstd[k];                                                                     \
        double sg = 0, sx = 0;                                                                                  \
        for (int64_t i = 0; i < nb; ++i) {                                                                      \
            const T *restrict xi = x + (i * c + k) * r, *restrict gi = g + (i * c + k) * r;                     \
            EM_OMP(simd reduction(+: sg, sx))                                                                   \
            for (int64_t j = 0; j < r; ++j) {                                                                   \
                sg += gi[j];                                                                                    \
                sx += (double)gi[j] * (xi[j] - mu);                                                             \
            }                                                                                                   \
        }                                                                                                       \
        if (need_b)                                                                                             \
            gb[k] = (T)sg;                                                                                      \
        if (need_w)                                                                                             \
            gw[k] = (T)sx * rk;                                                                                 \
        if (!need_x)                                                                                            \
            continue;                                                                                           \
        const T a = (T)(sg / n), q = (T)(sx / n) * rk * rk, wr = w[k] * rk;                                     \
        for (int64_t i = 0; i < nb; ++i) {                                                                      \
            const T *restrict xi = x + (i * c + k) * r, *restrict gi = g + (i * c + k) * r;                    \
            T *restrict gxi = gx + (i * c + k) * r;                                                             \
            for (int64_t j = 0; j < r; ++j)                                                                     \
                gxi[j] = wr * (gi[j] - a - (xi[j] - mu) * q);                                                   \
        }                                                                                                       \
    }                                                                                                           \
}

EM_LAYERNORM(float, f32)
EM_BATCHNORM(float, f32)
#ifndef EM_FLOAT32_ONLY
EM_LAYERNORM(double, f64)
EM_BATCHNORM(double, f64)
#endif

/* channels-last batch norm (float32, channels c a multiple of 16) on rows (m, c), statistics per channel over
   the rows. The rows go in chunks of `chunk`, taken by `threads` OpenMP threads as they come: each chunk's double
   sums are its own (added up in chunk order: the results do not depend on the threads), 16 channels at a time as
   two vectors of 8 whose sums stay in registers. */
typedef float em_bn8 __attribute__((vector_size(32), aligned(4)));
typedef double em_bnd8 __attribute__((vector_size(64), aligned(8)));
typedef int32_t em_bni8 __attribute__((vector_size(32)));
#define EM_BN8(p) (*(const em_bn8 *)(p))
#define EM_BND8(v) __builtin_convertvector(v, em_bnd8)

/* a chunk's two sums of 16 channels (two vectors each) at p and p + c */
static inline void em_bncl_put(double *p, int64_t c, em_bnd8 s0, em_bnd8 s1, em_bnd8 v0, em_bnd8 v1)
{
    *(em_bnd8 *)p = s0;
    *(em_bnd8 *)(p + 8) = s1;
    *(em_bnd8 *)(p + c) = v0;
    *(em_bnd8 *)(p + c + 8) = v1;
}

/* the sums of d = x - x[0] and d^2 (x's first row: a shift that keeps the one-pass variance exact in double) of
   each chunk: part[q] holds chunk q's, (2, c) */
void em_bncl_sums_f32(int64_t m, int64_t c, int64_t chunk, int threads, void *xo, void *parto)
{
    const float *x = EM_DATA(xo, const float);
    double *part = EM_DATA(parto, double);
    EM_OMP(parallel for schedule(dynamic, 1) num_threads(threads) if(threads > 1))
    for (int64_t q = 0; q < (m + chunk - 1) / chunk; ++q) {
        const int64_t i1 = (q + 1) * chunk < m ? (q + 1) * chunk : m;
        for (int64_t k = 0; k < c; k += 16) {
            const em_bnd8 f0 = EM_BND8(EM_BN8(x + k)), f1 = EM_BND8(EM_BN8(x + k + 8));
            em_bnd8 s0 = {0}, s1 = {0}, v0 = {0}, v1 = {0};
            for (int64_t i = q * chunk; i < i1; ++i) {
                const em_bnd8 d0 = EM_BND8(EM_BN8(x + i * c + k)) - f0, d1 = EM_BND8(EM_BN8(x + i * c + k + 8)) - f1;
                s0 += d0;
                s1 += d1;
                v0 += d0 * d0;
                v1 += d1 * d1;
            }
            em_bncl_put(part + q * 2 * c + k, c, s0, s1, v0, v1);
        }
    }
}

/* the statistics from the chunks' sums: mean, the biased variance, rstd = 1 / sqrt(var + eps) (in float, as
   NumPy), and scale = rstd * w */
void em_bncl_stats_f32(int64_t m, int64_t c, int64_t chunks, double eps, void *xo, void *parto, void *wo,
                       void *meano, void *varo, void *rstdo, void *scaleo)
{
    const float *x = EM_DATA(xo, const float), *w = EM_DATA(wo, const float);
    const double *part = EM_DATA(parto, const double);
    float *mean = EM_DATA(meano, float), *var = EM_DATA(varo, float), *rstd = EM_DATA(rstdo, float);
    float *scale = EM_DATA(scaleo, float);
    for (int64_t k = 0; k < c; ++k) {
        double s = 0, v = 0;
        for (int64_t q = 0; q < chunks; ++q) {
            s += part[q * 2 * c + k];
            v += part[q * 2 * c + c + k];
        }
        const double mu = s / (double)m, vk = v / (double)m - mu * mu;
        mean[k] = (float)(x[k] + mu);
        var[k] = vk > 0 ? (float)vk : 0.0f;
        rstd[k] = 1.0f / em_sqrt_f32(var[k] + (float)eps);
        scale[k] = rstd[k] * w[k];
    }
}

/* em_bn_act on 8 values */
static inline em_bn8 em_bn8_act(em_bn8 v, int act, const float *r)
{
    if (act & 2)
        v = v + EM_BN8(r);
    if (act & 1)
        v = (em_bn8)((em_bni8)v & ((v > 0) | (v != v)));
    return v;
}

/* y = (x - mean) * scale + b, then em_bn_act (the residual r at y's place), by chunks of rows */
void em_bncl_apply_f32(int64_t m, int64_t c, int64_t chunk, int threads, void *xo, void *meano, void *scaleo,
                       void *bo, void *yo, int act, void *ro)
{
    const float *x = EM_DATA(xo, const float), *mean = EM_DATA(meano, const float);
    const float *scale = EM_DATA(scaleo, const float), *b = EM_DATA(bo, const float), *r = EM_DATA(ro, const float);
    float *y = EM_DATA(yo, float);
    EM_OMP(parallel for schedule(dynamic, chunk) num_threads(threads) if(threads > 1))
    for (int64_t i = 0; i < m; ++i)
        for (int64_t k = 0; k < c; k += 8) {
            const int64_t o = i * c + k;
            *(em_bn8 *)(y + o) = em_bn8_act((EM_BN8(x + o) - EM_BN8(mean + k)) * EM_BN8(scale + k) + EM_BN8(b + k),
                                            act, r + o);
        }
}

/* g where y > 0, else 0 (relu's gradient, from its output y), on 8 values */
static inline em_bn8 em_bn8_relu_grad(em_bn8 g, const float *y)
{
    return (em_bn8)((em_bni8)g & (EM_BN8(y) > 0));
}

/* the gradient's sums of each chunk: g and g * (x - mean), part[q] (2, c) as em_bncl_sums_f32; with relu, g is
   relu's gradient from its output y (em_bn8_relu_grad) */
void em_bncl_grad_sums_f32(int64_t m, int64_t c, int64_t chunk, int threads, void *xo, void *go, void *meano,
                           int relu, void *yo, void *parto)
{
    const float *x = EM_DATA(xo, const float), *g = EM_DATA(go, const float), *mean = EM_DATA(meano, const float);
    const float *y = EM_DATA(yo, const float);
    double *part = EM_DATA(parto, double);
    EM_OMP(parallel for schedule(dynamic, 1) num_threads(threads) if(threads > 1))
    for (int64_t q = 0; q < (m + chunk - 1) / chunk; ++q) {
        const int64_t i1 = (q + 1) * chunk < m ? (q + 1) * chunk : m;
        for (int64_t k = 0; k < c; k += 16) {
            const em_bn8 u0 = EM_BN8(mean + k), u1 = EM_BN8(mean + k + 8);
            em_bnd8 s0 = {0}, s1 = {0}, v0 = {0}, v1 = {0};
            for (int64_t i = q * chunk; i < i1; ++i) {
                const int64_t o = i * c + k;
                const em_bn8 h0 = EM_BN8(g + o), h1 = EM_BN8(g + o + 8);
                const em_bnd8 g0 = EM_BND8(relu ? em_bn8_relu_grad(h0, y + o) : h0);
                const em_bnd8 g1 = EM_BND8(relu ? em_bn8_relu_grad(h1, y + o + 8) : h1);
                s0 += g0;
                s1 += g1;
                v0 += g0 * EM_BND8(EM_BN8(x + o) - u0);
                v1 += g1 * EM_BND8(EM_BN8(x + o + 8) - u1);
            }
            em_bncl_put(part + q * 2 * c + k, c, s0, s1, v0, v1);
        }
    }
}

/* from the chunks' sums sg, sx: gb = sg, gw = sx * rstd (each where need_b, need_w) and the factors of gx:
   coef (3, c) = a = sg / m, q = sx / m * rstd^2, wr = w * rstd */
void em_bncl_grad_stats_f32(int64_t m, int64_t c, int64_t chunks, int need_w, int need_b, void *parto, void *wo,
                            void *rstdo, void *gwo, void *gbo, void *coefo)
{
    const double *part = EM_DATA(parto, const double);
    const float *w = EM_DATA(wo, const float), *rstd = EM_DATA(rstdo, const float);
    float *gw = EM_DATA(gwo, float), *gb = EM_DATA(gbo, float), *coef = EM_DATA(coefo, float);
    for (int64_t k = 0; k < c; ++k) {
        double sg = 0, sx = 0;
        for (int64_t q = 0; q < chunks; ++q) {
            sg += part[q * 2 * c + k];
            sx += part[q * 2 * c + c + k];
        }
        const float rk = rstd[k];
        if (need_b)
            gb[k] = (float)sg;
        if (need_w)
            gw[k] = (float)sx * rk;
        coef[k] = (float)(sg / (double)m);
        coef[c + k] = (float)(sx / (double)m) * rk * rk;
        coef[2 * c + k] = w[k] * rk;
    }
}

/* gx = wr * (g - a - (x - mean) * q), by chunks of rows (relu, y: as em_bncl_grad_sums_f32) */
void em_bncl_grad_x_f32(int64_t m, int64_t c, int64_t chunk, int threads, void *xo, void *go, void *meano,
                        int relu, void *yo, void *coefo, void *gxo)
{
    const float *x = EM_DATA(xo, const float), *g = EM_DATA(go, const float), *mean = EM_DATA(meano, const float);
    const float *y = EM_DATA(yo, const float);
    const float *a = EM_DATA(coefo, const float), *q = a + c, *wr = a + 2 * c;
    float *gx = EM_DATA(gxo, float);
    EM_OMP(parallel for schedule(dynamic, chunk) num_threads(threads) if(threads > 1))
    for (int64_t i = 0; i < m; ++i)
        for (int64_t k = 0; k < c; k += 8) {
            const int64_t o = i * c + k;
            const em_bn8 gk = relu ? em_bn8_relu_grad(EM_BN8(g + o), y + o) : EM_BN8(g + o);
            const em_bn8 xc = EM_BN8(x + o) - EM_BN8(mean + k);
            *(em_bn8 *)(gx + o) = EM_BN8(wr + k) * (gk - EM_BN8(a + k) - xc * EM_BN8(q + k));
        }
}
"""


class CNormalize(Normalize):
    """Normalize (layer_norm, batch norm in training) run by C (see the module docstring)."""

    # {dtype suffix: (layer norm, its gradient, batch norm, its gradient, and for f32 the channels-last batch
    # norm's six: see _cl_forward and _cl_gradient)}, set by lower_norms
    lib = None
    runs = "c"
    relu = False  # a batch norm followed by relu (and the residual, the op's fourth argument): see fold_activations

    def forward(self, xp, x, w, b, residual=None):
        if xp is not np or w is None or b is None or self.stats is not None or not _same_dtype(x, w, b) or (
                residual is not None and (residual.dtype != x.dtype or residual.shape != x.shape)):
            return self._activate(super().forward(xp, x, w, b), residual)
        self.b_meta = (b.shape, b.dtype)
        lay, fns = self.lay, self.lib[SUFFIX[x.dtype]]
        channels_last = _channels_last(lay, x)  # rows of channels: y channels-last too
        y = np.empty_like(x) if channels_last else np.empty(x.shape, x.dtype)
        mean, var, rstd = (np.empty(lay.kshape, x.dtype) for _ in range(3))
        threads = render_c.threads_for(x.size)  # layer norm's OpenMP threads
        w, b = c_array(w), c_array(b)
        act = int(self.relu) | (2 if residual is not None else 0)
        if lay.rows:
            fns[0](*lay.sview, self.eps, threads, c_array(x), w, b, y, mean, rstd)
            y = self._activate(y, residual)
        elif channels_last:
            n, c, r = lay.sview
            res = y if residual is None else as_channels_last(residual)
            _cl_forward(fns, n * r, c, self.eps, x, w, b, y, mean, var, rstd, act, res)
            if self.running is not None:
                self._update_running(mean, var)
        else:
            x = c_array(x)
            res = y if residual is None else c_array(residual)
            fns[2](*lay.sview, _nchw_threads(lay.sview), self.eps, x, w, b, y, mean, var, rstd, act, res)
            if self.running is not None:
                self._update_running(mean, var)
        if self.keep:
            self.mean, self.rstd = mean, rstd
        return y

    def _activate(self, y, residual):
        """What the C kernels fold in, on NumPy's forward's result: + residual, then relu (as the elementwise ops
        they replace: np.maximum keeps NaN)."""
        if residual is not None:
            y = y + residual
        return np.maximum(y, 0) if self.relu else y


class CNormalizeGrad(NormalizeGrad):
    """NormalizeGrad of a layer_norm or a batch norm in training run by C (see the module docstring). With
    relu (see fold_relu_grads), its output gradient is the one of the ReLU whose output is its fourth argument:
    g where that output is positive, else 0 (as ReluGrad)."""

    lib = None
    runs = "c"
    relu = False

    def forward(self, xp, x, w, g, relu_out=None):
        in_c = xp is np and w is not None and _same_dtype(x, w, g) and self.rstd.dtype == x.dtype
        channels_last = in_c and _channels_last(self.lay, x, g, *([] if relu_out is None else [relu_out]))
        if relu_out is not None and not channels_last:  # only the channels-last kernels mask g themselves
            g = xp.where(relu_out > 0, g, 0).astype(g.dtype, copy=False)
            relu_out = None
        if not in_c:
            return super().forward(xp, x, w, g)
        need_x, need_w, need_b = self.needs
        fns, lay = self.lib[SUFFIX[x.dtype]], self.lay
        if not channels_last:
            x, g = c_array(x), c_array(g)
        gx = np.empty_like(x) if need_x else None  # channels-last as x and g, or C-contiguous
        gw = np.empty(w.shape, w.dtype) if need_w else None
        gb = np.empty(self.b_meta[0], self.b_meta[1]) if need_b else None
        scratch = np.empty(1, x.dtype)  # where a gradient not needed would go (never written)
        outs = [scratch if a is None else a for a in (gx, gw, gb)]
        args = (bool(need_x), bool(need_w), bool(need_b))
        ins = (x, c_array(w), g, self.mean, self.rstd)
        if lay.rows:
            if fns[1](*lay.sview, render_c.threads_for(x.size), *args, *ins, *outs):
                raise MemoryError(f"layer_norm backward: cannot allocate {2 * lay.sview[1]} doubles per "
                                  f"{_LN_ROWS} rows of {lay.sview[0]}")
        elif channels_last:
            n, c, r = lay.sview
            _cl_gradient(fns, n * r, c, args, ins, outs, relu_out)
        else:
            fns[3](*lay.sview, _nchw_threads(lay.sview), *args, *ins, *outs)
        return gx, gw, gb


def _nchw_threads(sview):
    """The OpenMP threads over the channels of a batch norm's (N, C, R) arrays: ember's from _SPLIT_MIN elements
    (an OpenMP team that has just run wakes in microseconds, where ember's Python pool took 100-200)."""
    n, c, r = sview
    return _threads.team(c, n * c * r, _SPLIT_MIN)


def _cl_threads(m, c):
    """The OpenMP threads of a channels-last batch norm of (m, c) rows: ember's from _SPLIT_MIN elements."""
    return _threads.team(m, m * c, _SPLIT_MIN)


def _cl_forward(fns, m, c, eps, x, w, b, y, mean, var, rstd, act, res):
    """The channels-last batch norm of (m, c) rows: the chunks' sums, the statistics, then y."""
    part = np.empty((-(-m // _CL_ROWS), 2, c))
    scale = np.empty(c, np.float32)
    threads = _cl_threads(m, c)
    fns[4](m, c, _CL_ROWS, threads, x, part)
    fns[5](m, c, len(part), eps, x, part, w, mean, var, rstd, scale)
    fns[6](m, c, _CL_ROWS, threads, x, mean, scale, b, y, act, res)


def _cl_gradient(fns, m, c, needs, ins, outs, relu=None):
    """The channels-last batch norm's gradients (outs: gx, gw, gb or a scratch array where not needed) from
    ins = (x, w, g, mean, rstd): the chunks' sums, gw and gb, then gx. relu: a ReLU's output, whose gradient
    from g the batch norm's output gradient is."""
    (need_x, need_w, need_b), (x, w, g, mean, rstd) = needs, ins
    part = np.empty((-(-m // _CL_ROWS), 2, c))
    coef = np.empty((3, c), np.float32)
    threads = _cl_threads(m, c)
    y = g if relu is None else relu
    fns[7](m, c, _CL_ROWS, threads, x, g, mean, relu is not None, y, part)
    fns[8](m, c, len(part), need_w, need_b, part, w, rstd, outs[1], outs[2], coef)
    if need_x:
        fns[9](m, c, _CL_ROWS, threads, x, g, mean, relu is not None, y, coef, outs[0])


def _channels_last(lay, *arrays):
    """Whether a batch norm's arrays take C's channels-last kernels: channels-last float32 with the channels a
    multiple of _CL_BLOCK (as the convolutions make them: c_nhwc.fills_vectors); other channels-last arrays are
    copied to (N, C, H, W)."""
    return not lay.rows and arrays[0].dtype == np.float32 and lay.sview[1] % _CL_BLOCK == 0 and \
        all(is_channels_last(a) for a in arrays)


def _same_dtype(*arrays):
    return arrays[0].dtype in SUFFIX and all(a.dtype == arrays[0].dtype for a in arrays)


def _functions(lib):
    i64, i32, f64, obj = ctypes.c_int64, ctypes.c_int, ctypes.c_double, ctypes.py_object
    table = function_table(lib, (("layernorm", [i64, i64, f64, i32] + [obj] * 6, None),
                                 ("layernorm_grad", [i64, i64, i32, i32, i32, i32] + [obj] * 8, i32),
                                 ("batchnorm", [i64] * 3 + [i32, f64] + [obj] * 7 + [i32, obj], None),
                                 ("batchnorm_grad", [i64] * 3 + [i32] * 4 + [obj] * 8, None)))
    table["f32"] += function_table(lib, (("bncl_sums", [i64] * 3 + [i32] + [obj] * 2, None),
                                         ("bncl_stats", [i64] * 3 + [f64] + [obj] * 7, None),
                                         ("bncl_apply", [i64] * 3 + [i32] + [obj] * 5 + [i32, obj], None),
                                         ("bncl_grad_sums", [i64] * 3 + [i32] + [obj] * 3 + [i32] + [obj] * 2,
                                          None),
                                         ("bncl_grad_stats", [i64] * 3 + [i32] * 2 + [obj] * 6, None),
                                         ("bncl_grad_x", [i64] * 3 + [i32] + [obj] * 3 + [i32] + [obj] * 3, None)),
                                   suffixes=("f32",))["f32"]
    return table


def _covered(op):
    node = op.node
    if type(node) not in (Normalize, NormalizeGrad) or op.raw:
        return False
    lay = node.lay
    layer_norm = lay.rows and len(lay.sview) == 2 and lay.pshape == lay.sview[1:]
    batch_norm = lay.aligned and lay.flat is not None  # (N, C, R) with statistics per channel
    if not ((layer_norm or batch_norm) and node.stats is None and node.center):
        return False
    args = [a for a in op.args if a is not None]
    return len(args) == 3 and all(a.dtype == args[0].dtype for a in args) and args[0].dtype in SUFFIX and \
        (type(node) is Normalize or (node.b_meta is not None and math.prod(node.b_meta[0]) == math.prod(lay.pshape)))


def lower_norms(graph, load):
    """graph with its layer norms (and their gradients) run by C (its ops list replaced; the other Op objects are
    shared). ``load()`` gives the library of ``BODY``; it is built when such a node first runs outside a C
    segment."""
    classes = {id(op): CNormalize if type(op.node) is Normalize else CNormalizeGrad
               for op in graph.ops if _covered(op)}
    return swap_to_c(graph, classes, lambda: _functions(load()))


def fold_activations(graph):
    """graph with each batch norm run by C whose result only a ReLU kernel reads (``FusedKernel`` of ``Relu``, or
    of ``Add,Relu`` with another value of its shape made before the batch norm: a residual) doing that in its own
    last pass (``relu``, the residual its fourth argument): one pass over the output less per pair. The ops list is
    replaced; the kernel's output becomes the batch norm's."""
    readers, handed_out = graph.readers(), graph.handed_out()
    index = {id(op): i for i, op in enumerate(graph.ops)}
    made_at = {id(o): i for i, op in enumerate(graph.ops) for o in op.outputs if o is not None}

    def foldable(v, at):
        """The batch norm op making v, when only the kernel at ``at`` reads v."""
        i = made_at.get(id(v))
        if i is None:
            return None
        op = graph.ops[i]
        if type(op.node) is not CNormalize or op.node.lay.rows or op.node.relu or len(op.args) != 3:
            return None
        return op if readers.get(id(v)) == [at] and id(v) not in handed_out else None

    folds = {}  # index of the batch norm -> (its op, the kernel op, the residual or None)
    for at, op in enumerate(graph.ops):
        node = op.node
        if not isinstance(node, FusedKernel) or len(op.outputs) != 1:
            continue
        names = [s.name for s in node.kernel.statements]
        if names == ["Relu"] and len(op.args) == 1:
            bn = foldable(op.args[0], at)
            if bn is not None:
                folds[index[id(bn)]] = (bn, op, None)
        elif names == ["Add", "Relu"] and len(op.args) == 2 and node.kernel.statements[1].operands == [("stmt", 0)]:
            a, b = op.args
            if a.shape != b.shape or a.dtype != b.dtype:
                continue
            for y, r in sorted(((a, b), (b, a)), key=lambda p: -made_at.get(id(p[0]), -1)):
                bn = foldable(y, at)
                if bn is not None and made_at.get(id(r), -1) < index[id(bn)]:
                    folds[index[id(bn)]] = (bn, op, r)
                    break
    if not folds:
        return graph
    replaced, dropped, ops = {}, {id(kernel) for _, kernel, _ in folds.values()}, []
    for i, op in enumerate(graph.ops):
        if i in folds:
            bn, kernel, residual = folds[i]
            new = _with_relu(bn, bn.args + ([residual] if residual is not None else []), kernel.outputs)
            replaced[id(bn)] = new
            ops.append(new)
        elif id(op) not in dropped:
            ops.append(op)
    for op in ops:
        if any(id(src) in replaced for src, _, _ in op.links.values()):
            op.links = {k: (replaced.get(id(src), src), attr, j) for k, (src, attr, j) in op.links.items()}
    graph.ops = ops
    return graph


def fold_relu_grads(graph):
    """graph with each batch norm gradient run by C whose output gradient a ReLU gradient makes (``ReluGrad``, or a
    ``FusedKernel`` of it alone) read by nothing else taking that op's work (``relu``, the ReLU's output
    its fourth argument): one pass over memory less per pair (a channels-last one masks g in its own passes). The
    ops list is replaced."""
    readers, handed_out, linked = graph.readers(), graph.handed_out(), graph.link_sources()
    made_by = {id(o): op for op in graph.ops for o in op.outputs if o is not None}  # (Value.op: the traced op)
    folds = {}  # id of the kernel -> (the batch norm gradient's op, the ReLU's output, its gradient dy)
    for at, op in enumerate(graph.ops):
        node = op.node
        if type(node) is not CNormalizeGrad or node.lay.rows or node.relu or len(op.args) != 3 or id(op) in linked:
            continue
        g = op.args[2]
        kernel = made_by.get(id(g))
        if kernel is None or len(kernel.outputs) != 1 or readers.get(id(g)) != [at] or id(g) in handed_out:
            continue
        if type(kernel.node) is ReluGrad:
            y, dy = kernel.args
        elif isinstance(kernel.node, FusedKernel) and [s.name for s in kernel.node.kernel.statements] == ["ReluGrad"]:
            y, dy = (kernel.args[i] for _, i in kernel.node.kernel.statements[0].operands)
        else:
            continue
        if y.shape == dy.shape == g.shape and y.dtype == dy.dtype == g.dtype:
            folds[id(kernel)] = (op, y, dy)
    if not folds:
        return graph
    folded = {id(op): (y, dy) for op, y, dy in folds.values()}
    ops = []
    for op in graph.ops:
        if id(op) in folds:
            continue
        if id(op) in folded:
            y, dy = folded[id(op)]
            op = _with_relu(op, [op.args[0], op.args[1], dy, y], op.outputs)
        ops.append(op)
    graph.ops = ops
    return graph


def _with_relu(op, args, outputs):
    """A copy of the batch norm (or gradient) op with ``relu`` set, reading args and making outputs (each output
    value now made by it)."""
    node = object.__new__(type(op.node))
    node.__dict__.update(vars(op.node), relu=True)
    new = Op(node, args, outputs, op.links)
    new.raw, new.backward = op.raw, op.backward
    for j, out in enumerate(outputs):
        if out is not None:
            out.op, out.out_index = new, j
    return new
