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
from ..ops._threads import get_num_threads
from ..ops.norm import Normalize, NormalizeGrad
from . import render_c
from .c_nhwc import as_channels_last, is_channels_last
from .ir import Op
from .kernel import FusedKernel
from .lower import c_array, function_table, swap_to_c

__all__ = ["BODY", "lower_norms", "fold_activations"]

# elements of a batch norm's input from which its channels split over ember's threads (alone, 32x16x32x32 float32:
# forward 0.18 -> 0.14 ms, gradient 0.20 -> 0.15; 32x32x16x16 gained nothing)
_SPLIT_MIN = 1 << 19

BODY = r"""
#include <stdlib.h>
#define EM_LAYERNORM(T, S)                                                                                      \
/* rows of d values: mean, rstd = 1 / sqrt(var + eps) (as NumPy: in T), y = (x - mean) * rstd * w + b */         \
void em_layernorm_##S(int64_t m, int64_t d, double eps, int nthreads, void *xo, void *wo, void *bo, void *yo,    \
                      void *meano, void *rstdo)                                                                 \
{                                                                                                               \
    const T *restrict x = EM_DATA(xo, const T), *restrict w = EM_DATA(wo, const T);                             \
    const T *restrict b = EM_DATA(bo, const T);                                                                 \
    T *restrict y = EM_DATA(yo, T), *restrict mean = EM_DATA(meano, T), *restrict rstd = EM_DATA(rstdo, T);     \
    EM_OMP(parallel for if(parallel: m * d >= EM_PARALLEL_MIN) num_threads(nthreads) schedule(static))         \
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
/* gx = rstd * (g * w - xc * k - a), gw = sum over rows of g * xc * rstd, gb = sum over rows of g            */ \
int em_layernorm_grad_##S(int64_t m, int64_t d, int need_x, int need_w, int need_b, void *xo, void *wo,       \
                           void *go, void *meano, void *rstdo, void *gxo, void *gwo, void *gbo)                 \
{                                                                                                               \
    const T *restrict x = EM_DATA(xo, const T), *restrict w = EM_DATA(wo, const T);                             \
    const T *restrict g = EM_DATA(go, const T);                                                                 \
    const T *restrict mean = EM_DATA(meano, const T), *restrict rstd = EM_DATA(rstdo, const T);                 \
    T *restrict gx = EM_DATA(gxo, T), *restrict gw = EM_DATA(gwo, T), *restrict gb = EM_DATA(gbo, T);           \
    /* the sums over rows in double */                                                                          \
    double *restrict sw = calloc((size_t)(2 * d), sizeof(double)), *restrict sb = sw + d;                       \
    if (sw == NULL)                                                                                             \
        return 1;                                                                                               \
    for (int64_t i = 0; i < m; ++i) {                                                                           \
        const T *restrict xi = x + i * d, *restrict gi = g + i * d;                                             \
        const T mu = mean[i], r = rstd[i];                                                                      \
        if (need_b)                                                                                             \
            for (int64_t j = 0; j < d; ++j)                                                                     \
                sb[j] += gi[j];                                                                                 \
        if (need_w)                                                                                             \
            for (int64_t j = 0; j < d; ++j)                                                                     \
                sw[j] += (double)(gi[j] * (xi[j] - mu) * r);                                                    \
        if (!need_x)                                                                                            \
            continue;                                                                                           \
        double sa = 0, sb = 0;                                                                                  \
        EM_OMP(simd reduction(+: sa, sb))                                                                       \
        for (int64_t j = 0; j < d; ++j) {                                                                       \
            const T gwj = gi[j] * w[j];                                                                         \
            sa += gwj;                                                                                          \
            sb += (double)gwj * (xi[j] - mu);                                                                   \
        }                                                                                                       \
        const T a = (T)(sa / (double)d), k = (T)(sb / (double)d) * r * r;                                       \
        T *restrict gxi = gx + i * d;                                                                           \
        for (int64_t j = 0; j < d; ++j)                                                                         \
            gxi[j] = r * (gi[j] * w[j] - (xi[j] - mu) * k - a);                                                 \
    }                                                                                                           \
    for (int64_t j = 0; j < d; ++j) {                                                                           \
        if (need_w)                                                                                             \
            gw[j] = (T)sw[j];                                                                                   \
        if (need_b)                                                                                             \
            gb[j] = (T)sb[j];                                                                                   \
    }                                                                                                           \
    free(sw);                                                                                                   \
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
EM_BN_ACT(double, f64)

#define EM_BATCHNORM(T, S)                                                                                      \
/* (N, C, R) arrays, statistics per channel over N and R, for the channels [k0, k1): mean, the biased variance */ \
/* (for the running statistics), rstd = 1 / sqrt(var + eps) (as NumPy: in T), y = (x - mean) * (rstd * w) + b  */ \
/* (act & 2: + the residual ro; act & 1: then relu, as np.maximum(y, 0)) */                                      \
void em_batchnorm_##S(int64_t nb, int64_t c, int64_t r, int64_t k0, int64_t k1, double eps, void *xo, void *wo, \
                      void *bo, void *yo, void *meano, void *varo, void *rstdo, int act, void *ro)              \
{                                                                                                               \
    const T *restrict res = EM_DATA(ro, const T);                                                               \
    const T *restrict x = EM_DATA(xo, const T), *restrict w = EM_DATA(wo, const T);                             \
    const T *restrict b = EM_DATA(bo, const T);                                                                 \
    T *restrict y = EM_DATA(yo, T), *restrict mean = EM_DATA(meano, T), *restrict var = EM_DATA(varo, T);       \
    T *restrict rstd = EM_DATA(rstdo, T);                                                                       \
    const double n = (double)(nb * r);                                                                          \
    for (int64_t k = k0; k < k1; ++k) {                                                                         \
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
/* the gradients, for the channels [k0, k1): with xc = x - mean, sg = sum(g), sx = sum(g * xc) per channel over */ \
/* N and R: gx = w * rstd * (g - sg / n - xc * rstd^2 * sx / n), gw = sx * rstd, gb = sg                        */ \
void em_batchnorm_grad_##S(int64_t nb, int64_t c, int64_t r, int64_t k0, int64_t k1, int need_x, int need_w,    \
                           int need_b, void *xo, void *wo, void *go, void *meano, void *rstdo, void *gxo,       \
                           void *gwo, void *gbo)                                                                \
{                                                                                                               \
    const T *restrict x = EM_DATA(xo, const T), *restrict w = EM_DATA(wo, const T);                             \
    const T *restrict g = EM_DATA(go, const T);                                                                 \
    const T *restrict mean = EM_DATA(meano, const T), *restrict rstd = EM_DATA(rstdo, const T);                 \
    T *restrict gx = EM_DATA(gxo, T), *restrict gw = EM_DATA(gwo, T), *restrict gb = EM_DATA(gbo, T);           \
    const double n = (double)(nb * r);                                                                          \
    for (int64_t k = k0; k < k1; ++k) {                                                                         \
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

#define EM_BATCHNORM_CL(T, S)                                                                                   \
/* channels-last: rows (m, c), statistics per channel over the rows, for the channels [k0, k1): as em_batchnorm */ \
int em_batchnorm_cl_##S(int64_t m, int64_t c, int64_t k0, int64_t k1, double eps, void *xo, void *wo, void *bo, \
                        void *yo, void *meano, void *varo, void *rstdo, int act, void *ro)                      \
{                                                                                                               \
    const T *restrict res = EM_DATA(ro, const T);                                                               \
    const T *restrict x = EM_DATA(xo, const T), *restrict w = EM_DATA(wo, const T);                             \
    const T *restrict b = EM_DATA(bo, const T);                                                                 \
    T *restrict y = EM_DATA(yo, T), *restrict mean = EM_DATA(meano, T), *restrict var = EM_DATA(varo, T);       \
    T *restrict rstd = EM_DATA(rstdo, T);                                                                       \
    const int64_t nk = k1 - k0;                                                                                 \
    double *restrict s = calloc((size_t)(2 * nk), sizeof(double)), *restrict v = s + nk;                        \
    T *restrict mu = malloc((size_t)(3 * nk) * sizeof(T)), *restrict scale = mu + nk, *restrict shift = scale + nk; \
    if (s == NULL || mu == NULL) {                                                                              \
        free(s);                                                                                                \
        free(mu);                                                                                               \
        return 1;                                                                                               \
    }                                                                                                           \
    for (int64_t i = 0; i < m; ++i) {                                                                           \
        const T *restrict xi = x + i * c + k0;                                                                  \
        for (int64_t j = 0; j < nk; ++j)                                                                        \
            s[j] += xi[j];                                                                                      \
    }                                                                                                           \
    for (int64_t j = 0; j < nk; ++j)                                                                            \
        mu[j] = (T)(s[j] / (double)m);                                                                          \
    for (int64_t i = 0; i < m; ++i) {                                                                           \
        const T *restrict xi = x + i * c + k0;                                                                  \
        for (int64_t j = 0; j < nk; ++j) {                                                                      \
            const T d = xi[j] - mu[j];                                                                          \
            v[j] += (double)d * d;                                                                              \
        }                                                                                                       \
    }                                                                                                           \
    for (int64_t j = 0; j < nk; ++j) {                                                                          \
        const T vk = (T)(v[j] / (double)m), rk = (T)1 / em_sqrt_##S(vk + (T)eps);                               \
        scale[j] = rk * w[k0 + j];                                                                              \
        shift[j] = b[k0 + j];                                                                                   \
        mean[k0 + j] = mu[j];                                                                                   \
        var[k0 + j] = vk;                                                                                       \
        rstd[k0 + j] = rk;                                                                                      \
    }                                                                                                           \
    for (int64_t i = 0; i < m; ++i) {                                                                           \
        const T *restrict xi = x + i * c + k0, *restrict ri = res + i * c + k0;                                 \
        T *restrict yi = y + i * c + k0;                                                                        \
        for (int64_t j = 0; j < nk; ++j)                                                                        \
            yi[j] = em_bn_act_##S((xi[j] - mu[j]) * scale[j] + shift[j], act, ri + j);                          \
    }                                                                                                           \
    free(s);                                                                                                    \
    free(mu);                                                                                                   \
    return 0;                                                                                                   \
}                                                                                                               \
/* channels-last: the gradients of em_batchnorm_cl, as em_batchnorm_grad */                                     \
int em_batchnorm_grad_cl_##S(int64_t m, int64_t c, int64_t k0, int64_t k1, int need_x, int need_w, int need_b,  \
                             void *xo, void *wo, void *go, void *meano, void *rstdo, void *gxo, void *gwo,      \
                             void *gbo)                                                                         \
{                                                                                                               \
    const T *restrict x = EM_DATA(xo, const T), *restrict w = EM_DATA(wo, const T);                             \
    const T *restrict g = EM_DATA(go, const T);                                                                 \
    const T *restrict mean = EM_DATA(meano, const T), *restrict rstd = EM_DATA(rstdo, const T);                 \
    T *restrict gx = EM_DATA(gxo, T), *restrict gw = EM_DATA(gwo, T), *restrict gb = EM_DATA(gbo, T);           \
    const int64_t nk = k1 - k0;                                                                                 \
    double *restrict sg = calloc((size_t)(2 * nk), sizeof(double)), *restrict sx = sg + nk;                     \
    T *restrict a = malloc((size_t)(3 * nk) * sizeof(T)), *restrict q = a + nk, *restrict wr = q + nk;          \
    if (sg == NULL || a == NULL) {                                                                              \
        free(sg);                                                                                               \
        free(a);                                                                                                \
        return 1;                                                                                               \
    }                                                                                                           \
    const T *restrict mu = mean + k0;                                                                           \
    for (int64_t i = 0; i < m; ++i) {                                                                           \
        const T *restrict xi = x + i * c + k0, *restrict gi = g + i * c + k0;                                   \
        for (int64_t j = 0; j < nk; ++j) {                                                                      \
            sg[j] += gi[j];                                                                                     \
            sx[j] += (double)gi[j] * (xi[j] - mu[j]);                                                           \
        }                                                                                                       \
    }                                                                                                           \
    for (int64_t j = 0; j < nk; ++j) {                                                                          \
        const T rk = rstd[k0 + j];                                                                              \
        if (need_b)                                                                                             \
            gb[k0 + j] = (T)sg[j];                                                                              \
        if (need_w)                                                                                             \
            gw[k0 + j] = (T)sx[j] * rk;                                                                         \
        a[j] = (T)(sg[j] / (double)m);                                                                          \
        q[j] = (T)(sx[j] / (double)m) * rk * rk;                                                                \
        wr[j] = w[k0 + j] * rk;                                                                                 \
    }                                                                                                           \
    if (need_x)                                                                                                 \
        for (int64_t i = 0; i < m; ++i) {                                                                       \
            const T *restrict xi = x + i * c + k0, *restrict gi = g + i * c + k0;                               \
            T *restrict gxi = gx + i * c + k0;                                                                  \
            for (int64_t j = 0; j < nk; ++j)                                                                    \
                gxi[j] = wr[j] * (gi[j] - a[j] - (xi[j] - mu[j]) * q[j]);                                       \
        }                                                                                                       \
    free(sg);                                                                                                   \
    free(a);                                                                                                    \
    return 0;                                                                                                   \
}

EM_LAYERNORM(float, f32)
EM_LAYERNORM(double, f64)
EM_BATCHNORM(float, f32)
EM_BATCHNORM(double, f64)
EM_BATCHNORM_CL(float, f32)
EM_BATCHNORM_CL(double, f64)
"""

_SUFFIX = {np.dtype("float32"): "f32", np.dtype("float64"): "f64"}


class CNormalize(Normalize):
    """Normalize (layer_norm, batch norm in training) run by C (see the module docstring)."""

    # {dtype suffix: (layer norm, its gradient, batch norm, its gradient, the channels-last batch norm, its
    # gradient)}, set by lower_norms
    lib = None
    runs = "c"
    relu = False  # a batch norm followed by relu (and the residual, the op's fourth argument): see fold_activations

    def forward(self, xp, x, w, b, residual=None):
        if xp is not np or w is None or b is None or self.stats is not None or not _same_dtype(x, w, b) or (
                residual is not None and (residual.dtype != x.dtype or residual.shape != x.shape)):
            return self._activate(super().forward(xp, x, w, b), residual)
        self.b_meta = (b.shape, b.dtype)
        lay, fns = self.lay, self.lib[_SUFFIX[x.dtype]]
        channels_last = not lay.rows and is_channels_last(x)  # rows of channels: y channels-last too
        y = np.empty_like(x) if channels_last else np.empty(x.shape, x.dtype)
        mean, var, rstd = (np.empty(lay.kshape, x.dtype) for _ in range(3))
        threads = get_num_threads() if x.size >= render_c.PARALLEL_MIN else 1  # layer norm's OpenMP threads
        w, b = c_array(w), c_array(b)
        act = int(self.relu) | (2 if residual is not None else 0)
        if lay.rows:
            fns[0](*lay.sview, self.eps, threads, c_array(x), w, b, y, mean, rstd)
            y = self._activate(y, residual)
        elif channels_last:
            n, c, r = lay.sview
            res = y if residual is None else as_channels_last(residual)
            _over_channels(lay.sview, lambda k0, k1: fns[4](n * r, c, k0, k1, self.eps, x, w, b, y, mean, var, rstd,
                                                            act, res), "batch_norm")
            if self.running is not None:
                self._update_running(mean, var)
        else:
            x = c_array(x)
            res = y if residual is None else c_array(residual)
            _over_channels(lay.sview, lambda k0, k1: fns[2](*lay.sview, k0, k1, self.eps, x, w, b, y, mean, var, rstd,
                                                            act, res))
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
    """NormalizeGrad of a layer_norm or a batch norm in training run by C (see the module docstring)."""

    lib = None
    runs = "c"

    def forward(self, xp, x, w, g):
        if xp is not np or w is None or not _same_dtype(x, w, g) or self.rstd.dtype != x.dtype:
            return super().forward(xp, x, w, g)
        need_x, need_w, need_b = self.needs
        fns, lay = self.lib[_SUFFIX[x.dtype]], self.lay
        channels_last = not lay.rows and is_channels_last(x) and is_channels_last(g)
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
            if fns[1](*lay.sview, *args, *ins, *outs):
                raise MemoryError(f"layer_norm backward: cannot allocate {2 * lay.sview[1]} doubles")
        elif channels_last:
            n, c, r = lay.sview
            _over_channels(lay.sview, lambda k0, k1: fns[5](n * r, c, k0, k1, *args, *ins, *outs),
                           "batch_norm backward")
        else:
            _over_channels(lay.sview, lambda k0, k1: fns[3](*lay.sview, k0, k1, *args, *ins, *outs))
        return gx, gw, gb


def _over_channels(sview, run, name=None):
    """run(k0, k1) for the channels [k0, k1) of a batch norm's (N, C, R) arrays, in one block per thread of
    ember's pool from _SPLIT_MIN elements (each channel's sums are one thread's: results do not depend on the
    split), else in one call. With a name, run returns nonzero where C could not allocate its sums: MemoryError."""
    n, c, r = sview
    k, per = _threads.plan(np, c, n * c * r, c, split_min=_SPLIT_MIN)
    failed = []
    _threads.for_blocks(np, c, per, k, lambda k0, m, state: failed.append(run(k0, k0 + m)))
    if name is not None and any(failed):
        raise MemoryError(f"{name}: cannot allocate the sums of {c} channels")


def _same_dtype(*arrays):
    return arrays[0].dtype in _SUFFIX and all(a.dtype == arrays[0].dtype for a in arrays)


def _functions(lib):
    i64, i32, f64, obj = ctypes.c_int64, ctypes.c_int, ctypes.c_double, ctypes.py_object
    return function_table(lib, (("layernorm", [i64, i64, f64, i32] + [obj] * 6, None),
                                ("layernorm_grad", [i64, i64, i32, i32, i32] + [obj] * 8, i32),
                                ("batchnorm", [i64] * 5 + [f64] + [obj] * 7 + [i32, obj], None),
                                ("batchnorm_grad", [i64] * 5 + [i32] * 3 + [obj] * 8, None),
                                ("batchnorm_cl", [i64] * 4 + [f64] + [obj] * 7 + [i32, obj], i32),
                                ("batchnorm_grad_cl", [i64] * 4 + [i32] * 3 + [obj] * 8, i32)))


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
    return len(args) == 3 and all(a.dtype == args[0].dtype for a in args) and args[0].dtype in _SUFFIX and \
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
            node = object.__new__(CNormalize)
            node.__dict__.update(vars(bn.node), relu=True)
            out = kernel.outputs[0]
            new = Op(node, bn.args + ([residual] if residual is not None else []), [out], bn.links)
            new.raw, new.backward = bn.raw, bn.backward
            out.op, out.out_index = new, 0
            replaced[id(bn)] = new
            ops.append(new)
        elif id(op) not in dropped:
            ops.append(op)
    for op in ops:
        if any(id(src) in replaced for src, _, _ in op.links.values()):
            op.links = {k: (replaced.get(id(src), src), attr, j) for k, (src, attr, j) in op.links.items()}
    graph.ops = ops
    return graph
