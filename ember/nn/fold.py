"""Fold and Unfold: the layer forms of F.fold (sum sliding blocks back into an image) and F.unfold (im2col)."""
from ..ops.fold import fold, unfold
from .module import Module

__all__ = ["Fold", "Unfold"]


class Fold(Module):
    """Sum columns of sliding blocks back into an image (col2im): ``F.fold`` as a layer, the adjoint of Unfold.

    Args:
        output_size (int or tuple): the image's spatial size (H, W).
        kernel_size (int or tuple): the blocks' size.
        dilation (int or tuple): the spacing of a block's elements. Default: 1.
        padding (int or tuple): the zero padding of the image on each side. Default: 0.
        stride (int or tuple): the blocks' step. Default: 1.

    Shape:
        - Input: (N, C * prod(kernel_size), L) or without N; L the number of blocks.
        - Output: (N, C, *output_size) or without N.

    PyTorch:
        ``torch.nn.Fold``; same semantics.

    Example:
        >>> nn.Fold((3, 3), 2)(ember.ones(1, 4, 4))
        tensor([[[[1., 2., 1.],
                  [2., 4., 2.],
                  [1., 2., 1.]]]])
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Unfold(Module):
    """Extract sliding blocks of an image as columns (im2col): ``F.unfold`` as a layer.

    Args:
        kernel_size (int or tuple): the blocks' size.
        dilation (int or tuple): the spacing of a block's elements. Default: 1.
        padding (int or tuple): the zero padding of the image on each side. Default: 0.
        stride (int or tuple): the blocks' step. Default: 1.

    Shape:
        - Input: (N, C, H, W) or without N.
        - Output: (N, C * prod(kernel_size), L) or without N; L the number of blocks.

    PyTorch:
        ``torch.nn.Unfold``; same semantics.

    Example:
        >>> nn.Unfold(2)(ember.ones(1, 3, 4, 4)).shape
        ember.Size([1, 12, 9])
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")
