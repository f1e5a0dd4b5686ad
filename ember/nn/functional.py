"""ember.nn.functional: the functional forms of every layer (PyTorch's torch.nn.functional).

Each function is defined once in ember/ops and registered there; this module publishes the registry's names."""
import typing as _typing

from ..ops.registry import FUNCTIONAL as _FUNCTIONAL, namespace as _namespace

globals().update(_namespace(_FUNCTIONAL))

if _typing.TYPE_CHECKING:  # the registry's functions, which type checkers see as Any
    def __getattr__(name: str) -> _typing.Any: ...
