"""Channels-last float32 convolutions in C (oneDNN's layout idea without its JIT). The input is copied once into
zero-padded (N, HP, WP, C) planes (or read in place when it is channels-last already and needs no zeros), so every
output position reads, for each kernel position, C consecutive values at a fixed offset from its own place; the
outputs' channels are the vectors. The forward keeps P positions by V vectors of 16 output channels in registers and
adds, for each kernel position and input channel, V weight loads times P inputs (broadcast); any stride and dilation
read the same way (positions are walked, each with its own place), and no junk positions are computed, which the
position-vector kernels of ``c_direct`` pay on small maps (20-25% on 8x8). With 16 channels (one vector), 16
positions of a row a constant step apart are a tile (no place per position to keep in registers). Where the kernel's
positions are rows of 3 one position apart (stride 1) and the outputs are one vector of channels (from 16 input
channels) or two, a row's inputs slide under the kernel: each is broadcast once for the 3 outputs it reaches (the
input gradient's kernel positions go in that order too). The weight gradient adds over chunks of positions, keeping
3 kernel positions by 8 output channels of vectors of 16 input channels where the channels and kernel positions
allow (each product's gradient value broadcast once for three: 11 loads for 24 multiply-adds), else R input channels
by V vectors of output channels (a vector loaded and R inputs broadcast for R x V: with 16 output channels, 17 loads
for 16; the same products and sums); the input gradient is the forward on the padded output gradient, once per phase
of the input (the positions with the same remainders by the strides, which the same kernel positions reach), so
strided ones need no scatter-add.

Used where the vectors fill: a multiple of 16 output channels (forward), of 16 input channels (input gradient),
of 16 output channels by 4-16 input channels, or of 8 output by 16 input channels with kernel positions in threes
(weight gradient); the others keep ``c_direct`` or im2col. The layout is internal: operands and results are
(N, C, H, W) arrays, C-contiguous or channels-last views (see ``passes.layout``), transposed while padding and
after where they are not channels-last.
"""
import ctypes

import numpy as np

from ..ops import _threads

__all__ = ["BODY", "ChannelsLastConv", "VECTORS", "as_channels_last", "fills_vectors", "is_channels_last"]

# the vector types of this module's C and c_direct's (each its own library: they compile at once)
VECTORS = r"""
#ifndef EM_VECTORS
#define EM_VECTORS
typedef float em_v16 __attribute__((vector_size(64)));
typedef float em_v16u __attribute__((vector_size(64), aligned(4)));

/* keeps a loaded vector in a register: without it GCC folds the (unaligned) load into each multiply-add using it
   (only where a vector of 16 floats is one register: elsewhere the constraint is impossible, an error) */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__AVX512F__)
#define EM_IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define EM_IN_REGISTER(v) (void)0
#endif
#endif
"""

BODY = VECTORS + r"""
#include <string.h>

EM_FUSED_MULTIPLY_ADDS

/* g: positions (n, u, v) over N x U x V; position q reads in + n*IN + u*IU + v*IV and writes out + n*ON + u*OU +
   v*OV; KK kernel positions at the input offsets g[Q_OFF + k]; C input channels, O output channels */
enum { Q_N, Q_U, Q_V, Q_IN, Q_IU, Q_IV, Q_ON, Q_OU, Q_OV, Q_KK, Q_C, Q_O, Q_OFF };

/* a walk over the positions from q: its (n, u, v) and input and output places */
typedef struct { int64_t n, u, v; const float *in, *out; } em_cl_walk;

static inline em_cl_walk em_cl_start(const int64_t *g, int64_t q, const float *in, const float *out)
{
    em_cl_walk w;
    w.v = q % g[Q_V];
    w.u = q / g[Q_V] % g[Q_U];
    w.n = q / g[Q_V] / g[Q_U];
    w.in = in + w.n * g[Q_IN] + w.u * g[Q_IU] + w.v * g[Q_IV];
    w.out = out + w.n * g[Q_ON] + w.u * g[Q_OU] + w.v * g[Q_OV];
    return w;
}

/* the next position (no division: they cost as much as a 1x1 kernel's multiply-adds of a position) */
static inline void em_cl_step(const int64_t *g, em_cl_walk *w)
{
    if (++w->v < g[Q_V]) {
        w->in += g[Q_IV];
        w->out += g[Q_OV];
        return;
    }
    w->v = 0;
    if (++w->u < g[Q_U]) {
        w->in += g[Q_IU] - (g[Q_V] - 1) * g[Q_IV];
        w->out += g[Q_OU] - (g[Q_V] - 1) * g[Q_OV];
        return;
    }
    w->u = 0;
    ++w->n;
    w->in += g[Q_IN] - (g[Q_U] - 1) * g[Q_IU] - (g[Q_V] - 1) * g[Q_IV];
    w->out += g[Q_ON] - (g[Q_U] - 1) * g[Q_OU] - (g[Q_V] - 1) * g[Q_OV];
}

/* P positions x V vectors of output channels [o, o + 16 V): wp (KK, C, 16 V) */
#define EM_CL_TILE(P, V)                                                                                        \
static void em_cl_tile_##P##_##V(int64_t KK, const int64_t *off, int64_t C, const float *const *ip,            \
                                 const float *wp, const float *bias, const float *const *op, int64_t o, int np) \
{                                                                                                               \
    em_v16 acc[P][V];                                                                                           \
    for (int v = 0; v < V; ++v) {                                                                               \
        const em_v16 b = bias ? *(const em_v16u *)(bias + 16 * v) : (em_v16){0};                               \
        for (int p = 0; p < P; ++p)                                                                             \
            acc[p][v] = b;                                                                                      \
    }                                                                                                           \
    for (int64_t k = 0; k < KK; ++k) {                                                                          \
        const float *xs[P];                                                                                     \
        for (int p = 0; p < P; ++p)                                                                             \
            xs[p] = ip[p] + off[k];                                                                             \
        const float *w = wp + k * C * 16 * V;                                                                   \
        for (int64_t c = 0; c < C; ++c) {                                                                       \
            em_v16 wv[V];                                                                                       \
            for (int v = 0; v < V; ++v)                                                                         \
                wv[v] = *(const em_v16u *)(w + (c * V + v) * 16);                                               \
            for (int p = 0; p < P; ++p) {                                                                       \
                const float b = xs[p][c];                                                                       \
                for (int v = 0; v < V; ++v)                                                                     \
                    acc[p][v] += b * wv[v];                                                                     \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
    for (int p = 0; p < np; ++p)                                                                                \
        for (int v = 0; v < V; ++v)                                                                             \
            *(em_v16u *)(op[p] + o + 16 * v) = acc[p][v];                                                       \
}

EM_CL_TILE(7, 4)
EM_CL_TILE(14, 2)
EM_CL_TILE(16, 1)

typedef void (*em_cl_tile)(int64_t, const int64_t *, int64_t, const float *const *, const float *, const float *,
                           const float *const *, int64_t, int);

/* out at the positions [q0, q1) of g = the products of in with wp (O / (16 V), KK, C, 16 V), plus bias (O) or
   NULL; tile 0: V = 4 (O a multiple of 64), 1: V = 2 (of 32) */
void em_cl_conv_f32(const int64_t *g, int64_t tile, int64_t q0, int64_t q1, const float *in, const float *wp,
                    const float *bias, float *out)
{
    static const em_cl_tile tiles[] = {em_cl_tile_7_4, em_cl_tile_14_2, em_cl_tile_16_1};
    static const int ps[] = {7, 14, 16}, vs[] = {4, 2, 1};
    const em_cl_tile fn = tiles[tile];
    const int P = ps[tile];
    const int64_t KK = g[Q_KK], C = g[Q_C], O = g[Q_O], step = 16 * vs[tile];
    const float *ip[16], *op[16];
    if (q0 >= q1)
        return;
    em_cl_walk w = em_cl_start(g, q0, in, out);
    for (int64_t q = q0; q < q1; q += P) {
        const int np = q1 - q < P ? (int)(q1 - q) : P;
        for (int p = 0; p < P; ++p) {  /* the positions past q1 read and compute the first one's (not written) */
            ip[p] = p < np ? w.in : ip[0];
            op[p] = p < np ? w.out : op[0];
            if (p < np)
                em_cl_step(g, &w);
        }
        for (int64_t o = 0; o < O; o += step)
            fn(KK, g + Q_OFF, C, ip, wp + o * KK * C, bias ? bias + o : 0, op, o, np);
    }
}

/* the 16 accumulators of a row of positions, each the bias (16 floats) or zeros */
static inline void em_cl_acc_bias(em_v16 *acc, const float *bias)
{
    const em_v16 b = bias ? *(const em_v16u *)bias : (em_v16){0};
    for (int p = 0; p < 16; ++p)
        acc[p] = b;
}

/* 16 positions of one row, IV floats apart (a constant: no pointer per position), x one vector of output
   channels [o, o + 16): wp (KK, C, 16) */
#define EM_CL_ROW(IV)                                                                                           \
static void em_cl_row_##IV(int64_t KK, const int64_t *off, int64_t C, const float *x0, const float *wp,        \
                           const float *bias, float *o0, int64_t ov, int np)                                   \
{                                                                                                               \
    em_v16 acc[16];                                                                                             \
    em_cl_acc_bias(acc, bias);                                                                                  \
    for (int64_t k = 0; k < KK; ++k) {                                                                          \
        const float *xs = x0 + off[k], *w = wp + k * C * 16;                                                   \
        for (int64_t c = 0; c < C; ++c) {                                                                       \
            const em_v16 wv = *(const em_v16u *)(w + c * 16);                                                   \
            for (int p = 0; p < 16; ++p)                                                                        \
                acc[p] += xs[p * IV + c] * wv;                                                                  \
        }                                                                                                       \
    }                                                                                                           \
    for (int p = 0; p < np; ++p)                                                                                \
        *(em_v16u *)(o0 + p * ov) = acc[p];                                                                     \
}

EM_CL_ROW(1)
EM_CL_ROW(3)
EM_CL_ROW(16)
EM_CL_ROW(32)

/* as em_cl_row_16, for kernels whose positions are rows of 3 one position apart (stride and dilation 1 along the
   rows): each input of a kernel row is read once for the 3 outputs it reaches (18 broadcasts for 48 multiply-adds
   where em_cl_row reads 16 for 16); the sums of a kernel row's 3 positions go input channel by channel (only for
   16 input channels: ones for images of 1 or 3 compiled 0.2 or 0.1 s longer) */
static void em_cl_slide_16(int64_t KK, const int64_t *off, int64_t C, const float *x0, const float *wp,
                           const float *bias, float *o0, int64_t ov, int np)
{
    em_v16 acc[16];
    em_cl_acc_bias(acc, bias);
    for (int64_t r = 0; r < KK; r += 3) {
        const float *xs = x0 + off[r], *w = wp + r * C * 16;
        for (int64_t c = 0; c < C; ++c) {
            em_v16 w0 = *(const em_v16u *)(w + c * 16), w1 = *(const em_v16u *)(w + (C + c) * 16),
                   w2 = *(const em_v16u *)(w + (2 * C + c) * 16);
            EM_IN_REGISTER(w0);
            EM_IN_REGISTER(w1);
            EM_IN_REGISTER(w2);
            _Pragma("GCC unroll 18")
            for (int j = 0; j < 18; ++j) {
                em_v16 x = xs[j * 16 + c] - (em_v16){0};  /* (x - 0 is x: a broadcast load) */
                EM_IN_REGISTER(x);
                if (j < 16)
                    acc[j] += x * w0;
                if (j >= 1 && j < 17)
                    acc[j - 1] += x * w1;
                if (j >= 2)
                    acc[j - 2] += x * w2;
            }
        }
    }
    for (int p = 0; p < np; ++p)
        *(em_v16u *)(o0 + p * ov) = acc[p];
}

/* as em_cl_conv_f32 for 16 output channels a vector, the positions [q0, q1) whole rows of g, 16 of a row at a
   time, IV (the input's step between positions) 1, 3, 16 or 32 (images of one or three channels, and 16 or 32
   channels at stride 1 or 2); with slide (IV 16, kernel rows of 3 positions one apart), em_cl_slide_16 */
void em_cl_conv_rows_f32(const int64_t *g, int64_t q0, int64_t q1, const float *in, const float *wp,
                         const float *bias, float *out, int slide)
{
    const int64_t KK = g[Q_KK], C = g[Q_C], O = g[Q_O], V = g[Q_V], IV = g[Q_IV], *off = g + Q_OFF;
    if (q0 >= q1)
        return;
    em_cl_walk w = em_cl_start(g, q0, in, out);
    for (int64_t q = q0; q < q1; q += V) {  /* a row */
        for (int64_t v = 0; v < V; v += 16) {
            const int np = V - v < 16 ? (int)(V - v) : 16;
            const float *x0 = w.in + v * g[Q_IV];
            float *o0 = (float *)w.out + v * g[Q_OV];
            if (np < 16) {  /* a row's tail: a place per position (the first one's past np, not written) */
                const float *ip[16], *op[16];
                for (int p = 0; p < 16; ++p) {
                    ip[p] = x0 + (p < np ? p : 0) * g[Q_IV];
                    op[p] = o0 + (p < np ? p : 0) * g[Q_OV];
                }
                for (int64_t o = 0; o < O; o += 16)
                    em_cl_tile_16_1(KK, off, C, ip, wp + o * KK * C, bias ? bias + o : 0, op, o, np);
                continue;
            }
            for (int64_t o = 0; o < O; o += 16) {
                const float *wo = wp + o * KK * C, *bo = bias ? bias + o : 0;
                if (slide) {
                    em_cl_slide_16(KK, off, C, x0, wo, bo, o0 + o, g[Q_OV], np);
                    continue;
                }
                switch (IV) {
                case 1: em_cl_row_1(KK, off, C, x0, wo, bo, o0 + o, g[Q_OV], np); break;
                case 3: em_cl_row_3(KK, off, C, x0, wo, bo, o0 + o, g[Q_OV], np); break;
                case 16: em_cl_row_16(KK, off, C, x0, wo, bo, o0 + o, g[Q_OV], np); break;
                default: em_cl_row_32(KK, off, C, x0, wo, bo, o0 + o, g[Q_OV], np);
                }
            }
        }
        for (int64_t v = 0; v < V; ++v)
            em_cl_step(g, &w);
    }
}

/* as em_cl_slide_16 for 8 positions (IV floats apart) x 2 vectors of output channels [o, o + 32): wp (KK, C, 32);
   each input broadcast once for 6 multiply-adds (10 broadcasts and 6 weight loads for 48, where em_cl_tile_14_2
   reads 14 and 2 for 28) */
static void em_cl_slide2(int64_t KK, const int64_t *off, int64_t C, int64_t IV, const float *x0, const float *wp,
                         const float *bias, float *o0, int64_t ov, int np)
{
    em_v16 acc[8][2];
    for (int v = 0; v < 2; ++v) {
        const em_v16 b = bias ? *(const em_v16u *)(bias + 16 * v) : (em_v16){0};
        for (int p = 0; p < 8; ++p)
            acc[p][v] = b;
    }
    for (int64_t r = 0; r < KK; r += 3) {
        const float *xs = x0 + off[r], *w = wp + r * C * 32;
        for (int64_t c = 0; c < C; ++c) {
            em_v16 wv[3][2];
            for (int t = 0; t < 3; ++t)
                for (int v = 0; v < 2; ++v) {
                    wv[t][v] = *(const em_v16u *)(w + (t * C + c) * 32 + 16 * v);
                    EM_IN_REGISTER(wv[t][v]);
                }
            _Pragma("GCC unroll 10")
            for (int j = 0; j < 10; ++j) {
                em_v16 x = xs[j * IV + c] - (em_v16){0};  /* (x - 0 is x: a broadcast load) */
                EM_IN_REGISTER(x);
                for (int t = 0; t < 3; ++t)
                    if (j - t >= 0 && j - t < 8)
                        for (int v = 0; v < 2; ++v)
                            acc[j - t][v] += x * wv[t][v];
            }
        }
    }
    for (int p = 0; p < np; ++p)
        for (int v = 0; v < 2; ++v)
            *(em_v16u *)(o0 + p * ov + 16 * v) = acc[p][v];
}

/* as em_cl_conv_f32 with tile 1 (O a multiple of 32) for kernels whose positions are rows of 3 one position
   apart (em_cl_slide2), the positions [q0, q1) whole rows of g, 8 of a row at a time */
void em_cl_conv_slide2_f32(const int64_t *g, int64_t q0, int64_t q1, const float *in, const float *wp,
                           const float *bias, float *out)
{
    const int64_t KK = g[Q_KK], C = g[Q_C], O = g[Q_O], V = g[Q_V], IV = g[Q_IV], *off = g + Q_OFF;
    if (q0 >= q1)
        return;
    em_cl_walk w = em_cl_start(g, q0, in, out);
    for (int64_t q = q0; q < q1; q += V) {  /* a row */
        for (int64_t v = 0; v < V; v += 8) {
            const int np = V - v < 8 ? (int)(V - v) : 8;
            const float *x0 = w.in + v * IV;
            float *o0 = (float *)w.out + v * g[Q_OV];
            for (int64_t o = 0; o < O; o += 32) {
                const float *wo = wp + o * KK * C, *bo = bias ? bias + o : 0;
                if (np == 8) {
                    em_cl_slide2(KK, off, C, IV, x0, wo, bo, o0 + o, g[Q_OV], np);
                    continue;
                }
                const float *ip[14], *op[14];  /* a row's tail: a place per position (the first one's past np) */
                for (int p = 0; p < 14; ++p) {
                    ip[p] = x0 + (p < np ? p : 0) * IV;
                    op[p] = o0 + (p < np ? p : 0) * g[Q_OV];
                }
                em_cl_tile_14_2(KK, off, C, ip, wo, bo, op, o, np);
            }
        }
        for (int64_t v = 0; v < V; ++v)
            em_cl_step(g, &w);
    }
}

/* R input channels at ip[q] + at x V vectors of output channels [o, o + 16 V) of gp[q], summed over the m
   positions and added to acc (R, O) */
#define EM_CL_WTILE(R, V)                                                                                       \
static void em_cl_wtile_##R##_##V(int64_t m, const float *const *ip, const float *const *gp, int64_t at,       \
                                  int64_t o, int64_t O, float *restrict acc)                                    \
{                                                                                                               \
    em_v16 s[R][V];                                                                                             \
    for (int r = 0; r < R; ++r)                                                                                 \
        for (int v = 0; v < V; ++v)                                                                             \
            s[r][v] = (em_v16){0};                                                                              \
    for (int64_t q = 0; q < m; ++q) {                                                                           \
        const float *x = ip[q] + at;                                                                            \
        em_v16 gv[V];                                                                                           \
        for (int v = 0; v < V; ++v)                                                                             \
            gv[v] = *(const em_v16u *)(gp[q] + o + 16 * v);                                                     \
        for (int r = 0; r < R; ++r) {                                                                           \
            const float b = x[r];                                                                               \
            for (int v = 0; v < V; ++v)                                                                         \
                s[r][v] += b * gv[v];                                                                           \
        }                                                                                                       \
    }                                                                                                           \
    for (int r = 0; r < R; ++r)                                                                                 \
        for (int v = 0; v < V; ++v)                                                                             \
            *(em_v16u *)(acc + r * O + o + 16 * v) += s[r][v];                                                  \
}

EM_CL_WTILE(4, 4)
EM_CL_WTILE(8, 2)
EM_CL_WTILE(16, 1)
EM_CL_WTILE(4, 1)

typedef void (*em_cl_wtile)(int64_t, const float *const *, const float *const *, int64_t, int64_t, int64_t,
                            float *restrict);

/* 3 kernel positions (input offsets off[0..2]) x 8 output channels [o, o + 8): vectors of the 16 input channels
   [c, c + 16) at ip[q] + off[t] times gp[q][o + b] (broadcast), summed over the m positions and added to acc (KK,
   O, C) from kernel position off's: the products and sums of em_cl_wtile's, with 11 loads for 24 multiply-adds
   where those load a vector and broadcast R inputs for R x V (16 output channels: 17 for 16) */
static void em_cl_wtaps(int64_t m, const float *const *ip, const float *const *gp, const int64_t *off, int64_t c,
                        int64_t o, int64_t O, int64_t C, float *restrict acc)
{
    em_v16 s[3][8];
    for (int t = 0; t < 3; ++t)
        for (int b = 0; b < 8; ++b)
            s[t][b] = (em_v16){0};
    for (int64_t q = 0; q < m; ++q) {
        const float *x = ip[q] + c, *gq = gp[q] + o;
        em_v16 xv[3];
        for (int t = 0; t < 3; ++t) {
            xv[t] = *(const em_v16u *)(x + off[t]);
            EM_IN_REGISTER(xv[t]);
        }
        for (int b = 0; b < 8; ++b) {
            em_v16 gv = gq[b] - (em_v16){0};  /* (x - 0 is x: a broadcast load) */
            EM_IN_REGISTER(gv);
            for (int t = 0; t < 3; ++t)
                s[t][b] += xv[t] * gv;
        }
    }
    for (int t = 0; t < 3; ++t)
        for (int b = 0; b < 8; ++b)
            *(em_v16u *)(acc + (t * O + o + b) * C + c) += s[t][b];
}

/* Positions a chunk of the weight gradient, whose inputs and gradients ((C + O) floats each) stay in L1 while every
   tile adds over them: 8192 / (C + O), 32 to EM_CL_CHUNK (on the Intel Xeon of step 14: 64x64 channels at 8x8
   1.02 -> 0.90 ms with 64 positions against 256, 32x32 at 16x16 0.79 -> 0.71 with 128; 16x16 flat) */
enum { EM_CL_CHUNK = 256 };

static inline int64_t em_cl_chunk(int64_t C, int64_t O)
{
    const int64_t m = 8192 / (C + O);
    return m < 32 ? 32 : m > EM_CL_CHUNK ? EM_CL_CHUNK : m;
}

/* acc (KK, C, O) += the weight gradient's sums over the positions [q0, q1) of g: the inputs of in times the output
   gradients of gy (read at each position's output place); tile 0: (R, V) = (4, 4), 1: (8, 2), 2: (16, 1), 3:
   (4, 1) (C a multiple of R, O of 16 V); tile 4: em_cl_wtaps, acc (KK, O, C) (KK a multiple of 3, C of 16, O of
   8) */
void em_cl_weight_f32(const int64_t *g, int64_t tile, int64_t q0, int64_t q1, const float *in, const float *gy,
                      float *acc)
{
    static const em_cl_wtile tiles[] = {em_cl_wtile_4_4, em_cl_wtile_8_2, em_cl_wtile_16_1, em_cl_wtile_4_1, NULL};
    static const int rs[] = {4, 8, 16, 4, 16}, vs[] = {4, 2, 1, 1, 1};
    const em_cl_wtile fn = tiles[tile];
    const int64_t KK = g[Q_KK], C = g[Q_C], O = g[Q_O], R = rs[tile], step = 16 * vs[tile], chunk = em_cl_chunk(C, O);
    const float *ip[EM_CL_CHUNK], *gp[EM_CL_CHUNK];
    if (q0 >= q1)
        return;
    em_cl_walk w = em_cl_start(g, q0, in, gy);
    for (int64_t q = q0; q < q1; q += chunk) {
        const int64_t m = q1 - q < chunk ? q1 - q : chunk;
        for (int64_t j = 0; j < m; ++j) {
            ip[j] = w.in;
            gp[j] = w.out;
            em_cl_step(g, &w);
        }
        if (tile == 4) {
            for (int64_t k = 0; k < KK; k += 3)
                for (int64_t c = 0; c < C; c += 16)
                    for (int64_t o = 0; o < O; o += 8)
                        em_cl_wtaps(m, ip, gp, g + Q_OFF + k, c, o, O, C, acc + k * O * C);
            continue;
        }
        for (int64_t k = 0; k < KK; ++k)
            for (int64_t c = 0; c < C; c += R)
                for (int64_t o = 0; o < O; o += step)
                    fn(m, ip, gp, g[Q_OFF + k] + c, o, O, acc + (k * C + c) * O);
    }
}

EM_END_FUSED_MULTIPLY_ADDS

/* the images [n0, n1) of x (N, C, H, W) into zero-padded channels-last planes dst (N, HP, WP, CP), CP >= C (the
   channels past C zero): image row i at row i + lh, column j at column j + lw (what falls outside is cropped) */
void em_cl_pad_f32(const float *x, int64_t n0, int64_t n1, int64_t C, int64_t H, int64_t W, int64_t lh,
                   int64_t HP, int64_t lw, int64_t WP, int64_t CP, float *dst)
{
    const int64_t j0 = lw < 0 ? -lw : 0, j1 = W < WP - lw ? W : WP - lw;
    for (int64_t n = n0; n < n1; ++n)
        for (int64_t r = 0; r < HP; ++r) {
            float *restrict d = dst + (n * HP + r) * WP * CP;
            const int64_t i = r - lh;
            if (i < 0 || i >= H || j0 >= j1 || CP > C) {
                memset(d, 0, WP * CP * sizeof(float));
                if (i < 0 || i >= H || j0 >= j1)
                    continue;
            } else {
                memset(d, 0, (j0 + lw) * CP * sizeof(float));
                memset(d + (j1 + lw) * CP, 0, (WP - j1 - lw) * CP * sizeof(float));
            }
            const float *restrict s = x + (n * C * H + i) * W;
            for (int64_t c = 0; c < C; ++c)
                for (int64_t j = j0; j < j1; ++j)
                    d[(j + lw) * CP + c] = s[c * H * W + j];
        }
}

/* the images [n0, n1) of the channels-last x (N, H, W, C) into zero-padded planes dst (N, HP, WP, C), as
   em_cl_pad_f32 */
void em_cl_pad_nhwc_f32(const float *x, int64_t n0, int64_t n1, int64_t C, int64_t H, int64_t W, int64_t lh,
                        int64_t HP, int64_t lw, int64_t WP, float *dst)
{
    const int64_t j0 = lw < 0 ? -lw : 0, j1 = W < WP - lw ? W : WP - lw;
    for (int64_t n = n0; n < n1; ++n)
        for (int64_t r = 0; r < HP; ++r) {
            float *restrict d = dst + (n * HP + r) * WP * C;
            const int64_t i = r - lh;
            if (i < 0 || i >= H || j0 >= j1) {
                memset(d, 0, WP * C * sizeof(float));
                continue;
            }
            memset(d, 0, (j0 + lw) * C * sizeof(float));
            memset(d + (j1 + lw) * C, 0, (WP - j1 - lw) * C * sizeof(float));
            memcpy(d + (j0 + lw) * C, x + ((n * H + i) * W + j0) * C, (j1 - j0) * C * sizeof(float));
        }
}

/* the images [n0, n1) of the channels-last src (N, P, C) as dst (N, C, P) */
void em_cl_unpack_f32(const float *src, int64_t n0, int64_t n1, int64_t P, int64_t C, float *dst)
{
    for (int64_t n = n0; n < n1; ++n)
        for (int64_t p0 = 0; p0 < P; p0 += 16) {
            const int64_t p1 = P < p0 + 16 ? P : p0 + 16;
            for (int64_t c = 0; c < C; ++c) {
                float *restrict d = dst + (n * C + c) * P;
                const float *restrict s = src + n * P * C + c;
                for (int64_t p = p0; p < p1; ++p)
                    d[p] = s[p * C];
            }
        }
}
/* a block program: steps of EM_CL_STEP int64s, {kind, arguments} (pointers as integers), each run for the
   images [n0, n1) of a block b: the padding copies, products and unpacking of ChannelsLastConv */
enum { EM_CL_PAD, EM_CL_PAD_NHWC, EM_CL_CONV, EM_CL_CONV_ROWS, EM_CL_UNPACK, EM_CL_WEIGHT, EM_CL_CONV_SLIDE2,
       EM_CL_STEP = 12 };

static void em_cl_run_step(const int64_t *s, int64_t n0, int64_t n1, int64_t b)
{
#define EM_CL_P(i) ((void *)(intptr_t)s[i])
    switch (s[0]) {
    case EM_CL_PAD:  /* x, C, H, W, lh, HP, lw, WP, CP, dst */
        em_cl_pad_f32(EM_CL_P(1), n0, n1, s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], EM_CL_P(10));
        break;
    case EM_CL_PAD_NHWC:  /* x, C, H, W, lh, HP, lw, WP, dst */
        em_cl_pad_nhwc_f32(EM_CL_P(1), n0, n1, s[2], s[3], s[4], s[5], s[6], s[7], s[8], EM_CL_P(9));
        break;
    case EM_CL_CONV:  /* g, tile, positions an image, in, wp, bias, out */
        em_cl_conv_f32(EM_CL_P(1), s[2], n0 * s[3], n1 * s[3], EM_CL_P(4), EM_CL_P(5), EM_CL_P(6), EM_CL_P(7));
        break;
    case EM_CL_CONV_ROWS:  /* g, positions an image, in, wp, bias, out, slide */
        em_cl_conv_rows_f32(EM_CL_P(1), n0 * s[2], n1 * s[2], EM_CL_P(3), EM_CL_P(4), EM_CL_P(5), EM_CL_P(6),
                            (int)s[7]);
        break;
    case EM_CL_UNPACK:  /* src, P, C, dst */
        em_cl_unpack_f32(EM_CL_P(1), n0, n1, s[2], s[3], EM_CL_P(4));
        break;
    case EM_CL_CONV_SLIDE2:  /* g, positions an image, in, wp, bias, out */
        em_cl_conv_slide2_f32(EM_CL_P(1), n0 * s[2], n1 * s[2], EM_CL_P(3), EM_CL_P(4), EM_CL_P(5), EM_CL_P(6));
        break;
    default:  /* EM_CL_WEIGHT: g, tile, positions an image, in, gy, acc, a block's acc size (each block its own) */
        em_cl_weight_f32(EM_CL_P(1), s[2], n0 * s[3], n1 * s[3], EM_CL_P(4), EM_CL_P(5),
                         (float *)EM_CL_P(6) + b * s[7]);
    }
#undef EM_CL_P
}

/* the steps of prog for each block of nb of the n images, blocks taken by `threads` OpenMP threads as they come
   (a thread that starts late takes fewer; a team that has just run spins, so the next op wakes it in a few
   microseconds where a Python thread pool's hand-over took ~100) */
void em_cl_blocks_f32(const int64_t *prog, int64_t steps, int64_t n, int64_t nb, int threads)
{
    const int64_t blocks = (n + nb - 1) / nb;
    EM_OMP(parallel for schedule(dynamic, 1) num_threads(threads) if(threads > 1))
    for (int64_t b = 0; b < blocks; ++b)
        for (int64_t i = 0; i < steps; ++i)
            em_cl_run_step(prog + i * EM_CL_STEP, b * nb, (b + 1) * nb < n ? (b + 1) * nb : n, b);
}
"""

_FORWARD_TILES = {64: 0, 32: 1, 16: 2}  # output channels a multiple of: em_cl_conv_f32's tile (2: rows of 16)
# (output channels, input channels) multiples: em_cl_weight_f32's tile (the first that fits; on the Intel Xeon of
# step 12, (8, 2) before (4, 4): resnet_small's step 2% faster)
_WEIGHT_TILES = ((32, 8, 1), (64, 4, 0), (16, 16, 2), (16, 4, 3))
# multiply-adds from which an op runs on the OpenMP team (as c_direct's; 1 << 23 when splits went through a Python
# pool: resnet_small's 1x1 stride-2 convolutions, 4 M, then ran slower on two threads, now 1.7-2x faster)
_SPLIT_MIN = 1 << 21
_BLOCKS = 8  # blocks of images of an op (see _block)
# and of a weight gradient, each block's sums an array of its own added up after (on the Intel Xeon of step 14,
# batch 32 on two threads: 64x64 channels at 8x8 0.91 -> 0.82 ms with 4 blocks, 32x32 at 16x16 0.69 -> 0.66)
_WEIGHT_BLOCKS = 4
_STEP = 12  # int64s of a block program's step (EM_CL_STEP); its kinds:
_PAD, _PAD_NHWC, _CONV, _CONV_ROWS, _UNPACK, _WEIGHT, _CONV_SLIDE2 = range(7)


def fills_vectors(channels):
    """Whether a product of this many channels (a convolution's output channels, an input gradient's input
    channels) runs channels-last."""
    return _forward_tile(channels) is not None


def _forward_tile(o):
    """em_cl_conv_f32's tile for o output channels (2: 16 positions by one vector)."""
    return next((t for m, t in _FORWARD_TILES.items() if o % m == 0), None)


def _weight_tile(c, o, kk, channels_last):
    """em_cl_weight_f32's tile for c input and o output channels and kk kernel positions: 4 (em_cl_wtaps) for
    kernel positions in threes, else the first whose multiples they are, or for 16 output channels and input
    channels other than a multiple of 4 (an image's three), tile 3 on channels padded with zeros (not for a
    channels-last input, read in place)."""
    if kk % 3 == 0 and c % 16 == 0 and o % 8 == 0:
        return 4
    t = next((t for mo, mc, t in _WEIGHT_TILES if o % mo == 0 and c % mc == 0), None)
    return 3 if t is None and o % 16 == 0 and not channels_last else t


def is_channels_last(a):
    """Whether a (N, C, H, W) array is a transposed view of C-contiguous (N, H, W, C) memory (and not C-contiguous
    itself: one channel, or 1x1 images, count as (N, C, H, W))."""
    return (a.ndim == 4 and not a.flags.c_contiguous and a.flags.aligned
            and a.transpose(0, 2, 3, 1).flags.c_contiguous)


def as_channels_last(a):
    """a (N, C, H, W) channels-last: itself where it is, else a channels-last copy."""
    return a if is_channels_last(a) else np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _planes(n, hp, wp, c):
    """An uninitialised (N, HP, WP, C) float32 array followed by 16 zeros (a tile's reads past the last position's
    channels stay inside): (flat array, planes)."""
    flat = np.empty(n * hp * wp * c + 16, np.float32)
    flat[-16:] = 0
    return flat, flat[:-16].reshape(n, hp, wp, c)


def _positions(n, u, v, ins, outs, kk, c, o, off):
    """The int64 geometry g of em_cl_*: positions (n, u, v), their input and output strides, the kernel offsets."""
    return np.array([n, u, v, *ins, *outs, kk, c, o, *off], np.int64)


def _slides(g):
    """Whether the kernel positions of geometry g are rows of 3 one position apart (stride and dilation 1 along
    the rows: the inputs of a row of outputs slide under them)."""
    kk, step, off = g[9], g[5], g[12:]  # Q_KK, Q_IV, Q_OFF
    return kk % 3 == 0 and all(off[r + 1] - off[r] == step and off[r + 2] - off[r + 1] == step
                               for r in range(0, kk, 3))


def _panel(w_kco, v):
    """Weights (KK, C, O) as em_cl_conv_f32's (O / (16 v), KK, C, 16 v) blocks."""
    kk, c, o = w_kco.shape
    return np.ascontiguousarray(w_kco.reshape(kk, c, o // (16 * v), 16 * v).transpose(2, 0, 1, 3))


class ChannelsLastConv:
    """The channels-last convolutions of a C library built from BODY (the window ops of c_conv call them): each op
    one block program (em_cl_blocks_f32) of padding copies, products and unpacking over blocks of images."""

    def __init__(self, lib):
        self._blocks = lib.em_cl_blocks_f32
        self._blocks.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int]
        self._blocks.restype = None

    @staticmethod
    def _float32(geo, *arrays):
        """Whether these arrays (None for an absent bias) are float32 and the first one a batch of images, and
        the kernel larger than 1x1 or the first one already channels-last (a 1x1 convolution of (N, C, H, W)
        images is a plain GEMM)."""
        x = arrays[0]
        return all(a is None or a.dtype == np.float32 for a in arrays) and x.ndim == 4 and x.shape[0] > 0 and (
            geo[0].k * geo[1].k > 1 or is_channels_last(x))

    def covers_forward(self, geo, x, w, bias=None):
        """Whether the convolution of x by w (O, C, KH, KW) over geo runs here."""
        return self._float32(geo, x, w, bias) and fills_vectors(w.shape[0])

    def covers_input(self, geo, gy, w):
        """Whether the input gradient of a convolution by w (O, C, KH, KW) from gy runs here."""
        return self._float32(geo, gy, w) and fills_vectors(w.shape[1])

    def covers_weight(self, geo, x, gy):
        """Whether the weight gradient of x's convolution from gy runs here."""
        kk = geo[0][0] * geo[1][0]
        return self._float32(geo, x, gy) and _weight_tile(x.shape[1], gy.shape[1], kk, is_channels_last(x)) is not None

    @staticmethod
    def _product(g, t, per_image, flat, panel, bias, out):
        """The step of em_cl_conv_f32 over an image block's positions of g (em_cl_conv_rows_f32 for one vector of
        channels where the positions are 1, 3, 16 or 32 floats apart, sliding where they are 16 and the kernel's
        positions rows of 3 one position apart; em_cl_conv_slide2_f32 for two vectors where the kernel's are):
        out (a pointer) = flat by panel, plus bias (an array or None)."""
        b = 0 if bias is None else bias
        if t == 2 and g[5] in (1, 3, 16, 32):  # g[Q_IV]
            return _CONV_ROWS, g, per_image, flat, panel, b, out, int(g[5] == 16 and _slides(g))
        if t == 1 and _slides(g):
            return _CONV_SLIDE2, g, per_image, flat, panel, b, out
        return _CONV, g, t, per_image, flat, panel, b, out

    def _padder(self, a, rows, cols, channels=None):
        """(flat planes, its step or None, HP, WP): a (N, C, H, W), padded into channels-last planes (N, HP, WP,
        C) (image row i at row i + rows[0] of rows[1], and so for columns): transposed by em_cl_pad_f32 (with
        channels: zero channels past C up to that many), or copied by em_cl_pad_nhwc_f32 when a is channels-last
        already; or a itself (HP, WP = H, W) where it is channels-last and no zeros go before it or past it (the
        reads stay inside)."""
        n, c, h, w = a.shape
        (lh, hp), (lw, wp) = rows, cols
        if is_channels_last(a):
            if lh == lw == 0 and hp <= h and wp <= w:
                return a.transpose(0, 2, 3, 1), None, h, w
            flat, _ = _planes(n, hp, wp, c)
            return flat, (_PAD_NHWC, a, c, h, w, lh, hp, lw, wp, flat), hp, wp
        a, cp = np.ascontiguousarray(a), channels or c
        flat, _ = _planes(n, hp, wp, cp)
        return flat, (_PAD, a, c, h, w, lh, hp, lw, wp, cp, flat), hp, wp

    def _windows(self, x, geo, o, channels):
        """(flat planes, its step or None, g) of x's windows over geo for o output channels: x's padded planes of
        that many channels (see _padder) and the positions of its outputs (N, OH, OW, O), each reading the kernel
        positions' runs of channels."""
        (kh, sh, dh, lh, _, oh), (kw, sw, dw, lw, _, ow) = geo
        span = (oh - 1) * sh + (kh - 1) * dh + 1, (ow - 1) * sw + (kw - 1) * dw + 1
        flat, pad, hp, wp = self._padder(x, (lh, span[0]), (lw, span[1]), channels)
        c = channels
        off = [(i * dh * wp + j * dw) * c for i in range(kh) for j in range(kw)]
        g = _positions(x.shape[0], oh, ow, (hp * wp * c, sh * wp * c, sw * c), (oh * ow * o, ow * o, o), kh * kw, c,
                       o, off)
        return flat, pad, g

    @staticmethod
    def _result(nhwc, channels_last):
        """((N, C, H, W) array of nhwc's values, its step or None): nhwc itself, transposed (a channels-last view)
        when channels_last, else a C-contiguous copy made image by image (em_cl_unpack_f32)."""
        n, h, w, c = nhwc.shape
        if channels_last:
            return nhwc.transpose(0, 3, 1, 2), None
        out = np.empty((n, c, h, w), np.float32)
        return out, (_UNPACK, nhwc, h * w, c, out)

    def conv(self, x, geo, w, bias=None, channels_last=False):
        """x (N, C, H, W) by w (O, C, KH, KW) over the windows geo, plus bias: (N, O, OH, OW), C-contiguous or
        channels-last."""
        (kh, _, _, _, _, oh), (kw, _, _, _, _, ow) = geo
        n, c = x.shape[:2]
        o = w.shape[0]
        flat, pad, g = self._windows(x, geo, o, c)
        t = _forward_tile(o)
        panel = _panel(np.asarray(w, np.float32).transpose(2, 3, 1, 0).reshape(kh * kw, c, o), 4 >> t)
        b = None if bias is None else np.ascontiguousarray(bias, np.float32)
        nhwc = np.empty((n, oh, ow, o), np.float32)
        out, unpack = self._result(nhwc, channels_last)
        self._run(n, o * c * kh * kw * oh * ow * n,
                  [pad, self._product(g, t, oh * ow, flat, panel, b, nhwc), unpack])
        return out

    def conv_input(self, gy, geo, w, shape, channels_last=False):
        """The input gradient (N, C, H, W) = shape of a convolution by w (O, C, KH, KW) over geo whose output
        gradient is gy (N, O, OH, OW): for each phase (a, b) of the input (rows a, a + SH, ..., columns b, b + SW,
        ...), the forward over the output gradient padded by the margins that every phase's kernel positions
        reach, with those kernel positions' weights. C-contiguous or channels-last."""
        (kh, sh, dh, lh, h, oh), (kw, sw, dw, lw, wd, ow) = geo
        n, o = gy.shape[:2]
        c = w.shape[1]
        rows, cols = _phases(kh, sh, dh, lh, h, oh), _phases(kw, sw, dw, lw, wd, ow)
        (mh, hp), (mw, wp) = _margins(rows, oh), _margins(cols, ow)
        flat, pad, hp, wp = self._padder(gy, (mh, hp), (mw, wp))
        t = _forward_tile(c)
        wk = np.asarray(w, np.float32).transpose(2, 3, 0, 1)  # (KH, KW, O, C)
        phases = []
        for a, us, taps_h in rows:
            for b, vs, taps_w in cols:
                taps = [(i, j, ei, ej) for i, ei in taps_h for j, ej in taps_w]
                if taps and us * vs:  # a phase no kernel position reaches stays zero
                    off = [((ei + mh) * wp + ej + mw) * o for _, _, ei, ej in taps]
                    g = _positions(n, us, vs, (hp * wp * o, wp * o, o), (h * wd * c, sh * wd * c, sw * c),
                                   len(taps), o, c, off)
                    wt = wk[[i for i, *_ in taps], [j for _, j, *_ in taps]]
                    phases.append((g, _panel(wt, 4 >> t), (a * wd + b) * c, us * vs))
        untouched = len(phases) < len(rows) * len(cols)
        nhwc = (np.zeros if untouched else np.empty)((n, h, wd, c), np.float32)
        out, unpack = self._result(nhwc, channels_last)
        products = [self._product(g, t, per_image, flat, panel, None, nhwc.ctypes.data + 4 * start)
                    for g, panel, start, per_image in phases]
        self._run(n, o * c * kh * kw * oh * ow * n, [pad, *products, unpack])
        return out

    def conv_weight(self, x, gy, geo):
        """The weight gradient (O, C*KH*KW) of the convolution of x (N, C, H, W) over geo whose output gradient
        is gy (N, O, OH, OW): each block of images adds into its own sums, added up in block order (the same
        bits on any number of threads)."""
        (kh, _, _, _, _, oh), (kw, _, _, _, _, ow) = geo
        n, c = x.shape[:2]
        o = gy.shape[1]
        t = _weight_tile(c, o, kh * kw, is_channels_last(x))
        multiple = 16 if t == 4 else _WEIGHT_TILES[t][1]
        cp = -(-c // multiple) * multiple  # the channels the tiles read (zeros past c)
        flat, pad, g = self._windows(x, geo, o, cp)
        gflat, gpad, _, _ = self._padder(gy, (0, oh), (0, ow))  # a channels-last gradient read as it is
        sums = (kh * kw, o, cp) if t == 4 else (kh * kw, cp, o)
        acc = np.zeros((-(-n // _block(n, _WEIGHT_BLOCKS)), *sums), np.float32)
        self._run(n, o * c * kh * kw * oh * ow * n,
                  [pad, gpad, (_WEIGHT, g, t, oh * ow, flat, gflat, acc, acc[0].size)], _WEIGHT_BLOCKS)
        total = acc[0]
        for a in acc[1:]:
            total += a
        total = total.transpose(1, 2, 0) if t == 4 else total[:, :c].transpose(2, 1, 0)  # (O, C, KK)
        return np.ascontiguousarray(total).reshape(o, c * kh * kw)

    def _run(self, n, work, steps, blocks=_BLOCKS):
        """The block program of these steps (tuples of a kind and its arguments, arrays standing for their data
        pointers; None: no step) over the n images in blocks of _block(n, blocks), on ember's threads from
        _SPLIT_MIN multiply-adds."""
        prog = np.array([[a.ctypes.data if isinstance(a, np.ndarray) else a for a in s] + [0] * (_STEP - len(s))
                         for s in steps if s is not None], np.int64)
        self._blocks(prog.ctypes.data, len(prog), n, _block(n, blocks), _threads.team(n, work, _SPLIT_MIN))


def _block(n, blocks=_BLOCKS):
    """Images a block of a block program: at most ``blocks`` blocks, taken by the threads as they come (the same
    blocks on any number of threads)."""
    return -(-n // blocks)


def _phases(k, s, d, lo, n_in, n_out):
    """For one dimension of an input gradient: (a, the phase's length, [(kernel position i, its output offset
    e)]) for each remainder a < s: input place a + s*u takes the output gradient at u + e for each i with
    (a + lo - i*d) divisible by s; in order of e (for stride 1, rows of kernel positions one place apart, as
    em_cl_slide reads them)."""
    out = []
    for a in range(s):
        length = max(0, -(-(n_in - a) // s))
        taps = [(i, (a + lo - i * d) // s) for i in reversed(range(k)) if (a + lo - i * d) % s == 0]
        out.append((a, length, taps))
    return out


def _margins(phases, n_out):
    """(zeros before, padded length) of the output gradient such that every phase's reads u + e fall inside."""
    lo = max([0] + [-e for _, length, taps in phases if length for _, e in taps])
    hi = max([n_out] + [length - 1 + e + 1 for _, length, taps in phases if length for _, e in taps])
    return lo, lo + hi
