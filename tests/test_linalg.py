"""matmul/@, mm, bmm, mv, dot, outer, addmm/addmv/baddbmm, einsum and mT: gradients, PyTorch agreement, errors."""
import re

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.ops.linalg import _mm
from tests.helpers import assert_close, rand64, to_torch

# (shape of a, shape of b) for every kind of matmul: vectors, matrices, batches, broadcast batches
MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3, 4)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
    ((3, 4), (2, 4, 2)),
    ((2, 3, 4), (2, 4, 2)),
    ((2, 1, 2, 3), (3, 3, 2)),
    ((1, 2, 3), (2, 1, 3, 2)),
]

EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("i,i->", [(3,), (3,)]),
    ("...ij,...jk", [(2, 1, 2, 3), (3, 3, 2)]),
    ("...ij,...jk->...ik", [(2, 3), (2, 3, 2)]),
    ("ij->ji", [(2, 3)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ij->", [(2, 3)]),
    ("i,j,k->ijk", [(2,), (3,), (2,)]),
    ("ij,ij->i", [(2, 3), (1, 3)]),
    ("ij,jk->ik", [(2, 1), (3, 2)]),
    ("iij,jk->ik", [(2, 2, 3), (3, 2)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 2, 3), (1, 2, 3, 3)]),
    ("i...->...", [(2, 3, 2)]),
]


def _operands(shapes, requires_grad=True):
    return [rand64(*s, seed=i + 1, requires_grad=requires_grad) for i, s in enumerate(shapes)]


# --- matmul gradients ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_gradcheck(sa, sb):
    a, b = _operands([sa, sb])
    assert gradcheck(ember.matmul, (a, b))
    assert gradcheck(lambda x, y: x @ y, (a, b))


@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 2)), ((3,), (3,)), ((2, 3), (3,)), ((2, 1, 2, 3), (3, 3, 2)),
                                   ((2, 2, 3), (3, 2))])
def test_matmul_double_backward(sa, sb):
    a, b = _operands([sa, sb])
    assert gradgradcheck(ember.matmul, (a, b))


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 2)), ((2, 3, 4), (4, 2)), ((3, 4), (2, 4, 2)),
                                   ((2, 1, 3, 4), (3, 4, 2))])
def test_transposed_matmul_node_first_and_second_derivatives(ta, tb, sa, sb):
    """The op(a) @ op(b) nodes that backward builds are themselves differentiable twice."""
    flip = lambda s, t: s[:-2] + s[:-3:-1] if t else s  # noqa: E731
    a, b = rand64(*flip(sa, ta), seed=1), rand64(*flip(sb, tb), seed=2)
    f = lambda x, y: _mm(x, y, ta, tb)  # noqa: E731
    ref = np.matmul(np.swapaxes(a._data, -1, -2) if ta else a._data, np.swapaxes(b._data, -1, -2) if tb else b._data)
    np.testing.assert_allclose(f(a, b).detach().numpy(), ref, rtol=1e-12)
    assert gradcheck(f, (a, b))
    assert gradgradcheck(f, (a, b))


def test_matmul_grad_only_for_inputs_that_need_it():
    a, b = rand64(2, 3), rand64(3, 2, requires_grad=False)
    (a @ b).sum().backward()
    assert a.grad is not None and b.grad is None
    np.testing.assert_allclose(a.grad.numpy(), np.ones((2, 2)) @ b._data.T)


def test_matmul_non_contiguous_batch_matches_contiguous():
    x, b = rand64(3, 4, 2), rand64(4, 5, seed=7)
    f = lambda x, b: x.transpose(1, 2) @ b  # (3, 2, 4) @ (4, 5), the first operand not contiguous  # noqa: E731
    np.testing.assert_allclose(f(x, b).detach().numpy(), np.matmul(x._data.transpose(0, 2, 1), b._data), rtol=1e-12)
    assert gradcheck(f, (x, b))


def test_matmul_inplace_change_of_saved_operand_is_detected():
    x = ember.tensor(np.ones((2, 3)))
    w = rand64(3, 2)
    y = x @ w  # w's gradient reads x
    x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_matmul_dtypes():
    i = ember.tensor(np.arange(6).reshape(2, 3))
    out = i @ ember.tensor(np.arange(6).reshape(3, 2))
    assert out.dtype == ember.int64
    np.testing.assert_array_equal(out.numpy(), np.arange(6).reshape(2, 3) @ np.arange(6).reshape(3, 2))
    f = ember.randn(2, 3) @ ember.randn(3, 4)
    assert f.dtype == ember.float32
    if ember.bfloat16 is not None:
        h = ember.ones(2, 3, dtype=ember.bfloat16) @ ember.ones(3, 2, dtype=ember.bfloat16)
        assert h.dtype == ember.bfloat16
        np.testing.assert_array_equal(h.float().numpy(), np.full((2, 2), 3.0))


def test_matmul_empty():
    a, b = ember.zeros(0, 3, requires_grad=True), ember.ones(3, 2, requires_grad=True)
    out = a @ b
    assert out.shape == (0, 2)
    out.sum().backward()
    assert a.grad.shape == (0, 3) and np.all(b.grad.numpy() == 0)


# --- other products -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn,shapes", [
    (ember.mm, [(2, 3), (3, 4)]),
    (ember.bmm, [(2, 2, 3), (2, 3, 2)]),
    (ember.mv, [(2, 3), (3,)]),
    (ember.dot, [(3,), (3,)]),
    (ember.vdot, [(3,), (3,)]),
    (ember.outer, [(3,), (2,)]),
])
def test_products_gradcheck_and_values(fn, shapes):
    ops = _operands(shapes)
    assert gradcheck(fn, ops)
    arrays = [o.detach().numpy() for o in ops]
    ref = np.outer(*arrays) if fn is ember.outer else np.matmul(*arrays)
    np.testing.assert_allclose(fn(*ops).detach().numpy(), ref, rtol=1e-12)


def test_methods_are_bound():
    a, b = _operands([(2, 3), (3, 2)])
    for name in ("matmul", "mm"):
        np.testing.assert_allclose(getattr(a, name)(b).detach().numpy(), (a @ b).detach().numpy())
    assert a.mT.shape == (3, 2) and rand64(4, 2, 3).mT.shape == (4, 3, 2)
    v = rand64(3)
    np.testing.assert_allclose(v.dot(v).item(), float(v.detach().numpy() @ v.detach().numpy()))
    assert v.outer(rand64(2)).shape == (3, 2)


def test_outer_promotes_like_torch():
    out = ember.outer(ember.ones(3), ember.tensor([1, 2]))
    assert out.dtype == ember.float32 and out.shape == (3, 2)


@pytest.mark.parametrize("fn,shapes", [
    (ember.addmm, [(2, 4), (2, 3), (3, 4)]),
    (ember.addmm, [(4,), (2, 3), (3, 4)]),
    (ember.addmv, [(2,), (2, 3), (3,)]),
    (ember.baddbmm, [(1, 2), (2, 2, 3), (2, 3, 2)]),
])
def test_add_products_gradcheck(fn, shapes):
    ops = _operands(shapes)
    assert gradcheck(lambda *x: fn(*x, beta=0.5, alpha=2.0), ops)
    i, a, b = [o.detach().numpy() for o in ops]
    np.testing.assert_allclose(fn(*ops, beta=0.5, alpha=2.0).detach().numpy(), 0.5 * i + 2.0 * np.matmul(a, b),
                               rtol=1e-12)


def test_addmm_beta_zero_ignores_nan_input():
    out = ember.addmm(ember.full((2, 2), float("nan")), ember.ones(2, 3), ember.ones(3, 2), beta=0)
    np.testing.assert_array_equal(out.numpy(), np.full((2, 2), 3.0))


# --- einsum -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("eq,shapes", EINSUM)
def test_einsum_gradcheck(eq, shapes):
    ops = _operands(shapes)
    assert gradcheck(lambda *x: ember.einsum(eq, *x), ops)


@pytest.mark.parametrize("eq,shapes", [EINSUM[0], EINSUM[2], EINSUM[5], EINSUM[13]])
def test_einsum_double_backward(eq, shapes):
    ops = _operands(shapes)
    assert gradgradcheck(lambda *x: ember.einsum(eq, *x), ops)


def test_einsum_list_of_operands_and_spaces():
    a, b = _operands([(2, 3), (3, 4)])
    out = ember.einsum("i j , j k -> i k", [a, b])
    np.testing.assert_allclose(out.detach().numpy(), a.detach().numpy() @ b.detach().numpy(), rtol=1e-12)


def test_einsum_sublist_format():
    a, b = _operands([(2, 3, 4), (4, 5)])
    want = np.einsum("ijk,kl->ijl", a.detach().numpy(), b.detach().numpy())
    np.testing.assert_allclose(ember.einsum(a, [0, 1, 2], b, [2, 30]).detach().numpy(), want, rtol=1e-12)
    got = ember.einsum(a, [Ellipsis, 2], b, [2, 51], [51, Ellipsis])  # subscripts 26-51 are the lower-case ones
    np.testing.assert_allclose(got.detach().numpy(), np.moveaxis(want, 2, 0), rtol=1e-12)
    assert gradcheck(lambda x, y: ember.einsum(x, [0, 1, 2], y, [2, 3], [3, 0]), (a, b))
    with pytest.raises(ValueError, match=r"subscript to be within the range \[0, 52\), but got 52"):
        ember.einsum(a, [0, 1, 52])


def test_einsum_output_owns_its_memory():
    x = rand64(3, 3, requires_grad=False)
    for eq in ("ij->ji", "ii->i", "ij->ij"):
        out = ember.einsum(eq, x)
        assert not np.shares_memory(out.numpy(), x.numpy()), eq


def test_einsum_single_operand_saves_nothing():
    x = rand64(2, 3)
    y = ember.einsum("ij->j", x)
    x._data[...] = 0  # not a version bump, but the gradient must not read x anyway
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))


def test_einsum_integer_operands():
    a = ember.tensor(np.arange(6).reshape(2, 3))
    out = ember.einsum("ij,kj->ik", a, a)
    assert out.dtype == ember.int64
    np.testing.assert_array_equal(out.numpy(), a.numpy() @ a.numpy().T)


# --- agreement with PyTorch -----------------------------------------------------------------------------------------

def _compare_with_torch(fn, tfn, ops, torch):
    tops = [to_torch(o, torch) for o in ops]
    out, tout = fn(*ops), tfn(*tops)
    assert_close(out, tout, rtol=1e-10, atol=1e-12)
    rng = np.random.default_rng(0)
    go = rng.standard_normal(tuple(out.shape))
    out.backward(ember.tensor(go))
    tout.backward(torch.tensor(go))
    for o, t in zip(ops, tops):
        assert_close(o.grad, t.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_matches_torch(sa, sb, torch):
    _compare_with_torch(ember.matmul, torch.matmul, _operands([sa, sb]), torch)


@pytest.mark.parametrize("eq,shapes", EINSUM + [("bA,aB", [(2, 3), (4, 2)]), ("i...", [(3, 2)])])
def test_einsum_matches_torch(eq, shapes, torch):
    _compare_with_torch(lambda *x: ember.einsum(eq, *x), lambda *x: torch.einsum(eq, *x), _operands(shapes), torch)


@pytest.mark.parametrize("name,shapes", [
    ("mm", [(2, 3), (3, 4)]), ("bmm", [(2, 2, 3), (2, 3, 2)]), ("mv", [(2, 3), (3,)]), ("dot", [(3,), (3,)]),
    ("outer", [(3,), (2,)]), ("addmm", [(4,), (2, 3), (3, 4)]), ("baddbmm", [(1, 2), (2, 2, 3), (2, 3, 2)]),
])
def test_products_match_torch(name, shapes, torch):
    _compare_with_torch(getattr(ember, name), getattr(torch, name), _operands(shapes), torch)


def test_matmul_float32_matches_torch(torch):
    a, b = ember.randn(4, 5, 6), ember.randn(6, 3)
    assert_close(a @ b, torch.tensor(a.numpy()) @ torch.tensor(b.numpy()), rtol=1e-5, atol=1e-5)


# --- errors -------------------------------------------------------------------------------------------------------

def _raises(exc, msg, fn, *args):
    with pytest.raises(exc, match=re.escape(msg)):
        fn(*args)


def test_matmul_errors():
    _raises(RuntimeError, "matmul: shapes (3, 4) and (5, 6) cannot be multiplied (4 != 5)",
            ember.matmul, ember.ones(3, 4), ember.ones(5, 6))
    _raises(RuntimeError, "matmul: shapes (2, 3, 4) and (5, 6) cannot be multiplied (4 != 5)",
            lambda a, b: a @ b, ember.ones(2, 3, 4), ember.ones(5, 6))
    _raises(RuntimeError, "matmul: shapes (4,) and (5,) cannot be multiplied (4 != 5)",
            ember.matmul, ember.ones(4), ember.ones(5))
    _raises(RuntimeError, "matmul: batch dimensions of shapes (2, 3, 4) and (3, 4, 6) cannot be broadcast",
            ember.matmul, ember.ones(2, 3, 4), ember.ones(3, 4, 6))
    _raises(RuntimeError, "at least 1D, but they are 0D and 1D", ember.matmul, ember.tensor(2.0), ember.ones(3))
    _raises(RuntimeError, "at least 1D, but they are 1D and 0D", ember.matmul, ember.ones(3), ember.tensor(2.0))
    _raises(RuntimeError, "matmul: expected both operands to have the same dtype, but got float32 and float64",
            ember.matmul, ember.ones(3, 3), ember.ones(3, 3, dtype=ember.float64))
    _raises(RuntimeError, "same dtype, but got float32 and int64",
            ember.matmul, ember.ones(3, 3), ember.ones(3, 3, dtype=ember.int64))
    _raises(NotImplementedError, "matmul: not implemented for 'Bool'",
            ember.matmul, ember.ones(2, 2, dtype=ember.bool), ember.ones(2, 2, dtype=ember.bool))
    _raises(TypeError, "must be Tensor, not int", lambda a: a @ 2, ember.ones(2, 2))
    _raises(TypeError, "must be Tensor, not ndarray", lambda a: np.ones((2, 2)) @ a, ember.ones(2, 2))


def test_product_errors():
    m, v, b3 = ember.ones(3, 4), ember.ones(4), ember.ones(2, 3, 4)
    _raises(RuntimeError, "mm: self must be a matrix, but got shape (4,)", ember.mm, v, m)
    _raises(RuntimeError, "mm: mat2 must be a matrix, but got shape (4,)", ember.mm, m, v)
    _raises(RuntimeError, "mm: shapes (3, 4) and (3, 4) cannot be multiplied (4 != 3)", ember.mm, m, m)
    _raises(RuntimeError, "same dtype", ember.mm, m, ember.ones(4, 3, dtype=ember.float64))
    _raises(RuntimeError, "bmm: batch1 must be a 3D tensor, but got shape (3, 4)", ember.bmm, m, b3)
    _raises(RuntimeError, "bmm: batch2 must be a 3D tensor, but got shape (3, 4)", ember.bmm, b3, m)
    _raises(RuntimeError, "bmm: shapes (2, 3, 4) and (3, 4, 2) have different batch sizes (2 != 3)",
            ember.bmm, b3, ember.ones(3, 4, 2))
    _raises(RuntimeError, "bmm: shapes (2, 3, 4) and (2, 3, 4) cannot be multiplied (4 != 3)", ember.bmm, b3, b3)
    _raises(RuntimeError, "mv: shapes (3, 4) and (5,) cannot be multiplied (4 != 5)", ember.mv, m, ember.ones(5))
    _raises(RuntimeError, "mv: vector + matrix @ vector expected, got shapes (3, 4) and (4, 1)",
            ember.mv, m, ember.ones(4, 1))
    _raises(RuntimeError, "dot: 1D tensors expected, but got 2D and 1D tensors", ember.dot, m, v)
    _raises(RuntimeError, "dot: shapes (4,) and (3,) cannot be multiplied (4 != 3)", ember.dot, v, ember.ones(3))
    _raises(RuntimeError, "outer: Expected 1-D argument self, but got 2-D", ember.outer, m, v)
    _raises(RuntimeError, "outer: Expected 1-D argument vec2, but got 2-D", ember.outer, v, m)
    _raises(RuntimeError, "addmm: input of shape (5, 5) cannot be broadcast to the product's shape (3, 3)",
            ember.addmm, ember.ones(5, 5), m, ember.ones(4, 3))
    _raises(RuntimeError, "tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.",
            lambda t: t.mT, v)


@pytest.mark.parametrize("eq,shapes,msg", [
    ("ij,jk->ik", [(2, 3)], "einsum(): fewer operands were provided than specified in the equation"),
    ("ij", [(2, 3), (3, 3)], "einsum(): more operands were provided than specified in the equation"),
    ("ij->ik", [(2, 3)], "einsum(): output subscript k does not appear in the equation for any input operand"),
    ("ij->ii", [(2, 3)], "einsum(): output subscript i appears more than once in the output"),
    ("ij", [(2, 3, 4)], "einsum(): the number of subscripts in the equation (2) does not match the number of "
                        "dimensions (3) for operand 0 and no ellipsis was given"),
    ("ijk...", [(2, 3)], "einsum(): the number of subscripts in the equation (3) is more than the number of "
                         "dimensions (2) for operand 0"),
    ("ij,jk->ik", [(2, 3), (4, 4)], "einsum(): subscript j has size 4 for operand 1 (shape (4, 4)) which does "
                                    "not broadcast with previously seen size 3"),
    ("...ij,...jk", [(2, 2, 3, 4), (5, 4, 6)], "einsum(): dimension 1 covered by ellipsis has size 5"),
    ("ii->i", [(2, 3)], "einsum(): subscript i is repeated for operand 0 but the sizes don't match, 2 != 3"),
    ("i1", [(3, 2)], "einsum(): invalid subscript '1' given for operand 0, subscripts must be in [a-zA-Z]"),
    ("i.j", [(3, 2)], "einsum(): found '.' for operand 0 that is not part of any ellipsis"),
    ("i...j...", [(3, 2)], "einsum(): found '.' for operand 0 for which an ellipsis was already found"),
    ("i->i->i", [(3,)], "einsum(): the equation 'i->i->i' contains more than one '->'"),
])
def test_einsum_errors(eq, shapes, msg):
    _raises(RuntimeError, msg, ember.einsum, eq, *[ember.ones(*s) for s in shapes])


def test_einsum_dtype_and_type_errors():
    _raises(RuntimeError, "einsum(): expected all operands to have the same dtype, but operand 0 is float32 and "
                          "operand 1 is float64",
            ember.einsum, "i,i", ember.ones(2), ember.ones(2, dtype=ember.float64))
    _raises(TypeError, "einsum(): operand 1 must be a Tensor, not list", ember.einsum, "i,i", ember.ones(2), [1, 2])
