"""RMSprop, Adagrad, Adadelta, Rprop, ASGD and Lion, with PyTorch's update formulas (Lion: Chen et al. 2023)."""
from __future__ import annotations

import numpy as np

from ..device import get_array_module
from ._checks import check_betas, check_nonnegative
from ._sparse_grads import rows_at
from .optimizer import Optimizer, ParamsT

__all__ = ["RMSprop", "Adagrad", "Adadelta", "Rprop", "ASGD", "Lion"]


class RMSprop(Optimizer):
    """RMSprop: each gradient divided by the running root mean square of the past gradients.

    ``v = alpha * v + (1 - alpha) * g**2`` and ``p -= lr * g / (sqrt(v) + eps)``; centered subtracts the squared
    running mean of the gradients from ``v``; momentum keeps a buffer of those steps.

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float): the learning rate. Default: 1e-2.
        alpha (float): the smoothing constant of the running average. Default: 0.99.
        eps (float): added to the denominator for numerical stability. Default: 1e-8.
        weight_decay (float): the L2 penalty added to the gradient. Default: 0.
        momentum (float): the momentum factor. Default: 0.
        centered (bool): normalize by an estimate of the gradient's variance. Default: False.
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        ``torch.optim.RMSprop``; the same update and defaults. No ``capturable``, ``foreach`` or ``differentiable``
        arguments; ``maximize`` is keyword-only; ``lr`` is a number, not a tensor.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> opt = ember.optim.RMSprop(model.parameters(), lr=1e-2, momentum=0.9)
        >>> model(ember.ones(3, 2)).sum().backward(); opt.step()
        >>> sorted(opt.state[model.weight])
        ['momentum_buffer', 'square_avg', 'step']
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        check_nonnegative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _update(self, group, p, grad, state):
        alpha, wd, momentum = group["alpha"], group["weight_decay"], group["momentum"]
        if "square_avg" not in state:
            state["step"], state["square_avg"] = 0, p * 0
            if momentum > 0:
                state["momentum_buffer"] = p * 0
            if group["centered"]:
                state["grad_avg"] = p * 0
        state["step"] += 1
        if wd:
            grad = grad + wd * p
        sq = state["square_avg"]
        sq *= alpha
        sq += (1 - alpha) * grad * grad
        if group["centered"]:
            ga = state["grad_avg"]
            ga += (grad - ga) * (1 - alpha)
            avg = (sq - ga * ga) ** 0.5
        else:
            avg = sq ** 0.5
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            p -= group["lr"] * buf
        else:
            p -= group["lr"] * grad / avg


class Adagrad(Optimizer):
    """Adagrad: each element's steps scaled down by the sum of its squared gradients so far.

    ``s += g**2`` and ``p -= clr * g / (sqrt(s) + eps)``, with ``clr = lr / (1 + (t - 1) * lr_decay)`` at step t.
    A sparse gradient (``nn.Embedding(sparse=True)``) changes the rows it holds only (without weight_decay).

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float): the learning rate. Default: 1e-2.
        lr_decay (float): the decay of the learning rate per step. Default: 0.
        weight_decay (float): the L2 penalty added to the gradient. Default: 0.
        initial_accumulator_value (float): the starting value of the sums ``s``. Default: 0.
        eps (float): added to the denominator for numerical stability. Default: 1e-10.
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        ``torch.optim.Adagrad``; the same update, defaults and state (created at construction). No ``foreach``,
        ``differentiable`` or ``fused`` arguments; ``lr`` is a number, not a tensor.

    Example:
        >>> w = nn.Parameter(ember.tensor([1.0]))
        >>> opt = ember.optim.Adagrad([w], lr=0.5)
        >>> (w * w).sum().backward(); opt.step()
        >>> w  # 1 - 0.5 * 2 / sqrt(2**2)
        Parameter containing:
        tensor([0.5000], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        check_nonnegative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                          initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                st["step"] = 0
                st["sum"] = p._data * 0 + group["initial_accumulator_value"]

    def _update(self, group, p, grad, state):
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += grad * grad
        p -= clr * grad / (s ** 0.5 + group["eps"])

    def _sparse_update(self, group, p, grad, state):
        """PyTorch's sparse form: the sums and the parameter change at the gradient's (coalesced) rows only."""
        state["step"] += 1
        if group["weight_decay"]:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        grad = grad.coalesce()
        sums, at = rows_at(state["sum"], grad)
        sums[at] += grad.values * grad.values
        rows, _ = rows_at(p, grad)
        rows[at] += -clr * (grad.values / (np.sqrt(sums[at]) + group["eps"]))


class Adadelta(Optimizer):
    """Adadelta: steps scaled by the ratio of the running RMS of past updates to the running RMS of gradients.

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float): the factor applied to each update. Default: 1.0.
        rho (float): the smoothing constant of the running averages, in [0, 1]. Default: 0.9.
        eps (float): added inside the square roots for numerical stability. Default: 1e-6.
        weight_decay (float): the L2 penalty added to the gradient. Default: 0.
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        ``torch.optim.Adadelta``; the same update and defaults. No ``foreach``, ``capturable`` or
        ``differentiable`` arguments; ``lr`` is a number, not a tensor.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> opt = ember.optim.Adadelta(model.parameters())
        >>> model(ember.ones(3, 2)).sum().backward(); opt.step()
        >>> sorted(opt.state[model.weight])
        ['acc_delta', 'square_avg', 'step']
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0,
                 *, maximize: bool = False) -> None:
        check_nonnegative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonnegative(eps=eps, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _update(self, group, p, grad, state):
        rho, eps = group["rho"], group["eps"]
        if "square_avg" not in state:
            state["step"], state["square_avg"], state["acc_delta"] = 0, p * 0, p * 0
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p
        sq, acc = state["square_avg"], state["acc_delta"]
        sq *= rho
        sq += (1 - rho) * grad * grad
        delta = (acc + eps) ** 0.5 / (sq + eps) ** 0.5 * grad
        acc *= rho
        acc += (1 - rho) * delta * delta
        p -= group["lr"] * delta


class Lion(Optimizer):
    """Lion (Chen et al. 2023): steps of a fixed size ``lr`` in the direction of the sign of an interpolated
    momentum, with decoupled weight decay.

    ``p *= 1 - lr * weight_decay``; ``p -= lr * sign(beta1 * m + (1 - beta1) * g)``; then
    ``m = beta2 * m + (1 - beta2) * g``. Its steps are larger than Adam's: use a smaller lr (3-10x).

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float): the learning rate (the size of every step). Default: 1e-4.
        betas (tuple[float, float]): the interpolation factor of the update and the decay of the momentum.
            Default: (0.9, 0.99).
        weight_decay (float): the decoupled weight decay. Default: 0.0.
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        No PyTorch counterpart: ember's own (torch.optim has no Lion; it follows the paper and the common
        ``lion-pytorch`` package).

    Example:
        >>> w = nn.Parameter(ember.tensor([1.0, -2.0]))
        >>> opt = ember.optim.Lion([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> w
        Parameter containing:
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        check_nonnegative(lr=lr)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay, maximize=maximize))

    def _update(self, group, p, grad, state):
        beta1, beta2 = group["betas"]
        if "exp_avg" not in state:
            state["step"], state["exp_avg"] = 0, p * 0
        state["step"] += 1
        m = state["exp_avg"]
        if group["weight_decay"]:
            p *= 1 - group["lr"] * group["weight_decay"]
        update = beta1 * m + (1 - beta1) * grad
        p -= group["lr"] * ((update > 0).astype(p.dtype) - (update < 0).astype(p.dtype))
        m *= beta2
        m += (1 - beta2) * grad


class Rprop(Optimizer):
    """Resilient backpropagation: each element moves by its own step size, in the direction of the gradient's sign;
    the step grows by ``etas[1]`` while the gradient keeps its sign and shrinks by ``etas[0]`` when it flips (that
    step then skips the element).

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float): the initial step size. Default: 1e-2.
        etas (tuple[float, float]): the shrink and growth factors, 0 < etas[0] < 1 < etas[1]. Default: (0.5, 1.2).
        step_sizes (tuple[float, float]): the smallest and largest step sizes. Default: (1e-6, 50).
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        ``torch.optim.Rprop``; the same update and defaults. No ``foreach``, ``capturable`` or ``differentiable``
        arguments.

    Example:
        >>> w = nn.Parameter(ember.tensor([1.0]))
        >>> opt = ember.optim.Rprop([w], lr=0.1)
        >>> for _ in range(2):
        ...     opt.zero_grad(); (w * w).sum().backward(); opt.step()
        >>> w  # 1 - 0.1 - 0.12
        Parameter containing:
        tensor([0.7800], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, maximize: bool = False) -> None:
        check_nonnegative(lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize))

    def _update(self, group, p, grad, state):
        if "prev" not in state:
            state["step"], state["prev"], state["step_size"] = 0, p * 0, p * 0 + group["lr"]
        state["step"] += 1
        (shrink, grow), (smallest, largest) = group["etas"], group["step_sizes"]
        prev, step_size, xp = state["prev"], state["step_size"], get_array_module(p)
        agreement = xp.sign(grad * prev)
        factor = xp.where(agreement > 0, grow, xp.where(agreement < 0, shrink, 1.0)).astype(p.dtype)
        step_size *= factor
        xp.clip(step_size, smallest, largest, out=step_size)
        grad = xp.where(factor == shrink, 0, grad).astype(p.dtype)
        p -= xp.sign(grad) * step_size
        prev[...] = grad


class ASGD(Optimizer):
    """Averaged stochastic gradient descent (Polyak and Juditsky): SGD with a decaying step and the weights'
    running average kept in the state (``ax``) from step ``t0`` on.

    Each step: ``p *= 1 - lambd * eta``, ``p -= eta * (grad + weight_decay * p)``, ``ax`` moves towards ``p`` by
    ``mu``; then ``eta = lr / (1 + lambd * lr * t) ** alpha`` and ``mu = 1 / max(1, t - t0)``.

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float): the learning rate. Default: 1e-2.
        lambd (float): the decay term. Default: 1e-4.
        alpha (float): the power of eta's update. Default: 0.75.
        t0 (float): the step from which the average starts. Default: 1e6.
        weight_decay (float): the L2 penalty added to the gradient. Default: 0.
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        ``torch.optim.ASGD``; the same update, defaults and state (``eta`` and ``mu`` numbers, not tensors). No
        ``foreach``, ``capturable`` or ``differentiable`` arguments.

    Example:
        >>> w = nn.Parameter(ember.tensor([1.0]))
        >>> opt = ember.optim.ASGD([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> sorted(opt.state[w])
        ['ax', 'eta', 'mu', 'step']
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0, *, maximize: bool = False) -> None:
        check_nonnegative(lr=lr, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, group, p, grad, state):
        if "ax" not in state:
            state["step"], state["eta"], state["mu"], state["ax"] = 0, group["lr"], 1.0, p * 0
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p
        eta, ax = state["eta"], state["ax"]
        p *= 1 - group["lambd"] * eta
        p -= eta * grad
        if state["mu"] != 1:
            ax += (p - ax) * state["mu"]
        else:
            ax[...] = p
        state["eta"] = group["lr"] / (1 + group["lambd"] * group["lr"] * state["step"]) ** group["alpha"]
        state["mu"] = 1 / max(1, state["step"] - group["t0"])
