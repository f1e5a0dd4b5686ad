"""F.affine_grid and F.grid_sample: values and gradients (image, grid, theta) against PyTorch for every mode,
padding mode and align_corners, gradcheck, errors, and an affine transform recovered by gradient descent through
both (a spatial transformer's job)."""
import itertools
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck

RNG = np.random.default_rng(0)


def _torch():
    torch = pytest.importorskip("torch")
    warnings.filterwarnings("ignore", message="Default grid_sample and affine_grid behavior")
    return torch


@pytest.mark.parametrize("size", [(2, 3, 5, 7), (1, 1, 1, 4), (2, 1, 3, 4, 5)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch(size, align_corners):
    torch = _torch()
    theta = RNG.standard_normal((size[0], len(size) - 2, len(size) - 1))
    results = []
    for lib in (ember, torch):
        t = lib.tensor(theta, requires_grad=True)
        grid = lib.nn.functional.affine_grid(t, size, align_corners=align_corners)
        (grid * lib.tensor(np.linspace(-1, 1, grid.numel()).reshape(tuple(grid.shape)))).sum().backward()
        results.append((grid.detach().numpy(), t.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode,padding_mode,align_corners",
                         list(itertools.product(["bilinear", "nearest"], ["zeros", "border", "reflection"],
                                                [False, True])))
def test_grid_sample_matches_torch(mode, padding_mode, align_corners):
    torch = _torch()
    x, g = RNG.standard_normal((2, 3, 5, 6)), RNG.uniform(-1.6, 1.6, (2, 4, 7, 2))  # points outside too
    results = []
    for lib in (ember, torch):
        image, grid = lib.tensor(x, requires_grad=True), lib.tensor(g, requires_grad=True)
        out = lib.nn.functional.grid_sample(image, grid, mode=mode, padding_mode=padding_mode,
                                            align_corners=align_corners)
        (out * lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)))).sum().backward()
        grid_grad = grid.grad.numpy() if mode == "bilinear" else None  # nearest: no gradient (PyTorch: zeros)
        results.append((out.detach().numpy(), image.grad.numpy(), grid_grad))
    for a, b in zip(*results):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_grid_sample_gradcheck_and_values():
    image = ember.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    centre = ember.tensor([[[[0.0, 0.0]]]])
    assert F.grid_sample(image, centre, align_corners=True).item() == 1.5
    identity = F.affine_grid(ember.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]), (1, 1, 2, 2), align_corners=False)
    np.testing.assert_allclose(F.grid_sample(image, identity, align_corners=False).numpy(), image.numpy())
    x = ember.tensor(RNG.standard_normal((1, 2, 4, 5)))
    g = ember.tensor(RNG.uniform(-0.9, 0.9, (1, 3, 3, 2)))
    for padding_mode in ("zeros", "border", "reflection"):
        assert gradcheck(lambda a, b: F.grid_sample(a, b, padding_mode=padding_mode, align_corners=False), (x, g))


def test_grid_sample_errors():
    x = ember.ones(1, 1, 2, 3)
    grid = ember.zeros(1, 2, 2, 2)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(x, grid)
    with pytest.raises(ValueError, match="expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: 'foo'"):
        F.grid_sample(x, grid, mode="foo", align_corners=False)
    with pytest.raises(ValueError, match="expected padding_mode to be 'zeros', 'border', or 'reflection'"):
        F.grid_sample(x, grid, padding_mode="foo", align_corners=False)
    with pytest.raises(RuntimeError, match=r"expected grid to have size 2 in last dimension, but got grid with sizes "
                                           r"\[1, 2, 2, 3\]"):
        F.grid_sample(x, ember.zeros(1, 2, 2, 3), align_corners=False)
    with pytest.raises(NotImplementedError, match="mode 'bicubic'"):
        F.grid_sample(x, grid, mode="bicubic", align_corners=False)
    with pytest.raises(ValueError, match=r"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                                         r"\(1, 1, 2, 3\). Got \(1, 3, 3\)."):
        F.affine_grid(ember.ones(1, 3, 3), (1, 1, 2, 3), align_corners=False)


def test_affine_transform_recovered_through_grid_sample():
    """A smooth image warped by a known affine map: gradient descent on theta alone, through affine_grid and
    grid_sample, finds the map again."""
    yy, xx = np.meshgrid(np.linspace(-1, 1, 24), np.linspace(-1, 1, 24), indexing="ij")
    blobs = (np.exp(-((xx - 0.3) ** 2 + (yy + 0.2) ** 2) * 6)
             + 0.7 * np.exp(-((xx + 0.3) ** 2 * 12 + (yy - 0.3) ** 2 * 3)))
    image = ember.tensor(blobs[None, None].astype(np.float32))  # two unlike blobs: no symmetry to confuse the map
    target_theta = ember.tensor([[[0.9, -0.2, 0.1], [0.15, 1.1, -0.1]]])
    target = F.grid_sample(image, F.affine_grid(target_theta, image.shape, align_corners=False), align_corners=False)
    theta = ember.nn.Parameter(ember.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]))
    opt = ember.optim.Adam([theta], lr=0.02)
    for _ in range(300):
        opt.zero_grad()
        warped = F.grid_sample(image, F.affine_grid(theta, image.shape, align_corners=False), align_corners=False)
        ((warped - target) ** 2).mean().backward()
        opt.step()
    np.testing.assert_allclose(theta.detach().numpy(), target_theta.numpy(), atol=0.02)
