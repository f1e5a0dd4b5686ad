"""Dead-code elimination: drop the ops whose outputs nothing reads (the function's outputs, the writes, or a kept
op) and whose node no kept op links to (what its forward kept for a gradient node, see Op.links), unless the op
has effects (running statistics) or draws random numbers (keeping the generator's stream as the eager run's)."""
from ..ir import Value


def _kept_anyway(node):
    return node.random or node.has_effects()


def eliminate_dead_code(graph):
    live = graph.handed_out()
    kept, linked = [], set()
    for op in reversed(graph.ops):
        if _kept_anyway(op.node) or id(op) in linked or any(o is not None and id(o) in live for o in op.outputs):
            kept.append(op)
            live.update(id(a) for a in op.args if isinstance(a, Value))
            linked.update(id(src) for src, *_ in op.links.values())
    graph.ops = kept[::-1]
    return graph
