"""Common-subexpression elimination: an op with the same node type, attributes and arguments as an earlier one is
the same value; its uses read the earlier op's outputs (never for ops that draw random numbers or have effects)."""
import numpy as np

from ..ir import Value


def _attribute_key(v):
    """A hashable key equal for equal attributes: numbers, strings and tuples by value, anything else (arrays,
    tensors) by identity."""
    if isinstance(v, (bool, int, float, str, type(None), np.dtype)):
        return (type(v), v)
    if isinstance(v, tuple):
        return (tuple, tuple(_attribute_key(x) for x in v))
    return ("id", id(v))


def _op_key(op):
    attrs = tuple((k, _attribute_key(v)) for k, v in sorted(vars(op.node).items()))
    args = tuple(("v", id(a)) if isinstance(a, Value) else ("c", _attribute_key(a)) for a in op.args)
    return type(op.node), attrs, args


def eliminate_common_subexpressions(graph):
    replace, seen, kept = {}, {}, []

    def current(a):
        return replace.get(id(a), a) if isinstance(a, Value) else a

    for op in graph.ops:
        op.args = [current(a) for a in op.args]
        if op.node.random or op.node.has_effects():
            kept.append(op)
            continue
        key = _op_key(op)
        first = seen.get(key)
        if first is None:
            seen[key] = op
            kept.append(op)
            continue
        if any(mine is not None and theirs is None for mine, theirs in zip(op.outputs, first.outputs)):
            kept.append(op)  # it computes an output the earlier op did not
            continue
        for mine, theirs in zip(op.outputs, first.outputs):
            if mine is not None:
                replace[id(mine)] = theirs
    graph.ops = kept
    graph.outputs = [current(v) for v in graph.outputs]
    graph.writes = [(t, current(v)) for t, v in graph.writes]
    graph.grads = [(leaf, current(g)) for leaf, g in graph.grads]
    return graph
