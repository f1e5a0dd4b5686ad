"""Linear algebra: matmul/@, mm, bmm, mv, dot, outer, einsum."""
from ..autograd import Node
from ..tensor import Tensor, apply
from ._broadcast import sum_to
from ._util import bind

__all__ = ["matmul"]


class Matmul(Node):
    def forward(self, xp, a, b):
        return xp.matmul(a, b)

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (g @ b.mT if na else None, a.mT @ g if nb else None)


def matmul(input, other):
    """Matrix product with NumPy/PyTorch semantics (2-D only in this draft)."""
    return apply(Matmul(), input, other)


bind(matmul=matmul, __matmul__=matmul, mT=property(lambda self: self.transpose(-2, -1)))
