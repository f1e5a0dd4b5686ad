"""ember.nn.functional: the functional forms of every layer (PyTorch's torch.nn.functional).

Each function is defined once in ember/ops and registered there; this module publishes the registry's names."""
from ..ops.registry import FUNCTIONAL as _FUNCTIONAL, namespace as _namespace

globals().update(_namespace(_FUNCTIONAL))
