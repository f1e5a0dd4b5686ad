"""Variable: PyTorch's pre-0.4 wrapper of tensors, kept for old programs (a tensor is a Variable)."""
from ..tensor import Tensor

__all__ = ["Variable"]


class _VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """Deprecated: ``Variable(tensor, requires_grad=False)`` returns a detached tensor of the same data (requiring
    grad when asked), and every tensor is an instance of Variable, as in PyTorch since 0.4.

    Args:
        data (Tensor): the tensor.
        requires_grad (bool): whether the result requires grad. Default: False.
        volatile (bool): ignored (removed in PyTorch 0.4). Default: False.

    PyTorch:
        ``torch.autograd.Variable``; same semantics.

    Example:
        >>> v = ember.autograd.Variable(ember.ones(2), requires_grad=True)
        >>> v.requires_grad, isinstance(ember.ones(1), ember.autograd.Variable)
        (True, True)
    """

    def __new__(cls, data: Tensor, requires_grad: bool = False, volatile: bool = False) -> Tensor:
        return data.detach().requires_grad_(requires_grad)
