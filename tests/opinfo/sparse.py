"""Sparse COO tensors: building, converting (casts too), coalescing, summing and sparse-dense products. The entries
take the values a sparse tensor is built from (and the dense operand) as their differentiable inputs, and give dense
outputs, so that values and gradients compare with PyTorch's."""
import ember

from . import Idx, OpInfo, Sample, T

# a 3x4 pattern with a duplicate index, (0, 2), and an empty column
_I = [[0, 2, 0, 1, 2], [2, 1, 2, 3, 0]]
_SHAPE = (3, 4)
_EMPTY = [[], []]


def _coo(lib, v, indices=_I, size=_SHAPE):
    return lib.sparse_coo_tensor(indices, v, size)


def _product(lib, v, x, how, indices=_I):
    s = _coo(lib, v, indices)
    if how == "sparse.mm":
        return lib.sparse.mm(s, x)
    if how == "sparse.mm right":
        return lib.sparse.mm(x, s)
    if how == "mm":
        return lib.mm(s, x)
    if how == "spmm":
        return lib.spmm(s, x)
    if how == "matmul right":
        return x @ s
    if how == "mv":
        return lib.mv(s, x)
    return s @ x


def _embedding_grad(lib, g):
    """The sparse gradient Embedding(sparse=True) gives its weight for output gradient g, as a dense tensor."""
    weight = lib.zeros(6, 3, dtype=g.dtype, requires_grad=True)
    with lib.enable_grad():  # (the values are compared under no_grad)
        out = lib.nn.functional.embedding(lib.tensor([1, 4, 1, 0]), weight, padding_idx=0, sparse=True)
        return lib.autograd.grad(out, weight, g)[0].to_dense()


ENTRIES = [
    OpInfo(("SparseCooTensor", "ToDense", "SparseValuesAt"),
           lambda v, indices, size: ember.sparse_coo_tensor(indices, v, size).to_dense(),
           [Sample(T((5,)), _I, _SHAPE), Sample(T((3, 2)), [[0, 2, 0]], (3, 2)), Sample(T((0,)), _EMPTY, _SHAPE)],
           ref=lambda torch, v, indices, size: torch.sparse_coo_tensor(indices, v, size).to_dense(),
           name="sparse_coo_tensor"),
    OpInfo(("Coalesce", "Values"), lambda v: _coo(ember, v).coalesce().values(), [Sample(T((5,)))],
           ref=lambda torch, v: _coo(torch, v).coalesce().values(), name="coalesce"),
    OpInfo("ToSparse", lambda x, *dims: x.to_sparse(*dims).to_dense(),
           [Sample(T((3, 4))), Sample(T((2, 3, 2)), 2), Sample(T((5,)))],
           ref=lambda torch, x, *dims: x.to_sparse(*dims).to_dense(), name="to_sparse"),
    OpInfo(("ToSparse", "Values"), lambda x: x.to_sparse().values(), [Sample(T((3, 4)))],
           ref=lambda torch, x: x.to_sparse().values(), name="to_sparse_values"),
    OpInfo(("SparseMM", "SampledMM"), lambda v, x, how, *i: _product(ember, v, x, how, *i),
           [Sample(T((5,)), T((4, 2)), "sparse.mm"), Sample(T((5,)), T((2, 3)), "sparse.mm right"),
            Sample(T((0,)), T((4, 2)), "sparse.mm", _EMPTY)],
           ref=lambda torch, v, x, how, *i: _product(torch, v, x, how, *i), name="sparse.mm"),
    OpInfo("SparseMM", lambda v, x, how: _product(ember, v, x, how),
           [Sample(T((5,)), T((4, 2)), "mm"), Sample(T((5,)), T((4, 3)), "spmm"), Sample(T((5,)), T((4,)), "@"),
            Sample(T((5,)), T((2, 3)), "matmul right"), Sample(T((5,)), T((4,)), "mv")],
           ref=lambda torch, v, x, how: _product(torch, v, x, how), name="sparse_matmul"),
    # casts keep the layout: a sparse copy with converted values (differentiable into a floating-point dtype)
    OpInfo("SparseToCopy", lambda v, *i: _coo(ember, v, *i).to(ember.float64, copy=True).to_dense(),
           [Sample(T((5,))), Sample(T((3, 2)), [[0, 2, 0]], (3, 2)), Sample(T((0,)), _EMPTY)],
           ref=lambda torch, v, *i: _coo(torch, v, *i).to(torch.float64, copy=True).to_dense(), name="sparse.to"),
    OpInfo(("SparseToCopy", "Coalesce", "Values"), lambda v: _coo(ember, v).coalesce().to(ember.float64,
                                                                                           copy=True).values(),
           [Sample(T((5,)))], ref=lambda torch, v: _coo(torch, v).coalesce().to(torch.float64, copy=True).values(),
           name="sparse.to_coalesced"),
    OpInfo("SparseToCopy", lambda v: _coo(ember, v).long().to_dense(), [Sample(T((5,), (-5.0, 5.0)))],
           ref=lambda torch, v: _coo(torch, v).long().to_dense(), grad=False, name="sparse.long"),
    OpInfo("SparseToCopy", lambda v: _coo(ember, v).float().to_dense(), [Sample(Idx((5,), 4))],
           ref=lambda torch, v: _coo(torch, v).float().to_dense(), grad=False, name="sparse_int.float"),
    # type promotion casts a sparse operand: a float64 dense plus a sparse float32 (float64 when the dtype is),
    # and a float dense plus an int64 sparse (gcn's eye(V) + adjacency)
    OpInfo("SparseToCopy", lambda x, v: x.double() + _coo(ember, v), [Sample(T((3, 4)), T((5,)))],
           ref=lambda torch, x, v: x.double() + _coo(torch, v), name="sparse_promoted"),
    OpInfo("SparseToCopy", lambda x, v: x + _coo(ember, v), [Sample(T((3, 4)), Idx((5,), 4))],
           ref=lambda torch, x, v: x + _coo(torch, v), name="sparse_int_promoted"),
    OpInfo("EmbeddingSparseBackward", lambda g: _embedding_grad(ember, g), [Sample(T((4, 3)))],
           ref=_embedding_grad, grad=False, name="embedding_sparse_grad"),
    OpInfo("SparseSum", lambda v, *i: ember.sparse.sum(_coo(ember, v, *i)), [Sample(T((5,))), Sample(T((0,)), _EMPTY)],
           ref=lambda torch, v, *i: torch.sparse.sum(_coo(torch, v, *i)), name="sparse.sum"),
]
