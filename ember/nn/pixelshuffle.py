"""PixelShuffle and PixelUnshuffle: channels traded for resolution (see ember.nn.functional.pixel_shuffle);
ChannelShuffle."""
from ..ops import pixel_shuffle as P
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle", "ChannelShuffle"]


class PixelShuffle(Module):
    """Trade channels for resolution: rearrange (*, C r^2, H, W) into (*, C, H r, W r), r = ``upscale_factor``.

    The layer form of ``F.pixel_shuffle`` (sub-pixel convolution's upsampling); it has no parameters.

    Args:
        upscale_factor (int): the factor r, positive.

    Shape:
        - Input: (*, C r^2, H, W), at least 3 dimensions.
        - Output: (*, C, H r, W r).

    PyTorch:
        ``torch.nn.PixelShuffle``; same semantics.

    Example:
        >>> nn.PixelShuffle(2)(ember.ones(1, 8, 3, 3)).shape
        ember.Size([1, 2, 6, 6])
    """

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return P.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """Trade resolution for channels: rearrange (*, C, H r, W r) into (*, C r^2, H, W), r = ``downscale_factor``.

    The layer form of ``F.pixel_unshuffle``, the inverse of ``PixelShuffle``; it has no parameters.

    Args:
        downscale_factor (int): the factor r, positive.

    Shape:
        - Input: (*, C, H r, W r), at least 3 dimensions.
        - Output: (*, C r^2, H, W).

    PyTorch:
        ``torch.nn.PixelUnshuffle``; same semantics.

    Example:
        >>> nn.PixelUnshuffle(3)(ember.ones(1, 2, 6, 6)).shape
        ember.Size([1, 18, 2, 2])
    """

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return P.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Interleave the channels of ``groups`` groups (ShuffleNet's shuffle; ``F.channel_shuffle`` as a layer).

    Args:
        groups (int): the number of groups; the channels must be divisible by it.

    Shape:
        - Input: (N, C, *), at least 3 dimensions.
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.ChannelShuffle``; same semantics.

    Example:
        >>> nn.ChannelShuffle(2)(ember.arange(4.0).reshape(1, 4, 1)).flatten()
        tensor([0., 2., 1., 3.])
    """

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return P.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
