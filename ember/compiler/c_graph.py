"""Runs of a graph's ops as one C function each (segments): Inductor's C++ wrapper, MXNet's memory planner.

After fusion and the lowerings, each op of a graph still costs a call from Python (the interpreter, ctypes,
NumPy's dispatch: a few microseconds), which is most of a small model's step. ``lower_segments`` replaces every
maximal run of ops that C can do one after another (``_OK``, ``_EMIT``: GEMMs of Linear and its gradient through
NumPy's own BLAS, fused kernels, cross-entropy and its gradient, copies, SGD / Adam / AdamW updates) by one
``Segment`` op, which calls one generated C function. Its inputs are the values the run reads from before it;
its outputs are the values read after it or handed out (new arrays each run); every other value lives in one
arena at an offset planned from liveness (values whose lives do not overlap share bytes; a copy whose source
dies there shares its source's). Shapes are constants in the C: a graph is traced per shape.

Each run, Python reads what may change without a retrace (the optimizers' hyper-parameters and state) into a
vector of doubles and the state arrays, then calls the function once. Where C cannot do a run (an optimizer
state it does not cover, an input array of another layout, cross-entropy's target out of range or logits that
are not finite: the function returns nonzero before writing anything that outlives it) the segment runs its ops
one by one instead (``Segment.ops_program``), which gives the eager results, errors and warnings.
"""
import ctypes
import hashlib
import math

import numpy as np

from ..autograd import Node
from ..ops._threads import blas_controls, get_num_threads, one_blas_thread, recently_split, team_ran
from ..ops.copy import Clone
from ..ops.linear import Linear, LinearGrad
from ..optim import optimizer as _optimizer
from ..optim.adam import Adam, AdamW
from ..optim.sgd import SGD
from . import blas, c_gemm, c_loss, c_optim, c_rnn, render_c
from .interpret import Program
from .ir import Graph, Op, Value
from .kernel import FusedKernel
from .lower import c_array
from .rules import SUPPORTED_DTYPES

__all__ = ["lower_segments", "Segment", "tuple_offset"]

_T = {np.dtype(np.float32): ("float", "f32", "s"), np.dtype(np.float64): ("double", "f64", "d")}
_ALIGN = 64  # bytes: every arena value starts at a multiple (a cache line, the widest vector)
_ROW, _NO, _TR = 101, 111, 112  # CBLAS: row-major, no transpose, transpose
_tuple_offset = []


def tuple_offset():
    """Where a tuple object holds its items (bytes from its address), checked on a tuple; None if not found."""
    if not _tuple_offset:
        _tuple_offset.append(render_c.field_offset(((object(), object()), (object(),)), lambda t: id(t[0])))
    return _tuple_offset[0]


def _size(v):
    return math.prod(v.shape)


def _floats(*values):
    return all(isinstance(v, Value) and v.dtype in _T for v in values) and len({v.dtype for v in values}) == 1


# ---- which ops a segment takes -------------------------------------------------------------------------------

def _linear_ok(op):
    args = op.args
    if len(args) not in (2, 3) or not _floats(*args, op.outputs[0]):
        return False
    x, w = args[:2]
    return len(x.shape) >= 2 and len(w.shape) == 2 and (len(args) == 2 or args[2].shape == w.shape[:1]) and \
        _size(x) > 0 and _size(w) > 0


def _linear_grad_ok(op):
    g, x, w = op.args
    nx, nw, nb = op.node.need
    used = [g] + ([w] if nx else []) + ([x] if nw else [])
    if not _floats(*used, *(o for o in op.outputs if o is not None)) or len(op.node.x_shape) < 2:
        return False
    return _size(g) > 0 and (not nb or tuple(op.node.b_shape) == g.shape[-1:])


def _loss_grad_ok(op):
    return _size(op.args[0]) == 1 and _floats(op.args[0])


def _update_ok(op):
    node, (p, g) = op.node, op.args
    return type(node.optimizer) in (SGD, Adam, AdamW) and p.kind == "captured" and _floats(p, g) and \
        p.shape == g.shape and _size(p) > 0


_OK = {Linear: _linear_ok, LinearGrad: _linear_grad_ok, FusedKernel: lambda op: True, Clone: lambda op: True,
       c_loss.CrossEntropy: lambda op: True, c_loss.CrossEntropyGrad: _loss_grad_ok,
       _optimizer.OptimizerUpdate: _update_ok, c_optim.OptimizerUpdate: _update_ok}
_CHECKS = (c_loss.CrossEntropy,)  # ops whose C may give up (the segment then runs its ops one by one)


def _runs(graph, phases=False, own_threads=False):
    """The maximal runs of ops (index lists, in order) that a segment can hold: each op covered, an op and the ops
    whose nodes it reads (links) in one run, a check only where no op with effects ran before it, an update's
    output read by nobody; runs of at least two ops, or a GEMM alone where segments own their threads (with phases,
    of forward or backward ops only)."""
    ops, handed_out, readers = graph.ops, graph.handed_out(), graph.readers()
    ok = []
    effects = False
    for op in ops:
        check = _OK.get(type(op.node))
        good = check is not None and not op.raw and check(op)
        if isinstance(op.node, _optimizer.OptimizerUpdate):
            good = good and id(op.outputs[0]) not in handed_out and not readers.get(id(op.outputs[0]))
        if isinstance(op.node, _CHECKS) and effects:
            good = False
        effects = effects or op.node.has_effects()
        ok.append(good)
    index = {id(op): i for i, op in enumerate(ops)}
    pairs = [(index[id(src)], i) for i, op in enumerate(ops) for src, _, _ in op.links.values()]
    while True:
        run_of, runs, current = {}, [], None
        for i, good in enumerate(ok):
            if phases and i and ops[i].backward != ops[i - 1].backward:
                current = None
            if good:
                if current is None:
                    current = []
                    runs.append(current)
                current.append(i)
                run_of[i] = len(runs) - 1
            else:
                current = None
        split = [(a, b) for a, b in pairs if run_of.get(a, -1) != run_of.get(b, -2) and (ok[a] or ok[b])]
        if not split:
            gemm = (Linear, LinearGrad) if own_threads else ()
            runs = [part for r in runs for part in _without_handed_copies(ops, r, readers, handed_out)]
            return [r for r in runs if len(r) >= 2 or isinstance(ops[r[0]].node, gemm)]
        for a, b in split:
            ok[a] = ok[b] = False


def _without_handed_copies(ops, run, readers, handed_out):
    """run less its copies of values made by ops outside it and read last there (a gradient becoming a .grad), in
    the parts between them: the interpreter hands such a value's array over instead of copying it (Program's
    copies to elide), where in a segment the copy is C's memcpy."""
    made = {id(o) for i in run for o in ops[i].outputs if o is not None}

    def handed(i):
        op = ops[i]
        if not isinstance(op.node, Clone):
            return False
        a = op.args[0]
        later = [j for j in readers.get(id(a), ()) if j != i]
        return a.kind == "op" and id(a) not in made and id(a) not in handed_out and all(j < i for j in later)
    parts, current = [], []
    for i in run:
        if handed(i):
            parts.append(current)
            current = []
        else:
            current.append(i)
    parts.append(current)
    return [p for p in parts if p]


# ---- planning the values of a run ------------------------------------------------------------------------------

class _Plan:
    """Where each value of a run lives: ``inputs`` and ``outputs`` (items of the tuple the C function gets; a
    copy's value may share its source's storage: ``alias``, ``storage_of_output``), the other values and the
    buffers ops ask for (a loss's log-probabilities) in the arena (``offsets``, ``arena_bytes``); values never
    stored (``unstored``: a product whose bias and relu the GEMM adds, see _relu_epilogues) nowhere. ``made_at``:
    {value id: the index of the op that makes it} for values made before their own op runs (that kernel's
    output, made by the product's stores): their bytes are theirs from there."""

    def __init__(self, ops, after_reads, unstored=frozenset(), made_at=None):
        self.unstored = unstored
        inside = {id(o) for op in ops for o in op.outputs if o is not None}
        self.inputs, seen = [], set()
        for op in ops:
            for a in op.args:
                if isinstance(a, Value) and id(a) not in inside and id(a) not in seen:
                    seen.add(id(a))
                    self.inputs.append(a)
        self.outputs = [o for op in ops if not isinstance(op.node, _optimizer.OptimizerUpdate)
                        for o in op.outputs if o is not None and id(o) in after_reads]
        out_ids = {id(o) for o in self.outputs}
        last = {}
        for i, op in enumerate(ops):
            for a in op.args:
                if isinstance(a, Value):
                    last[id(a)] = i
        # a copy of a value that dies at the copy takes its storage
        self.alias = {}
        for i, op in enumerate(ops):
            a = op.args[0] if isinstance(op.node, Clone) else None
            if a is not None and id(a) in inside and id(a) not in out_ids and last.get(id(a)) == i:
                self.alias[id(op.outputs[0])] = self.alias.get(id(a), id(a))
        # values sharing a storage: an output's storage is that output's array
        members = {}
        for op in ops:
            for o in op.outputs:
                if o is not None and not isinstance(op.node, _optimizer.OptimizerUpdate) and id(o) not in unstored:
                    members.setdefault(self.alias.get(id(o), id(o)), []).append(o)
        self.storage_of_output = {}
        spans = []  # (key, bytes, first, last)
        define = {id(o): i for i, op in enumerate(ops) for o in op.outputs if o is not None}
        define.update(made_at or {})
        for root, vals in members.items():
            outs = [v for v in vals if id(v) in out_ids]
            if outs:
                for v in vals:
                    self.storage_of_output[id(v)] = outs[0]
                continue
            first = min(define[id(v)] for v in vals)
            end = max(max(last.get(id(v), define[id(v)]) for v in vals), first)
            spans.append((root, _size(vals[0]) * vals[0].dtype.itemsize, first, end))
        for i, op in enumerate(ops):
            if isinstance(op.node, c_loss.CrossEntropy):
                x = op.args[0]
                end = max([j for j, r in enumerate(ops) if any(s is op for s, _, _ in r.links.values())] + [i])
                spans.append(((id(op), "logp"), _size(x) * x.dtype.itemsize, i, end))
                spans.append(((id(op), "sums"), 16, i, end))
            if isinstance(op.node, LinearGrad) and op.node.need[2]:
                g = op.args[0]
                spans.append(((id(op), "ones"), (_size(g) // g.shape[-1]) * g.dtype.itemsize, i, i))
        self.offsets, self.arena_bytes = _place(spans)

    def root(self, v):
        """The id of the value whose storage v uses (itself, or the source of a copy)."""
        return self.alias.get(id(v), id(v))


def _place(spans):
    """Offsets for (key, bytes, first, last) spans: the largest first, each at the lowest aligned offset that no
    placed span with an overlapping life occupies (TFLite's greedy-by-size)."""
    placed, offsets, top = [], {}, 0
    for key, nbytes, first, end in sorted(spans, key=lambda s: -s[1]):
        size = -(-max(nbytes, 1) // _ALIGN) * _ALIGN
        busy = sorted((o, o + s) for o, s, f, e in placed if f <= end and first <= e)
        offset = 0
        for lo, hi in busy:
            if offset + size <= lo:
                break
            offset = max(offset, hi)
        placed.append((offset, size, first, end))
        offsets[key] = offset
        top = max(top, offset + size)
    return offsets, top


# ---- rendering a run as C --------------------------------------------------------------------------------------

class _Render:
    """The C function of one run: pointers to its values, one block of statements per op."""

    def __init__(self, ops, plan, names, own_threads=False, relus=None):
        self.ops, self.plan, self.names = ops, plan, names
        self.relus = relus or {}  # see _relu_epilogues
        self.own_threads = own_threads
        self.lines, self.kernels, self.hp, self.updates, self.bodies = [], {}, 0, [], set()
        self.fused, self.afters = _fusable_updates(ops, plan), {}
        self.arena_item = len(plan.inputs) + len(plan.outputs)  # tuple items: inputs, outputs, arena, doubles,
        self.items = self.arena_item + 2  # then the state arrays of the updates
        self.uses_arena = False
        # an optimizer's step (copies and updates only: each reads only the elements it writes, at the same
        # index) runs as one parallel region, each thread every op on its slice (the same for every op of a size:
        # a copy's slice is there when the update of the same thread reads it), where the segment owns its
        # threads and it is large; else each op splits on its own, one at a time (most parameters are below
        # SPLIT_MIN: gpt_small's AdamW step took 0.56 ms on one thread)
        self.sliced = own_threads and all(isinstance(op.node, (Clone, _optimizer.OptimizerUpdate)) for op in ops) \
            and sum(_size(op.args[0]) for op in ops) >= SPLIT_MIN

    def ptr(self, v):
        """The C name of v's data."""
        return f"v{self.names[id(v)]}"

    def at(self, v):
        """v's data where the op's elements start: its slice's first in a sliced segment."""
        return f"{self.ptr(v)} + lo" if self.sliced else self.ptr(v)

    def slice_lines(self, size):
        """The statements that set an op's elements in a sliced segment: lo and hi."""
        if not self.sliced:
            return []
        return [f"const int64_t lo = (int64_t){size} * t / nthreads, hi = (int64_t){size} * (t + 1) / nthreads;"]

    def threads(self, size):
        """The thread count the function passes to a function splitting this much work: its own from SPLIT_MIN
        elements where the segment owns its threads (see owns_threads), else from PARALLEL_MIN; 1 in a sliced
        segment (its threads are running it)."""
        if self.sliced:
            return "1"
        return "nthreads" if size >= (SPLIT_MIN if self.own_threads else render_c.PARALLEL_MIN) else "1"

    def gemm_threads(self, work):
        """The thread count of a GEMM of this many multiply-adds: split by OpenMP from GEMM_SPLIT_MIN where the
        segment owns its threads, else one call (the BLAS's own threads)."""
        return "nthreads" if self.own_threads and work >= GEMM_SPLIT_MIN else "1"

    def declarations(self):
        plan, lines = self.plan, []
        item = {}
        for k, v in enumerate(plan.inputs):
            item[id(v)] = k
        for k, v in enumerate(plan.outputs):
            item[id(v)] = len(plan.inputs) + k
        declared = set()
        updated = {id(op.outputs[0]) for op in self.ops if isinstance(op.node, _optimizer.OptimizerUpdate)}
        for v in list(plan.inputs) + [o for op in self.ops for o in op.outputs if o is not None]:
            if id(v) in declared or id(v) in updated or id(v) in plan.unstored:
                continue
            declared.add(id(v))
            t = _ctype(v.dtype)
            if id(v) in item:
                where = f"EM_ITEM({item[id(v)]}, {t})"
            elif id(v) in plan.storage_of_output:
                where = f"EM_ITEM({item[id(plan.storage_of_output[id(v)])]}, {t})"
            else:
                self.uses_arena = True
                where = f"({t} *)(arena + {plan.offsets[plan.root(v)]})"
            lines.append(f"    {t} *{self.ptr(v)} = {where};")
        return lines

    def function(self, name):
        """The C function: its pointers, then the ops' blocks."""
        head = [f"int64_t {name}(void *tuple, int nthreads)", "{",
                "    void *const *items = (void *const *)((char *)tuple + EM_TUPLE_OFFSET);", "    (void)nthreads;"]
        if self.uses_arena:
            head.append(f"    char *arena = EM_ITEM({self.arena_item}, char);")
        if self.hp:
            head.append(f"    const double *hp = EM_ITEM({self.arena_item + 1}, const double);")
        lines = self.lines
        if self.sliced:
            lines = ["    EM_OMP(parallel for num_threads(nthreads) schedule(static))",
                     "    for (int t = 0; t < nthreads; ++t) {"] + ["    " + line for line in lines] + ["    }"]
        return "\n".join(head + self.decls + lines + ["    return 0;", "}"])

    def scratch(self, op, kind, ctype):
        self.uses_arena = True
        return f"({ctype} *)(arena + {self.plan.offsets[(id(op), kind)]})"

    def emit(self, op):
        outs = ", ".join(self.ptr(o) if o is not None else "_" for o in op.outputs)
        self.lines.append(f"    /* {outs} = {op.name} */")
        self.lines += ["    {"] + ["        " + line for line in _EMIT[type(op.node)](self, op)] + ["    }"]


def _ctype(dtype):
    """The C type of a pointer to dtype's values (char for those only copied)."""
    dtype = np.dtype(dtype)
    if dtype in SUPPORTED_DTYPES:
        return SUPPORTED_DTYPES[dtype][0]
    return f"{'u' if dtype.kind == 'u' else ''}int{dtype.itemsize * 8}_t" if dtype.kind in "iu" else "char"


def calls_gemm(op):
    """Whether a Linear op's product, or one of a LinearGrad op's (the input's or the weight's gradient), runs on
    ember's GEMM in a segment (c_gemm.runs: its module then calls the GEMM's library)."""
    if isinstance(op.node, Linear):
        x, w = op.args[:2]
        n, k = w.shape
        return c_gemm.runs(op.outputs[0].dtype, _size(x) // k, n, k)
    if isinstance(op.node, LinearGrad):
        g = op.args[0]
        n, k = g.shape[-1], op.node.x_shape[-1]
        m = _size(g) // n
        gx, gw = op.outputs[:2]
        return (gx is not None and c_gemm.runs(g.dtype, m, k, n)) or (gw is not None and c_gemm.runs(g.dtype, n, k, m))
    return False


def _emit_linear(r, op):
    x, w = op.args[:2]
    y = op.outputs[0]
    p = _T[y.dtype][2]
    n, k = w.shape
    m = _size(x) // k
    bias = r.ptr(op.args[2]) if len(op.args) == 3 else "NULL"
    relu = r.relus.get(id(op))
    if relu is not None:  # the kernel's bias and relu in the GEMM's stores, into the kernel's output
        y, bias = relu[0].outputs[0], r.ptr(relu[1])
    if calls_gemm(op):
        r.bodies.add("gemm")
    return [f"em_{p}gemm_on({r.gemm_threads(m * n * k)}, {_NO}, {_TR}, {m}, {n}, {k}, 1, {r.ptr(x)}, {k}, "
            f"{r.ptr(w)}, {k}, 0, {r.ptr(y)}, {n}, {bias}, {int(relu is not None)}, NULL, NULL);"]


def _relu_epilogues(ops, after_reads):
    """{id of a Linear op without a bias: (the kernel after it, the bias)} where the kernel adds a bias to the
    product and takes the relu (Add of the product and a row of its columns, then Relu: what passes.epilogue
    makes of a Linear and a ReLU), and {id of a LinearGrad op: (the kernel after it, the ReLU's output)} where the
    kernel is the ReLU's gradient of the input gradient (ReluGrad), the product's only reader in both, so that
    the GEMM does it in its stores (the same arithmetic) and the product is never stored (_Plan.unstored)."""
    readers = {}
    for op in ops:
        for a in op.args:
            readers.setdefault(id(a), []).append(op)
    made = {id(o): i for i, op in enumerate(ops) for o in op.outputs if o is not None}
    fused = {}
    for i, op in enumerate(ops):
        if isinstance(op.node, Linear) and len(op.args) == 2:
            want = ["Add", "Relu"]
        elif isinstance(op.node, LinearGrad):
            want = ["ReluGrad"]
        else:
            continue
        y = op.outputs[0]
        after = readers.get(id(y), ()) if y is not None else ()
        if id(y) in after_reads or len(after) != 1 or not isinstance(after[0].node, FusedKernel):
            continue
        kernel, args = after[0].node.kernel, after[0].args
        if [s.name for s in kernel.statements] != want or kernel.outputs != [len(want) - 1] or len(args) != 2 or \
                kernel.statements[-1].operands != ([("stmt", 0)] if len(want) == 2 else [("input", 0), ("input", 1)]):
            continue
        if len(want) == 2:  # Add's operands: the two inputs, either way round
            if sorted(kernel.statements[0].operands) != [("input", 0), ("input", 1)]:
                continue
            other = args[1] if args[0] is y else args[0]
            fits = other.shape == (op.args[1].shape[0],)
        else:  # ReluGrad(the ReLU's output, the gradient)
            other = args[0]
            fits = args[1] is y and other.shape == y.shape
        if fits and other is not y and made.get(id(other), -1) < i and \
                len({y.dtype, other.dtype, after[0].outputs[0].dtype}) == 1:
            fused[id(op)] = (after[0], other)
    return fused


def _emit_linear_grad(r, op):
    g, x, w = op.args
    gx, gw, gb = op.outputs
    t, _, p = _T[g.dtype]
    n = g.shape[-1]
    m = _size(g) // n
    k = op.node.x_shape[-1]
    lines = []
    if calls_gemm(op):
        r.bodies.add("gemm")
    if gx is not None:
        gate, relu = "NULL", r.relus.get(id(op))
        if relu is not None:  # the ReLU's gradient in the product's stores, into its kernel's output
            gx, gate = relu[0].outputs[0], r.ptr(relu[1])
        lines.append(f"em_{p}gemm_on({r.gemm_threads(m * n * k)}, {_NO}, {_NO}, {m}, {k}, {n}, 1, {r.ptr(g)}, {n}, "
                     f"{r.ptr(w)}, {k}, 0, {r.ptr(gx)}, {k}, NULL, 0, {gate}, NULL);")
    if gw is not None:
        after = "NULL"
        if id(op) in r.fused:
            lines += _fused_update(r, op, gw)
            after = "&upd.after"
        lines.append(f"em_{p}gemm_on({r.gemm_threads(m * n * k)}, {_TR}, {_NO}, {n}, {k}, {m}, 1, {r.ptr(g)}, {n}, "
                     f"{r.ptr(x)}, {k}, 0, {r.ptr(gw)}, {k}, NULL, 0, NULL, {after});")
    if gb is not None:  # ones @ g, as the NumPy form (a matrix-vector product)
        ones = r.scratch(op, "ones", t)
        lines += [f"{t} *ones = {ones};", f"for (int64_t i = 0; i < {m}; ++i) ones[i] = 1;",
                  f"em_{p}gemv({_ROW}, {_TR}, {m}, {n}, 1, {r.ptr(g)}, {n}, ones, 1, 0, {r.ptr(gb)}, 1);"]
    return lines


def _emit_kernel(r, op):
    if any(kernel is op for kernel, _ in r.relus.values()):
        return ["/* in the product's stores */"]
    kernel = op.node.kernel
    name, text = render_c.render_kernel(kernel)
    r.kernels[name] = text
    dims = ", ".join(str(d) for d in render_c.kernel_dims(kernel))
    args = ", ".join([r.ptr(a) for a in op.args] + [r.ptr(o) for o in op.outputs])
    # the kernel splits whenever given more than one thread
    threads = r.threads(math.prod(kernel.shape))
    return [f"static const int64_t dims[] = {{{dims}}};", f"{name}(dims, {threads}, {args});"]


def _emit_clone(r, op):
    a, out = op.args[0], op.outputs[0]
    if r.plan.root(out) == r.plan.root(a) and id(out) in r.plan.alias:
        return ["/* its argument's storage */"]
    if not _size(a):
        return []
    if r.sliced:
        return r.slice_lines(_size(a)) + [f"memcpy({r.at(out)}, {r.at(a)}, (size_t)(hi - lo) * {a.dtype.itemsize});"]
    return [f"memcpy({r.ptr(out)}, {r.ptr(a)}, {_size(a) * a.dtype.itemsize});"]


def _emit_loss(r, op):
    r.bodies.add("loss")
    x, target = op.args
    t, s, _ = _T[x.dtype]
    n, c = x.shape
    mean = op.node.reduction == "mean"
    logp, sums = r.scratch(op, "logp", t), r.scratch(op, "sums", "double")
    value = "sums[0] / sums[1]" if mean else "sums[0]"
    return [f"{t} *logp = {logp};", f"double *sums = {sums};",
            f"if (em_xent_{s}({n}, {c}, {op.node.targets[0]}, {r.threads(_size(x))}, {r.ptr(x)}, {r.ptr(target)}, "
            "logp, sums))", "    return 1;", f"{r.ptr(op.outputs[0])}[0] = ({t})({value});"]


def _emit_loss_grad(r, op):
    g, x = op.args
    loss = op.links["saved"][0]
    t, s, _ = _T[x.dtype]
    n, c = x.shape
    mean = op.node.reduction == "mean"
    logp, sums = r.scratch(loss, "logp", t), r.scratch(loss, "sums", "double")
    scale = f"(double){r.ptr(g)}[0]" + (" / sums[1]" if mean else "")
    return [f"const double *sums = {sums};", "(void)sums;",
            f"em_xent_grad_{s}({n}, {c}, {loss.node.targets[0]}, {r.threads(_size(x))}, {scale}, {logp}, "
            f"{r.ptr(loss.args[1])}, {r.ptr(op.outputs[0])});"]


def _emit_update(r, op):
    if any(update is op for update in r.fused.values()):
        return [f"/* in the product of {r.ptr(op.args[1])} */"]
    p, g = op.args
    h, item = _update_slots(r, op)
    t = _T[p.dtype][0]
    states = [f"EM_ITEM({item + k}, {t}) + lo" if r.sliced else f"EM_ITEM({item + k}, void)" for k in range(2)]
    n = "hi - lo" if r.sliced else _size(p)
    return r.slice_lines(_size(p)) + _update_calls(op, h, n, r.threads(_size(p)), r.at(p), r.at(g), states)


def _update_slots(r, op):
    """(where op's hyper-parameters start in hp, the tuple item of its first state array), taken in the order
    Segment.forward gives them."""
    r.bodies.add("optim")
    h, item = r.hp, r.items
    r.updates.append((op.node, r.plan.inputs.index(op.args[0]), h))
    sgd = isinstance(op.node.optimizer, SGD)
    r.hp, r.items = h + (8 if sgd else 10), item + (1 if sgd else 2)
    return h, item


def _update_calls(op, h, n, threads, p, g, states):
    """The C statements of op's update of n values at p and g (and its state arrays at ``states``) with its
    hyper-parameters at hp[h:], split over ``threads`` (a C expression), or of SGD's on the calling thread (its
    span functions, c_optim) where that is None."""
    s = _T[op.args[0].dtype][1]
    if isinstance(op.node.optimizer, SGD):
        d = [f"hp[{h + j}]" for j in range(8)]
        call = f"_span_{s}({n}, " if threads is None else f"_{s}({n}, {threads}, "
        return [f"if ({d[0]} != 0)",
                f"    em_sgd_momentum{call}{d[1]}, {d[2]}, {d[3]}, {d[4]}, (int){d[5]}, (int){d[6]}, (int){d[7]}, "
                f"{p}, {g}, {states[0]});",
                "else",
                f"    em_sgd{call}{d[1]}, {d[2]}, (int){d[7]}, {p}, {g});"]
    d = [f"hp[{h + j}]" for j in range(10)]
    return [f"em_adam_{s}({n}, {threads}, {d[0]}, (int){d[1]}, {', '.join(d[2:9])}, (int){d[9]}, {p}, {g}, "
            f"{states[0]}, {states[1]});"]


def _fused_update(r, op, gw):
    """The C statements that set ``upd``, the after-block function (c_gemm.AFTER) of gw's product that runs
    r.fused[id(op)], the SGD update of gw's parameter, on each block of gw's rows as the product makes them (the
    rows still in cache): the function is one of the module's (r.afters)."""
    update = r.fused[id(op)]
    h, item = _update_slots(r, update)
    t = _T[gw.dtype][0]
    body = _update_calls(update, h, "cols", None, f"({t} *)u->p + at", f"({t} *)u->g + at",
                         [f"({t} *)u->state + at"])
    text = "\n".join([
        "{", "    const em_update_after *u = (const em_update_after *)after;", "    const double *hp = u->hp;",
        f"    for (int64_t r = 0, at = ({t} *)c - ({t} *)u->g; r < rows; ++r, at += ldc) {{",
        *("        " + line for line in body), "    }", "}"])
    name = "eu_" + hashlib.sha256(text.encode()).hexdigest()[:16]
    r.afters[name] = (f"static void {name}(const em_gemm_after *after, void *c, int64_t rows, int64_t cols, "
                      f"int64_t ldc)\n{text}")
    return [f"em_update_after upd = {{{{{name}}}, hp, {r.ptr(update.args[0])}, {r.ptr(update.args[1])}, "
            f"EM_ITEM({item}, void)}};"]


def _fusable_updates(ops, plan):
    """{id of a LinearGrad op: the SGD update of its weight gradient} where it can run on the gradient's rows
    as its product makes them (see _fused_update): the update reads the product's storage, the parameter is not
    the product's operand, and no op between them reads the parameter or checks (a failed check reruns the ops
    one by one, so no op with effects may run before it). The op's input gradient is made before (from the
    parameter as it was)."""
    fused = {}
    for i, op in enumerate(ops):
        gw = op.outputs[1] if isinstance(op.node, LinearGrad) else None
        if gw is None:
            continue
        for j in range(i + 1, len(ops)):
            update = ops[j]
            if isinstance(update.node, _optimizer.OptimizerUpdate) and plan.root(update.args[1]) == plan.root(gw):
                p = update.args[0]
                if isinstance(update.node.optimizer, SGD) and all(p is not a for a in op.args[:2]) and not any(
                        isinstance(b.node, _CHECKS) or any(a is p for a in b.args) for b in ops[i + 1:j]):
                    fused[id(op)] = update
                break
    return fused


# where a segment owns its threads (owns_threads): elements from which its kernels, updates and losses split (its
# team is hot), multiply-adds from which its GEMMs split
SPLIT_MIN = 1 << 16
GEMM_SPLIT_MIN = 1 << 18


_EMIT = {Linear: _emit_linear, LinearGrad: _emit_linear_grad, FusedKernel: _emit_kernel, Clone: _emit_clone,
         c_loss.CrossEntropy: _emit_loss, c_loss.CrossEntropyGrad: _emit_loss_grad,
         _optimizer.OptimizerUpdate: _emit_update, c_optim.OptimizerUpdate: _emit_update}

_BLAS = r"""
typedef EM_BLAS_INT em_bi;
static void (*em_sgemm)(int, int, int, em_bi, em_bi, em_bi, float, const float *, em_bi, const float *, em_bi,
                        float, float *, em_bi);
static void (*em_dgemm)(int, int, int, em_bi, em_bi, em_bi, double, const double *, em_bi, const double *, em_bi,
                        double, double *, em_bi);
static void (*em_sgemv)(int, int, em_bi, em_bi, float, const float *, em_bi, const float *, em_bi, float, float *,
                        em_bi);
static void (*em_dgemv)(int, int, em_bi, em_bi, double, const double *, em_bi, const double *, em_bi, double,
                        double *, em_bi);
/* c (m x n, row-major) = alpha op(a) op(b) + beta c (+ bias, a row of n, where not NULL) (then relu'd where
   relu, as the Relu kernels; gated where gate is not NULL: c where the gate's value, rows ldc apart, is > 0, else
   0, as the ReluGrad ones) on the calling thread: ember's GEMM where it runs (c_gemm), else the BLAS; after (where
   not NULL) is given c's rows as they are final */
#define EM_GEMM_ONE(T, P)                                                                                       \
static inline void em_##P##gemm_one(int ta, int tb, em_bi m, em_bi n, em_bi k, T alpha, const T *a, em_bi lda,  \
                                    const T *b, em_bi ldb, T beta, T *c, em_bi ldc, const T *bias, int relu,    \
                                    const T *gate, const em_gemm_after *after)                                  \
{                                                                                                               \
    if (EM_GEMM_OWN_##P(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, relu, gate, after))         \
        return;                                                                                                 \
    em_##P##gemm(101, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);                                    \
    if (bias)                                                                                                   \
        for (em_bi i = 0; i < m; ++i)                                                                           \
            for (em_bi j = 0; j < n; ++j)                                                                       \
                c[i * ldc + j] += bias[j];                                                                      \
    if (relu)                                                                                                   \
        for (em_bi i = 0; i < m; ++i)                                                                           \
            for (em_bi j = 0; j < n; ++j) {                                                                     \
                const T x = c[i * ldc + j];                                                                     \
                c[i * ldc + j] = x > 0 || x != x ? x : 0;                                                       \
            }                                                                                                   \
    if (gate)                                                                                                   \
        for (em_bi i = 0; i < m; ++i)                                                                           \
            for (em_bi j = 0; j < n; ++j)                                                                       \
                c[i * ldc + j] = gate[i * ldc + j] > 0 ? c[i * ldc + j] : 0;                                    \
    if (after)                                                                                                  \
        after->fn(after, c, m, n, ldc);                                                                         \
}
EM_GEMM_ONE(float, s)
EM_GEMM_ONE(double, d)
/* c (m x n, row-major) = alpha op(a) op(b) + beta c split over nthreads OpenMP threads in blocks of c's rows (of
   its columns, in multiples of 16, where it has fewer rows than columns and no after-block function: that one's
   blocks of whole rows are contiguous, so its update streams through the parameter as one pass would), each
   thread computing its block (em_gemm_one): the segment runs the BLAS on one thread (Segment.forward), so that
   the GEMMs and the other functions of a segment share one team of threads (the BLAS's own threads spin beside
   OpenMP's) */
#define EM_GEMM_ON(T, P)                                                                                        \
static inline void em_##P##gemm_on(int nthreads, int ta, int tb, em_bi m, em_bi n, em_bi k, T alpha, const T *a, \
                                   em_bi lda, const T *b, em_bi ldb, T beta, T *c, em_bi ldc, const T *bias,    \
                                   int relu, const T *gate, const em_gemm_after *after)                         \
{                                                                                                               \
    const int rows = m >= n || after;                                                                           \
    if (nthreads <= 1) {  /* (an OpenMP region, even of one thread, costs a microsecond) */                    \
        em_##P##gemm_one(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, relu, gate, after);        \
        return;                                                                                                 \
    }                                                                                                           \
    EM_OMP(parallel for num_threads(nthreads) schedule(static))                                                 \
    for (int t = 0; t < nthreads; ++t) {                                                                        \
        if (rows) {                                                                                             \
            const em_bi r0 = m * t / nthreads, r1 = m * (t + 1) / nthreads;                                     \
            if (r1 > r0)                                                                                        \
                em_##P##gemm_one(ta, tb, r1 - r0, n, k, alpha, ta == 111 ? a + r0 * lda : a + r0, lda, b, ldb,  \
                                 beta, c + r0 * ldc, ldc, bias, relu, gate ? gate + r0 * ldc : NULL, after);    \
        } else {                                                                                                \
            const em_bi c0 = n * t / nthreads / 16 * 16;                                                        \
            const em_bi c1 = t + 1 == nthreads ? n : n * (t + 1) / nthreads / 16 * 16;                          \
            if (c1 > c0)                                                                                        \
                em_##P##gemm_one(ta, tb, m, c1 - c0, k, alpha, a, lda, tb == 111 ? b + c0 : b + c0 * ldb, ldb,  \
                                 beta, c + c0, ldc, bias ? bias + c0 : NULL, relu, gate ? gate + c0 : NULL,     \
                                 after);                                                                        \
        }                                                                                                       \
    }                                                                                                           \
}
EM_GEMM_ON(float, s)
EM_GEMM_ON(double, d)
/* the addresses of NumPy's BLAS functions (ember.compiler.blas), set once after loading */
void em_set_blas(void *sgemm, void *dgemm, void *sgemv, void *dgemv)
{
    *(void **)&em_sgemm = sgemm;
    *(void **)&em_dgemm = dgemm;
    *(void **)&em_sgemv = sgemv;
    *(void **)&em_dgemv = dgemv;
}
"""


# what the after-block function of a product that updates its parameter (_fused_update) is given: c_gemm.AFTER's
# function, the segment's hyper-parameters, the parameter, the gradient (the product) and the momentum buffer
_UPDATE_AFTER = """
typedef struct {
    em_gemm_after after;
    const double *hp;
    void *p, *g, *state;
} em_update_after;
"""


def _source(renders, names, offset, int_type):
    """The C module of a graph's segments: the header (with the data of pointers passed as such), NumPy's BLAS as
    function pointers, the hand-written bodies the segments call, their kernels and the segment functions."""
    bodies = set().union(*(r.bodies for r in renders))
    kernels = {}
    for r in renders:
        kernels.update(r.kernels)
    parts = [render_c.header(offset), "#include <string.h>",
             "#undef EM_DATA", "#define EM_DATA(p, T) ((T *)(p))  /* here the functions get data pointers */",
             f"#define EM_TUPLE_OFFSET {tuple_offset()}",
             "#define EM_ITEM(k, T) ((T *)*(char **)((char *)items[k] + EM_DATA_OFFSET))",
             f"#define EM_BLAS_INT {int_type}", c_gemm.CALLS if "gemm" in bodies else c_gemm.NONE, _BLAS,
             "#undef EM_API", "#define EM_API static inline  /* the hand-written functions: those called compile */"]
    afters = {}
    for r in renders:
        afters.update(r.afters)
    parts += [c_optim.BODY] if "optim" in bodies else []
    parts += [c_loss.BODY] if "loss" in bodies else []
    parts += [kernels[k] for k in sorted(kernels)]
    parts += [_UPDATE_AFTER] + [afters[k] for k in sorted(afters)] if afters else []
    functions = {name: r.function(name) for r, name in zip(renders, names)}  # two runs alike: one function
    return "\n".join(parts + [functions[n] for n in sorted(functions)]) + "\n"


# ---- the op that runs a segment --------------------------------------------------------------------------------

class Segment(Node):
    """Ops of a graph run by one C function (see the module docstring). ``graph_ops`` are the ops it holds (the
    graph prints them under it), ``ops_program`` runs them one by one where C does not."""

    differentiable = False
    fn = None

    def __init__(self, ops, plan, render, program, own_threads=False):
        self.graph_ops = ops
        self.own_threads = own_threads
        self.n_outputs = len(plan.outputs)
        self.ops = f"{len(ops)} ops"
        self.ops_program = program
        self._shapes = [(o.shape, o.dtype) for o in plan.outputs]
        self._written = tuple(plan.inputs.index(op.args[0]) for op in ops
                              if isinstance(op.node, _optimizer.OptimizerUpdate))
        self._updates = tuple(render.updates)
        self._arena_bytes = plan.arena_bytes
        self._checks = any(isinstance(op.node, _CHECKS) for op in ops)
        self._checked = {}  # {update: its state arrays when last seen of the layout C reads} (shared by the runs)

    def has_effects(self):
        return bool(self._written)

    def forward(self, xp, *arrays):
        if xp is not np or not all(a.__class__ is np.ndarray for a in arrays):
            return self._one_by_one(xp, arrays)
        for i in self._written:  # updated in place: as they are (C-contiguous, aligned, writeable), or one by one
            if not arrays[i].flags.carray:
                return self._one_by_one(xp, arrays)
        arrays = [c_array(a) for a in arrays]
        values, extra, starts, undo, groups = [], [], [], [], {}
        checked = self._checked
        for u, (node, p_index, _) in enumerate(self._updates):
            p = arrays[p_index]
            if isinstance(node.optimizer, SGD):
                scalars = groups.get(id(node.group), False)
                if scalars is False:
                    scalars = groups[id(node.group)] = c_optim.sgd_group(node.group)
                if scalars is None:
                    return self._one_by_one(xp, arrays)
                lr, wd, momentum, undamped, nesterov, maximize = scalars
                if not momentum:  # no state to read or make; the C reads no buffer: any array
                    values += (0.0, lr, wd, momentum, undamped, nesterov, False, maximize)
                    extra.append(p)
                    continue
                state = node.state
                buf = state.get("momentum_buffer")
                if buf is None:  # the first step's buffer, made once every update can run in C (below)
                    starts.append((u, len(extra), state, p, True))
                elif not (buf is checked.get(u) or c_optim.same_layout(buf, p)):
                    return self._one_by_one(xp, arrays)
                checked[u] = buf
                values += (1.0, lr, wd, momentum, undamped, nesterov, buf is None, maximize)
                extra.append(buf)
            else:  # a group's numbers once, and once a step count
                hyper = groups.get(id(node.group), False)
                if hyper is False:
                    hyper = groups[id(node.group)] = c_optim.adam_group(node.optimizer, node.group)
                state = node.state
                held = checked.get(u, ())
                if hyper is not None and held and state.get("exp_avg") is held[0] and \
                        state.get("exp_avg_sq") is held[1]:
                    step = state["step"] + 1
                else:
                    step = None if hyper is None else c_optim.adam_step(state, p)
                if step is None:
                    return self._one_by_one(xp, arrays)
                scalars = groups.get((id(node.group), step))
                if scalars is None:
                    scalars = groups[id(node.group), step] = c_optim.adam_scalars(hyper, step)
                values += scalars
                starts.append((u, len(extra), state, p, False))  # its step counted (below)
                extra += (None, None)
            if self._checks:
                undo.append((state, dict(state)))
        for u, at, state, p, sgd in starts:  # the state changes of the updates, now that all can run in C
            if sgd:
                state["momentum_buffer"] = checked[u] = extra[at] = np.empty_like(p)
            else:
                checked[u] = extra[at:at + 2] = c_optim.adam_start(state, p)
        outs = [np.empty(shape, dtype) for shape, dtype in self._shapes]
        arena = np.empty(self._arena_bytes, np.uint8)  # freed after the run, as the interpreter frees its values
        hp = np.array(values, np.float64) if values else arena
        threads = get_num_threads()
        team = self.own_threads and threads > 1  # its GEMMs split over its OpenMP team, each part on one BLAS thread
        if team or recently_split():  # (after a split OpenBLAS's threads would spin beside the next split op's)
            with one_blas_thread():
                failed = self.fn((*arrays, *outs, arena, hp, *extra), threads)
        else:
            failed = self.fn((*arrays, *outs, arena, hp, *extra), threads)
        if team:
            team_ran()
        if failed:
            for state, before in undo:
                state.clear()
                state.update(before)
            return self._one_by_one(xp, arrays)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _one_by_one(self, xp, arrays):
        program = self.ops_program
        env = [None] * program.n_slots
        env[:len(arrays)] = arrays
        program._run_arrays(env)
        outs = [env[s] for s in program.outputs]
        return outs[0] if len(outs) == 1 else tuple(outs)


def segment_runs(graph, phases=False, own_threads=False):
    """The runs of graph's ops (index lists) that lower_segments makes segments of: none without NumPy's BLAS
    functions or where a tuple's items cannot be found. ``phases``: a run never holds both forward and backward
    ops (``Op.backward``: a joint graph runs its two parts at different times)."""
    if blas.find() is None or tuple_offset() is None:
        return []
    return _runs(graph, phases, own_threads)


# modules whose nodes run NumPy's BLAS at length (matmuls: convolutions, recurrent layers, linear algebra, NumPy's
# attention, ...), and so its threads, outside segments (an embedding's gradient into a small table, a one-hot
# matmul, is not counted: it runs on one BLAS thread then)
_BLAS_MODULES = frozenset("ember.ops." + m for m in ("conv", "linalg", "linear", "rnn", "attention", "distance",
                                                      "sparse", "resample", "ctc"))


def _runs_blas(op):
    node = op.node
    if type(node).__module__ == "ember.compiler.c_attention":  # small GEMMs on the calling thread
        return False
    if c_rnn.team_work(op):  # an LSTM layer's C, and its BLAS calls, on the OpenMP team
        return False
    return any(cls.__module__ in _BLAS_MODULES for cls in type(node).__mro__)


def owns_threads(graph, phases=False):
    """Whether graph's segments own the threads (see Segment): GEMMs of GEMM_SPLIT_MIN multiply-adds or more
    inside segments (or LSTM layers running whole in C, on the OpenMP team: c_rnn.team_work) and no op outside
    them running NumPy's BLAS at length. The GEMMs then split over the segment's OpenMP team, each part on one
    BLAS thread, and the graph runs with the BLAS on one thread, so that no BLAS thread spins beside OpenMP's
    (which made whole steps several times slower); its other functions split from SPLIT_MIN elements on the team
    the GEMMs keep hot."""
    if not blas_controls():  # a BLAS whose threads ember cannot set would split inside each block
        return False
    runs = segment_runs(graph, phases, own_threads=True)
    inside = {i for run in runs for i in run}
    big = any(isinstance(graph.ops[i].node, (Linear, LinearGrad)) and _gemm_work(graph.ops[i]) >= GEMM_SPLIT_MIN
              for i in inside) or any(c_rnn.team_work(op) >= GEMM_SPLIT_MIN for op in graph.ops)
    return big and not any(_runs_blas(op) for i, op in enumerate(graph.ops) if i not in inside)


def _gemm_work(op):
    """The multiply-adds of a Linear or LinearGrad op's largest product."""
    if isinstance(op.node, Linear):
        x, w = op.args[:2]
        return _size(x) * w.shape[0]
    g, _, w = op.args
    return _size(g) * op.node.x_shape[-1]


def lower_segments(graph, offset, load, phases=False, own_threads=False, runs=None):
    """graph with its runs of ops that C can do one after another replaced by Segment ops (a new Graph; the
    graph given stays as it was). ``offset``: where an array object holds its data pointer; ``load(source)``
    compiles and loads a C module. Without NumPy's BLAS functions, or where a tuple's items cannot be found,
    graph is returned as it is. ``own_threads``: see owns_threads; ``runs``: segment_runs's, where the caller
    has them."""
    runs = segment_runs(graph, phases, own_threads) if runs is None else runs
    if not runs:
        return graph
    functions = blas.find()
    reads_after = _reads_after(graph, runs)
    renders, segments = [], []
    for n, run in enumerate(runs):
        ops = [graph.ops[i] for i in run]
        relus = _relu_epilogues(ops, reads_after[n])
        made_at = {id(relus[id(op)][0].outputs[0]): i for i, op in enumerate(ops) if id(op) in relus}
        plan = _Plan(ops, reads_after[n], {id(op.outputs[0]) for op in ops if id(op) in relus}, made_at)
        value_names = {}
        for v in plan.inputs + [o for op in ops for o in op.outputs if o is not None]:
            value_names.setdefault(id(v), len(value_names))
        r = _Render(ops, plan, value_names, own_threads, relus)
        for op in ops:
            r.emit(op)
        r.decls = r.declarations()
        renders.append(r)
        segments.append((run, ops, plan))
    names = ["es_" + hashlib.sha256(r.function("SEGMENT").encode()).hexdigest()[:16] for r in renders]
    lib = load(_source(renders, names, offset, functions.int_type))
    lib.em_set_blas(*(ctypes.c_void_p(functions.addresses[k]) for k in ("sgemm", "dgemm", "sgemv", "dgemv")))
    new_ops, at = [], 0
    for (run, ops, plan), r, name in zip(segments, renders, names):
        new_ops += graph.ops[at:run[0]]
        at = run[-1] + 1
        sub = Graph(plan.inputs, ops, plan.outputs)
        node = Segment(ops, plan, r, Program(sub), own_threads)
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = [ctypes.py_object, ctypes.c_int], ctypes.c_int64
        node.fn = fn
        segment = Op(node, plan.inputs, plan.outputs)
        segment.backward = ops[0].backward
        new_ops.append(segment)
    new_ops += graph.ops[at:]
    new = Graph(graph.inputs, new_ops, graph.outputs, graph.writes, graph.output_spec)
    new.modules, new.grad_entry, new.grads = graph.modules, graph.grad_entry, graph.grads
    return new


def _reads_after(graph, runs):
    """For each run, the ids of the values read after it (by a later op, or handed out by the graph)."""
    handed_out = graph.handed_out()
    result = []
    for run in runs:
        later = {id(a) for op in graph.ops[run[-1] + 1:] for a in op.args if isinstance(a, Value)}
        result.append(later | handed_out)
    return result
