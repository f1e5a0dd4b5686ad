"""torch.nn.modules.container: ember's classes under PyTorch's module path."""
from ..containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential  # noqa: F401
