"""The C helpers that the compile rules call (``em_<name>_f32`` / ``em_<name>_f64``), put at the top of every
generated C module.

float64 uses the C library (correctly rounded or within an ulp, as NumPy's). float32 exp, log, tanh and erf are
written here without calls or branches (Cephes' polynomials, erf as ember's own float32 erf), so that a loop of
them vectorises (the C library's expf is a call per element, several times slower than NumPy's SIMD loops);
they are within a few ulp of NumPy's, and handle NaN, infinities, zeros and subnormals as the C library does.
"""

__all__ = ["PRELUDE"]

PRELUDE = r"""
#include <math.h>
#include <stdint.h>

typedef union { float f; int32_t i; } em_bits32;

/* the helpers' own polynomials use fused multiply-adds where the CPU has them (the fused ops' arithmetic never
   does: it rounds as NumPy's) */
#ifdef __FMA__
#define EM_FMA32(a, b, c) fmaf(a, b, c)
#else
#define EM_FMA32(a, b, c) ((a) * (b) + (c))
#endif

static inline float em_f32_from_bits(int32_t i) { em_bits32 b; b.i = i; return b.f; }
static inline int32_t em_f32_bits(float f) { em_bits32 b; b.f = f; return b.i; }

static inline float em_abs_f32(float x) { return fabsf(x); }
static inline double em_abs_f64(double x) { return fabs(x); }
static inline float em_sqrt_f32(float x) { return sqrtf(x); }
static inline double em_sqrt_f64(double x) { return sqrt(x); }

/* e^x = 2^n e^r with n = round(x / ln 2), |r| <= ln(2) / 2 (Cody-Waite), e^r by Cephes' expf polynomial; 2^n
   is applied as two factors so that results down to the subnormals round once. */
static inline float em_exp_f32(float x)
{
    float xc = x < 88.7228394f ? x : 88.7228394f;       /* also NaN -> finite: no undefined int conversion */
    xc = xc > -103.972084f ? xc : -103.972084f;
    const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;   /* round to nearest */
    float r = EM_FMA32(n, -0.693359375f, xc);
    r = EM_FMA32(n, 2.12194440e-4f, r);
    const float z = r * r;
    float p = 1.9875691500e-4f;
    p = EM_FMA32(p, r, 1.3981999507e-3f);
    p = EM_FMA32(p, r, 8.3334519073e-3f);
    p = EM_FMA32(p, r, 4.1665795894e-2f);
    p = EM_FMA32(p, r, 1.6666665459e-1f);
    p = EM_FMA32(p, r, 5.0000001201e-1f);
    p = EM_FMA32(p, z, r) + 1.0f;
    const int32_t k = (int32_t)n, k1 = k / 2, k2 = k - k1;
    float y = p * em_f32_from_bits((k1 + 127) << 23) * em_f32_from_bits((k2 + 127) << 23);
    y = x > 88.7228394f ? INFINITY : y;
    y = x < -103.972084f ? 0.0f : y;
    return x != x ? x : y;
}

/* x = 2^e m with sqrt(1/2) <= m < sqrt(2), log(m) by Cephes' logf polynomial in m - 1. */
static inline float em_log_f32(float x)
{
    const int sub = x < 1.17549435e-38f;                 /* subnormal (or <= 0: fixed at the end) */
    const float xs = sub ? x * 8388608.0f : x;           /* 2^23 */
    const int32_t bits = em_f32_bits(xs);
    int32_t e = ((bits >> 23) & 0xff) - 126;
    const float m = em_f32_from_bits((bits & 0x007fffff) | 0x3f000000);   /* [0.5, 1) */
    const int low = m < 0.707106781186547524f;
    e = low ? e - 1 : e;
    e = sub ? e - 23 : e;
    const float f = low ? (m + m) - 1.0f : m - 1.0f;
    const float fe = (float)e;
    const float z = f * f;
    float y = 7.0376836292e-2f;
    y = EM_FMA32(y, f, -1.1514610310e-1f);
    y = EM_FMA32(y, f, 1.1676998740e-1f);
    y = EM_FMA32(y, f, -1.2420140846e-1f);
    y = EM_FMA32(y, f, 1.4249322787e-1f);
    y = EM_FMA32(y, f, -1.6668057665e-1f);
    y = EM_FMA32(y, f, 2.0000714765e-1f);
    y = EM_FMA32(y, f, -2.4999993993e-1f);
    y = EM_FMA32(y, f, 3.3333331174e-1f);
    y = y * f * z;
    y = EM_FMA32(-2.12194440e-4f, fe, y);
    y = EM_FMA32(-0.5f, z, y);
    float r = f + y;
    r = EM_FMA32(0.693359375f, fe, r);
    r = x == INFINITY ? x : r;
    r = x == 0.0f ? -INFINITY : r;
    r = x < 0.0f ? NAN : r;
    return x != x ? x : r;
}

/* |x| < 0.5625: Cephes' odd polynomial; else 1 - 2 / (e^2|x| + 1) with x's sign, exactly +-1 once e^2|x| is
   large (a rational approximation is twice as fast but a few ulp off near +-1, where gelu's 1 + tanh cancels) */
static inline float em_tanh_f32(float x)
{
    const float a = fabsf(x);
    const float z = x * x;
    float p = -5.70498872745e-3f;
    p = EM_FMA32(p, z, 2.06390887954e-2f);
    p = EM_FMA32(p, z, -5.37397155531e-2f);
    p = EM_FMA32(p, z, 1.33314422036e-1f);
    p = EM_FMA32(p, z, -3.33332819422e-1f);
    const float small = EM_FMA32(x * z, p, x);
    const float e = em_exp_f32(a + a);
    float big = 1.0f - 2.0f / (e + 1.0f);
    big = x < 0.0f ? -big : big;
    const float r = a < 0.5625f ? small : big;
    return x != x ? x : r;
}

/* ember's float32 erf (ops/_erf.py): x P(x^2) / Q(x^2) on [-4, 4], the same operations in the same order. */
static inline float em_erf_f32(float x)
{
    float c = x < -4.0f ? -4.0f : x;
    c = c > 4.0f ? 4.0f : c;
    const float x2 = c * c;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 + -2.10102402082508e-06f;
    p = p * x2 + -5.69250639462346e-05f;
    p = p * x2 + -7.34990630326855e-04f;
    p = p * x2 + -2.95459980854025e-03f;
    p = p * x2 + -1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * x2 + -2.13374055278905e-04f;
    q = q * x2 + -1.68282697438203e-03f;
    q = q * x2 + -7.37332916720468e-03f;
    q = q * x2 + -1.42647390514189e-02f;
    return (p * c) / q;
}

static inline double em_exp_f64(double x) { return exp(x); }
static inline double em_log_f64(double x) { return log(x); }
static inline double em_tanh_f64(double x) { return tanh(x); }
static inline double em_erf_f64(double x) { return erf(x); }
static inline float em_log1p_f32(float x) { return log1pf(x); }
static inline double em_log1p_f64(double x) { return log1p(x); }
static inline float em_expm1_f32(float x) { return expm1f(x); }
static inline double em_expm1_f64(double x) { return expm1(x); }

/* sigmoid as NumPy's forward: e = exp(-|x|), 1 / (1 + e) for x >= 0, e / (1 + e) below (never overflows) */
#define EM_TYPED(T, S)                                                                                          \
static inline T em_sigmoid_##S(T x)                                                                             \
{                                                                                                               \
    const T e = em_exp_##S(-em_abs_##S(x));                                                                     \
    return x >= (T)0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e);                                                      \
}                                                                                                               \
static inline T em_silu_##S(T x) { return x * em_sigmoid_##S(x); }                                             \
/* gelu: 0.5 x (1 + erf(x / sqrt 2)); its tanh form 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) */         \
static inline T em_gelu_##S(T x)                                                                                \
{                                                                                                               \
    return ((T)0.5 * x) * ((T)1 + em_erf_##S(x * (T)0.70710678118654752440));                                   \
}                                                                                                               \
/* (1 + tanh(u)) / 2 = sigmoid(2u): x / (1 + e^-2u), without tanh's cancellation near -1 */                      \
static inline T em_gelu_tanh_v_##S(T x)                                                                         \
{                                                                                                               \
    return (T)-1.5957691216057307118 * (x + (((T)0.044715 * x) * x) * x);                                       \
}                                                                                                               \
static inline T em_gelu_tanh_##S(T x) { return x / ((T)1 + em_exp_##S(em_gelu_tanh_v_##S(x))); }               \
/* gelu'(x) = Phi(x) + x phi(x) */                                                                              \
static inline T em_gelu_grad_##S(T x)                                                                           \
{                                                                                                               \
    return (T)0.5 * ((T)1 + em_erf_##S(x * (T)0.70710678118654752440))                                          \
           + x * em_exp_##S((T)-0.5 * x * x) * (T)0.39894228040143267794;                                       \
}                                                                                                               \
/* u = c (x + a x^3), s = sigmoid(2u) = (1 + tanh(u)) / 2: gelu' = s + 2 x s (1 - s) u' with u' = c (1 + 3 a x^2) \
   and 1 - s = e s for e = e^-2u (no cancellation) */                                                            \
static inline T em_gelu_tanh_grad_##S(T x)                                                                      \
{                                                                                                               \
    const T v = em_gelu_tanh_v_##S(x);                                                                          \
    const T e = em_exp_##S(v < (T)80 ? v : (T)80);  /* finite: e s is never inf * 0 */                          \
    const T s = (T)1 / ((T)1 + e);                                                                              \
    const T du = (T)0.79788456080286535588 + (x * x) * (T)(3 * 0.79788456080286535588 * 0.044715);              \
    const T r = s * ((T)1 + (T)2 * x * du * (e * s));                                                           \
    return x != x ? x : r;                                                                                      \
}

EM_TYPED(float, f32)
EM_TYPED(double, f64)
#undef EM_TYPED
"""
