"""Weight averaging (torch.optim.swa_utils): AveragedModel keeps a running average of a model's parameters
(stochastic weight averaging, or an exponential moving average), SWALR anneals the learning rate to a constant
for it, and update_bn recomputes batch-norm statistics for the averaged weights."""
from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterable
from typing import Any

from ..autograd import no_grad
from ..nn.module import Module
from ..nn.normalization import _BatchNorm
from ..tensor import tensor
from .lr_scheduler import LRScheduler, _per_group
from .optimizer import Optimizer

__all__ = ["AveragedModel", "SWALR", "update_bn", "get_ema_avg_fn", "get_swa_avg_fn", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn"]


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """The exponential moving average's update of one tensor: ``decay * averaged + (1 - decay) * current``.

    Args:
        decay (float): the weight of the average so far. Default: 0.999.

    Returns:
        callable: fn(averaged, current, num_averaged), the new average.

    PyTorch:
        ``torch.optim.swa_utils.get_ema_avg_fn``; same semantics.

    Example:
        >>> ember.optim.swa_utils.get_ema_avg_fn(0.5)(ember.tensor(0.0), ember.tensor(2.0), 1)
        tensor(1.)
    """
    def ema_update(averaged, current, num_averaged):
        return decay * averaged + (1 - decay) * current
    return ema_update


def get_swa_avg_fn() -> Callable:
    """Stochastic weight averaging's update of one tensor: the mean of the ``num_averaged`` values so far and
    the current one.

    Returns:
        callable: fn(averaged, current, num_averaged), the new average.

    PyTorch:
        ``torch.optim.swa_utils.get_swa_avg_fn``; same semantics.

    Example:
        >>> ember.optim.swa_utils.get_swa_avg_fn()(ember.tensor(1.0), ember.tensor(4.0), 2)
        tensor(2.)
    """
    def swa_update(averaged, current, num_averaged):
        return averaged + (current - averaged) / (num_averaged + 1)
    return swa_update


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """The exponential moving average's update of lists of tensors, in place.

    Args:
        decay (float): the weight of the average so far. Default: 0.999.

    Returns:
        callable: fn(averaged_list, current_list, num_averaged), updating averaged_list.

    PyTorch:
        ``torch.optim.swa_utils.get_ema_multi_avg_fn``; same semantics.

    Example:
        >>> averaged = [ember.tensor([0.0])]
        >>> ember.optim.swa_utils.get_ema_multi_avg_fn(0.75)(averaged, [ember.tensor([4.0])], 1); averaged
        [tensor([1.])]
    """
    single = get_ema_avg_fn(decay)

    def ema_update(averaged_list, current_list, num_averaged):
        with no_grad():
            for averaged, current in zip(averaged_list, current_list):
                averaged.copy_(single(averaged, current, num_averaged))
    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """Stochastic weight averaging's update of lists of tensors, in place.

    Returns:
        callable: fn(averaged_list, current_list, num_averaged), updating averaged_list.

    PyTorch:
        ``torch.optim.swa_utils.get_swa_multi_avg_fn``; same semantics.

    Example:
        >>> averaged = [ember.tensor([1.0])]
        >>> ember.optim.swa_utils.get_swa_multi_avg_fn()(averaged, [ember.tensor([4.0])], 2); averaged
        [tensor([2.])]
    """
    single = get_swa_avg_fn()

    def swa_update(averaged_list, current_list, num_averaged):
        with no_grad():
            for averaged, current in zip(averaged_list, current_list):
                averaged.copy_(single(averaged, current, num_averaged))
    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and with ``use_buffers`` its buffers) are a running average of the
    model's: call ``update_parameters(model)`` after optimizer steps. The default average is the plain mean
    (stochastic weight averaging); ``multi_avg_fn=get_ema_multi_avg_fn(decay)`` makes it an exponential moving
    average. Without ``use_buffers`` the copy's buffers follow the model's.

    Args:
        model (Module): the model to average (deep-copied).
        device (str or ember.device, optional): where the copy lives. Default: None (the model's device).
        avg_fn (callable, optional): fn(averaged, current, num_averaged) for each tensor. Default: None.
        multi_avg_fn (callable, optional): fn(averaged_list, current_list, num_averaged), in place; not with
            avg_fn. Default: None.
        use_buffers (bool): average the buffers too (else copy them). Default: False.

    Shape:
        - Input and output: those of ``model`` (forward calls the averaged copy).

    PyTorch:
        ``torch.optim.swa_utils.AveragedModel``; same semantics and state_dict keys (``module.*``,
        ``n_averaged``).

    Example:
        >>> model = nn.Linear(1, 1, bias=False)
        >>> swa = ember.optim.swa_utils.AveragedModel(model)
        >>> for w in (1.0, 2.0, 6.0):
        ...     _ = model.weight.data.fill_(w); swa.update_parameters(model)
        >>> swa.module.weight.item(), int(swa.n_averaged)
        (3.0, 3)
    """

    def __init__(self, model: Module, device: Any = None, avg_fn: Callable | None = None,
                 multi_avg_fn: Callable | None = None, use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, device=device))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current parameters (and buffers with use_buffers) into the average."""
        def tensors(m):
            return itertools.chain(m.parameters(), m.buffers()) if self.use_buffers else m.parameters()

        with no_grad():
            mine = [p.detach() for p in tensors(self.module)]
            theirs = [p.detach().to(a.device) for a, p in zip(mine, tensors(model))]
            n = int(self.n_averaged)
            if n == 0:
                for a, p in zip(mine, theirs):
                    a.copy_(p)
            elif self.avg_fn is not None:
                for a, p in zip(mine, theirs):
                    a.copy_(self.avg_fn(a, p, self.n_averaged))
            else:
                (self.multi_avg_fn or get_swa_multi_avg_fn())(mine, theirs, self.n_averaged)
            if not self.use_buffers:  # the buffers follow the model's
                for b, source in zip(self.module.buffers(), model.buffers()):
                    b.detach().copy_(source.detach().to(b.device))
            self.n_averaged += 1


def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recompute the batch norms' running statistics of ``model`` over one pass of ``loader`` (for averaged
    weights, whose statistics the training never saw): each batch norm's statistics are reset and become the
    plain average over the batches (momentum None), then its momentum is restored.

    Args:
        loader (iterable): batches (a tensor, or a list/tuple whose first element is the input).
        model (Module): the model, put in training mode for the pass and back as it was.
        device (str or ember.device, optional): where to move each input first. Default: None.

    PyTorch:
        ``torch.optim.swa_utils.update_bn``; same semantics.

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        >>> ember.optim.swa_utils.update_bn([ember.ones(4, 2)], model)
        >>> int(model[1].num_batches_tracked)
        1
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate to ``swa_lr`` over ``anneal_epochs`` epochs (cosine or linear), then
    keep it there: the schedule of stochastic weight averaging.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates it sets.
        swa_lr (float or list): the final learning rate, for all groups or one per group.
        anneal_epochs (int): the epochs of the annealing, >= 0. Default: 10.
        anneal_strategy (str): ``'cos'`` or ``'linear'``. Default: ``'cos'``.
        last_epoch (int): the index of the last epoch when resuming; -1 starts anew. Default: -1.

    PyTorch:
        ``torch.optim.swa_utils.SWALR``; the same formula.

    Example:
        >>> opt = ember.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = ember.optim.swa_utils.SWALR(opt, swa_lr=0.1, anneal_epochs=2, anneal_strategy="linear")
        >>> lrs = []
        >>> for epoch in range(4):
        ...     lrs.append(round(sched.get_last_lr()[0], 4)); opt.step(); sched.step()
        >>> lrs
        [1.0, 0.55, 0.1, 0.1]
    """

    def __init__(self, optimizer: Optimizer, swa_lr: float | list[float], anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1) -> None:
        for lr, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must by one of 'cos' or 'linear', instead got {anneal_strategy}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_strategy, self.anneal_epochs = anneal_strategy, anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _anneal(self, t):
        return t if self.anneal_strategy == "linear" else (1 - math.cos(math.pi * t)) / 2

    def get_lr(self) -> list[float]:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        before = self._anneal(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        now = self._anneal(max(0, min(1, step / max(1, self.anneal_epochs))))
        lrs = []
        for group in self.optimizer.param_groups:  # the rate before the annealing, recovered from the last one
            start = group["swa_lr"] if before == 1 else (group["lr"] - before * group["swa_lr"]) / (1 - before)
            lrs.append(group["swa_lr"] * now + start * (1 - now))
        return lrs
