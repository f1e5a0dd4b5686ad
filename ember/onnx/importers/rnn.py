"""Recurrent ONNX ops: RNN, GRU and LSTM (directions, layouts, activations with alpha/beta, clip, peepholes,
linear_before_reset), one time step at a time with ember ops."""
import ember as E
from ...nn import functional as F
from .._registry import onnx_op


def _activation(name, alpha, beta):
    name = name.lower()
    table = {
        "sigmoid": E.sigmoid, "tanh": E.tanh, "relu": F.relu, "softsign": F.softsign, "softplus": F.softplus,
        "affine": lambda x: alpha * x + beta,
        "leakyrelu": lambda x: F.leaky_relu(x, alpha),
        "thresholdedrelu": lambda x: E.where(x > alpha, x, E.zeros_like(x)),
        "scaledtanh": lambda x: alpha * E.tanh(beta * x),
        "hardsigmoid": lambda x: E.clamp(alpha * x + beta, 0, 1),
        "elu": lambda x: F.elu(x, alpha),
    }
    return table[name]


_DEFAULT_ALPHA = {"affine": 1.0, "leakyrelu": 0.01, "thresholdedrelu": 1.0, "scaledtanh": 1.0,
                  "hardsigmoid": 0.2, "elu": 1.0}
_DEFAULT_BETA = {"affine": 0.0, "scaledtanh": 1.0, "hardsigmoid": 0.5}


def _activations(attrs, defaults, dirs):
    names = attrs.get("activations") or defaults * dirs
    alphas = list(attrs.get("activation_alpha") or [])
    betas = list(attrs.get("activation_beta") or [])
    fns = []
    for i, name in enumerate(names):
        key = name.lower()
        alpha = alphas.pop(0) if alphas and key in _DEFAULT_ALPHA else _DEFAULT_ALPHA.get(key, 0.0)
        beta = betas.pop(0) if betas and key in _DEFAULT_BETA else _DEFAULT_BETA.get(key, 0.0)
        fns.append(_activation(name, alpha, beta))
    per_dir = len(defaults)
    return [fns[d * per_dir:(d + 1) * per_dir] for d in range(dirs)]


def _prepare(inputs, attrs, gates, extra_states):
    inputs = list(inputs) + [None] * (8 - len(inputs))
    x, w, r, b = inputs[:4]
    hidden = attrs.get("hidden_size") or r.shape[-1]
    if attrs.get("layout", 0):
        x = E.permute(x, (1, 0, 2))
    dirs = w.shape[0]
    batch = x.shape[1]
    if b is None:
        b = E.zeros((dirs, 2 * gates * hidden), dtype=x.dtype)
    states = []
    for k in range(1 + extra_states):
        s = inputs[5 + k]
        if s is not None and attrs.get("layout", 0):
            s = E.permute(s, (1, 0, 2))
        states.append(s if s is not None else E.zeros((dirs, batch, hidden), dtype=x.dtype))
    return x, w, r, b, states, dirs, hidden, inputs


def _clip(v, attrs):
    c = attrs.get("clip")
    return E.clamp(v, -c, c) if c is not None else v


def _run_directions(x, dirs, attrs, step_fn, states):
    ys, finals = [], []
    direction = attrs.get("direction", "forward")
    for d in range(dirs):
        reverse = direction == "reverse" or (direction == "bidirectional" and d == 1)
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        state = [s[d] for s in states]
        outs = [None] * x.shape[0]
        for t in steps:
            state = step_fn(d, x[t], state)
            outs[t] = state[0]
        ys.append(E.stack(outs) if outs else E.zeros((0,) + tuple(state[0].shape), dtype=x.dtype))
        finals.append(state)
    y = E.stack(ys, dim=1)
    results = [y] + [E.stack([f[k] for f in finals]) for k in range(len(states))]
    if attrs.get("layout", 0):
        results = [E.permute(results[0], (2, 0, 1, 3))] + [E.permute(s, (1, 0, 2)) for s in results[1:]]
    return tuple(results)


@onnx_op("RNN", since=(1, 7, 14, 22))
def rnn(ctx, inputs, attrs):
    x, w, r, b, states, dirs, hidden, _ = _prepare(inputs, attrs, 1, 0)
    acts = _activations(attrs, ["Tanh"], dirs)

    def step(d, xt, state):
        wb, rb = b[d][:hidden], b[d][hidden:]
        pre = E.matmul(xt, w[d].T) + E.matmul(state[0], r[d].T) + wb + rb
        return [acts[d][0](_clip(pre, attrs))]
    return _run_directions(x, dirs, attrs, step, states)


@onnx_op("GRU", since=(1, 3, 7, 14, 22))
def gru(ctx, inputs, attrs):
    x, w, r, b, states, dirs, hidden, _ = _prepare(inputs, attrs, 3, 0)
    acts = _activations(attrs, ["Sigmoid", "Tanh"], dirs)
    lbr = attrs.get("linear_before_reset", 0)
    h_ = hidden

    def step(d, xt, state):
        f, g = acts[d]
        hp = state[0]
        wb, rb = b[d][:3 * h_], b[d][3 * h_:]
        xw = E.matmul(xt, w[d].T) + wb
        z = f(_clip(xw[..., :h_] + E.matmul(hp, r[d][:h_].T) + rb[:h_], attrs))
        rr = f(_clip(xw[..., h_:2 * h_] + E.matmul(hp, r[d][h_:2 * h_].T) + rb[h_:2 * h_], attrs))
        if lbr:
            hh = g(_clip(xw[..., 2 * h_:] + rr * (E.matmul(hp, r[d][2 * h_:].T) + rb[2 * h_:]), attrs))
        else:
            hh = g(_clip(xw[..., 2 * h_:] + E.matmul(rr * hp, r[d][2 * h_:].T) + rb[2 * h_:], attrs))
        return [(1 - z) * hh + z * hp]
    return _run_directions(x, dirs, attrs, step, states)


@onnx_op("LSTM", since=(1, 7, 14, 22))
def lstm(ctx, inputs, attrs):
    x, w, r, b, states, dirs, hidden, inputs = _prepare(inputs, attrs, 4, 1)
    acts = _activations(attrs, ["Sigmoid", "Tanh", "Tanh"], dirs)
    p = inputs[7]
    h_ = hidden

    def step(d, xt, state):
        f_act, g_act, h_act = acts[d]
        hp, cp = state
        gates = E.matmul(xt, w[d].T) + E.matmul(hp, r[d].T) + b[d][:4 * h_] + b[d][4 * h_:]
        gi, go, gf, gc = (gates[..., k * h_:(k + 1) * h_] for k in range(4))
        if p is not None:
            gi = gi + p[d][:h_] * cp
            gf = gf + p[d][2 * h_:] * cp
        i = f_act(_clip(gi, attrs))
        f = 1 - i if attrs.get("input_forget", 0) else f_act(_clip(gf, attrs))
        c = f * cp + i * g_act(_clip(gc, attrs))
        if p is not None:
            go = go + p[d][h_:2 * h_] * c
        o = f_act(_clip(go, attrs))
        return [o * h_act(c), c]
    return _run_directions(x, dirs, attrs, step, states)
