"""Optimizer base: parameter groups, per-parameter state, zero_grad, state_dict/load_state_dict."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias, TypeVar, overload

from .. import _tracing
from .._sparse import SparseCOO
from ..autograd import Node, no_grad
from ..autograd.graph import apply
from ..ops.meta import TensorMeta
from ..ops.registry import register
from ..tensor import Tensor
from ._sparse_grads import scaled

__all__ = ["Optimizer", "required"]

# What an optimizer is given: tensors, or parameter groups (dicts with "params" and their own hyper-parameters).
ParamsT: TypeAlias = Iterable[Tensor] | Iterable[dict[str, Any]]
StateDict: TypeAlias = dict[str, Any]
_Loss = TypeVar("_Loss")  # what a step's closure returns, and so the step


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class of the optimizers: parameter groups, per-parameter state, ``zero_grad``, ``step`` and state dicts.

    ``param_groups`` is a list of dicts, each with its ``params`` and its own hyper-parameters (those a group does
    not give come from ``defaults``); ``state`` maps each parameter to its dict of buffers (momentum, moments,
    step counts). A subclass implements ``_update(group, p, grad, state)``, which updates the parameter's array
    ``p`` in place from the gradient array ``grad`` (already negated under ``maximize``), or overrides ``step``.

    Args:
        params (iterable): the tensors to optimize, or dicts (parameter groups) with a ``"params"`` entry and the
            hyper-parameters that differ for that group.
        defaults (dict): the default hyper-parameters of every group.

    PyTorch:
        ``torch.optim.Optimizer``; the same groups, state and state dict layout. Not supported: named parameters
        (``(name, tensor)`` pairs) and the hooks (``register_step_pre_hook`` and the other ``register_*`` methods).

    Example:
        >>> model = nn.Linear(2, 1)
        >>> opt = ember.optim.SGD([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.5}], lr=0.1)
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.5]
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict[Tensor, Any] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, but "
                            f"got {type(params).__name__}")
        groups: list[Any] = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (those it does not give come from the defaults).

        Useful to train layers unfrozen during fine-tuning. A parameter may belong to one group only.

        Args:
            param_group (dict): ``{"params": tensor or iterable of tensors, "lr": ..., ...}``.

        PyTorch:
            ``torch.optim.Optimizer.add_param_group``; same semantics and errors.

        Example:
            >>> opt = ember.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
            >>> opt.add_param_group({"params": nn.Linear(2, 1).parameters(), "lr": 0.01})
            >>> len(opt.param_groups), opt.param_groups[1]["lr"], opt.param_groups[1]["momentum"]
            (2, 0.01, 0)
        """
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {k}")
            group.setdefault(k, v)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]) or len({id(p) for p in group["params"]}) != len(group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every optimized parameter, before the next backward accumulates new ones.

        Args:
            set_to_none (bool): set ``.grad`` to None (frees the memory) instead of filling it with zeros.
                Default: True.

        PyTorch:
            ``torch.optim.Optimizer.zero_grad``; same semantics.

        Example:
            >>> w = nn.Parameter(ember.tensor([1.0]))
            >>> opt = ember.optim.SGD([w], lr=0.1)
            >>> (2 * w).sum().backward()
            >>> opt.zero_grad(set_to_none=False); w.grad
            tensor([0.])
        """
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none and (p.grad is not None or _tracing.active[0]):
                    p.grad = None  # traced where None too: the graph holds for any .grad there (Tensor.grad)
                elif p.grad is not None:
                    if _tracing.active[0]:
                        _tracing.grad_seen(p)
                        p.grad.zero_()  # an op of the traced graph, on the .grad p holds when it runs
                    else:
                        p.grad._data[...] = 0

    @overload
    def step(self, closure: None = None) -> None: ...
    @overload
    def step(self, closure: Callable[[], _Loss]) -> _Loss: ...

    @no_grad()
    def step(self, closure: Callable[[], _Loss] | None = None) -> _Loss | None:
        """Take one optimization step: update every parameter that has a gradient (the others are left alone).

        Args:
            closure (callable, optional): a function that re-evaluates the model and returns the loss (it runs with
                gradients enabled, before the update); needed by LBFGS only. Default: None.

        Returns:
            what ``closure()`` returned, or None without a closure.

        PyTorch:
            ``torch.optim.Optimizer.step``; same semantics.

        Example:
            >>> w = nn.Parameter(ember.tensor([1.0, -1.0]))
            >>> opt = ember.optim.SGD([w], lr=0.5)
            >>> (w * w).sum().backward()
            >>> opt.step(); w
            Parameter containing:
            tensor([0., 0.], requires_grad=True)
        """
        loss = None
        if closure is not None:
            from ..autograd import enable_grad
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._group_step(group)
        return loss

    def _group_step(self, group):
        maximize = group.get("maximize", False)
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = p.grad._data
            if grad.__class__ is SparseCOO:  # a sparse gradient (Embedding(sparse=True)), for the optimizers that can
                self._sparse_update(group, p._data, scaled(grad, -1) if maximize else grad, self.state[p])
                continue  # (a trace holding one has broken already: graphs do not hold sparse tensors)
            if _tracing.active[0]:  # ember.compile: the update is an op of the graph, reading the .grad p holds
                _tracing.grad_seen(p)
                apply(OptimizerUpdate(self, group, p), p, p.grad)
                continue
            if maximize:
                grad = -grad
            self._update(group, p._data, grad, self.state[p])

    def _update(self, group, param, grad, state):
        raise NotImplementedError

    sparse_hint = ""  # what PyTorch's error suggests instead

    def _sparse_update(self, group, param, grad, state):
        """The update for a sparse gradient (a SparseCOO); most optimizers have none, as in PyTorch."""
        raise RuntimeError(f"{type(self).__name__} does not support sparse gradients{self.sparse_hint}")

    def state_dict(self) -> StateDict:
        """The optimizer's state, to save with the model's and restore with load_state_dict.

        Parameters are named by their index over all groups, in order, so the state dict fits another optimizer
        built the same way on another copy of the model.

        Returns:
            dict: ``{"state": {index: {buffer name: Tensor or number}}, "param_groups": [{hyper-parameters...,
            "params": [indices]}]}``; the buffers are copies.

        PyTorch:
            ``torch.optim.Optimizer.state_dict``; same layout. A step count is a Python int where PyTorch keeps a
            0-d tensor (``load_state_dict`` takes both).

        Example:
            >>> w = nn.Parameter(ember.tensor([1.0]))
            >>> opt = ember.optim.SGD([w], lr=0.1, momentum=0.9)
            >>> (w * w).sum().backward(); opt.step()
            >>> opt.state_dict()["state"]
            {0: {'momentum_buffer': tensor([2.])}}
        """
        index, groups, n = {}, [], 0
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                if id(p) not in index:
                    index[id(p)] = n
                    n += 1
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {k: (Tensor._wrap(v.copy()) if hasattr(v, "shape") and not
                                               isinstance(v, Tensor) else v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Restore the state and hyper-parameters that state_dict saved.

        Args:
            state_dict (dict): what ``state_dict()`` returned (for the same number and sizes of parameter groups;
                a buffer of another shape than its parameter is refused).

        PyTorch:
            ``torch.optim.Optimizer.load_state_dict``; same semantics (the buffers are copied, in the parameter's
            dtype).

        Example:
            >>> w = nn.Parameter(ember.tensor([1.0]))
            >>> saved = ember.optim.SGD([w], lr=0.1).state_dict()
            >>> opt = ember.optim.SGD([w], lr=0.5)
            >>> opt.load_state_dict(saved); opt.param_groups[0]["lr"]
            0.1
        """
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(groups)} parameter groups, but the optimizer has "
                             f"{len(self.param_groups)}")
        for i, (mine, saved) in enumerate(zip(self.param_groups, groups)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group (group {i}: {len(saved['params'])} saved, "
                                 f"{len(mine['params'])} here)")
        by_index = {}
        for mine, saved in zip(self.param_groups, groups):
            for p, idx in zip(mine["params"], saved["params"]):
                by_index[idx] = p
            for k, v in saved.items():
                if k != "params":
                    mine[k] = tuple(v) if k == "betas" and isinstance(v, list) else v
        self.state = defaultdict(dict)
        saved_state = state_dict["state"]
        for idx, st in saved_state.items():
            p = by_index[int(idx)]
            restored = {}
            for k, v in st.items():
                if isinstance(v, Tensor):
                    arr = v._data
                    if arr.ndim and tuple(arr.shape) != p._data.shape:
                        raise ValueError(f"optimizer state {k!r} of parameter {idx} has shape {tuple(arr.shape)}, "
                                         f"expected {tuple(p._data.shape)}")
                    if arr.__class__ is SparseCOO:
                        restored[k] = SparseCOO(arr.indices.copy(), arr.values.astype(p._data.dtype, copy=True),
                                                arr.shape, arr.coalesced)
                    else:
                        restored[k] = arr.astype(p._data.dtype, copy=True) if arr.ndim else arr.item()
                else:
                    restored[k] = v
            self.state[p] = restored


@register
class OptimizerUpdate(Node):
    """One parameter's update by its optimizer, in place, as an op: Optimizer.step's form in a compiled graph.

    The forward runs the optimizer's own array code (``_update``) with the parameter group it holds by reference and
    the parameter's state looked up when it runs (``load_state_dict`` replaces the state), so each run reads the
    group's current hyper-parameters (a scheduler's learning rate) and advances the state (step counts, moment
    buffers) exactly as an eager step does. Its output is the parameter itself."""

    saves = ()
    differentiable = False

    def __init__(self, optimizer, group, param):
        self.optimizer, self.group, self.param = optimizer, group, param

    @property
    def state(self):
        return self.optimizer.state[self.param]

    def infer(self, p, g):
        return TensorMeta(p.shape, p.dtype)

    def has_effects(self):
        return True

    def forward(self, xp, p, g):
        if self.group.get("maximize", False):
            g = -g
        self.optimizer._update(self.group, p, g, self.state)
        return p
