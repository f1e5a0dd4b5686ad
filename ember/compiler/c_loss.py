"""cross_entropy in C: the loss of logits and class-index targets, and its gradient, one pass over each row.

``F.cross_entropy(x, target)`` is an ``NllLoss`` op and its gradient an ``NllLossGrad``; in NumPy they take about
fifteen small array operations each (a few microseconds apiece, most of a small model's step). ``lower_losses``
gives the pairs that C covers this module's nodes: logits of shape (N, C) in float32 or float64, int64 targets,
no class weights, no label smoothing, reduction "mean" or "sum" (``ignore_index`` is honoured), and a gradient
node that only the loss's own gradient reads. The forward writes each row's log-softmax (shifted by the row's
maximum, sums in double) and adds up the targets' terms; the gradient is ``(softmax - onehot(target)) * scale``
per kept row, zero for ignored ones. Results equal NumPy's to float rounding. A target out of range, or logits
that are not finite, make the forward run NumPy's form instead (its errors and its NaNs are the eager ones).
"""
import ctypes

import numpy as np

from ..ops.loss import NllLoss, NllLossGrad
from . import render_c
from .lower import SUFFIX, function_table, swap_to_c

__all__ = ["BODY", "lower_losses"]

BODY = r"""
#define EM_XENT(T, S)                                                                                           \
/* rows [0, n) of x (n, c): logp = x - max - log(sum exp(x - max)); sums[0] += -logp[i, t[i]] and sums[1] += 1 \
   over the rows whose target is not ignore. Returns 0, or 1 + the first row whose target is out of [0, c) or   \
   whose values are not finite (the caller redoes the loss the eager way). */                                   \
EM_API int64_t em_xent_##S(int64_t n, int64_t c, int64_t ignore, int nthreads, void *xo, void *to, void *lo,    \
                    void *so)                                                                                   \
{                                                                                                               \
    double *restrict sums = EM_DATA(so, double);                                                                \
    const T *restrict x = EM_DATA(xo, const T);                                                                 \
    const int64_t *restrict t = EM_DATA(to, const int64_t);                                                     \
    T *restrict logp = EM_DATA(lo, T);                                                                          \
    for (int64_t i = 0; i < n; ++i)                                                                             \
        if (t[i] != ignore && (t[i] < 0 || t[i] >= c))                                                          \
            return i + 1;                                                                                       \
    double total = 0, kept = 0;                                                                                 \
    int64_t bad = 0;                                                                                            \
    EM_OMP(parallel for reduction(+: total, kept) reduction(max: bad) if(parallel: nthreads > 1)                \
           num_threads(nthreads) schedule(static))                                                              \
    for (int64_t i = 0; i < n; ++i) {                                                                           \
        const T *restrict xi = x + i * c;                                                                       \
        T *restrict li = logp + i * c;                                                                          \
        T m = xi[0];                                                                                            \
        for (int64_t j = 1; j < c; ++j)                                                                         \
            m = xi[j] > m ? xi[j] : m;                                                                          \
        double s = 0;                                                                                           \
        for (int64_t j = 0; j < c; ++j)                                                                         \
            s += (double)em_exp_##S(xi[j] - m);                                                                 \
        if (!(m - m == 0) || !(s > 0 && s <= (double)c)) {  /* an infinity or a NaN in the row */               \
            bad = i + 1 > bad ? i + 1 : bad;                                                                    \
            continue;                                                                                           \
        }                                                                                                       \
        const T shift = m + (T)log(s);                                                                          \
        for (int64_t j = 0; j < c; ++j)                                                                         \
            li[j] = xi[j] - shift;                                                                              \
        if (t[i] != ignore) {                                                                                   \
            total -= (double)li[t[i]];                                                                          \
            kept += 1;                                                                                          \
        }                                                                                                       \
    }                                                                                                           \
    sums[0] = total;                                                                                            \
    sums[1] = kept;                                                                                             \
    return bad;                                                                                                 \
}                                                                                                               \
/* the gradient: g[i, j] = (exp(logp[i, j]) - (j == t[i])) * scale for kept rows, 0 for ignored ones */         \
EM_API void em_xent_grad_##S(int64_t n, int64_t c, int64_t ignore, int nthreads, double scale, void *lo, void *to, \
                      void *go)                                                                                 \
{                                                                                                               \
    const T *restrict logp = EM_DATA(lo, const T);                                                              \
    const int64_t *restrict t = EM_DATA(to, const int64_t);                                                     \
    T *restrict g = EM_DATA(go, T);                                                                             \
    const T a = (T)scale;                                                                                       \
    EM_OMP(parallel for if(parallel: nthreads > 1) num_threads(nthreads) schedule(static))                      \
    for (int64_t i = 0; i < n; ++i) {                                                                           \
        const T ai = t[i] == ignore ? (T)0 : a;                                                                 \
        const T *restrict li = logp + i * c;                                                                    \
        T *restrict gi = g + i * c;                                                                             \
        for (int64_t j = 0; j < c; ++j)                                                                         \
            gi[j] = em_exp_##S(li[j]) * ai;                                                                     \
        if (t[i] != ignore)                                                                                     \
            gi[t[i]] -= ai;                                                                                     \
    }                                                                                                           \
}

EM_XENT(float, f32)
#ifndef EM_FLOAT32_ONLY
EM_XENT(double, f64)
#endif
"""


class CrossEntropy(NllLoss):
    """NllLoss of logits and class-index targets run by C (see the module docstring); what it saves for its
    gradient is (denominator, (flat targets, ignore_index), log-probabilities)."""

    lib = None  # {dtype suffix: (loss, gradient) C functions}, set by lower_losses
    runs = "c"

    def forward(self, xp, x, target):
        suffix = SUFFIX[x.dtype]
        x = x if x.flags.carray else np.array(x, order="C")
        t = target.reshape(-1)
        t = t if t.flags.carray and t.dtype == np.int64 else np.ascontiguousarray(t, np.int64)
        n, c = x.shape
        logp = np.empty_like(x)
        sums = np.empty(2)
        threads = render_c.threads_for(x.size)
        if n and self.lib[suffix][0](n, c, self.targets[0], threads, x, t, logp, sums):
            # the eager form, for its error or its NaNs (its gradient node then runs NumPy's form too)
            return NllLoss.forward(self, xp, x, target)
        self.shape = x.shape
        denom = sums[1] if self.reduction == "mean" else 1.0
        self.saved = (denom, (t, self.targets[0]), logp)
        with np.errstate(divide="ignore", invalid="ignore"):  # an empty or fully ignored batch: NaN, as eager
            return np.array(sums[0] / denom if self.reduction == "mean" else sums[0], x.dtype)


class CrossEntropyGrad(NllLossGrad):
    """NllLossGrad of a CrossEntropy run by C (the NumPy form where its loss ran NumPy's)."""

    lib = None
    runs = "c"

    def forward(self, xp, g, x):
        if len(self.saved[1]) != 2:  # the loss ran the eager form: its saved values are NumPy's
            return NllLossGrad.forward(self, xp, g, x)
        denom, (t, ignore), logp = self.saved
        scale = float(g) / denom if self.reduction == "mean" else float(g)
        out = np.empty_like(logp)
        threads = render_c.threads_for(logp.size)
        self.lib[SUFFIX[logp.dtype]][1](logp.shape[0], logp.shape[1], ignore, threads, scale, logp, t, out)
        return out


def _functions(lib):
    i64, i32, f64, obj = ctypes.c_int64, ctypes.c_int, ctypes.c_double, ctypes.py_object
    return function_table(lib, (("xent", [i64, i64, i64, i32, obj, obj, obj, obj], i64),
                                ("xent_grad", [i64, i64, i64, i32, f64, obj, obj, obj], None)))


def _covered_loss(op):
    node, args = op.node, op.args
    return (type(node) is NllLoss and node.from_logits and node.targets is not None and not node.targets[1]
            and node.reduction in ("mean", "sum") and len(args) == 2 and len(args[0].shape) == 2
            and args[0].dtype in SUFFIX and args[1].dtype == np.int64 and not op.raw)


def _covered_grad(op, loss):
    node = op.node
    return (type(node) is NllLossGrad and node.from_logits and node.n_outputs == 1 and len(op.args) == 2
            and set(op.links) == {"saved"} and op.links["saved"][0] is loss and not op.raw)


def lower_losses(graph, load):
    """graph with its cross-entropy losses (and their gradients) run by C, where every op reading a loss's saved
    values is a gradient C runs too (its ops list replaced; the other Op objects are shared). ``load()`` gives the
    library of ``BODY``; it is built when such a node first runs outside a C segment."""
    readers = {}
    for op in graph.ops:
        for src, _, _ in op.links.values():
            readers.setdefault(id(src), []).append(op)
    lowered = {}
    for op in graph.ops:
        if _covered_loss(op) and all(_covered_grad(r, op) for r in readers.get(id(op), ())):
            lowered[id(op)] = CrossEntropy
            for r in readers.get(id(op), ()):
                lowered[id(r)] = CrossEntropyGrad
    return swap_to_c(graph, lowered, lambda: _functions(load()))
