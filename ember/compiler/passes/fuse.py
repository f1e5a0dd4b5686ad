"""Elementwise fusion: chains of elementwise ops with a C form (``rules.supports``) become one ``FusedKernel`` op
each, so that a backend runs them as one loop over memory.

Groups are grown in running order: an elementwise op joins the groups that computed its operands when their
results have its shape; otherwise it starts a group. The fused op takes the place of the group's last op, so a
group may only grow past an op that reads none of its values (it would run before them) and past no op with
effects (an optimizer's in-place update, running statistics: a fused op must not read a value before or after
such a change differently from the eager order). Random ops and ops with effects are never fused, nor an op that
holds arrays another op's forward kept (``Op.links``); an op whose kept arrays another op reads is fused only
when that op is fused too.

A group of one op that NumPy runs as fast in its own single loop (exp, tanh, a copy: the rule's ``alone`` is
False) stays that op. A group's values that anything outside it reads (another op, the graph's outputs, writes or
``.grad`` deliveries) are the fused op's outputs; the others live only inside the kernel. The pass returns a new Graph
and leaves the one it was given as it was (the numpy interpreter still runs it when autograd must record the ops).
"""
from ..ir import Graph, Op, Value
from ..kernel import FusedKernel, Kernel, Statement
from ..rules import rule_of, supports

__all__ = ["fuse_elementwise"]


class _Group:
    __slots__ = ("members", "shape", "last", "values", "backward")

    def __init__(self, index, op):
        self.members = [index]
        self.shape = op.outputs[0].shape
        self.last = index
        self.values = {id(op.outputs[0])}
        self.backward = op.backward


def _candidates(ops):
    """Per op: whether it may be fused (see the module docstring)."""
    ok = [not op.node.random and not op.node.has_effects() and supports(op) and
          not op.links for op in ops]
    for j, op in enumerate(ops):  # a source of kept arrays stays unfused unless every reader is fused
        if op.links and not ok[j]:
            for src, _, _ in op.links.values():
                for i, other in enumerate(ops):
                    if other is src:
                        ok[i] = False
    return ok


def _joining(found, index, readers, effects):
    """The groups among found that may all move to index together (a reader in a group that cannot move is a
    reader like any other, so the set shrinks until it is stable)."""
    joining = list(found)
    while True:
        merged = {m for g in joining for m in g.members} | {index}
        kept = [g for g in joining if _can_reach(g, index, readers, effects, merged)]
        if len(kept) == len(joining):
            return kept
        joining = kept


def _can_reach(group, index, readers, effects, merged):
    """Whether group's fused op may move to position index: no op between its last op and index has effects or
    reads one of its values (unless that op joins the fused op too: ``merged``)."""
    if any(group.last < e < index for e in effects):
        return False
    for vid in group.values:
        for r in readers.get(vid, ()):
            if group.last < r < index and r not in merged:
                return False
    return True


def fuse_elementwise(graph, single=False, phases=False):
    """The graph with its elementwise chains fused (a new Graph; see the module docstring). ``single``: a kernel
    also for a lone op that NumPy runs as fast (to test its rule). ``phases``: a forward op and a backward one
    (``Op.backward``) never share a kernel (a joint graph runs its two parts at different times)."""
    ops = graph.ops
    ok = _candidates(ops)
    readers = graph.readers()
    effects = [i for i, op in enumerate(ops) if op.node.has_effects()]
    producer = {}  # id(value) -> its group
    groups = []
    for i, op in enumerate(ops):
        if not ok[i]:
            continue
        shape = op.outputs[0].shape
        found = []
        for a in op.args:
            g = producer.get(id(a)) if isinstance(a, Value) else None
            if g is not None and g.shape == shape and g not in found and not (phases and g.backward != op.backward):
                found.append(g)
        joining = _joining(found, i, readers, effects)
        if joining:
            group = joining[0]
            for other in joining[1:]:
                group.members.extend(other.members)
                group.values |= other.values
                groups.remove(other)
                for vid in other.values:
                    producer[vid] = group
            group.members.sort()
            group.members.append(i)
            group.values.add(id(op.outputs[0]))
            group.last = i
        else:
            group = _Group(i, op)
            groups.append(group)
        producer[id(op.outputs[0])] = group
    if not single:
        groups = [g for g in groups if len(g.members) > 1 or rule_of(ops[g.last].node).alone or ops[g.last].links]
    return _rewrite(graph, groups, readers)


def _rewrite(graph, groups, readers):
    ops = graph.ops
    external = graph.handed_out()
    at_last = {g.last: g for g in groups}
    fused = {m for g in groups for m in g.members}
    new_ops = []
    for i, op in enumerate(ops):
        if i in at_last:
            new_ops.append(_fused_op(at_last[i], ops, readers, external))
        elif i not in fused:
            new_ops.append(op)
    out = Graph(graph.inputs, new_ops, graph.outputs, graph.writes, graph.output_spec)
    out.modules, out.grad_entry, out.grads = graph.modules, graph.grad_entry, graph.grads
    return out


def _fused_op(group, ops, readers, external):
    """The FusedKernel op of a group: its inputs (values from outside it), statements and outputs."""
    members = set(group.members)
    inputs, slot, statements, stmt_of, outputs = [], {}, [], {}, []
    for i in group.members:
        op = ops[i]
        operands = []
        for a in op.args:
            if not isinstance(a, Value):
                operands.append(("number", a))
            elif id(a) in stmt_of:
                operands.append(("stmt", stmt_of[id(a)]))
            else:
                if id(a) not in slot:
                    slot[id(a)] = len(inputs)
                    inputs.append(a)
                operands.append(("input", slot[id(a)]))
        v = op.outputs[0]
        stmt_of[id(v)] = len(statements)
        statements.append(Statement(op.node, rule_of(op.node), operands, v.dtype))
        if id(v) in external or any(r not in members for r in readers.get(id(v), ())):
            outputs.append((len(statements) - 1, v))
    kernel = Kernel(group.shape, [v.shape for v in inputs], [v.dtype for v in inputs], statements,
                    [j for j, _ in outputs])
    fused = Op(FusedKernel(kernel), inputs, [v for _, v in outputs])
    fused.backward = ops[group.last].backward
    return fused
