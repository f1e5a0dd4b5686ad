"""The "numpy" backend: a Graph turned into a list of instructions run by a small interpreter.

Each value gets a slot; an instruction is one op's node (copied before each run: a forward keeps state on its
node), where its arguments come from (a slot, or a number as traced) and the slots of its outputs. A slot is
cleared after its last reader (liveness), so intermediate arrays go as soon as nothing needs them.

Two ways to run: on arrays when no gradient is wanted (``node.forward`` directly: no Tensor objects, no autograd),
and through ``apply`` on tensors when one is (grad mode on and a source requires grad), so that the outputs carry
the autograd graph exactly as the eager run's. A graph that holds its own backward (a training step: it sets
``.grad`` attributes) always runs on arrays: its gradients are ops of the graph already.
"""
from sys import getrefcount

import numpy as np

from ..autograd import is_grad_enabled
from ..autograd.graph import apply, increment_version
from ..ops._threads import one_blas_thread
from ..device import get_array_module
from ..ops.copy import Clone
from ..tensor import Tensor
from .ir import Value

__all__ = ["Program"]

_ndarray = np.ndarray
_CONST, _SLOT, _RAW = 0, 1, 2  # where an argument comes from: as traced, a slot, a slot's array (Op.raw)
_new = object.__new__


class Program:
    """A Graph ready to run: ``run(inputs)`` with the input tensors (in the graph's input order) returns the output
    tensors and applies the graph's writes.

    ``array_graph``: another form of the same graph (the same sources, outputs, writes and .grad deliveries; e.g.
    with fused kernels, which autograd cannot record) that runs instead whenever the run is on arrays;
    ``blas_on_one_thread``: it runs with the BLAS on one thread (its C segments own the threads:
    ``c_graph.owns_threads``)."""

    def __init__(self, graph, array_graph=None, sources=None, blas_on_one_thread=False):
        self.graph = graph
        self.blas_on_one_thread = blas_on_one_thread
        slot = {}
        self.sources = graph.sources() if sources is None else sources
        self.arrays = None if array_graph is None else Program(array_graph, sources=self.sources)
        for v in self.sources:
            slot[id(v)] = len(slot)
        self.code = []
        index = {id(op): i for i, op in enumerate(graph.ops)}
        for op in graph.ops:
            args = tuple(((_RAW if i in op.raw else _SLOT), slot[id(a)]) if isinstance(a, Value) else (_CONST, a)
                         for i, a in enumerate(op.args))
            outs = []
            for o in op.outputs:
                if o is not None:
                    slot[id(o)] = len(slot)
                outs.append(None if o is None else slot[id(o)])
            links = tuple((k, index[id(src)], attr, j) for k, (src, attr, j) in op.links.items())
            self.code.append((type(op.node), vars(op.node), args, tuple(outs), links))
        self.n_slots = len(slot)
        # the ops whose nodes a later op reads (Op.links): only these nodes are kept during a run, the others go
        # with what their forward stored on them
        self.linked = frozenset(i for _, _, _, _, links in self.code for _, i, _, _ in links)
        last_link = {src: i for i, (_, _, _, _, links) in enumerate(self.code) for _, src, _, _ in links}
        self.unlink = {}  # instruction -> the kept nodes read for the last time there
        for src, i in last_link.items():
            self.unlink.setdefault(i, []).append(src)
        self.outputs = tuple(slot[id(v)] for v in graph.outputs)
        self.writes = tuple((w, slot[id(v)]) for w, v in graph.writes)
        self.grads = tuple((leaf, None if g is None else slot[id(g)]) for leaf, g in graph.grads)
        self._grad_places = tuple((self.sources.index(leaf), s) for leaf, s in self.grads)  # (source index, slot)
        self.free = self._liveness()
        self.moves = self._copies_to_elide()
        self.overwrites = self._outputs_in_place(graph)
        # what _run_arrays reads per instruction, in one tuple (no lookups while running)
        self.steps = tuple((i, cls, attrs, args, outs, links, i in self.moves, i in self.linked,
                            self.overwrites.get(i), tuple(self.free[i]), tuple(self.unlink.get(i, ())))
                           for i, (cls, attrs, args, outs, links) in enumerate(self.code))

    def _liveness(self):
        """For each instruction, the slots read for the last time there (not outputs, writes or sources)."""
        keep = set(self.outputs) | {s for _, s in self.writes} | {s for _, s in self.grads} | \
            set(range(len(self.sources)))
        last = {}
        for i, (_, _, args, _, _) in enumerate(self.code):
            for kind, s in args:
                if kind:
                    last[s] = i
        free = [[] for _ in self.code]
        for s, i in last.items():
            if s not in keep:
                free[i].append(s)
        return free

    def _copies_to_elide(self):
        """The Clone instructions whose argument is read for the last time there (an intermediate, not a source):
        on arrays they hand the argument's array over instead of copying it, when nothing else holds it (a view's
        base, a node keeping it for later: checked by ``_dying`` when it runs)."""
        return frozenset(i for i, (cls, _, args, _, _) in enumerate(self.code)
                         if cls is Clone and args[0][0] == _SLOT and args[0][1] in self.free[i])

    def _outputs_in_place(self, graph):
        """{instruction: for each output, the argument position whose array it may be written over, or None}:
        for fused kernels, an argument read for the last time there, of the output's shape and dtype (each used
        once). Whether nothing else holds that array is checked when it runs (``_dying``)."""
        plan = {}
        for i, op in enumerate(graph.ops):
            if not hasattr(op.node, "forward_into"):
                continue
            args, taken, into = self.code[i][2], set(), []
            for o in op.outputs:
                pos = next((j for j, (a, (kind, s)) in enumerate(zip(op.args, args))
                            if kind == _SLOT and s in self.free[i] and j not in taken and
                            a.shape == o.shape and a.dtype == o.dtype), None) if o is not None else None
                taken.add(pos)
                into.append(pos)
            if any(p is not None for p in into):
                plan[i] = tuple(into)
        return plan

    def _source_tensors(self, inputs):
        out = []
        for v in self.sources:
            if v.kind == "input":
                out.append(inputs[v.index])
            elif v.kind == "captured":
                out.append(v.tensor)
            elif v.kind == "grad":
                leaf = v.tensor
                out.append((inputs[leaf.index] if leaf.kind == "input" else leaf.tensor).grad)
            else:
                out.append(Tensor._wrap(v.array.copy()))  # a constant: fresh each run (an op may write to it)
        return out

    def run(self, inputs):
        sources = self._source_tensors(inputs)
        grad = not self.grads and is_grad_enabled() and any(t.requires_grad for t in sources)
        if not grad and self.arrays is not None:
            if self.blas_on_one_thread:
                with one_blas_thread():
                    return self.arrays._execute(sources, False)
            return self.arrays._execute(sources, False)
        return self._execute(sources, grad)

    def _execute(self, sources, grad):
        env = [None] * self.n_slots
        if grad:
            env[:len(sources)] = sources
            self._run_tensors(env)
            outputs = [env[s] for s in self.outputs]
        else:
            env[:len(sources)] = [t._data for t in sources]
            self._run_arrays(env)
            by_slot = {s: t for s, t in enumerate(sources)}  # a source returned as it is: the tensor itself
            outputs = [by_slot[s] if s in by_slot else Tensor._wrap(env[s]) for s in self.outputs]
        self._write_back(sources, env)
        if self.grads:
            self._set_grads(sources, env, outputs)
        return outputs

    def _write_back(self, sources, env):
        """Apply the graph's writes: each written source tensor gets its new value, in place."""
        for source, s in self.writes:
            target = sources[self.sources.index(source)]
            value = env[s]
            target._data[...] = value._data if isinstance(value, Tensor) else value
            increment_version(target)

    def _set_grads(self, sources, env, outputs):
        """Give the leaves the .grad the graph leaves them: a tensor the graph read as it is (the function gave
        .grad a tensor from outside), else a new tensor of its own array (copied when the array is also an output
        or another leaf's, as the engine never lets two .grad share memory), or None."""
        taken = {id(t._data) for t in outputs}
        for at, s in self._grad_places:
            target = sources[at]
            if s is None or s < len(sources):
                target.grad = None if s is None else sources[s]
                continue
            arr = env[s]
            if id(arr) in taken or arr.base is not None:
                arr = arr.copy()
            taken.add(id(arr))
            target.grad = Tensor._wrap(arr)

    def _run_arrays(self, env, ran=None, steps=None):
        """Run the instructions (steps: a slice of them) on arrays; ran: the nodes kept for later instructions'
        links (a joint graph's backward reads its forward's)."""
        ran = [None] * len(self.code) if ran is None else ran
        xp = None
        for i, cls, attrs, args, outs, links, move, keep, into, free, unlink in steps or self.steps:
            arrays = [env[a] if kind else a for kind, a in args]
            if xp is None:
                first = next((a for a in arrays if hasattr(a, "shape")), None)
                xp = np if first is None or first.__class__ is _ndarray else get_array_module(first)
            if move and _dying(arrays, (0,))[0] is not None:  # hand the clone's argument over
                env[outs[0]] = arrays[0]
                env[args[0][1]] = None
                continue
            node = _new(cls)
            node.__dict__.update(attrs)
            if links:
                _link(node, links, ran)
            if keep:
                ran[i] = node
            if into is None:
                out = node.forward(xp, *arrays)
            else:
                out = node.forward_into(xp, arrays, _dying(arrays, into))
            if out.__class__ is _ndarray:
                env[outs[0]] = out
            elif out.__class__ is not tuple:
                env[outs[0]] = _as_array(out)
            else:
                for s, o in zip(outs, out):
                    if s is not None:
                        env[s] = None if o is None else _as_array(o)
                out = o = None  # the tuple would hold the arrays until the next op (see _copies_to_elide)
            for s in free:
                env[s] = None
            for j in unlink:
                ran[j] = None

    def _run_tensors(self, env):
        code, free, linked, unlink = self.code, self.free, self.linked, self.unlink
        ran = [None] * len(code)
        for i in range(len(code)):
            cls, attrs, args, outs, links = code[i]
            node = _clone(cls, attrs, links, ran)
            if i in linked:
                ran[i] = node
            out = apply(node, *[a if kind == _CONST else env[a] if kind == _SLOT else env[a]._data
                                for kind, a in args])
            if out.__class__ is not tuple:
                env[outs[0]] = out
            else:
                for s, o in zip(outs, out):
                    if s is not None:
                        env[s] = o
            for s in free[i]:
                env[s] = None
            for j in unlink.get(i, ()):
                ran[j] = None


def _clone(cls, attrs, links, ran):
    """A fresh node with the traced node's attributes (a forward stores its own state on the node), the linked
    ones taken from this run's nodes (see Op.links)."""
    node = _new(cls)
    node.__dict__.update(attrs)
    _link(node, links, ran)
    return node


def _link(node, links, ran):
    d = node.__dict__
    for k, i, attr, j in links:
        v = ran[i].__dict__[attr]
        d[k] = v if j is None else v[j]


def _dying(arrays, positions):
    """For each output, the argument array it may be written over or handed over as it is (see
    Program._outputs_in_place and _copies_to_elide): one that owns its memory, C-contiguous and writable, that
    nothing but the interpreter holds (env, arrays and this call's references), else None."""
    into = []
    for j in positions:
        a = None if j is None else arrays[j]
        ok = a is not None and a.base is None and a.flags.carray and getrefcount(a) == 4 and \
            sum(b is a for b in arrays) == 1
        into.append(a if ok else None)
    return into


def _as_array(out):
    return np.asarray(out) if isinstance(out, np.generic) else out
