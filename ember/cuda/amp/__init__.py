"""torch.cuda.amp's deprecated names: ``autocast(...)`` is ``ember.amp.autocast("cuda", ...)`` and ``GradScaler(...)``
``ember.amp.GradScaler("cuda", ...)``, each with PyTorch's FutureWarning. Without a GPU they then warn that CUDA is
not available and do nothing (see ember.amp)."""
import functools
import warnings

from ...amp import autocast_mode as _autocast_mode, grad_scaler as _grad_scaler
from ...device import cuda_available
from ... import dtypes as _dt

__all__ = ["amp_definitely_not_available", "autocast", "custom_bwd", "custom_fwd", "GradScaler"]


def amp_definitely_not_available():
    """True when there is no GPU to run CUDA autocast on."""
    return not cuda_available()


def _deprecated(old, new):
    warnings.warn(f"`ember.cuda.amp.{old}(args...)` is deprecated. Please use `ember.amp.{new}` instead.",
                  FutureWarning, stacklevel=3)


class autocast(_autocast_mode.autocast):
    """``ember.cuda.amp.autocast(enabled=True, dtype=ember.float16, cache_enabled=True)``: deprecated, see
    ember.amp.autocast."""

    def __init__(self, enabled=True, dtype=_dt.float16, cache_enabled=True):
        _deprecated("autocast", "autocast('cuda', args...)")
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class GradScaler(_grad_scaler.GradScaler):
    """``ember.cuda.amp.GradScaler(init_scale=2.**16, ...)``: deprecated, see ember.amp.GradScaler."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        _deprecated("GradScaler", "GradScaler('cuda', args...)")
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor, backoff_factor=backoff_factor,
                         growth_interval=growth_interval, enabled=enabled)


def custom_fwd(fwd=None, *, cast_inputs=None):
    """Deprecated: ``ember.amp.custom_fwd(device_type='cuda')``."""
    _deprecated("custom_fwd", "custom_fwd(args..., device_type='cuda')")
    return functools.partial(_autocast_mode.custom_fwd, device_type="cuda")(fwd=fwd, cast_inputs=cast_inputs)


def custom_bwd(bwd):
    """Deprecated: ``ember.amp.custom_bwd(device_type='cuda')``."""
    _deprecated("custom_bwd", "custom_bwd(args..., device_type='cuda')")
    return functools.partial(_autocast_mode.custom_bwd, device_type="cuda")(bwd)
