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
    """Whether ember can autocast on this device type ('cpu', 'cuda'), as torch.amp.is_autocast_available."""
    return device_type in _autocast.DEVICE_TYPES


class autocast:
    """Run the region (a ``with`` block, or a decorated function) with autocast on for ``device_type``.

    ``autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``, as torch.autocast: dtype defaults to
    bfloat16 on 'cpu' and float16 on 'cuda'; ``enabled=False`` turns autocast off inside an enabled region. ::

        model = ember.nn.Linear(4, 3)
        with ember.autocast("cpu", dtype=ember.bfloat16):
            y = model(ember.randn(2, 4))
        assert y.dtype == ember.bfloat16 and model.weight.dtype == ember.float32
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
    """Whether autocast is on in this thread for device_type (CUDA's when not given, as in PyTorch)."""
    return _autocast.is_enabled("cuda" if device_type is None else device_type)


def set_autocast_enabled(device_type, enabled=None):
    """Turn autocast on or off for device_type in this thread (``set_autocast_enabled(True)`` means CUDA)."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _autocast.set_enabled(device_type, enabled)


def get_autocast_dtype(device_type):
    """The dtype autocast uses on device_type (bfloat16 on 'cpu', float16 on 'cuda' unless set)."""
    return _autocast.get_dtype(device_type)


def set_autocast_dtype(device_type, dtype):
    """Set the dtype autocast uses on device_type ('cpu' or 'cuda'): torch.set_autocast_dtype."""
    _autocast.set_dtype(device_type, _dt.to_dtype(dtype))


def is_autocast_cache_enabled():
    """Whether autocast keeps the low-precision copies of parameters it made within a region (torch.is_autocast_cache_enabled)."""
    return _autocast.is_cache_enabled()


def set_autocast_cache_enabled(enabled):
    """Turn autocast's cache of low-precision parameter copies on or off (torch.set_autocast_cache_enabled)."""
    _autocast.set_cache_enabled(enabled)


def clear_autocast_cache():
    """Drop autocast's cached low-precision parameter copies (torch.clear_autocast_cache)."""
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
    """Decorator for the forward of an ``ember.autograd.Function``: with cast_inputs, inside an autocast region its
    floating-point tensor arguments are cast to cast_inputs and it runs with autocast off (torch.amp.custom_fwd)."""
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
    """Decorator for the backward of an ``ember.autograd.Function``: it runs with the autocast state its forward
    ran with (torch.amp.custom_bwd)."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        with autocast(device_type=device_type, enabled=args[0]._fwd_used_autocast, dtype=args[0]._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd
