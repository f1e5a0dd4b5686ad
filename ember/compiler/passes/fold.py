"""Constant folding: an op whose tensor arguments are all constants (values the function made with a factory, the
same each run) is run once, now; its outputs become constants. Ops that draw random numbers, have effects, hold
or hand out kept arrays (``Op.links``) or read arrays as raw arguments are left to run each time."""
import numpy as np

from ..interpret import _clone
from ..ir import Value

__all__ = ["fold_constants"]


def _foldable(op, linked):
    node = op.node
    return (not node.random and not node.has_effects() and not op.links and not op.raw and id(op) not in linked
            and op.values() and all(a.kind == "constant" for a in op.values()))


def _run_once(op):
    """The op's outputs computed from its constant arguments, or None when they do not match its output values."""
    node = _clone(type(op.node), vars(op.node), (), ())
    with np.errstate(all="ignore"):  # the same warnings would otherwise come at every eager run, not here
        out = node.forward(np, *[a.array if isinstance(a, Value) else a for a in op.args])
    outs = out if isinstance(out, tuple) else (out,)
    arrays = []
    for value, array in zip(op.outputs, outs):
        if value is None:
            arrays.append(None)
            continue
        array = np.asarray(array)
        if array.shape != value.shape or array.dtype != value.dtype:
            return None
        arrays.append(np.array(array, copy=True))  # its own memory: not a view of an argument's constant
    return arrays


def fold_constants(graph):
    linked = graph.link_sources()
    replace, kept = {}, []

    def current(a):
        return replace.get(id(a), a) if isinstance(a, Value) else a

    for op in graph.ops:
        op.args = [current(a) for a in op.args]
        arrays = _run_once(op) if _foldable(op, linked) else None
        if arrays is None:
            kept.append(op)
            continue
        for value, array in zip(op.outputs, arrays):
            if value is not None:
                replace[id(value)] = Value(value.shape, value.dtype, "constant", array=array)
    graph.ops = kept
    graph.outputs = [current(v) for v in graph.outputs]
    graph.writes = [(t, current(v)) for t, v in graph.writes]
    graph.grads = [(leaf, current(g)) for leaf, g in graph.grads]
    return graph
