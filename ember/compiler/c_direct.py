"""Direct float32 convolutions in C (oneDNN's idea without its JIT): no im2col matrix. Each image is copied once
into zero-padded planes whose rows are the span of the windows (WB = OW + dilation * (KW - 1)), so an output
position q = y * WB + x reads the input at q + offset(kernel position): every kernel position is one contiguous
run. A strided convolution's image is cut into stride x stride phases (its rows and columns by remainder), and
each kernel position reads one phase at a shift: contiguous runs again, over the same tiles. The forward keeps a
tile of R output channels by V vectors of 16 positions in registers and adds, for each input channel and kernel
position, V loads times R weights (broadcast); the weight gradient keeps 4 output channels by 5 kernel taps and
adds, for each 16 positions, 4 gradient loads times 5 input loads, image by image. The WB - OW positions past
each output row are junk: computed and dropped (forward), or zero in the widened gradient. Both split the images
over an OpenMP team (a share of the batch a thread).

The input gradient of a stride-1 convolution is this forward on the gradient with the flipped kernel (ConvTranspose
already runs it that way), so all three products of a stride-1 convolution run here; a strided one's input
gradient adds its windows back (col2im, in c_conv). Used by the C backend through the convolution nodes'
``window_ops`` (see ``c_conv``); 1x1 kernels, groups, float64 and empty batches keep the im2col path. Weight-gradient
sums are kept in double between blocks of images; the forward sums each output in float32, as a GEMM does.
"""
import ctypes

import numpy as np

from ..ops import _threads
from .c_nhwc import VECTORS, is_channels_last

__all__ = ["BODY", "DirectConv"]

BODY = VECTORS + r"""
EM_FUSED_MULTIPLY_ADDS

/* geometry g: C H W O KH KW lo_h lo_w WB HP OH OW QW plane phase SH SW B (plane: a channel's planes, SH * SW
   phases of phase elements each) */
enum { G_C, G_H, G_W, G_O, G_KH, G_KW, G_LOH, G_LOW, G_WB, G_HP, G_OH, G_OW, G_QW, G_PLANE, G_PHASE, G_SH, G_SW,
       G_B };

/* dst[j] = src[j] for j in [j0, j1): rows are short (a call to memcpy per row cost more than the copy) */
static inline void em_dconv_copy(float *restrict dst, const float *restrict src, int64_t j0, int64_t j1)
{
    for (int64_t j = j0; j < j1; ++j)
        dst[j] = src[j];
}

/* image xn (C, H, W) into its planes dst (C, plane): padded row i + lo_h and column j + lo_w (i, j of the image) in
   phase ((i + lo_h) % SH, (j + lo_w) % SW) at row (i + lo_h) / SH of rows WB long, column (j + lo_w) / SW (what
   falls outside the HP x WB span is cropped); the rest of dst is left as it is (zeros). With stride 1 the one
   phase is the padded image. */
static void em_dconv_pad(const int64_t *g, const float *xn, float *dst)
{
    const int64_t H = g[G_H], W = g[G_W], lo_h = g[G_LOH], lo_w = g[G_LOW], WB = g[G_WB];
    const int64_t SH = g[G_SH], SW = g[G_SW], phase = g[G_PHASE];
    for (int64_t c = 0; c < g[G_C]; ++c)
        for (int64_t i = 0; i < H; ++i) {
            const int64_t row = i + lo_h;
            if (row < 0 || row / SH >= g[G_HP])
                continue;
            const float *src = xn + (c * H + i) * W;
            float *planes = dst + c * g[G_PLANE] + row % SH * SW * phase + row / SH * WB;
            if (SW == 1) {
                const int64_t j0 = lo_w < 0 ? -lo_w : 0, j1 = W < WB - lo_w ? W : WB - lo_w;
                em_dconv_copy(planes + lo_w, src, j0, j1);
                continue;
            }
            for (int64_t b = 0; b < SW; ++b) {  /* the image's columns of phase b: every SW-th from the first */
                const int64_t first = lo_w < 0 ? -lo_w : 0;
                float *restrict d = planes + b * phase;
                int64_t j = first + ((b - (first + lo_w) % SW) + SW) % SW;
                for (int64_t col = (j + lo_w) / SW; j < W && col < WB; j += SW, ++col)
                    d[col] = src[j];
            }
        }
}

/* R output channels x V vectors of positions: out[r][q0 + 16 v + l] for the planes xp (C, plane) from q0 */
#define EM_DCONV_TILE(R, V)                                                                                     \
static void em_dconv_tile_##R##_##V(int64_t C, int64_t KK, const int64_t *off, int64_t plane, const float *xp, \
                                    const float *wb, const float *bias, int64_t nr, float *out, int64_t ld)     \
{                                                                                                               \
    em_v16 acc[R][V];                                                                                           \
    for (int r = 0; r < R; ++r) {                                                                               \
        const float b = (bias && r < nr) ? bias[r] : 0.0f;                                                      \
        for (int v = 0; v < V; ++v)                                                                             \
            acc[r][v] = (em_v16){0} + b;                                                                        \
    }                                                                                                           \
    for (int64_t c = 0; c < C; ++c)                                                                             \
        for (int64_t k = 0; k < KK; ++k) {                                                                      \
            const float *s = xp + c * plane + off[k], *w = wb + (c * KK + k) * R;                               \
            em_v16 xv[V];                                                                                       \
            for (int v = 0; v < V; ++v)                                                                         \
                xv[v] = *(const em_v16u *)(s + 16 * v);                                                         \
            for (int r = 0; r < R; ++r)                                                                         \
                for (int v = 0; v < V; ++v)                                                                     \
                    acc[r][v] += w[r] * xv[v];                                                                  \
        }                                                                                                       \
    for (int r = 0; r < nr; ++r)                                                                                \
        for (int v = 0; v < V; ++v)                                                                             \
            *(em_v16u *)(out + r * ld + 16 * v) = acc[r][v];                                                    \
}

EM_DCONV_TILE(8, 3)
EM_DCONV_TILE(12, 2)
EM_DCONV_TILE(6, 4)
EM_DCONV_TILE(4, 5)
EM_DCONV_TILE(4, 6)

typedef void (*em_dconv_tile)(int64_t, int64_t, const int64_t *, int64_t, const float *, const float *,
                              const float *, int64_t, float *, int64_t);

/* out (N, O, OH, OW) for the images [n0, n1) of x (N, C, H, W): wp (ceil(O / R), C * KK, R) the weights by
   blocks of R output channels, bias (O) or NULL, tile the index of (R, V) in em_dconv_tile_*; scratch xp
   (C, plane) zero where no image row goes, ow (O, QW) */
void em_dconv_f32(const int64_t *g, int64_t tile, int64_t n0, int64_t n1, const int64_t *off, const float *x,
                  const float *wp, const float *bias, float *xp, float *ow, float *out)
{
    static const em_dconv_tile tiles[] = {em_dconv_tile_8_3, em_dconv_tile_12_2, em_dconv_tile_6_4,
                                          em_dconv_tile_4_5, em_dconv_tile_4_6};
    static const int64_t rs[] = {8, 12, 6, 4, 4}, vs[] = {3, 2, 4, 5, 6};
    const em_dconv_tile fn = tiles[tile];
    const int64_t R = rs[tile], step = 16 * vs[tile];
    const int64_t C = g[G_C], O = g[G_O], KK = g[G_KH] * g[G_KW], QW = g[G_QW], OH = g[G_OH], OW = g[G_OW];
    for (int64_t n = n0; n < n1; ++n) {
        em_dconv_pad(g, x + n * C * g[G_H] * g[G_W], xp);
        for (int64_t o = 0; o < O; o += R)
            for (int64_t q = 0; q < QW; q += step)
                fn(C, KK, off, g[G_PLANE], xp + q, wp + o * C * KK, bias ? bias + o : 0, O - o < R ? O - o : R,
                   ow + o * QW + q, QW);
        float *on = out + n * O * OH * OW;
        for (int64_t o = 0; o < O; ++o)
            for (int64_t i = 0; i < OH; ++i)
                em_dconv_copy(on + (o * OH + i) * OW, ow + o * QW + i * g[G_WB], 0, OW);
    }
}

/* 4 output channels x 5 taps (kernel positions of input channels, xs[t] their planes) over an image's QW
   positions, added to the float sums accv (4 x 5 vectors: a block of images' sums, in memory between images, so
   that an image's planes stay in L1 for all its tiles) */
static void em_dconv_weight_tile(int64_t QW, const float *gy, const float *const *xs, em_v16 *restrict accv)
{
    em_v16 acc[4][5];
    for (int r = 0; r < 4; ++r)
        for (int t = 0; t < 5; ++t)
            acc[r][t] = accv[r * 5 + t];
    for (int64_t q = 0; q < QW; q += 16) {
        em_v16 gv[4], xv[5];
        for (int r = 0; r < 4; ++r)
            gv[r] = *(const em_v16u *)(gy + r * QW + q);
        for (int t = 0; t < 5; ++t) {
            xv[t] = *(const em_v16u *)(xs[t] + q);
            EM_IN_REGISTER(xv[t]);
        }
        for (int r = 0; r < 4; ++r)
            for (int t = 0; t < 5; ++t)
                acc[r][t] += gv[r] * xv[t];
    }
    for (int r = 0; r < 4; ++r)
        for (int t = 0; t < 5; ++t)
            accv[r * 5 + t] = acc[r][t];
}

/* accd[i] += the sum of accv[i]'s lanes, and accv[i] = 0, for n vectors */
static void em_dconv_weight_reduce(int64_t n, em_v16 *restrict accv, double *restrict accd)
{
    for (int64_t i = 0; i < n; ++i) {
        float h[16];
        for (int l = 0; l < 16; ++l)
            h[l] = accv[i][l];
        for (int w = 8; w > 0; w /= 2)  /* a tree: no chain of 16 dependent adds */
            for (int l = 0; l < w; ++l)
                h[l] += h[l + w];
        accd[i] += h[0];
        accv[i] = (em_v16){0};
    }
}

/* the weight gradient's sums over the images [n0, n1) of x (N, C, H, W) and gy (N, O, OH, OW), added to accd
   (ceil(C * KK / 5), ceil(O / 4), 4, 5) doubles once a block of B images (their float sums in accv, as many
   vectors, zeros); an image at a time in the scratch xp (C, plane) and gyw (4 * ceil(O / 4), QW), zero where no
   image row or gradient row goes */
void em_dconv_weight_f32(const int64_t *g, int64_t n0, int64_t n1, const int64_t *off, const float *x,
                         const float *gy, float *xp, float *gyw, em_v16 *accv, double *accd)
{
    const int64_t C = g[G_C], O = g[G_O], KK = g[G_KH] * g[G_KW], QW = g[G_QW], OH = g[G_OH], OW = g[G_OW];
    const int64_t plane = g[G_PLANE], taps = C * KK, blocks = (O + 3) / 4;
    for (int64_t n = n0; n < n1; ++n) {
        em_dconv_pad(g, x + n * C * g[G_H] * g[G_W], xp);
        const float *gn = gy + n * O * OH * OW;
        for (int64_t o = 0; o < O; ++o)
            for (int64_t i = 0; i < OH; ++i)
                em_dconv_copy(gyw + o * QW + i * g[G_WB], gn + (o * OH + i) * OW, 0, OW);
        for (int64_t t0 = 0; t0 < taps; t0 += 5) {
            const float *xs[5];
            for (int t = 0; t < 5; ++t) {
                const int64_t tap = t0 + t < taps ? t0 + t : t0;
                xs[t] = xp + tap / KK * plane + off[tap % KK];
            }
            for (int64_t o = 0; o < blocks; ++o)
                em_dconv_weight_tile(QW, gyw + 4 * o * QW, xs, accv + (t0 / 5 * blocks + o) * 20);
        }
        if ((n - n0 + 1) % g[G_B] == 0 || n + 1 == n1)
            em_dconv_weight_reduce((taps + 4) / 5 * blocks * 20, accv, accd);
    }
}

/* em_dconv_f32 over the images [0, n) on an OpenMP team of up to `threads` threads: share t of the images
   [n t / threads, n (t + 1) / threads) with the scratch xp + t * xs, ow + t * os (an OpenMP team that has just run
   spins, so the next op wakes it in microseconds, where a Python thread pool's hand-over took 100-200) */
void em_dconv_team_f32(int threads, const int64_t *g, int64_t tile, int64_t n, const int64_t *off, const float *x,
                       const float *wp, const float *bias, float *xp, int64_t xs, float *ow, int64_t os, float *out)
{
    EM_OMP(parallel for schedule(static, 1) num_threads(threads) if(threads > 1))
    for (int t = 0; t < threads; ++t)
        if (n * (t + 1) / threads > n * t / threads)
            em_dconv_f32(g, tile, n * t / threads, n * (t + 1) / threads, off, x, wp, bias, xp + t * xs,
                         ow + t * os, out);
}

/* em_dconv_weight_f32 in shares as em_dconv_team_f32's, share t's sums in accd + t * as (scratch xp + t * xs,
   gyw + t * gs, accv + t * as vectors) */
void em_dconv_weight_team_f32(int threads, const int64_t *g, int64_t n, const int64_t *off, const float *x,
                              const float *gy, float *xp, int64_t xs, float *gyw, int64_t gs, em_v16 *accv,
                              double *accd, int64_t as)
{
    EM_OMP(parallel for schedule(static, 1) num_threads(threads) if(threads > 1))
    for (int t = 0; t < threads; ++t)
        if (n * (t + 1) / threads > n * t / threads)
            em_dconv_weight_f32(g, n * t / threads, n * (t + 1) / threads, off, x, gy, xp + t * xs, gyw + t * gs,
                                accv + t * as, accd + t * as);
}

EM_END_FUSED_MULTIPLY_ADDS
"""

# (output channels, vectors of 16 positions) of the forward's register tiles, in em_dconv_f32's order
_TILES = ((8, 3), (12, 2), (6, 4), (4, 5), (4, 6))
_SPLIT_MIN = 1 << 21  # multiply-adds from which an op runs on ember's threads (C's work splits cheaply)
# elements of the planes of a block of images in the weight gradient, whose float sums are added to the double
# sums once (a reduction of each tile's vectors costs about as much as its multiply-adds on an image of a small
# map); the sums stay in memory between images, each image's planes in L1 for all its tiles (LeNet's first
# convolution, 64 images of 28x28, one input channel: 0.61 -> 0.24 ms on the Intel Xeon of step 15, two threads,
# where its tiles had read a block of 1.5 MB of planes each from L3)
_WEIGHT_BLOCK = 3 << 17


def _tile(o, q):
    """The index of the forward tile with the least work for o channels and q positions: multiply-adds (with
    the rows and vectors past o and q) plus the loads, per multiply-add 1/R of them for inputs, 1/V weights."""
    def cost(i):
        r, v = _TILES[i]
        return -(-q // (16 * v)) * v * -(-o // r) * r * (1 + 1 / r + 1 / v)
    return min(range(len(_TILES)), key=cost)


class _Geometry:
    """The planes of one direct convolution: x (N, C, H, W) by kernels (KH, KW) with the windows geo into
    (N, O, OH, OW); qstep rounds the positions computed (QW) up to whole tiles. With strides (SH, SW), each
    channel's padded image is cut into SH * SW phases (the rows and columns of each remainder): kernel position
    (i, j) reads phase (i * DH % SH, j * DW % SW) at row i * DH // SH and column j * DW // SW, so every kernel
    position is again one contiguous run of the planes."""

    def __init__(self, x, o, geo, qstep):
        (kh, sh, dh, lh, h, oh), (kw, sw, dw, lw, w, ow) = geo
        wb, hp = _row_span(geo[1]), oh + dh * (kh - 1) // sh
        qw = -(-oh * wb // qstep) * qstep
        within = [i * dh // sh * wb + j * dw // sw for i in range(kh) for j in range(kw)]
        phase = -(-max(hp * wb, qw + max(within)) // 16) * 16
        self.off = np.array([(i * dh % sh * sw + j * dw % sw) * phase + within[i * kw + j]
                             for i in range(kh) for j in range(kw)], np.int64)
        plane = sh * sw * phase
        self.n, self.c, self.o, self.kk, self.qw, self.plane = x.shape[0], x.shape[1], o, kh * kw, qw, plane
        self.oh, self.ow = oh, ow
        self.g = np.array([x.shape[1], h, w, o, kh, kw, lh, lw, wb, hp, oh, ow, qw, plane, phase, sh, sw, 1],
                          np.int64)


def _aligned_zeros(n):
    """n float32 zeros starting at a 64-byte boundary (C reads them as vectors of 16)."""
    buf = np.zeros(n + 16, np.float32)
    start = (-buf.ctypes.data % 64) // 4
    return buf[start:start + n]


def _row_span(gw):
    """The row length WB of the planes for the width's Window: the outputs and the kernel's reach (in phase
    columns)."""
    return gw.n_out + gw.d * (gw.k - 1) // gw.s


class DirectConv:
    """The direct convolutions of a C library built from BODY (the window ops of c_conv call them); ``cl_lib``,
    c_nhwc's library, unpacks channels-last operands."""

    def __init__(self, lib, cl_lib):
        p, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
        self.forward, self.weight = lib.em_dconv_team_f32, lib.em_dconv_weight_team_f32
        self._unpack = cl_lib.em_cl_unpack_f32
        self._unpack.argtypes, self._unpack.restype = [p, i64, i64, i64, i64, p], None
        self.forward.argtypes, self.forward.restype = [i32, p, i64, i64] + [p] * 5 + [i64, p, i64, p], None
        self.weight.argtypes, self.weight.restype = [i32, p, i64] + [p] * 4 + [i64, p, i64, p, p, i64], None

    def _c_contiguous(self, a):
        """a as a C-contiguous array: a channels-last one (see passes.layout) transposed by C (NumPy's copy of
        the transposed view takes several times as long)."""
        if not is_channels_last(a):
            return np.ascontiguousarray(a)
        n, c, h, w = a.shape
        out = np.empty(a.shape, a.dtype)
        self._unpack(a.ctypes.data, 0, n, h * w, c, out.ctypes.data)
        return out

    @staticmethod
    def covers(geo, *arrays):
        """Whether these float32 arrays (None for an absent bias) of a 2-D convolution with a kernel larger than
        1x1 run here (a 1x1 convolution's im2col matrix is the (subsampled) image: a plain GEMM)."""
        return (geo[0].k * geo[1].k > 1
                and all(a is None or a.dtype == np.float32 for a in arrays) and arrays[0].ndim == 4
                and arrays[0].shape[0] > 0)

    def conv(self, x, geo, w2, bias=None):
        """x (N, C, H, W) times the kernels w2 (O, C*KH*KW) over the windows geo, plus bias: (N, O, OH*OW)."""
        x, w2 = self._c_contiguous(x), np.ascontiguousarray(w2)
        o = w2.shape[0]
        t = _tile(o, geo[0].n_out * _row_span(geo[1]))
        r, v = _TILES[t]
        shape = _Geometry(x, o, geo, 16 * v)
        blocks = -(-o // r)
        wp = np.zeros((blocks * r, w2.shape[1]), np.float32)
        wp[:o] = w2
        wp = np.ascontiguousarray(wp.reshape(blocks, r, -1).transpose(0, 2, 1))
        b = None if bias is None else np.ascontiguousarray(bias)
        out = np.empty((shape.n, o, shape.oh * shape.ow), np.float32)
        k = _threads.team(shape.n, o * shape.c * shape.kk * shape.n * shape.qw, _SPLIT_MIN)
        xp, ow = np.zeros((k, shape.c * shape.plane), np.float32), np.empty((k, o * shape.qw), np.float32)
        self.forward(k, shape.g.ctypes.data, t, shape.n, shape.off.ctypes.data, x.ctypes.data, wp.ctypes.data,
                     None if b is None else b.ctypes.data, xp.ctypes.data, xp.shape[1], ow.ctypes.data, ow.shape[1],
                     out.ctypes.data)
        return out

    def conv_weight(self, x, g4, geo):
        """The weight gradient of the convolution of x (N, C, H, W) over geo whose output gradient is g4
        (N, O, OH, OW): (O, C*KH*KW)."""
        x, g4 = self._c_contiguous(x), self._c_contiguous(g4)
        o = g4.shape[1]
        shape = _Geometry(x, o, geo, 16)
        taps, blocks = shape.c * shape.kk, -(-o // 4)
        shape.g[-1] = max(1, _WEIGHT_BLOCK // (shape.c * shape.plane + 4 * blocks * shape.qw))
        tiles = -(-taps // 5) * blocks
        k = _threads.team(shape.n, o * taps * shape.n * shape.qw, _SPLIT_MIN)
        acc, accv = np.zeros((k, tiles * 20)), _aligned_zeros(k * tiles * 20 * 16)
        xp = np.zeros((k, shape.c * shape.plane), np.float32)
        gy = np.zeros((k, 4 * blocks * shape.qw), np.float32)
        self.weight(k, shape.g.ctypes.data, shape.n, shape.off.ctypes.data, x.ctypes.data, g4.ctypes.data,
                    xp.ctypes.data, xp.shape[1], gy.ctypes.data, gy.shape[1], accv.ctypes.data, acc.ctypes.data,
                    acc.shape[1])
        acc = acc.sum(0).reshape(-1, blocks, 4, 5)
        gw = acc.transpose(1, 2, 0, 3).reshape(4 * blocks, -1)[:o, :taps]
        return gw.astype(np.float32)
