"""The convolution's internal paths, forced on small inputs: blocks of images run on several threads, the "wide"
im2col layout, rebuilding the im2col matrix in backward instead of keeping it, and the weight gradient's matmuls
per image or per block. Each must give the same values and gradients as the plain path (itself checked against
PyTorch in test_conv.py), laid out as PyTorch's, and pass gradcheck."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck
from ember.ops import _threads, conv
from helpers import rand64

CASES = {
    "3x3_pad1": (lambda F, x, w: F.conv2d(x, w, padding=1), (5, 4, 7, 6), (6, 4, 3, 3)),
    "stride2": (lambda F, x, w: F.conv2d(x, w, stride=2, padding=1), (5, 4, 7, 6), (6, 4, 3, 3)),
    "dilation2": (lambda F, x, w: F.conv2d(x, w, padding=2, dilation=2), (5, 4, 7, 7), (3, 4, 3, 3)),
    "groups2": (lambda F, x, w: F.conv2d(x, w, padding=1, groups=2), (5, 4, 6, 6), (6, 2, 3, 3)),
    "1x1": (lambda F, x, w: F.conv2d(x, w), (5, 4, 5, 5), (3, 4, 1, 1)),
    "no_padding": (lambda F, x, w: F.conv2d(x, w), (5, 3, 6, 5), (2, 3, 2, 3)),
    "transpose_stride2": (lambda F, x, w: F.conv_transpose2d(x, w, stride=2, padding=1), (5, 4, 4, 4), (4, 3, 3, 3)),
    "transpose_stride1": (lambda F, x, w: F.conv_transpose2d(x, w, padding=1), (5, 4, 4, 4), (4, 3, 3, 3)),
    "conv1d": (lambda F, x, w: F.conv1d(x, w, padding=1), (5, 4, 9), (3, 4, 3)),
    # more output than input channels: the input gradient is a stride-1 col2im (added in the wide layout)
    "many_out_channels": (lambda F, x, w: F.conv2d(x, w, padding=1), (5, 2, 6, 7), (8, 2, 3, 3)),
    "many_out_dilated": (lambda F, x, w: F.conv2d(x, w, padding=2, dilation=2), (5, 2, 7, 7), (8, 2, 3, 3)),
    "transpose_to_few_channels": (lambda F, x, w: F.conv_transpose2d(x, w, padding=1), (5, 8, 4, 5), (8, 2, 3, 3)),
    "conv1d_many_out": (lambda F, x, w: F.conv1d(x, w, padding=1), (5, 2, 9), (8, 2, 3)),
}


def _force_threads(monkeypatch):
    """Every op splits its images over 3 threads (a stand-in BLAS whose thread count is 3 and left alone)."""
    monkeypatch.setattr(_threads, "_SPLIT_MIN", 0)
    monkeypatch.setattr(_threads, "_blas", lambda: (lambda: 3, lambda n: None))


def _values_and_grads(case, seed=0):
    """The output and the gradients of a case; each path must lay them out as PyTorch does (C-contiguous)."""
    fn, xs, ws = CASES[case]
    x, w = rand64(*xs, seed=seed), rand64(*ws, seed=seed + 1)
    seen = []
    x.register_hook(seen.append)  # the input gradient as the op hands it back
    out = fn(F, x, w)
    g = np.random.default_rng(seed + 2).normal(size=out.shape)
    out.backward(ember.tensor(g))
    for t in (out, x.grad, w.grad, seen[0]):
        assert t.is_contiguous()
    return out.detach().numpy(), x.grad.numpy(), w.grad.numpy()


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("wide", [True, False])
@pytest.mark.parametrize("keep", [True, False], ids=["keep_cols", "rebuild_cols"])
@pytest.mark.parametrize("per_image", [True, False], ids=["wgrad_per_image", "wgrad_per_block"])
def test_threaded_wide_and_rebuilt_paths_equal_the_plain_path(case, wide, keep, per_image, monkeypatch):
    plain = _values_and_grads(case)
    _force_threads(monkeypatch)
    monkeypatch.setattr(conv, "_WIDE", wide)
    monkeypatch.setattr(conv, "_WGRAD_PER_IMAGE_ROWS", 1 << 30 if per_image else 0)
    if not keep:
        monkeypatch.setattr(conv, "_KEEP_BYTES", 0)
    for got, ref in zip(_values_and_grads(case), plain):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ["3x3_pad1", "stride2", "groups2", "transpose_stride2", "conv1d",
                                  "many_out_dilated", "transpose_to_few_channels"])
def test_gradcheck_on_forced_threads_and_wide_layout(case, monkeypatch):
    _force_threads(monkeypatch)
    monkeypatch.setattr(conv, "_WIDE", True)
    monkeypatch.setattr(conv, "_KEEP_BYTES", 0)
    monkeypatch.setattr(conv, "_WGRAD_PER_IMAGE_ROWS", 0)  # these small cases take the per-image path by default
    fn, xs, ws = CASES[case]
    xs = (3,) + xs[1:]  # 3 images: one block per thread
    assert gradcheck(lambda x, w: fn(F, x, w), [rand64(*xs, seed=3), rand64(*ws, seed=4)])


def test_threaded_blocks_cover_every_image_once_in_fixed_shares():
    seen = []

    def block(n0, m, state):
        seen.extend(range(n0, n0 + m))
        state.setdefault("starts", []).append(n0)

    states = _threads._run_blocks(10, 3, range(0, 10, 3), 3, block)
    assert sorted(seen) == list(range(10))
    # thread j takes blocks j, j + 3, ...: which thread sums which images never depends on timing
    assert [st.get("starts") for st in states] == [[0, 9], [3], [6]]


def test_an_error_in_a_block_reaches_the_caller(monkeypatch):
    def fail(n0, m, state):
        if n0 == 2:
            raise ValueError("block 2 failed")
    with pytest.raises(ValueError, match="block 2 failed"):
        _threads._run_blocks(6, 1, range(6), 3, fail)


@pytest.mark.parametrize("case", sorted(CASES))
def test_cases_match_torch(case, torch):
    """Every case's values and gradients, on the paths chosen by default, against PyTorch."""
    fn, xs, ws = CASES[case]
    tx, tw = (torch.tensor(rand64(*shape, seed=seed).detach().numpy(), requires_grad=True)
              for shape, seed in ((xs, 0), (ws, 1)))
    ref = fn(torch.nn.functional, tx, tw)
    ref.backward(torch.tensor(np.random.default_rng(2).normal(size=tuple(ref.shape))))
    for got, want in zip(_values_and_grads(case), (ref.detach().numpy(), tx.grad.numpy(), tw.grad.numpy())):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
