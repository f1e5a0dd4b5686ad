"""Running (cumulative) reductions along one dimension: cumsum and cumprod. Their gradients are running sums in the
other direction."""
from ..autograd import Node
from ..autograd.graph import apply
from ..device import get_array_module
from ..tensor import Tensor
from ._checks import check_tensor
from .meta import same_as
from .reduce import accumulate_dtype, one_dim
from .registry import export, register
from .ternary import where


@register
class Cumsum(Node):
    saves = ()

    def __init__(self, dim, reverse=False):
        self.dim, self.reverse = dim, reverse

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        d = self.dim
        # float16/bfloat16 sums run in float32, rounded once at the end, as PyTorch's CPU kernel does
        acc = xp.float32 if a.dtype.kind in "fV" and a.dtype.itemsize < 4 else a.dtype
        if self.reverse:
            out = xp.flip(xp.cumsum(xp.flip(a, axis=d), axis=d, dtype=acc), axis=d)
        else:
            out = xp.cumsum(a, axis=d, dtype=acc)
        return out if out.dtype == a.dtype else out.astype(a.dtype)

    def backward(self, g):
        return (apply(Cumsum(self.dim, not self.reverse), g),)


@export(Cumsum, methods=("cumsum",))
def cumsum(input, dim, dtype=None):
    """The running sum of input along dim: element i is the sum of elements 0..i.

    Bool and integer inputs sum as int64 (unless dtype is given); float16 and bfloat16 accumulate in float32.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dimension to sum along.
        dtype (ember.dtype, optional): the dtype input is converted to before summing. Default: None.

    Returns:
        Tensor: of input's shape.

    PyTorch:
        ``torch.cumsum`` and ``Tensor.cumsum``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.cumsum(ember.tensor([1, 2, 3]), dim=0)
        tensor([1, 3, 6])
        >>> ember.tensor([[1.0, 2.0], [3.0, 4.0]]).cumsum(1)
        tensor([[1., 3.],
                [3., 7.]])
    """
    return _running(Cumsum, input, dim, dtype, "cumsum")


def _running(node_cls, input, dim, dtype, op):
    """node_cls(dim) applied to input in its accumulation dtype (a 0-d input as one element)."""
    check_tensor(input, op)
    d = one_dim(input, dim, op)
    input = accumulate_dtype(input, dtype)
    if input._data.ndim == 0:
        return apply(node_cls(0), input.reshape(1)).reshape(())
    return apply(node_cls(d), input)


@register
class Cumprod(Node):
    saves = (0,)
    saves_output = True

    def __init__(self, dim):
        self.dim = dim

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        self.out = xp.cumprod(a, axis=self.dim, dtype=a.dtype)
        return self.out

    def backward(self, g):
        # grad_i = sum_{k >= i} g_k prod_{j <= k, j != i} x_j = revcumsum(g y)_i / x_i when x has no zeros.
        x, d = self.inputs[0], self.dim
        y = self.saved_output()
        zero = x._data == 0
        if not zero.any():
            return (apply(Cumsum(d, True), g * y) / x,)
        # With zeros, per slice with first zero at z: before z the formula above holds (later terms vanish);
        # at z it is revcumsum(g y') with y' the cumprod of x with x_z replaced by 1; after z every term is 0.
        xp = get_array_module(x._data)
        n = x._data.shape[d]
        pos = xp.arange(n).reshape([-1 if i == d else 1 for i in range(x._data.ndim)])
        first = xp.where(zero.any(axis=d, keepdims=True), xp.argmax(zero, axis=d, keepdims=True), n)
        before, at = Tensor._wrap(pos < first), Tensor._wrap(pos == first)
        g_before = apply(Cumsum(d, True), g * y) / where(before, x, 1.0)
        g_at = apply(Cumsum(d, True), g * cumprod(where(at, 1.0, x), d))
        return (where(before, g_before, where(at, g_at, 0.0)),)


@export(Cumprod, methods=("cumprod",))
def cumprod(input, dim, dtype=None):
    """The running product of input along dim: element i is the product of elements 0..i.

    Bool and integer inputs multiply as int64 (unless dtype is given). The gradient is exact where input has zeros.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dimension to multiply along.
        dtype (ember.dtype, optional): the dtype input is converted to before multiplying. Default: None.

    Returns:
        Tensor: of input's shape.

    PyTorch:
        ``torch.cumprod`` and ``Tensor.cumprod``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.cumprod(ember.tensor([1.0, 2.0, 3.0]), dim=0)
        tensor([1., 2., 6.])
    """
    return _running(Cumprod, input, dim, dtype, "cumprod")
