"""Giving ops of a graph other node classes: how the C backend hands an op to a hand-written C function (an
optimizer update, cross-entropy, max pooling, the window copies of convolutions) after the passes, keeping
everything else about the op."""
import numpy as np

from .ir import Op

__all__ = ["swap_nodes", "swap_to_c", "function_table", "LazyTable", "c_array", "SUFFIX"]

# the suffix of the hand-written C functions of each dtype (em_<name>_<suffix>: see function_table)
SUFFIX = {np.dtype("float32"): "f32", np.dtype("float64"): "f64"}


def swap_nodes(graph, classes, **attrs):
    """graph with the node of each op whose id is in ``classes`` ({id(op): node class}) replaced by a node of that
    class holding the same attributes and ``attrs`` (e.g. the C library); links to a replaced op follow it. The
    ops list is replaced; the other Op objects are shared with the graph it was made from."""
    if not classes:
        return graph
    ops, new = [], {}
    for old in graph.ops:
        cls, op = classes.get(id(old)), old
        links = {k: (new.get(id(src), src), attr, j) for k, (src, attr, j) in old.links.items()}
        if cls is not None or links != old.links:
            node = old.node
            if cls is not None:
                node = object.__new__(cls)
                node.__dict__.update(vars(old.node), **attrs)
            op = new[id(old)] = Op(node, old.args, old.outputs, links)
            op.raw, op.backward = old.raw, old.backward
        ops.append(op)
    graph.ops = ops
    return graph


class LazyTable:
    """A module's table of C functions, its library compiled and loaded on first use (``make()``): a library
    whose ops all run inside C segments (``c_graph``, which compiles their C itself) is never built."""

    def __init__(self, make):
        self._make, self._table = make, None

    def __getitem__(self, key):
        return self.built()[key]

    def built(self):
        """The table, made now if it was not yet."""
        if self._table is None:
            self._table = self._make()
        return self._table


def swap_to_c(graph, classes, make_table):
    """swap_nodes with the C backend's attributes: the nodes share one table of C functions, ``make_table()``,
    built when first used (LazyTable), and print with ``{runs='c'}``."""
    return swap_nodes(graph, classes, lib=LazyTable(make_table), runs="c") if classes else graph


def function_table(lib, kinds, suffixes=("f32", "f64")):
    """{dtype suffix: the functions of kinds, in order}: for each kind (name, argtypes, restype), lib's C function
    ``em_<name>_<suffix>`` with those ctypes argument and result types; a suffix whose functions lib lacks (a
    library built for float32 only: ``has_float64``) has no entry."""
    table = {}
    for suffix in suffixes:
        if not hasattr(lib, f"em_{kinds[0][0]}_{suffix}"):
            continue
        fns = []
        for name, argtypes, restype in kinds:
            fn = getattr(lib, f"em_{name}_{suffix}")
            fn.argtypes, fn.restype = argtypes, restype
            fns.append(fn)
        table[suffix] = tuple(fns)
    return table


FLOAT32_ONLY = "#define EM_FLOAT32_ONLY\n"  # before a hand-written module's C: its float64 functions left out


def has_float64(graph):
    """Whether a value of graph is float64 (its hand-written libraries need their float64 functions)."""
    f64 = np.dtype(np.float64)
    return any(v.dtype == f64 for v in graph.values_used()) or any(
        o is not None and o.dtype == f64 for op in graph.walk() for o in op.outputs)


def c_array(a):
    """a itself when C can read it as a flat row-major buffer (C-contiguous, aligned), else such a copy."""
    return a if a.flags.c_contiguous and a.flags.aligned else np.ascontiguousarray(a)
