"""scaled_dot_product_attention in C: per head, the scores by the BLAS's GEMM (called from C on the heads' rows
where they are: a transformer's (batch, L, heads, E) layout needs no copy), their softmax row by row, and the
weighted values by the BLAS again; the gradient's four products the same way around the scores' gradient. NumPy's
forms run a stacked matmul per product and a pass over all the (L, S) weights per elementwise step between them.

``lower_attention`` gives the ``Attention`` ops without dropout, without a mask or with the causal one, of float32
or float64, and their ``AttentionGrad`` ops (when no mask needs a gradient), this module's nodes. The forward keeps
the attention weights ``p`` (B, H, L, S), zero where masked, as NumPy's form does; inputs C does not take when the
node runs (not 3-D or 4-D, broadcast batch dimensions, another dtype, no BLAS found) run NumPy's forms, and a
gradient runs NumPy's form after them (it reads its forward's ``p``, ``halves`` and ``dead``, whichever form set
them). float32 rows run in 16-lane vectors; results differ from NumPy's by rounding (the exponential is
``em_exp_f32``, the scale is the GEMM's alpha). Heads split over OpenMP threads only while the BLAS runs on one
thread (see _threads_for). Where the q, k and v gradients go only into the gradient of a qkv split (a
transformer's), the gradient writes them side by side and that join is no copy (``JoinedSplitBackward``).
"""
import ctypes
import math

import numpy as np

from ..ops import _threads
from ..ops.attention import Attention, AttentionGrad, _heads_last
from ..ops.join import SplitBackward
from ..ops.shape import Permute, Reshape
from . import blas, render_c
from .lower import SUFFIX, function_table, swap_nodes, swap_to_c

__all__ = ["BODY", "lower_attention"]

_ROWS = r"""
/* Row functions: a row of S scores (or of their gradient), of which the keys j < n count (the causal mask; the
   rest is set to 0). float32 rows run in vectors of 16 lanes (GCC's vector extension, which GCC and Clang compile
   to whole registers: rows are short, and the auto-vectoriser left these loops scalar), the lanes past n masked;
   a scalar loop takes what is left of the S columns past the last 16. */
typedef float em_attn_vf __attribute__((vector_size(64)));
typedef float em_attn_vfu __attribute__((vector_size(64), aligned(4)));
typedef int32_t em_attn_vi __attribute__((vector_size(64)));

static inline em_attn_vf em_attn_sel(em_attn_vi m, em_attn_vf a, em_attn_vf b)
{
    return (em_attn_vf)((m & (em_attn_vi)a) | (~m & (em_attn_vi)b));
}

/* em_exp_f32 on 16 lanes, its steps */
static inline em_attn_vf em_attn_exp(em_attn_vf x)
{
    const em_attn_vf hi = (em_attn_vf){0} + 88.7228394f, lo = (em_attn_vf){0} - 103.972084f;
    em_attn_vf xc = em_attn_sel(x < hi, x, hi);
    xc = em_attn_sel(xc > lo, xc, lo);
    const em_attn_vf n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    em_attn_vf r = n * -0.693359375f + xc;
    r = n * 2.12194440e-4f + r;
    const em_attn_vf z = r * r;
    em_attn_vf p = (em_attn_vf){0} + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    const em_attn_vi k = __builtin_convertvector(n, em_attn_vi), k1 = k / 2, k2 = k - k1;
    em_attn_vf y = p * (em_attn_vf)((k1 + 127) << 23) * (em_attn_vf)((k2 + 127) << 23);
    y = em_attn_sel(x > hi, (em_attn_vf){0} + INFINITY, y);
    y = em_attn_sel(x < lo, (em_attn_vf){0}, y);
    return em_attn_sel(x != x, x, y);
}

/* the largest (sum) of 16 lanes, by halves */
static inline float em_attn_hmax(em_attn_vf v)
{
    float a[16];
    *(em_attn_vfu *)a = v;
    for (int w = 8; w > 0; w /= 2)
        for (int j = 0; j < w; ++j)
            a[j] = a[j + w] > a[j] ? a[j + w] : a[j];
    return a[0];
}

static inline float em_attn_hsum(em_attn_vf v)
{
    float a[16];
    *(em_attn_vfu *)a = v;
    for (int w = 8; w > 0; w /= 2)
        for (int j = 0; j < w; ++j)
            a[j] += a[j + w];
    return a[0];
}

#define EM_ATTN_LANES                                                                                           \
    const em_attn_vi iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};                             \
    const int64_t whole = S / 16 * 16, vn = (n + 15) / 16 * 16 < whole ? (n + 15) / 16 * 16 : whole;
#define EM_ATTN_IN(j0) (iota + (int32_t)(j0) < (int32_t)n)

/* the scores' softmax: exp(s - max) / sum (a NaN is passed over by the maximum: exp(NaN - m) makes its row NaN) */
static void em_attn_softmax_f32(float *s, int64_t n, int64_t S)
{
    EM_ATTN_LANES
    em_attn_vf mx = (em_attn_vf){0} - INFINITY;
    for (int64_t j0 = 0; j0 < vn; j0 += 16) {
        const em_attn_vf x = *(const em_attn_vfu *)(s + j0);
        mx = em_attn_sel(EM_ATTN_IN(j0) & (x > mx), x, mx);
    }
    float m = em_attn_hmax(mx);
    for (int64_t j = vn; j < n; ++j)
        m = s[j] > m ? s[j] : m;
    em_attn_vf sv = (em_attn_vf){0};
    for (int64_t j0 = 0; j0 < vn; j0 += 16) {
        const em_attn_vf e = em_attn_exp(*(const em_attn_vfu *)(s + j0) - m);
        *(em_attn_vfu *)(s + j0) = e;
        sv += em_attn_sel(EM_ATTN_IN(j0), e, (em_attn_vf){0});
    }
    float sum = em_attn_hsum(sv);
    for (int64_t j = vn; j < n; ++j) {
        s[j] = em_exp_f32(s[j] - m);
        sum += s[j];
    }
    const float r = 1.0f / sum;
    for (int64_t j0 = 0; j0 < whole; j0 += 16)
        *(em_attn_vfu *)(s + j0) = em_attn_sel(EM_ATTN_IN(j0), *(const em_attn_vfu *)(s + j0) * r, (em_attn_vf){0});
    for (int64_t j = whole; j < S; ++j)
        s[j] = j < n ? s[j] * r : 0;
}

/* the scores' gradient from d = g v^T and the weights p: p * (d - sum(p * d)) * scale */
static void em_attn_score_grad_f32(float *d, const float *p, int64_t n, int64_t S, float scale)
{
    EM_ATTN_LANES
    em_attn_vf dv = (em_attn_vf){0};
    for (int64_t j0 = 0; j0 < vn; j0 += 16) {
        const em_attn_vf x = *(const em_attn_vfu *)(d + j0) * *(const em_attn_vfu *)(p + j0);
        dv += em_attn_sel(EM_ATTN_IN(j0), x, (em_attn_vf){0});
    }
    float dot = em_attn_hsum(dv);
    for (int64_t j = vn; j < n; ++j)
        dot += d[j] * p[j];
    for (int64_t j0 = 0; j0 < whole; j0 += 16) {
        const em_attn_vf y = *(const em_attn_vfu *)(p + j0) * (*(const em_attn_vfu *)(d + j0) - dot) * scale;
        *(em_attn_vfu *)(d + j0) = em_attn_sel(EM_ATTN_IN(j0), y, (em_attn_vf){0});
    }
    for (int64_t j = whole; j < S; ++j)
        d[j] = j < n ? p[j] * (d[j] - dot) * scale : 0;
}

/* float64 (no vectors of its own: em_exp_f64 is the C library's) */
static void em_attn_softmax_f64(double *s, int64_t n, int64_t S)
{
    double m = s[0], sum = 0;
    for (int64_t j = 1; j < n; ++j)
        m = s[j] > m ? s[j] : m;
    for (int64_t j = 0; j < n; ++j) {
        s[j] = exp(s[j] - m);
        sum += s[j];
    }
    for (int64_t j = 0; j < S; ++j)
        s[j] = j < n ? s[j] / sum : 0;
}

static void em_attn_score_grad_f64(double *d, const double *p, int64_t n, int64_t S, double scale)
{
    double dot = 0;
    for (int64_t j = 0; j < n; ++j)
        dot += d[j] * p[j];
    for (int64_t j = 0; j < S; ++j)
        d[j] = j < n ? p[j] * (d[j] - dot) * scale : 0;
}
"""

_TEMPLATE = r"""
typedef void (*em_attn_gemm64_SFX)(int, int, int, int64_t, int64_t, int64_t, real, const real *, int64_t,
                                   const real *, int64_t, real, real *, int64_t);
typedef void (*em_attn_gemm32_SFX)(int, int, int, int, int, int, real, const real *, int, const real *, int, real,
                                   real *, int);

/* c (m x n, row stride ldc) = alpha op(a) (m x k) @ op(b) (k x n), row-major, by the BLAS's GEMM fn (64-bit or
   32-bit sizes: wide); op(x) is x's transpose where ta (tb) */
static void em_attn_gemm_SFX(void *fn, int wide, int ta, int tb, int64_t m, int64_t n, int64_t k, real alpha,
                             const real *a, int64_t lda, const real *b, int64_t ldb, real *c, int64_t ldc)
{
    if (wide)
        ((em_attn_gemm64_SFX)fn)(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, (real)0, c,
                                 ldc);
    else
        ((em_attn_gemm32_SFX)fn)(101, ta ? 112 : 111, tb ? 112 : 111, (int)m, (int)n, (int)k, alpha, a, (int)lda,
                                 b, (int)ldb, (real)0, c, (int)ldc);
}

/* per head: the scores q k^T * scale into p's rows (the BLAS), their softmax, out = p v (the BLAS) */
void em_attention_SFX(void *geoo, double scale, void *gemm, int wide, int nthreads, void *qo, void *ko, void *vo,
                      void *oo, void *po)
{
    EM_ATTN_GEO
    const real *q = EM_DATA(qo, const real), *k = EM_DATA(ko, const real), *v = EM_DATA(vo, const real);
    real *out = EM_DATA(oo, real), *p = EM_DATA(po, real);
    EM_OMP(parallel for if(parallel: nthreads > 1) num_threads(nthreads) schedule(dynamic))
    for (int64_t bh = 0; bh < B * H; ++bh) {
        const int64_t b = bh / H, h = bh % H;
        real *ph = p + bh * L * S;
        em_attn_gemm_SFX(gemm, wide, 0, 1, L, S, E, (real)scale, q + b * st[0] + h * st[1], st[2],
                         k + b * st[3] + h * st[4], st[5], ph, S);
        for (int64_t i = 0; i < L; ++i)
            em_attn_softmax_SFX(ph + i * S, causal && i + 1 < S ? i + 1 : S, S);
        em_attn_gemm_SFX(gemm, wide, 0, 0, L, EV, S, 1, ph, S, v + b * st[6] + h * st[7], st[8],
                         out + b * st[9] + h * st[10], st[11]);
    }
}

/* the gradients of q, k and v (need: bits 1, 2, 4) from the weights p and the output gradient g (strides 9-11),
   ds (L x S) scratch: gv = p^T g, ds = p * (g v^T - rowsum(p * g v^T)) * scale, gq = ds k, gk = ds^T q */
void em_attention_grad_SFX(void *geoo, double scale_d, void *gemm, int wide, int nthreads, int need, void *qo,
                           void *ko, void *vo, void *go, void *po, void *dso, void *gqo, void *gko, void *gvo)
{
    EM_ATTN_GEO
    const real scale = (real)scale_d;
    const real *q = EM_DATA(qo, const real), *k = EM_DATA(ko, const real), *v = EM_DATA(vo, const real);
    const real *g = EM_DATA(go, const real), *p = EM_DATA(po, const real);
    real *gq = EM_DATA(gqo, real), *gk = EM_DATA(gko, real), *gv = EM_DATA(gvo, real);
    EM_OMP(parallel for if(parallel: nthreads > 1) num_threads(nthreads) schedule(static))
    for (int t = 0; t < nthreads; ++t)  /* thread t: a block of heads, its own (L, S) scratch */
    for (int64_t bh = B * H * t / nthreads; bh < B * H * (t + 1) / nthreads; ++bh) {
        real *ds = EM_DATA(dso, real) + t * L * S;
        const int64_t b = bh / H, h = bh % H;
        const real *qh = q + b * st[0] + h * st[1], *gh = g + b * st[9] + h * st[10], *ph = p + bh * L * S;
        if (need & 4)
            em_attn_gemm_SFX(gemm, wide, 1, 0, S, EV, L, 1, ph, S, gh, st[11], gv + b * st[18] + h * st[19],
                             st[20]);
        if (!(need & 3))
            continue;
        em_attn_gemm_SFX(gemm, wide, 0, 1, L, S, EV, 1, gh, st[11], v + b * st[6] + h * st[7], st[8], ds, S);
        for (int64_t i = 0; i < L; ++i)
            em_attn_score_grad_SFX(ds + i * S, ph + i * S, causal && i + 1 < S ? i + 1 : S, S, scale);
        if (need & 1)
            em_attn_gemm_SFX(gemm, wide, 0, 0, L, E, S, 1, ds, S, k + b * st[3] + h * st[4], st[5],
                             gq + b * st[12] + h * st[13], st[14]);
        if (need & 2)
            em_attn_gemm_SFX(gemm, wide, 1, 0, S, E, L, 1, ds, S, qh, st[2], gk + b * st[15] + h * st[16], st[17]);
    }
}
"""

BODY = r"""
/* geo: B, H, L, S, E, EV, causal, then the (batch, head, row) strides in elements of q, k, v, the output (or g)
   and, for the gradient, gq, gk, gv; the last dimension of each is contiguous, a row stride at least its length.
   A causal row i sees keys j <= i. */
#define EM_ATTN_GEO                                                                                             \
    const int64_t *geo = EM_DATA(geoo, const int64_t);                                                          \
    const int64_t B = geo[0], H = geo[1], L = geo[2], S = geo[3], E = geo[4], EV = geo[5], causal = geo[6];     \
    const int64_t *st = geo + 7;
""" + _ROWS + _TEMPLATE.replace("real", "float").replace("SFX", "f32") + \
    _TEMPLATE.replace("real", "double").replace("SFX", "f64")


def _heads(a):
    """a's (batch, head, row) strides in elements (a 3-D array: one head), or None when the BLAS cannot read it (its
    last dimension not contiguous, rows overlapping, misaligned)."""
    rows, n = a.shape[-2:]
    row = a.strides[-2] // a.itemsize if rows > 1 else n
    if (n > 1 and a.strides[-1] != a.itemsize) or row < n or not a.flags.aligned:
        return None
    batch = [s // a.itemsize for s in a.strides[:-2]]
    return batch + [row] if a.ndim == 4 else [batch[0], 0, row]


def _geometry(causal, q, k, v, *more):
    """geo for the C functions (see BODY), with the arrays made contiguous where the BLAS cannot read them as they
    are: (geo, q, k, v, *more)."""
    arrays = [a if _heads(a) is not None else np.ascontiguousarray(a) for a in (q, k, v, *more)]
    b, h = q.shape[:2] if q.ndim == 4 else (q.shape[0], 1)
    dims = [b, h, q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1], int(causal)]
    return (np.array(dims + [s for a in arrays for s in _heads(a)], np.int64), *arrays)


def _blas(xp, q, k, v):
    """(the address of NumPy's BLAS GEMM for q's dtype, whether its sizes are 64-bit) when C takes these inputs:
    NumPy arrays of one C dtype, of 3 or 4 dimensions with the same batch dimensions, none empty; else None (and
    without a BLAS)."""
    if xp is not np or q.dtype not in SUFFIX or not q.dtype == k.dtype == v.dtype or q.ndim not in (3, 4) or \
            not q.shape[:-2] == k.shape[:-2] == v.shape[:-2] or 0 in q.shape + k.shape + v.shape:
        return None
    functions = blas.find()
    if functions is None:
        return None
    return functions.addresses["sgemm" if q.dtype == np.float32 else "dgemm"], functions.int_type == "int64_t"


def _threads_for(p):
    """The OpenMP threads of a call over the heads of weights p: several only while the BLAS runs on one thread
    (a graph whose segments own the threads), whose GEMMs then run on the calling threads; else 1 (the BLAS's
    threads spin between calls, and an OpenMP team beside them made a gpt_small step 3x slower)."""
    return render_c.threads_for(p.size) if _threads.blas_held() else 1


class CAttention(Attention):
    """Attention run by C (see the module docstring); its weights in ``p`` (``halves`` and ``dead`` None), or NumPy's
    form's where C does not take the inputs."""

    lib = None  # {dtype suffix: (forward, gradient)}, set by lower_attention
    runs = "c"

    def forward(self, xp, q, k, v, bias=None):
        self.p = self.dead = None  # (the gradient's links read them whichever form runs)
        gemm = _blas(xp, q, k, v)
        if gemm is None or not (bias is None or self.causal) or self.drop_mask is not None or self.random:
            return super().forward(xp, q, k, v, bias)
        out = _heads_last(np, q.shape[:-1] + (v.shape[-1],), q.dtype)
        p = np.empty(q.shape[:-1] + (k.shape[-2],), q.dtype)
        geo, q, k, v, _ = _geometry(self.causal, q, k, v, out)
        self.lib[SUFFIX[q.dtype]][0](geo, float(self.scale), *gemm, _threads_for(p), q, k, v, out, p)
        self.p, self.halves = p, None
        return out


class CAttentionGrad(AttentionGrad):
    """AttentionGrad run by C from its forward's weights ``p`` (see the module docstring); NumPy's form for
    NumPy's halves or fully masked rows, or a mask's gradient."""

    lib = None
    runs = "c"
    causal = False  # the forward's (set by lower_attention): rows skip their masked (zero) weights
    joined = False  # the three gradients are joined by a JoinedSplitBackward (set by lower_attention)

    def forward(self, xp, q, k, v, bias, g):
        nq, nk, nv, nb = self.needs
        p = self.p
        gemm = _blas(xp, q, k, v)
        if gemm is None or nb or self.halves is not None or self.dead is not None or self.drop_mask is not None or \
                p is None or not p.flags.c_contiguous or p.dtype != q.dtype or g.dtype != q.dtype:
            return super().forward(xp, q, k, v, bias, g)
        if self.joined and nq and nk and nv and q.ndim == 4 and q.shape == k.shape == v.shape:
            b, h, L, e = q.shape  # side by side in one (B, L, 3, H, E) array (see JoinedSplitBackward)
            joined = np.empty((b, L, 3, h, e), q.dtype)
            outs = [joined[:, :, i].transpose(0, 2, 1, 3) for i in range(3)]
        else:
            outs = [_heads_last(np, a.shape, a.dtype) for a in (q, k, v)]
        geo, q, k, v, g, *_ = _geometry(self.causal, q, k, v, g, *outs)
        need = (1 if nq else 0) | (2 if nk else 0) | (4 if nv else 0)
        threads = _threads_for(p)
        scratch = np.empty((threads,) + p.shape[-2:], p.dtype)
        self.lib[SUFFIX[q.dtype]][1](geo, float(self.scale), *gemm, threads, need, q, k, v, g, p, scratch, *outs)
        return tuple(o if n else None for o, n in zip(outs, (nq, nk, nv))) + (None,)


class JoinedSplitBackward(SplitBackward):
    """The SplitBackward joining the q, k and v gradients of a CAttentionGrad (through the heads' permute and
    reshape: a transformer's qkv split) which wrote them side by side in one array: that array, without a copy,
    when the pieces are where the join would put them (else NumPy's concatenation)."""

    def forward(self, xp, *grads):
        joined = _joined(grads, self.shape, self.dim, self.sizes) if xp is np else None
        return super().forward(xp, *grads) if joined is None else joined


def _joined(grads, shape, dim, sizes):
    """The array of ``shape`` whose consecutive pieces along dim the grads are (views of one array), or None."""
    base = getattr(grads[0], "base", None)
    if base is None or any(g is None or g.base is not base for g in grads) or not base.flags.c_contiguous or \
            base.size != math.prod(shape) or base.dtype != grads[0].dtype:
        return None
    full = base.reshape(shape)
    start = 0
    for g, size in zip(grads, sizes):
        want = full[(slice(None),) * dim + (slice(start, start + size),)]
        if g.shape != want.shape or g.strides != want.strides or \
                g.__array_interface__["data"][0] != want.__array_interface__["data"][0]:
            return None
        start += size
    return full


def _join_gradients(graph):
    """graph with each CAttentionGrad whose q, k and v gradients go only, each through Permute(0, 2, 1, 3) and a
    Reshape merging the heads, into one SplitBackward (in that order, along the last dimension) writing them side
    by side (``joined``), that SplitBackward a JoinedSplitBackward. The ops list is replaced."""
    readers, handed_out = graph.readers(), graph.handed_out()

    def only_reader(v, cls):
        at = readers.get(id(v), [])
        op = graph.ops[at[0]] if len(at) == 1 and id(v) not in handed_out else None
        return op if op is not None and type(op.node) is cls else None

    joins = {}
    for op in graph.ops:
        if type(op.node) is not CAttentionGrad or any(o is None for o in op.outputs[:3]):
            continue
        ends = []
        for o in op.outputs[:3]:
            permute = only_reader(o, Permute)
            reshape = permute and tuple(permute.node.dims) == (0, 2, 1, 3) and only_reader(permute.outputs[0], Reshape)
            ends.append(reshape.outputs[0] if reshape else None)
        split = only_reader(ends[0], SplitBackward) if ends[0] is not None else None
        if split is not None and all(a is e for a, e in zip(split.args, ends)) and len(split.args) == 3 and \
                split.node.dim % len(split.node.shape) == len(split.node.shape) - 1:
            op.node.joined = True
            joins[id(split)] = JoinedSplitBackward
    return swap_nodes(graph, joins) if joins else graph


def _functions(lib):
    i32, f64, obj, ptr = ctypes.c_int, ctypes.c_double, ctypes.py_object, ctypes.c_void_p
    return function_table(lib, (("attention", [obj, f64, ptr, i32, i32] + [obj] * 5, None),
                                ("attention_grad", [obj, f64, ptr, i32, i32, i32] + [obj] * 9, None)))


def lower_attention(graph, load):
    """graph with its attention ops without dropout or a mask needing a gradient, and their gradients, run by C (its
    ops list replaced; the other Op objects are shared). A gradient's weights are linked to its forward's ``p``,
    ``dead`` and ``halves``, set by whichever form ran. ``load()`` gives the library of ``BODY``."""
    forwards = {id(op) for op in graph.ops if type(op.node) is Attention and op.args[0].dtype in SUFFIX and
                op.node.drop_mask is None and not op.node.random and (op.args[3] is None or op.node.causal)}
    classes = dict.fromkeys(forwards, CAttention)
    for op in graph.ops:
        sources = {id(src) for src, _, _ in op.links.values()}
        if type(op.node) is AttentionGrad and len(sources) == 1 and sources <= forwards and not op.node.needs[3]:
            classes[id(op)] = CAttentionGrad
    graph = swap_to_c(graph, classes, lambda: _functions(load()))
    for op in graph.ops:
        if type(op.node) is CAttentionGrad:
            src = next(iter(op.links.values()))[0]
            op.links = {attr: (src, attr, None) for attr in ("p", "dead", "halves")}
            op.node.causal = src.node.causal
    return _join_gradients(graph)
