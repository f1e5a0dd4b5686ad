"""3-D convolution: conv3d and conv_transpose3d, made of the 2-D ops of conv.py and fold.py.

conv3d folds the output depth into the batch: Im2Col (F.unfold along the depth) copies the depth windows of the
(padded) input out as channels, (N * OD, C * kD, H, W), channel c * kD + kd, and one 2-D convolution with the
weight viewed as (C_out, C_in / groups * kD, kH, kW) convolves them (a group's channels stay together).
conv_transpose3d is its adjoint: a 2-D transposed convolution of each input depth slice with the same weight view
gives each depth tap's contribution, and Col2Im (F.fold along the depth) adds them where they land. Gradients and
double backward come from those ops; outputs are C-contiguous (N, C, D, H, W) arrays, as PyTorch's.
"""
from ..autograd import is_grad_enabled
from ..autograd.graph import apply
from . import _autocast
from ._window import Window
from .conv import Conv, ConvTranspose, conv_args, conv_transpose_args
from .fold import Col2Im, Im2Col
from .registry import export


def _flat(n):
    """The geometry of the H * W positions that Im2Col and Col2Im see as the width: one window per position."""
    return Window(1, 1, 1, 0, n, n)


def _trivial(g):
    """Whether the depth geometry g maps each depth slice to itself (kernel 1, stride 1, no padding)."""
    return (g.k, g.s, g.lo, g.n_in) == (1, 1, 0, g.n_out)


def _conv3d(input, weight, bias, stride, padding, dilation, groups):
    if _autocast.active and _autocast.on(input):
        return _autocast.in_float32(_conv3d, input, weight, bias, stride, padding, dilation, groups)
    x, batched, (gd, gh, gw), groups = conv_args("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)
    n, c, d, h, w = x._data.shape
    cout, od = weight._data.shape[0], gd.n_out
    cols = x
    if not _trivial(gd):
        cols = apply(Im2Col((gd, _flat(h * w))), x.reshape(n, c, d, h * w)).reshape(n, c * gd.k, od, h, w)
    planes = cols.permute(0, 2, 1, 3, 4).reshape(n * od, c * gd.k, h, w)
    w2 = weight.reshape(cout, -1, gh.k, gw.k)
    node = Conv((gh, gw), groups, False, weight.requires_grad and is_grad_enabled())
    y = apply(node, planes, w2) if bias is None else apply(node, planes, w2, bias)
    out = y.reshape(n, od, cout, gh.n_out, gw.n_out).permute(0, 2, 1, 3, 4).contiguous()
    return out if batched else out.reshape(tuple(out._data.shape[1:]))


@export(Conv, Im2Col, functional=True)
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Apply a 3-d convolution (cross-correlation, as in PyTorch) over an input of channels (D, H, W).

    Args:
        input (Tensor): the floating-point input, batched or not.
        weight (Tensor): the filters, of ``input``'s dtype.
        bias (Tensor, optional): one value per output channel. Default: None.
        stride (int or tuple): the step between windows. Default: 1.
        padding (int or tuple or str): implicit zero padding on each side, or ``'valid'`` (none) or ``'same'``
            (the output as large as the input; stride 1 only). Default: 0.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.
        groups (int): split the input and output channels into this many independent groups. Default: 1.

    Returns:
        Tensor: the convolved volume, of ``input``'s dtype.

    Shape:
        - Input: (N, C_in, D, H, W) or (C_in, D, H, W).
        - Weight: (C_out, C_in / groups, kD, kH, kW).
        - Bias: (C_out,).
        - Output: (N, C_out, D_out, H_out, W_out) or (C_out, D_out, H_out, W_out), where
          out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1.

    PyTorch:
        ``torch.nn.functional.conv3d`` and ``torch.conv3d``; same semantics, except that integer inputs raise
        RuntimeError (PyTorch accepts them on the CPU).

    Example:
        >>> F.conv3d(ember.ones(1, 1, 2, 2, 2), ember.ones(1, 1, 2, 2, 2))
        tensor([[[[[8.]]]]])
        >>> F.conv3d(ember.ones(2, 4, 5, 6, 6), ember.ones(6, 2, 3, 3, 3), stride=(1, 2, 2), groups=2).shape
        ember.Size([2, 6, 3, 2, 2])
    """
    return _conv3d(input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose3d(input, weight, bias, stride, padding, output_padding, groups, dilation):
    if _autocast.active and _autocast.on(input):
        return _autocast.in_float32(_conv_transpose3d, input, weight, bias, stride, padding, output_padding, groups,
                                    dilation)
    x, batched, (gd, gh, gw), groups = conv_transpose_args("conv_transpose3d", 3, input, weight, bias, stride,
                                                           padding, output_padding, groups, dilation)
    n, cin, d, h, w = x._data.shape
    cout, oh, ow = weight._data.shape[1] * groups, gh.n_in, gw.n_in
    planes = x.permute(0, 2, 1, 3, 4).reshape(n * d, cin, h, w)
    w2 = weight.reshape(cin, -1, gh.k, gw.k)
    node = ConvTranspose((gh, gw), groups, False)
    if _trivial(gd):  # each input slice is an output slice: the bias goes in with the 2-D op
        y = apply(node, planes, w2) if bias is None else apply(node, planes, w2, bias)
        out = y.reshape(n, d, cout, oh, ow).permute(0, 2, 1, 3, 4).contiguous()
    else:
        y = apply(node, planes, w2).reshape(n, d, cout * gd.k, oh * ow).permute(0, 2, 1, 3)
        out = apply(Col2Im((gd, _flat(oh * ow))), y.reshape(n, cout * gd.k, d * oh * ow))
        out = out.reshape(n, cout, gd.n_in, oh, ow)
        if bias is not None:
            out = out + bias.reshape(1, cout, 1, 1, 1)
    return out if batched else out.reshape(tuple(out._data.shape[1:]))


@export(ConvTranspose, Col2Im, functional=True)
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Apply a 3-d transposed convolution (the gradient of ``conv3d`` with respect to its input).

    Often called a deconvolution: each input value scatters a copy of the kernel, scaled by it, into the output,
    overlapping copies summed.

    Args:
        input (Tensor): the floating-point input, batched or not.
        weight (Tensor): the filters, of ``input``'s dtype.
        bias (Tensor, optional): one value per output channel. Default: None.
        stride (int or tuple): the step between the scattered kernels. Default: 1.
        padding (int or tuple): the padding of the matching ``conv3d``: the output loses this much on each side
            (the input is padded by ``dilation * (kernel_size - 1) - padding``); a string raises RuntimeError.
            Default: 0.
        output_padding (int or tuple): extra size added to one side of the output, smaller than ``stride`` or
            ``dilation``. Default: 0.
        groups (int): split the input and output channels into this many independent groups. Default: 1.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.

    Returns:
        Tensor: the result, of ``input``'s dtype.

    Shape:
        - Input: (N, C_in, D, H, W) or (C_in, D, H, W).
        - Weight: (C_in, C_out / groups, kD, kH, kW).
        - Bias: (C_out,).
        - Output: (N, C_out, D_out, H_out, W_out) or (C_out, D_out, H_out, W_out), where
          out = (in - 1) stride - 2 padding + dilation (kernel_size - 1) + output_padding + 1.

    PyTorch:
        ``torch.nn.functional.conv_transpose3d`` and ``torch.conv_transpose3d``; same semantics, except that
        integer inputs raise RuntimeError.

    Example:
        >>> F.conv_transpose3d(ember.tensor([[[[[1.0]], [[2.0]]]]]), ember.ones(1, 1, 2, 1, 1))
        tensor([[[[[1.]],
        <BLANKLINE>
                  [[3.]],
        <BLANKLINE>
                  [[2.]]]]])
        >>> x, w = ember.ones(1, 2, 3, 3, 3), ember.ones(2, 4, 3, 3, 3)
        >>> F.conv_transpose3d(x, w, stride=2, padding=1, output_padding=1).shape
        ember.Size([1, 4, 6, 6, 6])
    """
    return _conv_transpose3d(input, weight, bias, stride, padding, output_padding, groups, dilation)
