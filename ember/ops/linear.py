"""Layer ops: linear (one fused node, the hot path of every MLP) and bilinear."""
from ..autograd import Node, is_grad_enabled
from ..device import get_array_module
from ..autograd.graph import apply
from ..tensor import Tensor
from ._broadcast import sum_to
from ._checks import check_tensor, same_device, same_dtype

__all__ = ["linear", "bilinear"]


class Linear(Node):
    """y = x @ W.T + b in one node; x may have any number of leading dimensions."""

    @property
    def saves(self):  # x is read only for W's gradient and W only for x's; b never
        need = self.needs_input_grad
        return (1,) * need[0] + (0,) * need[1]

    def forward(self, xp, x, w, b=None):
        self.x_shape = xs = x.shape
        if x.ndim == 2:
            out = xp.matmul(x, w.T)
        elif x.ndim == 1:
            out = xp.matmul(w, x)
        else:  # one big GEMM instead of a batched one
            out = xp.matmul(x.reshape(-1, xs[-1]), w.T).reshape(xs[:-1] + (w.shape[0],))
        if b is not None:
            self.b_shape = b.shape
            out += b
        return out

    def backward(self, g):
        if not is_grad_enabled():  # plain backward (no create_graph): nothing to record, so work on the arrays
            return self._backward_arrays(g.data)
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        xs = self.x_shape
        g2 = g if len(xs) == 2 else g.reshape(-1, g.data.shape[-1])
        gx = gw = gb = None
        if need[0]:
            gx = g2 @ w
            if len(xs) != 2:
                gx = gx.reshape(xs)
        if need[1]:
            x2 = x if len(xs) == 2 else x.reshape(-1, xs[-1])
            gw = g2.mT @ x2
        if len(need) > 2 and need[2]:
            gb = sum_to(g, self.b_shape)
        return (gx, gw, gb)[:len(need)]

    def _backward_arrays(self, g):
        need = self.needs_input_grad
        xs = self.x_shape
        g2 = g if len(xs) == 2 else g.reshape(-1, g.shape[-1])
        gx = gw = gb = None
        if need[0]:
            a = g2 @ self.inputs[1].data
            gx = Tensor._wrap(a if len(xs) == 2 else a.reshape(xs))
        if need[1]:
            x = self.inputs[0].data
            gw = Tensor._wrap(g2.T @ (x if len(xs) == 2 else x.reshape(-1, xs[-1])))
        if len(need) > 2 and need[2]:
            # a matrix-vector product (BLAS) sums the rows several times faster than a NumPy reduction
            s = g2.sum(0) if g2.dtype.kind not in "fc" else get_array_module(g2).ones(g2.shape[0], g2.dtype) @ g2
            gb = Tensor._wrap(s if s.shape == self.b_shape else s.sum(keepdims=True).reshape(self.b_shape))
        return (gx, gw, gb)[:len(need)]


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


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias, with input of shape (*, in_features) and weight (out_features, in_features)."""
    try:
        xd, wd = input.data, weight.data
        ok = (wd.ndim == 2 and xd.ndim and xd.shape[-1] == wd.shape[1] and xd.dtype == wd.dtype
              and xd.__class__ is wd.__class__)
        if bias is not None:
            bd = bias.data
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


def bilinear(input1, input2, weight, bias=None):
    """y[..., k] = sum_ij input1[..., i] * weight[k, i, j] * input2[..., j] + bias[k].

    Written with matmul, mul and sum, so every order of derivative comes for free.
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
