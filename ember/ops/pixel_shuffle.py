"""pixel_shuffle and pixel_unshuffle: channels traded for resolution, (*, C * r * r, H, W) <-> (*, C, H * r, W * r)
(sub-pixel convolution's upsampling). Composites of Reshape and Permute; the result is a contiguous copy."""
import numpy as np

from ._checks import check_tensor
from .registry import export
from .shape import Permute, Reshape, permute, reshape


def _check(op, input, factor, name):
    check_tensor(input, op)
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)):
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(factor).__name__}")
    factor = int(factor)
    if factor <= 0:
        raise RuntimeError(f"{op} expects a positive {name}, but got {factor}")
    if input._data.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input with "
                           f"{input._data.ndim} dimension(s) (shape {tuple(input.shape)})")
    return factor


@export(Reshape, Permute, functional=True)
def pixel_shuffle(input, upscale_factor):
    """Trade channels for resolution: rearrange (*, C r^2, H, W) into (*, C, H r, W r), r = ``upscale_factor``.

    output[..., c, h r + i, w r + j] is input[..., c r^2 + i r + j, h, w]: sub-pixel convolution's upsampling. The
    result is a contiguous copy.

    Args:
        input (Tensor): a tensor of at least 3 dimensions whose channel count (dimension -3) is divisible by r^2.
        upscale_factor (int): the factor r, positive.

    Returns:
        Tensor: the rearranged tensor.

    Shape:
        - Input: (*, C r^2, H, W).
        - Output: (*, C, H r, W r).

    PyTorch:
        ``torch.nn.functional.pixel_shuffle`` and ``torch.pixel_shuffle``; same semantics.

    Example:
        >>> F.pixel_shuffle(ember.arange(4.0).reshape(1, 4, 1, 1), 2)
        tensor([[[[0., 1.],
                  [2., 3.]]]])
        >>> F.pixel_shuffle(ember.ones(2, 8, 3, 3), 2).shape
        ember.Size([2, 2, 6, 6])
    """
    op = "pixel_shuffle"
    r = _check(op, input, upscale_factor, "upscale_factor")
    *lead, c, h, w = input._data.shape
    if c % (r * r):
        raise RuntimeError(f"{op} expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    n = len(lead)
    x = reshape(input, (*lead, c // (r * r), r, r, h, w))
    x = permute(x, (*range(n), n, n + 3, n + 1, n + 4, n + 2))
    return reshape(x, (*lead, c // (r * r), h * r, w * r))


@export(Reshape, Permute, functional=True)
def pixel_unshuffle(input, downscale_factor):
    """Trade resolution for channels: rearrange (*, C, H r, W r) into (*, C r^2, H, W), r = ``downscale_factor``.

    The inverse of ``pixel_shuffle``; the result is a contiguous copy.

    Args:
        input (Tensor): a tensor of at least 3 dimensions whose height and width are divisible by r.
        downscale_factor (int): the factor r, positive.

    Returns:
        Tensor: the rearranged tensor.

    Shape:
        - Input: (*, C, H r, W r).
        - Output: (*, C r^2, H, W).

    PyTorch:
        ``torch.nn.functional.pixel_unshuffle`` and ``torch.pixel_unshuffle``; same semantics.

    Example:
        >>> F.pixel_unshuffle(ember.arange(4.0).reshape(1, 1, 2, 2), 2).flatten()
        tensor([0., 1., 2., 3.])
        >>> F.pixel_unshuffle(ember.ones(2, 2, 6, 6), 3).shape
        ember.Size([2, 18, 2, 2])
    """
    op = "pixel_unshuffle"
    r = _check(op, input, downscale_factor, "downscale_factor")
    *lead, c, h, w = input._data.shape
    for what, size, d in (("height", h, -2), ("width", w, -1)):
        if size % r:
            raise RuntimeError(f"{op} expects {what} to be divisible by downscale_factor, but input.size({d})={size} "
                               f"is not divisible by {r}")
    n = len(lead)
    x = reshape(input, (*lead, c, h // r, r, w // r, r))
    x = permute(x, (*range(n), n, n + 2, n + 4, n + 1, n + 3))
    return reshape(x, (*lead, c * r * r, h // r, w // r))


@export(Reshape, Permute, functional=("channel_shuffle", "native_channel_shuffle"))
def channel_shuffle(input, groups):
    """Interleave the channels of ``groups`` groups (ShuffleNet's shuffle): (N, g * k, *) viewed as (N, g, k, *),
    transposed to (N, k, g, *) and flattened back.

    Args:
        input (Tensor): (N, C, *) with at least 3 dimensions, C divisible by groups.
        groups (int): the number of groups, positive.

    Returns:
        Tensor: the shuffled tensor, of ``input``'s shape.

    PyTorch:
        ``torch.nn.functional.channel_shuffle`` (and ``native_channel_shuffle``); same semantics.

    Example:
        >>> F.channel_shuffle(ember.arange(6.0).reshape(1, 6, 1), 2).flatten()
        tensor([0., 3., 1., 4., 2., 5.])
    """
    check_tensor(input, "channel_shuffle")
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with sizes "
                           f"{list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    n, c, *rest = input.shape
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    shuffled = permute(reshape(input, (n, groups, c // groups, *rest)), (0, 2, 1, *range(3, input.dim() + 1)))
    return reshape(shuffled, tuple(input.shape))
