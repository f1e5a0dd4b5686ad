"""The backward engine: ``backward`` accumulates gradients into leaves' .grad, ``grad`` returns them.

The engine runs nodes in decreasing creation order (a node is always created after the nodes whose outputs it
consumes), from a heap: no recursion and no separate dependency-counting pass, so a chain of a million ops
back-propagates in linear time. A gradient that a backward returns with a broadcast shape or another dtype is
summed back to its input's shape and cast to its dtype here, once, rather than in every op.
"""
import heapq

import numpy as np

from .. import _tracing
from .._sparse import SparseCOO
from ..device import get_array_module
from ..tensor import PostAccumulateGradHook, Tensor
from .anomaly_mode import check_gradients, state as anomaly
from .graph import FREED, check_version, increment_version
from .grad_mode import set_grad_enabled

__all__ = ["backward", "grad"]


def _run(roots, root_grads, retain_graph, create_graph, capture=None):
    """Back-propagate root_grads from roots.

    Without capture, gradients reaching leaves are accumulated into their .grad. With capture (a dict
    {(id(node or leaf), output index): slot}), the gradients of those tensors are returned in a list and no .grad
    is touched; only the part of the graph that leads to them runs.
    """
    with set_grad_enabled(create_graph):
        return _engine(roots, root_grads, retain_graph, create_graph, capture)


def _engine(roots, root_grads, retain_graph, create_graph, capture):
    captured = [None] * len(capture) if capture is not None else None
    # Arrays the user can see (root grads, hook results): a leaf must copy them rather than adopt them as .grad.
    shared = {id(g._data) for g in root_grads}
    buffers = {}
    heap = []
    # Leaf gradients are summed here and delivered once at the end (so a leaf's hooks see the total, as in
    # PyTorch, and a leaf never writes into an array that a node has yet to read): see _add_to_leaf.
    leaves = {}
    for t, g in zip(roots, root_grads):
        fn = t.grad_fn
        if fn is None:  # a leaf: its gradient is the root gradient itself
            _add_to_leaf(leaves, t, g, False, create_graph)
        else:
            _add_to_buffer(buffers, heap, fn, t._out_index, g, create_graph)
    visit, run = _wanted_nodes(buffers, capture) if capture is not None else (None, None)
    # leaves with post-accumulate-grad hooks get their .grad as soon as their last gradient is in
    early = _last_senders(buffers) if capture is None and PostAccumulateGradHook.live[0] else None

    heappop, heappush = heapq.heappop, heapq.heappush
    while heap:
        node = heappop(heap)[1]
        g = buffers.pop(node)
        multi = g.__class__ is list
        if node._pre_hooks:
            g = _run_pre_hooks(node, g, multi, shared)
        if capture is not None:
            _capture_node(node, g, multi, capture, captured)
            if node not in run:
                continue
        inputs = node.inputs
        if inputs is None:
            raise RuntimeError(FREED)
        versions = node._versions
        if versions:
            for i, vbox, v in versions:
                if vbox[0] != v:
                    check_version(node, i, vbox, v)
        in_grads = node.backward(*g) if multi else node.backward(g)
        if in_grads.__class__ is not tuple:
            in_grads = (in_grads,) if isinstance(in_grads, Tensor) else tuple(in_grads)
        if anomaly["enabled"] and anomaly["check_nan"]:
            check_gradients(node, in_grads)
        if len(in_grads) < len(inputs):  # extra trailing gradients are ignored (for ops with optional inputs)
            raise RuntimeError(f"function {node.name}Backward0 returned an incorrect number of gradients (expected "
                               f"{len(inputs)}, got {len(in_grads)})")
        own = node.fresh_grads
        for e, g, meta in zip(node.edges, in_grads, node.input_meta):
            if e is None or g is None:
                continue
            gd = g._data
            if gd.shape != meta[0] or gd.dtype is not meta[1]:
                g = _conform(g, meta, node)
            if e.__class__ is tuple:
                nxt = e[0]
                if visit is not None and nxt not in visit:
                    continue
                if nxt.n_outputs != 1:
                    _add_to_buffer(buffers, heap, nxt, e[1], g, create_graph)
                elif nxt in buffers:
                    buffers[nxt] = _sum(buffers[nxt], g, create_graph)
                else:
                    buffers[nxt] = g
                    heappush(heap, (-nxt._seq, nxt))
            elif capture is None or (id(e), 0) in capture:
                _add_to_leaf(leaves, e, g, own, create_graph)
        in_grads = g = None  # held until the next node's backward otherwise: gradients already summed elsewhere
        if not retain_graph:
            node.release()
        if early and node in early:
            for t in early.pop(node):
                entry = leaves.pop(id(t), None)
                if entry is not None:
                    _deliver_leaf(t, entry[1], captured, capture, create_graph, shared, entry[2])
    for t, g, own, _ in leaves.values():
        _deliver_leaf(t, g, captured, capture, create_graph, shared, own)
    return captured


def _last_senders(buffers):
    """{node: the leaves with a post-accumulate-grad hook whose last gradient that node sends}: nodes run in
    decreasing creation order, so a leaf's gradient is complete once the earliest-created node with an edge to it
    has run."""
    last = {}
    seen = set(buffers)
    stack = list(buffers)
    while stack:
        node = stack.pop()
        for e in node.edges or ():
            if e is None:
                continue
            if e.__class__ is tuple:
                if e[0] not in seen:
                    seen.add(e[0])
                    stack.append(e[0])
            elif e._hooks and any(h.__class__ is PostAccumulateGradHook for h in e._hooks):
                prev = last.get(id(e))
                if prev is None or node._seq < prev[0]._seq:
                    last[id(e)] = (node, e)
    early = {}
    for node, leaf in last.values():
        early.setdefault(node, []).append(leaf)
    return early


def _add_to_leaf(leaves, t, g, own, create_graph):
    """Sum g into leaf t's pending gradient: leaves[id(t)] = [t, grad, own (see _deliver_leaf), made here]."""
    entry = leaves.get(id(t))
    if entry is None:
        leaves[id(t)] = [t, g, own, False]
    elif entry[3] and not create_graph and entry[1]._data.dtype == g._data.dtype and not _tracing.active[0]:
        entry[1]._data += g._data  # a sum made here before: nobody else has seen it
    else:
        entry[1] = _sum(entry[1], g, create_graph)
        entry[2] = entry[3] = True


def _add_to_buffer(buffers, heap, node, idx, g, create_graph):
    """Sum g into the gradient buffer of output idx of node (pushing the node on the heap on first use)."""
    buf = buffers.get(node)
    if node.n_outputs == 1:
        if buf is None:
            buffers[node] = g
            heapq.heappush(heap, (-node._seq, node))
        else:
            buffers[node] = _sum(buf, g, create_graph)
        return
    if buf is None:
        buf = buffers[node] = [None] * node.n_outputs
        heapq.heappush(heap, (-node._seq, node))
    buf[idx] = g if buf[idx] is None else _sum(buf[idx], g, create_graph)


def _sum(a, b, create_graph):
    if create_graph or _tracing.active[0]:  # a traced backward's sums are ops of the graph
        return a + b
    s = a._data + b._data
    return Tensor._wrap(np.asarray(s) if isinstance(s, np.generic) else s)  # NumPy gives scalars for 0-d sums


def _conform(g, meta, node):
    """Sum a broadcast gradient back to the input's shape and cast it to its dtype, as PyTorch's engine does."""
    shape, dtype = meta
    if tuple(g._data.shape) != tuple(shape):
        if not _expandable(tuple(shape), tuple(g._data.shape)):
            i = next(k for k, m in enumerate(node.input_meta) if m is meta)
            raise RuntimeError(f"Function {node.name}Backward0 returned an invalid gradient at index {i} - got "
                               f"{list(g._data.shape)} but expected shape compatible with {list(shape)}")
        g = g.sum_to_size(shape)
    if g._data.dtype != dtype:
        g = g.to(dtype)
    return g


def _expandable(shape, target):
    if len(shape) > len(target):
        return False
    for s, t in zip(reversed(shape), reversed(target)):
        if s != t and s != 1:
            return False
    return True


def _run_pre_hooks(node, g, multi, shared):
    grads = g if multi else [g]
    for i, hooks in node._pre_hooks.items():
        for h in list(hooks):
            if grads[i] is not None:
                r = h(grads[i])
                if r is not None:
                    grads[i] = r
        if grads[i] is not None:
            shared.add(id(grads[i]._data))  # a hook may have kept it (retain_grad does)
    return grads if multi else grads[0]


def _capture_node(node, g, multi, capture, captured):
    for i in range(node.n_outputs):
        slot = capture.get((id(node), i))
        if slot is not None:
            captured[slot] = g[i] if multi else g


def _wanted_nodes(buffers, capture):
    """For grad(): (nodes to visit, nodes to run). Only the part of the graph that leads to a captured tensor
    runs; a captured non-leaf's own node is visited (to take its gradient) but runs only if it leads further."""
    order = []
    seen = set(buffers)
    stack = list(buffers)
    while stack:
        node = stack.pop()
        order.append(node)
        for e in node.edges or ():
            if e.__class__ is tuple and e[0] not in seen:
                seen.add(e[0])
                stack.append(e[0])
    order.sort(key=lambda n: n._seq)  # inputs' nodes come before their consumers
    run, visit = set(), set()
    for node in order:
        for e in node.edges or ():
            if e is None:
                continue
            if e[0] in visit if e.__class__ is tuple else (id(e), 0) in capture:
                run.add(node)
                visit.add(node)
                break
        if node not in visit and any((id(node), i) in capture for i in range(node.n_outputs)):
            visit.add(node)
    return visit, run


def _deliver_leaf(t, g, captured, capture, create_graph, shared, own):
    """Give a leaf its total gradient: run its hooks, then capture it (grad()) or accumulate it into .grad.

    own says that g's array was made by the engine or a built-in op and is seen nowhere else, so it can become
    the leaf's .grad without a copy.
    """
    hooks = t._hooks
    if hooks:
        if _tracing.active[0] and any(h.__class__ is PostAccumulateGradHook for h in hooks):
            # Python run in the middle of the backward whose effects (DistributedDataParallel's reduction, an
            # optimizer step in backward) a graph could not replay
            _tracing.untraceable("a post-accumulate-grad hook on a leaf (register_post_accumulate_grad_hook)")
        for h in list(hooks):
            if h.__class__ is PostAccumulateGradHook:
                continue
            own = False  # a hook may keep the gradient it is given
            r = h(g)
            if r is not None:
                g = r
    if capture is not None:
        slot = capture.get((id(t), 0))
        if slot is not None:
            captured[slot] = g
        return
    _accumulate(t, g, create_graph, shared, own)
    if hooks:
        for h in list(hooks):
            if h.__class__ is PostAccumulateGradHook:
                h.fn(t)


def _accumulate(t, g, create_graph, shared, own):
    """Accumulate g into leaf t's .grad (adopting g's array when own says nobody else sees it)."""
    gd = g._data
    if gd.shape != t._data.shape:
        raise RuntimeError(f"backward: gradient of shape {tuple(gd.shape)} does not match the leaf's shape "
                           f"{tuple(t._data.shape)}")
    if gd.dtype != t._data.dtype:
        g = g.to(t.dtype)
        gd = g._data
    old = t.grad
    if _tracing.active[0] and not create_graph:
        if gd.__class__ is not SparseCOO:
            return _deliver_traced(t, g, old)
        _tracing.untraceable("a sparse gradient (graphs do not hold sparse tensors)")  # delivered as eagerly
    if old is None:
        if create_graph:
            t.grad = g
            return
        # The grad becomes the leaf's own buffer (later accumulated in place), so it must not be seen elsewhere.
        key = id(gd)
        if not own or key in shared or gd.base is not None or not gd.flags.writeable:
            gd = gd.copy()
            key = id(gd)
        shared.add(key)
        t.grad = Tensor._wrap(gd)
    elif create_graph or old.requires_grad:
        t.grad = old + g
    else:
        od = old._data
        if od.shape == gd.shape and od.flags.writeable and od.dtype == gd.dtype:
            od += gd  # in place, like PyTorch's AccumulateGrad
            increment_version(old)
        else:
            t.grad = Tensor._wrap(od + gd)


def _deliver_traced(t, g, old):
    """_deliver_leaf while ember.compile traces: the new .grad is an op's output (a copy where it could be seen
    elsewhere, as the array path decides) and accumulation is the in-place op add_, so the graph holds both."""
    _tracing.grad_seen(t)
    if old is None:
        t.grad = g.clone()  # (Tensor.grad's setter tells the trace)
    elif old.requires_grad:
        _tracing.untraceable("a backward accumulating into a .grad that requires grad")
    else:
        old.add_(g)


# ---------------------------------------------------------------------------------------------------------------
# public entry points


def _make_root_grads(outputs, grad_outputs, who):
    if _tracing.active[0]:
        _tracing.backward_begins()
    grads = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: expected tensors as outputs, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        td = t._data
        if g is None:
            if td.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            ones = Tensor._wrap(get_array_module(td).ones(td.shape, td.dtype))
            grads.append(_tracing.created(ones) if _tracing.active[0] else ones)
            continue
        if not isinstance(g, Tensor):
            g = Tensor(g, dtype=t.dtype, device=t.device)
        if g._data.shape != td.shape:
            raise RuntimeError(f"{who}: Mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and "
                               f"output[{i}] has a shape of {tuple(t.shape)}.")
        if g._data.dtype != t._data.dtype:
            g = g.detach().to(t.dtype)
        grads.append(g)
    return grads


def _as_list(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None) -> None:
    """Compute the gradients of tensors and accumulate them into the ``.grad`` of the leaves they depend on.

    ``backward(loss)`` is ``loss.backward()``; several tensors are differentiated together (their gradients add up).

    Args:
        tensors (Tensor or sequence of Tensor): the tensors to differentiate.
        grad_tensors (Tensor or sequence of Tensor, optional): the gradient of each tensor (None entries for
            one-element tensors, which default to 1). Default: None.
        retain_graph (bool, optional): whether to keep the graph for another backward; create_graph when None.
            Default: None.
        create_graph (bool): whether to record the gradients' own graph, for higher derivatives. Default: False.
        inputs (Tensor or sequence of Tensor, optional): only these leaves get their ``.grad``; all of them when
            None. Default: None.

    PyTorch:
        ``torch.autograd.backward``; same semantics (no ``grad_variables`` or GradientEdge arguments).

    Example:
        >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
        >>> ember.autograd.backward((x * x).sum())
        >>> x.grad
        tensor([2., 4.])
    """
    if _tracing.active[0] and create_graph:
        _tracing.untraceable("backward(create_graph=True) (a graph of gradients is not captured)")
    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors) or [None] * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"backward: got {len(tensors)} tensors and {len(grads)} gradients")
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = _make_root_grads(tensors, grads, "backward")
    if inputs is not None:
        inputs = _as_list(inputs)
        got = grad(tensors, inputs, root_grads, retain_graph=retain_graph, create_graph=create_graph,
                   allow_unused=True)
        for t, g in zip(inputs, got):
            if g is not None:
                if t.grad is not None:
                    t.grad = t.grad + g
                else:
                    t.grad = g if create_graph else Tensor._wrap(g._data.copy())
        return
    _run(tensors, root_grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """Return the gradients of outputs with respect to inputs, without touching any ``.grad``.

    Args:
        outputs (Tensor or sequence of Tensor): the tensors to differentiate.
        inputs (Tensor or sequence of Tensor): the tensors (requiring grad) to differentiate with respect to.
        grad_outputs (Tensor or sequence of Tensor, optional): the gradient of each output (None entries for
            one-element outputs, which default to 1). Default: None.
        retain_graph (bool, optional): whether to keep the graph for another backward; create_graph when None.
            Default: None.
        create_graph (bool): whether to record the gradients' own graph, for higher derivatives. Default: False.
        allow_unused (bool, optional): whether an input the outputs do not depend on gets None rather than an
            error. Default: None (False).
        materialize_grads (bool): whether such an input gets zeros rather than None. Default: False.

    Returns:
        tuple of Tensor: one gradient per input (None for an unused input with allow_unused).

    PyTorch:
        ``torch.autograd.grad``; same semantics (no ``only_inputs``, ``is_grads_batched`` or GradientEdge and
        dict arguments).

    Example:
        >>> x = ember.tensor(3.0, requires_grad=True)
        >>> (g,) = ember.autograd.grad(x ** 2, x, create_graph=True)
        >>> g, ember.autograd.grad(g, x)[0]
        (tensor(6., grad_fn=<MulBackward0>), tensor(2.))
    """
    if _tracing.active[0] and create_graph:
        _tracing.untraceable("autograd.grad(create_graph=True) (a graph of gradients is not captured)")
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    grads = _as_list(grad_outputs) or [None] * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"grad: got {len(outputs)} outputs and {len(grads)} grad_outputs")
    if retain_graph is None:
        retain_graph = create_graph
    for t in inputs:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    root_grads = _make_root_grads(outputs, grads, "grad")
    keys = [(id(t.grad_fn), t._out_index) if t.grad_fn is not None else (id(t), 0) for t in inputs]
    capture = {}
    for key in keys:
        capture.setdefault(key, len(capture))
    captured = _run(outputs, root_grads, retain_graph, create_graph, capture)
    result = [captured[capture[key]] for key in keys]  # the same tensor given twice gets its gradient twice
    for i, (t, g) in enumerate(zip(inputs, result)):
        if g is None:
            if materialize_grads:
                result[i] = Tensor._wrap(get_array_module(t._data).zeros_like(t._data))
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
    return tuple(result)
