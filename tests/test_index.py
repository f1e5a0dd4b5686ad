"""Indexing ops: __getitem__/__setitem__, gather/scatter, index_select/index_add, masked_fill/select, nonzero, take."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.autograd.graph import on_apply
from ember.ops.meta import meta_of
from helpers import assert_close, rand64, to_torch


def _long(data):
    return ember.tensor(data, dtype=ember.int64)


def _check_vs_torch(torch, y, ty, g, inputs):
    """y matches torch's ty; after back-propagating the same array g through both, so do the gradients of the
    (ember, torch) input pairs."""
    assert_close(y, ty)
    y.backward(ember.tensor(g))
    ty.backward(torch.tensor(g))
    for e, t in inputs:
        assert_close(e.grad, t.grad)


# Keys for a (3, 4, 5) tensor, as a function of the framework module (ember or torch) so both get the same key.
GETITEM_KEYS = {
    "int": lambda m: 1,
    "neg_int": lambda m: -1,
    "slice": lambda m: slice(1, 3),
    "slice_step": lambda m: (slice(None), slice(0, 4, 2)),
    "int_slice": lambda m: (1, slice(None), slice(1, None)),
    "ellipsis": lambda m: (Ellipsis, 2),
    "none": lambda m: (None, 1, None),
    "true": lambda m: True,
    "list_dup": lambda m: [0, 2, 0, 0],
    "tensor_2d": lambda m: m.tensor([[0, 1], [2, 2]]),
    "numpy_array": lambda m: np.array([2, -1]),
    "zero_d_tensor": lambda m: m.tensor(1),
    "adv_pair_dup": lambda m: (m.tensor([0, 0, 2]), m.tensor([1, 1, 3])),
    "adv_separated": lambda m: (m.tensor([0, 2, 0]), slice(None), m.tensor([1, 4, 1])),
    "adv_slice_adv_after": lambda m: (slice(None), m.tensor([3, 3]), m.tensor([0, 4])),
    "mask_full": lambda m: m.tensor(np.arange(60).reshape(3, 4, 5) % 3 == 0),
    "mask_first": lambda m: m.tensor([True, False, True]),
    "mask_and_int": lambda m: (slice(None), m.tensor([True, False, True, True]), 2),
    "bool_list": lambda m: [False, True, True],
    "empty_list": lambda m: [],
    "range": lambda m: (slice(None), range(1, 4)),
}


@pytest.mark.parametrize("name", sorted(GETITEM_KEYS))
def test_getitem_gradcheck(name):
    x = rand64(3, 4, 5)
    key = GETITEM_KEYS[name](ember)
    assert gradcheck(lambda a: a[key], (x,))


@pytest.mark.parametrize("name", sorted(GETITEM_KEYS))
def test_getitem_matches_torch(name, torch):
    x = rand64(3, 4, 5)
    tx = to_torch(x, torch)
    y, ty = x[GETITEM_KEYS[name](ember)], tx[GETITEM_KEYS[name](torch)]
    _check_vs_torch(torch, y, ty, np.random.default_rng(1).standard_normal(tuple(y.shape)), [(x, tx)])


@pytest.mark.parametrize("name", sorted(GETITEM_KEYS) + ["false", "int_apart", "mask_apart", "false_apart"])
def test_getitem_shape_rule_matches_the_forward(name):
    """The shape rule of indexing gives the forward's shape without data: None (any size) only where a mask's count
    of True values decides the size (not when an index array broadcast with it fixes it)."""
    more = {"false": lambda m: False, "int_apart": lambda m: (0, slice(None), m.tensor([1, 2])),
            "mask_apart": lambda m: (m.tensor([True, False, True]), slice(None), m.tensor([1, 4])),
            "false_apart": lambda m: (1, None, False)}
    key = {**GETITEM_KEYS, **more}[name](ember)
    x = ember.zeros(3, 4, 5)
    calls = []
    with on_apply(lambda *c: calls.append(c)):
        out = x[key]
    (node, args, _), = calls
    inferred = node.infer(*[meta_of(a) for a in args])
    assert inferred.dtype == out._data.dtype and len(inferred.shape) == out.ndim
    assert all(i is None or i == s for i, s in zip(inferred.shape, out.shape)), (inferred.shape, tuple(out.shape))
    assert None not in inferred.shape or "mask" in name or "bool" in name


def test_getitem_double_backward_with_duplicates():
    x = rand64(4, 3)
    idx = _long([[0, 3], [3, 3]])
    assert gradgradcheck(lambda a: (a[idx, 1:] ** 2), (x,))
    assert gradgradcheck(lambda a: (a[1:, ::2] ** 2), (x,))


def test_basic_index_is_a_view_sharing_memory_and_version():
    x = ember.arange(12.0).reshape(3, 4)
    for v in (x[1:], x[1], x[:, 1::2], x[..., None], x[0, 0]):
        assert np.shares_memory(v._data, x._data)
        assert v._vbox is x._vbox
        assert v._base is x._base or v._base is x
    v = x[1:, 1]
    v[0] = 100.0  # writing through the view changes the base, and both see the new version
    assert x[1, 1].item() == 100.0
    assert x._version == v._version == 1
    x[2, 1] = -1.0
    assert v[1].item() == -1.0 and v._version == 2
    vv = v[1:]  # a view of a view keeps the same base
    assert vv._vbox is x._vbox and np.shares_memory(vv._data, x._data)


def test_advanced_index_is_a_copy():
    x = ember.arange(12.0).reshape(3, 4)
    for key in ([0, 1], x > 3, (_long([1]), slice(None))):
        y = x[key]
        assert not np.shares_memory(y._data, x._data)
        assert y._vbox is not x._vbox


def test_view_grad_and_requires_grad():
    x = rand64(3, 4)
    y = x[1:, :2]
    assert y.requires_grad and y.grad_fn is not None
    (y * 2).sum().backward()
    expected = np.zeros((3, 4))
    expected[1:, :2] = 2
    assert_close(x.grad, expected)


def test_getitem_errors():
    x = ember.zeros(3, 4)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(ValueError, match="step cannot be zero"):
        x[:, ::0]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        x[3]
    with pytest.raises(IndexError, match="index -5 is out of bounds for dimension 1 with size 4"):
        x[0, -5]
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 1 with size 4"):
        x[:, _long([0, 7])]
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 with size 4"):
        x[..., [4]]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match=r"mask \[2\] at index 0 does not match .* \[3, 4\] at index 0"):
        x[ember.tensor([True, False])]
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        x[ember.tensor([1.0])]
    with pytest.raises(IndexError, match="unsupported index of type str"):
        x["a"]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]


# --- setitem ------------------------------------------------------------------------------------------------------

SETITEM_CASES = {
    "slice": (lambda m: (slice(1, 3), 1), (2,)),
    "int_row": (lambda m: 0, (4,)),
    "broadcast_row": (lambda m: slice(None, 2), (1, 4)),
    "leading_ones": (lambda m: (slice(0, 2), slice(1, 3)), (1, 1, 2)),
    "advanced_rows": (lambda m: m.tensor([2, 0]), (1, 4)),
    "advanced_pair": (lambda m: (m.tensor([0, 1]), m.tensor([3, 2])), (2,)),
    "mask": (lambda m: m.tensor([[True, False, False, True]] * 3), ()),
    "mask_rows": (lambda m: m.tensor([True, False, True]), (4,)),
}


@pytest.mark.parametrize("name", sorted(SETITEM_CASES))
def test_setitem_gradcheck_base_and_value(name):
    make_key, vshape = SETITEM_CASES[name]
    key = make_key(ember)

    def f(x, v):
        y = x * 1.0
        y[key] = v
        return y

    assert gradcheck(f, (rand64(3, 4), rand64(*vshape, seed=5)))


@pytest.mark.parametrize("name", sorted(SETITEM_CASES))
def test_setitem_matches_torch(name, torch):
    make_key, vshape = SETITEM_CASES[name]
    x, v = rand64(3, 4), rand64(*vshape, seed=5)
    tx, tv = to_torch(x, torch), to_torch(v, torch)
    y = x * 1.0
    y[make_key(ember)] = v
    ty = tx * 1.0
    ty[make_key(torch)] = tv
    assert_close(y, ty)
    g = np.random.default_rng(2).standard_normal((3, 4))
    (y * ember.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(v.grad, tv.grad)


def test_setitem_duplicate_indices_value_grad_is_indexed_grad():
    # Which duplicate wins is unspecified (as in PyTorch); the value's gradient is grad[indices], as in PyTorch.
    x, v = rand64(3, 4), rand64(3, 4, seed=5)
    y = x * 1.0
    y[_long([2, 0, 2])] = v
    g = np.random.default_rng(2).standard_normal((3, 4))
    y.backward(ember.tensor(g))
    assert_close(v.grad, g[[2, 0, 2]])
    assert_close(x.grad, g * np.array([[0.0], [1.0], [0.0]]))


def test_setitem_scalar_value_gradient():
    assert gradcheck(lambda x: _set(x * 1.0, (slice(None), 1), 7.5), (rand64(3, 4),))
    x = rand64(3, 4)
    y = _set(x * 1.0, x.detach() > 0, 0.0)
    y.sum().backward()
    assert_close(x.grad, (x.detach().numpy() <= 0).astype(np.float64))


def _set(t, key, value):
    t[key] = value
    return t


def test_setitem_double_backward():
    def f(x, v):
        y = x * x
        y[_long([0, 2]), 1:] = v * v
        return y

    assert gradgradcheck(f, (rand64(3, 4), rand64(2, 3, seed=3)))


def test_setitem_into_tensor_without_grad_records_value_grad():
    buf = ember.zeros(2, 3, dtype=ember.float64)
    v = rand64(3)
    buf[1] = v
    assert buf.requires_grad and buf.grad_fn is not None
    (buf * 2).sum().backward()
    assert_close(v.grad, np.full(3, 2.0))


def test_setitem_leaf_error_and_no_grad():
    x = rand64(3, 4)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 1.0
    assert x._version == 0
    with ember.no_grad():
        x[0] = 1.0
        x[1:, 0] = ember.tensor([5.0, 6.0])
    assert x._version == 2
    assert np.all(x._data[0] == 1.0) and x._data[2, 0] == 6.0 and x.requires_grad


def test_setitem_version_and_view_and_dtype():
    x = ember.zeros(3, 4)
    v = x[1]
    x[1, :2] = 3
    assert x._version == v._version == 1
    assert v.tolist() == [3.0, 3.0, 0.0, 0.0]
    x[x > 1] = ember.tensor(7.0, dtype=ember.float64)  # value cast to x's dtype
    assert x.dtype is ember.float32 and v.tolist() == [7.0, 7.0, 0.0, 0.0]
    n = ember.zeros(4, dtype=ember.int64)
    n[[1, 3]] = ember.tensor([2.7, -1.2])
    assert n.tolist() == [0, 2, 0, -1]
    n[0] = [9]
    assert n.tolist() == [9, 2, 0, -1]


def test_setitem_errors_change_nothing():
    x = ember.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"setitem: shape mismatch: value tensor of shape \[3\] cannot be "
                                           r"broadcast to indexing result of shape \[2, 4\]"):
        x[:2] = ember.ones(3)
    y = rand64(3, 4) * 1.0
    with pytest.raises(RuntimeError, match="shape mismatch"):
        y[_long([0, 1])] = rand64(3)
    with pytest.raises(IndexError, match="index 9 is out of bounds for dimension 1 with size 4"):
        x[0, 9] = 1.0
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-2] = 1.0
    assert x._version == 0 and not x._data.any()


def test_index_put_accumulate_matches_torch(torch):
    x, v = rand64(4, 3), rand64(3, 3, seed=4)
    idx = [0, 2, 0]
    y = ember.index_put(x, (_long(idx),), v, accumulate=True)
    ty = torch.index_put(to_torch(x, torch), (torch.tensor(idx),), to_torch(v, torch), accumulate=True)
    assert_close(y, ty)
    assert gradcheck(lambda a, b: ember.index_put(a, (_long(idx),), b, accumulate=True), (x, v))
    z = ember.zeros(4)
    z.index_put_((_long([1, 1, 3]),), ember.tensor(1.0), accumulate=True)
    assert z.tolist() == [0.0, 2.0, 0.0, 1.0]


# --- gather / scatter ---------------------------------------------------------------------------------------------

def test_gather_gradcheck():
    x = rand64(3, 4)
    idx = _long([[0, 0, 3], [1, 1, 1]])  # smaller than x apart from dim 1, with repeats
    assert gradcheck(lambda a: ember.gather(a, 1, idx), (x,))
    assert gradcheck(lambda a: a.gather(-2, _long([[2, 0, 2, 1]])), (x,))
    assert gradgradcheck(lambda a: ember.gather(a, 1, idx) ** 2, (x,))
    # int32 indices are accepted too (as in PyTorch 2.x)
    assert ember.gather(x, 1, idx.int()).tolist() == ember.gather(x, 1, idx).tolist()


def test_scatter_gradcheck():
    x, src = rand64(3, 4), rand64(3, 5, seed=2)  # src larger than the index
    idx = _long([[3, 0, 1], [2, 1, 0]])
    assert gradcheck(lambda a, s: ember.scatter(a, 1, idx, s), (x, src))
    assert gradcheck(lambda a: ember.scatter(a, 0, _long([[2, 0]]), 1.5), (x,))
    assert gradcheck(lambda a: a.scatter(-1, idx, value=-2.0), (x,))
    assert gradgradcheck(lambda a, s: ember.scatter(a * a, 1, idx, s * s), (x, src))


def test_scatter_add_gradcheck():
    x, src = rand64(3, 4), rand64(2, 4, seed=2)
    idx = _long([[0, 0, 2, 2], [0, 1, 2, 2]])
    assert gradcheck(lambda a, s: ember.scatter_add(a, 0, idx, s), (x, src))
    assert gradgradcheck(lambda a, s: ember.scatter_add(a * a, 0, idx, s * s), (x, src))


def test_gather_scatter_match_torch(torch):
    x, src = rand64(3, 4), rand64(3, 5, seed=2)
    tx, tsrc = to_torch(x, torch), to_torch(src, torch)
    idx = [[3, 0, 1], [2, 1, 0], [0, 0, 0]]
    g = np.random.default_rng(3).standard_normal((3, 3))
    # gather with repeated indices: the gradient accumulates
    y, ty = ember.gather(x, 1, _long(idx)), torch.gather(tx, 1, torch.tensor(idx))
    _check_vs_torch(torch, y, ty, g, [(x, tx)])
    # scatter_add with repeated indices (src the same shape as the index: PyTorch's src grad is gather)
    x.grad = tx.grad = None
    s3, ts3 = src[:, :3], tsrc[:, :3]
    idx0 = [[0, 0, 2], [0, 1, 2], [2, 1, 2]]
    y, ty = ember.scatter_add(x, 0, _long(idx0), s3), torch.scatter_add(tx, 0, torch.tensor(idx0), ts3)
    gy = np.random.default_rng(4).standard_normal((3, 4))
    _check_vs_torch(torch, y, ty, gy, [(x, tx), (src, tsrc)])
    # scatter without repeats along dim 1
    x.grad = tx.grad = src.grad = tsrc.grad = None
    uidx = [[3, 0, 1], [2, 1, 0], [0, 1, 2]]
    y = ember.scatter(x, 1, _long(uidx), src[:, :3])
    ty = torch.scatter(tx, 1, torch.tensor(uidx), tsrc[:, :3])
    _check_vs_torch(torch, y, ty, gy, [(x, tx), (src, tsrc)])
    assert_close(ember.scatter(x, 0, _long([[1, 2]]), value=3.0),
                 torch.scatter(tx, 0, torch.tensor([[1, 2]]), value=3.0))


def test_scatter_in_place_forms():
    x = ember.zeros(2, 3)
    x.scatter_(1, _long([[2], [0]]), ember.tensor([[5.0], [6.0]]))
    assert x.tolist() == [[0.0, 0.0, 5.0], [6.0, 0.0, 0.0]] and x._version == 1
    x.scatter_add_(0, _long([[1, 1, 1]]), ember.ones(1, 3))
    assert x.tolist() == [[0.0, 0.0, 5.0], [7.0, 1.0, 1.0]] and x._version == 2
    x.scatter_(0, _long([[0]]), 9.0, reduce="add")
    assert x[0, 0].item() == 9.0
    # in place on a non-leaf that requires grad: recorded
    a = rand64(2, 3)
    b = a * 1.0
    b.scatter_(1, _long([[0], [2]]), 0.0)
    b.sum().backward()
    assert_close(a.grad, np.array([[0.0, 1, 1], [1, 1, 0]]))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        rand64(2, 3).scatter_(1, _long([[0]]), 0.0)


def test_gather_scatter_errors():
    x = ember.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"gather\(\): Expected dtype int32/int64 for index, got ember.float32"):
        ember.gather(x, 0, ember.tensor([[1.0]]))
    with pytest.raises(RuntimeError, match=r"scatter\(\): Expected dtype int32/int64 for index, got ember.int16"):
        ember.scatter(x, 0, ember.tensor([[1]], dtype=ember.int16), 1.0)
    with pytest.raises(RuntimeError, match=r"gather\(\): Index tensor must have the same number of dimensions"):
        ember.gather(x, 0, _long([1]))
    with pytest.raises(RuntimeError, match=r"gather\(\): Size does not match at dimension 1 expected index "
                                           r"\[1, 5\] to be no larger than self \[3, 4\] apart from dimension 0"):
        ember.gather(x, 0, _long([[0] * 5]))
    with pytest.raises(RuntimeError, match=r"gather\(\): index 3 is out of bounds for dimension 0 with size 3"):
        ember.gather(x, 0, _long([[3]]))
    with pytest.raises(RuntimeError, match=r"gather\(\): index -1 is out of bounds"):
        ember.gather(x, 0, _long([[-1]]))
    with pytest.raises(IndexError, match="Dimension out of range"):
        ember.gather(x, 2, _long([[0]]))
    with pytest.raises(RuntimeError, match=r"scatter\(\): Expected self.dtype to be equal to src.dtype"):
        ember.scatter(x, 0, _long([[0]]), ember.ones(1, 1, dtype=ember.float64))
    with pytest.raises(RuntimeError, match=r"scatter_add\(\): Expected index \[2, 2\] to be no larger than src "
                                           r"\[1, 2\]"):
        ember.scatter_add(x, 0, _long([[0, 0], [1, 1]]), ember.ones(1, 2))
    with pytest.raises(TypeError, match="argument 'index' must be Tensor"):
        ember.gather(x, 0, [[0]])
    assert not x._data.any()


# --- index_select / index_add / take ------------------------------------------------------------------------------

def test_index_select_gradcheck_and_torch(torch):
    x = rand64(3, 4)
    idx = _long([3, 0, 3])
    assert gradcheck(lambda a: ember.index_select(a, 1, idx), (x,))
    assert gradcheck(lambda a: a.index_select(-2, _long(2)), (x,))
    assert gradgradcheck(lambda a: ember.index_select(a, 1, idx) ** 2, (x,))
    tx = to_torch(x, torch)
    y, ty = x.index_select(1, idx), tx.index_select(1, torch.tensor([3, 0, 3]))
    assert_close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    assert_close(x.grad, tx.grad)


def test_index_add_and_take(torch):
    x, src = rand64(4, 3), rand64(2, 3, seed=6)
    idx = _long([1, 1])
    assert gradcheck(lambda a, s: ember.index_add(a, 0, idx, s, alpha=2.0), (x, src))
    assert gradcheck(lambda a: ember.take(a, _long([[0, 11], [-1, 0]])), (x,))
    assert_close(ember.index_add(x, 0, idx, src, alpha=2.0),
                 torch.index_add(to_torch(x, torch), 0, torch.tensor([1, 1]), to_torch(src, torch), alpha=2.0))
    assert_close(ember.take(x, _long([[0, 11], [-1, 0]])),
                 torch.take(to_torch(x, torch), torch.tensor([[0, 11], [-1, 0]])))


def test_index_select_add_take_errors():
    x = ember.zeros(3, 4)
    with pytest.raises(IndexError, match=r"index_select\(\): index 4 is out of bounds for dimension 1 with size 4"):
        x.index_select(1, _long([4]))
    with pytest.raises(IndexError, match=r"index_select\(\): Index is supposed to be a vector"):
        x.index_select(0, _long([[0]]))
    with pytest.raises(RuntimeError, match=r"index_select\(\): Expected dtype int32/int64 for index, got "
                                           r"ember.float32"):
        x.index_select(0, ember.tensor([0.0]))
    with pytest.raises(RuntimeError, match=r"index_add\(\): source of shape \[2, 3\] does not match"):
        ember.index_add(x, 0, _long([0, 1]), ember.ones(2, 3))
    with pytest.raises(IndexError, match=r"take\(\): index 12 is out of bounds for a tensor of 12 elements"):
        ember.take(x, _long([12]))


# --- masks --------------------------------------------------------------------------------------------------------

def test_masked_fill_gradcheck():
    x = rand64(3, 4)
    mask = ember.tensor([True, False, False, True])  # broadcast over rows
    assert gradcheck(lambda a: ember.masked_fill(a, mask, 2.0), (x,))
    assert gradcheck(lambda a, v: a.masked_fill(mask, v), (x, rand64(seed=3)))
    assert gradgradcheck(lambda a, v: a.masked_fill(mask, v.exp()) ** 2, (x, rand64(seed=3)))
    # a mask larger than the input: the out-of-place form broadcasts both
    assert gradcheck(lambda a, v: a.masked_fill(ember.tensor([[True], [False]]), v), (rand64(4), rand64(seed=3)))


def test_masked_fill_matches_torch(torch):
    x, v = rand64(3, 4), rand64(seed=3)
    tx, tv = to_torch(x, torch), to_torch(v, torch)
    m = np.array([[True, False, True, True], [False] * 4, [True] * 4])
    y, ty = x.masked_fill(ember.tensor(m), v), tx.masked_fill(torch.tensor(m), tv)
    _check_vs_torch(torch, y, ty, np.random.default_rng(5).standard_normal((3, 4)), [(x, tx), (v, tv)])
    n = ember.arange(4).masked_fill(ember.tensor([True, False, True, False]), 2.7)
    assert n.dtype is ember.int64 and n.tolist() == torch.arange(4).masked_fill(
        torch.tensor([True, False, True, False]), 2.7).tolist()


def test_masked_fill_in_place():
    x = ember.zeros(2, 3)
    x.masked_fill_(ember.tensor([False, True, False]), 4.0)
    assert x.tolist() == [[0.0, 4.0, 0.0]] * 2 and x._version == 1
    with pytest.raises(RuntimeError, match=r"masked_fill_: output with shape \(2, 3\) doesn't match the broadcast "
                                           r"shape \(4, 2, 3\)"):
        x.masked_fill_(ember.ones(4, 2, 3).bool(), 1.0)
    a = rand64(2, 3)
    b = a * 3.0
    b.masked_fill_(a.detach() > 0, 0.0)
    b.sum().backward()
    assert_close(a.grad, np.where(a.detach().numpy() > 0, 0.0, 3.0))


def test_masked_select_gradcheck_and_torch(torch):
    x = rand64(3, 4)
    m = x.detach() > 0
    assert gradcheck(lambda a: ember.masked_select(a, m), (x,))
    row = ember.tensor([True, False, True, True])
    assert gradcheck(lambda a: a.masked_select(row), (x,))
    assert gradcheck(lambda a: ember.masked_select(a, ember.tensor([[True], [False]])), (rand64(3),))
    tx = to_torch(x, torch)
    y, ty = x.masked_select(row), tx.masked_select(torch.tensor([True, False, True, True]))
    assert_close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    assert_close(x.grad, tx.grad)


def test_mask_errors():
    x = ember.zeros(3, 4)
    with pytest.raises(RuntimeError, match="masked_fill: only supports boolean masks, but got mask with dtype ember."
                                           "float32"):
        x.masked_fill(ember.zeros(4), 1.0)
    with pytest.raises(RuntimeError, match="only supports a 0-dimensional value tensor, but got tensor with 1 "
                                           "dimension"):
        x.masked_fill(ember.tensor([True] * 4), ember.ones(1))
    with pytest.raises(RuntimeError, match=r"masked_select: the mask of shape \[2\] is not broadcastable with the "
                                           r"input of shape \[3, 4\]"):
        x.masked_select(ember.tensor([True, False]))


def test_nonzero(torch):
    x = ember.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])
    assert ember.nonzero(x).tolist() == [[0, 1], [1, 0], [1, 2]]
    assert ember.nonzero(x).dtype is ember.int64
    rows, cols = x.nonzero(as_tuple=True)
    assert rows.tolist() == [0, 1, 1] and cols.tolist() == [1, 0, 2]
    assert x[x.nonzero(as_tuple=True)].tolist() == [1.0, 2.0, 3.0]
    assert tuple(ember.nonzero(ember.tensor(0.0)).shape) == (0, 0)
    assert tuple(ember.nonzero(ember.tensor(5.0)).shape) == (1, 0)
    assert [t.tolist() for t in ember.tensor(5.0).nonzero(as_tuple=True)] == [[0]]
    assert ember.where(x > 0)[1].tolist() == [1, 0, 2]
    r = np.random.default_rng(0).integers(0, 2, size=(3, 4, 2))
    assert ember.nonzero(ember.tensor(r)).tolist() == torch.nonzero(torch.tensor(r)).tolist()
