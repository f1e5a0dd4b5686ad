"""Indexing: __getitem__/__setitem__, gather/scatter, index_select, masked_fill/select, nonzero."""
from ..autograd import Node
from ..tensor import Tensor, apply
from ._util import bind

__all__ = []


class SelectBackward(Node):
    saves = ()

    def __init__(self, shape, dim, index):
        self.shape, self.dim, self.index = shape, dim, index

    def forward(self, xp, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        out[(slice(None),) * self.dim + (self.index,)] = g
        return out

    def backward(self, gg):
        from .shape import Select
        return (apply(Select(self.dim, self.index), gg),)


def select_backward(g, shape, dim, index):
    """The gradient of selecting index along dim: g placed into zeros of the input's shape."""
    return apply(SelectBackward(shape, dim, index), g)
