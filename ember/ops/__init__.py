"""Every operation, registered once (see registry): forward on xp arrays, gradient as ops, a shape rule.

Importing this package imports every op module, so the registry is complete; Tensor then gets its methods from it.
"""
from ..tensor import Tensor
from . import registry
from . import _broadcast, decompose, creation, random, copy  # noqa: F401
from . import arith, unary, compare, ternary  # noqa: F401  (elementwise)
from . import reduce, cumulative, shape, join, rearrange, index, linalg, linear  # noqa: F401
from . import conv, pooling, resample, padding  # noqa: F401
from . import activation, dropout, embedding, distance, loss, ctc, norm, attention, rnn  # noqa: F401
from . import sort, grid, fold, pixel_shuffle, sampling  # noqa: F401
from . import conv3d, pooling3d  # noqa: F401  (3-D, made of the 2-D ops)
from . import search, matrix, linalg_decomp, special  # noqa: F401
from . import sparse  # noqa: F401

registry.install_methods(Tensor)
