"""3-D pooling (max_pool3d, avg_pool3d, adaptive_avg_pool3d, adaptive_max_pool3d and the ``*_with_indices``
forms), and power-average pooling of every rank (lp_pool1d/2d/3d), made of the pooling ops of pooling.py.

Max and average pooling are separable. A 3-D max pool is a 2-D max pool of every depth slice ((H, W) planes),
then a max pool over the depth of the result, seen as (N * C, D, OH * OW) with windows one column wide. That order
keeps PyTorch's pick among equal maxima, the first in (d, h, w) order (a later slice wins only with a greater
value), and its NaN rule (the last NaN); the flat index d * H * W + h * W + w of a maximum is the depth pass's
slice d and the plane pass's index in that slice. An average pool runs its depth pass first (fewer slices for the
plane pass); its divisor is a product of one factor per dimension, each pass dividing by its own. Gradients and
double backward come from the 2-D ops; outputs are C-contiguous (N, C, D, H, W) arrays.
"""
import math

from ._window import check_input, ntuple
from .activation import relu
from .pooling import (AvgPool, MaxPool, adaptive_avg_nd, adaptive_max_nd, adaptive_sizes, avg_pool1d, avg_pool2d,
                      avg_pool_nd, bfloat16_in_float32, max_pool1d, max_pool2d, max_pool_nd, pool_geometry)
from .registry import export
from .resample import ConstantPad, Resample


def _separable_max(input, planes_pool, depth_pool, return_indices):
    """input (..., D, H, W) max-pooled by planes_pool (on (M * D, H, W)) then depth_pool (on (M, D, OH * OW))."""
    shape = tuple(input._data.shape)
    lead, (d, h, w) = shape[:-3], shape[-3:]
    m = math.prod(lead)
    planes = planes_pool(input.reshape(m * d, h, w))
    planes, where = planes if return_indices else (planes, None)
    oh, ow = planes._data.shape[-2:]
    out = depth_pool(planes.reshape(m, d, oh * ow))
    out, depth = out if return_indices else (out, None)
    size = lead + (out._data.shape[1], oh, ow)
    if not return_indices:
        return out.reshape(size)
    depth = depth // (oh * ow)  # the slice of each maximum, then its place in that slice
    index = depth * (h * w) + where.reshape(m, d, oh * ow).gather(1, depth)
    return out.reshape(size), index.reshape(size)


@bfloat16_in_float32
def _max_pool3d(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    check_input(op, input, nd)
    gd, gh, gw = pool_geometry(op, nd, input._data.shape, kernel_size, stride, padding, dilation, ceil_mode, False)
    return _separable_max(
        input,
        lambda x: max_pool_nd(op, 2, x, (gh.k, gw.k), (gh.s, gw.s), (gh.lo, gw.lo), (gh.d, gw.d), ceil_mode,
                              return_indices),
        lambda x: max_pool_nd(op, 2, x, (gd.k, 1), (gd.s, 1), (gd.lo, 0), (gd.d, 1), ceil_mode, return_indices),
        return_indices)


@export(MaxPool, functional=True)
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Take the maximum over sliding windows of a 3-d signal of channels (D, H, W).

    Among equal maxima the first in (d, h, w) order is taken, and a NaN in a window is its maximum (the last one),
    as PyTorch's kernels do; the gradient goes to that element.

    Args:
        input (Tensor): the floating-point input, batched or not.
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the step between windows. Default: ``kernel_size``.
        padding (int or tuple): implicit -inf padding on each side, at most half the window. Default: 0.
        dilation (int or tuple): the spacing between the window's elements. Default: 1.
        ceil_mode (bool): round the output size up, letting a last window start in the right padding. Default: False.
        return_indices (bool): also return where each maximum is, as a flat index d * H * W + h * W + w into each
            input volume. Default: False.

    Returns:
        Tensor or (Tensor, Tensor): the maxima; with ``return_indices``, also their int64 indices.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out), where
          out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1 (ceil with ``ceil_mode``).

    PyTorch:
        ``torch.nn.functional.max_pool3d`` and ``torch.max_pool3d``; same semantics, except that integer inputs
        raise RuntimeError.

    Example:
        >>> x = ember.arange(8.0).reshape(1, 1, 2, 2, 2)
        >>> F.max_pool3d(x, 2, return_indices=True)
        (tensor([[[[[7.]]]]]), tensor([[[[[7]]]]]))
        >>> F.max_pool3d(ember.ones(2, 3, 5, 6, 6), (1, 2, 2)).shape
        ember.Size([2, 3, 5, 3, 3])
    """
    return _max_pool3d("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@export(MaxPool, ember=False, functional=True)
def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """``max_pool3d`` that always returns the indices of the maxima too.

    Args:
        input (Tensor): the floating-point input, batched or not.
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the step between windows. Default: ``kernel_size``.
        padding (int or tuple): implicit -inf padding on each side, at most half the window. Default: 0.
        dilation (int or tuple): the spacing between the window's elements. Default: 1.
        ceil_mode (bool): round the output size up, letting a last window start in the right padding. Default: False.
        return_indices (bool): ignored (the indices are always returned), as in PyTorch. Default: False.

    Returns:
        (Tensor, Tensor): the maxima and their int64 flat indices d * H * W + h * W + w into each input volume.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out), as ``max_pool3d``'s.

    PyTorch:
        ``torch.nn.functional.max_pool3d_with_indices``; same semantics.

    Example:
        >>> F.max_pool3d_with_indices(ember.arange(8.0).reshape(1, 2, 2, 2), (2, 1, 2))[1]
        tensor([[[[5],
                  [7]]]])
    """
    return _max_pool3d("max_pool3d_with_indices", 3, input, kernel_size, stride, padding, dilation, ceil_mode, True)


@bfloat16_in_float32
def _avg_pool3d(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    check_input(op, input, nd)
    shape = tuple(input._data.shape)
    gd, gh, gw = pool_geometry(op, nd, shape, kernel_size, stride, padding, 1, ceil_mode, True)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{op}: divisor must be not zero")
    lead, (d, h, w) = shape[:-3], shape[-3:]
    m = math.prod(lead)
    depth = avg_pool_nd(op, 2, input.reshape(m, d, h * w), (gd.k, 1), (gd.s, 1), (gd.lo, 0), ceil_mode,
                        count_include_pad, divisor_override)
    out = avg_pool_nd(op, 2, depth.reshape(m * gd.n_out, h, w), (gh.k, gw.k), (gh.s, gw.s), (gh.lo, gw.lo),
                      ceil_mode, count_include_pad, None if divisor_override is None else 1)
    return out.reshape(lead + (gd.n_out, gh.n_out, gw.n_out))


@export(AvgPool, ember=False, functional=True)
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average over sliding windows of a 3-d signal of channels (D, H, W).

    Args:
        input (Tensor): the floating-point input, batched or not.
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the step between windows. Default: ``kernel_size``.
        padding (int or tuple): implicit zero padding on each side, at most half the window. Default: 0.
        ceil_mode (bool): round the output size up, letting a last window start in the right padding. Default: False.
        count_include_pad (bool): count the padding zeros in each window's divisor. Default: True.
        divisor_override (int, optional): divide every window's sum by this instead; 0 raises RuntimeError.
            Default: None.

    Returns:
        Tensor: the averages.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out), where
          out = floor((in + 2 padding - kernel_size) / stride) + 1 (ceil with ``ceil_mode``).

    PyTorch:
        ``torch.nn.functional.avg_pool3d``; same semantics, except that integer inputs raise RuntimeError.

    Example:
        >>> F.avg_pool3d(ember.arange(8.0).reshape(1, 1, 2, 2, 2), 2)
        tensor([[[[[3.5000]]]]])
        >>> F.avg_pool3d(ember.ones(1, 1, 2, 2, 2), 2, padding=1, count_include_pad=False).shape
        ember.Size([1, 1, 2, 2, 2])
    """
    return _avg_pool3d("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override)


@export(Resample, ConstantPad, ember=False, functional=True)
def adaptive_avg_pool3d(input, output_size):
    """Take the average over windows of a 3-d signal of channels chosen to give ``output_size`` outputs.

    Output i covers the input positions floor(i * in / out) to ceil((i + 1) * in / out), PyTorch's rule (windows may
    overlap or differ in size when ``in`` is not a multiple of ``out``).

    Args:
        input (Tensor): the floating-point input, batched or not, non-empty.
        output_size (int or tuple): the output size, an int for a cube or (D_out, H_out, W_out); None in the tuple
            keeps that input size.

    Returns:
        Tensor: the averages.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, *output_size) or (C, *output_size).

    PyTorch:
        ``torch.nn.functional.adaptive_avg_pool3d``; same semantics, except that an output size of 0 raises
        RuntimeError.

    Example:
        >>> F.adaptive_avg_pool3d(ember.arange(8.0).reshape(1, 1, 2, 2, 2), 1)
        tensor([[[[[3.5000]]]]])
        >>> F.adaptive_avg_pool3d(ember.ones(2, 3, 5, 6, 7), (2, None, 3)).shape
        ember.Size([2, 3, 2, 6, 3])
    """
    return adaptive_avg_nd("adaptive_avg_pool3d", 3, input, output_size)


@bfloat16_in_float32
def _adaptive_max3d(op, nd, input, output_size, return_indices):
    _, (od, oh, ow) = adaptive_sizes(op, nd, input, output_size)
    return _separable_max(input, lambda x: adaptive_max_nd(op, 2, x, (oh, ow), return_indices),
                          lambda x: adaptive_max_nd(op, 2, x, (od, oh * ow), return_indices), return_indices)


@export(MaxPool, Resample, ember=False, functional=True)
def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Take the maximum over windows of a 3-d signal of channels chosen to give ``output_size`` outputs.

    Output i covers the input positions floor(i * in / out) to ceil((i + 1) * in / out), PyTorch's rule (windows may
    overlap or differ in size when ``in`` is not a multiple of ``out``); ties and NaNs as ``max_pool3d``.

    Args:
        input (Tensor): the floating-point input, batched or not, non-empty.
        output_size (int or tuple): the output size, an int for a cube or (D_out, H_out, W_out); None in the tuple
            keeps that input size.
        return_indices (bool): also return where each maximum is, as a flat index d * H * W + h * W + w into each
            input volume. Default: False.

    Returns:
        Tensor or (Tensor, Tensor): the maxima; with ``return_indices``, also their int64 indices.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, *output_size) or (C, *output_size).

    PyTorch:
        ``torch.nn.functional.adaptive_max_pool3d``; same semantics.

    Example:
        >>> F.adaptive_max_pool3d(ember.arange(8.0).reshape(1, 1, 2, 2, 2), 1, return_indices=True)
        (tensor([[[[[7.]]]]]), tensor([[[[[7]]]]]))
    """
    return _adaptive_max3d("adaptive_max_pool3d", 3, input, output_size, return_indices)


@export(MaxPool, Resample, ember=False, functional=True)
def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool3d`` that always returns the indices of the maxima too.

    Args:
        input (Tensor): the floating-point input, batched or not, non-empty.
        output_size (int or tuple): the output size, an int for a cube or (D_out, H_out, W_out); None in the tuple
            keeps that input size.
        return_indices (bool): ignored (the indices are always returned), as in PyTorch. Default: False.

    Returns:
        (Tensor, Tensor): the maxima and their int64 flat indices d * H * W + h * W + w into each input volume.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, *output_size) or (C, *output_size).

    PyTorch:
        ``torch.nn.functional.adaptive_max_pool3d_with_indices``; same semantics.

    Example:
        >>> F.adaptive_max_pool3d_with_indices(ember.arange(8.0).reshape(1, 2, 2, 2), (2, 1, 1))[1]
        tensor([[[[3]],
        <BLANKLINE>
                 [[7]]]])
    """
    return _adaptive_max3d("adaptive_max_pool3d_with_indices", 3, input, output_size, True)


# ---------------------------------------------------------------------------------------------------------------
# power-average pooling


def _lp_pool(nd, max_pool, avg_pool, input, norm_type, kernel_size, stride, ceil_mode):
    """PyTorch's formula: (sum over the window of x^p)^(1/p), as the average of x^p times the window size; the
    sign/relu wrapping gives a zero gradient where the sum is zero. p = +-inf is a max pool of |x|."""
    if isinstance(norm_type, (int, float)) and math.isinf(norm_type):
        if norm_type > 0:
            return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    out = avg_pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    size = math.prod(ntuple(kernel_size, nd, "kernel_size", f"lp_pool{nd}d"))
    return (out.sign() * relu(out.abs())).mul(size).pow(1.0 / norm_type)


@export(functional=True, ember=False)
def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Take the p-norm over sliding windows of a 1-d signal of channels (L): (sum of x^p)^(1/p).

    Args:
        input (Tensor): the floating-point input, batched or not.
        norm_type (float): the power p; ``inf`` gives the maximum of abs(x), ``-inf`` the minimum.
        kernel_size (int or tuple of one int): the window size.
        stride (int or tuple of one int, optional): the step between windows. Default: ``kernel_size``.
        ceil_mode (bool): round the output size up (a last, partial window). Default: False.

    Returns:
        Tensor: the norms; NaN where x^p is (a negative x to a fractional p), as in PyTorch.

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: (N, C, L_out) or (C, L_out), where out = floor((in - kernel_size) / stride) + 1.

    PyTorch:
        ``torch.nn.functional.lp_pool1d``; same semantics (a window whose sum is zero gets a zero gradient).

    Example:
        >>> F.lp_pool1d(ember.tensor([[[3.0, 4.0, 1.0, 1.0]]]), 2, 2)
        tensor([[[5.0000, 1.4142]]])
    """
    return _lp_pool(1, max_pool1d, avg_pool1d, input, norm_type, kernel_size, stride, ceil_mode)


@export(functional=True, ember=False)
def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Take the p-norm over sliding windows of a 2-d signal of channels (H, W): (sum of x^p)^(1/p).

    Args:
        input (Tensor): the floating-point input, batched or not.
        norm_type (float): the power p; ``inf`` gives the maximum of abs(x), ``-inf`` the minimum.
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the step between windows. Default: ``kernel_size``.
        ceil_mode (bool): round the output size up (a last, partial window). Default: False.

    Returns:
        Tensor: the norms; NaN where x^p is (a negative x to a fractional p), as in PyTorch.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out), where out = floor((in - kernel_size) / stride) + 1.

    PyTorch:
        ``torch.nn.functional.lp_pool2d``; same semantics (a window whose sum is zero gets a zero gradient).

    Example:
        >>> F.lp_pool2d(ember.ones(1, 1, 2, 2), 2, 2)
        tensor([[[[2.]]]])
    """
    return _lp_pool(2, max_pool2d, avg_pool2d, input, norm_type, kernel_size, stride, ceil_mode)


@export(functional=True, ember=False)
def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Take the p-norm over sliding windows of a 3-d signal of channels (D, H, W): (sum of x^p)^(1/p).

    Args:
        input (Tensor): the floating-point input, batched or not.
        norm_type (float): the power p; ``inf`` gives the maximum of abs(x), ``-inf`` the minimum.
        kernel_size (int or tuple): the window size.
        stride (int or tuple, optional): the step between windows. Default: ``kernel_size``.
        ceil_mode (bool): round the output size up (a last, partial window). Default: False.

    Returns:
        Tensor: the norms; NaN where x^p is (a negative x to a fractional p), as in PyTorch.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out), where
          out = floor((in - kernel_size) / stride) + 1.

    PyTorch:
        ``torch.nn.functional.lp_pool3d``; same semantics (a window whose sum is zero gets a zero gradient).

    Example:
        >>> F.lp_pool3d(ember.ones(1, 1, 2, 2, 2), 1, 2)
        tensor([[[[[8.]]]]])
    """
    return _lp_pool(3, max_pool3d, avg_pool3d, input, norm_type, kernel_size, stride, ceil_mode)
