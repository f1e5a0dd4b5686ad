"""The ai.onnx.preview.training ops: Gradient (by ember's autograd over the node's graph) and the optimizer
updates Momentum (standard and Nesterov), Adagrad and Adam, as ember expressions of ONNX's formulas."""
import onnx

import ember as E
from ...autograd import enable_grad, grad
from .._registry import onnx_op
from ._util import scalar

_DOMAIN = "ai.onnx.preview.training"


@onnx_op("Gradient", since=1, domain=_DOMAIN)
def gradient(ctx, inputs, attrs):
    """The gradients of attrs['y'] with respect to attrs['xs'], by ember's autograd over the enclosing graph."""
    xs, y = attrs["xs"], attrs["y"]
    feeds = {name: ctx.scope[name].detach().requires_grad_(True) for name in xs}
    with enable_grad():
        value = ctx.run_graph(_upto(ctx, y), feeds, ctx.scope)[0]
    grads = grad(value, [feeds[n] for n in xs], grad_outputs=E.ones_like(value), allow_unused=True)
    return tuple(g.detach() if g is not None else E.zeros_like(feeds[n]) for g, n in zip(grads, xs))


def _upto(ctx, y):
    """A graph of the node's graph up to the node computing ``y`` (Gradient nodes left out), returning ``y``;
    built once per model (kept in the model's memo)."""
    key = ("Gradient", id(ctx.graph), y)
    if key not in ctx.memo:
        ctx.memo[key] = _forward_part(ctx.graph, y)
    return ctx.memo[key]


def _forward_part(graph, y):
    nodes = []
    for node in graph.node:
        if node.op_type == "Gradient":
            continue
        nodes.append(node)
        if y in node.output:
            break
    return onnx.helper.make_graph(nodes, graph.name + "_forward", [],
                                  [onnx.helper.make_value_info(y, onnx.TypeProto())])


def _groups(inputs, per_tensor):
    """Split an optimizer op's inputs (R, T, X1..Xn, G1..Gn, state1..., ...) into per-tensor tuples."""
    rest = inputs[2:]
    n = len(rest) // per_tensor
    return [tuple(rest[j * n + i] for j in range(per_tensor)) for i in range(n)]


def _flatten(results):
    return tuple(r[j] for j in range(len(results[0])) for r in results)


@onnx_op("Momentum", since=1, domain=_DOMAIN)
def momentum(ctx, inputs, attrs):
    r, t = scalar(inputs[0]), scalar(inputs[1])
    alpha, beta, norm = attrs["alpha"], attrs["beta"], attrs["norm_coefficient"]
    nesterov = attrs.get("mode", "standard") == "nesterov"
    results = []
    for x, g, v in _groups(inputs, 3):
        g_reg = norm * x + g
        v_new = alpha * v + (beta if t > 0 else 1) * g_reg
        x_new = x - r * (g_reg + alpha * v_new) if nesterov else x - r * v_new
        results.append((x_new, v_new))
    return _flatten(results)


@onnx_op("Adagrad", since=1, domain=_DOMAIN)
def adagrad(ctx, inputs, attrs):
    r, t = scalar(inputs[0]), scalar(inputs[1])
    decay, eps, norm = attrs.get("decay_factor", 0.0), attrs.get("epsilon", 0.0), attrs.get("norm_coefficient", 0.0)
    lr = r / (1 + t * decay)
    results = []
    for x, g, h in _groups(inputs, 3):
        g_reg = norm * x + g
        h_new = h + g_reg * g_reg
        results.append((x - lr * g_reg / (E.sqrt(h_new) + eps), h_new))
    return _flatten(results)


@onnx_op("Adam", since=1, domain=_DOMAIN)
def adam(ctx, inputs, attrs):
    r, t = scalar(inputs[0]), scalar(inputs[1])
    alpha, beta = attrs.get("alpha", 0.9), attrs.get("beta", 0.999)
    eps, norm, post = attrs.get("epsilon", 0.0), attrs.get("norm_coefficient", 0.0), \
        attrs.get("norm_coefficient_post", 0.0)
    lr = r * (1 - beta ** t) ** 0.5 / (1 - alpha ** t) if t > 0 else r
    results = []
    for x, g, v, h in _groups(inputs, 4):
        g_reg = norm * x + g
        v_new = alpha * v + (1 - alpha) * g_reg
        h_new = beta * h + (1 - beta) * g_reg * g_reg
        x_new = (x - lr * (v_new / (E.sqrt(h_new) + eps))) * (1 - post)
        results.append((x_new, v_new, h_new))
    return _flatten(results)
