"""Module: the base class of every layer, following torch.nn.Module (registration, state_dict, hooks, repr)."""
from __future__ import annotations

import functools
import itertools
import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import numpy as np

from .. import _tracing
from ..autograd import no_grad
from ..ops.copy import parse_to
from ..ops.creation import empty_like
from ..tensor import Tensor
from ..types import Device
from .hooks import (  # noqa: F401  (the register_module_* functions are torch.nn.modules.module's too)
    BackwardHook, RemovableHandle, add_hook, global_backward_hooks, global_backward_pre_hooks, global_forward_hooks,
    global_forward_pre_hooks, globals_active, register_module_forward_hook, register_module_forward_pre_hook,
    register_module_full_backward_hook, register_module_full_backward_pre_hook,
)
from .parameter import Buffer, Parameter

__all__ = [
    "Module", "RemovableHandle", "register_module_forward_pre_hook", "register_module_forward_hook",
    "register_module_full_backward_pre_hook", "register_module_full_backward_hook",
]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(s_, num_spaces):
    s = s_.split("\n")
    if len(s) == 1:
        return s_
    first = s.pop(0)
    s = [(num_spaces * " ") + line if line.strip() else "" for line in s]
    return first + "\n" + "\n".join(s)


def _typename(obj):
    if isinstance(obj, Tensor):
        return "ember." + type(obj).__name__
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins", None) else f"{module}.{name}"


# ---------------------------------------------------------------------------------------------------------------

def _forward_unimplemented(self: Module, *input: Any) -> Any:
    """The computation of the module, which every subclass defines; call the module (``model(x)``), not ``forward``.

    Calling the module runs ``forward`` between the registered hooks; the base class's ``forward`` raises
    NotImplementedError.

    Args:
        *input: whatever the subclass's forward takes (usually one or more tensors).

    Returns:
        Any: whatever the subclass's forward returns (usually a tensor).

    PyTorch:
        ``torch.nn.Module.forward``; same semantics.

    Example:
        >>> class Double(nn.Module):
        ...     def forward(self, x):
        ...         return 2 * x
        >>> Double()(ember.tensor([1.0, 2.0]))
        tensor([2., 4.])
    """
    raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')


_EXTRA_STATE_KEY_SUFFIX = "_extra_state"

# Goes up whenever any module's parameters, buffers, submodules or training flag are set or removed: a compiled
# graph rechecks the modules it was traced with only when this moved.
structure_version = [0]

T = TypeVar("T", bound="Module")  # what the methods that return self return, in a subclass its own type


class Module:
    """Base class for all layers and models: subclass it, create the layers in ``__init__`` and compute in ``forward``.

    Assigning a Parameter, a Module or a buffer to an attribute registers it, so that ``parameters()``,
    ``state_dict()``, ``to()`` and ``train()``/``eval()`` reach it. Calling the module runs its hooks around
    ``forward``.

    Args:
        *args, **kwargs: none, unless the subclass sets ``call_super_init = True``: then they are passed on to the
            next class's ``__init__`` (cooperative multiple inheritance); otherwise any argument is a TypeError.

    PyTorch:
        ``torch.nn.Module``; same registration rules, state_dict keys, hooks and repr.

    Example:
        >>> class TwoLayers(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = nn.Linear(4, 8)
        ...         self.out = nn.Linear(8, 2)
        ...     def forward(self, x):
        ...         return self.out(self.hidden(x).relu())
        >>> model = TwoLayers()
        >>> model(ember.randn(5, 4)).shape
        ember.Size([5, 2])
        >>> [name for name, _ in model.named_parameters()]
        ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    dump_patches = False
    _version = 1
    call_super_init = False
    # What __init__ puts in every module's __dict__:
    training: bool
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Tensor | None]
    _non_persistent_buffers_set: set[str]
    _modules: dict[str, Module]  # or None for a child set to None (children() skips those)
    _backward_pre_hooks: OrderedDict[int, Callable[..., Any]]
    _backward_hooks: OrderedDict[int, Callable[..., Any]]
    _is_full_backward_hook: bool | None
    _forward_hooks: OrderedDict[int, Callable[..., Any]]
    _forward_hooks_with_kwargs: OrderedDict[int, bool]
    _forward_hooks_always_called: OrderedDict[int, bool]
    _forward_pre_hooks: OrderedDict[int, Callable[..., Any]]
    _forward_pre_hooks_with_kwargs: OrderedDict[int, bool]
    _state_dict_hooks: OrderedDict[int, Callable[..., Any]]
    _state_dict_pre_hooks: OrderedDict[int, Callable[..., Any]]
    _load_state_dict_pre_hooks: OrderedDict[int, Callable[..., Any]]
    _load_state_dict_post_hooks: OrderedDict[int, Callable[..., Any]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if self.call_super_init is False and kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                            f"'{next(iter(kwargs))}'")
        if self.call_super_init is False and args:
            raise TypeError(f"{type(self).__name__}.__init__() takes 1 positional argument but {len(args) + 1} "
                            "were given")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_is_full_backward_hook"] = None
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = OrderedDict()
        d["_forward_hooks_always_called"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = OrderedDict()
        d["_state_dict_hooks"] = OrderedDict()
        d["_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_post_hooks"] = OrderedDict()
        d["_modules"] = {}
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    forward: Callable[..., Any] = _forward_unimplemented

    # --- registration ---------------------------------------------------------------------------------------
    def _check_new_name(self, kind, name, store):
        """PyTorch's checks on the name of a new parameter or buffer (kind), to be kept in self.<store>."""
        if store not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain "."')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in self.__dict__[store]:
            raise KeyError(f"attribute '{name}' already exists")

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a tensor (or None) as state of the module that is not a parameter, such as a running mean.

        A buffer is moved and cast by ``to()`` with the parameters; persistent buffers are saved in ``state_dict``.

        Args:
            name (str): the attribute name (no ``.``, not empty, not an existing attribute).
            tensor (Tensor or None): the buffer; None keeps the name registered without a value.
            persistent (bool): whether ``state_dict`` includes it. Default: True.

        PyTorch:
            ``torch.nn.Module.register_buffer``; same semantics and errors.

        Example:
            >>> m = nn.Module()
            >>> m.register_buffer("steps", ember.zeros(1))
            >>> m.register_buffer("cache", ember.zeros(2), persistent=False)
            >>> list(m.state_dict())
            ['steps']
        """
        self._check_new_name("buffer", name, "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(ember Tensor or None required)")
        self._buffers[name] = tensor
        structure_version[0] += 1
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register a Parameter (or None) under name, as assigning it to the attribute does.

        Args:
            name (str): the attribute name (no ``.``, not empty, not an existing attribute).
            param (Parameter or None): a leaf Parameter; None keeps the name registered without a value.

        PyTorch:
            ``torch.nn.Module.register_parameter``; same semantics and errors (a non-leaf tensor is a ValueError).

        Example:
            >>> m = nn.Module()
            >>> m.register_parameter("scale", nn.Parameter(ember.ones(3)))
            >>> [name for name, _ in m.named_parameters()]
            ['scale']
        """
        self._check_new_name("parameter", name, "_parameters")
        if param is None:
            self._parameters[name] = None
        elif not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(ember.nn.Parameter or None required)")
        elif param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                             f"created explicitly. To express '{name}' as a function of another Tensor, compute "
                             "the value in the forward() method.")
        else:
            self._parameters[name] = param
        structure_version[0] += 1

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a child module (or None) under name, as assigning it to the attribute does.

        Args:
            name (str): the attribute name (no ``.``, not empty, not an existing attribute).
            module (Module or None): the child; None keeps the name as an empty slot.

        PyTorch:
            ``torch.nn.Module.add_module``; same semantics and errors.

        Example:
            >>> m = nn.Module()
            >>> m.add_module("fc", nn.Linear(2, 3))
            >>> m.fc
            Linear(in_features=2, out_features=3, bias=True)
        """
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = module  # type: ignore[assignment]  # None keeps the name as an empty slot
        structure_version[0] += 1

    def register_module(self, name: str, module: Module | None) -> None:
        """Register a child module (or None) under name; an alias of ``add_module``.

        Args:
            name (str): the attribute name (no ``.``, not empty, not an existing attribute).
            module (Module or None): the child; None keeps the name as an empty slot.

        PyTorch:
            ``torch.nn.Module.register_module``; same semantics.

        Example:
            >>> m = nn.Module()
            >>> m.register_module("act", nn.ReLU())
            >>> m
            Module(
              (act): ReLU()
            )
        """
        self.add_module(name, module)

    def get_submodule(self, target: str) -> Module:
        """Return the submodule at a dotted path such as ``"encoder.0"`` (the empty string is the module itself).

        Args:
            target (str): the dotted path of attribute names.

        Returns:
            Module: the submodule; AttributeError if a name is missing or is not a Module.

        PyTorch:
            ``torch.nn.Module.get_submodule``; same semantics and errors.

        Example:
            >>> model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU()))
            >>> model.get_submodule("1.0")
            ReLU()
        """
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return mod

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Replace (or add) the submodule at a dotted path such as ``"encoder.0"``.

        Args:
            target (str): the dotted path; every name but the last must lead to an existing submodule.
            module (Module): the new submodule.
            strict (bool): when True, the last name must already exist (AttributeError otherwise). Default: False.

        PyTorch:
            ``torch.nn.Module.set_submodule``; same semantics and errors.

        Example:
            >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
            >>> model.set_submodule("1", nn.Tanh())
            >>> model[1]
            Tanh()
        """
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        atoms = target.split(".")
        if not isinstance(module, Module):
            raise ValueError("`" + "module" + f"` is not an nn.Module, found {type(module)}")
        parent = self if len(atoms) == 1 else self.get_submodule(".".join(atoms[:-1]))
        if strict and not hasattr(parent, atoms[-1]):
            raise AttributeError(parent._get_name() + " has no attribute `" + atoms[-1] + "`")
        if hasattr(parent, atoms[-1]) and not isinstance(getattr(parent, atoms[-1]), Module):
            raise AttributeError("`" + atoms[-1] + "` is not an nn.Module")
        setattr(parent, atoms[-1], module)

    def _attribute_at(self, target):
        """(module, name, value) of the attribute at a dotted path such as ``"net.0.weight"``."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        return mod, name, getattr(mod, name)

    def get_parameter(self, target: str) -> Parameter:
        """Return the parameter at a dotted path such as ``"0.weight"``.

        Args:
            target (str): the dotted path: submodule names, then the parameter's name.

        Returns:
            Parameter: the parameter; AttributeError if the path is missing or names something else.

        PyTorch:
            ``torch.nn.Module.get_parameter``; same semantics and errors.

        Example:
            >>> model = nn.Sequential(nn.Linear(2, 3))
            >>> model.get_parameter("0.weight").shape
            ember.Size([3, 2])
        """
        _, name, param = self._attribute_at(target)
        if not isinstance(param, Parameter):
            raise AttributeError("`" + name + "` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """Return the buffer at a dotted path such as ``"0.running_mean"``.

        Args:
            target (str): the dotted path: submodule names, then the buffer's name.

        Returns:
            Tensor: the buffer; AttributeError if the path is missing or names something that is not a buffer.

        PyTorch:
            ``torch.nn.Module.get_buffer``; same semantics and errors.

        Example:
            >>> model = nn.Sequential(nn.BatchNorm1d(3))
            >>> model.get_buffer("0.running_mean")
            tensor([0., 0., 0.])
        """
        mod, name, buf = self._attribute_at(target)
        if name not in mod._buffers:
            raise AttributeError("`" + name + "` is not a buffer")
        return buf

    def get_extra_state(self) -> Any:
        """Return extra state to save in ``state_dict``; override it together with ``set_extra_state``.

        When a subclass overrides it, ``state_dict`` stores its result under the key ``<prefix>_extra_state`` and
        ``load_state_dict`` hands that value to ``set_extra_state``. The base class's version is never called.

        Returns:
            Any: the state (something ``ember.save`` can pickle).

        PyTorch:
            ``torch.nn.Module.get_extra_state``; same semantics.

        Example:
            >>> class Counter(nn.Module):
            ...     def __init__(self):
            ...         super().__init__()
            ...         self.count = 3
            ...     def get_extra_state(self):
            ...         return {"count": self.count}
            ...     def set_extra_state(self, state):
            ...         self.count = state["count"]
            >>> dict(Counter().state_dict())
            {'_extra_state': {'count': 3}}
        """
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never be called.")

    def set_extra_state(self, state: Any) -> None:
        """Restore the extra state that ``get_extra_state`` returned; override the two together.

        ``load_state_dict`` calls it with the value stored under ``<prefix>_extra_state``; the base class's version is
        never called.

        Args:
            state (Any): the value ``get_extra_state`` returned when the state_dict was made.

        PyTorch:
            ``torch.nn.Module.set_extra_state``; same semantics.

        Example:
            >>> class Counter(nn.Module):
            ...     def __init__(self):
            ...         super().__init__()
            ...         self.count = 0
            ...     def get_extra_state(self):
            ...         return self.count
            ...     def set_extra_state(self, state):
            ...         self.count = state
            >>> c = Counter()
            >>> c.load_state_dict({"_extra_state": 7})
            <All keys matched successfully>
            >>> c.count
            7
        """
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never be called.")

    # --- attributes -----------------------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Tensor | Module:
        d = self.__dict__
        if "_parameters" in d:
            p = d["_parameters"]
            if name in p:
                return p[name]
            b = d["_buffers"]
            if name in b:
                return b[name]
            m = d["_modules"]
            if name in m:
                return m[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__

        def remove_from(*dicts_or_sets):
            for c in dicts_or_sets:
                if name in c:
                    if isinstance(c, dict):
                        del c[name]
                    else:
                        c.discard(name)

        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            remove_from(d, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(ember.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        else:
            modules = d.get("_modules")
            if isinstance(value, Module):
                if modules is None:
                    raise AttributeError("cannot assign module before Module.__init__() call")
                remove_from(d, self._parameters, self._buffers, self._non_persistent_buffers_set)
                modules[name] = value
                structure_version[0] += 1
            elif modules is not None and name in modules:
                if value is not None:
                    raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                    "(ember.nn.Module or None expected)")
                modules[name] = value
                structure_version[0] += 1
            else:
                buffers = d.get("_buffers")
                if isinstance(value, Buffer) or (buffers is not None and name in buffers):
                    if value is not None and not isinstance(value, Tensor):
                        raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                        "(ember.nn.Buffer, ember.Tensor or None expected)")
                    if isinstance(value, Buffer):
                        persistent = value.persistent
                    else:
                        persistent = name not in self._non_persistent_buffers_set
                    self.register_buffer(name, value, persistent)
                else:
                    object.__setattr__(self, name, value)
                    if name == "training":
                        structure_version[0] += 1

    def __delattr__(self, name: str) -> None:
        structure_version[0] += 1
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = (dir(self.__class__) + list(self.__dict__) + list(self._parameters) + list(self._modules)
                + list(self._buffers))
        return sorted(k for k in keys if not k[0].isdigit())

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # --- iteration ------------------------------------------------------------------------------------------
    def _named_members(self, get_members_fn, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for k, v in get_members_fn(module):
                if v is None or id(v) in memo:
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield module_prefix + ("." if module_prefix else "") + k, v

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Iterate over the parameters of the module (and of its submodules), each shared parameter once.

        Args:
            recurse (bool): include the submodules' parameters; only the module's own when False. Default: True.

        Returns:
            Iterator[Parameter]: the parameters, in registration order (the module's own first, then each child's).

        PyTorch:
            ``torch.nn.Module.parameters``; same semantics.

        Example:
            >>> model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 1))
            >>> sum(p.numel() for p in model.parameters())
            19
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Iterate over (dotted name, parameter) pairs of the module and its submodules.

        Args:
            prefix (str): prepended to every name. Default: "".
            recurse (bool): include the submodules' parameters. Default: True.
            remove_duplicate (bool): yield a parameter shared by several modules only once. Default: True.

        Returns:
            Iterator[tuple[str, Parameter]]: the pairs, in registration order.

        PyTorch:
            ``torch.nn.Module.named_parameters``; same semantics.

        Example:
            >>> model = nn.Sequential(nn.Linear(4, 3))
            >>> [(name, p.shape) for name, p in model.named_parameters()]
            [('0.weight', ember.Size([3, 4])), ('0.bias', ember.Size([3]))]
        """
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Iterate over the buffers of the module (and of its submodules).

        Args:
            recurse (bool): include the submodules' buffers; only the module's own when False. Default: True.

        Returns:
            Iterator[Tensor]: the buffers (persistent or not), each shared one once.

        PyTorch:
            ``torch.nn.Module.buffers``; same semantics.

        Example:
            >>> [b.shape for b in nn.BatchNorm1d(3).buffers()]
            [ember.Size([3]), ember.Size([3]), ember.Size([])]
        """
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Iterate over (dotted name, buffer) pairs of the module and its submodules.

        Args:
            prefix (str): prepended to every name. Default: "".
            recurse (bool): include the submodules' buffers. Default: True.
            remove_duplicate (bool): yield a buffer shared by several modules only once. Default: True.

        Returns:
            Iterator[tuple[str, Tensor]]: the pairs, in registration order.

        PyTorch:
            ``torch.nn.Module.named_buffers``; same semantics.

        Example:
            >>> [name for name, _ in nn.Sequential(nn.BatchNorm1d(3)).named_buffers()]
            ['0.running_mean', '0.running_var', '0.num_batches_tracked']
        """
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def children(self) -> Iterator[Module]:
        """Iterate over the direct submodules (not their own children), each once.

        Returns:
            Iterator[Module]: the children in registration order; slots set to None are skipped.

        PyTorch:
            ``torch.nn.Module.children``; same semantics.

        Example:
            >>> list(nn.Sequential(nn.Linear(2, 2), nn.ReLU()).children())
            [Linear(in_features=2, out_features=2, bias=True), ReLU()]
        """
        for _, m in self.named_children():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Iterate over (name, direct submodule) pairs, each submodule once.

        Returns:
            Iterator[tuple[str, Module]]: the pairs in registration order; slots set to None are skipped.

        PyTorch:
            ``torch.nn.Module.named_children``; same semantics.

        Example:
            >>> [name for name, _ in nn.Sequential(nn.Linear(2, 2), nn.ReLU()).named_children()]
            ['0', '1']
        """
        memo = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def modules(self, remove_duplicate: bool = True) -> Iterator[Module]:
        """Iterate over every module of the tree, the module itself first, depth first.

        Args:
            remove_duplicate (bool): yield a module that appears several times in the tree only once. Default: True.

        Returns:
            Iterator[Module]: the modules.

        PyTorch:
            ``torch.nn.Module.modules``; same semantics.

        Example:
            >>> [type(m).__name__ for m in nn.Sequential(nn.Linear(2, 2), nn.ReLU()).modules()]
            ['Sequential', 'Linear', 'ReLU']
        """
        for _, m in self.named_modules(remove_duplicate=remove_duplicate):
            yield m

    def named_modules(self, memo: set[Module] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """Iterate over (dotted name, module) pairs of the whole tree, the module itself first (named ``prefix``).

        Args:
            memo (set[Module], optional): modules already yielded, skipped (used by the recursion). Default: None.
            prefix (str): the name of the module itself, prepended to the others'. Default: "".
            remove_duplicate (bool): yield a module that appears several times in the tree only once. Default: True.

        Returns:
            Iterator[tuple[str, Module]]: the pairs, depth first.

        PyTorch:
            ``torch.nn.Module.named_modules``; same semantics.

        Example:
            >>> [name for name, _ in nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU())).named_modules()]
            ['', '0', '1', '1.0']
        """
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    # --- modes and gradients -------------------------------------------------------------------------------
    def train(self: T, mode: bool = True) -> T:
        """Set training mode (or evaluation mode) on the module and all its descendants.

        The mode changes what layers such as Dropout and BatchNorm do; it does not disable gradients.

        Args:
            mode (bool): True for training, False for evaluation; ValueError if not a bool. Default: True.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.train``; same semantics.

        Example:
            >>> model = nn.Sequential(nn.Dropout())
            >>> model.train(False)[0].training
            False
        """
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self: T) -> T:
        """Set evaluation mode on the module and all its descendants; the same as ``train(False)``.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.eval``; same semantics.

        Example:
            >>> model = nn.Sequential(nn.Dropout()).eval()
            >>> model.training, model[0].training
            (False, False)
        """
        return self.train(False)

    def requires_grad_(self: T, requires_grad: bool = True) -> T:
        """Set ``requires_grad`` on every parameter of the module and its submodules (in place), e.g. to freeze them.

        Args:
            requires_grad (bool): whether autograd records operations on the parameters. Default: True.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.requires_grad_``; same semantics.

        Example:
            >>> layer = nn.Linear(2, 2).requires_grad_(False)
            >>> layer.weight.requires_grad
            False
        """
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None by default, or to zeros in place.

        Args:
            set_to_none (bool): set ``.grad`` to None (less memory; optimizers skip such parameters) instead of filling
                it with zeros. Default: True.

        PyTorch:
            ``torch.nn.Module.zero_grad``; same semantics.

        Example:
            >>> layer = nn.Linear(2, 1)
            >>> layer(ember.ones(1, 2)).sum().backward()
            >>> layer.zero_grad()
            >>> layer.weight.grad is None
            True
        """
        for p in self.parameters():
            if set_to_none and (p.grad is not None or _tracing.active[0]):
                p.grad = None  # traced where None too: the graph holds for any .grad there (Tensor.grad)
            elif p.grad is not None:
                if p.grad.grad_fn is not None:
                    p.grad.detach_()
                else:
                    p.grad.requires_grad_(False)
                with no_grad():
                    p.grad.zero_()

    def share_memory(self: T) -> T:
        """Move every parameter, gradient and buffer into memory shared between processes, in place.

        The Parameter objects keep their identity (see ``Tensor.share_memory_``). Worker processes then train this
        very model (Hogwild): forked ones share it, and 'spawn' or 'forkserver' ones that receive the module as an
        argument map the same memory.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.share_memory``; same semantics.

        Example:
            >>> layer = nn.Linear(2, 2).share_memory()
            >>> layer.weight.is_shared()
            True
        """
        return self._apply(lambda t: t.share_memory_())

    # --- conversion -----------------------------------------------------------------------------------------
    def _apply(self, fn, recurse=True):
        """Apply fn to every parameter (in place: the Parameter objects keep their identity), gradient and buffer."""
        if recurse:
            for module in self.children():
                module._apply(fn)
        for key, param in self._parameters.items():
            if param is None:
                continue
            with no_grad():
                applied = fn(param)
            param._data = applied._data
            if param.grad is not None:
                with no_grad():
                    param.grad._data = fn(param.grad)._data
        for key, buf in self._buffers.items():
            if buf is not None:
                self._buffers[key] = fn(buf)
        structure_version[0] += 1
        return self

    def apply(self: T, fn: Callable[[Module], None]) -> T:
        """Call fn on every submodule (children first, depth first) and then on the module itself, e.g. to initialise.

        Args:
            fn (Callable[[Module], None]): called with each module; its result is ignored.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.apply``; same semantics.

        Example:
            >>> def zero_linear(m):
            ...     if isinstance(m, nn.Linear):
            ...         nn.init.zeros_(m.weight)
            >>> model = nn.Sequential(nn.Linear(2, 2), nn.ReLU()).apply(zero_linear)
            >>> model[0].weight
            Parameter containing:
            tensor([[0., 0.],
                    [0., 0.]], requires_grad=True)
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def to(self: T, *args: Any, **kwargs: Any) -> T:
        """Move and/or cast the parameters and buffers, in place: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``,
        ``to(tensor)`` (its device and dtype).

        Only floating-point tensors are cast (integer buffers keep their dtype); the Parameter objects keep their
        identity, so an optimizer built before still holds them.

        Args:
            *args, **kwargs: ``device`` (str or ember.device), ``dtype`` (a floating-point ember.dtype; TypeError
                otherwise) and/or ``tensor``, positionally or by keyword, as ``Tensor.to``; ``non_blocking`` and
                ``memory_format`` are accepted and ignored.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.to``; same semantics, except that ``memory_format`` has no effect.

        Example:
            >>> layer = nn.Linear(2, 2).to(ember.float64)
            >>> layer.weight.dtype
            ember.float64
        """
        device, dtype, _ = parse_to(args, kwargs)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got desired "
                            f"dtype={dtype}")

        def convert(t):
            return t.to(device, dtype if t.is_floating_point() else None)

        return self._apply(convert)

    def cpu(self: T) -> T:
        """Move every parameter and buffer to the CPU, in place.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.cpu``; same semantics.

        Example:
            >>> nn.Linear(2, 2).cpu().weight.device
            device(type='cpu')
        """
        return self._apply(lambda t: t.cpu())

    def cuda(self: T, device: int | Device = None) -> T:
        """Move every parameter and buffer to a CUDA GPU, in place (needs CuPy and a GPU).

        Args:
            device (int or str or ember.device, optional): the GPU; the current one when None. Default: None.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.cuda``; same semantics (ember's GPU arrays are CuPy's).

        Example:
            >>> model = nn.Linear(2, 2)
            >>> if ember.cuda.is_available():
            ...     model = model.cuda()
        """
        return self._apply(lambda t: t.cuda(device))

    def type(self: T, dst_type: Any) -> T:
        """Cast every parameter and buffer to dst_type, in place, as ``Tensor.type`` does.

        Unlike ``to``, integer buffers are cast too.

        Args:
            dst_type (ember.dtype or type or str): a dtype, a tensor type (``ember.DoubleTensor``) or its name.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.type``; same semantics.

        Example:
            >>> nn.Linear(2, 2).type(ember.float64).weight.dtype
            ember.float64
        """
        return self._apply(lambda t: t.type(dst_type))

    def float(self: T) -> T:
        """Cast the floating-point parameters and buffers to float32, in place.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.float``; same semantics.

        Example:
            >>> nn.Linear(2, 2).double().float().weight.dtype
            ember.float32
        """
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self: T) -> T:
        """Cast the floating-point parameters and buffers to float64, in place.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.double``; same semantics.

        Example:
            >>> nn.Linear(2, 2).double().weight.dtype
            ember.float64
        """
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self: T) -> T:
        """Cast the floating-point parameters and buffers to float16, in place.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.half``; same semantics.

        Example:
            >>> nn.Linear(2, 2).half().weight.dtype
            ember.float16
        """
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    def bfloat16(self: T) -> T:
        """Cast the floating-point parameters and buffers to bfloat16, in place.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.bfloat16``; same semantics.

        Example:
            >>> nn.Linear(2, 2).bfloat16().weight.dtype
            ember.bfloat16
        """
        return self._apply(lambda t: t.bfloat16() if t.is_floating_point() else t)

    def to_empty(self: T, *, device: Device, recurse: bool = True) -> T:
        """Move the parameters and buffers to device without copying their values (the new storage is uninitialised).

        Args:
            device (str or ember.device): where the tensors go (keyword only).
            recurse (bool): include the submodules. Default: True.

        Returns:
            Module: self.

        PyTorch:
            ``torch.nn.Module.to_empty``; same semantics (ember has no meta device to start from).

        Example:
            >>> nn.Linear(2, 3).to_empty(device="cpu").weight.shape
            ember.Size([3, 2])
        """
        return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)

    # --- hooks ----------------------------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Register a hook called before each ``forward``: ``hook(module, args)`` returns None or new args.

        With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs)`` and returns None or ``(args, kwargs)``.

        Args:
            hook (Callable): the hook; a single returned value that is not a tuple becomes a 1-tuple.
            prepend (bool): run it before the hooks already registered. Default: False.
            with_kwargs (bool): pass the keyword arguments too. Default: False.

        Returns:
            RemovableHandle: ``handle.remove()`` unregisters the hook.

        PyTorch:
            ``torch.nn.Module.register_forward_pre_hook``; same semantics.

        Example:
            >>> layer = nn.Identity()
            >>> handle = layer.register_forward_pre_hook(lambda m, args: (args[0] * 10,))
            >>> layer(ember.tensor([1.0]))
            tensor([10.])
            >>> handle.remove()
        """
        handle = add_hook(self._forward_pre_hooks, hook, prepend, extra_dict=self._forward_pre_hooks_with_kwargs)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        return handle

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Register a hook called after each ``forward``: ``hook(module, args, output)`` returns None or a new output.

        With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs, output)``.

        Args:
            hook (Callable): the hook.
            prepend (bool): run it before the hooks already registered. Default: False.
            with_kwargs (bool): pass the keyword arguments too. Default: False.
            always_call (bool): call it even when ``forward`` (or an earlier hook) raises. Default: False.

        Returns:
            RemovableHandle: ``handle.remove()`` unregisters the hook.

        PyTorch:
            ``torch.nn.Module.register_forward_hook``; same semantics.

        Example:
            >>> shapes = []
            >>> layer = nn.Linear(3, 2)
            >>> handle = layer.register_forward_hook(lambda m, args, out: shapes.append(out.shape))
            >>> _ = layer(ember.ones(4, 3))
            >>> shapes
            [ember.Size([4, 2])]
        """
        handle = add_hook(self._forward_hooks, hook, prepend,
                           extra_dict=[self._forward_hooks_with_kwargs, self._forward_hooks_always_called])
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        return handle

    def register_full_backward_pre_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """Register a hook called when the gradients of the module's outputs are known: ``hook(module, grad_output)``
        returns None or a new grad_output.

        Args:
            hook (Callable): the hook; grad_output is a tuple of tensors (None where an output has no gradient).
            prepend (bool): run it before the hooks already registered. Default: False.

        Returns:
            RemovableHandle: ``handle.remove()`` unregisters the hook.

        PyTorch:
            ``torch.nn.Module.register_full_backward_pre_hook``; same semantics.

        Example:
            >>> seen = []
            >>> layer = nn.Linear(2, 1)
            >>> handle = layer.register_full_backward_pre_hook(lambda m, g_out: seen.append(g_out[0].shape))
            >>> layer(ember.ones(3, 2)).sum().backward()
            >>> seen
            [ember.Size([3, 1])]
        """
        return add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """Register a hook called when the gradients with respect to the module's inputs are computed:
        ``hook(module, grad_input, grad_output)`` returns None or a new grad_input.

        A module cannot have both these hooks and ``register_backward_hook`` ones (RuntimeError).

        Args:
            hook (Callable): the hook; grad_input and grad_output are tuples (None where there is no gradient).
            prepend (bool): run it before the hooks already registered. Default: False.

        Returns:
            RemovableHandle: ``handle.remove()`` unregisters the hook.

        PyTorch:
            ``torch.nn.Module.register_full_backward_hook``; same semantics.

        Example:
            >>> seen = []
            >>> layer = nn.Linear(2, 1)
            >>> hook = lambda m, g_in, g_out: seen.append((g_in[0].shape, g_out[0].shape))
            >>> handle = layer.register_full_backward_hook(hook)
            >>> layer(ember.ones(3, 2, requires_grad=True)).sum().backward()
            >>> seen
            [(ember.Size([3, 2]), ember.Size([3, 1]))]
        """
        if self._is_full_backward_hook is False:
            raise RuntimeError("Cannot use both regular backward hooks and full backward hooks on a single Module. "
                               "Please use only one of them.")
        self._is_full_backward_hook = True
        return add_hook(self._backward_hooks, hook, prepend)

    def register_backward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Register a backward hook ``hook(module, grad_input, grad_output)``; deprecated, use
        ``register_full_backward_hook``.

        Warns with a FutureWarning, then registers the hook as a full backward hook.

        Args:
            hook (Callable): the hook.

        Returns:
            RemovableHandle: ``handle.remove()`` unregisters the hook.

        PyTorch:
            ``torch.nn.Module.register_backward_hook``, with a difference: PyTorch's deprecated hook sees the
            gradients of the last operation inside the module; ember's sees those of the module's inputs, as a full
            backward hook.

        Example:
            >>> import warnings
            >>> with warnings.catch_warnings():
            ...     warnings.simplefilter("ignore")
            ...     handle = nn.Linear(2, 1).register_backward_hook(lambda m, g_in, g_out: None)
        """
        warnings.warn("register_backward_hook is deprecated; use register_full_backward_hook", FutureWarning,
                      stacklevel=2)
        return self.register_full_backward_hook(hook)

    def _call_impl(self, *args: Any, **kwargs: Any) -> Any:
        if _tracing.active[0]:
            _tracing.called(self)
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks or self._backward_pre_hooks
                or globals_active[0]):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    __call__ = _call_impl

    def _call_with_hooks(self, args, kwargs):
        called_always = set()
        result = None
        try:
            # a snapshot: a hook may remove itself (a lazy module's initializing hook does)
            for hook_id, hook in itertools.chain(global_forward_pre_hooks.items(),
                                                 tuple(self._forward_pre_hooks.items())):
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    r = hook(self, args, kwargs)
                    if r is not None:
                        if isinstance(r, tuple) and len(r) == 2:
                            args, kwargs = r
                        else:
                            raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, "
                                               f"new_kwargs), but got {r}.")
                else:
                    r = hook(self, args)
                    if r is not None:
                        args = r if isinstance(r, tuple) else (r,)
            bw_hook = None
            full = list(global_backward_hooks.values()) + list(self._backward_hooks.values())
            pre = list(global_backward_pre_hooks.values()) + list(self._backward_pre_hooks.values())
            if full or pre:
                bw_hook = BackwardHook(self, full, pre)
                args = bw_hook.setup_input_hook(args)
            result = self.forward(*args, **kwargs)
            for hook_id, hook in itertools.chain(global_forward_hooks.items(), self._forward_hooks.items()):
                if hook_id in self._forward_hooks_always_called:
                    called_always.add(hook_id)
                result = self._run_forward_hook(hook_id, hook, args, kwargs, result)
            if bw_hook is not None:
                if not isinstance(result, (Tensor, tuple)):
                    warnings.warn("For backward hooks to be called, module output should be a Tensor or a tuple of "
                                  f"Tensors but received {type(result)}", stacklevel=3)
                result = bw_hook.setup_output_hook(result)
            return result
        except Exception:
            for hook_id, hook in self._forward_hooks.items():
                if hook_id in self._forward_hooks_always_called and hook_id not in called_always:
                    try:
                        result = self._run_forward_hook(hook_id, hook, args, kwargs, result)
                    except Exception as e:
                        warnings.warn("module forward hook with ``always_call=True`` raised an exception that was "
                                      f"silenced as another error was raised in forward: {e}", stacklevel=2)
            raise

    def _run_forward_hook(self, hook_id, hook, args, kwargs, result):
        """The forward's result after one forward hook (which may replace it)."""
        r = hook(self, args, kwargs, result) if hook_id in self._forward_hooks_with_kwargs else hook(self, args, result)
        return result if r is None else r

    # --- state_dict -----------------------------------------------------------------------------------------
    def register_state_dict_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Register a hook ``hook(module, prefix, keep_vars)`` called before ``state_dict()`` saves this module.

        Args:
            hook (Callable): the hook; its result is ignored.

        Returns:
            RemovableHandle: ``handle.remove()`` unregisters the hook.

        PyTorch:
            ``torch.nn.Module.register_state_dict_pre_hook``; same semantics.

        Example:
            >>> layer = nn.Linear(2, 1)
            >>> handle = layer.register_state_dict_pre_hook(lambda m, prefix, keep_vars: print("saving", repr(prefix)))
            >>> _ = layer.state_dict()
            saving ''
        """
        return add_hook(self._state_dict_pre_hooks, hook)

    def register_state_dict_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Register a hook ``hook(module, state_dict, prefix, local_metadata)`` called after ``state_dict()`` saved this
        module; it may change state_dict in place and must return None.

        Args:
            hook (Callable): the hook; a result other than None is a RuntimeError.

        Returns:
            RemovableHandle: ``handle.remove()`` unregisters the hook.

        PyTorch:
            ``torch.nn.Module.register_state_dict_post_hook``; same semantics.

        Example:
            >>> def drop_bias(module, state_dict, prefix, local_metadata):
            ...     del state_dict[prefix + "bias"]
            >>> layer = nn.Linear(2, 1)
            >>> handle = layer.register_state_dict_post_hook(drop_bias)
            >>> list(layer.state_dict())
            ['weight']
        """
        return add_hook(self._state_dict_hooks, hook)

    def register_load_state_dict_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Register a hook called before ``load_state_dict()`` loads this module:
        ``hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)``.

        The hook may change state_dict in place, e.g. to rename keys of an old checkpoint.

        Args:
            hook (Callable): the hook; its result is ignored.

        Returns:
            RemovableHandle: ``handle.remove()`` unregisters the hook.

        PyTorch:
            ``torch.nn.Module.register_load_state_dict_pre_hook``; same semantics.

        Example:
            >>> def rename(module, sd, prefix, *rest):
            ...     if prefix + "w" in sd:
            ...         sd[prefix + "weight"] = sd.pop(prefix + "w")
            >>> layer = nn.Linear(2, 1, bias=False)
            >>> handle = layer.register_load_state_dict_pre_hook(rename)
            >>> layer.load_state_dict({"w": ember.ones(1, 2)})
            <All keys matched successfully>
        """
        return add_hook(self._load_state_dict_pre_hooks, functools.partial(hook, self))

    def register_load_state_dict_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Register a hook ``hook(module, incompatible_keys)`` called after ``load_state_dict()`` loaded this module.

        The hook may edit ``incompatible_keys.missing_keys`` and ``.unexpected_keys`` in place (what strict mode then
        reports); it must return None.

        Args:
            hook (Callable): the hook; a result other than None is an AssertionError.

        Returns:
            RemovableHandle: ``handle.remove()`` unregisters the hook.

        PyTorch:
            ``torch.nn.Module.register_load_state_dict_post_hook``; same semantics.

        Example:
            >>> layer = nn.Linear(2, 1)
            >>> handle = layer.register_load_state_dict_post_hook(lambda m, keys: keys.missing_keys.clear())
            >>> layer.load_state_dict({"weight": ember.ones(1, 2)})
            <All keys matched successfully>
        """
        return add_hook(self._load_state_dict_post_hooks, hook)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def state_dict(self, *args: Any, destination: dict[str, Any] | None = None, prefix: str = "",
                   keep_vars: bool = False) -> dict[str, Any]:
        """Return an OrderedDict of every parameter and persistent buffer of the tree, by dotted name.

        The values are the tensors themselves, detached (sharing memory) unless keep_vars; entries set to None are left
        out; a module that overrides ``get_extra_state`` adds ``<prefix>_extra_state``.

        Args:
            *args: ``destination``, ``prefix`` and ``keep_vars`` given positionally (an old form).
            destination (dict, optional): a dict to fill and return instead of a new OrderedDict. Default: None.
            prefix (str): prepended to every key. Default: "".
            keep_vars (bool): keep the tensors attached to autograd instead of detaching them. Default: False.

        Returns:
            dict[str, Any]: the state, an OrderedDict unless destination was given.

        PyTorch:
            ``torch.nn.Module.state_dict``; same keys and semantics; positional arguments give no FutureWarning.

        Example:
            >>> model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
            >>> list(model.state_dict())
            ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']
        """
        if args:
            destination = args[0] if destination is None else destination
            prefix = args[1] if len(args) > 1 and prefix == "" else prefix
            keep_vars = args[2] if len(args) > 2 and keep_vars is False else keep_vars
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()  # type: ignore[attr-defined]
        local_metadata = dict(version=self._version)
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            if hook(self, destination, prefix, local_metadata) is not None:
                raise RuntimeError("state_dict post-hook must return None")
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        """Copy this module's own parameters and persistent buffers from state_dict (children are separate)."""
        for hook in self._load_state_dict_pre_hooks.values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        local_state = {k: v for k, v in itertools.chain(
            self._parameters.items(),
            ((k, v) for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set))
            if v is not None}
        assign = local_metadata.get("assign_to_params_buffers", False)
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if isinstance(value, np.ndarray):
                value = Tensor._wrap(value)
            if not isinstance(value, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected ember.Tensor or '
                                  f"Tensor-like object from checkpoint but received {type(value)}")
                continue
            if param.ndim == 0 and value.ndim == 1 and value.shape[0] == 1:
                value = value.reshape(())
            if tuple(value.shape) != tuple(param.shape):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} from "
                                  f"checkpoint, the shape in current model is {tuple(param.shape)}.")
                continue
            try:
                with no_grad():
                    if assign:
                        if isinstance(param, Parameter):
                            if not isinstance(value, Parameter):
                                value = Parameter(value, requires_grad=param.requires_grad)
                            else:
                                value.requires_grad_(param.requires_grad)
                        setattr(self, name, value)
                    else:
                        param.copy_(value)
            except Exception as ex:
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions in the model are '
                                  f"{tuple(param.shape)} and whose dimensions in the checkpoint are "
                                  f"{tuple(value.shape)}, an exception occurred : {ex.args}.")
        extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if key.startswith(prefix) and key != extra_key:
                    head = key[len(prefix):].split(".", 1)
                    if len(head) > 1:
                        if head[0] not in self._modules:
                            unexpected_keys.append(key)
                    elif head[0] not in local_state:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy parameters and buffers from state_dict into the module (in place, under no_grad).

        Shape mismatches are always errors; with strict, missing and unexpected keys are too. All problems are reported
        together in one RuntimeError; the keys that loaded stay loaded.

        Args:
            state_dict (Mapping[str, Any]): the state, as ``state_dict()`` returns (NumPy arrays are accepted too).
            strict (bool): require the keys to match the module's exactly. Default: True.
            assign (bool): put the given tensors in place of the module's (kept as Parameters with the module's
                requires_grad) instead of copying into them. Default: False.

        Returns:
            _IncompatibleKeys: the named tuple ``(missing_keys, unexpected_keys)``.

        PyTorch:
            ``torch.nn.Module.load_state_dict``; same semantics and messages; ember also accepts NumPy arrays as
            values (PyTorch reports them as errors).

        Example:
            >>> a, b = nn.Linear(2, 2), nn.Linear(2, 2)
            >>> b.load_state_dict(a.state_dict())
            <All keys matched successfully>
            >>> bool((a.weight == b.weight).all())
            True
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys: list[str] = []
        unexpected_keys: list[str] = []
        error_msgs: list[str] = []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)
        if metadata is not None:
            state_dict._metadata = metadata  # type: ignore[attr-defined]

        def load(module, local_state_dict, prefix=""):
            local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                local_metadata["assign_to_params_buffers"] = assign
            module._load_from_state_dict(local_state_dict, prefix, local_metadata, True, missing_keys,
                                         unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_state_dict.items() if k.startswith(child_prefix)},
                         child_prefix)
            incompatible = _IncompatibleKeys(missing_keys, unexpected_keys)
            for hook in module._load_state_dict_post_hooks.values():
                if hook(module, incompatible) is not None:
                    raise AssertionError("Hooks registered with ``register_load_state_dict_post_hook`` are not "
                                         "expected to return new values, if incompatible_keys need to be modified, "
                                         "it should be done inplace.")

        load(self, state_dict)
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected_keys)))
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing_keys)))
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                self.__class__.__name__, "\n\t".join(error_msgs)))
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    # --- printing -------------------------------------------------------------------------------------------
    def _get_name(self) -> str:
        return self.__class__.__name__

    def extra_repr(self) -> str:
        """Return the module-specific part of the repr (override it): shown inside the parentheses after the class name.

        Returns:
            str: the text; "" in the base class.

        PyTorch:
            ``torch.nn.Module.extra_repr``; same semantics.

        Example:
            >>> class Scale(nn.Module):
            ...     def __init__(self, factor):
            ...         super().__init__()
            ...         self.factor = factor
            ...     def extra_repr(self):
            ...         return f"factor={self.factor}"
            >>> Scale(2.0)
            Scale(factor=2.0)
        """
        return ""

    def __repr__(self) -> str:
        extra_lines = []
        extra = self.extra_repr()
        if extra:
            extra_lines = extra.split("\n")
        child_lines = []
        for key, module in self._modules.items():
            child_lines.append("(" + key + "): " + _addindent(repr(module), 2))
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"
