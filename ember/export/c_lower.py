"""An inference graph lowered to the steps of a standalone C program: buffers and calls.

Every tensor of the program is a contiguous row-major float32 array in a ``Buffer``: the caller's input or
output, the weights (parameters and constants, each folded into the form its step reads: a Linear weight
transposed, a convolution's weight with the batch normalisation after it folded in), or an intermediate array in
the arena (placed by ``c_memory``). A ``Ref`` points into a buffer; views (reshape, view, flatten, a split along
the outermost dimension) are Refs into their input's buffer and cost nothing. A ``Step`` is one C call: a helper
of ``c_ops`` or a fused elementwise kernel of the compiler's renderer; its scratch buffers live only while it
runs.
"""
import math

import numpy as np

from ..compiler.ir import Value
from .c_graph import ExportError, constant_array

__all__ = ["Buffer", "Ref", "Step", "Program", "lower", "reshaped_strides"]

_F32 = np.dtype(np.float32)


class Buffer:
    """A float array of the C program: kind "input", "output", "weight" (``data``), "arena" or "scratch";
    ``offset`` in its region (set by planning: the weights file, the arena, the output)."""

    __slots__ = ("kind", "size", "data", "offset")

    def __init__(self, kind, size, data=None):
        self.kind, self.size, self.data, self.offset = kind, int(size), data, None


class Ref:
    """A pointer to element ``offset`` of ``buffer``."""

    __slots__ = ("buffer", "offset")

    def __init__(self, buffer, offset=0):
        self.buffer, self.offset = buffer, int(offset)


class Step:
    """One call: ``func(args...)`` with args Refs, ints, floats, strings (C as it is) or None (NULL); ``kernel``
    (a compiler Kernel) instead for a fused elementwise kernel (its args: input Refs then output Refs).
    ``writes``: the buffers it fills; ``scratch``: buffers it needs only while it runs; ``checked``: the call
    returns an error code to pass on (bad token ids)."""

    __slots__ = ("func", "args", "writes", "scratch", "kernel", "checked", "what")

    def __init__(self, func, args, writes, scratch=(), kernel=None, checked=False, what=""):
        self.func, self.args, self.writes, self.scratch = func, list(args), list(writes), list(scratch)
        self.kernel, self.checked, self.what = kernel, checked, what

    def buffers(self):
        return [a.buffer for a in self.args if isinstance(a, Ref)] + self.scratch


class Program:
    """The lowered model: its input and output buffers, weights, steps, the helpers and int tables they use,
    and the input's and outputs' shapes."""

    def __init__(self):
        self.steps, self.weights, self.helpers, self.tables = [], [], set(), []
        self.input = self.output = None
        self.input_shape, self.output_shapes, self.tokens = (), [], False


def _size(shape):
    return int(math.prod(shape))


def _strides(shape):
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return out[::-1]


def _contiguous(shape, strides):
    return all(n == 1 or st == c for n, st, c in zip(shape, strides, _strides(shape)))


def reshaped_strides(shape, strides, new_shape):
    """The strides of a strided array reshaped to new_shape without a copy, or None when that needs a copy
    (NumPy's rule: each group of old dimensions that becomes a group of new ones must be contiguous in itself)."""
    old = [(n, st) for n, st in zip(shape, strides) if n != 1]
    new = list(new_shape)
    if 0 in new or not old:
        return None if 0 in new else _strides(new)
    out = [0] * len(new)
    oi, oj, ni, nj = 0, 1, 0, 1
    while ni < len(new) and oi < len(old):
        np_, op = new[ni], old[oi][0]
        while np_ != op:
            if np_ < op:
                np_ *= new[nj]
                nj += 1
            else:
                op *= old[oj][0]
                oj += 1
        if any(old[k][1] != old[k + 1][0] * old[k + 1][1] for k in range(oi, oj - 1)):
            return None
        out[nj - 1] = old[oj - 1][1]
        for k in range(nj - 1, ni, -1):
            out[k - 1] = out[k] * new[k]
        ni, nj, oi, oj = nj, nj + 1, oj, oj + 1
    return out


class _Lowering:
    def __init__(self, graph):
        self.graph = graph
        self.p = Program()
        self.refs = {}          # id(Value) -> Ref of a contiguous value
        self.views = {}         # id(Value) -> (Ref of element 0, strides): a strided view, copied when read
        self.weights = {}       # id(array) -> Ref of its weight buffer
        self.readers = {}       # id(Value) -> ops reading it
        for op in graph.ops:
            for a in op.values():
                self.readers.setdefault(id(a), []).append(op)
        self.outputs = {id(v) for v in graph.outputs}
        self.skip = set()       # ids of ops already lowered with an earlier one (a folded batch norm)
        self.alive = []         # the arrays made while lowering, so that their ids stay unique

    # --- buffers -----------------------------------------------------------------------------------------------
    def weight(self, array):
        """The Ref of a weight holding array (as float32), one buffer per array object."""
        ref = self.weights.get(id(array))
        if ref is None:
            data = np.ascontiguousarray(array, dtype=np.float32).reshape(-1)
            buf = Buffer("weight", data.size, data)
            self.p.weights.append(buf)
            ref = self.weights[id(array)] = Ref(buf)
            self.weights[id(data)] = ref
            self.alive += [array, data]
        return ref

    def ref(self, v):
        """Where value v lives, contiguous (a constant becomes a weight on first use; a strided view is copied
        once, here)."""
        r = self.refs.get(id(v))
        if r is not None:
            return r
        if id(v) in self.views:
            base, strides = self.views[id(v)]
            out = self.new(v)
            shape = list(v.shape) or [1]
            if len(shape) > 8:
                raise ExportError(f"export c: copies of more than 8 dimensions are not supported ({v.shape})")
            self.step("em_copy_strided", [out, base, len(shape), self.table(shape), self.table(strides or [1])],
                      [out])
            return out
        array = constant_array(v)
        if array is None:
            raise ExportError(f"export c: a value of shape {v.shape} has no C storage (kind {v.kind})")
        r = self.refs[id(v)] = self.weight(array)
        return r

    def layout(self, v):
        """(Ref of element 0, strides) of value v, strided or not."""
        if id(v) in self.views:
            return self.views[id(v)]
        return self.ref(v), _strides(v.shape)

    def place(self, v, base, strides):
        """Value v is base read with strides: a plain Ref when that is contiguous, else a view."""
        if _contiguous(v.shape, strides):
            self.refs[id(v)] = base
        else:
            self.views[id(v)] = (base, list(strides))

    def new(self, v):
        """A new arena array for value v (float32 only)."""
        if v.dtype != _F32:
            raise ExportError(f"export c: only float32 arrays are supported, got {v.dtype} of shape {v.shape} "
                              f"computed by {v.op.name if v.op else v.kind}")
        r = self.refs[id(v)] = Ref(Buffer("arena", _size(v.shape)))
        return r

    def step(self, func, args, outs, scratch=(), **kw):
        self.p.helpers.add(func[3:] if func.startswith("em_") else func)
        self.p.steps.append(Step(func, args, [r.buffer for r in outs], scratch, **kw))

    def table(self, values):
        """The C name of a static const int table holding values."""
        name = f"em_table_{len(self.p.tables)}"
        self.p.tables.append((name, [int(x) for x in np.asarray(values).reshape(-1)]))
        return name

    def array(self, v):
        """The array of a value that must be constant (a weight argument)."""
        array = constant_array(v) if isinstance(v, Value) else v
        if array is None:
            raise ExportError("export c: a weight computed from the input is not supported")
        return array

    # --- the program ---------------------------------------------------------------------------------------------
    def run(self):
        g = self.graph
        if len(g.inputs) != 1:
            raise ExportError(f"export c: the model must take one tensor, it takes {len(g.inputs)}")
        x = g.inputs[0]
        if x.dtype.kind in "iu":
            self.p.tokens = True
        elif x.dtype != _F32:
            raise ExportError(f"export c: the input must be float32 or token ids, got {x.dtype}")
        self.p.input = Buffer("input", _size(x.shape))
        self.p.input.offset = 0
        self.p.input_shape = x.shape
        self.refs[id(x)] = Ref(self.p.input)
        for op in g.ops:
            if id(op) in self.skip:
                continue
            lower = getattr(self, "op_" + op.name, None)
            types = ", ".join(o.type_str for o in op.outputs if o is not None)
            if lower is None:
                raise ExportError(f"export c: the op {op.name} has no C form (it computes {types})")
            first = len(self.p.steps)
            lower(op)
            for step in self.p.steps[first:]:
                step.what = step.what or f"{op.name} -> {types}"
        self._outputs()
        return self.p

    def _outputs(self):
        """The outputs go to the caller's array, one after the other: the arena buffer an output fills becomes
        that part of the output; anything else (a weight, the input, a view into a larger array) is copied."""
        total = sum(_size(v.shape) for v in self.graph.outputs)
        self.p.output = out = Buffer("output", total)
        out.offset = 0
        self.p.output_shapes = [v.shape for v in self.graph.outputs]
        at, moved = 0, set()
        for v in self.graph.outputs:
            r, n = self.ref(v), _size(v.shape)
            b = r.buffer
            if b.kind == "arena" and r.offset == 0 and b.size == n and id(b) not in moved:
                b.kind, b.offset = "output", at
                moved.add(id(b))
            else:
                self.p.steps.append(Step("memcpy", [Ref(out, at), r, f"sizeof(float) * {n}"], [out]))
            at += n

    # --- views: no copies until a step needs a contiguous array ------------------------------------------------
    def _reshape(self, op):
        x, y = op.args[0], op.outputs[0]
        if id(x) in self.views:
            base, strides = self.views[id(x)]
            new = reshaped_strides(x.shape, strides, y.shape)
            if new is not None:
                return self.place(y, base, new)
        self.refs[id(y)] = self.ref(x)

    op_Reshape = op_View = op_Alias = op_Contiguous = _reshape  # every array of the program is contiguous already

    def op_Permute(self, op):
        base, strides = self.layout(op.args[0])
        self.place(op.outputs[0], base, [strides[d] for d in op.node.dims])

    def _piece(self, x, v, dim, start):
        base, strides = self.layout(x)
        self.place(v, Ref(base.buffer, base.offset + start * strides[dim]), strides)

    def op_Split(self, op):
        x = op.args[0]
        dim, start = op.node.dim % len(x.shape), 0
        for size, v in zip(op.node.sizes, op.outputs):
            if v is not None:
                self._piece(x, v, dim, start)
            start += size

    def op_BasicIndex(self, op):
        """t[ints, slices, None, ...]: the view NumPy takes of an array with the same strides (basic indexing
        only computes the new offset and strides: the stand-in array's memory is never read)."""
        x = op.args[0]
        base, strides = self.layout(x)
        stand_in = np.lib.stride_tricks.as_strided(np.zeros(1, _F32), x.shape, [4 * st for st in strides])
        view = stand_in[op.node.key]
        offset = (view.__array_interface__["data"][0] - stand_in.__array_interface__["data"][0]) // 4
        self.place(op.outputs[0], Ref(base.buffer, base.offset + offset), [st // 4 for st in view.strides])

    def op_Narrow(self, op):
        x = op.args[0]
        self._piece(x, op.outputs[0], op.node.dim % len(x.shape), op.node.start)

    # --- dense layers --------------------------------------------------------------------------------------------
    def _batch_norm_after(self, op):
        """The Normalize op (batch norm with running statistics, one statistic per channel of dim 1) that alone
        reads op's output, to fold into op's weights; None."""
        y = op.outputs[0]
        readers = self.readers.get(id(y), [])
        if id(y) in self.outputs or len(readers) != 1:
            return None
        norm = readers[0]
        node = norm.node
        if norm.name != "Normalize" or node.stats is None or not node.lay.aligned or norm.args[0] is not y:
            return None
        if op.name == "Linear" and len(y.shape) != 2:  # batch norm's channels (dim 1) are not the features
            return None
        if any(isinstance(a, Value) and constant_array(a) is None for a in norm.args[1:]):
            return None
        return norm

    def _norm_scale_shift(self, norm, channels):
        """Batch norm with running statistics as y = x * scale + shift per channel (ember's formula, in float64)."""
        node = norm.node
        rm, rv = node.stats
        mean = np.zeros(channels) if rm is None else np.asarray(rm, np.float64).reshape(-1)
        var = np.ones(channels) if rv is None else np.asarray(rv, np.float64).reshape(-1)
        w, b = norm.args[1], norm.args[2]
        scale = 1.0 / np.sqrt(var + node.eps)
        if w is not None:
            scale = scale * np.asarray(self.array(w), np.float64).reshape(-1)
        shift = -mean * scale
        if b is not None:
            shift = shift + np.asarray(self.array(b), np.float64).reshape(-1)
        return scale, shift

    def _folded(self, op, w, b, channels):
        """(weight, bias) arrays with a following batch norm folded in, and the value to store (op's or the
        norm's output)."""
        norm = self._batch_norm_after(op)
        if norm is None:
            return w, b, op.outputs[0]
        scale, shift = self._norm_scale_shift(norm, channels)
        w = (np.asarray(w, np.float64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(np.float32)
        b = ((np.zeros(channels) if b is None else np.asarray(b, np.float64)) * scale + shift).astype(np.float32)
        self.skip.add(id(norm))
        return w, b, norm.outputs[0]

    def op_Linear(self, op):
        x, wv = op.args[0], op.args[1]
        bv = op.args[2] if len(op.args) > 2 else None
        w = self.array(wv)
        b = None if bv is None else self.array(bv)
        if len(x.shape) == 1:
            raise ExportError("export c: Linear of a 1-D input is not supported")
        w, b, y = self._folded(op, w, b, w.shape[0])
        N, K = w.shape
        out = self.new(y)
        self.refs[id(op.outputs[0])] = out
        wt = self.weight(np.ascontiguousarray(np.asarray(w).T))
        self.step("em_linear", [self.ref(x), wt, None if b is None else self.weight(b), out,
                                _size(x.shape[:-1]), K, N], [out])

    def op_Conv(self, op):
        node, x, wv = op.node, op.args[0], op.args[1]
        bv = op.args[2] if len(op.args) > 2 else None
        w, b = self.array(wv), (None if bv is None else self.array(bv))
        w, b, y = self._folded(op, w, b, w.shape[0])
        gh, gw = node.geo
        N, C, O = x.shape[0], x.shape[1], w.shape[0]
        groups = node.groups
        out = self.new(y)
        self.refs[id(op.outputs[0])] = out
        direct = gh.k == gw.k == 1 and gh.s == gw.s == 1 and gh.lo == gw.lo == 0
        cols = [] if direct else [Buffer("scratch", (C // groups) * gh.k * gw.k * gh.n_out * gw.n_out)]
        scratch = Ref(cols[0]) if cols else None
        self.step("em_conv2d", [self.ref(x), self.weight(w), None if b is None else self.weight(b), out, scratch,
                                N, C, gh.n_in, gw.n_in, O, gh.k, gw.k, gh.s, gw.s, gh.d, gw.d, gh.lo, gw.lo,
                                gh.n_out, gw.n_out, groups], [out], cols)

    # --- pooling, resampling, normalisation ------------------------------------------------------------------
    def op_MaxPool(self, op):
        node, x = op.node, op.args[0]
        if node.positions is not None:
            raise ExportError("export c: max pooling with return_indices is not supported")
        gh, gw = node.geo
        y = op.outputs[0]
        out = self.new(y)
        planes = _size(x.shape[:-1] if node.one_d else x.shape[:-2])
        self.step("em_maxpool2d", [self.ref(x), out, planes, gh.n_in, gw.n_in, gh.k, gw.k, gh.s, gw.s, gh.d, gw.d,
                                   gh.lo, gw.lo, gh.n_out, gw.n_out], [out])

    def op_Resample(self, op):
        x = op.args[0]
        shape, src = list(x.shape), self.ref(x)
        maps = op.node.maps
        for i, mp in enumerate(maps):
            axis = mp.axis % len(shape)
            n_out, taps = mp.idx.shape
            new_shape = shape[:axis] + [n_out] + shape[axis + 1:]
            last = i == len(maps) - 1
            v = op.outputs[0] if last else Value(tuple(new_shape), _F32, "op")
            out = self.new(v)
            w = None if mp.w is None else self.weight(np.asarray(mp.w, np.float32))
            self.step("em_axis_map", [src, out, _size(shape[:axis]), mp.n_in, n_out, _size(shape[axis + 1:]), taps,
                                      self.table(mp.idx), w], [out])
            shape, src = new_shape, out

    def op_Normalize(self, op):
        node, x = op.node, op.args[0]
        w, b = op.args[1], op.args[2]
        lay = node.lay
        out = self.new(op.outputs[0])
        if node.stats is not None and lay.aligned:
            n, c = lay.sview[0], lay.sview[1]
            rest = lay.sview[2] if len(lay.sview) > 2 else 1
            scale, shift = self._norm_scale_shift(op, c)
            self.step("em_channel_affine", [self.ref(x), self.weight(scale), self.weight(shift), out, n, c, rest],
                      [out])
            return
        if node.stats is None and lay.rows:
            rows, n = lay.sview
            self.step("em_row_norm", [self.ref(x), None if w is None else self.ref(w),
                                      None if b is None else self.ref(b), out, rows, n, float(node.eps),
                                      int(bool(node.center))], [out])
            return
        raise ExportError(f"export c: this normalisation has no C form (statistics over axes {lay.saxes} of "
                          f"{lay.sview}, {'running' if node.stats is not None else 'batch'} statistics)")

    def _softmax(self, op, log):
        x = op.args[0]
        shape = list(x.shape) or [1]
        dim = op.node.dim % len(shape)
        out = self.new(op.outputs[0])
        self.step("em_softmax", [self.ref(x), out, _size(shape[:dim]), shape[dim], _size(shape[dim + 1:]), int(log)],
                  [out])

    def op_Softmax(self, op):
        self._softmax(op, False)

    def op_LogSoftmax(self, op):
        self._softmax(op, True)

    # --- embedding and attention ---------------------------------------------------------------------------------
    def op_Embedding(self, op):
        table, idx = op.args[0], op.args[1]
        if not isinstance(idx, Value):
            idx = Value(np.shape(idx), np.asarray(idx).dtype, "constant", array=np.asarray(idx))
        if idx.kind == "op":
            raise ExportError("export c: an embedding whose indices are computed in the model is not supported")
        if idx.kind == "constant" and np.abs(idx.array).max(initial=0) >= 2 ** 24:
            raise ExportError("export c: embedding indices above 2^24 do not fit a float")
        V, D = table.shape
        out = self.new(op.outputs[0])
        self.step("em_embedding", [self.ref(table), self.ref(idx), out, _size(idx.shape), V, D], [out],
                  checked=True)

    def _heads(self, v):
        """(Ref, [batch stride, head stride, row stride]) of an attention operand (..., rows, E) whose elements
        along E are adjacent (else it is copied first)."""
        base, strides = self.layout(v)
        if strides[-1] != 1:
            base, strides = self.ref(v), _strides(v.shape)
        lead = list(strides[:-2])
        return base, ([0] * (2 - len(lead)) + lead) + [strides[-2]]

    def op_Attention(self, op):
        node = op.node
        if node.random or node.drop_mask is not None:
            raise ExportError("export c: attention with dropout is not supported (export in eval mode)")
        q, k, v = op.args[:3]
        bias = op.args[3] if len(op.args) > 3 else None
        y = op.outputs[0]
        if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]) or len(q.shape) not in (2, 3, 4):
            raise ExportError(f"export c: attention of q {q.shape}, k {k.shape}, v {v.shape} is not supported "
                              "(2 to 4 dimensions, the same batch dimensions)")
        L, E, S, Ev = q.shape[-2], q.shape[-1], k.shape[-2], v.shape[-1]
        lead = ([1] * (4 - len(q.shape)) + list(q.shape))[:2]
        B, H = lead
        bias_ref, bias_stride = None, 0
        if bias is not None:
            array = np.asarray(self.array(bias), np.float32)
            if _size(array.shape[:-2]) == 1:  # one [L, S] bias for every batch and head
                full = np.broadcast_to(array.reshape(array.shape[-2:]), (L, S))
            else:
                full, bias_stride = np.broadcast_to(array, q.shape[:-2] + (L, S)), L * S
            bias_ref = self.weight(np.ascontiguousarray(full))
        if y.dtype != _F32:
            raise ExportError(f"export c: only float32 attention is supported, got {y.dtype}")
        # the output in (batch, L, heads, Ev) order, as ember's: transpose(1, 2).reshape(b, t, c) then costs nothing
        out = Ref(Buffer("arena", _size(y.shape)))
        ys = [L * H * Ev, Ev, H * Ev]  # batch, head and row strides
        self.place(y, out, (ys + [1])[4 - len(y.shape):])
        (qr, qs), (kr, ks), (vr, vs) = self._heads(q), self._heads(k), self._heads(v)
        scratch = [Buffer("scratch", E * S), Buffer("scratch", L * S)]
        self.step("em_attention", [qr, self.table(qs), kr, self.table(ks), vr, self.table(vs), out, self.table(ys),
                                   bias_ref, bias_stride, Ref(scratch[0]), Ref(scratch[1]), B, H, L, S, E, Ev,
                                   float(node.scale), int(bool(node.causal))], [out], scratch)

    # --- fused elementwise kernels ---------------------------------------------------------------------------------
    def op_FusedKernel(self, op):
        kernel = op.node.kernel
        ins = [self.ref(a) for a in op.args]
        for a in op.args:
            if a.dtype != _F32:
                raise ExportError(f"export c: a fused kernel ({kernel.describe()}) reads {a.dtype} values: only "
                                  "float32 arrays are supported")
        outs = [self.new(v) for v in op.outputs]
        self.p.steps.append(Step("kernel", ins + outs, [r.buffer for r in outs], kernel=kernel,
                                 what=f"fused {kernel.describe()}"))


def lower(graph):
    """The Program of an inference graph (see the module docstring); ExportError names an op without a C form."""
    return _Lowering(graph).run()
