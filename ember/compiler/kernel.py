"""A fused elementwise kernel as a renderer reads it, and the graph node that runs one.

``Kernel`` is what the fusion pass makes of a group of elementwise ops, independent of any target language: its
inputs (dtype and how each broadcasts), its statements (one per fused op: the op's node and compile rule, where
each operand comes from, the result's dtype) in running order, and which statements' values it stores (its
outputs, all of the kernel's shape). A renderer (``render_c``; a CUDA one would sit beside it) turns kernels into
source; a backend binds each ``FusedKernel`` node to the compiled function (``launch``).

Broadcasting is described by ``layout``: the output shape with adjacent dimensions merged wherever every input
broadcasts the same way in both (a (N, C) + (C,) chain is 2-d whatever N and C are), and for each input a mask of
the merged dimensions it spans (True) or repeats along (False). The sizes are passed to the kernel when it runs,
so one kernel serves every shape with the same masks.
"""
import numpy as np

from ..autograd import Node

__all__ = ["Kernel", "Statement", "FusedKernel", "layout"]

_new = object.__new__


class Statement:
    """One fused op: ``node`` (as traced), its ``rule``, ``operands`` (("input", i), ("stmt", j) or ("number", v))
    and the ``dtype`` of its result."""

    __slots__ = ("node", "rule", "operands", "dtype")

    def __init__(self, node, rule, operands, dtype):
        self.node, self.rule, self.operands, self.dtype = node, rule, list(operands), np.dtype(dtype)

    @property
    def name(self):
        return type(self.node).__name__


class Kernel:
    """Inputs (dtypes and shapes), statements, outputs (statement indices) and the output shape, with its
    broadcast layout (see the module docstring)."""

    def __init__(self, shape, input_shapes, input_dtypes, statements, outputs):
        self.shape = tuple(shape)
        self.input_shapes = [tuple(s) for s in input_shapes]
        self.input_dtypes = [np.dtype(d) for d in input_dtypes]
        self.statements = list(statements)
        self.outputs = list(outputs)
        self.sizes, self.masks = layout(self.shape, self.input_shapes)

    @property
    def output_dtypes(self):
        return [self.statements[j].dtype for j in self.outputs]

    @property
    def flat(self):
        """Whether every input is either the whole output or one element (a loop without index arithmetic)."""
        return all(all(m) or not any(m) for m in self.masks)

    def describe(self):
        """The fused ops' names, e.g. 'Mul,Add,Tanh'."""
        return ",".join(s.name for s in self.statements)

    def reference(self, xp, arrays):
        """The kernel's outputs computed by the fused ops' own forwards (any array module): what a backend that
        cannot run the compiled kernel does."""
        values = []
        for s in self.statements:
            node = _new(type(s.node))
            node.__dict__.update(vars(s.node))
            args = [arrays[x] if kind == "input" else values[x] if kind == "stmt" else x for kind, x in s.operands]
            out = node.forward(xp, *args)
            values.append(np.asarray(out) if isinstance(out, np.generic) else out)
        outs = tuple(values[j] for j in self.outputs)
        return outs[0] if len(outs) == 1 else outs


def layout(shape, input_shapes):
    """(sizes, masks): the output shape with size-1 dimensions dropped and adjacent dimensions merged where every
    input spans both or repeats along both; for each input, a tuple of booleans over the merged dimensions (True
    where it spans the dimension)."""
    ndim = len(shape)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in input_shapes]
    dims = [d for d in range(ndim) if shape[d] != 1]
    sizes, masks = [], [[] for _ in input_shapes]
    for d in dims:
        spans = [p[d] != 1 for p in padded]
        if sizes and all(m[-1] == s for m, s in zip(masks, spans)):
            sizes[-1] *= shape[d]
            continue
        sizes.append(shape[d])
        for m, s in zip(masks, spans):
            m.append(s)
    return tuple(sizes), [tuple(m) for m in masks]


class FusedKernel(Node):
    """Elementwise ops fused into one kernel (see ``Kernel``): ``launch(arrays)``, bound by a backend, runs the
    compiled kernel; without one (or on arrays it does not handle) the fused ops' forwards run one by one.
    ``ops`` names them (shown when the graph is printed)."""

    differentiable = False
    launch = None

    def __init__(self, kernel):
        self.kernel = kernel
        self.ops = kernel.describe()
        self.n_outputs = len(kernel.outputs)

    def forward(self, xp, *arrays):
        if self.launch is not None and xp is np:
            return self.launch(arrays)
        return self.kernel.reference(xp, arrays)

    def forward_into(self, xp, arrays, into):
        """forward, with outputs written over the arrays of into where they are not None (see _Launcher); only
        a compiled kernel can, the reference computes new arrays."""
        if self.launch is not None and xp is np:
            return self.launch(arrays, into)
        return self.kernel.reference(xp, arrays)
