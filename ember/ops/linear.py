"""Layer ops: linear (one fused node, the hot path of every MLP, whose gradient is the node LinearGrad) and bilinear
(a composite of matmul, mul and sum)."""
from ..autograd import Node
from ..autograd.graph import apply
from . import _autocast
from ._broadcast import broadcast_to
from ._checks import check_tensor, same_device, same_dtype
from .meta import TensorMeta
from .registry import export, register


@register
class Linear(Node):
    """y = x @ W.T + b in one node; x may have any number of leading dimensions. Its gradient is LinearGrad."""

    @property
    def saves(self):  # x is read only for W's gradient and W only for x's; b never
        need = self.needs_input_grad
        return (1,) * need[0] + (0,) * need[1]

    def infer(self, x, w, b=None):
        return TensorMeta(x.shape[:-1] + w.shape[:1], x.dtype)

    def forward(self, xp, x, w, b=None):
        self.x_shape = xs = x.shape
        if x.ndim == 2:
            out = xp.matmul(x, w.T)
        elif x.ndim == 1:
            out = xp.matmul(w, x)
        else:  # one big GEMM instead of a batched one
            out = xp.matmul(x.reshape(-1, xs[-1]), w.T).reshape(xs[:-1] + (w.shape[0],))
        if out.dtype != x.dtype:  # ml_dtypes' bfloat16 multiplies into float32
            out = out.astype(x.dtype)
        if b is not None:
            self.b_shape = b.shape
            out += b
        return out

    def backward(self, g):
        need = self.needs_input_grad
        node = LinearGrad(need, self.x_shape, self.b_shape if len(need) > 2 else None)
        return apply(node, g, self.inputs[0], self.inputs[1])[:len(need)]


@register
class LinearGrad(Node):
    """The gradients of y = x @ W.T + b: (gx, gw, gb) = (g @ W, g.T @ x, g summed over rows), each None where it is
    not needed (need: Linear's needs_input_grad; x is None when gw is not needed, w when gx is not).

    Its backward, the second derivative: given (ggx, ggw, ggb), the gradient of <ggx, gx> + <ggw, gw> + <ggb, gb>
    is linear(ggx, W) + linear(x, ggw, ggb) for g, g @ ggw for x and g.T @ ggx for W: the last two are this node
    again, with (ggx, ggw) in the places of (x, W).
    """

    n_outputs = 3

    def __init__(self, need, x_shape, b_shape=None):
        self.need = tuple(need) + (False,) * (3 - len(need))
        self.x_shape, self.b_shape = tuple(x_shape), b_shape

    def infer(self, g, x, w):
        nx, nw, nb = self.need
        return (TensorMeta(self.x_shape, g.dtype) if nx else None,
                TensorMeta(g.shape[-1:] + x.shape[-1:], g.dtype) if nw else None,
                TensorMeta(tuple(self.b_shape), g.dtype) if nb else None)

    def forward(self, xp, g, x, w):
        nx, nw, nb = self.need
        xs = self.x_shape
        g2 = g if len(xs) == 2 else g.reshape(-1, g.shape[-1])
        gx = gw = gb = None
        if nx:
            gx = g2 @ w
            if len(xs) != 2:
                gx = gx.reshape(xs)
        if nw:
            gw = g2.T @ (x if len(xs) == 2 else x.reshape(-1, xs[-1]))
        if nb:
            # a matrix-vector product (BLAS) sums the rows several times faster than a NumPy reduction
            s = g2.sum(0) if g2.dtype.kind not in "fc" else xp.ones(g2.shape[0], g2.dtype) @ g2
            gb = s if s.shape == self.b_shape else s.sum(keepdims=True).reshape(self.b_shape)
        if g.dtype.kind == "V":  # ml_dtypes' bfloat16 multiplies into float32
            return tuple(None if a is None else a.astype(g.dtype) for a in (gx, gw, gb))
        return gx, gw, gb

    def backward(self, ggx, ggw, ggb):
        g, x, w = self.inputs
        ng, nx, nw = self.needs_input_grad
        dg = dx = dw = None
        if ng:
            if ggx is not None:
                dg = linear(ggx, w, ggb if ggw is None else None)
            if ggw is not None:
                dg = linear(x, ggw, ggb) if dg is None else dg + linear(x, ggw, ggb)
            if dg is None and ggb is not None:
                dg = broadcast_to(ggb, g._data.shape)
        want_x, want_w = nx and ggw is not None, nw and ggx is not None
        if want_x or want_w:
            dx, dw, _ = apply(LinearGrad((want_x, want_w), self.x_shape), g, ggx, ggw)
        return dg, dx, dw


def _linear_error(input, weight, bias):
    """Diagnose bad linear() arguments (called only when the fast checks fail)."""
    check_tensor(input, "linear")
    check_tensor(weight, "linear", "weight")
    if bias is not None:
        check_tensor(bias, "linear", "bias")
    xs, ws = tuple(input.shape), tuple(weight.shape)
    if len(ws) != 2:
        return RuntimeError(f"linear: weight must be 2-D (out_features, in_features), got shape {ws}")
    if len(xs) == 0 or xs[-1] != ws[1]:
        return RuntimeError(f"linear: input of shape {xs} and weight of shape {ws} cannot be multiplied "
                            f"({xs[-1] if xs else 'scalar'} != {ws[1]})")
    for t, name in ((weight, "weight"), (bias, "bias")):
        if t is not None:
            same_dtype(input, t, "linear", b_name=name)
            same_device(input, t, "linear")
    if bias is not None and tuple(bias.shape) not in ((ws[0],), (), (1,)):
        return RuntimeError(f"linear: bias of shape {tuple(bias.shape)} does not match out_features {ws[0]}")
    return None


@export(Linear, ember=False, functional=True)
def linear(input, weight, bias=None):
    """Apply an affine map to the last dimension of ``input``: ``input @ weight.T + bias``.

    Args:
        input (Tensor): the input, its last dimension of size in_features.
        weight (Tensor): the (out_features, in_features) matrix, of ``input``'s dtype and device.
        bias (Tensor, optional): the (out_features,) offset, of ``input``'s dtype. Default: None.

    Returns:
        Tensor: the result, of ``input``'s dtype.

    Shape:
        - Input: (*, in_features), any number of leading dimensions.
        - Weight: (out_features, in_features).
        - Bias: (out_features,) or ().
        - Output: (*, out_features).

    PyTorch:
        ``torch.nn.functional.linear``; same semantics (under autocast it runs in the low precision, as PyTorch's).

    Example:
        >>> F.linear(ember.ones(2, 3), ember.ones(4, 3), ember.zeros(4))
        tensor([[3., 3., 3., 3.],
                [3., 3., 3., 3.]])
        >>> F.linear(ember.ones(5, 2, 3), ember.ones(4, 3)).shape
        ember.Size([5, 2, 4])
    """
    if _autocast.active:
        input, weight, bias = _autocast.cast(input, weight, bias)
    try:
        xd, wd = input._data, weight._data
        ok = (wd.ndim == 2 and xd.ndim and xd.shape[-1] == wd.shape[1] and xd.dtype == wd.dtype
              and xd.__class__ is wd.__class__)
        if bias is not None:
            bd = bias._data
            ok = ok and bd.dtype == xd.dtype and bd.__class__ is xd.__class__ and bd.shape in ((wd.shape[0],), ())
    except AttributeError:
        ok = False
    if not ok:
        err = _linear_error(input, weight, bias)
        if err is not None:
            raise err
    if bias is None:
        return apply(Linear(), input, weight)
    return apply(Linear(), input, weight, bias)


@export(ember=False, functional=True)
def bilinear(input1, input2, weight, bias=None):
    """Apply a bilinear map to two inputs: ``y[..., k] = sum_ij x1[..., i] weight[k, i, j] x2[..., j] + bias[k]``.

    x1 is ``input1`` and x2 ``input2``.

    Args:
        input1 (Tensor): the first input, (*, in1_features).
        input2 (Tensor): the second input, (*, in2_features), with ``input1``'s leading dimensions and dtype.
        weight (Tensor): the (out_features, in1_features, in2_features) tensor.
        bias (Tensor, optional): the (out_features,) offset. Default: None.

    Returns:
        Tensor: the result.

    Shape:
        - Input1: (*, in1_features), at least 1-d.
        - Input2: (*, in2_features), the same leading dimensions.
        - Weight: (out_features, in1_features, in2_features).
        - Output: (*, out_features).

    PyTorch:
        ``torch.nn.functional.bilinear``; same semantics.

    Example:
        >>> F.bilinear(ember.tensor([[1.0, 2.0]]), ember.tensor([[3.0]]), ember.ones(1, 2, 1), ember.tensor([1.0]))
        tensor([[10.]])
        >>> F.bilinear(ember.ones(2, 3), ember.ones(2, 4), ember.ones(5, 3, 4)).shape
        ember.Size([2, 5])
    """
    for t, name in ((input1, "input1"), (input2, "input2"), (weight, "weight")):
        check_tensor(t, "bilinear", name)
    s1, s2, ws = tuple(input1.shape), tuple(input2.shape), tuple(weight.shape)
    if len(ws) != 3:
        raise RuntimeError(f"bilinear(): weight must be three-dimensional, got shape {ws}")
    if len(s1) != len(s2) or len(s1) == 0:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {len(s1)} and {len(s2)} "
                           f"(shapes {s1} and {s2})")
    if s1[:-1] != s2[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {s1[:-1]} and {s2[:-1]}")
    if s1[-1] != ws[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {s1[-1]} but expected "
                           f"{ws[1]} (input1 {s1}, weight {ws})")
    if s2[-1] != ws[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {s2[-1]} but expected "
                           f"{ws[2]} (input2 {s2}, weight {ws})")
    if bias is not None:
        check_tensor(bias, "bilinear", "bias")
        if tuple(bias.shape) != (ws[0],):
            raise RuntimeError(f"bilinear(): bias size does not match weight size: got {tuple(bias.shape)} but "
                               f"expected ({ws[0]},)")
    for t, name in ((input2, "input2"), (weight, "weight"), (bias, "bias")):
        if t is not None:
            same_dtype(input1, t, "bilinear", "input1", name)
    k, i, j = ws
    x1 = input1.reshape(-1, i)
    x2 = input2.reshape(-1, 1, j)
    # (N, I) @ (I, K*J) -> (N, K, J); times x2 and summed over J -> (N, K)
    t = (x1 @ weight.permute(1, 0, 2).reshape(i, k * j)).reshape(-1, k, j)
    out = (t * x2).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(s1[:-1] + (k,))
