"""autocast: regions where the matmul-like ops run in a lower precision, as torch.autocast / torch.amp.autocast.

On the CPU (``autocast("cpu")``, bfloat16 by default, float16 allowed) the ops that PyTorch's CPU autocast runs in
lower precision cast their floating-point inputs (float64 excepted) to that dtype and return it: linear, matmul,
mm, bmm, addmm, baddbmm, einsum, conv1d/conv2d and conv_transpose1d/2d, prelu and scaled_dot_product_attention
(and the layers built on them, MultiheadAttention among them). Gradients flow back through the casts, so float32
parameters get float32 gradients. The ops of PyTorch's CPU "float32 list" that ember has cast their
lower-precision inputs to float32 and return float32: the losses (cross_entropy, nll_loss, mse_loss, l1_loss,
smooth_l1_loss, huber_loss, binary_cross_entropy(_with_logits), kl_div, poisson_nll_loss, soft_margin_loss,
margin_ranking_loss, hinge_embedding_loss, cosine_embedding_loss, triplet_margin_loss, ctc_loss), prod, cdist, and
pad in 'replicate' mode and in 'reflect' mode over 1 or 2 dimensions. Other ops run in the dtype of their inputs
(softmax, norms and reductions too, as on PyTorch's CPU), summing 16-bit floats in float32. Not matched yet:
PyTorch's nn.LSTM/nn.RNN return the low precision under CPU autocast (its oneDNN kernels), ember's float32.

``autocast("cuda")`` works the same way on CUDA tensors (float16 by default) when CuPy sees a GPU; without one it
warns and does nothing, as PyTorch does on a machine without CUDA. The state is per thread (ember/ops/_autocast).
"""
import collections.abc
import functools
import warnings

import numpy as np

from .. import dtypes as _dt
from ..device import cuda_available
from ..ops import _autocast
from ..tensor import Tensor

__all__ = ["autocast", "is_autocast_available", "custom_fwd", "custom_bwd"]

_DEFAULT_DTYPE = {"cpu": _dt.bfloat16, "cuda": _dt.float16}


def is_autocast_available(device_type):
    """Return whether ember can autocast on a device type.

    Args:
        device_type (str): a device type, such as 'cpu' or 'cuda'.

    Returns:
        bool: True for 'cpu' and 'cuda' (whether or not a GPU is present), False otherwise.

    PyTorch:
        ``torch.amp.is_autocast_available``; same semantics for 'cpu' and 'cuda' (ember has no other device
        types, so 'mps', 'xpu'... give False).

    Example:
        >>> ember.amp.is_autocast_available("cpu"), ember.amp.is_autocast_available("mps")
        (True, False)
    """
    return device_type in _autocast.DEVICE_TYPES


class autocast:
    """Run a region (a ``with`` block, or a decorated function) with autocast on for ``device_type``.

    Inside it the matmul-like ops (linear, matmul, conv, attention...) cast their floating-point inputs (float64
    excepted) to ``dtype`` and return it, while the losses and a few others run in float32; gradients flow back
    through the casts, so float32 parameters get float32 gradients (the full list is in ``ember.amp``'s module
    documentation). On 'cuda' without a GPU it warns and does nothing, as PyTorch does.

    Args:
        device_type (str): 'cpu' or 'cuda'.
        dtype (ember.dtype, optional): the low precision; bfloat16 on 'cpu' and float16 on 'cuda' when None.
            Default: None.
        enabled (bool): whether autocast is on inside (False turns it off inside an enabled region).
            Default: True.
        cache_enabled (bool, optional): whether to keep the low-precision copies of parameters within the region;
            the current setting when None. Default: None.

    PyTorch:
        ``torch.autocast`` and ``torch.amp.autocast``; same semantics, except that ember's nn.LSTM/nn.RNN return
        float32 under CPU autocast (PyTorch's return the low precision).

    Example:
        >>> model = nn.Linear(4, 3)
        >>> with ember.autocast("cpu"):
        ...     y = model(ember.randn(2, 4))
        >>> y.dtype, model.weight.dtype
        (ember.bfloat16, ember.float32)
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if not is_autocast_available(device_type):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}' "
                               f"(ember autocasts on 'cpu' and 'cuda')")
        self.device = device_type
        self.fast_dtype = _autocast.get_dtype(device_type) if dtype is None else _dt.to_dtype(dtype)
        self._cache_enabled = _autocast.is_cache_enabled() if cache_enabled is None else bool(cache_enabled)
        if enabled:
            if device_type == "cuda":
                if not cuda_available():
                    warnings.warn("CUDA is not available (ember runs CUDA through CuPy). Disabling autocast.",
                                  UserWarning, stacklevel=2)
                    enabled = False
                elif self.fast_dtype is _dt.bfloat16:  # ember.cuda.is_bf16_supported(): CuPy has no bfloat16
                    raise RuntimeError("Current CUDA Device does not support bfloat16. Please switch dtype to "
                                       "float16.")
            elif self.fast_dtype is None:
                raise RuntimeError("autocast: CPU autocast runs in bfloat16, which needs the ml_dtypes package "
                                   "(pip install ember[bf16]); or pass dtype=ember.float16")
            elif self.fast_dtype not in (_dt.bfloat16, _dt.float16):
                warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                              "CPU Autocast only supports dtypes of ember.bfloat16, ember.float16 currently.",
                              UserWarning, stacklevel=2)
                enabled = False
        self._enabled = bool(enabled)

    def __enter__(self):
        self.prev_cache_enabled = _autocast.is_cache_enabled()
        self.prev = _autocast.is_enabled(self.device)
        self.prev_fastdtype = _autocast.get_dtype(self.device)
        _autocast.set_enabled(self.device, self._enabled)
        _autocast.set_dtype(self.device, self.fast_dtype)
        _autocast.increment_nesting()
        _autocast.set_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if _autocast.decrement_nesting() == 0:
            _autocast.clear_cache()
        _autocast.set_enabled(self.device, self.prev)
        _autocast.set_dtype(self.device, self.prev_fastdtype)
        _autocast.set_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"autocast()(func) requires a callable, but got {type(func).__name__}. Did you mean to "
                            f"use autocast as a context manager? For example:\n"
                            f"    with ember.autocast(device_type=...):\n        output = model(input)")

        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return decorate_autocast


# --- the global functions torch has beside the class (torch.is_autocast_enabled, ...) -------------------------------

def is_autocast_enabled(device_type=None):
    """Return whether autocast is on in this thread for a device type.

    Args:
        device_type (str, optional): 'cpu' or 'cuda'; 'cuda' when None. Default: None.

    Returns:
        bool: True inside an enabled ``autocast`` region for that device type.

    PyTorch:
        ``torch.is_autocast_enabled``; same semantics.

    Example:
        >>> with ember.autocast("cpu"):
        ...     ember.is_autocast_enabled("cpu")
        True
    """
    return _autocast.is_enabled("cuda" if device_type is None else device_type)


def set_autocast_enabled(device_type, enabled=None) -> None:
    """Turn autocast on or off for a device type in this thread (until set again).

    ``set_autocast_enabled(True)`` (one argument) means CUDA. Prefer the ``autocast`` context manager, which
    restores the previous state.

    Args:
        device_type (str or bool): 'cpu' or 'cuda'; or the enabled flag, for CUDA, when ``enabled`` is None.
        enabled (bool, optional): whether autocast is on. Default: None.

    PyTorch:
        ``torch.set_autocast_enabled``; same semantics.

    Example:
        >>> ember.set_autocast_enabled("cpu", True)
        >>> ember.is_autocast_enabled("cpu")
        True
        >>> ember.set_autocast_enabled("cpu", False)
    """
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _autocast.set_enabled(device_type, enabled)


def get_autocast_dtype(device_type):
    """Return the dtype autocast casts to on a device type.

    Args:
        device_type (str): 'cpu' or 'cuda'.

    Returns:
        ember.dtype: bfloat16 on 'cpu' and float16 on 'cuda' unless set (in this thread).

    PyTorch:
        ``torch.get_autocast_dtype``; same semantics.

    Example:
        >>> ember.get_autocast_dtype("cpu"), ember.get_autocast_dtype("cuda")
        (ember.bfloat16, ember.float16)
    """
    return _autocast.get_dtype(device_type)


def set_autocast_dtype(device_type, dtype) -> None:
    """Set the dtype autocast casts to on a device type (in this thread).

    Args:
        device_type (str): 'cpu' or 'cuda'.
        dtype (ember.dtype): the low precision (a name or a NumPy dtype works too).

    PyTorch:
        ``torch.set_autocast_dtype``; same semantics.

    Example:
        >>> ember.set_autocast_dtype("cpu", ember.float16)
        >>> ember.get_autocast_dtype("cpu")
        ember.float16
        >>> ember.set_autocast_dtype("cpu", ember.bfloat16)
    """
    _autocast.set_dtype(device_type, _dt.to_dtype(dtype))


def is_autocast_cache_enabled():
    """Return whether autocast keeps the low-precision copies of parameters it made
    within a region.

    Returns:
        bool: True unless turned off (by ``set_autocast_cache_enabled`` or ``autocast(cache_enabled=False)``).

    PyTorch:
        ``torch.is_autocast_cache_enabled``; same semantics.

    Example:
        >>> ember.is_autocast_cache_enabled()
        True
        >>> with ember.autocast("cpu", cache_enabled=False):
        ...     ember.is_autocast_cache_enabled()
        False
    """
    return _autocast.is_cache_enabled()


def set_autocast_cache_enabled(enabled) -> None:
    """Turn autocast's cache of low-precision parameter copies on or off.

    Args:
        enabled (bool): whether to cache them.

    PyTorch:
        ``torch.set_autocast_cache_enabled``; same semantics.

    Example:
        >>> ember.set_autocast_cache_enabled(False)
        >>> ember.is_autocast_cache_enabled()
        False
        >>> ember.set_autocast_cache_enabled(True)
    """
    _autocast.set_cache_enabled(enabled)


def clear_autocast_cache() -> None:
    """Drop autocast's cached low-precision parameter copies (the outermost region's exit does
    it too).

    PyTorch:
        ``torch.clear_autocast_cache``; same semantics.

    Example:
        >>> ember.clear_autocast_cache()
        >>> ember.is_autocast_cache_enabled()
        True
    """
    _autocast.clear_cache()


# --- custom autograd functions -----------------------------------------------------------------------------------

def _cast(value, device_type, dtype):
    """value with its eligible tensors (floating point, not float64, on device_type) cast to dtype; containers are
    rebuilt, strings and arrays pass through (torch.amp.autocast_mode._cast)."""
    if isinstance(value, Tensor):
        eligible = value.is_floating_point() and value.device.type == device_type and value.dtype is not _dt.float64
        return value.to(dtype) if eligible else value
    if isinstance(value, (str, bytes, np.ndarray)):
        return value
    if isinstance(value, collections.abc.Mapping):
        return {_cast(k, device_type, dtype): _cast(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, collections.abc.Iterable):
        iterable = (_cast(v, device_type, dtype) for v in value)
        return type(value)(iterable) if isinstance(value, (list, tuple)) else iterable
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorate the forward of an ``ember.autograd.Function`` for autocast.

    Inside an enabled autocast region, with ``cast_inputs`` its floating-point tensor arguments (float64 excepted)
    are cast to ``cast_inputs`` and it runs with autocast off; without ``cast_inputs`` it runs in the region's
    autocast state. Either way ``custom_bwd`` makes backward run in the state forward ran in. Put it under
    ``@staticmethod``.

    Args:
        fwd (callable, optional): the forward to decorate; None to get a decorator (``@custom_fwd(...)``).
            Default: None.
        device_type (str): 'cpu' or 'cuda' (keyword only).
        cast_inputs (ember.dtype, optional): the dtype to cast the inputs to. Default: None.

    Returns:
        callable: the decorated forward (or a decorator when fwd is None).

    PyTorch:
        ``torch.amp.custom_fwd``; same semantics.

    Example:
        >>> class Scale(ember.autograd.Function):
        ...     @staticmethod
        ...     @ember.amp.custom_fwd(device_type="cpu", cast_inputs=ember.float32)
        ...     def forward(ctx, a):
        ...         return a * 2
        ...     @staticmethod
        ...     @ember.amp.custom_bwd(device_type="cpu")
        ...     def backward(ctx, grad):
        ...         return grad * 2
        >>> x = ember.ones(2, dtype=ember.bfloat16, requires_grad=True)
        >>> with ember.autocast("cpu"):
        ...     y = Scale.apply(x)
        >>> y.dtype
        ember.float32
    """
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        args[0]._fwd_used_autocast = False
        if is_autocast_enabled(device_type):
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast(args, device_type, cast_inputs), **_cast(kwargs, device_type, cast_inputs))
        return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorate the backward of an ``ember.autograd.Function`` for autocast: it runs with the autocast
    state (enabled and dtype) its forward ran with.

    Use it with ``custom_fwd`` on the forward; put it under ``@staticmethod``.

    Args:
        bwd (callable, optional): the backward to decorate; None to get a decorator (``@custom_bwd(...)``).
            Default: None.
        device_type (str): 'cpu' or 'cuda' (keyword only).

    Returns:
        callable: the decorated backward (or a decorator when bwd is None).

    PyTorch:
        ``torch.amp.custom_bwd``; same semantics.

    Example:
        >>> class Scale(ember.autograd.Function):
        ...     @staticmethod
        ...     @ember.amp.custom_fwd(device_type="cpu", cast_inputs=ember.float32)
        ...     def forward(ctx, a):
        ...         return a * 2
        ...     @staticmethod
        ...     @ember.amp.custom_bwd(device_type="cpu")
        ...     def backward(ctx, grad):
        ...         return grad * 2
        >>> x = ember.ones(2, dtype=ember.bfloat16, requires_grad=True)
        >>> with ember.autocast("cpu"):
        ...     y = Scale.apply(x)
        >>> y.sum().backward()
        >>> x.grad
        tensor([2., 2.], dtype=ember.bfloat16)
    """
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        with autocast(device_type=device_type, enabled=args[0]._fwd_used_autocast, dtype=args[0]._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd
