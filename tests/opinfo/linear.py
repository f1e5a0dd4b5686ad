"""Products: linear (and its gradient node LinearGrad), matmul/@ and the 2-D/batched/vector forms, einsum."""
import numpy as np

import ember
import ember.nn.functional as F

from . import OpInfo, Sample, T

_X = np.linspace(-1.0, 1.0, 12).reshape(4, 3)


def _linear_constant_weight(fw, x):
    return fw.nn.functional.linear(x, fw.tensor(_X, dtype=x.dtype), fw.tensor(_X[:, 0], dtype=x.dtype))

ENTRIES = [
    OpInfo(("Linear", "LinearGrad"), F.linear,
           [Sample(T((4, 3)), T((5, 3)), T((5,))), Sample(T((2, 4, 3)), T((5, 3))), Sample(T((3,)), T((5, 3)), T(())),
            Sample(T((0, 3)), T((5, 3)), T((5,)))],
           ref=lambda torch, *a: torch.nn.functional.linear(*a), name="linear"),
    # gradients needed for some inputs only: a constant input, then a constant weight and bias
    OpInfo(("Linear", "LinearGrad"), lambda w, b: F.linear(ember.tensor(_X, dtype=w.dtype), w, b),
           [Sample(T((5, 3)), T((5,)))], name="linear_constant_input",
           ref=lambda torch, w, b: torch.nn.functional.linear(torch.tensor(_X, dtype=w.dtype), w, b)),
    OpInfo(("Linear", "LinearGrad"), lambda x: _linear_constant_weight(ember, x),
           [Sample(T((2, 3))), Sample(T((2, 2, 3)))], ref=_linear_constant_weight, name="linear_constant_weight"),
    OpInfo(("Matmul", "MatmulT"), ember.matmul,
           [Sample(T((3, 4)), T((4, 2))), Sample(T((2, 1, 2, 3)), T((3, 3, 2))), Sample(T((0, 3)), T((3, 2)))],
           ref=lambda torch, a, b: torch.matmul(a, b), method="matmul", name="matmul"),
    OpInfo(("Matmul", "MatmulT"), ember.matmul,
           [Sample(T((3,)), T((3,))), Sample(T((3,)), T((2, 3, 4))), Sample(T((2, 2, 3)), T((3,)))],
           ref=lambda torch, a, b: torch.matmul(a, b), method="matmul", name="matmul_vector"),
    OpInfo(("Matmul", "MatmulT"), lambda a, b: a @ b, [Sample(T((2, 3, 4)), T((4, 5)))],
           ref=lambda torch, a, b: a @ b, name="matmul_operator"),
    OpInfo(("Matmul", "MatmulT"), ember.mm, [Sample(T((2, 3)), T((3, 4)))],
           ref=lambda torch, a, b: torch.mm(a, b), method="mm", name="mm"),
    OpInfo(("Matmul", "MatmulT"), ember.bmm, [Sample(T((2, 2, 3)), T((2, 3, 4)))],
           ref=lambda torch, a, b: torch.bmm(a, b), method="bmm", name="bmm"),
    OpInfo(("Matmul", "MatmulT"), ember.mv, [Sample(T((2, 3)), T((3,)))],
           ref=lambda torch, a, b: torch.mv(a, b), method="mv", name="mv"),
    OpInfo(("Matmul", "MatmulT"), ember.dot, [Sample(T((4,)), T((4,)))],
           ref=lambda torch, a, b: torch.dot(a, b), method="dot", name="dot"),
    OpInfo(("Matmul",), ember.addmm, [Sample(T((3,)), T((2, 3)), T((3, 3)), beta=0.5, alpha=2.0)],
           ref=lambda torch, *a, **k: torch.addmm(*a, **k), method="addmm", name="addmm"),
    OpInfo("Einsum", ember.einsum,
           [Sample("ij,jk->ik", T((2, 3)), T((3, 4))), Sample("bij,bjk->bik", T((2, 2, 3)), T((2, 3, 2))),
            Sample("ij,ij->i", T((2, 3)), T((1, 3)))],
           ref=lambda torch, eq, *ops: torch.einsum(eq, *ops), name="einsum"),
    OpInfo("Einsum", ember.einsum,
           [Sample("ii->i", T((3, 3))), Sample("i,j,k->ijk", T((2,)), T((3,)), T((2,))), Sample("ij->", T((0, 3)))],
           ref=lambda torch, eq, *ops: torch.einsum(eq, *ops), name="einsum_diagonal_outer_empty"),
]
