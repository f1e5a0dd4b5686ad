"""Shape ops: gradcheck, views (shared memory and version counter), PyTorch comparison, errors."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from helpers import assert_close, rand64, to_torch

# (id, fn(m, *tensors) with m = ember or torch, input shapes). Every case is gradchecked and compared with PyTorch.
CASES = [
    ("reshape", lambda m, x: x.reshape(3, -1), [(2, 3, 2)]),
    ("reshape_fn", lambda m, x: m.reshape(x, (4, 3)), [(2, 6)]),
    ("reshape_copy", lambda m, x: x.t().reshape(-1), [(2, 3)]),
    ("view", lambda m, x: x.view(2, -1), [(3, 4)]),
    ("view_as", lambda m, x, y: x.view_as(y) * y, [(3, 4), (6, 2)]),
    ("reshape_as", lambda m, x, y: x.t().reshape_as(y) + y, [(3, 4), (2, 6)]),
    ("permute", lambda m, x: x.permute(2, 0, 1), [(2, 3, 4)]),
    ("permute_neg", lambda m, x: m.permute(x, (-1, 0, -2)), [(2, 3, 4)]),
    ("transpose", lambda m, x: x.transpose(0, -1), [(2, 3, 4)]),
    ("swapaxes", lambda m, x: m.swapaxes(x, 0, 1), [(2, 3)]),
    ("swapdims", lambda m, x: x.swapdims(-1, -2), [(2, 3, 2)]),
    ("t", lambda m, x: x.t(), [(2, 3)]),
    ("t_1d", lambda m, x: m.t(x) * 2, [(3,)]),
    ("T", lambda m, x: x.T, [(2, 3)]),
    ("mT", lambda m, x: x.mT, [(2, 3, 4)]),
    ("mH", lambda m, x: x.mH, [(3, 2)]),
    ("squeeze_all", lambda m, x: x.squeeze(), [(2, 1, 3, 1)]),
    ("squeeze_dim", lambda m, x: x.squeeze(1), [(2, 1, 3, 1)]),
    ("squeeze_neg", lambda m, x: x.squeeze(-1), [(2, 1, 3, 1)]),
    ("squeeze_tuple", lambda m, x: m.squeeze(x, (1, -1)), [(2, 1, 3, 1)]),
    ("squeeze_noop", lambda m, x: x.squeeze(0) * 1, [(2, 1, 3)]),
    ("unsqueeze", lambda m, x: x.unsqueeze(0), [(2, 3)]),
    ("unsqueeze_neg", lambda m, x: m.unsqueeze(x, -1), [(2, 3)]),
    ("unsqueeze_mid", lambda m, x: x.unsqueeze(-2), [(2, 3)]),
    ("flatten", lambda m, x: x.flatten(), [(2, 3, 2)]),
    ("flatten_start", lambda m, x: x.flatten(1), [(2, 3, 2)]),
    ("flatten_neg", lambda m, x: m.flatten(x, 0, -2), [(2, 3, 2)]),
    ("flatten_0d", lambda m, x: x.sum().flatten(), [(2, 3)]),
    ("ravel", lambda m, x: m.ravel(x.t()), [(2, 3)]),
    ("unflatten", lambda m, x: x.unflatten(1, (2, 3)), [(2, 6)]),
    ("unflatten_neg", lambda m, x: m.unflatten(x, -1, (3, -1)), [(2, 6)]),
    ("expand", lambda m, x: x.expand(2, 3, 4), [(3, 1)]),
    ("expand_keep", lambda m, x: x.expand(-1, 4), [(3, 1)]),
    ("expand_as", lambda m, x, y: x.expand_as(y) * y, [(1, 3), (2, 3)]),
    ("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3, 4)), [(3, 1)]),
    ("broadcast_tensors", lambda m, x, y: m.broadcast_tensors(x, y), [(3, 1), (1, 4)]),
    ("repeat", lambda m, x: x.repeat(2, 1, 2), [(2, 3)]),
    ("repeat_same", lambda m, x: x.repeat(2, 3), [(2, 3)]),
    ("tile", lambda m, x: m.tile(x, (2,)), [(2, 3)]),
    ("tile_more", lambda m, x: x.tile((2, 1, 1)), [(2, 3)]),
    ("cat", lambda m, x, y: m.cat([x, y]), [(2, 3), (1, 3)]),
    ("cat_neg", lambda m, x, y: m.cat((x, y), dim=-1), [(2, 3), (2, 1)]),
    ("cat_three", lambda m, x, y: m.concat([y, x, y], 1), [(2, 2), (2, 1)]),
    ("stack", lambda m, x, y: m.stack([x, y], 1), [(2, 3), (2, 3)]),
    ("stack_neg", lambda m, x, y: m.stack((x, y), dim=-1), [(2, 3), (2, 3)]),
    ("hstack", lambda m, x, y: m.hstack([x, y]), [(2, 3), (2, 1)]),
    ("hstack_1d", lambda m, x, y: m.hstack([x, y]), [(3,), (2,)]),
    ("vstack", lambda m, x, y: m.vstack([x, y]), [(3,), (2, 3)]),
    ("dstack", lambda m, x, y: m.dstack([x, y]), [(2, 3), (2, 3)]),
    ("column_stack", lambda m, x, y: m.column_stack([x, y]), [(3,), (3, 2)]),
    ("atleast_3d", lambda m, x: m.atleast_3d(x), [(3,)]),
    ("split", lambda m, x: x.split(2), [(5, 3)]),
    ("split_sizes", lambda m, x: m.split(x, [1, 4]), [(5, 3)]),
    ("split_dim", lambda m, x: x.split(2, dim=-1), [(2, 5)]),
    ("split_unused_pieces", lambda m, x: m.split(x, [1, 2, 2], dim=1)[::2], [(3, 5)]),
    ("split_one_piece_used", lambda m, x: x.split(2, dim=0)[1] * 2, [(5, 3)]),
    ("chunk", lambda m, x: x.chunk(3), [(5, 2)]),
    ("chunk_dim", lambda m, x: m.chunk(x, 2, dim=-1), [(2, 4)]),
    ("tensor_split", lambda m, x: x.tensor_split(3), [(5, 2)]),
    ("tensor_split_idx", lambda m, x: m.tensor_split(x, [1, -1, 4], dim=1), [(2, 5)]),
    ("unbind", lambda m, x: x.unbind(1), [(2, 3)]),
    ("unbind_neg", lambda m, x: m.unbind(x, -1), [(2, 3)]),
    ("narrow", lambda m, x: x.narrow(1, 1, 3), [(3, 5)]),
    ("narrow_neg", lambda m, x: m.narrow(x, -1, -2, 2), [(3, 5)]),
    ("flip", lambda m, x: x.flip((0, -1)), [(2, 3, 2)]),
    ("flip_int", lambda m, x: m.flip(x, [1]), [(2, 3)]),
    ("fliplr", lambda m, x: m.fliplr(x), [(2, 3)]),
    ("flipud", lambda m, x: x.flipud(), [(2, 3)]),
    ("roll_flat", lambda m, x: x.roll(2), [(2, 3)]),
    ("roll_dims", lambda m, x: m.roll(x, (1, -2), (0, -1)), [(2, 3)]),
    ("roll_dim", lambda m, x: x.roll(1, 1), [(2, 3)]),
    ("rot90", lambda m, x: x.rot90(), [(2, 3)]),
    ("rot90_k2", lambda m, x: m.rot90(x, 2, (0, 1)), [(2, 3)]),
    ("rot90_k3", lambda m, x: m.rot90(x, -1, (1, 0)), [(2, 3)]),
    ("tril", lambda m, x: x.tril(), [(3, 4)]),
    ("tril_diag", lambda m, x: m.tril(x, diagonal=-1), [(2, 3, 3)]),
    ("triu", lambda m, x: x.triu(1), [(3, 4)]),
    ("triu_neg", lambda m, x: m.triu(x, -1), [(4, 3)]),
    ("diagonal", lambda m, x: x.diagonal(), [(3, 4)]),
    ("diagonal_offset", lambda m, x: m.diagonal(x, 1), [(3, 4)]),
    ("diagonal_dims", lambda m, x: m.diagonal(x, offset=-1, dim1=-1, dim2=0), [(3, 2, 4)]),
    ("movedim", lambda m, x: x.movedim(0, -1), [(2, 3, 4)]),
    ("movedim_tuple", lambda m, x: m.movedim(x, (0, 1), (2, 0)), [(2, 3, 4)]),
    ("moveaxis", lambda m, x: m.moveaxis(x, -1, 0), [(2, 3, 2)]),
    ("contiguous", lambda m, x: x.t().contiguous(), [(2, 3)]),
]


def _inputs(shapes):
    return [rand64(*s, seed=i) for i, s in enumerate(shapes)]


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


@pytest.mark.parametrize("name,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(name, fn, shapes):
    assert gradcheck(lambda *xs: fn(ember, *xs), _inputs(shapes))


@pytest.mark.parametrize("name,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, fn, shapes, torch):
    xs = _inputs(shapes)
    txs = [to_torch(x, torch) for x in xs]
    outs, touts = _as_tuple(fn(ember, *xs)), _as_tuple(fn(torch, *txs))
    assert len(outs) == len(touts)
    rng = np.random.default_rng(1)
    loss, tloss = 0, 0
    for o, to in zip(outs, touts):
        assert tuple(o.shape) == tuple(to.shape)
        assert_close(o, to)
        w = rng.standard_normal(tuple(o.shape))
        loss = loss + (o * ember.tensor(w)).sum()
        tloss = tloss + (to * torch.tensor(w)).sum()
    loss.backward()
    tloss.backward()
    for x, tx in zip(xs, txs):
        assert_close(x.grad, tx.grad)


@pytest.mark.parametrize("fn", [
    lambda x: x.narrow(1, 1, 2), lambda x: x.diagonal(1), lambda x: x.repeat(1, 2),
    lambda x: ember.cat([x, x * x], 1), lambda x: ember.stack([x, x], -1),
    lambda x: x.split(2, dim=1)[1], lambda x: x.flip(0).roll(1, 1).tril(),
])
def test_gradgradcheck(fn):
    assert gradgradcheck(fn, [rand64(2, 3)])


def test_split_pieces_are_one_node_whose_gradient_is_one_array():
    x = rand64(4, 6)
    a, b, c = x.split(2, dim=1)
    assert a.grad_fn is b.grad_fn is c.grad_fn and [t._out_index for t in (a, b, c)] == [0, 1, 2]
    (a * 1 + c * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.repeat([[1.0, 0.0, 3.0]], 2, axis=1).repeat(4, 0))
    with ember.no_grad():
        assert x.split(2, dim=1)[0].grad_fn is None


def test_split_pieces_are_checked_for_in_place_changes_of_the_input():
    x = rand64(4, 6)
    y = x * 1
    q, k = y.split(3, dim=1)
    out = (q.exp() * k).sum()
    with ember.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


# --- views --------------------------------------------------------------------------------------------------

VIEWS = {
    "reshape": lambda x: x.reshape(4, 6), "view": lambda x: x.view(-1), "view_as": lambda x: x.view_as(x.flatten()),
    "permute": lambda x: x.permute(2, 0, 1), "transpose": lambda x: x.transpose(0, -1), "T": lambda x: x.T,
    "mT": lambda x: x.mT, "t": lambda x: x.flatten(1).t(),
    "squeeze": lambda x: x.unsqueeze(1).squeeze(1), "unsqueeze": lambda x: x.unsqueeze(-1),
    "flatten": lambda x: x.flatten(0, 1), "unflatten": lambda x: x.unflatten(-1, (2, 2)),
    "narrow": lambda x: x.narrow(1, 1, 2), "split": lambda x: x.split(2, dim=-1)[1],
    "chunk": lambda x: x.chunk(3, 1)[2], "unbind": lambda x: x.unbind(-1)[3], "diagonal": lambda x: x.diagonal(0, 1, 2),
    "movedim": lambda x: x.movedim(0, 2), "tensor_split": lambda x: x.tensor_split([1], dim=0)[1],
    "swapaxes": lambda x: x.swapaxes(0, 1), "atleast_3d": lambda x: ember.atleast_3d(x.flatten()),
    "chain": lambda x: x.permute(1, 0, 2).narrow(0, 1, 2).unsqueeze(0).flatten(0, 1),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_share_memory_and_version(name):
    x = ember.arange(24.0).reshape(2, 3, 4)
    before = x.clone()
    v = VIEWS[name](x)
    assert np.shares_memory(v._data, x._data)
    assert v._version == x._version == 0
    v.add_(1.0)
    assert x._version == v._version == 1
    changed = (x - before).numpy()
    assert changed.sum() == v.numel() and set(np.unique(changed)) <= {0.0, 1.0}  # the view's elements, once each
    x.mul_(2.0)  # and writes into the base are seen through the view
    assert v._version == 2
    np.testing.assert_array_equal(v.numpy(), VIEWS[name](x).numpy())


def test_view_of_grad_tensor_shares_version_counter():
    x = rand64(2, 3)
    v = x.view(3, 2)
    assert v._vbox is x._vbox and v._base is x
    assert x.unbind(0)[1]._base is x


def test_expand_is_a_view():
    x = ember.arange(3.0).reshape(3, 1)
    v = x.expand(2, 3, 4)
    assert np.shares_memory(v._data, x._data) and v._vbox is x._vbox
    x.add_(1.0)
    assert v._version == 1 and v.numpy()[1, 2, 3] == 3.0


@pytest.mark.parametrize("fn", [
    lambda x: x.t().reshape(-1), lambda x: x.flip(0), lambda x: x.roll(1), lambda x: x.repeat(1, 2),
    lambda x: ember.cat([x, x]), lambda x: ember.stack([x]), lambda x: x.t().contiguous(), lambda x: x.tril(),
    lambda x: x.rot90(2),
])
def test_copies_do_not_alias(fn):
    x = ember.arange(6.0).reshape(2, 3)
    before = x.clone()
    y = fn(x)
    assert not np.shares_memory(y._data, x._data)
    y.add_(1.0)
    assert x._version == 0
    np.testing.assert_array_equal(x.numpy(), before.numpy())


def test_contiguous_returns_self_when_contiguous():
    x = ember.ones(2, 3)
    assert x.contiguous() is x
    assert x.t().contiguous().is_contiguous()


def test_view_refuses_to_copy():
    x = ember.ones(2, 3).t()
    with pytest.raises(RuntimeError, match=r"view: view size is not compatible.*Use .reshape.*\(3, 2\)"):
        x.view(6)
    assert x.reshape(6).shape == (6,)  # reshape copies instead
    assert x.view(3, 1, 2).shape == (3, 1, 2)  # adding a size-1 dim needs no copy


def test_view_dtype():
    x = ember.tensor([1.0, 2.0], dtype=ember.float32)
    y = x.view(ember.int32)
    assert y.dtype is ember.int32 and np.shares_memory(y._data, x._data)
    np.testing.assert_array_equal(y.numpy(), x.numpy().view(np.int32))


def test_in_place_triangles():
    x = ember.ones(3, 3)
    assert x.tril_(-1) is x and x.sum().item() == 3.0 and x._version == 1
    y = ember.ones(2, 3)
    y.triu_()
    np.testing.assert_array_equal(y.numpy(), np.triu(np.ones((2, 3))))


def test_diagonal_view_is_writable():
    x = ember.zeros(3, 3)
    x.diagonal().fill_(1.0)
    np.testing.assert_array_equal(x.numpy(), np.eye(3))


# --- dtypes, methods, exports ---------------------------------------------------------------------------------

def test_cat_promotes_dtypes():
    f = ember.ones(2, dtype=ember.float32)
    i = ember.ones(2, dtype=ember.int64)
    b = ember.ones(2, dtype=ember.bool)
    assert ember.cat([i, f]).dtype is ember.float32
    assert ember.cat([b, i]).dtype is ember.int64
    assert ember.stack([b, f.double()]).dtype is ember.float64
    x = rand64(2)
    ember.cat([x, i]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(2))


def test_cat_skips_empty_1d_and_keeps_requires_grad_mix():
    x, c = rand64(2, 3), ember.ones(1, 3, dtype=ember.float64)
    y = ember.cat([ember.zeros(0, dtype=ember.float64), x, c])
    assert y.shape == (3, 3) and y.requires_grad
    y.sum().backward()
    assert x.grad.shape == (2, 3) and c.grad is None


def test_methods_and_exports():
    x = ember.arange(12.0).reshape(3, 4)
    assert x.view(2, -1).shape == (2, 6)
    assert x.flatten(1).shape == (3, 4)
    assert [p.shape for p in x.split(2, dim=1)] == [(3, 2), (3, 2)]
    assert [p.shape for p in x.split([1, 2])] == [(1, 4), (2, 4)]
    assert len(list(x)) == 3
    for name in ["cat", "concat", "concatenate", "stack", "flatten", "split", "chunk", "unbind", "narrow", "flip",
                 "roll", "tril", "triu", "squeeze", "unsqueeze", "movedim", "broadcast_tensors", "tile", "t"]:
        assert callable(getattr(ember, name)), name
    assert ember.broadcast_shapes((3, 1), (1, 4), (2, 1, 1)) == (2, 3, 4)


def test_chunk_uneven_and_empty_split():
    x = ember.arange(5.0)
    assert [len(c) for c in x.chunk(3)] == [2, 2, 1]
    assert [len(c) for c in ember.arange(6.0).chunk(4)] == [2, 2, 2]
    assert [tuple(p.shape) for p in ember.zeros(0, 2).split(2)] == [(0, 2)]


# --- errors ---------------------------------------------------------------------------------------------------

def test_reshape_error_names_shapes():
    x = ember.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"reshape: shape '\[4, 2\]' is invalid for input of size 6.*\(2, 3\)"):
        x.reshape(4, 2)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.reshape(-1, -1)
    with pytest.raises(RuntimeError, match=r"view: shape '\[5\]' is invalid"):
        x.view(5)


def test_cat_errors_name_shapes():
    with pytest.raises(RuntimeError, match=r"cat: Sizes of tensors must match except in dimension 0.*tensor number 1"
                                           r".*\(2, 3\) and \(2, 4\)"):
        ember.cat([ember.ones(2, 3), ember.ones(2, 4)])
    with pytest.raises(RuntimeError, match=r"same number of dimensions: got 2 and 1"):
        ember.cat([ember.ones(2, 3), ember.ones(3)])
    with pytest.raises(RuntimeError, match="zero-dimensional tensor"):
        ember.cat([ember.ones(2), ember.tensor(1.0)])
    with pytest.raises(RuntimeError, match="non-empty list"):
        ember.cat([])
    with pytest.raises(IndexError, match="cat: Dimension out of range"):
        ember.cat([ember.ones(2, 3)], dim=2)
    with pytest.raises(TypeError, match="must be a tuple or list"):
        ember.cat(ember.ones(2))


def test_shape_op_errors():
    x = ember.ones(2, 3)
    cases = [
        (lambda: ember.stack([x, ember.ones(3, 2)]), RuntimeError, r"stack expects each tensor to be equal size, but "
                                                                   r"got \[2, 3\] at entry 0 and \[3, 2\] at entry 1"),
        (lambda: x.split([2, 2]), RuntimeError, r"split_with_sizes expects split_sizes to sum exactly to 2"),
        (lambda: x.chunk(0), RuntimeError, "chunk expects `chunks` to be greater than 0"),
        (lambda: x.expand(2, 4), RuntimeError, r"expanded size of the tensor \(4\) must match the existing size \(3\)"),
        (lambda: x.expand(3), RuntimeError, r"number of sizes provided \(1\)"),
        (lambda: x.expand(-1, 2, 3), RuntimeError, "leading, non-existing dimension 0"),
        (lambda: x.narrow(1, 2, 2), RuntimeError, r"start \(2\) \+ length \(2\) exceeds dimension size \(3\)"),
        (lambda: x.narrow(1, 5, 0), IndexError, "start out of range"),
        (lambda: ember.ones(2, 2, 2).t(), RuntimeError, r"t\(\) expects a tensor with <= 2 dimensions, but self is 3D"),
        (lambda: x.permute(0), RuntimeError, r"permute: number of dims don't match.*\(2, 3\)"),
        (lambda: x.permute(0, 0), RuntimeError, "repeated dim"),
        (lambda: x.transpose(0, 2), IndexError, "transpose: Dimension out of range"),
        (lambda: x.unsqueeze(3), IndexError, "unsqueeze: Dimension out of range"),
        (lambda: x.unflatten(1, (2, 2)), RuntimeError, r"Provided sizes \[2, 2\] don't multiply up to the size of dim 1"),
        (lambda: x.flatten(1, 0), RuntimeError, "start_dim .* cannot come after end_dim"),
        (lambda: x.repeat(2), RuntimeError, "Number of dimensions of repeat dims"),
        (lambda: x.roll((1, 2), 0), RuntimeError, "shifts and dimensions must align"),
        (lambda: x.flip((0, -2)), RuntimeError, "multiple times"),
        (lambda: ember.ones(3).tril(), RuntimeError, "tril: input tensor must have at least 2 dimensions"),
        (lambda: ember.ones(3).mH, RuntimeError, "mH is only supported on matrices"),
        (lambda: ember.ones(3).H, RuntimeError, "H is only supported on matrices"),
        (lambda: x.diagonal(0, 1, -1), RuntimeError, "diagonal: dimensions cannot be identical"),
        (lambda: x.movedim((0, 1), 0), RuntimeError, "movedim: Invalid source or destination dims"),
        (lambda: ember.broadcast_tensors(x, ember.ones(4)), RuntimeError, r"shape mismatch.*\(2, 3\), \(4,\)"),
    ]
    for fn, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            fn()


def test_errors_match_torch_types(torch):
    for f in [lambda m: m.ones(2, 3).reshape(4, 2), lambda m: m.cat([m.ones(2, 3), m.ones(2, 4)]),
              lambda m: m.ones(2, 3).narrow(1, 5, 0), lambda m: m.ones(2, 3).unsqueeze(3),
              lambda m: m.ones(2, 3).expand(2, 4), lambda m: m.ones(2, 3).split([2, 2])]:
        with pytest.raises(Exception) as te:
            f(torch)
        with pytest.raises(Exception) as ee:
            f(ember)
        assert issubclass(ee.type, te.type) or issubclass(te.type, ee.type), (te.type, ee.type)


def test_methods_taking_dimensions_as_several_ints_or_one_sequence_vs_torch(torch):
    a, ta = ember.arange(6).reshape(2, 3), torch.arange(6).reshape(2, 3)
    x, tx = ember.zeros(1, 2, 1, 3), torch.zeros(1, 2, 1, 3)
    pairs = [(a.flip(0, 1), ta.flip(0, 1)), (a.flip((0, 1)), ta.flip((0, 1))), (a.flip(dims=[1]), ta.flip(dims=[1])),
             (ember.flip(a, dims=[1]), torch.flip(ta, dims=[1])), (a.tile(2, 2), ta.tile(2, 2)),
             (ember.tile(a, dims=(2, 1)), torch.tile(ta, dims=(2, 1))), (x.squeeze(0, 2), tx.squeeze(0, 2)),
             (x.squeeze(), tx.squeeze()), (x.squeeze(dim=2), tx.squeeze(dim=2)),
             (ember.squeeze(x, (0, 2)), torch.squeeze(tx, (0, 2)))]
    for got, want in pairs:
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(TypeError, match="flip"):
        a.flip()
    with pytest.raises(TypeError, match="multiple values for argument 'dims'"):
        ember.flip(a, (0,), dims=(1,))


def test_sum_to_size_refuses_a_size_that_does_not_broadcast_vs_torch(torch):
    x, tx = ember.ones(2, 3), torch.ones(2, 3)
    for size in [(1, 3), (3,), (2, 1), (2, 3)]:
        np.testing.assert_array_equal(x.sum_to_size(*size).numpy(), tx.sum_to_size(*size).numpy())
    for size in [(3, 1), (2, 2), (6,), (1, 2, 3)]:
        with pytest.raises(RuntimeError, match="is not expandable to size"):
            tx.sum_to_size(*size)
        with pytest.raises(RuntimeError, match=r"sum_to_size: size \{\[.*\]\} is not expandable to size \{\[2, 3\]\}"):
            x.sum_to_size(*size)


def test_tensor_split_with_a_tensor_vs_torch(torch):
    x, tx = ember.arange(7), torch.arange(7)
    for given in ([2], 3, [1, 5]):
        got, want = ember.tensor_split(x, ember.tensor(given)), torch.tensor_split(tx, torch.tensor(given))
        assert [t.tolist() for t in got] == [t.tolist() for t in want]
    with pytest.raises(RuntimeError, match="tensor_split expected tensor_indices_or_sections"):
        ember.tensor_split(x, ember.tensor([1.5]))


def test_select():
    x = ember.arange(24.0).reshape(2, 3, 4).requires_grad_()
    np.testing.assert_array_equal(ember.select(x, 1, -1).detach().numpy(), x.detach().numpy()[:, -1])
    base = ember.zeros(2, 3)
    base.select(1, 2).fill_(7.0)  # a view, as PyTorch's: writing it writes the base
    assert base.tolist() == [[0.0, 0.0, 7.0], [0.0, 0.0, 7.0]]
    x.select(0, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.stack([np.zeros((3, 4)), np.ones((3, 4))]))
    with pytest.raises(IndexError, match=r"select\(\): index 3 out of range for tensor of size \[2, 3, 4\] at "
                                         r"dimension 1"):
        x.select(1, 3)
