"""Normalisation layers: BatchNorm1d/2d/3d, LayerNorm, GroupNorm, InstanceNorm1d/2d/3d, RMSNorm,
LocalResponseNorm."""
from __future__ import annotations

import numbers
import warnings

from ..autograd import no_grad
from ..dtypes import dtype as _dtype
from ..ops import norm as N
from ..ops.creation import ones, zeros
from ..tensor import Tensor, tensor
from ..types import Device, _size
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "RMSNorm", "LocalResponseNorm"]


def _register_affine(module, affine, bias, shape, device, dtype):
    """Register weight (ones) and bias (zeros, or None without bias) of shape, or None for both without affine."""
    module.register_parameter("weight", Parameter(ones(shape, device=device, dtype=dtype)) if affine else None)
    module.register_parameter("bias", Parameter(zeros(shape, device=device, dtype=dtype)) if affine and bias else None)


def _reset_affine(weight, bias):
    """weight = 1 and bias = 0 (if any), in place."""
    with no_grad():
        weight.fill_(1)
        if bias is not None:
            bias.zero_()


class _NormBase(Module):
    """Affine weight/bias and running statistics shared by batch and instance norm."""

    _version = 2
    weight: Parameter | None
    bias: Parameter | None
    running_mean: Tensor | None
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Device = None, dtype: _dtype | None = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _register_affine(self, affine, bias, num_features, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            with no_grad():  # tracked: the buffers exist
                self.running_mean.zero_()  # type: ignore[union-attr]
                self.running_var.fill_(1)  # type: ignore[union-attr]
                self.num_batches_tracked.zero_()  # type: ignore[union-attr]

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            _reset_affine(self.weight, self.bias)

    def _check_input_dim(self, input):
        pass

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    dims = (2, 3)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        # running stats are passed when they are updated (training, tracked) or used (eval)
        pass_stats = not self.training or self.track_running_stats
        return N.batch_norm(input, self.running_mean if pass_stats else None,
                            self.running_var if pass_stats else None,
                            self.weight, self.bias, use_batch_stats, momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    """Normalise each channel over the batch (and length): (x - mean) / sqrt(var + eps) * weight + bias.

    In training mode the statistics are those of the batch, over N (and L) (the biased variance), and the running
    statistics are updated with the unbiased one; in eval mode the running statistics are used (the batch's when
    ``track_running_stats`` is False).

    Args:
        num_features (int): C, the number of channels.
        eps (float): added to the variance for stability. Default: 1e-05.
        momentum (float, optional): the weight of the new batch in the running statistics' moving average; None for a
            cumulative average. Default: 0.1.
        affine (bool): learn a per-channel ``weight`` (ones) and ``bias`` (zeros). Default: True.
        track_running_stats (bool): keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers, used
            in eval mode. Default: True.
        device (str or ember.device, optional): where the parameters and buffers live. Default: the CPU.
        dtype (ember.dtype, optional): their dtype. Default: ``ember.get_default_dtype()``.
        bias (bool): with ``affine``, also learn the bias (keyword only). Default: True.

    Shape:
        - Input: (N, C) or (N, C, L); another rank raises ValueError.
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.BatchNorm1d``; same parameters, buffers, state_dict keys and semantics.

    Example:
        >>> bn = nn.BatchNorm1d(2)
        >>> bn(ember.tensor([[1.0, 0.0], [3.0, 4.0]])).detach()
        tensor([[-1.0000, -1.0000],
                [ 1.0000,  1.0000]])
        >>> bn.running_mean
        tensor([0.2000, 0.2000])
    """

    def _check_input_dim(self, input):
        if input._data.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected 2D or 3D input (got {input._data.ndim}D input of shape "
                             f"{tuple(input.shape)})")


class BatchNorm2d(_BatchNorm):
    """Normalise each channel over the batch and the spatial dimensions: (x - mean) / sqrt(var + eps) * weight + bias.

    In training mode the statistics are those of the batch, over N, H and W (the biased variance), and the running
    statistics are updated with the unbiased one; in eval mode the running statistics are used (the batch's when
    ``track_running_stats`` is False).

    Args:
        num_features (int): C, the number of channels.
        eps (float): added to the variance for stability. Default: 1e-05.
        momentum (float, optional): the weight of the new batch in the running statistics' moving average; None for a
            cumulative average. Default: 0.1.
        affine (bool): learn a per-channel ``weight`` (ones) and ``bias`` (zeros). Default: True.
        track_running_stats (bool): keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers, used
            in eval mode. Default: True.
        device (str or ember.device, optional): where the parameters and buffers live. Default: the CPU.
        dtype (ember.dtype, optional): their dtype. Default: ``ember.get_default_dtype()``.
        bias (bool): with ``affine``, also learn the bias (keyword only). Default: True.

    Shape:
        - Input: (N, C, H, W); another rank raises ValueError.
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.BatchNorm2d``; same parameters, buffers, state_dict keys and semantics.

    Example:
        >>> bn = nn.BatchNorm2d(3)
        >>> y = bn(ember.randn(8, 3, 4, 4))
        >>> y.shape, bn.running_mean.shape
        (ember.Size([8, 3, 4, 4]), ember.Size([3]))
    """

    def _check_input_dim(self, input):
        if input._data.ndim != 4:
            raise ValueError(f"BatchNorm2d: expected 4D input (got {input._data.ndim}D input of shape "
                             f"{tuple(input.shape)})")


class BatchNorm3d(_BatchNorm):
    """Normalise each channel over the batch and the volume: (x - mean) / sqrt(var + eps) * weight + bias.

    In training mode the statistics are those of the batch, over N, D, H and W (the biased variance), and the running
    statistics are updated with the unbiased one; in eval mode the running statistics are used (the batch's when
    ``track_running_stats`` is False).

    Args:
        num_features (int): C, the number of channels.
        eps (float): added to the variance for stability. Default: 1e-05.
        momentum (float, optional): the weight of the new batch in the running statistics' moving average; None for a
            cumulative average. Default: 0.1.
        affine (bool): learn a per-channel ``weight`` (ones) and ``bias`` (zeros). Default: True.
        track_running_stats (bool): keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers, used
            in eval mode. Default: True.
        device (str or ember.device, optional): where the parameters and buffers live. Default: the CPU.
        dtype (ember.dtype, optional): their dtype. Default: ``ember.get_default_dtype()``.
        bias (bool): with ``affine``, also learn the bias (keyword only). Default: True.

    Shape:
        - Input: (N, C, D, H, W); another rank raises ValueError.
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.BatchNorm3d``; same parameters, buffers, state_dict keys and semantics.

    Example:
        >>> bn = nn.BatchNorm3d(3)
        >>> y = bn(ember.randn(4, 3, 2, 4, 4))
        >>> y.shape, bn.running_var.shape
        (ember.Size([4, 3, 2, 4, 4]), ember.Size([3]))
    """

    def _check_input_dim(self, input):
        if input._data.ndim != 5:
            raise ValueError(f"BatchNorm3d: expected 5D input (got {input._data.ndim}D input of shape "
                             f"{tuple(input.shape)})")


class _InstanceNorm(_NormBase):
    ndim = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device: Device = None, dtype: _dtype | None = None, *,
                 bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        ndim = input._data.ndim
        if ndim not in (self.ndim + 1, self.ndim + 2):
            raise ValueError(f"{type(self).__name__}: expected {self.ndim + 1}D or {self.ndim + 2}D input (got "
                             f"{ndim}D input of shape {tuple(input.shape)})")
        feature_dim = ndim - self.ndim - 1
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"{type(self).__name__}: expected input's size at dim={feature_dim} to match "
                                 f"num_features ({self.num_features}), but got: {input.shape[feature_dim]} (input "
                                 f"shape {tuple(input.shape)}).")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You can silence this "
                          "warning by not passing in num_features, which is not used because affine=False",
                          stacklevel=2)
        unbatched = ndim == self.ndim + 1
        if unbatched:
            input = input.unsqueeze(0)
        out = N.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              0.0 if self.momentum is None else self.momentum, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Normalise each channel of each sample over its length: (x - mean) / sqrt(var + eps).

    Unlike batch norm, the statistics are per sample; by default (as PyTorch's) there are no affine parameters and no
    running statistics. A channel count other than ``num_features`` warns (raises ValueError with ``affine``).

    Args:
        num_features (int): C, the number of channels.
        eps (float): added to the variance for stability. Default: 1e-05.
        momentum (float, optional): the weight of the new batch in the running statistics' moving average; None for a
            cumulative average. Default: 0.1.
        affine (bool): learn a per-channel ``weight`` (ones) and ``bias`` (zeros). Default: False.
        track_running_stats (bool): keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers, used
            in eval mode. Default: False.
        device (str or ember.device, optional): where the parameters and buffers live. Default: the CPU.
        dtype (ember.dtype, optional): their dtype. Default: ``ember.get_default_dtype()``.
        bias (bool): with ``affine``, also learn the bias (keyword only). Default: True.

    Shape:
        - Input: (N, C, L) or (C, L); another rank raises ValueError.
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.InstanceNorm1d``; same parameters, buffers, state_dict keys and semantics.

    Example:
        >>> nn.InstanceNorm1d(2)(ember.tensor([[[1.0, 3.0], [2.0, 2.0]]]))
        tensor([[[-1.0000,  1.0000],
                 [ 0.0000,  0.0000]]])
    """
    ndim = 1


class InstanceNorm2d(_InstanceNorm):
    """Normalise each channel of each sample over its spatial dimensions: (x - mean) / sqrt(var + eps).

    Unlike batch norm, the statistics are per sample; by default (as PyTorch's) there are no affine parameters and no
    running statistics. A channel count other than ``num_features`` warns (raises ValueError with ``affine``).

    Args:
        num_features (int): C, the number of channels.
        eps (float): added to the variance for stability. Default: 1e-05.
        momentum (float, optional): the weight of the new batch in the running statistics' moving average; None for a
            cumulative average. Default: 0.1.
        affine (bool): learn a per-channel ``weight`` (ones) and ``bias`` (zeros). Default: False.
        track_running_stats (bool): keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers, used
            in eval mode. Default: False.
        device (str or ember.device, optional): where the parameters and buffers live. Default: the CPU.
        dtype (ember.dtype, optional): their dtype. Default: ``ember.get_default_dtype()``.
        bias (bool): with ``affine``, also learn the bias (keyword only). Default: True.

    Shape:
        - Input: (N, C, H, W) or (C, H, W); another rank raises ValueError.
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.InstanceNorm2d``; same parameters, buffers, state_dict keys and semantics.

    Example:
        >>> nn.InstanceNorm2d(3, affine=True)(ember.ones(2, 3, 4, 4)).shape
        ember.Size([2, 3, 4, 4])
    """
    ndim = 2


class InstanceNorm3d(_InstanceNorm):
    """Normalise each channel of each sample over its volume: (x - mean) / sqrt(var + eps).

    Unlike batch norm, the statistics are per sample; by default (as PyTorch's) there are no affine parameters and no
    running statistics. A channel count other than ``num_features`` warns (raises ValueError with ``affine``).

    Args:
        num_features (int): C, the number of channels.
        eps (float): added to the variance for stability. Default: 1e-05.
        momentum (float, optional): the weight of the new batch in the running statistics' moving average; None for a
            cumulative average. Default: 0.1.
        affine (bool): learn a per-channel ``weight`` (ones) and ``bias`` (zeros). Default: False.
        track_running_stats (bool): keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers, used
            in eval mode. Default: False.
        device (str or ember.device, optional): where the parameters and buffers live. Default: the CPU.
        dtype (ember.dtype, optional): their dtype. Default: ``ember.get_default_dtype()``.
        bias (bool): with ``affine``, also learn the bias (keyword only). Default: True.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W); another rank raises ValueError.
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.InstanceNorm3d``; same parameters, buffers, state_dict keys and semantics.

    Example:
        >>> nn.InstanceNorm3d(2)(ember.tensor([[[[[1.0, 3.0]]], [[[2.0, 2.0]]]]]))
        tensor([[[[[-1.0000,  1.0000]]],
        <BLANKLINE>
        <BLANKLINE>
                 [[[ 0.0000,  0.0000]]]]])
    """
    ndim = 3


def _shape(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(normalized_shape)


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dimensions, then apply an elementwise affine map.

    y = (x - mean) / sqrt(var + eps) * weight + bias, the mean and (biased) variance taken per sample over the last
    len(normalized_shape) dimensions; ``weight`` starts at ones and ``bias`` at zeros, both of ``normalized_shape``.

    Args:
        normalized_shape (int or tuple of int): the shape of the trailing dimensions to normalise.
        eps (float): added to the variance for stability. Default: 1e-05.
        elementwise_affine (bool): learn ``weight`` and ``bias``. Default: True.
        bias (bool): with ``elementwise_affine``, also learn the bias. Default: True.
        device (str or ember.device, optional): where the parameters and buffers live. Default: the CPU.
        dtype (ember.dtype, optional): their dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (*, *normalized_shape).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.LayerNorm``; same parameters, state_dict keys and semantics.

    Example:
        >>> ln = nn.LayerNorm(2)
        >>> ln(ember.tensor([[1.0, 3.0]])).detach()
        tensor([[-1.0000,  1.0000]])
        >>> nn.LayerNorm([2, 3])(ember.ones(4, 2, 3)).shape
        ember.Size([4, 2, 3])
    """

    weight: Parameter | None
    bias: Parameter | None

    def __init__(self, normalized_shape: int | _size, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Device = None, dtype: _dtype | None = None) -> None:
        super().__init__()
        self.normalized_shape, self.eps = _shape(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        _register_affine(self, elementwise_affine, bias, self.normalized_shape, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return N.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            _reset_affine(self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalise groups of channels of each sample, then apply a per-channel affine map.

    The C channels are split into ``num_groups`` groups; each group of each sample is normalised over its channels and
    spatial positions: (x - mean) / sqrt(var + eps) * weight + bias.

    Args:
        num_groups (int): the number of groups; it must divide ``num_channels`` (else ValueError).
        num_channels (int): C, the number of channels.
        eps (float): added to the variance for stability. Default: 1e-05.
        affine (bool): learn a per-channel ``weight`` (ones) and ``bias`` (zeros). Default: True.
        device (str or ember.device, optional): where the parameters and buffers live. Default: the CPU.
        dtype (ember.dtype, optional): their dtype. Default: ``ember.get_default_dtype()``.
        bias (bool): with ``affine``, also learn the bias (keyword only). Default: True.

    Shape:
        - Input: (N, C, *).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.GroupNorm``; same parameters, state_dict keys and semantics.

    Example:
        >>> gn = nn.GroupNorm(1, 2)
        >>> gn(ember.tensor([[1.0, 3.0]])).detach()
        tensor([[-1.0000,  1.0000]])
        >>> nn.GroupNorm(2, 4)(ember.ones(3, 4, 5)).shape
        ember.Size([3, 4, 5])
    """

    weight: Parameter | None
    bias: Parameter | None

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Device = None, dtype: _dtype | None = None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _register_affine(self, affine, bias, num_channels, device, dtype)

    def reset_parameters(self) -> None:
        if self.affine:
            _reset_affine(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return N.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """Scale by the root mean square over the trailing ``normalized_shape`` dimensions, times a learnt weight.

    y = x / sqrt(mean(x^2) + eps) * weight; unlike LayerNorm there is no centring and no bias.

    Args:
        normalized_shape (int or tuple of int): the shape of the trailing dimensions to normalise.
        eps (float, optional): added to the mean square; None for the input dtype's machine epsilon. Default: None.
        elementwise_affine (bool): learn ``weight`` (ones, of ``normalized_shape``). Default: True.
        device (str or ember.device, optional): where the parameters and buffers live. Default: the CPU.
        dtype (ember.dtype, optional): their dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (*, *normalized_shape).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.RMSNorm``; same parameters, state_dict keys and semantics.

    Example:
        >>> rms = nn.RMSNorm(2)
        >>> rms(ember.tensor([[3.0, 4.0]])).detach()
        tensor([[0.8485, 1.1314]])
    """

    def __init__(self, normalized_shape: int | _size, eps: float | None = None, elementwise_affine: bool = True,
                 device: Device = None, dtype: _dtype | None = None) -> None:
        super().__init__()
        self.normalized_shape, self.eps = _shape(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            with no_grad():
                self.weight.fill_(1)

    def forward(self, input: Tensor) -> Tensor:
        return N.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LocalResponseNorm(Module):
    """Divide each element by a power of the sum of squares of its neighbours across channels.

    y = x / (k + alpha / size * sum(x^2 over the ``size`` neighbouring channels)) ** beta, the window covering
    channels c - size // 2 to c + (size - 1) // 2 (zeros outside); see ``F.local_response_norm``.

    Args:
        size (int): the number of neighbouring channels summed.
        alpha (float): the multiplier of the mean square. Default: 0.0001.
        beta (float): the exponent. Default: 0.75.
        k (float): the additive constant. Default: 1.0.

    Shape:
        - Input: (N, C, *), at least 3-D (else ValueError).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.LocalResponseNorm``; same semantics.

    Example:
        >>> nn.LocalResponseNorm(2)(ember.tensor([[[1.0], [2.0], [3.0]]]))
        tensor([[[1.0000],
                 [1.9996],
                 [2.9985]]])
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return N.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
