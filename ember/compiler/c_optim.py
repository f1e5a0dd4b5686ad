"""Optimizer updates in C: SGD (momentum, dampening, Nesterov, weight decay) and Adam / AdamW (not AMSGrad) in one
pass over a parameter, its gradient and its state, where NumPy's forms take 3 to 9.

A graph's ``OptimizerUpdate`` ops of these optimizers get this module's ``OptimizerUpdate`` node, the same op
run by C (``lower_updates``; the graph prints it with ``{runs='c'}``): each run reads
the group's hyper-parameters (a scheduler's learning rate needs no retrace), keeps the state as the optimizer
does (its step count, its buffers, made by the same rules) and calls the C function, whose arithmetic is the
NumPy form's, operation by operation (the hyper-parameters rounded to the parameter's dtype as NumPy rounds
them), so a compiled step updates the parameters to the same bits as an eager one. What the C functions do not
cover (AMSGrad, parameters and gradients of different or other dtypes, non-NumPy arrays, hyper-parameters that
are not numbers), and SGD on small parameters (``SGD_C_MIN``), runs the optimizer's own update.
"""
import ctypes
import math
import numbers

import numpy as np

from ..optim.adam import Adam, AdamW
from ..optim import optimizer as _optimizer
from ..optim.sgd import SGD
from . import render_c
from .lower import SUFFIX, function_table, swap_to_c

__all__ = ["BODY", "lower_updates", "OptimizerUpdate"]

BODY = r"""
/* every choice is a select on a value fixed for the loop (no branch, no conditional store), so the loops
   vectorise; a choice that NumPy's form skips is skipped here too (x + 0 * inf would be NaN). GCC would copy
   each loop for every combination of those values (5x the compile time, no faster: the loops wait on memory).
   SGD's updates are span functions (n values on the calling thread: a segment also runs them on the rows of a
   weight gradient as its product makes them, c_graph) split over nthreads threads; Adam's loop stays the body
   of its parallel loop (as a function of its own, GCC 12 leaves it scalar under the pragma: 4.5x slower) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-unswitch-loops")
#endif
#define EM_SPLIT(n, nthreads, SPAN)                                                                             \
    EM_OMP(parallel for if(parallel: nthreads > 1) num_threads(nthreads) schedule(static))                     \
    for (int t = 0; t < nthreads; ++t) {                                                                        \
        const int64_t lo = (n) * t / nthreads, hi = (n) * (t + 1) / nthreads;                                   \
        SPAN;                                                                                                   \
    }
#define EM_OPTIM(T, S)                                                                                          \
static inline void em_sgd_span_##S(int64_t n, double lr, double wd, int maximize, T *restrict p,                \
                                   const T *restrict g)                                                         \
{                                                                                                               \
    const T tlr = (T)lr, twd = (T)wd;                                                                           \
    EM_OMP(simd)                                                                                                \
    for (int64_t i = 0; i < n; ++i) {                                                                           \
        const T pi = p[i], gm = maximize ? -g[i] : g[i];                                                        \
        const T gi = wd != 0 ? gm + twd * pi : gm;                                                              \
        p[i] = pi - tlr * gi;                                                                                   \
    }                                                                                                           \
}                                                                                                               \
EM_API void em_sgd_##S(int64_t n, int nthreads, double lr, double wd, int maximize, void *po, void *go)         \
{                                                                                                               \
    T *p = EM_DATA(po, T);                                                                                      \
    const T *g = EM_DATA(go, const T);                                                                          \
    EM_SPLIT(n, nthreads, em_sgd_span_##S(hi - lo, lr, wd, maximize, p + lo, g + lo))                           \
}                                                                                                               \
static inline void em_sgd_momentum_span_##S(int64_t n, double lr, double wd, double momentum, double undamped,  \
                                            int nesterov, int first, int maximize, T *restrict p,              \
                                            const T *restrict g, T *restrict b)                                 \
{                                                                                                               \
    const T tlr = (T)lr, twd = (T)wd, tm = (T)momentum, tu = (T)undamped;                                       \
    EM_OMP(simd)                                                                                                \
    for (int64_t i = 0; i < n; ++i) {                                                                           \
        const T pi = p[i], gm = maximize ? -g[i] : g[i];                                                        \
        const T gi = wd != 0 ? gm + twd * pi : gm;                                                              \
        const T bm = b[i] * tm;                                                                                 \
        const T bi = first ? gi : bm + tu * gi;  /* tu is 1 without dampening: 1 * gi is gi, bit for bit */    \
        b[i] = bi;                                                                                              \
        p[i] = pi - tlr * (nesterov ? gi + tm * bi : bi);                                                       \
    }                                                                                                           \
}                                                                                                               \
EM_API void em_sgd_momentum_##S(int64_t n, int nthreads, double lr, double wd, double momentum, double undamped, \
                         int nesterov, int first, int maximize, void *po, void *go, void *bo)                  \
{                                                                                                               \
    T *p = EM_DATA(po, T);                                                                                      \
    const T *g = EM_DATA(go, const T);                                                                          \
    T *b = EM_DATA(bo, T);                                                                                      \
    EM_SPLIT(n, nthreads, em_sgd_momentum_span_##S(hi - lo, lr, wd, momentum, undamped, nesterov, first,       \
                                                   maximize, p + lo, g + lo, b + lo))                           \
}                                                                                                               \
EM_API void em_adam_##S(int64_t n, int nthreads, double decay, int decoupled, double wd, double c1, double beta2, \
                 double c2, double bc2_sqrt, double eps, double step_size, int maximize,                       \
                 void *po, void *go, void *mo, void *vo)                                                        \
{                                                                                                               \
    T *restrict p = EM_DATA(po, T);                                                                             \
    const T *restrict g = EM_DATA(go, const T);                                                                 \
    T *restrict m = EM_DATA(mo, T);                                                                             \
    T *restrict v = EM_DATA(vo, T);                                                                             \
    const T tdecay = (T)decay, twd = (T)wd, tc1 = (T)c1, tb2 = (T)beta2, tc2 = (T)c2, tbc = (T)bc2_sqrt;        \
    const T teps = (T)eps, tstep = (T)step_size;                                                                \
    const int coupled = !decoupled && wd != 0;                                                                  \
    EM_OMP(parallel for simd if(parallel: nthreads > 1) num_threads(nthreads) schedule(static))                 \
    for (int64_t i = 0; i < n; ++i) {                                                                           \
        const T p0 = p[i], gm = maximize ? -g[i] : g[i];                                                        \
        const T pi = decoupled ? p0 * tdecay : p0;                                                              \
        const T gi = coupled ? gm + twd * p0 : gm;                                                              \
        const T mi = m[i] + (gi - m[i]) * tc1;                                                                  \
        const T vi = v[i] * tb2 + (gi * gi) * tc2;                                                              \
        m[i] = mi;                                                                                              \
        v[i] = vi;                                                                                              \
        p[i] = pi + (mi / (em_sqrt_##S(vi) / tbc + teps)) * tstep;                                              \
    }                                                                                                           \
}

EM_OPTIM(float, f32)
#ifndef EM_FLOAT32_ONLY
EM_OPTIM(double, f64)
#endif
"""

_NUMBER_TYPES = (float, int, bool)
# below this many elements NumPy's 2 to 4 loops of an SGD update cost no more than the call into C (measured,
# with momentum: 4096 values, 3.9 against 4.5 us; 400k values, 125 against 73 us); Adam's 9 loops always do
SGD_C_MIN = 1 << 14


def _numbers(*values):
    return all(v.__class__ in _NUMBER_TYPES or isinstance(v, numbers.Real) for v in values)


def sgd_group(group):
    """(lr, weight decay, momentum, 1 - dampening, nesterov, maximize) of an SGD group's updates in C, or None
    where C does not cover its values (the same for each of its parameters: see sgd_arguments)."""
    lr, wd, momentum, dampening = group["lr"], group["weight_decay"], group["momentum"], group["dampening"]
    if not _numbers(lr, wd, momentum, dampening):
        return None
    return lr, wd, momentum, 1 - dampening, bool(group["nesterov"]), bool(group.get("maximize", False))


def same_layout(a, p):
    """Whether the state array a can be read beside p by the C updates: an array of p's dtype and shape,
    C-contiguous, aligned and writeable."""
    return a.__class__ is np.ndarray and a.flags.carray and a.dtype == p.dtype and a.shape == p.shape


def sgd_arguments(group, state, p):
    """The C arguments of an SGD update of p: (with momentum, (lr, weight decay, momentum, 1 - dampening, nesterov,
    first step, maximize), start) where ``start()`` makes the state the update needs (the momentum buffer on the
    first step) and gives its arrays; None where C does not cover the group's values."""
    scalars = sgd_group(group)
    if scalars is None:
        return None
    lr, wd, momentum, undamped, nesterov, maximize = scalars
    buf = state.get("momentum_buffer") if momentum else None
    if buf is not None and not same_layout(buf, p):
        return None
    first = bool(momentum) and buf is None

    def start():
        if first:
            state["momentum_buffer"] = np.empty_like(p)
        return (state["momentum_buffer"],) if momentum else ()
    return bool(momentum), (lr, wd, momentum, undamped, nesterov, first, maximize), start


def adam_group(optimizer, group):
    """(lr, beta1, beta2, eps, weight decay, decoupled, maximize) of an Adam or AdamW group's updates in C, or None
    where C does not cover its values (AMSGrad, hyper-parameters that are not numbers)."""
    lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
    if group.get("amsgrad", False) or not _numbers(lr, beta1, beta2, eps, wd):
        return None
    return lr, beta1, beta2, eps, wd, bool(optimizer.decoupled and wd), bool(group.get("maximize", False))


def adam_scalars(hyper, step):
    """The C arguments of the updates of step ``step`` in a group of these adam_group values: (decay, decoupled,
    weight decay, 1 - beta1, beta2, 1 - beta2, sqrt(1 - beta2 ** step), eps, step size, maximize)."""
    lr, beta1, beta2, eps, wd, decoupled, maximize = hyper
    return (1 - lr * wd, decoupled, wd, 1 - beta1, beta2, 1 - beta2, math.sqrt(1 - beta2 ** step), eps,
            -lr / (1 - beta1 ** step), maximize)


def adam_step(state, p):
    """The step count p's next update makes (its state as the optimizer keeps it), or None where its moment
    buffers are of another layout than p."""
    if "exp_avg" not in state:
        return 1
    if not (same_layout(state["exp_avg"], p) and same_layout(state["exp_avg_sq"], p)):
        return None
    return state["step"] + 1


def adam_start(state, p):
    """Advance p's state for its update (its step count; the moment buffers on the first step): (exp_avg,
    exp_avg_sq)."""
    if "exp_avg" not in state:
        state["step"], state["exp_avg"], state["exp_avg_sq"] = 0, np.zeros_like(p), np.zeros_like(p)
    state["step"] += 1
    return state["exp_avg"], state["exp_avg_sq"]


def adam_arguments(optimizer, group, state, p):
    """The C arguments of an Adam or AdamW update of p: (adam_scalars, start) where ``start()`` advances the state
    (adam_start) and gives (exp_avg, exp_avg_sq); None where C does not cover the group's values or the state."""
    hyper = adam_group(optimizer, group)
    step = None if hyper is None else adam_step(state, p)
    if step is None:
        return None
    return adam_scalars(hyper, step), lambda: adam_start(state, p)


class OptimizerUpdate(_optimizer.OptimizerUpdate):
    """The optimizer's OptimizerUpdate op, run by the C function of its optimizer where it can (see the module
    docstring)."""

    lib = None  # {dtype suffix: the C functions of ``BODY``}, set by lower_updates
    runs = "c"

    def forward(self, xp, p, g):
        suffix = SUFFIX.get(p.dtype)
        sgd = isinstance(self.optimizer, SGD)
        if (xp is not np or suffix is None or g.dtype != p.dtype or g.shape != p.shape or not p.flags.carray
                or (sgd and p.size < SGD_C_MIN)):
            return super().forward(xp, p, g)
        if not g.flags.carray:
            g = np.array(g, order="C")
        threads = render_c.threads_for(p.size)
        fns = self.lib[suffix]
        if sgd:
            args = sgd_arguments(self.group, self.state, p)
            if args is None:
                return super().forward(xp, p, g)
            momentum, (lr, wd, m, undamped, nesterov, first, maximize), start = args
            if momentum:
                fns[1](p.size, threads, lr, wd, m, undamped, nesterov, first, maximize, p, g, *start())
            else:
                fns[0](p.size, threads, lr, wd, maximize, p, g)
            return p
        args = adam_arguments(self.optimizer, self.group, self.state, p)
        if args is None:
            return super().forward(xp, p, g)
        scalars, start = args
        fns[2](p.size, threads, *scalars[:-1], scalars[-1], p, g, *start())
        return p


def _functions(lib):
    """{suffix: (sgd, sgd with momentum, adam)} with their argument types."""
    i64, i32, f64, obj = ctypes.c_int64, ctypes.c_int, ctypes.c_double, ctypes.py_object
    return function_table(lib, (
        ("sgd", [i64, i32, f64, f64, i32, obj, obj], None),
        ("sgd_momentum", [i64, i32, f64, f64, f64, f64, i32, i32, i32, obj, obj, obj], None),
        ("adam", [i64, i32, f64, i32, f64, f64, f64, f64, f64, f64, f64, i32, obj, obj, obj, obj], None)))


def _supported(op):
    node = op.node
    if type(node) is not _optimizer.OptimizerUpdate or type(node.optimizer) not in (SGD, Adam, AdamW):
        return False
    return type(node.optimizer) is not SGD or math.prod(op.args[0].shape) >= SGD_C_MIN


def lower_updates(graph, load):
    """graph with its updates of SGD, Adam and AdamW run by C (its ops list replaced; the other Op objects are
    shared with the graph it was made from). ``load()`` gives the library of ``BODY``; it is built when
    such a node first runs outside a C segment."""
    supported = {id(op): OptimizerUpdate for op in graph.ops if _supported(op)}
    return swap_to_c(graph, supported, lambda: _functions(load()))
