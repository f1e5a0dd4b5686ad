"""An embedding's gradient in C: the output gradient's rows added into the table's rows at the looked-up indices.

NumPy's form (``EmbeddingBackward``) scatters with ``add.at`` or, for many lookups into a small table, a one-hot
matrix product (a transformer's token embedding: 1024 lookups into 65 rows, 0.25 ms of gpt_small's step). C adds
each row in turn, in the order of the lookups (``add.at``'s order and bits; the one-hot product's differ by
rounding): 1024 rows of 128 floats in ~0.02 ms. ``lower_embeddings`` gives it the float32 and float64
gradients without ``scale_grad_by_freq``; NumPy's form runs where the arrays are not NumPy's or an index is out
of range (its error is the eager one).
"""
import ctypes

import numpy as np

from ..ops.embedding import EmbeddingBackward
from .lower import SUFFIX, function_table, swap_to_c

__all__ = ["BODY", "lower_embeddings", "CEmbeddingBackward"]

BODY = r"""
#define EM_EMBEDDING_GRAD(T, S)                                                                                 \
/* out (num, d), zeroed, += g (n, d) row i into row idx[i], in order of i; 1 + the first i whose index is out of  \
   [0, num) (the caller redoes it the eager way), else 0 */                                                     \
int64_t em_embedding_grad_##S(int64_t n, int64_t num, int64_t d, void *idxo, void *go, void *outo)             \
{                                                                                                               \
    const int64_t *idx = EM_DATA(idxo, const int64_t);                                                          \
    const T *g = EM_DATA(go, const T);                                                                          \
    T *out = EM_DATA(outo, T);                                                                                  \
    for (int64_t i = 0; i < n; ++i) {                                                                           \
        const int64_t r = idx[i];                                                                               \
        if (r < 0 || r >= num)                                                                                  \
            return i + 1;                                                                                       \
        T *restrict o = out + r * d;                                                                            \
        const T *restrict gi = g + i * d;                                                                       \
        EM_OMP(simd)                                                                                            \
        for (int64_t j = 0; j < d; ++j)                                                                         \
            o[j] += gi[j];                                                                                      \
    }                                                                                                           \
    return 0;                                                                                                   \
}
EM_EMBEDDING_GRAD(float, f32)
#ifndef EM_FLOAT32_ONLY
EM_EMBEDDING_GRAD(double, f64)
#endif
"""


class CEmbeddingBackward(EmbeddingBackward):
    """EmbeddingBackward run by C where it can (see the module docstring)."""

    lib = None  # {dtype suffix: (embedding_grad,)}: lower_embeddings
    runs = "c"

    def forward(self, xp, g):
        suffix = SUFFIX.get(g.dtype)
        if xp is not np or suffix is None or self.idx.__class__ is not np.ndarray or not self.idx.size:
            return super().forward(xp, g)
        idx = np.ascontiguousarray(self.idx.reshape(-1), dtype=np.int64)
        row = g.shape[self.idx.ndim:]
        flat = np.ascontiguousarray(g).reshape(idx.size, -1)
        out = np.zeros((self.num,) + row, g.dtype)
        if self.lib[suffix][0](idx.size, self.num, flat.shape[1], idx, flat, out):
            return super().forward(xp, g)
        if self.padding_idx is not None:
            out[self.padding_idx] = 0
        return out


def _functions(lib):
    i64, obj = ctypes.c_int64, ctypes.py_object
    return function_table(lib, (("embedding_grad", [i64] * 3 + [obj] * 3, i64),))


def lower_embeddings(graph, load):
    """graph with its embeddings' gradients (float32, float64) run by C (its ops list replaced; the other Op objects
    are shared). ``load()`` gives the library of ``BODY``; it is built when such a node first runs."""
    lowered = {id(op): CEmbeddingBackward for op in graph.ops
               if type(op.node) is EmbeddingBackward and op.outputs[0].dtype in SUFFIX and not op.node.by_freq}
    return swap_to_c(graph, lowered, lambda: _functions(load()))
