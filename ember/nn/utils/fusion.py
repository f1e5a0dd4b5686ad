"""Folding an eval-mode batch norm into the convolution or linear layer before it (torch.nn.utils.fusion)."""
import copy

from ...ops.creation import ones_like, zeros_like
from ..parameter import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]


def _check_running_stats(bn):
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """Return a copy of ``conv`` whose output equals ``bn(conv(x))`` in eval mode: one layer instead of two.

    Args:
        conv (Module): a convolution (Conv1d/2d, or ConvTranspose with ``transpose=True``) in eval mode.
        bn (Module): the batch norm after it, in eval mode, with running statistics.
        transpose (bool): conv is a transposed convolution (its output channels are the weight's dim 1).
            Default: False.

    Returns:
        Module: a deep copy of conv with the fused weight and bias (conv is unchanged).

    PyTorch:
        ``torch.nn.utils.fuse_conv_bn_eval``; same formulas and assertions.

    Example:
        >>> conv, bn = nn.Conv2d(3, 4, 3).eval(), nn.BatchNorm2d(4).eval()
        >>> fused = nn.utils.fuse_conv_bn_eval(conv, bn)
        >>> x = ember.randn(2, 3, 5, 5)
        >>> bool(ember.allclose(fused(x), bn(conv(x)), atol=1e-5))
        True
    """
    if conv.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    fused_conv = copy.deepcopy(conv)
    _check_running_stats(bn)
    fused_conv.weight, fused_conv.bias = fuse_conv_bn_weights(
        fused_conv.weight, fused_conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias, transpose)
    return fused_conv


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """The weight and bias of a convolution followed by an eval-mode batch norm, folded into one convolution.

    ``w * (bn_w / sqrt(bn_rv + eps))`` per output channel and ``(b - bn_rm) * bn_w / sqrt(bn_rv + eps) + bn_b``.

    Args:
        conv_w (Tensor): the convolution's weight.
        conv_b (Tensor, optional): its bias; None counts as zeros.
        bn_rm (Tensor): the batch norm's running mean.
        bn_rv (Tensor): its running variance.
        bn_eps (float): its eps.
        bn_w (Tensor, optional): its weight (gamma); None counts as ones.
        bn_b (Tensor, optional): its bias (beta); None counts as zeros.
        transpose (bool): the weight is a transposed convolution's (output channels on dim 1). Default: False.

    Returns:
        tuple[Parameter, Parameter]: the fused weight (conv_w's dtype) and bias (conv_b's dtype, else conv_w's),
        requiring grad as conv_w and conv_b do.

    PyTorch:
        ``torch.nn.utils.fuse_conv_bn_weights``; same formulas.

    Example:
        >>> w, b = nn.utils.fuse_conv_bn_weights(ember.ones(2, 1, 1), None, ember.zeros(2), ember.full((2,), 3.0),
        ...                                      1.0, ember.tensor([1.0, 2.0]), None)
        >>> w.flatten().tolist(), b.tolist()
        ([0.5, 1.0], [0.0, 0.0])
    """
    conv_weight_dtype = conv_w.dtype
    conv_bias_dtype = conv_b.dtype if conv_b is not None else conv_weight_dtype
    if conv_b is None:
        conv_b = zeros_like(bn_rm)
    if bn_w is None:
        bn_w = ones_like(bn_rm)
    if bn_b is None:
        bn_b = zeros_like(bn_rm)
    bn_var_rsqrt = (bn_rv + bn_eps).rsqrt()
    extra = [1] * (len(conv_w.shape) - 2)
    shape = [1, -1] + extra if transpose else [-1, 1] + extra
    fused_conv_w = (conv_w * (bn_w * bn_var_rsqrt).reshape(shape)).to(dtype=conv_weight_dtype)
    fused_conv_b = ((conv_b - bn_rm) * bn_var_rsqrt * bn_w + bn_b).to(dtype=conv_bias_dtype)
    return Parameter(fused_conv_w, conv_w.requires_grad), Parameter(fused_conv_b, conv_b.requires_grad)


def fuse_linear_bn_eval(linear, bn):
    """Return a copy of ``linear`` whose output equals ``bn(linear(x))`` in eval mode: one layer instead of two.

    Args:
        linear (Linear): the linear layer, in eval mode.
        bn (Module): the batch norm after it (BatchNorm1d), in eval mode, with ``num_features`` equal to
            ``linear.out_features`` or 1.

    Returns:
        Linear: a deep copy of linear with the fused weight and bias (linear is unchanged).

    PyTorch:
        ``torch.nn.utils.fuse_linear_bn_eval``; same formulas and assertions.

    Example:
        >>> linear, bn = nn.Linear(3, 4).eval(), nn.BatchNorm1d(4).eval()
        >>> fused = nn.utils.fuse_linear_bn_eval(linear, bn)
        >>> x = ember.randn(5, 3)
        >>> bool(ember.allclose(fused(x), bn(linear(x)), atol=1e-5))
        True
    """
    if linear.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    fused_linear = copy.deepcopy(linear)
    if linear.out_features != bn.num_features and bn.num_features != 1:  # 1: one scale broadcast to every output
        raise AssertionError("To fuse, linear.out_features == bn.num_features or bn.num_features == 1, got "
                             f"linear.out_features={linear.out_features} and bn.num_features={bn.num_features}")
    _check_running_stats(bn)
    fused_linear.weight, fused_linear.bias = fuse_linear_bn_weights(
        fused_linear.weight, fused_linear.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    return fused_linear


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """The weight and bias of a linear layer followed by an eval-mode batch norm, folded into one linear layer.

    ``w * (bn_w / sqrt(bn_rv + eps))`` per output row and ``(b - bn_rm) * bn_w / sqrt(bn_rv + eps) + bn_b``.

    Args:
        linear_w (Tensor): the linear layer's weight.
        linear_b (Tensor, optional): its bias; None counts as zeros.
        bn_rm (Tensor): the batch norm's running mean.
        bn_rv (Tensor): its running variance.
        bn_eps (float): its eps.
        bn_w (Tensor): its weight (gamma).
        bn_b (Tensor): its bias (beta).

    Returns:
        tuple[Parameter, Parameter]: the fused weight (linear_w's dtype) and bias (linear_b's dtype, else
        linear_w's), requiring grad as linear_w and linear_b do.

    PyTorch:
        ``torch.nn.utils.fuse_linear_bn_weights``; same formulas.

    Example:
        >>> w, b = nn.utils.fuse_linear_bn_weights(ember.ones(2, 1), ember.ones(2), ember.zeros(2),
        ...                                        ember.full((2,), 3.0), 1.0, ember.tensor([1.0, 2.0]), ember.zeros(2))
        >>> w.flatten().tolist(), b.tolist()
        ([0.5, 1.0], [0.5, 1.0])
    """
    linear_weight_dtype = linear_w.dtype
    linear_bias_dtype = linear_b.dtype if linear_b is not None else linear_weight_dtype
    if linear_b is None:
        linear_b = zeros_like(bn_rm)
    bn_scale = bn_w * (bn_rv + bn_eps).rsqrt()
    fused_w = linear_w * bn_scale.unsqueeze(-1).to(dtype=linear_weight_dtype)
    fused_b = ((linear_b - bn_rm) * bn_scale + bn_b).to(dtype=linear_bias_dtype)
    return Parameter(fused_w, linear_w.requires_grad), Parameter(fused_b, linear_b.requires_grad)
