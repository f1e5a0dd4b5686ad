"""Containers (Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict) and Flatten/Unflatten."""
from __future__ import annotations

import operator
from collections import OrderedDict, abc as container_abcs
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain, islice
from typing import Any, overload

from ..ops._util import wrap_dim
from ..tensor import Tensor
from ..types import _size
from .module import Module, structure_version
from .parameter import Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "Flatten", "Unflatten"]


def _addindent(s_, num_spaces):
    s = s_.split("\n")
    if len(s) == 1:
        return s_
    first = s.pop(0)
    return first + "\n" + "\n".join((num_spaces * " ") + line for line in s)


def _abs_index(idx, size):
    """idx (an integer, possibly negative) as a position in 0..size-1, or PyTorch's IndexError."""
    idx = operator.index(idx)
    if not -size <= idx < size:
        raise IndexError(f"index {idx} is out of range")
    return idx % size


def _checked_pairs(owner, pairs):
    """The (key, value) pairs of an update() argument that is not a mapping, each checked as PyTorch does."""
    for j, p in enumerate(pairs):
        if not isinstance(p, container_abcs.Iterable):
            raise TypeError(f"{owner} update sequence element #{j} should be Iterable; is" + type(p).__name__)
        if len(p) != 2:
            raise ValueError(f"{owner} update sequence element #{j} has length {len(p)}; 2 is required")
        yield p


class Sequential(Module):
    """A module that calls its submodules one after another, each on the previous one's output.

    Built from modules (named "0", "1", ...) or from one OrderedDict of named modules. Indexing gives a submodule,
    slicing a new Sequential; ``+``, ``*``, ``append``, ``insert``, ``extend``, ``pop`` and ``del`` work as on lists.

    Args:
        *args (Module or OrderedDict[str, Module]): the modules in order, or one OrderedDict of them by name.

    PyTorch:
        ``torch.nn.Sequential``; same semantics, names and repr.

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> model(ember.ones(1, 4)).shape
        ember.Size([1, 2])
        >>> model[0]
        Linear(in_features=4, out_features=8, bias=True)
    """

    @overload
    def __init__(self, *args: Module) -> None: ...
    @overload
    def __init__(self, arg: OrderedDict[str, Module], /) -> None: ...

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def _get_item_by_idx(self, iterator, idx):
        return next(islice(iterator, _abs_index(idx, len(self)), None))

    @overload
    def __getitem__(self, idx: slice) -> Sequential: ...
    @overload
    def __getitem__(self, idx: int) -> Module: ...

    def __getitem__(self, idx: int | slice) -> Module | Sequential:
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        return self._get_item_by_idx(self._modules.values(), idx)

    def __setitem__(self, idx: int, module: Module) -> None:
        key = self._get_item_by_idx(self._modules.keys(), idx)
        setattr(self, key, module)

    def __delitem__(self, idx: int | slice) -> None:
        if isinstance(idx, slice):
            for key in list(self._modules.keys())[idx]:
                delattr(self, key)
        else:
            delattr(self, self._get_item_by_idx(self._modules.keys(), idx))
        self._modules = OrderedDict(zip((str(i) for i in range(len(self._modules))), self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        ret = Sequential()
        for layer in chain(self, other):
            ret.append(layer)
        return ret

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        offset = len(self)
        for i, module in enumerate(other):
            self.add_module(str(i + offset), module)
        return self

    def __mul__(self, other: int) -> Sequential:
        if not isinstance(other, int):
            raise TypeError(f"unsupported operand type(s) for *: {type(self)} and {type(other)}")
        if other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for {type(self)}")
        combined = Sequential()
        for i, module in enumerate(m for _ in range(other) for m in self):
            combined.add_module(str(i), module)
        return combined

    __rmul__ = __mul__

    def pop(self, key: int) -> Module:
        """Remove the module at position key and return it; the ones after it move down by one.

        Args:
            key (int): the position (negative counts from the end); IndexError when out of range.

        Returns:
            Module: the removed module.

        PyTorch:
            ``torch.nn.Sequential.pop``; same semantics.

        Example:
            >>> model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
            >>> model.pop(1)
            ReLU()
            >>> len(model)
            1
        """
        v = self[key]
        del self[key]
        return v

    def __dir__(self) -> list[str]:
        return [k for k in super().__dir__() if not k.isdigit()]

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def forward(self, input: Any) -> Any:
        """Call each submodule in order on the output of the previous one; call the Sequential itself rather than this.

        Args:
            input (Any): the first module's input.

        Returns:
            Any: the last module's output (the input itself when the Sequential is empty).

        PyTorch:
            ``torch.nn.Sequential.forward``; same semantics.

        Example:
            >>> nn.Sequential(nn.ReLU(), nn.Tanh())(ember.tensor([-1.0, 0.0]))
            tensor([0., 0.])
        """
        for module in self._modules.values():
            input = module(input)
        return input

    def append(self, module: Module) -> Sequential:
        """Add a module at the end.

        Args:
            module (Module): the module to append.

        Returns:
            Sequential: self.

        PyTorch:
            ``torch.nn.Sequential.append``; same semantics.

        Example:
            >>> nn.Sequential(nn.Linear(2, 2)).append(nn.ReLU())
            Sequential(
              (0): Linear(in_features=2, out_features=2, bias=True)
              (1): ReLU()
            )
        """
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert a module before position index; the ones from index on move up by one.

        Args:
            index (int): the position, from -len to len (negative counts from the end); IndexError otherwise.
            module (Module): the module to insert; AssertionError if it is not a Module.

        Returns:
            Sequential: self.

        PyTorch:
            ``torch.nn.Sequential.insert``; same semantics.

        Example:
            >>> nn.Sequential(nn.ReLU()).insert(0, nn.Identity())
            Sequential(
              (0): Identity()
              (1): ReLU()
            )
        """
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        if index < 0:
            index += n
        for i in range(n, index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module
        structure_version[0] += 1
        return self

    def extend(self, sequential: Iterable[Module]) -> Sequential:
        """Append every module of an iterable, in order.

        Args:
            sequential (Iterable[Module]): the modules (another Sequential, a list...).

        Returns:
            Sequential: self.

        PyTorch:
            ``torch.nn.Sequential.extend``; same semantics.

        Example:
            >>> len(nn.Sequential(nn.ReLU()).extend([nn.Linear(2, 2), nn.Tanh()]))
            3
        """
        for layer in sequential:
            self.append(layer)
        return self


class ModuleList(Module):
    """A list of submodules, registered so that ``parameters()``, ``state_dict()`` and ``to()`` reach them.

    Indexed like a list (names "0", "1", ...); supports ``append``, ``extend``, ``insert``, ``pop``, ``+``, ``+=``,
    ``del`` and slicing (a new ModuleList). It has no forward: the owner decides how to call the modules.

    Args:
        modules (Iterable[Module], optional): the initial modules. Default: None (empty).

    PyTorch:
        ``torch.nn.ModuleList``; same semantics and repr (runs of identical modules are printed once).

    Example:
        >>> layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
        >>> len(layers), len(list(layers.parameters()))
        (3, 6)
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self += modules

    def _get_abs_string_index(self, idx):
        return str(_abs_index(idx, len(self)))

    @overload
    def __getitem__(self, idx: slice) -> ModuleList: ...
    @overload
    def __getitem__(self, idx: int) -> Module: ...

    def __getitem__(self, idx: int | slice) -> Module | ModuleList:
        if isinstance(idx, slice):
            return self.__class__(list(self._modules.values())[idx])
        return self._modules[self._get_abs_string_index(idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, self._get_abs_string_index(idx), module)

    def __delitem__(self, idx: int | slice) -> None:
        if isinstance(idx, slice):
            for k in range(len(self._modules))[idx]:
                delattr(self, str(k))
        else:
            delattr(self, self._get_abs_string_index(idx))
        self._modules = OrderedDict(zip((str(i) for i in range(len(self._modules))), self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        combined = ModuleList()
        for i, module in enumerate(chain(self, other)):
            combined.add_module(str(i), module)
        return combined

    def __repr__(self) -> str:
        reprs = [repr(item) for item in self]
        if not reprs:
            return self._get_name() + "()"
        blocks: list[list[Any]] = []  # [start, end, repr] of runs of identical modules
        for i, r in enumerate(reprs):
            if blocks and blocks[-1][2] == r:
                blocks[-1][1] = i
            else:
                blocks.append([i, i, r])
        lines = []
        for start, end, r in blocks:
            line = f"({start}): {r}" if start == end else f"({start}-{end}): {end - start + 1} x {r}"
            lines.append(_addindent(line, 2))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self) -> list[str]:
        return [k for k in super().__dir__() if not k.isdigit()]

    def insert(self, index: int, module: Module) -> None:
        """Insert a module before position index."""
        for i in range(len(self._modules), index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module
        structure_version[0] += 1

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end."""
        self.add_module(str(len(self)), module)
        return self

    def pop(self, key: int) -> Module:
        v = self[key]
        del self[key]
        return v

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append every module of an iterable."""
        if not isinstance(modules, container_abcs.Iterable):
            raise TypeError("ModuleList.extend should be called with an iterable, but got " + type(modules).__name__)
        offset = len(self)
        for i, module in enumerate(modules):
            self.add_module(str(offset + i), module)
        return self


class ModuleDict(Module):
    """An ordered dict of submodules, registered so that ``parameters()``, ``state_dict()`` and ``to()`` reach them.

    Supports ``[key]``, ``in``, ``len``, iteration over the keys, ``keys``, ``values``, ``items``, ``update``,
    ``pop`` and ``clear``; the insertion order is kept. It has no forward.

    Args:
        modules (Mapping[str, Module] or Iterable[tuple[str, Module]], optional): the initial modules, by name.
            Default: None (empty).

    PyTorch:
        ``torch.nn.ModuleDict``; same semantics.

    Example:
        >>> acts = nn.ModuleDict({"relu": nn.ReLU(), "tanh": nn.Tanh()})
        >>> acts["tanh"](ember.zeros(2))
        tensor([0., 0.])
        >>> list(acts)
        ['relu', 'tanh']
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def clear(self) -> None:
        self._modules.clear()

    def pop(self, key: str) -> Module:
        v = self[key]
        del self[key]
        return v

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add modules from a mapping or an iterable of (name, module) pairs."""
        if not isinstance(modules, container_abcs.Iterable):
            raise TypeError("ModuleDict.update should be called with an iterable of key/value pairs, but got "
                            + type(modules).__name__)
        if isinstance(modules, (OrderedDict, ModuleDict, container_abcs.Mapping)):
            for key, module in modules.items():
                self[key] = module
        else:
            for m in _checked_pairs("ModuleDict", modules):
                self[m[0]] = m[1]


def _param_line(k, p):
    if isinstance(p, Tensor):
        size = "x".join(str(s) for s in p.shape)
        dev = f" ({p.device})" if p.device.type != "cpu" else ""
        kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
        return f"  ({k}): {kind} containing: [{p.dtype!r} of size {size}{dev}]"
    return f"  ({k}): Object of type: {type(p).__name__}"


class ParameterList(Module):
    """A list of parameters, registered so that ``parameters()`` and ``state_dict()`` reach them.

    Plain tensors put in it are wrapped in Parameter; other objects are kept as they are. Supports indexing, slicing,
    ``append``, ``extend``, ``+=``, ``len`` and iteration. It cannot be called.

    Args:
        values (Iterable[Any], optional): the initial values. Default: None (empty).

    PyTorch:
        ``torch.nn.ParameterList``; same semantics and repr.

    Example:
        >>> params = nn.ParameterList([ember.ones(2), ember.zeros(3)])
        >>> [type(p).__name__ for p in params], params[1].shape
        (['Parameter', 'Parameter'], ember.Size([3]))
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        self._size = 0
        if values is not None:
            self += values

    def _get_abs_string_index(self, idx):
        return str(_abs_index(idx, len(self)))

    @overload
    def __getitem__(self, idx: slice) -> ParameterList: ...
    @overload
    def __getitem__(self, idx: int) -> Any: ...

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            out = self.__class__()
            for i in range(*idx.indices(len(self))):
                out.append(self[i])
            return out
        return getattr(self, self._get_abs_string_index(idx))

    def __setitem__(self, idx: int, param: Any) -> None:
        name = self._get_abs_string_index(idx)
        if isinstance(param, Tensor) and not isinstance(param, Parameter):
            param = Parameter(param)
        setattr(self, name, param)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        return iter(self[i] for i in range(len(self)))

    def __iadd__(self, parameters: Iterable[Any]) -> ParameterList:
        return self.extend(parameters)

    def __dir__(self) -> list[str]:
        return [k for k in super().__dir__() if not k.isdigit()]

    def append(self, value: Any) -> ParameterList:
        """Add a parameter at the end."""
        new_idx = len(self)
        self._size += 1
        self[new_idx] = value
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Append every parameter of an iterable."""
        if not isinstance(values, container_abcs.Iterable) or isinstance(values, Tensor):
            raise TypeError("ParameterList.extend should be called with an iterable, but got "
                            + type(values).__name__)
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(_param_line(k, p) for k, p in enumerate(self))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterList should not be called.")


class ParameterDict(Module):
    """An ordered dict of parameters, registered so that ``parameters()`` and ``state_dict()`` reach them.

    Plain tensors put in it are wrapped in Parameter. Supports the dict methods (``[key]``, ``get``, ``keys``,
    ``values``, ``items``, ``update``, ``pop``, ``popitem``, ``setdefault``, ``copy``, ``|``); keys are strings.
    It cannot be called.

    Args:
        parameters (Mapping[str, Any] or Iterable[tuple[str, Any]], optional): the initial values, by name; a plain
            dict is added in sorted key order, an OrderedDict or pairs in their order. Default: None (empty).

    PyTorch:
        ``torch.nn.ParameterDict``; same semantics and repr.

    Example:
        >>> params = nn.ParameterDict({"scale": ember.ones(2), "shift": ember.zeros(2)})
        >>> [name for name, _ in params.named_parameters()]
        ['scale', 'shift']
    """

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> None:
        super().__init__()
        self._keys: dict[str, None] = {}
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _key_to_attr(key):
        if not isinstance(key, str):
            raise TypeError("Index given to ParameterDict cannot be used as a key as it is not a string (type is "
                            f"'{type(key).__name__}').")
        return key

    def __getitem__(self, key: str) -> Any:
        return getattr(self, self._key_to_attr(key))

    def __setitem__(self, key: str, value: Any) -> None:
        self._keys[key] = None
        attr = self._key_to_attr(key)
        if isinstance(value, Tensor) and not isinstance(value, Parameter):
            value = Parameter(value)
        setattr(self, attr, value)

    def __delitem__(self, key: str) -> None:
        del self._keys[key]
        delattr(self, self._key_to_attr(key))

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __reversed__(self) -> Iterator[str]:
        return reversed(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def copy(self) -> ParameterDict:
        return ParameterDict(OrderedDict((k, self[k]) for k in self._keys))

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self) -> None:
        for k in self._keys.copy():
            del self[k]

    def pop(self, key: str) -> Any:
        v = self[key]
        del self[key]
        return v

    def popitem(self) -> tuple[str, Any]:
        k, _ = self._keys.popitem()
        self._keys[k] = None
        val = self[k]
        del self[k]
        return k, val

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def fromkeys(self, keys: Iterable[str], default: Any = None) -> ParameterDict:
        return ParameterDict((k, default) for k in keys)

    def keys(self) -> Iterable[str]:
        return self._keys.keys()

    def items(self) -> Iterable[tuple[str, Any]]:
        return ((k, self[k]) for k in self._keys)

    def values(self) -> Iterable[Any]:
        return (self[k] for k in self._keys)

    def update(self, parameters: ParameterDict | Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Add parameters from a mapping (plain dicts in sorted key order) or (name, value) pairs."""
        if not isinstance(parameters, container_abcs.Iterable):
            raise TypeError("ParametersDict.update should be called with an iterable of key/value pairs, but got "
                            + type(parameters).__name__)
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            for key, p in parameters.items():
                self[key] = p
        elif isinstance(parameters, container_abcs.Mapping):
            for key, p in sorted(parameters.items()):
                self[key] = p
        else:
            for p in _checked_pairs("ParameterDict", parameters):
                self[p[0]] = p[1]

    def extra_repr(self) -> str:
        return "\n".join(_param_line(k, p) for k, p in self.items())

    def __call__(self, input: Any) -> Any:  # type: ignore[override]
        raise RuntimeError("ParameterDict should not be called.")

    def __or__(self, other: ParameterDict) -> ParameterDict:
        c = self.copy()
        c.update(other)
        return c

    def __ror__(self, other: ParameterDict) -> ParameterDict:
        c = other.copy()
        c.update(self)
        return c

    def __ior__(self, other: ParameterDict) -> ParameterDict:
        self.update(other)
        return self


class Flatten(Module):
    """Flatten the dimensions start_dim..end_dim of the input into one (a view when possible).

    Args:
        start_dim (int): the first dimension to flatten (negative counts from the end). Default: 1 (keeps the batch).
        end_dim (int): the last dimension to flatten. Default: -1.

    Shape:
        - Input: (*, S_start, ..., S_end, *).
        - Output: (*, S_start * ... * S_end, *); a 0-d input gives shape (1,).

    PyTorch:
        ``torch.nn.Flatten``; same semantics.

    Example:
        >>> nn.Flatten()(ember.ones(2, 3, 4)).shape
        ember.Size([2, 12])
        >>> nn.Flatten(0, 1)(ember.ones(2, 3, 4)).shape
        ember.Size([6, 4])
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        shape = input._data.shape
        n = len(shape)
        if n == 0:
            return input.reshape(1)
        s = wrap_dim(self.start_dim, n, "flatten")
        e = wrap_dim(self.end_dim, n, "flatten")
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if s == e:
            return input
        size = 1
        for d in shape[s:e + 1]:
            size *= d
        return input.reshape(shape[:s] + (size,) + shape[e + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dimension dim of the input into several dimensions of sizes unflattened_size.

    Args:
        dim (int): the dimension to expand (negative counts from the end).
        unflattened_size (tuple[int, ...] or list[int]): the new sizes, whose product is the size of dim; one of them
            may be -1 (inferred).

    Shape:
        - Input: (*, S_dim, *).
        - Output: (*, U_1, ..., U_n, *), where U_1 * ... * U_n = S_dim.

    PyTorch:
        ``torch.nn.Unflatten``; same semantics (a named-dimension form is not supported: ember has no named tensors).

    Example:
        >>> nn.Unflatten(1, (2, 3))(ember.ones(4, 6)).shape
        ember.Size([4, 2, 3])
    """

    def __init__(self, dim: int, unflattened_size: _size) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for idx, elem in enumerate(unflattened_size):
            if not isinstance(elem, int):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of type "
                                f"{type(elem).__name__} at pos {idx}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        shape = input._data.shape
        d = wrap_dim(self.dim, len(shape), "unflatten")
        sizes = list(self.unflattened_size)
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        if sizes.count(-1) > 1:
            raise RuntimeError("unflatten: only one dimension can be inferred (-1)")
        if -1 in sizes:
            if known == 0 or shape[d] % known:
                raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {self.dim} "
                                   f"({shape[d]}) in the input tensor")
            sizes[sizes.index(-1)] = shape[d] // known
        elif known != shape[d]:
            raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {self.dim} "
                               f"({shape[d]}) in the input tensor")
        return input.reshape(shape[:d] + tuple(sizes) + shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
