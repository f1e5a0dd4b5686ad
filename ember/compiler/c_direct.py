"""Direct float32 convolutions in C (oneDNN's idea without its JIT): no im2col matrix. Each image is copied once
into zero-padded planes whose rows are the span of the windows (WB = OW + dilation * (KW - 1)), so an output
position q = y * WB + x reads the input at q + offset(kernel position): every kernel position is one contiguous
run. A strided convolution's image is cut into stride x stride phases (its rows and columns by remainder), and
each kernel position reads one phase at a shift: contiguous runs again, over the same tiles. The forward keeps a
tile of R output channels by V vectors of 16 positions in registers and adds, for each input channel and kernel
position, V loads times R weights (broadcast); the weight gradient keeps 4 output channels by 5 kernel taps and
adds, for each 16 positions, 4 gradient loads times 5 input loads, over a block of images. The WB - OW positions
past each output row are junk: computed and dropped (forward), or zero in the widened gradient.

The input gradient of a stride-1 convolution is this forward on the gradient with the flipped kernel (ConvTranspose
already runs it that way), so all three products of a stride-1 convolution run here; a strided one's input
gradient adds its windows back (col2im, in c_conv). Used by the C backend through the convolution nodes'
``window_ops`` (see ``c_conv``); 1x1 kernels, groups, float64 and empty batches keep the im2col path. Weight-gradient
sums are kept in double between blocks of images; the forward sums each output in float32, as a GEMM does.
"""
import ctypes

import numpy as np

from ..ops import _threads
from .c_nhwc import is_channels_last

__all__ = ["BODY", "DirectConv"]

BODY = r"""
EM_FUSED_MULTIPLY_ADDS

typedef float em_v16 __attribute__((vector_size(64)));
typedef float em_v16u __attribute__((vector_size(64), aligned(4)));

/* keeps a loaded vector in a register: without it GCC folds the (unaligned) load into each multiply-add using it */
#if defined(__GNUC__) && defined(__x86_64__)
#define EM_IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define EM_IN_REGISTER(v) (void)0
#endif

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

/* 4 output channels x 5 taps (kernel positions of input channels, xs[t] their planes) over B images of QW
   positions: the float sums of this block added to accd (4 x 5 doubles) */
static void em_dconv_weight_tile(int64_t B, int64_t QW, int64_t gstep, int64_t xstep, const float *gy,
                                 const float *const *xs, double *restrict accd)
{
    em_v16 acc[4][5];
    for (int r = 0; r < 4; ++r)
        for (int t = 0; t < 5; ++t)
            acc[r][t] = (em_v16){0};
    for (int64_t b = 0; b < B; ++b)
        for (int64_t q = 0; q < QW; q += 16) {
            em_v16 gv[4], xv[5];
            for (int r = 0; r < 4; ++r)
                gv[r] = *(const em_v16u *)(gy + b * gstep + r * QW + q);
            for (int t = 0; t < 5; ++t) {
                xv[t] = *(const em_v16u *)(xs[t] + b * xstep + q);
                EM_IN_REGISTER(xv[t]);
            }
            for (int r = 0; r < 4; ++r)
                for (int t = 0; t < 5; ++t)
                    acc[r][t] += gv[r] * xv[t];
        }
    for (int r = 0; r < 4; ++r)
        for (int t = 0; t < 5; ++t) {
            float h[16];
            for (int l = 0; l < 16; ++l)
                h[l] = acc[r][t][l];
            for (int w = 8; w > 0; w /= 2)  /* a tree: no chain of 16 dependent adds */
                for (int l = 0; l < w; ++l)
                    h[l] += h[l + w];
            accd[r * 5 + t] += h[0];
        }
}

/* the weight gradient's sums over the images [n0, n1) of x (N, C, H, W) and gy (N, O, OH, OW), added to accd
   (ceil(C * KK / 5), ceil(O / 4), 4, 5) doubles; B images at a time in the scratch xp
   (B, C, plane) and gyw (B, 4 * ceil(O / 4), QW), zero where no image row or gradient row goes */
void em_dconv_weight_f32(const int64_t *g, int64_t n0, int64_t n1, const int64_t *off, const float *x,
                         const float *gy, float *xp, float *gyw, double *accd)
{
    const int64_t C = g[G_C], O = g[G_O], KK = g[G_KH] * g[G_KW], QW = g[G_QW], OH = g[G_OH], OW = g[G_OW];
    const int64_t plane = g[G_PLANE], taps = C * KK, blocks = (O + 3) / 4, opad = 4 * blocks;
    for (int64_t n = n0; n < n1; n += g[G_B]) {
        const int64_t B = n1 - n < g[G_B] ? n1 - n : g[G_B];
        for (int64_t b = 0; b < B; ++b) {
            em_dconv_pad(g, x + (n + b) * C * g[G_H] * g[G_W], xp + b * C * plane);
            const float *gn = gy + (n + b) * O * OH * OW;
            for (int64_t o = 0; o < O; ++o)
                for (int64_t i = 0; i < OH; ++i)
                    em_dconv_copy(gyw + (b * opad + o) * QW + i * g[G_WB], gn + (o * OH + i) * OW, 0, OW);
        }
        for (int64_t t0 = 0; t0 < taps; t0 += 5) {
            const float *xs[5];
            for (int t = 0; t < 5; ++t) {
                const int64_t tap = t0 + t < taps ? t0 + t : t0;
                xs[t] = xp + tap / KK * plane + off[tap % KK];
            }
            for (int64_t o = 0; o < blocks; ++o)
                em_dconv_weight_tile(B, QW, opad * QW, C * plane, gyw + 4 * o * QW, xs,
                                     accd + (t0 / 5 * blocks + o) * 20);
        }
    }
}

EM_END_FUSED_MULTIPLY_ADDS
"""

# (output channels, vectors of 16 positions) of the forward's register tiles, in em_dconv_f32's order
_TILES = ((8, 3), (12, 2), (6, 4), (4, 5), (4, 6))
_SPLIT_MIN = 1 << 21  # multiply-adds from which an op runs on ember's threads (C's work splits cheaply)
# elements of the planes of a block of images in the weight gradient: each tile's sums are reduced once a block,
# which costs about as much as the tile's multiply-adds on small maps, so blocks are larger than L2 (1 MB on
# AMD Zen 4: 1.5 MB blocks took 8x8x64's gradient 1.58 -> 1.35 ms and 32x32x3's 0.33 -> 0.29, the L3 serving them)
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


def _row_span(gw):
    """The row length WB of the planes for the width's Window: the outputs and the kernel's reach (in phase
    columns)."""
    return gw.n_out + gw.d * (gw.k - 1) // gw.s


class DirectConv:
    """The direct convolutions of a C library built from BODY (the window ops of c_conv call them)."""

    def __init__(self, lib):
        p, i64 = ctypes.c_void_p, ctypes.c_int64
        self.forward, self.weight = lib.em_dconv_f32, lib.em_dconv_weight_f32
        self._unpack = lib.em_cl_unpack_f32  # c_nhwc's, in the same library
        self._unpack.argtypes, self._unpack.restype = [p, i64, i64, i64, i64, p], None
        self.forward.argtypes, self.forward.restype = [p, i64, i64, i64] + [p] * 7, None
        self.weight.argtypes, self.weight.restype = [p, i64, i64] + [p] * 6, None

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
        k, nb = _threads.plan(np, shape.n, o * shape.c * shape.kk * shape.n * shape.qw, shape.n, split_min=_SPLIT_MIN)

        def block(n0, m, state):
            if "xp" not in state:
                state["xp"] = np.zeros(shape.c * shape.plane, np.float32)
                state["ow"] = np.empty(o * shape.qw, np.float32)
            self.forward(shape.g.ctypes.data, t, n0, n0 + m, shape.off.ctypes.data, x.ctypes.data, wp.ctypes.data,
                         None if b is None else b.ctypes.data, state["xp"].ctypes.data, state["ow"].ctypes.data,
                         out.ctypes.data)

        _threads.for_blocks(np, shape.n, nb, k, block)
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
        k, nb = _threads.plan(np, shape.n, o * taps * shape.n * shape.qw, shape.n, split_min=_SPLIT_MIN)

        def block(n0, m, state):
            if "acc" not in state:
                state["acc"] = np.zeros(tiles * 20)
                state["xp"] = np.zeros(shape.g[-1] * shape.c * shape.plane, np.float32)
                state["gy"] = np.zeros(shape.g[-1] * 4 * blocks * shape.qw, np.float32)
            self.weight(shape.g.ctypes.data, n0, n0 + m, shape.off.ctypes.data, x.ctypes.data, g4.ctypes.data,
                        state["xp"].ctypes.data, state["gy"].ctypes.data, state["acc"].ctypes.data)

        states = _threads.for_blocks(np, shape.n, nb, k, block)
        acc = sum(s["acc"] for s in states).reshape(-1, blocks, 4, 5)
        gw = acc.transpose(1, 2, 0, 3).reshape(4 * blocks, -1)[:o, :taps]
        return gw.astype(np.float32)
