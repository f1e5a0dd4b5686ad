"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay (PyTorch's SGD)."""
from __future__ import annotations

from .._sparse import SparseCOO
from ._checks import check_nonnegative
from ._sparse_grads import scaled
from .optimizer import Optimizer, ParamsT, required

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, dampening, Nesterov momentum and weight decay.

    Each step: ``g = grad + weight_decay * p``; with momentum, ``buf = momentum * buf + (1 - dampening) * g``
    (``buf = g`` at the first step) and ``g = buf`` (``g + momentum * buf`` with nesterov); then ``p -= lr * g``.
    A sparse gradient (``nn.Embedding(sparse=True)``) changes the rows it holds only, its momentum buffer sparse
    too (the rows it has held); weight_decay then raises, as in PyTorch.

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float): the learning rate. Default: 1e-3.
        momentum (float): the momentum factor. Default: 0.
        dampening (float): the dampening of the momentum. Default: 0.
        weight_decay (float): the L2 penalty added to the gradient. Default: 0.
        nesterov (bool): Nesterov momentum (needs momentum > 0 and zero dampening). Default: False.
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        ``torch.optim.SGD``; the same update and defaults. No ``foreach``, ``differentiable`` or ``fused``
        arguments, and ``lr`` is a number (not a tensor); a NaN ``lr`` raises ValueError where PyTorch accepts it.

    Example:
        >>> w = nn.Parameter(ember.tensor([1.0]))
        >>> opt = ember.optim.SGD([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([0.8000], requires_grad=True)
    """
    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        if lr is not required:  # torch tests `lr < 0.0` here, which lets NaN through; ember refuses it
            check_nonnegative(lr=lr)
        check_nonnegative(momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, group, p, grad, state):
        wd, momentum = group["weight_decay"], group["momentum"]
        if wd:
            grad = grad + wd * p
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                if buf.__class__ is SparseCOO:  # after sparse gradients
                    buf = state["momentum_buffer"] = buf.to_dense()
                buf *= momentum
                buf += (1 - group["dampening"]) * grad if group["dampening"] else grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p -= group["lr"] * grad

    def _sparse_update(self, group, p, grad, state):
        if group["weight_decay"]:
            raise RuntimeError("SGD: weight_decay is not supported with sparse gradients (PyTorch: add(sparse, "
                               "dense) is not supported)")
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            damped = scaled(grad, 1 - group["dampening"]) if group["dampening"] else grad
            if buf is None:
                buf = grad.copy()
            elif buf.__class__ is SparseCOO:
                buf = (scaled(buf, momentum) + damped).coalesce()
            else:  # a dense buffer from dense gradients
                buf *= momentum
                damped.add_into(buf)
            state["momentum_buffer"] = buf
            if group["nesterov"]:
                grad = grad + (scaled(buf, momentum) if buf.__class__ is SparseCOO else momentum * buf)
            else:
                grad = buf
        if grad.__class__ is SparseCOO:
            scaled(grad, -group["lr"]).add_into(p)
        else:
            p -= group["lr"] * grad
