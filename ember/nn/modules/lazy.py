"""torch.nn.modules.lazy: ember's LazyModuleMixin under PyTorch's module path."""
from ..lazy import LazyModuleMixin

__all__ = ["LazyModuleMixin"]
