"""nn.EmbeddingBag and nn.functional.embedding_bag: values and gradients (weight, per_sample_weights) against
PyTorch for every mode and way of giving bags, gradcheck, sparse gradients, PyTorch's errors, from_pretrained, and
bag-of-words classifiers that learn with Adam and with SparseAdam."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn, optim

ROWS, DIM = 10, 4
RNG = np.random.default_rng(0)
WEIGHT = RNG.standard_normal((ROWS, DIM))
FLAT = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])

# name -> (input, offsets, keyword arguments); every index row is used with every mode
CASES = {
    "2d": (RNG.integers(0, ROWS, size=(4, 5)), None, {}),
    "offsets": (FLAT, np.array([0, 3, 3, 7, 11]), {}),  # an empty bag and a bag of one
    "trailing_empty_bags": (FLAT, np.array([0, 5, 12, 12]), {}),
    "include_last_offset": (FLAT, np.array([0, 3, 3, 7, 12]), {"include_last_offset": True}),
    "padding_idx": (FLAT, np.array([0, 3, 4, 7]), {"padding_idx": 1}),  # bag [1] holds only padding
    "padding_idx_negative_2d": (np.array([[9, 9, 2], [0, 9, 4]]), None, {"padding_idx": -1}),
    "offsets_int32": (FLAT.astype(np.int32), np.array([0, 6], dtype=np.int32), {}),
}


def _bags(lib, case, weight, mode, dtype="float64", per_sample_weights=None, **extra):
    """(output, weight) of lib's embedding_bag on a CASES entry, weight requiring grad."""
    inp, offsets, kwargs = CASES[case] if isinstance(case, str) else case
    w = lib.tensor(weight.astype(dtype), requires_grad=True)
    psw = None if per_sample_weights is None else lib.tensor(per_sample_weights.astype(dtype), requires_grad=True)
    out = lib.nn.functional.embedding_bag(lib.tensor(inp), w, None if offsets is None else lib.tensor(offsets),
                                          mode=mode, per_sample_weights=psw, **kwargs, **extra)
    return out, w, psw


def _compare(case, mode, dtype="float64", tol=1e-12, per_sample_weights=None, **extra):
    torch = pytest.importorskip("torch")
    lib_outs = []
    for lib in (ember, torch):
        out, w, psw = _bags(lib, case, WEIGHT, mode, dtype, per_sample_weights, **extra)
        g = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(dtype)
        (out * lib.tensor(g)).sum().backward()
        lib_outs.append((out.detach().numpy(), w.grad.numpy(), None if psw is None else psw.grad.numpy()))
    (out, grad, psw_grad), (t_out, t_grad, t_psw_grad) = lib_outs
    assert out.dtype == t_out.dtype and out.shape == t_out.shape
    np.testing.assert_allclose(out, t_out, rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, t_grad, rtol=tol, atol=tol)
    if per_sample_weights is not None:
        np.testing.assert_allclose(psw_grad, t_psw_grad, rtol=tol, atol=tol)
    return out


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("case", list(CASES))
def test_values_and_weight_gradient_match_torch(case, mode):
    _compare(case, mode)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_float32_matches_torch(mode):
    out = _compare("padding_idx", mode, dtype="float32", tol=1e-6)
    assert out.dtype == np.float32


@pytest.mark.parametrize("case", ["2d", "offsets", "padding_idx", "padding_idx_negative_2d"])
def test_per_sample_weights_match_torch(case):
    shape = np.shape(CASES[case][0])
    _compare(case, "sum", per_sample_weights=np.random.default_rng(2).standard_normal(shape))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_max_norm_renormalises_the_rows_in_place_as_torch(mode, norm_type):
    torch = pytest.importorskip("torch")
    weights = {}
    for lib in (ember, torch):
        w = lib.tensor(WEIGHT * 3)
        out = lib.nn.functional.embedding_bag(lib.tensor(FLAT[:6]), w, lib.tensor([0, 2]), max_norm=1.5,
                                              norm_type=norm_type, mode=mode)
        weights[lib.__name__] = w.numpy(), out.numpy()
    np.testing.assert_allclose(weights["ember"][0], weights["torch"][0], rtol=1e-12)
    np.testing.assert_allclose(weights["ember"][1], weights["torch"][1], rtol=1e-12)
    used = np.unique(FLAT[:6])
    assert not np.allclose(weights["ember"][0][used], WEIGHT[used] * 3)  # renormalised
    np.testing.assert_array_equal(np.delete(weights["ember"][0], used, 0), np.delete(WEIGHT * 3, used, 0))


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("case", ["offsets", "padding_idx", "2d"])
def test_scale_grad_by_freq_divides_each_row_gradient_by_its_count(case, mode):
    """Each row's gradient is torch's unscaled one over its index's count (as F.embedding; PyTorch's CPU kernel for
    embedding_bag can divide by another index's count, so it is not compared directly)."""
    torch = pytest.importorskip("torch")
    inp, offsets, kwargs = CASES[case]
    out, w, _ = _bags(ember, case, WEIGHT, mode, scale_grad_by_freq=True)
    t_out, t_w, _ = _bags(torch, case, WEIGHT, mode)
    g = np.random.default_rng(3).standard_normal(tuple(out.shape))
    (out * ember.tensor(g)).sum().backward()
    (t_out * torch.tensor(g)).sum().backward()
    counts = np.maximum(np.bincount(np.ravel(inp), minlength=ROWS), 1)[:, None]
    np.testing.assert_allclose(w.grad.numpy(), t_w.grad.numpy() / counts, rtol=1e-12, atol=1e-12)


def test_include_last_offset_short_of_the_input_ends_the_last_bag_there():
    weight = ember.arange(7.0).reshape(7, 1)
    inp, offsets = ember.tensor([1, 2, 4, 4, 0, 6, 3]), ember.tensor([0, 2, 2, 5])
    for mode, last in [("sum", 8.0), ("mean", 8.0 / 3), ("max", 4.0)]:
        out = F.embedding_bag(inp, weight, offsets, mode=mode, include_last_offset=True)
        np.testing.assert_allclose(out.numpy()[:, 0], [3.0 if mode == "sum" else 1.5 if mode == "mean" else 2.0,
                                                       0.0, last], rtol=1e-6)


def test_empty_bags_give_zeros_and_no_gradient():
    w = ember.tensor(WEIGHT, requires_grad=True)
    for mode in ("sum", "mean", "max"):
        w.grad = None
        out = F.embedding_bag(ember.tensor([1, 1, 2]), w, ember.tensor([0, 0, 2, 3, 3]), mode=mode, padding_idx=2)
        np.testing.assert_array_equal(out.detach().numpy()[[0, 2, 3, 4]], 0)
        out.sum().backward()
        assert np.count_nonzero(w.grad.numpy().any(axis=1)) == 1  # row 1 only
        columns = F.embedding_bag(ember.zeros(3, 0, dtype=ember.int64), w, mode=mode)
        assert tuple(columns.shape) == (3, DIM) and not columns.detach().numpy().any()


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_no_bags(mode):
    """Empty offsets (or a lone last offset) give no bags and a zero gradient (PyTorch 2.13 segfaults on these in
    float64, so they are not compared)."""
    w = ember.tensor(WEIGHT, requires_grad=True)
    for offsets, include_last_offset in ((ember.tensor([], dtype=ember.int64), False), (ember.tensor([0]), True)):
        out = F.embedding_bag(ember.tensor(FLAT), w, offsets, mode=mode, include_last_offset=include_last_offset)
        assert tuple(out.shape) == (0, DIM) and out.dtype == ember.float64
        out.sum().backward()
        assert not w.grad.numpy().any()


def test_max_gradient_goes_to_the_row_of_each_maximum():
    w = ember.tensor([[1.0, 5.0], [3.0, 0.0], [2.0, 2.0]], requires_grad=True)
    out = F.embedding_bag(ember.tensor([[0, 1, 2]]), w, mode="max")
    assert out.tolist() == [[3.0, 5.0]]
    out.sum().backward()
    assert w.grad.tolist() == [[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]
    tied = ember.tensor([[1.0, 2.0], [1.0, 2.0]], requires_grad=True)
    F.embedding_bag(ember.tensor([1, 0]), tied, ember.tensor([0]), mode="max").sum().backward()
    assert tied.grad.tolist() == [[0.0, 0.0], [1.0, 1.0]]  # the first of equal maxima, as PyTorch's CPU kernel


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("case", ["offsets", "padding_idx", "include_last_offset", "2d"])
def test_gradcheck(case, mode):
    inp, offsets, kwargs = CASES[case]
    w = ember.tensor(WEIGHT, requires_grad=True)
    offsets = None if offsets is None else ember.tensor(offsets)

    def bags(weight):
        return F.embedding_bag(ember.tensor(inp), weight, offsets, mode=mode, **kwargs)
    assert ember.autograd.gradcheck(bags, (w,))


@pytest.mark.parametrize("case", ["offsets", "padding_idx", "2d"])
def test_gradcheck_per_sample_weights(case):
    inp, offsets, kwargs = CASES[case]
    w = ember.tensor(WEIGHT, requires_grad=True)
    psw = ember.tensor(RNG.standard_normal(np.shape(inp)), requires_grad=True)
    offsets = None if offsets is None else ember.tensor(offsets)

    def bags(weight, per_sample_weights):
        return F.embedding_bag(ember.tensor(inp), weight, offsets, mode="sum", per_sample_weights=per_sample_weights,
                               **kwargs)
    assert ember.autograd.gradcheck(bags, (w, psw))


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("case", ["offsets", "padding_idx", "include_last_offset", "2d"])
def test_sparse_gradient_equals_the_dense_one(case, mode):
    g = None
    grads = []
    for sparse in (True, False):
        out, w, _ = _bags(ember, case, WEIGHT, mode, sparse=sparse)
        g = np.random.default_rng(4).standard_normal(tuple(out.shape)) if g is None else g
        (out * ember.tensor(g)).sum().backward()
        grads.append(w.grad)
    sparse_grad, dense_grad = grads
    assert sparse_grad.is_sparse and not dense_grad.is_sparse
    np.testing.assert_allclose(sparse_grad.to_dense().numpy(), dense_grad.numpy(), rtol=1e-12, atol=1e-15)


def test_sparse_gradient_with_per_sample_weights():
    psw = np.random.default_rng(5).standard_normal(FLAT.shape)
    grads = []
    for sparse in (True, False):
        out, w, p = _bags(ember, "padding_idx", WEIGHT, "sum", per_sample_weights=psw, sparse=sparse)
        out.sum().backward()
        grads.append((w.grad, p.grad.numpy()))
    (sparse_grad, sparse_psw_grad), (dense_grad, dense_psw_grad) = grads
    np.testing.assert_allclose(sparse_grad.to_dense().numpy(), dense_grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(sparse_psw_grad, dense_psw_grad, rtol=1e-12)


W = ember.tensor(WEIGHT)
IDX = ember.tensor([1, 2, 3])
ERRORS = [
    (dict(input=ember.tensor([[[1]]]), weight=W), ValueError, r"embedding_bag: input has to be 1D or 2D Tensor, but "
     r"got Tensor of dimension 3 \(shape \(1, 1, 1\)\)"),
    (dict(input=ember.tensor(1), weight=W, offsets=ember.tensor([0])), ValueError, "dimension 0"),
    (dict(input=IDX, weight=W[0]), ValueError, r"weight has to be a 2D Tensor, but got Tensor of dimension 1 "
     r"\(shape \(4,\)\)"),
    (dict(input=ember.tensor([[1, 2]]), weight=W, offsets=ember.tensor([0])), ValueError,
     "if input is 2D, then offsets has to be None"),
    (dict(input=IDX, weight=W), ValueError, "offsets has to be a 1D Tensor but got None"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([[0]])), ValueError, r"offsets has to be a 1D Tensor, got shape "
     r"\(1, 1\)"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([1, 2])), RuntimeError,
     "embedding_bag: offsets.0. has to be 0.*However, got 1"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([0, 5])), RuntimeError,
     "offsets.-1. can not be greater than input's length 3 but got offsets.-1. of 5"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([0, 5, 5]), include_last_offset=True), RuntimeError,
     "offsets.-1. can not be greater than input's length 3"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([0, 2, 1])), RuntimeError,
     r"offsets must not decrease, but offsets\[2\] = 1 comes after offsets\[1\] = 2"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([], dtype=ember.int64), include_last_offset=True),
     RuntimeError, "include_last_offset: number of offset should be at least 1"),
    (dict(input=ember.tensor([1, 12, 3]), weight=W, offsets=ember.tensor([0])), RuntimeError,
     r"embedding_bag: Index 1 of input takes value 12 which is not in the valid range \[0, 10\) of a weight of "
     r"shape \(10, 4\)"),
    (dict(input=ember.tensor([[1, -1]]), weight=W), RuntimeError, "Index 1 of input takes value -1"),
    (dict(input=ember.tensor([1.0]), weight=W, offsets=ember.tensor([0])), RuntimeError,
     "expected input to be an int64 or int32 tensor, got ember.float32"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([0.0])), RuntimeError, "expected offsets to be an int64"),
    (dict(input=IDX, weight=ember.ones(3, 2, dtype=ember.int64), offsets=ember.tensor([0])), RuntimeError,
     "expected a floating-point weight, got ember.int64"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([0]), mode="min"), ValueError,
     "mode has to be one of sum, mean or max, got 'min'"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([0]), mode="max", sparse=True), ValueError,
     "max mode does not support sparse weights"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([0]), mode="max", scale_grad_by_freq=True), ValueError,
     "max mode does not support scaling the gradient by the frequency"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([0]), per_sample_weights=ember.ones(3, dtype=ember.float64)),
     NotImplementedError, "per_sample_weights is only supported for mode='sum' .got mode='mean'."),
    (dict(input=IDX, weight=W, offsets=ember.tensor([0]), per_sample_weights=ember.ones(2), mode="sum"),
     ValueError, r"If per_sample_weights \(\(2,\)\) is not None, then it must have the same shape as the input "
     r"\(\(3,\)\)"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([0]), per_sample_weights=ember.ones(3), mode="sum"),
     RuntimeError, r"per_sample_weights to have the dtype of weight \(ember.float64\), got ember.float32"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([0]), padding_idx=10), RuntimeError,
     "padding_idx must be within the number of embeddings, -10 through 9, but got 10"),
    (dict(input=IDX, weight=W, offsets=ember.tensor([0]), padding_idx=-11), RuntimeError, "but got -11"),
    (dict(input=[1, 2], weight=W, offsets=ember.tensor([0])), TypeError,
     r"embedding_bag\(\): argument 'input' must be Tensor, not list"),
]


@pytest.mark.parametrize("kwargs, error, message", ERRORS)
def test_errors(kwargs, error, message):
    """ember's error, and PyTorch's error type for the same arguments."""
    with pytest.raises(error, match=message):
        F.embedding_bag(**kwargs)
    torch = pytest.importorskip("torch")
    if "must not decrease" in message or not isinstance(kwargs["input"], ember.Tensor):
        return  # PyTorch's float64 kernel does not check the order of offsets; a list fails on an attribute
    converted = {k: torch.tensor(v.numpy()) if isinstance(v, ember.Tensor) else v for k, v in kwargs.items()}
    with pytest.raises(error):
        torch.nn.functional.embedding_bag(**converted)


def test_errors_leave_the_weight_unchanged():
    w = ember.tensor(WEIGHT * 10)
    for kwargs in (dict(mode="mean", per_sample_weights=ember.ones(3, dtype=ember.float64)), dict(padding_idx=12),
                   dict(offsets=ember.tensor([0, 4]))):
        kwargs = {"offsets": ember.tensor([0]), **kwargs}
        with pytest.raises((RuntimeError, NotImplementedError)):
            F.embedding_bag(IDX, w, max_norm=1.0, **kwargs)
        np.testing.assert_array_equal(w.numpy(), WEIGHT * 10)


def test_scale_grad_by_freq_with_sparse_is_refused_in_backward():
    out, _, _ = _bags(ember, "offsets", WEIGHT, "sum", sparse=True, scale_grad_by_freq=True)
    with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse gradients"):
        out.sum().backward()


# --- the module -----------------------------------------------------------------------------------------------

def test_module_init_forward_and_padding_row():
    ember.manual_seed(0)
    bag = nn.EmbeddingBag(1000, 8, padding_idx=-3, mode="sum")
    assert bag.padding_idx == 997 and tuple(bag.weight.shape) == (1000, 8) and bag.weight.requires_grad
    w = bag.weight.detach().numpy()
    assert not w[997].any() and abs(w.std() - 1) < 0.05 and abs(w.mean()) < 0.05  # N(0, 1)
    inp, offsets = ember.tensor([1, 997, 5, 7]), ember.tensor([0, 2])
    psw = ember.tensor([0.5, 2.0, 1.0, -1.0])
    out = bag(inp, offsets, per_sample_weights=psw)
    np.testing.assert_allclose(out.detach().numpy(), [0.5 * w[1], w[5] - w[7]], rtol=1e-6)
    with pytest.raises(AssertionError, match="padding_idx must be within num_embeddings"):
        nn.EmbeddingBag(5, 2, padding_idx=5)
    with pytest.raises(AssertionError, match="Shape of weight does not match"):
        nn.EmbeddingBag(5, 2, _weight=ember.zeros(4, 2))


def test_module_matches_torch_after_loading_its_state():
    torch = pytest.importorskip("torch")
    kwargs = dict(mode="max", padding_idx=2, include_last_offset=True)
    t_bag, bag = torch.nn.EmbeddingBag(ROWS, DIM, **kwargs), nn.EmbeddingBag(ROWS, DIM, **kwargs)
    bag.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t_bag.state_dict().items()})
    out = bag(ember.tensor(FLAT), ember.tensor([0, 4, 4, 12]))
    t_out = t_bag(torch.tensor(FLAT), torch.tensor([0, 4, 4, 12]))
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("expr", ["EmbeddingBag(10, 3)", "EmbeddingBag(10, 3, mode='sum', sparse=True)",
                                  "EmbeddingBag(10, 3, max_norm=1.0, norm_type=3, scale_grad_by_freq=True, "
                                  "mode='max', padding_idx=-1, include_last_offset=True)"])
def test_repr_matches_torch(expr):
    torch = pytest.importorskip("torch")
    ours, theirs = (eval(expr, {"EmbeddingBag": lib.EmbeddingBag}) for lib in (nn, torch.nn))
    assert str(ours) == str(theirs)


def test_from_pretrained_and_freeze():
    table = ember.tensor(WEIGHT)
    frozen = nn.EmbeddingBag.from_pretrained(table, mode="sum", padding_idx=0)
    assert not frozen.weight.requires_grad and frozen.mode == "sum" and frozen.padding_idx == 0
    np.testing.assert_array_equal(frozen.weight.detach().numpy(), WEIGHT)  # the padding row is kept, not zeroed
    out = frozen(ember.tensor([[0, 3, 4]]))
    np.testing.assert_allclose(out.numpy(), [WEIGHT[3] + WEIGHT[4]])
    assert out.grad_fn is None
    trained = nn.EmbeddingBag.from_pretrained(table, freeze=False, max_norm=None, norm_type=2.0,
                                              scale_grad_by_freq=False, mode="mean", sparse=True,
                                              include_last_offset=True)
    assert trained.weight.requires_grad and trained.include_last_offset and trained.sparse
    trained(ember.tensor([1, 2, 3]), ember.tensor([0, 3])).sum().backward()
    assert trained.weight.grad.is_sparse
    np.testing.assert_allclose(trained.weight.grad.to_dense().numpy()[1:4], np.full((3, DIM), 1 / 3))
    with pytest.raises(AssertionError, match="Embeddings parameter is expected to be 2-dimensional"):
        nn.EmbeddingBag.from_pretrained(ember.zeros(3))


# --- training ---------------------------------------------------------------------------------------------------

CLASSES, VOCAB, SIGNAL = 4, 60, 5  # tokens [c * SIGNAL, (c + 1) * SIGNAL) mark class c; the others are noise


def _token_bags(count, seed):
    """(flat tokens, offsets, labels): bags of 3 to 10 tokens, one or two of them from their class's signal set."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, size=count)
    bags = []
    for label in labels:
        signal = label * SIGNAL + rng.integers(0, SIGNAL, size=rng.integers(1, 3))
        noise = rng.integers(CLASSES * SIGNAL, VOCAB, size=rng.integers(2, 9))
        bags.append(rng.permutation(np.concatenate([signal, noise])))
    offsets = np.cumsum([0] + [len(b) for b in bags[:-1]])
    return np.concatenate(bags), offsets, labels


def _accuracy_after_training(sparse):
    ember.manual_seed(0)
    bag = nn.EmbeddingBag(VOCAB, 16, mode="mean", sparse=sparse)
    head = nn.Linear(16, CLASSES)
    if sparse:
        optimizers = [optim.SparseAdam(bag.parameters(), lr=0.05), optim.Adam(head.parameters(), lr=0.05)]
    else:
        optimizers = [optim.Adam([*bag.parameters(), *head.parameters()], lr=0.05)]
    for epoch in range(30):
        tokens, offsets, labels = _token_bags(64, seed=epoch)
        loss = F.cross_entropy(head(bag(ember.tensor(tokens), ember.tensor(offsets))), ember.tensor(labels))
        for opt in optimizers:
            opt.zero_grad()
        loss.backward()
        for opt in optimizers:
            opt.step()
    assert bag.weight.grad.is_sparse == sparse
    tokens, offsets, labels = _token_bags(400, seed=1000)
    with ember.no_grad():
        predicted = head(bag(ember.tensor(tokens), ember.tensor(offsets))).argmax(1).numpy()
    return (predicted == labels).mean()


def test_text_classifier_learns_with_adam():
    assert _accuracy_after_training(sparse=False) > 0.9


def test_text_classifier_learns_with_sparse_adam():
    assert _accuracy_after_training(sparse=True) > 0.9
