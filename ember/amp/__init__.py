"""Automatic mixed precision, as torch.amp: ``autocast`` (regions where matmul-like ops run in bfloat16 or float16)
and ``GradScaler`` (loss scaling). What each does on a machine without a GPU is in their modules' docstrings."""
from .autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available  # noqa: F401
from .autocast_mode import (  # noqa: F401  (torch has these at the top level: ember re-exports them there too)
    clear_autocast_cache, get_autocast_dtype, is_autocast_cache_enabled, is_autocast_enabled,
    set_autocast_cache_enabled, set_autocast_dtype, set_autocast_enabled,
)
from .grad_scaler import GradScaler  # noqa: F401

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available", "GradScaler"]
