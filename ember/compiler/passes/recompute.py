"""Recomputation for less memory (``ember.compile(..., memory="min")``): the sublinear schedule of Chen et al.
2016, "Training Deep Nets with Sublinear Memory Cost".

A training step's graph keeps every forward value a gradient reads until the backward reaches it: memory grows
with depth. This pass keeps only checkpoints, the outputs of every k-th forward op (k about the square root of
the number of forward ops), and has each gradient read its forward values recomputed from the nearest
checkpoints just before it needs them (once: later gradients of the same segment read the same recomputed
values). The originals then die right after their forward use. What cannot be recomputed is kept as it is: the
outputs of ops that draw random numbers, have effects, hold or hand out kept arrays (``Op.links``) or read raw
arrays, and the values the graph hands out. The recomputed ops run the same array code on the same inputs, so
results do not change; the cost is about one more forward.

It runs last among the graph passes (common-subexpression elimination would merge a recomputed op with its
original)."""
import math

from ..ir import Op, Value

__all__ = ["recompute_activations"]


def _recomputable(op, linked):
    node = op.node
    return not (node.random or node.has_effects() or op.links or op.raw or id(op) in linked)


def _checkpoints(forward, linked, external):
    """ids of the forward values kept for the backward: every k-th op's outputs, and what cannot be recomputed."""
    k = max(1, math.isqrt(len(forward)))
    kept = set(external)
    for i, op in enumerate(forward):
        if (i + 1) % k == 0 or not _recomputable(op, linked):
            kept.update(id(o) for o in op.outputs if o is not None)
    return kept


def recompute_activations(graph):
    forward = [op for op in graph.ops if not op.backward]
    backward = [op for op in graph.ops if op.backward]
    if not forward or not backward:
        return graph
    linked, external = graph.link_sources(), graph.handed_out()
    producer = {id(o): op for op in forward for o in op.outputs if o is not None}
    kept = _checkpoints(forward, linked, external)
    recomputed, ops = {}, list(forward)

    def materialize(v):
        """v as the backward reads it: itself when kept (or not a forward value), else its recomputed copy."""
        if not isinstance(v, Value) or id(v) in kept or id(v) not in producer:
            return v
        if id(v) not in recomputed:
            op = producer[id(v)]
            args = [materialize(a) for a in op.args]
            copy = Op(op.node, args, [])
            copy.outputs = [None if o is None else Value(o.shape, o.dtype, "op", op=copy, out_index=o.out_index)
                            for o in op.outputs]
            copy.backward = True
            ops.append(copy)
            for o, c in zip(op.outputs, copy.outputs):
                if o is not None:
                    recomputed[id(o)] = c
        return recomputed[id(v)]

    for op in backward:
        op.args = [materialize(a) for a in op.args]
        ops.append(op)
    graph.ops = ops
    return graph
