"""The C99 helper functions a standalone model calls for the ops that are not elementwise (matrix products,
convolution, pooling, normalisation, embedding, attention, copies), each a static function put into model.c only
when a step uses it (``HELPERS``, with the helpers it calls in ``NEEDS``).

Every array is a contiguous row-major float array unless a helper takes strides; sizes are int (a model's arrays
fit in 2^31 elements). Matrix products (``em_gemm``, under Linear, convolution and attention) run in 4 x 16 tiles
whose 64 sums a compiler keeps in registers at -O3 (about 4x the speed of -O2 code there), their edges row by
row over blocks of ``EM_NB`` (a constant trip count, which cc -O2 vectorises too). The OpenMP pragmas
(``EM_OMP``) split large products when the model is built with ``-fopenmp`` and vanish otherwise.
"""

__all__ = ["HELPERS", "NEEDS", "COMMON", "helper_source"]

COMMON = r"""
#include <stddef.h>
#include <string.h>
#define EM_NB 64
#define EM_KC 256
#define EM_MIN(a, b) ((a) < (b) ? (a) : (b))
"""

_AXPY = r"""
/* c[j] += a * b[j] (the _nb form over EM_NB elements: a known trip count, which cc -O2 vectorises) */
static inline void em_axpy(int n, float a, const float *restrict b, float *restrict c)
{
    for (int j = 0; j < n; ++j)
        c[j] += a * b[j];
}

static inline void em_axpy_nb(float a, const float *restrict b, float *restrict c)
{
    for (int j = 0; j < EM_NB; ++j)
        c[j] += a * b[j];
}
"""

_GEMM = r"""
/* C[0:4, 0:16] += A[0:4, :K] @ B[:K, 0:16]: the product's inner kernel, its 64 sums kept in registers over K
   (row strides lda, ldb, ldc) */
static inline void em_tile4x16(int K, const float *restrict a, int lda, const float *restrict b, int ldb,
                               float *restrict c, int ldc)
{
    float acc[4][16] = {{0.0f}};
    for (int k = 0; k < K; ++k) {
        const float *restrict bk = b + (size_t)k * ldb;
        const float a0 = a[k], a1 = a[lda + k], a2 = a[2 * lda + k], a3 = a[3 * lda + k];
        for (int j = 0; j < 16; ++j) {
            const float bj = bk[j];
            acc[0][j] += a0 * bj;
            acc[1][j] += a1 * bj;
            acc[2][j] += a2 * bj;
            acc[3][j] += a3 * bj;
        }
    }
    for (int r = 0; r < 4; ++r)
        for (int j = 0; j < 16; ++j)
            c[(size_t)r * ldc + j] += acc[r][j];
}

/* C[M, N] += A[M, K] @ B[K, N] row by row, EM_NB columns at a time summed over K before they are added to C
   (a matrix-vector product, and the edges that em_gemm's 4 x 16 tiles leave) */
static void em_gemm_rows(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    for (int i = 0; i < M; ++i) {
        const float *a = A + (size_t)i * lda;
        for (int j0 = 0; j0 < N; j0 += EM_NB) {
            const int nb = EM_MIN(EM_NB, N - j0);
            float acc[EM_NB] = {0.0f};
            for (int k = 0; k < K; ++k) {
                const float *b = B + (size_t)k * ldb + j0;
                if (nb == EM_NB)
                    em_axpy_nb(a[k], b, acc);
                else
                    em_axpy(nb, a[k], b, acc);
            }
            float *c = C + (size_t)i * ldc + j0;
            for (int j = 0; j < nb; ++j)
                c[j] += acc[j];
        }
    }
}

/* C[M, N] += A[M, K] @ B[K, N], row-major with row strides lda, ldb, ldc: 4 x 16 tiles of C, then the edges.
   Each 16-column panel of B is copied to a contiguous block EM_KC rows at a time first: read in place, its rows
   (a page or more apart in a wide B) would fall into the same few sets of the L1 cache and evict each other. */
static void em_gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    const int M4 = M / 4 * 4, N16 = N / 16 * 16;
    float panel[EM_KC * 16];
    for (int j0 = 0; j0 < N16 && M4 > 0; j0 += 16)
        for (int k0 = 0; k0 < K; k0 += EM_KC) {
            const int kc = EM_MIN(EM_KC, K - k0);
            for (int k = 0; k < kc; ++k)
                memcpy(panel + (size_t)k * 16, B + (size_t)(k0 + k) * ldb + j0, 16 * sizeof(float));
            for (int i0 = 0; i0 < M4; i0 += 4)
                em_tile4x16(kc, A + (size_t)i0 * lda + k0, lda, panel, 16, C + (size_t)i0 * ldc + j0, ldc);
        }
    if (N16 < N && M4 > 0)
        em_gemm_rows(M4, N - N16, K, A, lda, B + N16, ldb, C + N16, ldc);
    if (M4 < M)
        em_gemm_rows(M - M4, N, K, A + (size_t)M4 * lda, lda, B, ldb, C + (size_t)M4 * ldc, ldc);
}
"""

_LINEAR = r"""
/* y[M, N] = x[M, K] @ wt[K, N] + b[N] (wt: the Linear weight transposed when exported; b may be NULL); with
   OpenMP, blocks of 64 rows on separate threads once the product is large */
static void em_linear(const float *x, const float *wt, const float *b, float *y, int M, int K, int N)
{
    for (int i = 0; i < M; ++i) {
        float *yi = y + (size_t)i * N;
        if (b)
            memcpy(yi, b, sizeof(float) * (size_t)N);
        else
            memset(yi, 0, sizeof(float) * (size_t)N);
    }
    const int blocks = (M + 63) / 64;
    EM_OMP(parallel for schedule(static) if(parallel: blocks > 1 && (double)M * N * K >= EM_PARALLEL_WORK))
    for (int blk = 0; blk < blocks; ++blk) {
        const int i0 = blk * 64;
        em_gemm(EM_MIN(64, M - i0), N, K, x + (size_t)i0 * K, K, wt, N, y + (size_t)i0 * N, N);
    }
}
"""

_CONV = r"""
/* cols[(c * kh + i) * kw + j, oh * OW + ow] = x[c, oh * sh - ph + i * dh, ow * sw - pw + j * dw] (0 outside) */
static void em_im2col(const float *x, float *cols, int C, int H, int W, int kh, int kw, int sh, int sw, int dh,
                      int dw, int ph, int pw, int OH, int OW)
{
    for (int c = 0; c < C; ++c)
        for (int i = 0; i < kh; ++i)
            for (int j = 0; j < kw; ++j) {
                float *row = cols + (size_t)((c * kh + i) * kw + j) * OH * OW;
                for (int oh = 0; oh < OH; ++oh) {
                    const int ih = oh * sh - ph + i * dh;
                    float *out = row + (size_t)oh * OW;
                    if (ih < 0 || ih >= H) {
                        memset(out, 0, sizeof(float) * (size_t)OW);
                        continue;
                    }
                    const float *in = x + ((size_t)c * H + ih) * W;
                    for (int ow = 0; ow < OW; ++ow) {
                        const int iw = ow * sw - pw + j * dw;
                        out[ow] = iw >= 0 && iw < W ? in[iw] : 0.0f;
                    }
                }
            }
}

/* y[N, O, OH, OW] = conv2d(x[N, C, H, W], w[O, C / groups, kh, kw]) + b[O] (b may be NULL); cols: scratch of
   (C / groups) * kh * kw * OH * OW floats (unused by a 1x1 convolution of stride 1 without padding) */
static void em_conv2d(const float *x, const float *w, const float *b, float *y, float *cols, int N, int C, int H,
                      int W, int O, int kh, int kw, int sh, int sw, int dh, int dw, int ph, int pw, int OH, int OW,
                      int groups)
{
    const int Cg = C / groups, Og = O / groups, K = Cg * kh * kw, P = OH * OW;
    const int direct = kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
    for (int n = 0; n < N; ++n)
        for (int g = 0; g < groups; ++g) {
            const float *xg = x + ((size_t)n * C + (size_t)g * Cg) * H * W;
            float *yg = y + ((size_t)n * O + (size_t)g * Og) * P;
            for (int o = 0; o < Og; ++o) {
                const float v = b ? b[g * Og + o] : 0.0f;
                float *yo = yg + (size_t)o * P;
                for (int p = 0; p < P; ++p)
                    yo[p] = v;
            }
            if (!direct)
                em_im2col(xg, cols, Cg, H, W, kh, kw, sh, sw, dh, dw, ph, pw, OH, OW);
            em_gemm(Og, P, K, w + (size_t)g * Og * K, K, direct ? xg : cols, P, yg, P);
        }
}
"""

_MAXPOOL = r"""
/* y[P, OH, OW] = the max over each window of x[P, H, W] (P: batch * channels; padding never wins) */
static void em_maxpool2d(const float *x, float *y, int P, int H, int W, int kh, int kw, int sh, int sw, int dh,
                         int dw, int ph, int pw, int OH, int OW)
{
    for (int p = 0; p < P; ++p) {
        const float *xp = x + (size_t)p * H * W;
        float *yp = y + (size_t)p * OH * OW;
        for (int oh = 0; oh < OH; ++oh)
            for (int ow = 0; ow < OW; ++ow) {
                float m = -INFINITY;
                for (int i = 0; i < kh; ++i) {
                    const int ih = oh * sh - ph + i * dh;
                    if (ih < 0 || ih >= H)
                        continue;
                    for (int j = 0; j < kw; ++j) {
                        const int iw = ow * sw - pw + j * dw;
                        if (iw < 0 || iw >= W)
                            continue;
                        const float v = xp[(size_t)ih * W + iw];
                        if (v > m || v != v)
                            m = v;
                    }
                }
                yp[(size_t)oh * OW + ow] = m;
            }
    }
}
"""

_AXIS_MAP = r"""
/* y[o, i, r] = sum_t w[i, t] * x[o, idx[i, t], r] (w NULL: a gather, one tap): one axis of a resampling */
static void em_axis_map(const float *x, float *y, int outer, int n_in, int n_out, int inner, int taps,
                        const int *idx, const float *w)
{
    for (int o = 0; o < outer; ++o)
        for (int i = 0; i < n_out; ++i) {
            float *yr = y + ((size_t)o * n_out + i) * inner;
            for (int r = 0; r < inner; ++r)
                yr[r] = 0.0f;
            for (int t = 0; t < taps; ++t) {
                const float *xr = x + ((size_t)o * n_in + idx[i * taps + t]) * inner;
                const float f = w ? w[i * taps + t] : 1.0f;
                for (int r = 0; r < inner; ++r)
                    yr[r] += f * xr[r];
            }
        }
}
"""

_CHANNEL_AFFINE = r"""
/* y[n, c, r] = x[n, c, r] * scale[c] + shift[c]: batch normalisation with its running statistics */
static void em_channel_affine(const float *x, const float *scale, const float *shift, float *y, int N, int C, int R)
{
    for (int n = 0; n < N; ++n)
        for (int c = 0; c < C; ++c) {
            const float s = scale[c], t = shift[c];
            const float *xr = x + ((size_t)n * C + c) * R;
            float *yr = y + ((size_t)n * C + c) * R;
            for (int r = 0; r < R; ++r)
                yr[r] = xr[r] * s + t;
        }
}
"""

_ROW_NORM = r"""
/* each row of x[rows, n]: (x - mean) / sqrt(var + eps) * w + b (center 0: x / sqrt(mean(x^2) + eps) * w + b, as
   rms_norm); w and b may be NULL */
static void em_row_norm(const float *x, const float *w, const float *b, float *y, int rows, int n, float eps,
                        int center)
{
    for (int i = 0; i < rows; ++i) {
        const float *xr = x + (size_t)i * n;
        float *yr = y + (size_t)i * n;
        double s = 0.0, q = 0.0;
        if (center) {
            for (int j = 0; j < n; ++j)
                s += xr[j];
            s /= n;
        }
        for (int j = 0; j < n; ++j) {
            const double d = xr[j] - s;
            q += d * d;
        }
        const float mean = (float)s, rstd = (float)(1.0 / sqrt(q / n + eps));
        for (int j = 0; j < n; ++j) {
            float v = (xr[j] - mean) * rstd;
            if (w)
                v *= w[j];
            if (b)
                v += b[j];
            yr[j] = v;
        }
    }
}
"""

_SOFTMAX = r"""
/* softmax (log_softmax when log) of x[outer, n, inner] along n */
static void em_softmax(const float *x, float *y, int outer, int n, int inner, int log)
{
    for (int o = 0; o < outer; ++o)
        for (int r = 0; r < inner; ++r) {
            const float *xr = x + (size_t)o * n * inner + r;
            float *yr = y + (size_t)o * n * inner + r;
            float m = -INFINITY;
            for (int j = 0; j < n; ++j)
                m = xr[(size_t)j * inner] > m ? xr[(size_t)j * inner] : m;
            float total = 0.0f;
            for (int j = 0; j < n; ++j) {
                const float e = expf(xr[(size_t)j * inner] - m);
                total += e;
                if (!log)
                    yr[(size_t)j * inner] = e;
            }
            const float f = log ? logf(total) : 1.0f / total;
            for (int j = 0; j < n; ++j)
                yr[(size_t)j * inner] = log ? xr[(size_t)j * inner] - m - f : yr[(size_t)j * inner] * f;
        }
}
"""

_EMBEDDING = r"""
/* y[p, :] = table[idx[p], :] for the token ids idx (floats holding integers); 2 for an id outside [0, V) */
static int em_embedding(const float *table, const float *idx, float *y, int P, int V, int D)
{
    for (int p = 0; p < P; ++p) {
        const float f = idx[p];
        if (!(f >= 0.0f && f < (float)V) || f != (float)(int)f)
            return 2;
        memcpy(y + (size_t)p * D, table + (size_t)(int)f * D, sizeof(float) * (size_t)D);
    }
    return 0;
}
"""

_ATTENTION = r"""
/* One attention per group g = (b, h) of B x H: y[i, :] = softmax_j(q[i] . k[j] * scale + bias[i, j]) @ v[j, :]
   with the two products as matrix products. q, k, v and y are read and written through strides: element
   (b, h, i, e) of q is q[b * qs[0] + h * qs[1] + i * qs[2] + e] (likewise ks, vs, ys), so that the heads of a
   fused q/k/v projection are read where they are and the output is written in (B, L, H, Ev) order. bias: [L, S]
   per group, bias_stride apart, or NULL; causal: keys after the query are masked (top-left aligned, as PyTorch);
   a fully masked row gives zeros, as PyTorch. Scratch: kt (E x S) and p (L x S). */
static void em_attention(const float *q, const int *qs, const float *k, const int *ks, const float *v,
                         const int *vs, float *y, const int *ys, const float *bias, int bias_stride, float *kt,
                         float *p, int B, int H, int L, int S, int E, int Ev, float scale, int causal)
{
    for (int b = 0; b < B; ++b)
        for (int h = 0; h < H; ++h) {
            const int g = b * H + h;
            const float *qg = q + (size_t)b * qs[0] + (size_t)h * qs[1];
            const float *kg = k + (size_t)b * ks[0] + (size_t)h * ks[1];
            const float *vg = v + (size_t)b * vs[0] + (size_t)h * vs[1];
            float *yg = y + (size_t)b * ys[0] + (size_t)h * ys[1];
            const float *bg = bias ? bias + (size_t)g * bias_stride : NULL;
            for (int j = 0; j < S; ++j)
                for (int e = 0; e < E; ++e)
                    kt[(size_t)e * S + j] = kg[(size_t)j * ks[2] + e];
            memset(p, 0, sizeof(float) * (size_t)L * S);
            em_gemm(L, S, E, qg, qs[2], kt, S, p, S);
            for (int i = 0; i < L; ++i) {
                float *pi = p + (size_t)i * S;
                const int end = causal ? EM_MIN(S, i + 1) : S;
                float m = -INFINITY;
                for (int j = 0; j < end; ++j) {
                    float d = pi[j] * scale;
                    if (bg)
                        d += bg[(size_t)i * S + j];
                    pi[j] = d;
                    m = d > m ? d : m;
                }
                if (m == -INFINITY) {
                    memset(pi, 0, sizeof(float) * (size_t)S);
                } else {
                    float total = 0.0f;
                    for (int j = 0; j < end; ++j) {
                        pi[j] = expf(pi[j] - m);
                        total += pi[j];
                    }
                    const float r = 1.0f / total;
                    for (int j = 0; j < end; ++j)
                        pi[j] *= r;
                    for (int j = end; j < S; ++j)
                        pi[j] = 0.0f;
                }
                float *yi = yg + (size_t)i * ys[2];
                for (int e = 0; e < Ev; ++e)
                    yi[e] = 0.0f;
            }
            em_gemm(L, Ev, S, p, S, vg, vs[2], yg, ys[2]);
        }
}
"""

_COPY = r"""
/* dst (contiguous, shape[ndim]) = src read with strides[ndim] (in elements): permutes, pieces of splits */
static void em_copy_strided(float *dst, const float *src, int ndim, const int *shape, const int *strides)
{
    int idx[8] = {0};
    size_t rows = 1;
    for (int d = 0; d < ndim - 1; ++d)
        rows *= (size_t)shape[d];
    const int inner = shape[ndim - 1], step = strides[ndim - 1];
    for (size_t r = 0; r < rows; ++r) {
        ptrdiff_t off = 0;
        for (int d = 0; d < ndim - 1; ++d)
            off += (ptrdiff_t)idx[d] * strides[d];
        const float *s = src + off;
        for (int c = 0; c < inner; ++c)
            dst[c] = s[(ptrdiff_t)c * step];
        dst += inner;
        for (int d = ndim - 2; d >= 0; --d) {
            if (++idx[d] < shape[d])
                break;
            idx[d] = 0;
        }
    }
}
"""

HELPERS = {"axpy": _AXPY, "gemm": _GEMM, "linear": _LINEAR, "conv2d": _CONV, "maxpool2d": _MAXPOOL,
           "axis_map": _AXIS_MAP, "channel_affine": _CHANNEL_AFFINE, "row_norm": _ROW_NORM, "softmax": _SOFTMAX,
           "embedding": _EMBEDDING, "attention": _ATTENTION, "copy_strided": _COPY}
NEEDS = {"gemm": ("axpy",), "linear": ("gemm",), "conv2d": ("gemm",), "attention": ("gemm",)}
_ORDER = list(HELPERS)


def helper_source(names):
    """The C source of the named helpers and of those they call, in dependency order."""
    wanted, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(NEEDS.get(name, ()))
    return "".join(HELPERS[n] for n in _ORDER if n in wanted)
