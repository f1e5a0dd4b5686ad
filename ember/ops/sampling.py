"""Spatial sampling: affine_grid (the sampling grid of an affine map) and grid_sample (values of an image at
given points), composites of ember ops, so that gradients reach both the image and the grid (spatial transformer
networks, optical-flow warping)."""
import warnings

import numpy as np

from ..tensor import Tensor
from ._checks import check_tensor
from .creation import linspace
from .join import stack
from .registry import export

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                  "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                  "grid_sample for details.")


def _base_coordinates(n, align_corners, like):
    """The n normalised coordinates of pixel centres (align_corners: of the corner pixels at -1 and 1)."""
    if n <= 1:
        return linspace(-1.0, 1.0, n, dtype=like.dtype, device=like.device) * 0.0
    points = linspace(-1.0, 1.0, n, dtype=like.dtype, device=like.device)
    return points if align_corners else points * ((n - 1) / n)


@export(ember=False, functional=True)
def affine_grid(theta, size, align_corners=None):
    """The sampling grid of the affine maps ``theta``: for each output pixel, the normalised input coordinates
    (x, y[, z]) in [-1, 1] that ``theta`` maps its own coordinates to; ``grid_sample`` reads an image there.

    Args:
        theta (Tensor): (N, 2, 3) affine matrices (or (N, 3, 4) for volumes), floating point.
        size (tuple of int): the output's (N, C, H, W) (or (N, C, D, H, W)).
        align_corners (bool, optional): whether -1 and 1 are the centres of the corner pixels (else their outer
            edges); None means False, with PyTorch's warning. Default: None.

    Returns:
        Tensor: the grid, (N, H, W, 2) (or (N, D, H, W, 3)).

    PyTorch:
        ``torch.nn.functional.affine_grid``; same semantics.

    Example:
        >>> theta = ember.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
        >>> F.affine_grid(theta, (1, 1, 1, 2), align_corners=True)
        tensor([[[[-1.,  0.],
                  [ 1.,  0.]]]])
    """
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    check_tensor(theta, "affine_grid", "theta")
    size = tuple(int(s) for s in size)
    spatial = len(size) - 2
    want = {2: (2, 3), 3: (3, 4)}.get(spatial)
    if want is None:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if theta.dim() != 3 or tuple(theta.shape[1:]) != want or theta.shape[0] != size[0]:
        raise ValueError(f"Expected a batch of {spatial}D affine matrices of shape Nx{want[0]}x{want[1]} for size "
                         f"{size}. Got {tuple(theta.shape)}.")
    if theta._data.dtype.kind != "f":
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    axes = [_base_coordinates(n, align_corners, theta) for n in reversed(size[2:])]  # x, y[, z]
    mesh = _mesh(axes)  # (*spatial, spatial): x varies fastest, as PyTorch's base grid
    ones = mesh[..., :1] * 0.0 + 1.0
    base = stack([*[mesh[..., i] for i in range(spatial)], ones[..., 0]], -1).reshape(-1, spatial + 1)
    grid = base @ theta.transpose(1, 2)  # (N, points, spatial)
    return grid.reshape(size[0], *size[2:], spatial)


def _mesh(axes):
    """The coordinates of a grid over axes (x, y[, z]): shape (..., z, y, x, len(axes))."""
    shape = tuple(a.shape[0] for a in reversed(axes))
    parts = []
    for k, a in enumerate(axes):
        view = [1] * len(axes)
        view[len(axes) - 1 - k] = a.shape[0]
        parts.append(a.reshape(*view).expand(*shape))
    return stack(parts, -1)


def _source(coordinate, size, padding_mode, align_corners):
    """Normalised coordinates as (differentiable) pixel coordinates, with PyTorch's border and reflection rules."""
    if align_corners:
        x = (coordinate + 1) * ((size - 1) / 2)
    else:
        x = ((coordinate + 1) * size - 1) / 2
    if padding_mode == "border":
        return x.clamp(0, size - 1)
    if padding_mode == "reflection":
        low, high = (0.0, 2.0 * (size - 1)) if align_corners else (-1.0, 2.0 * size - 1)
        if high == low:
            return x * 0.0
        span, start = (high - low) / 2, low / 2
        distance = (x - start).abs()
        flips = (distance / span).floor().detach()
        extra = distance - flips * span
        odd = Tensor._wrap((np.asarray(flips._data) % 2 == 1).astype(x._data.dtype))
        return ((extra + start) * (1 - odd) + (span - extra + start) * odd).clamp(0, size - 1)
    return x


def _gather(flat, ix, iy, width, height):
    """flat (N, C, H * W) at integer pixels (N, P) (float arrays), zero outside the image."""
    inside = (ix >= 0) & (ix <= width - 1) & (iy >= 0) & (iy <= height - 1)
    index = (np.clip(iy, 0, height - 1) * width + np.clip(ix, 0, width - 1)).astype(np.int64)
    n, c = flat.shape[0], flat.shape[1]
    values = flat.gather(2, Tensor._wrap(np.broadcast_to(index[:, None, :], (n, c, index.shape[1])).copy()))
    return values * Tensor._wrap(inside[:, None, :].astype(flat._data.dtype))


@export(ember=False, functional=True)
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """The values of ``input`` at the points of ``grid`` (normalised coordinates: (-1, -1) the top-left corner,
    (1, 1) the bottom-right), interpolated; points outside are zeros, the border's values or the reflected
    image's, by ``padding_mode``. Gradients reach both the input and the grid (bilinear mode).

    Args:
        input (Tensor): (N, C, H, W) images, floating point.
        grid (Tensor): (N, H_out, W_out, 2) points (x, y), of input's dtype.
        mode (str): ``'bilinear'`` or ``'nearest'`` (``'bicubic'`` raises NotImplementedError). Default:
            ``'bilinear'``.
        padding_mode (str): ``'zeros'``, ``'border'`` or ``'reflection'``. Default: ``'zeros'``.
        align_corners (bool, optional): whether -1 and 1 are the centres of the corner pixels (else their outer
            edges); None means False, with PyTorch's warning. Default: None.

    Returns:
        Tensor: (N, C, H_out, W_out).

    PyTorch:
        ``torch.nn.functional.grid_sample``; same semantics for 4-D input in the bilinear and nearest modes (5-D
        input and mode 'bicubic' raise NotImplementedError).

    Example:
        >>> image = ember.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
        >>> F.grid_sample(image, ember.tensor([[[[0.0, 0.0]]]]), align_corners=True)  # the centre: the mean
        tensor([[[[1.5000]]]])
    """
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
                         f"got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    check_tensor(input, "grid_sample")
    check_tensor(grid, "grid_sample", "grid")
    if input.dim() == 5 or mode == "bicubic":
        raise NotImplementedError("grid_sample: 5-D input (volumes) and mode 'bicubic' are not implemented in ember")
    if input.dim() != 4 or grid.dim() != 4 or grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected 4D input and grid with same batch size, but got input with "
                           f"sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if grid.shape[-1] != 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size 2 in last dimension, but got grid with "
                           f"sizes {list(grid.shape)}")
    if input.dtype is not grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    n, c, height, width = input.shape
    out_h, out_w = grid.shape[1], grid.shape[2]
    points = grid.reshape(n, out_h * out_w, 2)
    x = _source(points[..., 0], width, padding_mode, align_corners)
    y = _source(points[..., 1], height, padding_mode, align_corners)
    flat = input.reshape(n, c, height * width)
    if mode == "nearest":
        ix, iy = np.rint(np.asarray(x.detach()._data)), np.rint(np.asarray(y.detach()._data))
        return _gather(flat, ix, iy, width, height).reshape(n, c, out_h, out_w)
    x0, y0 = np.floor(np.asarray(x.detach()._data)), np.floor(np.asarray(y.detach()._data))
    fx, fy = x - Tensor._wrap(x0), y - Tensor._wrap(y0)  # the fractions: the weights' differentiable part
    out = None
    for dx, dy, wx, wy in ((0, 0, 1 - fx, 1 - fy), (1, 0, fx, 1 - fy), (0, 1, 1 - fx, fy), (1, 1, fx, fy)):
        term = _gather(flat, x0 + dx, y0 + dy, width, height) * (wx * wy).unsqueeze(1)
        out = term if out is None else out + term
    return out.reshape(n, c, out_h, out_w)
