"""Type aliases of ember's annotations, as torch.types: ``Number``, ``Device``, ``FileLike`` and the size argument.

Only the device class is imported here, so any module of ember can use these aliases at run time.
"""
import os
from typing import IO, TypeAlias

from .device import device as _device

__all__ = ["Number", "Device", "FileLike"]

Number: TypeAlias = int | float | bool
Device: TypeAlias = _device | str | None  # ember.device("cuda:0"), "cpu", or None for the default
FileLike: TypeAlias = str | os.PathLike[str] | IO[bytes]

# A shape: ints as a list or a tuple (ember.Size is a tuple).
_size: TypeAlias = list[int] | tuple[int, ...]
# A kernel size, stride, padding or dilation: one int for every spatial dimension, or one per dimension.
_size_any_t: TypeAlias = int | tuple[int, ...]
