"""Every differentiable operation, defined once: forward on xp arrays, backward with ember ops.

Each module binds its functions onto Tensor as methods (see ``_bind``)."""
from . import creation, elementwise, reduce, shape, index, linalg, random, conv  # noqa: F401  (binds Tensor methods)
