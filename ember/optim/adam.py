"""Adam-family optimizers: Adam (amsgrad), AdamW, SparseAdam, Adamax, NAdam, RAdam -- PyTorch's update formulas."""
from __future__ import annotations

import math

import numpy as np

from ..device import get_array_module
from ._checks import check_betas, check_nonnegative
from ._sparse_grads import rows_at
from .optimizer import Optimizer, ParamsT

__all__ = ["Adam", "AdamW", "SparseAdam", "Adamax", "NAdam", "RAdam"]


def _check(lr, eps, betas, weight_decay):
    check_nonnegative(lr=lr, eps=eps)
    check_betas(betas)
    check_nonnegative(weight_decay=weight_decay)


def _moments(state, p, grad, beta1, beta2):
    """Update and return the first and second moment estimates (created as zeros on the first step)."""
    if "exp_avg" not in state:
        state["step"] = 0
        state["exp_avg"] = p * 0
        state["exp_avg_sq"] = p * 0
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m += (grad - m) * (1 - beta1)
    v *= beta2
    v += (1 - beta2) * grad * grad
    state["step"] += 1
    return m, v, state["step"]


class Adam(Optimizer):
    """Adam (Kingma & Ba): steps scaled by running estimates of the gradient's first and second moments.

    ``m = beta1 * m + (1 - beta1) * g``, ``v = beta2 * v + (1 - beta2) * g**2``, then ``p -= lr * m_hat /
    (sqrt(v_hat) + eps)`` with the bias-corrected ``m_hat``, ``v_hat``. weight_decay adds ``weight_decay * p`` to
    the gradient (an L2 penalty; AdamW decays the weights themselves).

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float): the learning rate. Default: 1e-3.
        betas (tuple[float, float]): the decay rates of the first and second moment estimates. Default: (0.9, 0.999).
        eps (float): added to the denominator for numerical stability. Default: 1e-8.
        weight_decay (float): the L2 penalty added to the gradient. Default: 0.
        amsgrad (bool): use the maximum of the past second moments (AMSGrad). Default: False.
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        ``torch.optim.Adam``; the same update and defaults. No ``foreach``, ``capturable``, ``differentiable``,
        ``fused`` or ``decoupled_weight_decay`` arguments (use AdamW); ``lr`` and betas are numbers, not tensors;
        the state's ``step`` is an int where PyTorch keeps a tensor.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> opt = ember.optim.Adam(model.parameters(), lr=1e-2)
        >>> loss = model(ember.ones(4, 2)).pow(2).mean()
        >>> opt.zero_grad(); loss.backward(); opt.step()
        >>> sorted(opt.state[model.weight])
        ['exp_avg', 'exp_avg_sq', 'step']
    """

    decoupled = False
    sparse_hint = ", please consider SparseAdam instead"

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False) -> None:
        _check(lr, eps, betas, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _update(self, group, p, grad, state):
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd:
            if self.decoupled:
                p *= 1 - lr * wd
            else:
                grad = grad + wd * p
        if group["amsgrad"] or p.dtype != grad.dtype:
            self._update_general(group, p, grad, state)
            return
        xp = get_array_module(p)
        if "exp_avg" not in state:
            state["step"], state["exp_avg"], state["exp_avg_sq"] = 0, xp.zeros_like(p), xp.zeros_like(p)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        step = state["step"]
        t = self._scratch(xp, p)
        # PyTorch's formulas, in place: m.lerp_(g, 1 - beta1); v.mul_(beta2).addcmul_(g, g, 1 - beta2);
        # p.addcdiv_(m, sqrt(v) / sqrt(bc2) + eps, -lr / bc1)
        xp.subtract(grad, m, out=t)
        t *= 1 - beta1
        m += t
        v *= beta2
        xp.multiply(grad, grad, out=t)
        t *= 1 - beta2
        v += t
        xp.sqrt(v, out=t)
        t /= math.sqrt(1 - beta2 ** step)
        t += eps
        xp.divide(m, t, out=t)
        t *= -lr / (1 - beta1 ** step)
        p += t

    def _scratch(self, xp, p):
        """A temporary of p's shape and dtype, kept between steps (no allocation per parameter and step)."""
        cache = self.__dict__.setdefault("_scratch_arrays", {})
        key = (p.shape, p.dtype.str, xp.__name__)
        t = cache.get(key)
        if t is None:
            t = cache[key] = xp.empty_like(p)
        return t

    def _update_general(self, group, p, grad, state):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        m, v, step = _moments(state, p, grad, beta1, beta2)
        bc1, bc2_sqrt = 1 - beta1 ** step, math.sqrt(1 - beta2 ** step)
        if group["amsgrad"]:
            vmax = state.get("max_exp_avg_sq")
            if vmax is None:
                vmax = state["max_exp_avg_sq"] = p * 0
            get_array_module(p).maximum(vmax, v, out=vmax)
            v = vmax
        denom = (v ** 0.5) / bc2_sqrt
        denom += eps
        p -= (lr / bc1) * m / denom


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter): Adam whose weight decay shrinks the weights directly, ``p *= 1 - lr *
    weight_decay``, instead of adding a penalty to the gradient.

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float): the learning rate. Default: 1e-3.
        betas (tuple[float, float]): the decay rates of the first and second moment estimates. Default: (0.9, 0.999).
        eps (float): added to the denominator for numerical stability. Default: 1e-8.
        weight_decay (float): the decoupled weight decay. Default: 1e-2.
        amsgrad (bool): use the maximum of the past second moments (AMSGrad). Default: False.
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        ``torch.optim.AdamW``; the same update and defaults. No ``foreach``, ``capturable``, ``differentiable`` or
        ``fused`` arguments; ``lr`` and betas are numbers, not tensors.

    Example:
        >>> opt = ember.optim.AdamW(nn.Linear(2, 1).parameters(), lr=1e-3, weight_decay=0.01)
        >>> opt.param_groups[0]["weight_decay"]
        0.01
    """

    decoupled = True

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


class SparseAdam(Optimizer):
    """Adam for sparse gradients (``nn.Embedding(sparse=True)``'s): the moments and the parameter change at the
    rows a gradient holds only ("lazy" Adam), with Adam's formulas and bias corrections there.

    Args:
        params (iterable): the tensors to optimize (dense ones), or dicts of parameter groups (see ``Optimizer``).
        lr (float): the learning rate (> 0). Default: 1e-3.
        betas (tuple[float, float]): the decay rates of the first and second moment estimates. Default: (0.9, 0.999).
        eps (float): added to the denominator for numerical stability (> 0). Default: 1e-8.
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        ``torch.optim.SparseAdam``; the same update and defaults; a dense gradient raises RuntimeError.

    Example:
        >>> emb = nn.Embedding(10, 3, sparse=True)
        >>> opt = ember.optim.SparseAdam(emb.parameters(), lr=0.1)
        >>> before = emb.weight.detach().clone()
        >>> emb(ember.tensor([2, 7])).sum().backward(); opt.step()
        >>> (emb.weight.detach() != before).any(dim=1).nonzero().flatten()  # only the rows looked up moved
        tensor([2, 7])
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, *, maximize: bool = False) -> None:
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, maximize=maximize))
        sparse = [[i, j] for i, g in enumerate(self.param_groups) for j, p in enumerate(g["params"]) if p.is_sparse]
        if sparse:
            raise ValueError(f"Sparse params at indices {sparse}: SparseAdam requires dense parameter tensors")

    def _update(self, group, p, grad, state):
        raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")

    def _sparse_update(self, group, p, grad, state):
        if "exp_avg" not in state:
            state["step"], state["exp_avg"], state["exp_avg_sq"] = 0, p * 0, p * 0
        state["step"] += 1
        grad = grad.coalesce()
        if not grad.nnz:
            return
        lr, (beta1, beta2), eps, step = group["lr"], group["betas"], group["eps"], state["step"]
        m, at = rows_at(state["exp_avg"], grad)
        v, _ = rows_at(state["exp_avg_sq"], grad)
        rows, _ = rows_at(p, grad)
        g = grad.values
        old_m, old_v = m[at], v[at]
        m_step = (g - old_m) * (1 - beta1)
        v_step = (g * g - old_v) * (1 - beta2)
        m[at] += m_step
        v[at] += v_step
        step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
        rows[at] += -step_size * ((m_step + old_m) / (np.sqrt(v_step + old_v) + eps))


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm; the second moment is a running maximum of ``|g|``.

    ``m = beta1 * m + (1 - beta1) * g``, ``u = max(beta2 * u, |g| + eps)``, ``p -= lr / (1 - beta1**t) * m / u``.

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float): the learning rate. Default: 2e-3.
        betas (tuple[float, float]): the decay rates of the first moment and of the infinity norm.
            Default: (0.9, 0.999).
        eps (float): added to ``|g|`` for numerical stability. Default: 1e-8.
        weight_decay (float): the L2 penalty added to the gradient. Default: 0.
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        ``torch.optim.Adamax``; the same update and defaults. No ``foreach``, ``differentiable`` or ``capturable``
        arguments; ``lr`` is a number, not a tensor.

    Example:
        >>> opt = ember.optim.Adamax(nn.Linear(2, 1).parameters())
        >>> opt.defaults["lr"], opt.defaults["betas"]
        (0.002, (0.9, 0.999))
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, *, maximize: bool = False) -> None:
        _check(lr, eps, betas, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, group, p, grad, state):
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd:
            grad = grad + wd * p
        if "exp_avg" not in state:
            state["step"], state["exp_avg"], state["exp_inf"] = 0, p * 0, p * 0
        state["step"] += 1
        m, u = state["exp_avg"], state["exp_inf"]
        m += (grad - m) * (1 - beta1)
        u *= beta2
        get_array_module(p).maximum(u, abs(grad) + eps, out=u)
        p -= (lr / (1 - beta1 ** state["step"])) * m / u


class NAdam(Optimizer):
    """NAdam (Dozat): Adam with Nesterov momentum, whose momentum factor warms up by PyTorch's momentum_decay
    schedule ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``.

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float): the learning rate. Default: 2e-3.
        betas (tuple[float, float]): the decay rates of the first and second moment estimates. Default: (0.9, 0.999).
        eps (float): added to the denominator for numerical stability. Default: 1e-8.
        weight_decay (float): the weight decay (an L2 penalty on the gradient unless decoupled). Default: 0.
        momentum_decay (float): the speed of the momentum's warm-up. Default: 4e-3.
        decoupled_weight_decay (bool): shrink the weights directly as AdamW does (NAdamW). Default: False.
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        ``torch.optim.NAdam``; the same update and defaults. No ``foreach``, ``capturable`` or ``differentiable``
        arguments; ``lr`` is a number, not a tensor.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> opt = ember.optim.NAdam(model.parameters(), lr=1e-2)
        >>> model(ember.ones(3, 2)).sum().backward(); opt.step()
        >>> sorted(opt.state[model.weight])
        ['exp_avg', 'exp_avg_sq', 'mu_product', 'step']
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False) -> None:
        _check(lr, eps, betas, weight_decay)
        check_nonnegative(momentum_decay=momentum_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _update(self, group, p, grad, state):
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if "mu_product" not in state:
            state["mu_product"] = 1.0
        if wd:
            if group["decoupled_weight_decay"]:
                p *= 1 - lr * wd
            else:
                grad = grad + wd * p
        m, v, step = _moments(state, p, grad, beta1, beta2)
        psi = group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        denom = (v / (1 - beta2 ** step)) ** 0.5 + eps
        p -= (lr * (1.0 - mu) / (1.0 - mu_product)) * grad / denom
        p -= (lr * mu_next / (1.0 - mu_product * mu_next)) * m / denom


class RAdam(Optimizer):
    """RAdam (Liu et al.): Adam with a rectified adaptive term; plain momentum SGD for the first steps, until the
    variance of the second moment estimate is tractable (PyTorch's ``rho_t > 5`` test).

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float): the learning rate. Default: 1e-3.
        betas (tuple[float, float]): the decay rates of the first and second moment estimates. Default: (0.9, 0.999).
        eps (float): added to the denominator for numerical stability. Default: 1e-8.
        weight_decay (float): the weight decay (an L2 penalty on the gradient unless decoupled). Default: 0.
        decoupled_weight_decay (bool): shrink the weights directly as AdamW does. Default: False.
        maximize (bool): maximize the objective (step along the gradient) instead of minimizing it. Default: False.

    PyTorch:
        ``torch.optim.RAdam``; the same update and defaults. No ``foreach``, ``capturable`` or ``differentiable``
        arguments; ``lr`` is a number, not a tensor.

    Example:
        >>> w = nn.Parameter(ember.tensor([1.0]))
        >>> opt = ember.optim.RAdam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> w  # the first steps are momentum SGD: 1 - 0.1 * 2
        Parameter containing:
        tensor([0.8000], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:
        _check(lr, eps, betas, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _update(self, group, p, grad, state):
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd:
            if group["decoupled_weight_decay"]:
                p *= 1 - lr * wd
            else:
                grad = grad + wd * p
        m, v, step = _moments(state, p, grad, beta1, beta2)
        bc1, bc2 = 1 - beta1 ** step, 1 - beta2 ** step
        m_hat = m / bc1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bc2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p -= m_hat * lr * (math.sqrt(bc2) / (v ** 0.5 + eps)) * rect
        else:
            p -= m_hat * lr
