"""Sparse COO tensors: construction, coalescing, conversion, casts and printing as PyTorch's; the gradients of a sparse
operand (sparse or dense, as PyTorch gives them); clear errors for misuse and for ops without a sparse form; a
2-layer GCN that trains. Values and gradients of every sparse op are also checked by tests/opinfo/sparse.py."""
import copy
import pickle

import numpy as np
import pytest

import ember
import ember.nn.functional as F

I = [[0, 1, 1, 0], [2, 0, 2, 2]]  # (0, 2) twice: uncoalesced
V = [3.0, 4.0, 5.0, 6.0]
D = np.random.default_rng(0).standard_normal((3, 2))


def _dense(t):
    return (t.to_dense() if t.is_sparse else t).detach().numpy()


# --- construction, structure, conversion -----------------------------------------------------------------------

CASES = {
    "uncoalesced": lambda lib: lib.sparse_coo_tensor(I, V, (2, 3)),
    "inferred size": lambda lib: lib.sparse_coo_tensor(I, V),
    "int values": lambda lib: lib.sparse_coo_tensor(I, [1, 2, 3, 4], (2, 3)),
    "dtype": lambda lib: lib.sparse_coo_tensor(I, V, (2, 3), dtype=lib.float64),
    "hybrid": lambda lib: lib.sparse_coo_tensor([[0, 2, 0]], [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], (3, 2)),
    "empty": lambda lib: lib.sparse_coo_tensor(lib.zeros(2, 0, dtype=lib.long), lib.zeros(0), (2, 3)),
    "one entry": lambda lib: lib.sparse_coo_tensor([[1], [0]], [2.0], (2, 2)),
    "to_sparse": lambda lib: lib.tensor([[0.0, 2.0, 0.0], [3.0, 0.0, -1.0]]).to_sparse(),
    "to_sparse(1)": lambda lib: lib.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 1.0]]).to_sparse(1),
    "to_sparse_coo": lambda lib: lib.tensor([[0.0, 2.0], [0.0, 0.0]]).to_sparse_coo(),
    "coalesced": lambda lib: lib.sparse_coo_tensor(I, V, (2, 3)).coalesce(),
    "requires_grad": lambda lib: lib.sparse_coo_tensor(I, V, (2, 3), requires_grad=True),
}


@pytest.mark.parametrize("case", CASES)
def test_structure_and_values_match_pytorch(case, torch):
    ours, theirs = CASES[case](ember), CASES[case](torch)
    assert ours.is_sparse and theirs.is_sparse
    assert ours.layout is ember.sparse_coo and repr(ours.layout) == str(theirs.layout).replace("torch", "ember")
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype.name == str(theirs.dtype)[6:]
    assert (ours._nnz(), ours.sparse_dim(), ours.dense_dim(), ours.is_coalesced(), ours.numel(), ours.dim()) == \
        (theirs._nnz(), theirs.sparse_dim(), theirs.dense_dim(), theirs.is_coalesced(), theirs.numel(), theirs.dim())
    assert ours.requires_grad == theirs.requires_grad and ours.is_leaf
    np.testing.assert_array_equal(ours._indices().numpy(), theirs._indices().numpy())
    np.testing.assert_array_equal(ours._values().numpy(), theirs._values().detach().numpy())
    np.testing.assert_array_equal(_dense(ours), theirs.to_dense().detach().numpy())
    c, tc = ours.coalesce(), theirs.coalesce()
    assert c.is_coalesced() and (c is ours) == (tc is theirs)
    np.testing.assert_array_equal(c.indices().numpy(), tc.indices().numpy())
    np.testing.assert_array_equal(c.values().detach().numpy(), tc.values().detach().numpy())
    assert c.indices().dtype is ember.int64 and not c.indices().requires_grad


@pytest.mark.parametrize("case", CASES)
def test_repr_matches_pytorch(case, torch):
    ours, theirs = CASES[case](ember), CASES[case](torch)
    if theirs.grad_fn is not None:  # the grad_fn names differ; the rest of the print does not
        pytest.skip("grad_fn")
    assert repr(ours) == repr(theirs).replace("torch.", "ember.")


def test_repr_shows_requires_grad_grad_fn_and_a_summary_of_many_values(torch):
    n = 1200
    idx = [list(range(n)), list(range(n))]
    ours = ember.sparse_coo_tensor(idx, np.arange(n, dtype=np.float32), (n, n))
    assert repr(ours) == repr(torch.sparse_coo_tensor(idx, torch.arange(n, dtype=torch.float32), (n, n))) \
        .replace("torch.", "ember.")
    v = ember.tensor(V, requires_grad=True)
    text = repr(ember.sparse_coo_tensor(I, v, (2, 3)))
    assert text.endswith("layout=ember.sparse_coo,\n       grad_fn=<SparseCooTensorBackward0>)")


def test_a_dense_tensor_is_strided_and_converts_to_itself():
    x = ember.ones(2, 2)
    assert x.layout is ember.strided and not x.is_sparse and repr(ember.strided) == "ember.strided"
    assert isinstance(ember.sparse_coo, ember.layout)
    assert x.to_dense() is x and (x.sparse_dim(), x.dense_dim()) == (0, 2)
    s = x.to_sparse()
    assert s.to_sparse() is s and s.to_sparse_coo() is s


def test_values_is_a_view_of_a_coalesced_tensor(torch):
    ours, theirs = CASES["coalesced"](ember), CASES["coalesced"](torch)
    ours.values().mul_(2)
    theirs.values().mul_(2)
    np.testing.assert_array_equal(_dense(ours), theirs.to_dense().numpy())


def test_pickle_and_deepcopy_keep_a_sparse_tensor():
    s = ember.sparse_coo_tensor(I, V, (2, 3), requires_grad=True)
    for other in (copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
        assert other.is_sparse and other.requires_grad and not other.is_coalesced()
        np.testing.assert_array_equal(_dense(other), _dense(s))


# --- gradients --------------------------------------------------------------------------------------------------

# Each function of (lib, sparse S of shape (2, 3), dense d of shape (3, 2)) gives a scalar; S's gradient is sparse
# (sparse.mm, to_dense, sparse.sum) or dense (mm, matmul, spmm), as in PyTorch.
GRADS = {
    "sparse.mm": lambda lib, s, d: lib.sparse.mm(s, d).sum(),
    "sparse.mm dense @ sparse": lambda lib, s, d: lib.sparse.mm(d, s).pow(2).sum(),
    "mm": lambda lib, s, d: lib.mm(s, d).sum(),
    "spmm": lambda lib, s, d: lib.spmm(s, d).pow(2).sum(),
    "@": lambda lib, s, d: (s @ d).pow(2).sum(),
    "@ vector": lambda lib, s, d: (s @ d[:, 0]).pow(2).sum(),
    "dense @ sparse": lambda lib, s, d: (d @ s).sum(),
    "to_dense": lambda lib, s, d: (s.to_dense() * 3).sum() + (d * 0).sum(),
    "sparse.sum": lambda lib, s, d: lib.sparse.sum(s) * 2 + (d * 0).sum(),
    "coalesce().values()": lambda lib, s, d: s.coalesce().values().pow(2).sum() + (d * 0).sum(),
    "sparse and dense gradients summed": lambda lib, s, d: lib.sparse.mm(s, d).sum() + lib.mm(s, d).pow(2).sum(),
    "two sparse gradients summed": lambda lib, s, d: lib.sparse.mm(s, d).sum() + s.to_dense().pow(2).sum(),
}


def _grads(lib, fn, leaf):
    """(S's gradient, d's gradient) where S is a leaf sparse tensor (leaf=True) or is built from values that require
    grad (then the values' gradient comes first)."""
    v = lib.tensor(V, dtype=lib.float64, requires_grad=not leaf)
    s = lib.sparse_coo_tensor(I, v, (2, 3), requires_grad=leaf)
    d = lib.tensor(D, requires_grad=True)
    fn(lib, s, d).backward()
    return (s.grad if leaf else v.grad), d.grad


@pytest.mark.parametrize("case", GRADS)
def test_gradients_of_a_sparse_leaf_match_pytorch(case, torch):
    (gs, gd), (ts, td) = _grads(ember, GRADS[case], True), _grads(torch, GRADS[case], True)
    assert gs.is_sparse == ts.is_sparse and gs.layout is (ember.sparse_coo if ts.is_sparse else ember.strided)
    if ts.is_sparse:  # PyTorch's sparse gradients are on the coalesced pattern (one entry per index): so are ember's
        assert gs._nnz() == ts._nnz()
        np.testing.assert_array_equal(gs.coalesce().indices().numpy(), ts.coalesce().indices().numpy())
    np.testing.assert_allclose(_dense(gs), ts.to_dense().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gd.numpy(), td.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", GRADS)
def test_gradients_of_the_values_match_pytorch(case, torch):
    (gv, gd), (tv, td) = _grads(ember, GRADS[case], False), _grads(torch, GRADS[case], False)
    np.testing.assert_allclose(gv.numpy(), tv.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gd.numpy(), td.numpy(), rtol=1e-12, atol=1e-12)


def test_gradients_accumulate_over_two_backward_calls(torch):
    for lib in (ember, torch):
        s = lib.sparse_coo_tensor(I, V, (2, 3), dtype=lib.float64, requires_grad=True)
        d = lib.tensor(D)
        lib.sparse.mm(s, d).sum().backward()
        lib.sparse.mm(s, d).sum().backward()
        sparse_twice = _dense(s.grad) if lib is ember else s.grad.to_dense().numpy()
        lib.mm(s, d).sum().backward()
        if lib is ember:
            ours = (sparse_twice, s.grad.layout is ember.strided, s.grad.numpy())
        else:
            theirs = (sparse_twice, s.grad.layout is torch.strided, s.grad.numpy())
    np.testing.assert_allclose(ours[0], theirs[0])
    assert ours[1] and theirs[1]
    np.testing.assert_allclose(ours[2], theirs[2])


def test_second_derivative_through_sparse_mm_matches_finite_differences():
    idx = [[0, 2, 0, 1], [2, 1, 2, 3]]

    def f(v, x):
        return ember.sparse.mm(ember.sparse_coo_tensor(idx, v, (3, 4)), x).tanh()

    v = ember.tensor(np.random.default_rng(1).standard_normal(4), requires_grad=True)
    x = ember.tensor(np.random.default_rng(2).standard_normal((4, 2)), requires_grad=True)
    assert ember.autograd.gradcheck(f, (v, x)) and ember.autograd.gradgradcheck(f, (v, x))


# --- errors -----------------------------------------------------------------------------------------------------

MISUSE = {
    "shape mismatch": (lambda lib, s: lib.sparse.mm(s, lib.ones(4, 2)), r"sparse\.mm: shapes \(2, 3\) and \(4, 2\) "
                       r"cannot be multiplied \(3 != 4\)"),
    "shape mismatch (@)": (lambda lib, s: s @ lib.ones(4, 2), r"matmul: shapes \(2, 3\) and \(4, 2\) cannot"),
    "shape mismatch, sparse on the right": (lambda lib, s: lib.mm(lib.ones(2, 3), s), r"mm: shapes \(2, 3\) and "
                                            r"\(2, 3\) cannot be multiplied \(3 != 2\)"),
    "dtype mismatch": (lambda lib, s: lib.sparse.mm(s, lib.ones(3, 2, dtype=lib.float64)),
                       "sparse.mm: expected both operands to have the same dtype, but got float32 and float64"),
    "dtype mismatch (mm)": (lambda lib, s: lib.mm(s, lib.ones(3, 2, dtype=lib.float64)), "mm: expected both"),
    "mv of a matrix": (lambda lib, s: lib.mv(s, lib.ones(3, 2)), r"mv: vector \+ matrix @ vector expected"),
    "batched": (lambda lib, s: s @ lib.ones(2, 3, 2), "batched products with a sparse tensor are not supported"),
    "nnz mismatch": (lambda lib, s: lib.sparse_coo_tensor(I, V[:3], (2, 3)),
                     "indices and values must have same nnz, but got nnz from indices: 4, nnz from values: 3"),
    "size rank": (lambda lib, s: lib.sparse_coo_tensor(I, V, (2, 3, 4)), r"size \(2, 3, 4\) must have sparse_dim "
                  r"\+ dense_dim = 2 \+ 0 dimensions"),
    "values of an uncoalesced tensor": (lambda lib, s: s.values(), "Cannot get values on an uncoalesced tensor, "
                                        r"please call \.coalesce\(\) first"),
    "indices of an uncoalesced tensor": (lambda lib, s: s.indices(), "Cannot get indices on an uncoalesced tensor"),
    "int values requiring grad": (lambda lib, s: lib.sparse_coo_tensor(I, [1, 2, 3, 4], requires_grad=True),
                                  "only Tensors of floating point"),
}


@pytest.mark.parametrize("case", MISUSE)
def test_misuse_raises_as_pytorch_does(case, torch):
    fn, message = MISUSE[case]
    with pytest.raises(RuntimeError):
        fn(torch, torch.sparse_coo_tensor(I, V, (2, 3)))
    with pytest.raises(RuntimeError, match=message):
        fn(ember, ember.sparse_coo_tensor(I, V, (2, 3)))


BEYOND = {  # misuse that ember refuses where PyTorch computes something (or crashes later)
    "index out of bounds": (lambda s: ember.sparse_coo_tensor(I, V, (1, 3)), RuntimeError,
                            r"index 1 is out of bounds for dimension 0 with size 1"),
    "negative index": (lambda s: ember.sparse_coo_tensor([[0, -1]], [1.0, 2.0], (2,)), RuntimeError,
                       "index -1 is out of bounds"),
    "indices not 2-D": (lambda s: ember.sparse_coo_tensor([0, 1], [1.0, 2.0]), RuntimeError,
                        r"indices must be a 2-D tensor of shape \(sparse_dim, nnz\)"),
    "non-integer indices": (lambda s: ember.sparse_coo_tensor([[0.5]], [1.0]), RuntimeError,
                            "indices must be an integer tensor"),
    "dense sizes": (lambda s: ember.sparse_coo_tensor([[0]], [[1.0, 2.0]], (2, 3)), RuntimeError,
                    r"the dense sizes \(3,\) of size \(2, 3\) must be the values' sizes \(2,\)"),
    "sparse @ sparse": (lambda s: ember.sparse.mm(s, s.to_dense().t().to_sparse()), NotImplementedError,
                        "the product of two sparse tensors is not supported"),
    "mm of a vector": (lambda s: ember.mm(s, ember.ones(3)), RuntimeError, "the dense operand must be a matrix, "),
    "hybrid product": (lambda s: ember.sparse.mm(CASES["hybrid"](ember), ember.ones(2, 2)), NotImplementedError,
                       "2-D sparse matrices with scalar values only"),
    "sparse.sum over a dim": (lambda s: ember.sparse.sum(s, dim=0), NotImplementedError, r"dim=0 is not supported"),
    "coalesce of a dense tensor": (lambda s: ember.ones(2).coalesce(), RuntimeError, "expected a sparse tensor"),
    "sparse on a GPU": (lambda s: ember.sparse_coo_tensor(I, V, device="cuda"), NotImplementedError,
                        "sparse tensors live on the CPU"),
    "cast to a GPU": (lambda s: s.to("cuda", ember.float64), NotImplementedError, "to: sparse tensors live on the CPU"),
}


@pytest.mark.parametrize("case", BEYOND)
def test_unsupported_uses_raise_clear_errors(case):
    fn, error, message = BEYOND[case]
    with pytest.raises(error, match=message):
        fn(ember.sparse_coo_tensor(I, V, (2, 3)))


NO_SPARSE_FORM = {  # op name in the message: what the user called
    "exp": lambda s: ember.exp(s),
    "add": lambda s: s + 1,
    "mul": lambda s: s * 2,
    "relu": lambda s: F.relu(s),
    "sigmoid": lambda s: s.sigmoid(),
    "linear": lambda s: ember.nn.Linear(3, 2)(s),
    "sum": lambda s: s.sum(),
    "reshape": lambda s: s.reshape(6),
    "getitem": lambda s: s[0],
    "clone": lambda s: s.clone(),
    "cat": lambda s: ember.cat([s, s]),
    "abs": lambda s: s.abs(),
    "mul_": lambda s: s.mul_(2),
    "stride": lambda s: s.stride(),
    "t": lambda s: s.t(),
}


@pytest.mark.parametrize("op", NO_SPARSE_FORM)
def test_ops_without_a_sparse_form_raise_naming_the_op(op):
    s = ember.sparse_coo_tensor(I, V, (2, 3))
    with pytest.raises(NotImplementedError, match=rf"^{op}: not supported for sparse tensors "
                                                  r"\(layout=ember\.sparse_coo\); convert with \.to_dense\(\) first"):
        NO_SPARSE_FORM[op](s)
    np.testing.assert_array_equal(_dense(s), [[0, 0, 9], [4, 0, 5]])  # unchanged


def test_conversion_to_numpy_raises_as_pytorch_does(torch):
    s = ember.sparse_coo_tensor(I, V, (2, 3))
    for convert in (lambda t: t.numpy(), np.asarray, lambda t: t.tolist()):
        with pytest.raises(TypeError, match="can't convert Sparse layout tensor to numpy. Use Tensor.to_dense"):
            convert(s)
    with pytest.raises(TypeError, match="can't convert Sparse layout tensor to numpy"):
        torch.sparse_coo_tensor(I, V, (2, 3)).numpy()


def test_dense_plus_sparse_is_dense_as_in_pytorch(torch):
    ours = ember.ones(2, 3) + ember.sparse_coo_tensor(I, V, (2, 3))
    theirs = torch.ones(2, 3) + torch.sparse_coo_tensor(I, V, (2, 3))
    assert not ours.is_sparse and not theirs.is_sparse
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# --- casts: a sparse tensor stays sparse, with converted values -------------------------------------------------

CASTS = {
    "to(float64)": lambda lib, s: s.to(lib.float64),
    "double() keeps coalesced": lambda lib, s: s.coalesce().double(),
    "long() truncates": lambda lib, s: s.long(),
    "long().float()": lambda lib, s: s.long().float(),
    "bool()": lambda lib, s: s.bool(),
    "half()": lambda lib, s: s.half(),
    "to(cpu, dtype)": lambda lib, s: s.to("cpu", lib.float16),
    "to(a dense tensor)": lambda lib, s: s.to(lib.ones(1, dtype=lib.float64)),
    "type_as(a sparse tensor)": lambda lib, s: s.long().type_as(s),
    "type(name)": lambda lib, s: s.type("torch.DoubleTensor"),
    "type(sparse name)": lambda lib, s: s.type("torch.sparse.LongTensor"),
    "to(copy=True)": lambda lib, s: s.to(copy=True),
}


@pytest.mark.parametrize("case", CASTS)
def test_casts_keep_the_layout_as_in_pytorch(case, torch):
    def build(lib):
        return lib.sparse_coo_tensor(I, [1.5, -2.7, 0.0, 6.0], (2, 3), requires_grad=True)

    ours, theirs = CASTS[case](ember, build(ember)), CASTS[case](torch, build(torch))
    assert ours.is_sparse and theirs.is_sparse and ours.type() == theirs.type()
    assert (ours.dtype.name, ours.is_coalesced(), ours.requires_grad) == \
        (str(theirs.dtype)[6:], theirs.is_coalesced(), theirs.requires_grad)
    np.testing.assert_array_equal(ours._indices().numpy(), theirs._indices().numpy())
    np.testing.assert_array_equal(ours._values().numpy(), theirs._values().detach().numpy())


def test_a_cast_is_a_copy():
    s = ember.sparse_coo_tensor(I, V, (2, 3)).coalesce()
    for other in (s.double(), s.to(copy=True)):
        assert other is not s
        other.values().mul_(2)
        other._indices().zero_()
    np.testing.assert_array_equal(_dense(s), [[0, 0, 9], [4, 0, 5]])


def test_the_gradient_of_a_cast_is_cast_back(torch):
    # sparse (through to_dense), as PyTorch's
    grads = []
    for lib in (ember, torch):
        s = lib.sparse_coo_tensor(I, V, (2, 3), requires_grad=True)
        (s.double().to_dense() * lib.arange(6.0, dtype=lib.float64).reshape(2, 3)).sum().backward()
        assert s.grad.is_sparse and s.grad.dtype is lib.float32
        grads.append((s.grad.coalesce().indices().numpy(), s.grad.coalesce().values().numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_array_equal(ours, theirs)
    # dense (through mm), where PyTorch's ToCopy backward refuses to give a sparse input a dense gradient
    s = ember.sparse_coo_tensor(I, V, (2, 3), requires_grad=True)
    ember.mm(s.double(), ember.tensor(D)).sum().backward()
    assert not s.grad.is_sparse and s.grad.dtype is ember.float32
    np.testing.assert_allclose(s.grad.numpy(), np.ones((2, 2)) @ D.T, rtol=1e-6)
    # not into an integer dtype
    assert not s.long().requires_grad and s.long().grad_fn is None


def test_type_as_another_layout_raises_as_pytorch_does(torch):
    for lib in (torch, ember):
        s, x = lib.sparse_coo_tensor(I, V, (2, 3)), lib.ones(2, dtype=lib.float64)
        for convert in (lambda: s.type_as(x), lambda: x.type_as(s)):
            with pytest.raises(RuntimeError, match="layout"):
                convert()


PROMOTED = {  # a binary op with a sparse operand of another dtype: the sparse operand is cast, as in PyTorch
    "eye + int64 sparse (gcn)": lambda lib: lib.eye(2, 3) + lib.sparse_coo_tensor(I, [1, 1, 1, 1], (2, 3)),
    "int64 dense + float32 sparse": lambda lib: lib.ones(2, 3, dtype=lib.int64) + lib.sparse_coo_tensor(I, V, (2, 3)),
    "float64 dense + float32 sparse": lambda lib: lib.ones(2, 3, dtype=lib.float64) + lib.sparse_coo_tensor(I, V),
}


@pytest.mark.parametrize("case", PROMOTED)
def test_binary_ops_promote_a_sparse_operand_as_pytorch_does(case, torch):
    ours, theirs = PROMOTED[case](ember), PROMOTED[case](torch)
    assert not ours.is_sparse and ours.dtype.name == str(theirs.dtype)[6:]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_the_gradient_of_a_promoted_sparse_operand_matches_pytorch(torch):
    grads = []
    for lib in (ember, torch):
        s = lib.sparse_coo_tensor(I, V, (2, 3), requires_grad=True)
        (lib.tensor(D.T) + s).pow(2).sum().backward()  # float64 + float32
        assert s.grad.dtype is lib.float32 and not s.grad.is_sparse
        grads.append(s.grad.numpy())
    np.testing.assert_allclose(*grads, rtol=1e-6)


def test_compile_runs_a_function_with_sparse_tensors_eagerly():
    s = ember.sparse_coo_tensor(I, V, (2, 3))
    x = ember.randn(3, 2)

    def f(s, x):
        return ember.sparse.mm(s, x).relu()

    compiled = ember.compile(f)
    for _ in range(2):
        np.testing.assert_array_equal(compiled(s, x).numpy(), f(s, x).numpy())


# --- a graph network --------------------------------------------------------------------------------------------

def _graph(n=60, seed=0):
    """Two communities of n/2 nodes (edges inside with p=0.2, across with p=0.02), features that carry the class
    weakly, and the GCN's normalized adjacency D^-1/2 (A + I) D^-1/2 as (indices, values)."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    p = np.where(y[:, None] == y[None, :], 0.2, 0.02)
    a = np.triu(rng.random((n, n)) < p, 1)
    a = (a | a.T | np.eye(n, dtype=bool)).astype(np.float32)
    d = a.sum(1) ** -0.5
    norm = a * d[:, None] * d[None, :]
    rows, cols = np.nonzero(norm)
    x = (rng.standard_normal((n, 8)) + 0.5 * y[:, None]).astype(np.float32)
    return np.stack([rows, cols]), norm[rows, cols], x, y


class GCN(ember.nn.Module):
    """Kipf and Welling's two-layer GCN: adj @ relu(adj @ x W1) W2."""

    def __init__(self, features, hidden, classes):
        super().__init__()
        self.lin1, self.lin2 = ember.nn.Linear(features, hidden), ember.nn.Linear(hidden, classes)

    def forward(self, adj, x):
        h = F.relu(ember.sparse.mm(adj, self.lin1(x)))
        return ember.spmm(adj, self.lin2(h))


def test_gcn_on_a_sparse_adjacency_matches_pytorch_and_trains(torch):
    idx, val, x, y = _graph()
    adj = ember.sparse_coo_tensor(idx, val, (len(y), len(y)))
    model = GCN(8, 16, 2)
    features, target = ember.tensor(x, requires_grad=True), ember.tensor(y)

    # one step against PyTorch: loss and every gradient
    t_lin1, t_lin2 = torch.nn.Linear(8, 16), torch.nn.Linear(16, 2)
    with torch.no_grad():
        for t_lin, lin in ((t_lin1, model.lin1), (t_lin2, model.lin2)):
            t_lin.weight.copy_(torch.from_numpy(lin.weight.detach().numpy()))
            t_lin.bias.copy_(torch.from_numpy(lin.bias.detach().numpy()))
    t_adj = torch.sparse_coo_tensor(idx, val, (len(y), len(y)))
    t_x = torch.from_numpy(x).requires_grad_()
    t_logits = torch.spmm(t_adj, t_lin2(torch.relu(torch.sparse.mm(t_adj, t_lin1(t_x)))))
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(y))
    t_loss.backward()
    loss = F.cross_entropy(model(adj, features), target)
    loss.backward()
    assert abs(loss.item() - t_loss.item()) < 1e-5
    for ours, theirs in ((features, t_x), (model.lin1.weight, t_lin1.weight), (model.lin2.bias, t_lin2.bias)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-6)

    # training: the loss falls and the communities are found
    opt = ember.optim.Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(40):
        opt.zero_grad()
        loss = F.cross_entropy(model(adj, features.detach()), target)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    accuracy = (model(adj, features).argmax(1) == target).float().mean().item()
    assert loss.item() < 0.5 * first and accuracy > 0.9
