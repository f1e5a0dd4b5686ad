"""Pooling layers and upsampling: MaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d,
AdaptiveMaxPool1d/2d/3d, LPPool1d/2d/3d, Upsample, UpsamplingNearest2d, UpsamplingBilinear2d."""
from ..ops import pooling as P, pooling3d as P3, resample as R
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
           "LPPool1d", "LPPool2d", "LPPool3d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


def _single(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


class _MaxPool(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPool):
    """Take the maximum over sliding windows along the last dimension.

    Args:
        kernel_size (int or tuple[int]): the window size.
        stride (int or tuple[int], optional): the step between windows. Default: None (kernel_size).
        padding (int or tuple[int]): implicit -inf padding on both sides, at most half the dilated kernel size.
            Default: 0.
        dilation (int or tuple[int]): the spacing between the elements of a window. Default: 1.
        return_indices (bool): also return the flat position of each maximum in its input plane (for
            MaxUnpool). Default: False.
        ceil_mode (bool): round the output size up instead of down (a last, partial window; windows that
            would start in the right padding are left out). Default: False.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, L_out) or (C, L_out), where
          L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1 (ceil with ceil_mode).

    PyTorch:
        ``torch.nn.MaxPool1d``; same semantics.

    Example:
        >>> x = ember.arange(8.0).reshape(1, 1, 8)
        >>> nn.MaxPool1d(2)(x)
        tensor([[[1., 3., 5., 7.]]])
        >>> nn.MaxPool1d(2, return_indices=True)(x)[1]
        tensor([[[1, 3, 5, 7]]])
    """
    def forward(self, input):
        return P.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool2d(_MaxPool):
    """Take the maximum over sliding kernel_size windows of the last two dimensions.

    Args:
        kernel_size (int or tuple[int, int]): the window size.
        stride (int or tuple[int, int], optional): the step between windows. Default: None (kernel_size).
        padding (int or tuple[int, int]): implicit -inf padding on both sides, at most half the dilated kernel size.
            Default: 0.
        dilation (int or tuple[int, int]): the spacing between the elements of a window. Default: 1.
        return_indices (bool): also return the flat position of each maximum in its input plane (for
            MaxUnpool). Default: False.
        ceil_mode (bool): round the output size up instead of down (a last, partial window; windows that
            would start in the right padding are left out). Default: False.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out), where
          H_out = floor((H + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1) / stride[0]) + 1 (ceil with
          ceil_mode), and likewise W_out.

    PyTorch:
        ``torch.nn.MaxPool2d``; same semantics.

    Example:
        >>> nn.MaxPool2d(2)(ember.arange(16.0).reshape(1, 1, 4, 4))
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    def forward(self, input):
        return P.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool3d(_MaxPool):
    """Take the maximum over sliding kernel_size windows of the last three dimensions.

    Args:
        kernel_size (int or tuple[int, int, int]): the window size.
        stride (int or tuple[int, int, int], optional): the step between windows. Default: None (kernel_size).
        padding (int or tuple[int, int, int]): implicit -inf padding on both sides, at most half the dilated kernel
            size. Default: 0.
        dilation (int or tuple[int, int, int]): the spacing between the elements of a window. Default: 1.
        return_indices (bool): also return the flat position d * H * W + h * W + w of each maximum in its input
            volume (for MaxUnpool). Default: False.
        ceil_mode (bool): round the output size up instead of down (a last, partial window; windows that
            would start in the right padding are left out). Default: False.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out), where
          D_out = floor((D + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1) / stride[0]) + 1 (ceil with
          ceil_mode), and likewise H_out and W_out.

    PyTorch:
        ``torch.nn.MaxPool3d``; same semantics.

    Example:
        >>> nn.MaxPool3d(2)(ember.arange(8.0).reshape(1, 1, 2, 2, 2))
        tensor([[[[[7.]]]]])
        >>> nn.MaxPool3d((1, 2, 2), return_indices=True)(ember.ones(2, 3, 4, 4, 4))[1].shape
        ember.Size([2, 3, 4, 2, 2])
    """
    def forward(self, input):
        return P3.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                             ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class _AvgPool(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPool):
    """Take the average over sliding windows along the last dimension.

    Args:
        kernel_size (int or tuple[int]): the window size.
        stride (int or tuple[int], optional): the step between windows. Default: None (kernel_size).
        padding (int or tuple[int]): implicit zero padding on both sides, at most half the kernel size. Default: 0.
        ceil_mode (bool): round the output size up instead of down. Default: False.
        count_include_pad (bool): count the padding zeros in the divisor. Default: True.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, L_out) or (C, L_out), where L_out = floor((L + 2 * padding - kernel_size) / stride) + 1
          (ceil with ceil_mode).

    PyTorch:
        ``torch.nn.AvgPool1d``; same semantics (the sizes are stored and printed as 1-tuples).

    Example:
        >>> nn.AvgPool1d(2)(ember.arange(8.0).reshape(1, 1, 8))
        tensor([[[0.5000, 2.5000, 4.5000, 6.5000]]])
        >>> nn.AvgPool1d(3, padding=1, count_include_pad=False)(ember.ones(1, 1, 3))
        tensor([[[1.]]])
    """
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        # torch stores AvgPool1d's sizes as 1-tuples (and prints them so)
        super().__init__(_single(kernel_size), _single(stride if stride is not None else kernel_size),
                         _single(padding), ceil_mode, count_include_pad)

    def forward(self, input):
        return P.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AvgPool2d(_AvgPool):
    """Take the average over sliding kernel_size windows of the last two dimensions.

    Args:
        kernel_size (int or tuple[int, int]): the window size.
        stride (int or tuple[int, int], optional): the step between windows. Default: None (kernel_size).
        padding (int or tuple[int, int]): implicit zero padding on both sides, at most half the kernel size. Default: 0.
        ceil_mode (bool): round the output size up instead of down. Default: False.
        count_include_pad (bool): count the padding zeros in the divisor. Default: True.
        divisor_override (int, optional): divide every window's sum by this instead of its size. Default: None.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out), where
          H_out = floor((H + 2 * padding[0] - kernel_size[0]) / stride[0]) + 1 (ceil with ceil_mode), and likewise
          W_out.

    PyTorch:
        ``torch.nn.AvgPool2d``; same semantics.

    Example:
        >>> nn.AvgPool2d(2)(ember.arange(16.0).reshape(1, 1, 4, 4))
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """
    def forward(self, input):
        return P.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AvgPool3d(_AvgPool):
    """Take the average over sliding kernel_size windows of the last three dimensions.

    Args:
        kernel_size (int or tuple[int, int, int]): the window size.
        stride (int or tuple[int, int, int], optional): the step between windows. Default: None (kernel_size).
        padding (int or tuple[int, int, int]): implicit zero padding on both sides, at most half the kernel size.
            Default: 0.
        ceil_mode (bool): round the output size up instead of down. Default: False.
        count_include_pad (bool): count the padding zeros in the divisor. Default: True.
        divisor_override (int, optional): divide every window's sum by this instead of its size. Default: None.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out), where
          D_out = floor((D + 2 * padding[0] - kernel_size[0]) / stride[0]) + 1 (ceil with ceil_mode), and likewise
          H_out and W_out.

    PyTorch:
        ``torch.nn.AvgPool3d``; same semantics.

    Example:
        >>> nn.AvgPool3d(2)(ember.arange(8.0).reshape(1, 1, 2, 2, 2))
        tensor([[[[[3.5000]]]]])
        >>> nn.AvgPool3d(3, stride=2, padding=1)(ember.ones(2, 3, 5, 6, 7)).shape
        ember.Size([2, 3, 3, 3, 4])
    """
    def forward(self, input):
        return P3.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)


class _Adaptive(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_Adaptive):
    """Average-pool the last dimension to a fixed output length, whatever the input length.

    Window i covers positions floor(i * L / L_out) to ceil((i + 1) * L / L_out) - 1.

    Args:
        output_size (int): the output length L_out.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, L_out) or (C, L_out), L_out = output_size.

    PyTorch:
        ``torch.nn.AdaptiveAvgPool1d``; same semantics.

    Example:
        >>> nn.AdaptiveAvgPool1d(2)(ember.arange(8.0).reshape(1, 1, 8))
        tensor([[[1.5000, 5.5000]]])
    """
    def forward(self, input):
        return P.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_Adaptive):
    """Average-pool the last two dimensions to a fixed output size, whatever the input size.

    Args:
        output_size (int or tuple): (H_out, W_out), or one int for both; None in the tuple keeps that input size.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out).

    PyTorch:
        ``torch.nn.AdaptiveAvgPool2d``; same semantics.

    Example:
        >>> nn.AdaptiveAvgPool2d(1)(ember.ones(2, 3, 5, 5)).shape
        ember.Size([2, 3, 1, 1])
        >>> nn.AdaptiveAvgPool2d((None, 2))(ember.ones(1, 1, 3, 4)).shape
        ember.Size([1, 1, 3, 2])
    """
    def forward(self, input):
        return P.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveAvgPool3d(_Adaptive):
    """Average-pool the last three dimensions to a fixed output size, whatever the input size.

    Args:
        output_size (int or tuple): (D_out, H_out, W_out), or one int for all; None in the tuple keeps that input
            size.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out).

    PyTorch:
        ``torch.nn.AdaptiveAvgPool3d``; same semantics.

    Example:
        >>> nn.AdaptiveAvgPool3d(1)(ember.ones(2, 3, 4, 5, 5)).shape
        ember.Size([2, 3, 1, 1, 1])
        >>> nn.AdaptiveAvgPool3d((2, None, 3))(ember.ones(1, 1, 4, 3, 4)).shape
        ember.Size([1, 1, 2, 3, 3])
    """
    def forward(self, input):
        return P3.adaptive_avg_pool3d(input, self.output_size)


class _AdaptiveMax(_Adaptive):
    fn = None

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        return type(self).fn(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMax):
    """Max-pool the last dimension to a fixed output length, whatever the input length.

    Args:
        output_size (int): the output length L_out.
        return_indices (bool): also return the position of each maximum. Default: False.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, L_out) or (C, L_out), L_out = output_size.

    PyTorch:
        ``torch.nn.AdaptiveMaxPool1d``; same semantics.

    Example:
        >>> nn.AdaptiveMaxPool1d(2)(ember.arange(8.0).reshape(1, 1, 8))
        tensor([[[3., 7.]]])
    """
    fn = staticmethod(P.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMax):
    """Max-pool the last two dimensions to a fixed output size, whatever the input size.

    Args:
        output_size (int or tuple): (H_out, W_out), or one int for both; None in the tuple keeps that input size.
        return_indices (bool): also return the flat position of each maximum in its input plane. Default: False.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out).

    PyTorch:
        ``torch.nn.AdaptiveMaxPool2d``; same semantics.

    Example:
        >>> nn.AdaptiveMaxPool2d((1, 2))(ember.arange(16.0).reshape(1, 1, 4, 4))
        tensor([[[[13., 15.]]]])
    """
    fn = staticmethod(P.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMax):
    """Max-pool the last three dimensions to a fixed output size, whatever the input size.

    Args:
        output_size (int or tuple): (D_out, H_out, W_out), or one int for all; None in the tuple keeps that input
            size.
        return_indices (bool): also return the flat position d * H * W + h * W + w of each maximum in its input
            volume. Default: False.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out).

    PyTorch:
        ``torch.nn.AdaptiveMaxPool3d``; same semantics.

    Example:
        >>> nn.AdaptiveMaxPool3d((1, 1, 2))(ember.arange(8.0).reshape(1, 1, 2, 2, 2))
        tensor([[[[[6., 7.]]]]])
    """
    fn = staticmethod(P3.adaptive_max_pool3d)


class _LPPool(Module):
    fn = None

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")

    def forward(self, input):
        return type(self).fn(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)


class LPPool1d(_LPPool):
    """Take the p-norm (sum of x^p)^(1/p) over sliding windows along the last dimension.

    Args:
        norm_type (float): the power p; ``inf`` gives the maximum of abs(x).
        kernel_size (int or tuple[int]): the window size.
        stride (int or tuple[int], optional): the step between windows. Default: None (kernel_size).
        ceil_mode (bool): round the output size up instead of down. Default: False.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, L_out) or (C, L_out), where L_out = floor((L - kernel_size) / stride) + 1.

    PyTorch:
        ``torch.nn.LPPool1d``; same semantics.

    Example:
        >>> nn.LPPool1d(2, 2)(ember.tensor([[[3.0, 4.0, 1.0, 1.0]]]))
        tensor([[[5.0000, 1.4142]]])
    """
    fn = staticmethod(P3.lp_pool1d)


class LPPool2d(_LPPool):
    """Take the p-norm (sum of x^p)^(1/p) over sliding kernel_size windows of the last two dimensions.

    Args:
        norm_type (float): the power p; ``inf`` gives the maximum of abs(x).
        kernel_size (int or tuple[int, int]): the window size.
        stride (int or tuple[int, int], optional): the step between windows. Default: None (kernel_size).
        ceil_mode (bool): round the output size up instead of down. Default: False.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out), where
          H_out = floor((H - kernel_size[0]) / stride[0]) + 1, and likewise W_out.

    PyTorch:
        ``torch.nn.LPPool2d``; same semantics.

    Example:
        >>> nn.LPPool2d(1, 2)(ember.ones(1, 1, 4, 4))
        tensor([[[[4., 4.],
                  [4., 4.]]]])
    """
    fn = staticmethod(P3.lp_pool2d)


class LPPool3d(_LPPool):
    """Take the p-norm (sum of x^p)^(1/p) over sliding kernel_size windows of the last three dimensions.

    Args:
        norm_type (float): the power p; ``inf`` gives the maximum of abs(x).
        kernel_size (int or tuple[int, int, int]): the window size.
        stride (int or tuple[int, int, int], optional): the step between windows. Default: None (kernel_size).
        ceil_mode (bool): round the output size up instead of down. Default: False.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out), where
          D_out = floor((D - kernel_size[0]) / stride[0]) + 1, and likewise H_out and W_out.

    PyTorch:
        ``torch.nn.LPPool3d``; same semantics.

    Example:
        >>> nn.LPPool3d(2, (1, 2, 2))(ember.ones(1, 1, 2, 2, 2))
        tensor([[[[[2.]],
        <BLANKLINE>
                  [[2.]]]]])
    """
    fn = staticmethod(P3.lp_pool3d)


class Upsample(Module):
    """Resize the spatial dimensions of the input to size or by scale_factor, with ``F.interpolate``.

    Args:
        size (int or tuple, optional): the output spatial size. Default: None.
        scale_factor (float or tuple, optional): the multiplier of the spatial size (stored as floats); give
            either size or scale_factor. Default: None.
        mode (str): 'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear' or 'bicubic' (4-D), 'trilinear'
            (5-D) or 'area'. Default: 'nearest'.
        align_corners (bool, optional): for the linear and bicubic modes only, align the corner pixels of input
            and output instead of their edges. Default: None (False).
        recompute_scale_factor (bool, optional): compute the interpolation from the output size rather than from
            scale_factor. Default: None.

    Shape:
        - Input: (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        - Output: (N, C, L_out), (N, C, H_out, W_out) or (N, C, D_out, H_out, W_out), where each spatial size is
          size, or floor(input size * scale_factor).

    PyTorch:
        ``torch.nn.Upsample``; same semantics.

    Example:
        >>> nn.Upsample(scale_factor=2)(ember.tensor([[[1.0, 2.0]]]))
        tensor([[[1., 1., 2., 2.]]])
        >>> nn.Upsample(size=4, mode="linear")(ember.tensor([[[1.0, 2.0]]]))
        tensor([[[1.0000, 1.2500, 1.7500, 2.0000]]])
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, input):
        return R.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample an image batch by repeating its pixels (``Upsample`` with mode ``'nearest'``).

    Args:
        size (int or tuple, optional): the output size (H_out, W_out). Default: None.
        scale_factor (float or tuple, optional): the multiplier of the size; give either size or scale_factor.
            Default: None.

    Shape:
        - Input: (N, C, H, W).
        - Output: (N, C, H_out, W_out), where each size is size, or floor(input size * scale_factor).

    PyTorch:
        ``torch.nn.UpsamplingNearest2d`` (deprecated there for ``nn.Upsample``); same semantics.

    Example:
        >>> nn.UpsamplingNearest2d(scale_factor=2)(ember.tensor([[[[1.0, 2.0]]]]))
        tensor([[[[1., 1., 2., 2.],
                  [1., 1., 2., 2.]]]])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample an image batch by bilinear interpolation with the corners aligned (``Upsample`` with mode
    ``'bilinear'`` and ``align_corners=True``).

    Args:
        size (int or tuple, optional): the output size (H_out, W_out). Default: None.
        scale_factor (float or tuple, optional): the multiplier of the size; give either size or scale_factor.
            Default: None.

    Shape:
        - Input: (N, C, H, W).
        - Output: (N, C, H_out, W_out), where each size is size, or floor(input size * scale_factor).

    PyTorch:
        ``torch.nn.UpsamplingBilinear2d`` (deprecated there for ``nn.Upsample``); same semantics.

    Example:
        >>> nn.UpsamplingBilinear2d(scale_factor=2)(ember.tensor([[[[1.0, 2.0]]]]))
        tensor([[[[1.0000, 1.3333, 1.6667, 2.0000],
                  [1.0000, 1.3333, 1.6667, 2.0000]]]])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
