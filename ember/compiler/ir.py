"""The graph a traced function becomes: values, the ops that compute them, and how it prints.

A ``Value`` is one tensor of the graph, with its shape and dtype. It comes from one of four places (``kind``):

- ``input``: the i-th tensor among the function's arguments (``index``);
- ``captured``: a tensor the function read that is not an argument (a parameter, a buffer, a global), read by
  reference each time the graph runs, so that updates to it are seen;
- ``constant``: a tensor the function made itself with a factory (zeros, arange, ember.tensor): its values at the
  time it was made, the same each run;
- ``grad``: the ``.grad`` a leaf holds when the graph runs (``tensor`` is the leaf's Value), which a backward
  accumulates into;
- ``op``: an output of an ``Op`` of the graph.

An ``Op`` holds a registered op's node as it was before its forward ran (its attributes: kernel sizes, the dim of a
reduction...), its arguments (Values, or the numbers and None passed as they are) and its output Values. The ops are
in the order they ran, which is an order where every value is computed before it is used. ``writes`` are the
in-place changes the function made to tensors that outlive it (an input, a captured tensor): (target, value) pairs,
applied after the ops.
"""
import itertools

import numpy as np

from .. import dtypes as _dt

__all__ = ["Value", "Op", "Graph"]


class Value:
    """One tensor of the graph (see the module docstring for kind)."""

    __slots__ = ("shape", "dtype", "kind", "index", "tensor", "array", "op", "out_index")

    def __init__(self, shape, dtype, kind, *, index=None, tensor=None, array=None, op=None, out_index=0):
        self.shape, self.dtype, self.kind = tuple(shape), np.dtype(dtype), kind
        self.index, self.tensor, self.array = index, tensor, array
        self.op, self.out_index = op, out_index

    @property
    def type_str(self):
        """e.g. f32[8, 3]."""
        return f"{_short_dtype(self.dtype)}[{', '.join(map(str, self.shape))}]"


class Op:
    """One op of the graph: a registered node (as before its forward), its arguments and its output values."""

    __slots__ = ("node", "args", "outputs", "links", "raw", "backward")

    def __init__(self, node, args, outputs, links=None):
        self.node, self.args, self.outputs = node, list(args), list(outputs)
        # {attribute: (Op, its node's attribute, index in it or None)}: arrays this node holds that an earlier op's
        # forward made (a gradient node's saved statistics, masks, indices): taken from that op's run each time
        self.links = links or {}
        self.raw = frozenset()  # positions of arguments passed as arrays, not tensors (a tensor's data)
        self.backward = False  # recorded after a backward began: a gradient (or what follows it), not the forward

    @property
    def name(self):
        return type(self.node).__name__

    def values(self):
        """The Values among the arguments."""
        return [a for a in self.args if isinstance(a, Value)]


class Graph:
    """Inputs, captured tensors, constants, ops in running order, outputs and writes (see the module docstring)."""

    def __init__(self, inputs, ops, outputs, writes=(), output_spec=None):
        self.inputs = list(inputs)
        self.ops = list(ops)
        self.outputs = list(outputs)
        self.writes = list(writes)
        self.output_spec = output_spec  # how the outputs nest into the function's result (see capture)
        self.modules = []  # the Modules the function called (their training flags are guarded)
        self.grad_entry = []  # (leaf Value, the .grad object the leaf must hold when the graph starts)
        self.grads = []  # (leaf Value, Value of its new .grad or None): the .grad attributes the graph leaves
        self.signature = []  # see capture.signature
        self.joint = None  # a joint forward and backward: how it splits (capture.Joint)

    def walk(self):
        """Every op in running order, with the ops an op holds (a C segment's, see ``c_graph``) right after it."""
        for op in self.ops:
            yield op
            yield from getattr(op.node, "graph_ops", ())

    def values_used(self):
        """Every value that an op, an output, a write or a .grad reads, in first-use order (no duplicates)."""
        seen, order = set(), []
        for v in itertools.chain((a for op in self.ops for a in op.values()), self.outputs,
                                 (x for w in self.writes for x in w), (x for g in self.grads for x in g),
                                 (leaf for leaf, _ in self.grad_entry)):
            if isinstance(v, Value) and id(v) not in seen:
                seen.add(id(v))
                order.append(v)
        return order

    def handed_out(self):
        """ids of the values the caller sees: outputs, written values, .grad values (their identity matters)."""
        ids = {id(v) for v in self.outputs}
        ids.update(id(v) for w in self.writes for v in w)
        ids.update(id(g) for _, g in self.grads if g is not None)
        return ids

    def readers(self):
        """id(value) -> the indices of the ops reading it, in order."""
        readers = {}
        for i, op in enumerate(self.ops):
            for a in op.args:
                if isinstance(a, Value):
                    readers.setdefault(id(a), []).append(i)
        return readers

    def link_sources(self):
        """ids of the ops whose nodes another op reads (see Op.links)."""
        return {id(src) for op in self.ops for src, *_ in op.links.values()}

    def sources(self):
        """The values no op computes (inputs, captured tensors, constants) that the graph reads, inputs first."""
        used = [v for v in self.values_used() if v.kind != "op"]
        ins = {id(v) for v in self.inputs}
        return self.inputs + [v for v in used if id(v) not in ins]

    def _value_names(self):
        """id(value) -> its printed name (%in0, %p0, %c0, %g0, %0, ...), in the order the text shows them."""
        names, counts = {}, {"input": 0, "captured": 0, "constant": 0, "grad": 0, "op": 0}
        prefix = {"input": "%in", "captured": "%p", "constant": "%c", "grad": "%g", "op": "%"}
        for v in self.sources() + [o for op in self.walk() for o in op.outputs if o is not None]:
            if id(v) not in names:
                names[id(v)] = f"{prefix[v.kind]}{counts[v.kind]}"
                counts[v.kind] += 1
        return names

    def format(self, title="graph"):
        """The graph as text: one line per op, ``%name = Op(args) {attributes}  # type``."""
        names = self._value_names()

        def name(v):
            return names[id(v)] if isinstance(v, Value) else repr(v)

        lines = [f"{title}({', '.join(f'{name(v)}: {v.type_str}' for v in self.inputs)}):"]
        for v in self.sources()[len(self.inputs):]:
            lines.append(f"    {name(v)}: {v.type_str} = {v.kind}")
        def line(op, indent):
            args = ", ".join(name(a) for a in op.args)
            outs = ", ".join("_" if o is None else name(o) for o in op.outputs)
            types = ", ".join(o.type_str for o in op.outputs if o is not None)
            return f"{indent}{outs} = {op.name}({args}){_attributes(op.node)}  # {types}"

        for op in self.ops:
            lines.append(line(op, "    "))
            lines += [line(inner, "        | ") for inner in getattr(op.node, "graph_ops", ())]
        for target, value in self.writes:
            lines.append(f"    {name(target)}[...] = {name(value)}")
        for leaf, grad in self.grads:
            lines.append(f"    {name(leaf)}.grad = {name(grad) if grad is not None else None}")
        lines.append(f"    return ({', '.join(name(v) for v in self.outputs)})")
        return "\n".join(lines)

    def to_dot(self, title="graph"):
        """The graph in Graphviz's DOT language: a box per op, an ellipse per source, an edge per value read
        (labelled with its type); outputs, writes and .grad deliveries point to their own nodes. ``dot -Tsvg``
        draws it (see ``CompiledFunction.save_graph``)."""
        names = self._value_names()
        op_of = {id(o): f"op{i}" for i, op in enumerate(self.ops) for o in op.outputs if o is not None}
        lines = [f"digraph {_dot_id(title)} {{", "  rankdir=TB; node [fontname=monospace fontsize=10];"]

        def node_of(v):
            return op_of.get(id(v)) or f"v{names[id(v)][1:]}"

        def edge(v, to):
            lines.append(f"  {node_of(v)} -> {to} [label={_dot_id(v.type_str)}];")

        for v in self.sources():
            lines.append(f"  {node_of(v)} [shape=ellipse label={_dot_id(f'{names[id(v)]} ({v.kind})')}];")
        for i, op in enumerate(self.ops):
            outs = ", ".join("_" if o is None else names[id(o)] for o in op.outputs)
            label = f"{outs} = {op.name}" + (f"\n{op.node.ops}" if op.name in ("FusedKernel", "Segment") else "")
            lines.append(f"  op{i} [shape=box label={_dot_id(label)}];")
            for a in op.values():
                edge(a, f"op{i}")
        ends = [(f"return {i}", v) for i, v in enumerate(self.outputs)]
        ends += [(f"{names[id(t)]}[...] =", v) for t, v in self.writes]
        ends += [(f"{names[id(leaf)]}.grad", g) for leaf, g in self.grads if g is not None]
        for k, (label, v) in enumerate(ends):
            lines.append(f"  end{k} [shape=plaintext label={_dot_id(label)}];")
            edge(v, f"end{k}")
        return "\n".join(lines + ["}"])

    def __str__(self):
        return self.format()


def _dot_id(text):
    """A quoted DOT string (a newline in it starts a new line of the label)."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attributes(node):
    """A node's simple attributes (numbers, strings, tuples of them) as {k=v, ...}: what distinguishes two ops."""
    items = [f"{k}={v!r}" for k, v in sorted(vars(node).items()) if _is_simple(v) and not k.startswith("_")]
    return " {" + ", ".join(items) + "}" if items else ""


def _is_simple(v):
    if isinstance(v, (bool, int, float, str, type(None))):
        return True
    return isinstance(v, tuple) and len(v) <= 8 and all(_is_simple(x) for x in v)


def _short_dtype(dtype):
    try:
        name = _dt.from_numpy_dtype(dtype).name
    except (TypeError, ValueError, KeyError):
        return str(dtype)
    return {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16", "int64": "i64",
            "int32": "i32", "int16": "i16", "int8": "i8", "uint8": "u8", "bool": "b8"}.get(name, name)
