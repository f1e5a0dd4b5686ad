"""The op registry: every op registered once, and every public name that ember's ops provide.

- ``@register`` on a Node subclass makes it an op: its name, its shape/dtype rule (the node's ``infer``) and the
  slots that the compiler and the exporter fill (``compile_rule``, ``onnx_rule``).
- ``@export(*ops, ember=..., functional=..., methods=...)`` on a function makes it public: the op(s) it runs (none
  for a composite or a factory), its names in ``ember.*`` and ``ember.nn.functional.*``, and the Tensor methods it
  provides (an export with ``ember=False`` and only methods is a method that reads differently from the function,
  such as ``Tensor.where(condition, other)``).

``ember/__init__.py``, ``ember/nn/functional.py`` and the Tensor class take their names from here, and
``python -m ember.ops`` prints the table.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..autograd import Node

__all__ = ["OpDef", "register", "export", "ops", "get", "namespace", "methods", "install_methods", "composites"]

EMBER = "ember"
FUNCTIONAL = "ember.nn.functional"
_T = TypeVar("_T")  # what export publishes (a function or a class), returned as it is


class OpDef:
    """One registered op: its node class, the public names that run it, and its rules."""

    __slots__ = ("name", "node", "functions", "methods", "compile_rule", "onnx_rule")

    def __init__(self, node):
        self.name = node.__name__
        self.node = node
        self.functions = []   # qualified public names, e.g. "ember.add", "ember.nn.functional.linear"
        self.methods = []     # Tensor method names
        self.compile_rule = None  # filled by ember.compile
        self.onnx_rule = None     # filled by ember.onnx

    @property
    def has_shape_rule(self):
        return self.node.infer is not Node.infer

    def __repr__(self):
        return f"<op {self.name}>"


_ops: dict[str, OpDef] = {}  # name -> OpDef, in registration order
_by_node: dict[type, OpDef] = {}  # node class -> OpDef
_names: dict[str, dict[str, Any]] = {EMBER: {}, FUNCTIONAL: {}}
_methods: dict[str, Any] = {}  # Tensor method name -> function
# (qualified names, methods) of exports that run no op of their own
_composites: list[tuple[tuple[str, ...], tuple[str, ...]]] = []


def register(node):
    """Class decorator: register a Node subclass as an op (its name must be unique)."""
    if not (isinstance(node, type) and issubclass(node, Node)):
        raise TypeError(f"register: expected a Node subclass, got {node!r}")
    name = node.__name__
    if name in _ops:
        raise ValueError(f"register: an op named {name!r} is already registered ({_ops[name].node!r})")
    _ops[name] = _by_node[node] = OpDef(node)
    return node


def _names_of(value, fn):
    if value is True:
        return (fn.__name__,)
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def export(*ops: type, ember: bool | str | tuple[str, ...] = True, functional: bool | str | tuple[str, ...] = False,
           methods: tuple[str, ...] = ()) -> Callable[[_T], _T]:
    """Function decorator: publish fn as ember.<name> (``ember=``: True for fn's name, a name, a tuple of names or
    False), as ember.nn.functional.<name> (``functional=``, likewise) and as the Tensor methods named in ``methods``;
    ``ops`` are the registered node classes it runs (the table lists fn under them)."""
    defs = []
    for node in ops:
        if node not in _by_node:
            raise ValueError(f"export: {node!r} is not a registered op")
        defs.append(_by_node[node])

    def decorate(fn: _T) -> _T:
        qualified = []
        for space, value in ((EMBER, ember), (FUNCTIONAL, functional)):
            for name in _names_of(value, fn):
                if name in _names[space]:
                    raise ValueError(f"export: {space}.{name} is already exported")
                _names[space][name] = fn
                qualified.append(f"{space}.{name}")
        for name in methods:
            if name in _methods:
                raise ValueError(f"export: Tensor.{name} is already exported")
            _methods[name] = fn
        for d in defs:
            d.functions.extend(qualified)
            d.methods.extend(methods)
        if not defs:
            _composites.append((tuple(qualified), tuple(methods)))
        return fn

    return decorate


def ops():
    """Every registered op (OpDef), in registration order."""
    return list(_ops.values())


def get(op):
    """The OpDef of an op, by name or node class."""
    return _by_node[op] if isinstance(op, type) else _ops[op]


def namespace(space):
    """The public functions of a namespace ("ember" or "ember.nn.functional"), by name."""
    return dict(_names[space])


def methods():
    """The Tensor methods the ops provide, by name."""
    return dict(_methods)


def composites():
    """(qualified names, methods) of the exports that run no op of their own (composites, factories)."""
    return list(_composites)


def install_methods(cls):
    """Give cls (Tensor) every exported method."""
    for name, fn in _methods.items():
        setattr(cls, name, fn)
