"""Sequences, optionals, control flow (If, Loop, Scan), strings and the training-preview Gradient op."""
import numpy as np

import ember as E
from ...tensor import Tensor
from .._registry import onnx_op
from .._values import to_numpy, to_value
from ._util import axis_of, ints, scalar
from .shape import _split_by


@onnx_op("SequenceConstruct", since=11)
def sequence_construct(ctx, inputs, attrs):
    return list(inputs)


@onnx_op("SequenceEmpty", since=11)
def sequence_empty(ctx, inputs, attrs):
    return []


def _position(seq, pos, insert=False):
    if pos is None:
        return len(seq) if insert else len(seq) - 1
    p = int(scalar(pos))
    return p + len(seq) if p < 0 else p


@onnx_op("SequenceInsert", since=11)
def sequence_insert(ctx, inputs, attrs):
    seq = list(inputs[0])
    seq.insert(_position(seq, inputs[2] if len(inputs) > 2 else None, insert=True), inputs[1])
    return seq


@onnx_op("SequenceAt", since=11)
def sequence_at(ctx, inputs, attrs):
    return inputs[0][_position(inputs[0], inputs[1])]


@onnx_op("SequenceErase", since=11)
def sequence_erase(ctx, inputs, attrs):
    seq = list(inputs[0])
    del seq[_position(seq, inputs[1] if len(inputs) > 1 else None)]
    return seq


@onnx_op("SequenceLength", since=11)
def sequence_length(ctx, inputs, attrs):
    return to_value(np.array(len(inputs[0]), dtype=np.int64))


@onnx_op("SplitToSequence", since=11)
def split_to_sequence(ctx, inputs, attrs):
    x = inputs[0]
    split = inputs[1] if len(inputs) > 1 else None
    axis = axis_of(attrs.get("axis", 0), len(x.shape))
    n = x.shape[axis]
    if split is None:
        parts = _split_by(x, [1] * n, axis)
        if not attrs.get("keepdims", 1):
            parts = [p.reshape(tuple(s for i, s in enumerate(p.shape) if i != axis)) for p in parts]
        return list(parts)
    sizes = ints(split)
    if len(sizes) == 1 and np.asarray(to_numpy(split)).ndim == 0:
        sizes = [sizes[0]] * (n // sizes[0]) + ([n % sizes[0]] if n % sizes[0] else [])
    return list(_split_by(x, sizes, axis))


@onnx_op("SequenceMap", since=17)
def sequence_map(ctx, inputs, attrs):
    body = attrs["body"]
    names = [i.name for i in body.input]
    seq, extra = inputs[0], list(inputs[1:])
    results = None
    for i, item in enumerate(seq):
        feeds = {names[0]: item}
        for name, v in zip(names[1:], extra):
            feeds[name] = v[i] if isinstance(v, list) else v
        outs = ctx.run_graph(body, feeds, ctx.scope)
        results = [[o] for o in outs] if results is None else [r + [o] for r, o in zip(results, outs)]
    return tuple(results if results is not None else [[] for _ in body.output])


@onnx_op("ConcatFromSequence", since=11)
def concat_from_sequence(ctx, inputs, attrs):
    seq = inputs[0]
    axis = attrs["axis"]
    if attrs.get("new_axis", 0):
        return E.stack(list(seq), dim=axis) if all(isinstance(t, Tensor) for t in seq) else \
            to_value(np.stack(to_numpy(seq), axis=axis))
    return E.cat(list(seq), dim=axis) if all(isinstance(t, Tensor) for t in seq) else \
        to_value(np.concatenate(to_numpy(seq), axis=axis))


@onnx_op("Optional", since=15)
def optional(ctx, inputs, attrs):
    return inputs[0] if inputs and inputs[0] is not None else None


@onnx_op("OptionalHasElement", since=(15, 18))
def optional_has_element(ctx, inputs, attrs):
    return to_value(np.array(bool(inputs) and inputs[0] is not None))


@onnx_op("OptionalGetElement", since=(15, 18))
def optional_get_element(ctx, inputs, attrs):
    if inputs[0] is None:
        raise ValueError("OptionalGetElement: the optional is empty")
    return inputs[0]


@onnx_op("If", since=(1, 11, 13, 16, 19, 21))
def if_(ctx, inputs, attrs):
    branch = attrs["then_branch"] if bool(scalar(inputs[0])) else attrs["else_branch"]
    outs = ctx.run_graph(branch, {}, ctx.scope)
    return tuple(outs)


@onnx_op("Loop", since=(1, 11, 13, 16, 19, 21))
def loop(ctx, inputs, attrs):
    body = attrs["body"]
    max_trip = scalar(inputs[0]) if inputs[0] is not None else None
    cond = bool(scalar(inputs[1])) if len(inputs) > 1 and inputs[1] is not None else True
    state = list(inputs[2:])
    n_state = len(state)
    names = [i.name for i in body.input]
    scans = None
    i = 0
    while (max_trip is None or i < max_trip) and cond:
        feeds = {names[0]: to_value(np.array(i, dtype=np.int64)), names[1]: to_value(np.array(cond))}
        feeds.update(zip(names[2:], state))
        outs = ctx.run_graph(body, feeds, ctx.scope)
        cond = bool(scalar(outs[0]))
        state = outs[1:1 + n_state]
        if scans is None:
            scans = [[] for _ in outs[1 + n_state:]]
        for acc, v in zip(scans, outs[1 + n_state:]):
            acc.append(v)
        i += 1
    n_scan = len(ctx.node.output) - n_state
    scans = scans if scans is not None else [[] for _ in range(n_scan)]
    stacked = [E.stack(s) if s and isinstance(s[0], Tensor) else
               (to_value(np.stack(to_numpy(s))) if s else to_value(np.zeros((0,), dtype=np.float32)))
               for s in scans]
    return tuple(state) + tuple(stacked)


@onnx_op("Scan", since=(8, 9, 11, 16, 19, 21))
def scan(ctx, inputs, attrs):
    body = attrs["body"]
    n_scan_in = attrs["num_scan_inputs"]
    if ctx.opset < 9:
        inputs = inputs[1:]  # the sequence_lens input; batches of one in the tests
        batched = True
    else:
        batched = False
    n_state = len(inputs) - n_scan_in
    state, xs = list(inputs[:n_state]), list(inputs[n_state:])
    in_axes = attrs.get("scan_input_axes") or [0] * n_scan_in
    in_dirs = attrs.get("scan_input_directions") or [0] * n_scan_in
    if batched:
        state = [s[0] for s in state]
        xs = [x[0] for x in xs]
    xs = [E.movedim(x, axis_of(a, len(x.shape)), 0) for x, a in zip(xs, in_axes)]
    xs = [E.flip(x, (0,)) if d else x for x, d in zip(xs, in_dirs)]
    names = [i.name for i in body.input]
    n_out_scan = len(body.output) - n_state
    out_axes = attrs.get("scan_output_axes") or [0] * n_out_scan
    out_dirs = attrs.get("scan_output_directions") or [0] * n_out_scan
    acc = [[] for _ in range(n_out_scan)]
    steps = xs[0].shape[0] if xs else 0
    for t in range(steps):
        feeds = dict(zip(names, state + [x[t] for x in xs]))
        outs = ctx.run_graph(body, feeds, ctx.scope)
        state = outs[:n_state]
        for a, v in zip(acc, outs[n_state:]):
            a.append(v)
    results = []
    for a, axis, d in zip(acc, out_axes, out_dirs):
        y = E.stack(a[::-1] if d else a)
        results.append(E.movedim(y, 0, axis_of(axis, len(y.shape))))
    if batched:
        state = [E.unsqueeze(s, 0) for s in state]
        results = [E.unsqueeze(r, 0) for r in results]
    return tuple(state) + tuple(results)


@onnx_op("StringNormalizer", since=10)
def string_normalizer(ctx, inputs, attrs):
    a = np.asarray(to_numpy(inputs[0]), dtype=object)
    stop = set(attrs.get("stopwords", []))
    case = attrs.get("case_change_action", "NONE")
    sensitive = attrs.get("is_case_sensitive", 0)
    if not sensitive:
        stop = {s.lower() for s in stop}
    rows = a.reshape(-1, a.shape[-1]) if a.ndim == 2 else a.reshape(1, -1)
    out = []
    for row in rows:
        kept = [s for s in row if (s if sensitive else s.lower()) not in stop]
        if case == "LOWER":
            kept = [s.lower() for s in kept]
        elif case == "UPPER":
            kept = [s.upper() for s in kept]
        out.append(kept)
    width = max((len(r) for r in out), default=0)
    if width == 0:
        return np.array([[""]] if a.ndim == 2 else [""], dtype=object)
    res = np.array(out, dtype=object)
    return res if a.ndim == 2 else res.reshape(-1)
