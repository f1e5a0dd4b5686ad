"""The LSTM cell in C: one pass per step for the gates' activations and the new state, and one for its gradient,
where NumPy's forms take about ten passes over the (4H, B) gates each.

``lower_rnns`` gives the ``LSTMLayer`` and ``LSTMLayerGrad`` ops of float32 or float64 arrays this module's
nodes: the same layer loop (NumPy's BLAS for the recurrent GEMMs), with each step's cell run by C. The arithmetic
is the NumPy form's, operation by operation; tanh is the C backend's float32 tanh (within a few ulp of NumPy's),
so results differ from eager by rounding.
"""
import ctypes

import numpy as np

from ..ops.rnn import LSTMLayer, LSTMLayerGrad
from .lower import c_array, function_table, swap_to_c

__all__ = ["BODY", "lower_rnns"]

BODY = r"""
#define EM_LSTM(T, S)                                                                                           \
/* one step on (4H, B) gates a, whose i, f, o rows hold half their pre-activations: a += gh, then the          */ \
/* activations [i f g o] into a (a sigmoid is 0.5 * tanh(x / 2) + 0.5), c = f * c_prev + i * g, tc = tanh(c),  */ \
/* h = o * tc (each (H, B): hb values)                                                                          */ \
void em_lstm_step_##S(int64_t hb, void *ao, void *gho, void *cpo, void *co, void *tco, void *ho)               \
{                                                                                                               \
    /* a pointer per gate (rows that do not overlap), so that the loop vectorises */                            \
    T *restrict ai = EM_DATA(ao, T), *restrict af = ai + hb, *restrict ag = ai + 2 * hb, *restrict ao_ = ai + 3 * hb; \
    const T *restrict hi = EM_DATA(gho, const T), *restrict hf = hi + hb, *restrict hg = hi + 2 * hb;           \
    const T *restrict ho_ = hi + 3 * hb, *restrict cp = EM_DATA(cpo, const T);                                  \
    T *restrict c = EM_DATA(co, T), *restrict tc = EM_DATA(tco, T), *restrict h = EM_DATA(ho, T);               \
    EM_OMP(simd)  /* without it GCC leaves the tanh calls scalar (8x slower) */                                 \
    for (int64_t k = 0; k < hb; ++k) {                                                                          \
        const T i = em_tanh_##S(ai[k] + hi[k]) * (T)0.5 + (T)0.5;                                               \
        const T f = em_tanh_##S(af[k] + hf[k]) * (T)0.5 + (T)0.5;                                               \
        const T g = em_tanh_##S(ag[k] + hg[k]);                                                                 \
        const T o = em_tanh_##S(ao_[k] + ho_[k]) * (T)0.5 + (T)0.5;                                             \
        const T ck = f * cp[k] + i * g, t = em_tanh_##S(ck);                                                    \
        ai[k] = i;                                                                                              \
        af[k] = f;                                                                                              \
        ag[k] = g;                                                                                              \
        ao_[k] = o;                                                                                             \
        c[k] = ck;                                                                                              \
        tc[k] = t;                                                                                              \
        h[k] = o * t;                                                                                           \
    }                                                                                                           \
}                                                                                                               \
/* its gradient: from the activations a, c_prev, tc and dh (dc if has_dc), the gates' gradient into dg         */ \
/* (4H, B) and c_prev's into dcp                                                                                 */ \
void em_lstm_step_grad_##S(int64_t hb, int has_dc, void *ao, void *cpo, void *tco, void *dho, void *dco,       \
                           void *dgo, void *dcpo)                                                               \
{                                                                                                               \
    const T *restrict ai = EM_DATA(ao, const T), *restrict af = ai + hb, *restrict ag = ai + 2 * hb;           \
    const T *restrict ao_ = ai + 3 * hb, *restrict cp = EM_DATA(cpo, const T);                                  \
    const T *restrict tc = EM_DATA(tco, const T), *restrict dh = EM_DATA(dho, const T);                         \
    const T *restrict dc = EM_DATA(dco, const T);                                                               \
    T *restrict di = EM_DATA(dgo, T), *restrict df = di + hb, *restrict dgg = di + 2 * hb;                      \
    T *restrict dgo_ = di + 3 * hb, *restrict dcp = EM_DATA(dcpo, T);                                           \
    EM_OMP(simd)                                                                                                \
    for (int64_t k = 0; k < hb; ++k) {                                                                          \
        const T i = ai[k], f = af[k], g = ag[k], o = ao_[k], t = tc[k];                                         \
        const T d0 = ((T)1 - t * t) * o * dh[k];                                                                \
        const T d = has_dc ? d0 + dc[k] : d0;                                                                   \
        di[k] = d * g * (i - i * i);                                                                            \
        df[k] = d * cp[k] * (f - f * f);                                                                        \
        dgg[k] = d * i * ((T)1 - g * g);                                                                        \
        dgo_[k] = dh[k] * t * (o - o * o);                                                                      \
        dcp[k] = d * f;                                                                                         \
    }                                                                                                           \
}

EM_LSTM(float, f32)
EM_LSTM(double, f64)
"""

_SUFFIX = {np.dtype("float32"): "f32", np.dtype("float64"): "f64"}


class CLSTMLayer(LSTMLayer):
    """LSTMLayer with each step's cell run by C (see the module docstring)."""

    lib = None  # {dtype suffix: (step, step gradient)}, set by lower_rnns
    runs = "c"

    def _cell(self, xp, a, gh, c_prev, c, tc, h, tmp):
        fns = self.lib[_SUFFIX[a.dtype]] if xp is np and a.dtype in _SUFFIX else None
        if fns is None or not all(x.flags.c_contiguous for x in (a, gh, c, tc, h)):
            return super()._cell(xp, a, gh, c_prev, c, tc, h, tmp)
        fns[0](c.size, a, gh, c_array(c_prev), c, tc, h)


class CLSTMLayerGrad(LSTMLayerGrad):
    """LSTMLayerGrad with each step's cell gradient run by C (see the module docstring)."""

    lib = None
    runs = "c"

    def _cell_grad(self, xp, a, c_prev, tc, dh, dc, dg, dct, d):
        fns = self.lib[_SUFFIX[a.dtype]] if xp is np and a.dtype in _SUFFIX else None
        if fns is None or not all(x.flags.c_contiguous for x in (a, tc, dg, dct)):
            return super()._cell_grad(xp, a, c_prev, tc, dh, dc, dg, dct, d)
        fns[1](tc.size, dc is not None, a, c_array(c_prev), tc, c_array(dh), dct if dc is None else c_array(dc), dg,
               dct)
        return dct


def _functions(lib):
    i64, i32, obj = ctypes.c_int64, ctypes.c_int, ctypes.py_object
    return function_table(lib, (("lstm_step", [i64] + [obj] * 6, None),
                                ("lstm_step_grad", [i64, i32] + [obj] * 7, None)))


def lower_rnns(graph, load):
    """graph with its LSTM layers (and their gradients) run with C cells (its ops list replaced; the other Op
    objects are shared). ``load()`` gives the library of ``BODY``; it is built when such a node first runs."""
    classes = {id(op): CLSTMLayer if type(op.node) is LSTMLayer else CLSTMLayerGrad for op in graph.ops
               if type(op.node) in (LSTMLayer, LSTMLayerGrad) and op.args[0].dtype in _SUFFIX}
    return swap_to_c(graph, classes, lambda: _functions(load()))
