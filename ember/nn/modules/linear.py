"""torch.nn.modules.linear: ember's classes under PyTorch's module path."""
from ..attention import NonDynamicallyQuantizableLinear  # noqa: F401
from ..linear import Bilinear, Identity, Linear  # noqa: F401
from ..lazy import LazyLinear  # noqa: F401
