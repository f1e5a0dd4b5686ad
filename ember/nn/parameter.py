"""Parameter (a tensor that a Module registers as learnable) and Buffer (one it registers as state)."""
from __future__ import annotations

from typing import Any, SupportsIndex

from ..device import CPU, move, to_device
from ..ops.creation import empty
from ..tensor import Tensor, init_tensor, tensor as _tensor

__all__ = ["Parameter", "Buffer"]


def _array_of(data):
    if data is None:
        return empty(0)._data
    if isinstance(data, Tensor):
        return data._data
    return _tensor(data)._data


class Parameter(Tensor):
    """A tensor that is a module parameter: assigning it to a Module attribute registers it (``parameters()``,
    ``state_dict()``, optimizers).

    ``Parameter(data)`` shares memory with data and is a leaf; its repr starts with "Parameter containing:".
    Deep copies and pickles keep the class and requires_grad.

    Args:
        data (Tensor, optional): the values (shared, not copied); an empty tensor when None. Default: None.
        requires_grad (bool): whether autograd computes its gradient. Default: True.

    PyTorch:
        ``torch.nn.Parameter``; same semantics.

    Example:
        >>> w = nn.Parameter(ember.zeros(2))
        >>> w
        Parameter containing:
        tensor([0., 0.], requires_grad=True)
        >>> w.is_leaf
        True
    """

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        init_tensor(self, _array_of(data))
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + Tensor.__repr__(self)

    __str__ = __repr__

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(Tensor._wrap(self._data.copy()), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (_rebuild_parameter, (move(self._data, CPU), str(self.device), self.requires_grad))


def _rebuild_parameter(array, dev, requires_grad):
    return Parameter(Tensor._wrap(move(array, to_device(dev))), requires_grad)


class Buffer(Tensor):
    """A tensor that, assigned to a Module attribute, is registered as a buffer (state that is not learned).

    It keeps data's values and requires_grad. Assigning it does what ``register_buffer(name, data, persistent)``
    does: the module then holds it as a buffer, moved by ``to()`` and saved in ``state_dict()`` when persistent.

    Args:
        data (Tensor, optional): the values; an empty tensor when None. Default: None.
        persistent (bool): whether ``state_dict`` includes it (keyword only). Default: True.

    PyTorch:
        ``torch.nn.Buffer``; same semantics.

    Example:
        >>> m = nn.Module()
        >>> m.steps = nn.Buffer(ember.zeros(1))
        >>> m.scratch = nn.Buffer(ember.zeros(3), persistent=False)
        >>> [name for name, _ in m.named_buffers()], list(m.state_dict())
        (['steps', 'scratch'], ['steps'])
    """

    def __init__(self, data: Tensor | None = None, *, persistent: bool = True) -> None:
        requires_grad = isinstance(data, Tensor) and data.requires_grad
        init_tensor(self, _array_of(data), requires_grad)  # copied from data as is, without requires_grad_'s checks
        self.persistent = persistent

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (_rebuild_buffer, (move(self._data, CPU), str(self.device), self.persistent))


def _rebuild_buffer(array, dev, persistent):
    return Buffer(Tensor._wrap(move(array, to_device(dev))), persistent=persistent)
