"""Second derivatives of fused ops from their decompositions.

A fused op (layer norm, attention, an LSTM layer, ...) computes its forward and its gradient on arrays; its gradient
is a gradient node, an op of its own (Chainer's pattern). The gradient node's backward, the second derivative, is
rarely worth hand-writing: ``vjp_backward`` gets it by differentiating the op's decomposition (the same function
written with ember ops) twice. The decomposition is the op's meaning; the arrays are how it runs fast.
"""
from ..autograd import Node, enable_grad, grad, is_grad_enabled
from ..autograd.graph import apply
from ..tensor import Tensor
from .meta import same_as
from .registry import register

__all__ = ["Alias", "vjp_backward"]


@register
class Alias(Node):
    """Identity (a new graph node over the same array): differentiating with respect to an alias of x gives the
    partial derivative with respect to x, and the result stays connected to x's history."""

    saves = ()
    is_view = True

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        return a

    def backward(self, g):
        return (g,)


def _local(x, create):
    """x as a tensor to differentiate with respect to: an alias that keeps x's history when the result must be
    differentiable again (create_graph), else a detached leaf."""
    if create and x.requires_grad:
        return apply(Alias(), x)
    return x.detach().requires_grad_()


def vjp_backward(decomposition, inputs, grads, grad_grads):
    """The backward of the gradient node of an op, from the op's decomposition.

    The gradient node maps (inputs, grads) to vjp: one gradient per input, of the op's outputs (weighted by grads)
    with respect to that input (None for inputs that are not floating-point tensors). Given grad_grads (the
    gradient node's output gradients: one per input, None where none arrived), this returns the gradients of
    sum(grad_grads * vjp) with respect to inputs and then grads: a tuple with one entry per input and per grad
    (None for those that are not floating-point tensors or get nothing). The results are part of the graph when
    grad mode is on (a create_graph backward).
    """
    create = is_grad_enabled()
    with enable_grad():
        xs = [_local(x, create) if _differentiable(x) else x for x in inputs]
        gs = [_local(g, create) if _differentiable(g) else g for g in grads]
        out = decomposition(*xs)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        wrt = [(x, gg) for x, gg in zip(xs, grad_grads) if _differentiable(x)]
        pairs = [(o, g) for o, g in zip(outs, gs) if g is not None and o.requires_grad]
        vjp = grad([o for o, _ in pairs], [x for x, _ in wrt], [g for _, g in pairs], create_graph=True,
                   allow_unused=True)
        terms = [(v, gg) for v, (_, gg) in zip(vjp, wrt) if v is not None and gg is not None and v.requires_grad]
        targets = [x for x, _ in wrt] + [g for g in gs if _differentiable(g)]
        if not terms:
            found = [None] * len(targets)
        else:
            found = grad([v for v, _ in terms], targets, [gg for _, gg in terms], create_graph=create,
                         allow_unused=True)
    by_id = dict(zip(map(id, targets), found))
    return tuple(by_id.get(id(t)) for t in xs + gs)


def _differentiable(x):
    return isinstance(x, Tensor) and x.is_floating_point()
