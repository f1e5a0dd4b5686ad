"""Learning-rate schedulers with PyTorch's formulas (the recursive "chainable" forms where PyTorch uses them)."""
from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from typing import Any, SupportsFloat

from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
           "OneCycleLR", "LambdaLR", "LinearLR", "ConstantLR", "SequentialLR", "ReduceLROnPlateau", "MultiplicativeLR",
           "PolynomialLR", "CyclicLR", "ChainedScheduler"]


class LRScheduler:
    """Base class of the learning-rate schedulers: ``step()`` advances ``last_epoch`` and writes ``get_lr()`` into
    the optimizer's parameter groups.

    The constructor records each group's ``initial_lr`` (``base_lrs``) and takes the first step (epoch 0). Call
    ``scheduler.step()`` after ``optimizer.step()``, once per epoch (or per batch for per-step schedules). A
    subclass implements ``get_lr()``.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.LRScheduler``; the same protocol and chainable formulas. ember does not warn when
        ``step()`` runs before ``optimizer.step()``, nor on ``step(epoch)`` (deprecated in PyTorch), and its
        state dict lacks PyTorch's private flags (``_is_initial``, ``_get_lr_called_within_step``).

    Example:
        >>> class Halving(ember.optim.lr_scheduler.LRScheduler):
        ...     def get_lr(self):
        ...         return [base * 0.5 ** self.last_epoch for base in self.base_lrs]
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = Halving(opt); opt.step(); sched.step(); sched.get_last_lr()
        [0.5]
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        if last_epoch == -1:
            for g in optimizer.param_groups:
                g.setdefault("initial_lr", g["lr"])
        else:
            for i, g in enumerate(optimizer.param_groups):
                if "initial_lr" not in g:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming an "
                                   "optimizer")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self.step()

    def get_lr(self) -> list[float]:
        """The learning rate of each parameter group at ``last_epoch``: the formula a subclass implements.

        ``step()`` calls it after advancing ``last_epoch``; read the current rates with ``get_last_lr()``.

        Returns:
            list[float]: one learning rate per parameter group.

        PyTorch:
            ``torch.optim.lr_scheduler.LRScheduler.get_lr``; same role (PyTorch warns when it is called outside
            ``step()``; ember does not).

        Example:
            >>> class Constant(ember.optim.lr_scheduler.LRScheduler):
            ...     def get_lr(self):
            ...         return list(self.base_lrs)
            >>> Constant(ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)).get_lr()
            [0.1]
        """
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` set (the constructor's for a new scheduler).

        Returns:
            list[float]: one learning rate per parameter group.

        PyTorch:
            ``torch.optim.lr_scheduler.LRScheduler.get_last_lr``; same semantics.

        Example:
            >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
            >>> sched = ember.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
            >>> opt.step(); sched.step(); sched.get_last_lr()
            [0.5]
        """
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        """Advance to the next epoch (or to ``epoch``) and write its learning rates into the optimizer's groups.

        Args:
            epoch (int, optional): the epoch to jump to; the scheduler's closed form is used then, where it has
                one. Default: None (the next epoch).

        PyTorch:
            ``torch.optim.lr_scheduler.LRScheduler.step``; same semantics, without PyTorch's warnings (a step
            before ``optimizer.step()``, the deprecated ``epoch`` argument).

        Example:
            >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
            >>> sched = ember.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
            >>> opt.step(); sched.step(); opt.param_groups[0]["lr"]
            0.1
        """
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            self.last_epoch = epoch
            lrs = self._closed_form() if hasattr(self, "_closed_form") else self.get_lr()
        for g, lr in zip(self.optimizer.param_groups, lrs):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def _lrs(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state, to save with the optimizer's and restore with load_state_dict.

        Returns:
            dict: the scheduler's attributes (``last_epoch``, ``base_lrs``, its settings...) except the optimizer
            and functions (a LambdaLR's lambdas, which cannot be saved).

        PyTorch:
            ``torch.optim.lr_scheduler.LRScheduler.state_dict``; the same contents, less PyTorch's private flags.

        Example:
            >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
            >>> sched = ember.optim.lr_scheduler.StepLR(opt, step_size=2)
            >>> sorted(sched.state_dict())
            ['_last_lr', '_step_count', 'base_lrs', 'gamma', 'last_epoch', 'step_size']
        """
        return {k: v for k, v in self.__dict__.items() if k != "optimizer" and not callable(v) and
                k not in ("lr_lambdas", "_schedulers")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state that ``state_dict()`` saved (the learning rates themselves live in the optimizer's
        state dict).

        Args:
            state_dict (dict): what ``state_dict()`` returned.

        PyTorch:
            ``torch.optim.lr_scheduler.LRScheduler.load_state_dict``; same semantics.

        Example:
            >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
            >>> sched = ember.optim.lr_scheduler.StepLR(opt, step_size=2)
            >>> sched.load_state_dict({**sched.state_dict(), "last_epoch": 5}); sched.last_epoch
            5
        """
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        step_size (int): the number of epochs between two decays.
        gamma (float): the factor of each decay. Default: 0.1.
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.StepLR``; the same formula and defaults.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = ember.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
        >>> lrs = []
        >>> for epoch in range(4):
        ...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
        >>> [round(lr, 6) for lr in lrs]
        [1.0, 0.1, 0.1, 0.01]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _closed_form(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each milestone epoch.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        milestones (iterable of int): the epochs at which the rate decays (a repeated milestone decays twice).
        gamma (float): the factor of each decay. Default: 0.1.
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.MultiStepLR``; the same formula and defaults.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = ember.optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.5)
        >>> lrs = []
        >>> for epoch in range(4):
        ...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
        >>> lrs
        [0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones = sorted(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        count = self.milestones.count(self.last_epoch)
        if not count:
            return self._lrs()
        return [lr * self.gamma ** count for lr in self._lrs()]

    def _closed_form(self):
        return [b * self.gamma ** bisect.bisect_right(self.milestones, self.last_epoch) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        gamma (float): the factor of each epoch's decay.
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.ExponentialLR``; the same formula and defaults.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = ember.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> for epoch in range(3):
        ...     opt.step(); sched.step()
        >>> sched.get_last_lr()
        [0.125]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _closed_form(self):
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the base rate down to ``eta_min`` over ``T_max`` epochs (then back up, periodically):
    ``eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``, in PyTorch's recursive form.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        T_max (int): the number of epochs of a half period.
        eta_min (float): the lowest learning rate. Default: 0.0.
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.CosineAnnealingLR``; the same formula and defaults.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = ember.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
        >>> for epoch in range(2):
        ...     opt.step(); sched.step()
        >>> round(sched.get_last_lr()[0], 6)
        0.0
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, T, lo = self.last_epoch, self.T_max, self.eta_min
        if e == 0:
            return self._lrs()
        if self._step_count == 1 and e > 0:
            return self._closed_form()
        if (e - 1 - T) % (2 * T) == 0:
            return [lr + (b - lo) * (1 - math.cos(math.pi / T)) / 2 for lr, b in zip(self._lrs(), self.base_lrs)]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - lo) + lo
                for lr in self._lrs()]

    def _closed_form(self):
        return [self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for b in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing with warm restarts (SGDR): a cosine decay to ``eta_min`` that restarts from the base rate
    after ``T_0`` epochs, then after ``T_0 * T_mult`` more, and so on.

    ``step(epoch)`` takes a fractional epoch too (``epoch + batch / batches`` to anneal within epochs).

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        T_0 (int): the length of the first period, in epochs (a positive integer).
        T_mult (int): the factor by which each period is longer than the one before (>= 1). Default: 1.
        eta_min (float): the lowest learning rate. Default: 0.0.
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts``; the same formula and defaults.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = ember.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2)
        >>> lrs = []
        >>> for epoch in range(4):
        ...     lrs.append(round(sched.get_last_lr()[0], 4)); opt.step(); sched.step()
        >>> lrs
        [1.0, 0.5, 1.0, 0.5]
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        if T_0 <= 0 or not isinstance(T_0, int):
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if T_mult < 1 or not isinstance(T_mult, int):
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for b in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur -= self.T_i
                self.T_i *= self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"Expected non-negative epoch, but got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i, self.T_cur = self.T_0, epoch
        self.last_epoch = math.floor(epoch)
        self._step_count += 1
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr
        self._last_lr = self._lrs()


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith): the rate rises from ``max_lr / div_factor`` to ``max_lr``, then anneals far below
    its start; the momentum (or Adam's beta1) moves the other way. Step it after every batch.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        max_lr (float or list[float]): the peak learning rate (one per group with a list).
        total_steps (int, optional): the number of steps of the cycle; else ``epochs * steps_per_epoch``.
            Default: None.
        epochs (int, optional): the number of epochs, with steps_per_epoch. Default: None.
        steps_per_epoch (int, optional): the number of steps per epoch, with epochs. Default: None.
        pct_start (float): the fraction of the cycle spent increasing the rate. Default: 0.3.
        anneal_strategy (str): ``"cos"`` or ``"linear"`` annealing. Default: ``"cos"``.
        cycle_momentum (bool): cycle the momentum (SGD's momentum, or beta1 of Adam-like optimizers) inversely to
            the rate. Default: True.
        base_momentum (float or list[float]): the lowest momentum, at the peak rate. Default: 0.85.
        max_momentum (float or list[float]): the highest momentum, at the start and end. Default: 0.95.
        div_factor (float): ``initial_lr = max_lr / div_factor``. Default: 25.0.
        final_div_factor (float): ``min_lr = initial_lr / final_div_factor``. Default: 1e4.
        three_phase (bool): a third phase that anneals from initial_lr down to min_lr (fast.ai's schedule has
            two). Default: False.
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.OneCycleLR``; the same formula and defaults.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1, momentum=0.9)
        >>> sched = ember.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=4)
        >>> lrs = []
        >>> for step in range(4):
        ...     lrs.append(round(sched.get_last_lr()[0], 4)); opt.step(); sched.step()
        >>> lrs
        [0.04, 0.8117, 0.2831, 0.0]
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True, base_momentum: float | list[float] = 0.85,
                 max_momentum: float | list[float] = 0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1) -> None:
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
            total_steps = epochs * steps_per_epoch
        if total_steps <= 0:
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self.total_steps, self.anneal_strategy, self.cycle_momentum = total_steps, anneal_strategy, cycle_momentum
        n = len(optimizer.param_groups)
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * n
        if three_phase:
            ends = [float(pct_start * total_steps) - 1, float(2 * pct_start * total_steps) - 2, total_steps - 1]
            self._phases = [(ends[0], "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (ends[1], "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                            (ends[2], "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            ends = [float(pct_start * total_steps) - 1, total_steps - 1]
            self._phases = [(ends[0], "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (ends[1], "max_lr", "min_lr", "base_momentum", "max_momentum")]
        self.use_beta1 = "betas" in optimizer.defaults
        if last_epoch == -1:
            for lr, g in zip(max_lrs, optimizer.param_groups):
                g["initial_lr"] = lr / div_factor
                g["max_lr"] = lr
                g["min_lr"] = g["initial_lr"] / final_div_factor
                if cycle_momentum:
                    if "momentum" not in optimizer.defaults and not self.use_beta1:
                        raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
                    g["max_momentum"], g["base_momentum"] = max_momentum, base_momentum
                    self._set_momentum(g, max_momentum)
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, g, m):
        if self.use_beta1:
            g["betas"] = (m, *g["betas"][1:])
        else:
            g["momentum"] = m

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"Tried to step {step} times. The specified number of total steps is {self.total_steps}")
        lrs = []
        for g in self.optimizer.param_groups:
            start_step = 0.0
            for i, (end_step, lr_a, lr_b, m_a, m_b) in enumerate(self._phases):
                if step <= end_step or i == len(self._phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lr = self._anneal(g[lr_a], g[lr_b], pct)
                    if self.cycle_momentum:
                        self._set_momentum(g, self._anneal(g[m_a], g[m_b], pct))
                    break
                start_step = end_step
            lrs.append(lr)
        return lrs


class LambdaLR(LRScheduler):
    """Set each group's learning rate to its initial rate times ``lr_lambda(epoch)``.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        lr_lambda (callable or list of callables): a function of the epoch (int) returning the factor, or one
            per parameter group.
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.LambdaLR``; same semantics (the functions are not in the state dict).

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = ember.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lambda epoch: 1 / (epoch + 1))
        >>> for epoch in range(3):
        ...     opt.step(); sched.step()
        >>> sched.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        n = len(optimizer.param_groups)
        self.lr_lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(self.lr_lambdas) != n:
            raise ValueError(f"Expected {n} lr_lambdas, but got {len(self.lr_lambdas)}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [b * f(self.last_epoch) for b, f in zip(self.base_lrs, self.lr_lambdas)]


class LinearLR(LRScheduler):
    """Scale the learning rate by a factor that moves linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs (a linear warm-up by default), then stays.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        start_factor (float): the factor of the first epoch, in (0, 1]. Default: 1/3.
        end_factor (float): the factor from epoch total_iters on, in [0, 1]. Default: 1.0.
        total_iters (int): the number of epochs the factor takes to reach end_factor. Default: 5.
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.LinearLR``; the same formula and defaults.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = ember.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
        >>> lrs = []
        >>> for epoch in range(4):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> lrs
        [0.25, 0.5, 0.75, 1.0]
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError("LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1]")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, s, f, T = self.last_epoch, self.start_factor, self.end_factor, self.total_iters
        if e == 0:
            return [lr * s for lr in self._lrs()]
        if e > T:
            return self._lrs()
        return [lr * (1.0 + (f - s) / (T * s + (e - 1) * (f - s))) for lr in self._lrs()]

    def _closed_form(self):
        e, s, f, T = self.last_epoch, self.start_factor, self.end_factor, self.total_iters
        return [b * (s + (f - s) * min(T, e) / T) for b in self.base_lrs]


class ConstantLR(LRScheduler):
    """Scale the learning rate by a constant ``factor`` for the first ``total_iters`` epochs, then restore it.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        factor (float): the factor, in [0, 1]. Default: 1/3.
        total_iters (int): the number of epochs the factor applies to. Default: 5.
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.ConstantLR``; the same formula and defaults.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = ember.optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2)
        >>> lrs = []
        >>> for epoch in range(3):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> lrs
        [0.5, 0.5, 1.0]
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        if not 0 <= factor <= 1:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e = self.last_epoch
        if e == 0:
            return [lr * self.factor for lr in self._lrs()]
        if e != self.total_iters:
            return self._lrs()
        return [lr * (1.0 / self.factor) for lr in self._lrs()]

    def _closed_form(self):
        return [b * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor)) for b in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run schedulers one after the other, switching to the next at each milestone epoch (a warm-up, then a
    decay).

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        schedulers (list[LRScheduler]): the schedulers, all of this optimizer, in order.
        milestones (list[int]): the epochs at which the next scheduler takes over (one fewer than schedulers).
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.SequentialLR``; same semantics.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> warmup = ember.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> decay = ember.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> sched = ember.optim.lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[2])
        >>> lrs = []
        >>> for epoch in range(4):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> lrs
        [0.5, 0.75, 1.0, 0.5]
    """

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler], milestones: list[int],
                 last_epoch: int = -1) -> None:
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"Sequential Schedulers expects number of schedulers provided to be one more than the "
                             f"number of milestone points, but got {len(schedulers)} and {len(milestones)}")
        for s in schedulers:
            if s.optimizer is not optimizer:
                raise ValueError("Sequential Schedulers expects all schedulers to belong to the same optimizer")
        self._schedulers, self._milestones = list(schedulers), list(milestones)
        self.optimizer, self.last_epoch = optimizer, last_epoch + 1
        for g in optimizer.param_groups:
            g["lr"] = g["initial_lr"]
        for s in self._schedulers:
            s.last_epoch -= 1
        self._schedulers[0]._initial_step()
        self._last_lr = self._schedulers[0].get_last_lr()

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        idx = bisect.bisect_right(self._milestones, self.last_epoch)
        s = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            s.step(0)
        else:
            s.step()
        self._last_lr = s.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        d = super().state_dict()
        d["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return d

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        inner = state_dict.pop("_schedulers")
        self.__dict__.update(state_dict)
        for s, sd in zip(self._schedulers, inner):
            s.load_state_dict(sd)


class ReduceLROnPlateau:
    """Multiply the learning rate by ``factor`` when a metric has stopped improving for ``patience`` epochs.

    ``step(metric)`` takes the epoch's value of the metric (the validation loss, say); after ``patience`` epochs
    without an improvement beyond ``threshold``, every group's rate is reduced (not below its ``min_lr``), then
    nothing changes for ``cooldown`` epochs.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        mode (str): ``"min"`` (lower is better, a loss) or ``"max"`` (an accuracy). Default: ``"min"``.
        factor (float): the factor of each reduction (< 1). Default: 0.1.
        patience (int): the number of epochs without improvement tolerated. Default: 10.
        threshold (float): the smallest change that counts as an improvement. Default: 1e-4.
        threshold_mode (str): ``"rel"`` (relative to the best value) or ``"abs"``. Default: ``"rel"``.
        cooldown (int): the number of epochs to wait after a reduction. Default: 0.
        min_lr (float or list[float]): the lowest rate (one per group with a list). Default: 0.
        eps (float): a reduction smaller than this is not applied. Default: 1e-8.

    PyTorch:
        ``torch.optim.lr_scheduler.ReduceLROnPlateau``; the same rule and defaults. It is not an ``LRScheduler``
        subclass here, and ``step`` has no (deprecated) ``epoch`` argument.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = ember.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1)
        >>> for val_loss in [1.0, 0.5, 0.6, 0.7]:
        ...     opt.step(); sched.step(val_loss)
        >>> sched.get_last_lr()
        [0.1]
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0, eps: float = 1e-8) -> None:
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode} is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode} is unknown!")
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.eps = threshold, threshold_mode, cooldown, eps
        n = len(optimizer.param_groups)
        self.min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def _better(self, a, best):
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return a < (best * (1 - self.threshold) if rel else best - self.threshold)
        return a > (best * (1 + self.threshold) if rel else best + self.threshold)

    def step(self, metrics: SupportsFloat) -> None:
        current = float(metrics)
        self.last_epoch += 1
        if self._better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for g, lo in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(g["lr"] * self.factor, lo)
                if g["lr"] - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return self._last_lr

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)


class MultiplicativeLR(LambdaLR):
    """Multiply each group's learning rate by ``lr_lambda(epoch)`` at every epoch after the first.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        lr_lambda (callable or list of callables): a function of the epoch (int) returning the factor, or one
            per parameter group.
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.MultiplicativeLR``; same semantics (the functions are not in the state dict).

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = ember.optim.lr_scheduler.MultiplicativeLR(opt, lr_lambda=lambda epoch: 0.5)
        >>> for epoch in range(3):
        ...     opt.step(); sched.step()
        >>> sched.get_last_lr()
        [0.125]
    """

    def get_lr(self) -> list[float]:
        if self.last_epoch > 0:
            return [lr * f(self.last_epoch) for lr, f in zip(self._lrs(), self.lr_lambdas)]
        return self._lrs()


class PolynomialLR(LRScheduler):
    """Decay the learning rate polynomially to 0 over ``total_iters`` epochs:
    ``base_lr * (1 - min(epoch, total_iters) / total_iters) ** power``.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        total_iters (int): the number of epochs of the decay. Default: 5.
        power (float): the polynomial's power. Default: 1.0.
        last_epoch (int): the index of the last epoch when resuming (the groups must then hold
            ``initial_lr``); -1 starts from the optimizer's learning rates. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.PolynomialLR``; the same formula and defaults.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = ember.optim.lr_scheduler.PolynomialLR(opt, total_iters=4, power=2.0)
        >>> lrs = []
        >>> for epoch in range(5):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> lrs
        [1.0, 0.5625, 0.25, 0.0625, 0.0]
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1) -> None:
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, T = self.last_epoch, self.total_iters
        if e == 0 or e > T:
            return self._lrs()
        factor = ((1.0 - e / T) / (1.0 - (e - 1) / T)) ** self.power
        return [lr * factor for lr in self._lrs()]

    def _closed_form(self):
        return [b * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for b in self.base_lrs]


def _per_group(name, optimizer, value):
    """value for each parameter group: a list or tuple of one per group, or one for all."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"expected {n} values for {name}, got {len(value)}")
        return list(value)
    return [value] * n


class CyclicLR(LRScheduler):
    """Cycle the learning rate between ``base_lr`` and ``max_lr`` (Smith's cyclical learning rates), stepped once
    per batch; with ``cycle_momentum``, the momentum (or Adam's beta1) cycles the other way between
    ``max_momentum`` and ``base_momentum``.

    Each cycle rises for ``step_size_up`` steps and falls for ``step_size_down``; its height is scaled by
    ``scale_fn`` of the cycle number or of the step: 1 ("triangular"), halved every cycle ("triangular2") or
    ``gamma ** step`` ("exp_range").

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        base_lr (float or list): the lowest learning rate, per group or for all.
        max_lr (float or list): the highest learning rate (before scaling), per group or for all.
        step_size_up (int): the steps of the rising half. Default: 2000.
        step_size_down (int, optional): the steps of the falling half; None means step_size_up. Default: None.
        mode (str): "triangular", "triangular2" or "exp_range" (ignored with scale_fn). Default: "triangular".
        gamma (float): exp_range's factor per step. Default: 1.0.
        scale_fn (callable, optional): a custom scaling of one argument, in [0, 1]. Default: None.
        scale_mode (str): "cycle" or "iterations": what scale_fn takes. Default: "cycle".
        cycle_momentum (bool): cycle the momentum (the optimizer must have ``momentum`` or ``betas``).
            Default: True.
        base_momentum (float or list): the lowest momentum. Default: 0.8.
        max_momentum (float or list): the highest momentum. Default: 0.9.
        last_epoch (int): the index of the last batch when resuming; -1 starts anew. Default: -1.

    PyTorch:
        ``torch.optim.lr_scheduler.CyclicLR``; the same formulas and defaults.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0, momentum=0.9)
        >>> sched = ember.optim.lr_scheduler.CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2)
        >>> lrs = []
        >>> for batch in range(5):
        ...     lrs.append(round(sched.get_last_lr()[0], 4)); opt.step(); sched.step()
        >>> lrs
        [0.1, 0.3, 0.5, 0.3, 0.1]
    """

    def __init__(self, optimizer: Optimizer, base_lr: float | list[float], max_lr: float | list[float],
                 step_size_up: int = 2000, step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum: float | list[float] = 0.8,
                 max_momentum: float | list[float] = 0.9, last_epoch: int = -1) -> None:
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size, self.step_ratio = up + down, up / (up + down)
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError("mode is invalid and scale_fn is None")
        self.mode, self.gamma, self._scale_fn_custom = mode, gamma, scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else "iterations" if mode == "exp_range" else "cycle"
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            self.max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for top, bottom, group in zip(self.max_momentums, self.base_momentums, optimizer.param_groups):
                    self._set_momentum(group, top)
                    group["max_momentum"], group["base_momentum"] = top, bottom
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _set_momentum(self, group, momentum):
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def scale_fn(self, x: float) -> float:
        """The height's scale at x (the cycle number or the step, per ``scale_mode``)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x if self.mode == "exp_range" else 1.0

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        rise = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base + (top - base) * rise * scale for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, bottom, top in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                self._set_momentum(group, top - (top - bottom) * rise * scale)
        return lrs


class ChainedScheduler(LRScheduler):
    """Step several schedulers of one optimizer together, each scaling what the others set (their chainable
    forms).

    Args:
        schedulers (list[LRScheduler]): the schedulers, all of the same optimizer.
        optimizer (Optimizer, optional): that optimizer; None takes the first scheduler's. Default: None.

    PyTorch:
        ``torch.optim.lr_scheduler.ChainedScheduler``; same semantics.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> halve = ember.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> tenth = ember.optim.lr_scheduler.ConstantLR(opt, factor=0.1, total_iters=2)
        >>> sched = ember.optim.lr_scheduler.ChainedScheduler([halve, tenth])
        >>> lrs = []
        >>> for epoch in range(3):
        ...     lrs.append(round(sched.get_last_lr()[0], 4)); opt.step(); sched.step()
        >>> lrs
        [0.1, 0.05, 0.25]
    """

    def __init__(self, schedulers: list[LRScheduler], optimizer: Optimizer | None = None) -> None:
        if len(schedulers) < 1:
            raise ValueError(f"{type(self).__name__} expects at least one scheduler to be chained, but got no "
                             f"scheduler.")
        optimizer = optimizer or schedulers[0].optimizer
        for i, s in enumerate(schedulers):
            if s.optimizer is not optimizer:
                raise ValueError(f"{type(self).__name__} expects all schedulers to belong to the same optimizer, but "
                                 f"got scheduler {type(s).__name__} at index {i} has {s.optimizer}, which is "
                                 f"different from {type(optimizer).__name__}.")
        self._schedulers, self.optimizer = list(schedulers), optimizer
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def step(self) -> None:  # type: ignore[override]
        for s in self._schedulers:
            s.step()
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    state_dict = SequentialLR.state_dict  # its own state and each chained scheduler's
    load_state_dict = SequentialLR.load_state_dict
