"""The ONNX rules of the registered ops (the ``onnx_rule`` slot of the registry, filled here, one module per op
family, as the compiler's rules fill ``compile_rule``: the ops stay unaware of ONNX).

A rule is a function ``rule(g, node, *args)`` (see ``ember.onnx._builder``) registered with ``@rule("OpName")``;
``dynamic=("shape",)`` names the node attributes that may hold sizes of a dynamic axis and that the rule reads
through ``g.sizes(node.shape, g.twin.shape)`` (or never bakes in): any other attribute that differs between the
traces at two batch sizes makes the export fail with a clear error instead of a graph fixed to one size.
"""
from ...ops import registry

__all__ = ["OnnxRule", "rule"]


class OnnxRule:
    """An op's ONNX rule: the function and the attributes it may read at a dynamic size (see the module docstring)."""

    __slots__ = ("fn", "dynamic")

    def __init__(self, fn, dynamic=()):
        self.fn, self.dynamic = fn, frozenset(dynamic)

    def __call__(self, g, node, *args):
        return self.fn(g, node, *args)


def rule(*names, dynamic=()):
    """Decorator: fn is the ONNX rule of the registered ops names."""
    def decorate(fn):
        for name in names:
            registry.get(name).onnx_rule = OnnxRule(fn, dynamic)
        return fn
    return decorate


from . import elementwise, shape, layers, norm, rnn  # noqa: E402,F401  (each fills its ops' rules)
