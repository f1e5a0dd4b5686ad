"""broadcast_to and its adjoint sum_to: the pair every broadcasting op uses for its gradient."""
from ..autograd import Node
from ..tensor import apply


class BroadcastTo(Node):
    saves = ()
    is_view = True

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, xp, a):
        self.in_shape = a.shape
        try:
            return xp.broadcast_to(a, self.shape)
        except ValueError:
            raise RuntimeError(f"expand: the shape {tuple(a.shape)} cannot be expanded to {self.shape} (a dimension "
                               "of size other than 1 must match, and new dimensions go in front)") from None

    def backward(self, g):
        return (sum_to(g, self.in_shape),)


class SumTo(Node):
    saves = ()

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, xp, a):
        self.in_shape = a.shape
        lead = a.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(self.shape) if s == 1 and a.shape[lead + i] != 1)
        out = a.sum(axis=axes, keepdims=True) if axes else a
        if lead:
            out = out.reshape(self.shape)
        return out

    def backward(self, g):
        return (broadcast_to(g, self.in_shape),)


def broadcast_to(t, shape):
    """A read-only view of t expanded to shape (no copy)."""
    shape = tuple(shape)
    if tuple(t.data.shape) == shape:
        return t
    return apply(BroadcastTo(shape), t)


def sum_to(t, shape):
    """Sum t over the dimensions that broadcasting added or stretched, giving a tensor of shape."""
    if tuple(t.data.shape) == tuple(shape):
        return t
    return apply(SumTo(shape), t)
