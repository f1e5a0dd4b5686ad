"""Every operation, registered once (see registry): forward on xp arrays, gradient as ops, a shape rule.

Importing this package imports every op module, so the registry is complete; Tensor then gets its methods from it.
"""
from ..tensor import Tensor
from . import registry
from . import _broadcast, creation, copy, compare, ternary, unary, arith, reduce, cumulative  # noqa: F401
from . import shape, join, rearrange  # noqa: F401
from . import index, linalg, random, conv, pooling, resample, padding  # noqa: F401

registry.install_methods(Tensor)
