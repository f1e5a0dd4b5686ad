"""Fused ops: the normalisations (batch, layer, group, instance, rms norm), scaled_dot_product_attention, the LSTM/GRU
cells and the whole-sequence LSTM/GRU/RNN layers. Each is covered with its gradient node, whose backward (the second
derivative, checked by gradgradcheck) comes from the op's decomposition."""
import ember
import ember.nn.functional as F
from ember.ops.rnn import gru_cell, lstm_cell, rnn_layer

from . import Mask, OpInfo, Sample, T


def _batch_norm_train(fw, x, w, b, momentum=0.3):
    """Training mode with running statistics (fresh ones each call): the output and the updated statistics."""
    c = x.shape[1]
    rm, rv = fw.zeros(c, dtype=x.dtype), fw.ones(c, dtype=x.dtype)
    y = fw.nn.functional.batch_norm(x, rm, rv, w, b, training=True, momentum=momentum)
    return y, rm, rv


def _batch_norm_eval(fw, x, w, b):
    c = x.shape[1]
    rm = fw.linspace(-0.5, 0.5, c, dtype=x.dtype)
    rv = fw.linspace(0.5, 1.5, c, dtype=x.dtype)
    return fw.nn.functional.batch_norm(x, rm, rv, w, b, training=False)


def _dropout_attention(q, k, v):
    ember.manual_seed(3)  # the same dropout mask in every call (gradcheck evaluates the function many times)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)


def _torch_layer(torch, mode, x, h0, c0, weights, reverse=False, batch_first=False):
    """torch's one-layer, one-direction recurrent function: (output, h_n[, c_n]) without the layer dimension of the
    states. A reversed layer is the forward layer over the sequence flipped in time, its output flipped back."""
    t = 1 if batch_first else 0
    if reverse:
        x = x.flip(t)
    hx = (h0[None], c0[None]) if mode == "LSTM" else h0[None]
    fn = {"LSTM": torch.lstm, "GRU": torch.gru, "RNN_TANH": torch.rnn_tanh, "RNN_RELU": torch.rnn_relu}[mode]
    out = fn(x, hx, list(weights), len(weights) >= 4, 1, 0.0, False, False, batch_first)
    out = [out[0].flip(t) if reverse else out[0]] + [s[0] for s in out[1:]]
    return tuple(out)


def _layer_entry(mode, gates, hidden=2, proj=None, reverse=False, batch_first=False, bias=True, name=None):
    """An entry for rnn_layer: a sequence of 3 steps, batch 2, input 3."""
    lstm = mode == "LSTM"
    out = proj or hidden
    x = T((2, 3, 3)) if batch_first else T((3, 2, 3))
    ws = [T((gates * hidden, 3)), T((gates * hidden, out))]
    if bias:
        ws += [T((gates * hidden,)), T((gates * hidden,))]
    if proj:
        ws.append(T((proj, hidden)))
    states = [T((2, out))] + ([T((2, hidden))] if lstm else [])
    n_states = len(states)

    def fn(x, *args):
        h0, c0 = args[0], (args[1] if lstm else None)
        w = list(args[n_states:])
        if not bias:
            w[2:2] = [None, None]
        w += [None] * (5 - len(w))
        return rnn_layer(mode, x, h0, c0, *w, reverse=reverse, batch_first_input=batch_first,
                         batch_first_output=batch_first)

    def ref(torch, x, *args):
        c0 = args[1] if lstm else None
        return _torch_layer(torch, mode, x, args[0], c0, args[n_states:], reverse, batch_first)

    node = {"LSTM": "LSTMLayer", "GRU": "GRULayer"}.get(mode, "RNNLayer")
    return OpInfo((node, node + "Grad"), fn, [Sample(x, *states, *ws)], ref=ref, name=name, domain=(-1.0, 1.0))


def _cell_samples(gates, states):
    return [Sample(T((2, 3)), *[T((2, 2)) for _ in range(states)], T((gates * 2, 3)), T((gates * 2, 2)),
                   T((gates * 2,)), T((gates * 2,))),
            Sample(T((2, 3)), *[T((2, 2)) for _ in range(states)], T((gates * 2, 3)), T((gates * 2, 2)))]


NORM = ("Normalize", "NormalizeGrad")
ATTENTION = ("Attention", "AttentionGrad")

ENTRIES = [
    # --- normalisation ----------------------------------------------------------------------------------------
    OpInfo(NORM, lambda x, w, b: _batch_norm_train(ember, x, w, b)[0],
           [Sample(T((4, 3)), T((3,)), T((3,))), Sample(T((3, 2, 2, 2)), T((2,)), T((2,))),
            Sample(T((4, 2, 3)), None, None)],
           ref=lambda torch, x, w, b: _batch_norm_train(torch, x, w, b)[0], name="batch_norm_train"),
    OpInfo("Normalize", lambda x, w, b: _batch_norm_train(ember, x, w, b), [Sample(T((4, 3, 2)), T((3,)), T((3,)))],
           ref=lambda torch, x, w, b: _batch_norm_train(torch, x, w, b), grad=False, name="batch_norm_running_stats"),
    OpInfo(NORM, lambda x, w, b: _batch_norm_eval(ember, x, w, b),
           [Sample(T((3, 2, 2)), T((2,)), T((2,))), Sample(T((0, 3)), T((3,)), T((3,)))],
           ref=lambda torch, x, w, b: _batch_norm_eval(torch, x, w, b), name="batch_norm_eval"),
    OpInfo(NORM, F.layer_norm,
           [Sample(T((2, 3, 4)), (4,), T((4,)), T((4,))), Sample(T((3, 2, 3)), (2, 3)),
            Sample(T((0, 4)), (4,), T((4,)), T((4,))), Sample(T((2, 5)), (5,), T((5,)))],
           ref=lambda torch, x, ns, w=None, b=None: torch.nn.functional.layer_norm(x, ns, w, b), name="layer_norm"),
    OpInfo(NORM, F.group_norm, [Sample(T((2, 4, 3)), 2, T((4,)), T((4,))), Sample(T((2, 6)), 3)],
           ref=lambda torch, x, g, w=None, b=None: torch.nn.functional.group_norm(x, g, w, b), name="group_norm"),
    OpInfo(NORM, lambda x, w=None, b=None: F.instance_norm(x, weight=w, bias=b),
           [Sample(T((2, 3, 4))), Sample(T((2, 2, 2, 2)), T((2,)), T((2,)))],
           ref=lambda torch, x, w=None, b=None: torch.nn.functional.instance_norm(x, weight=w, bias=b),
           name="instance_norm"),
    OpInfo(NORM, F.rms_norm, [Sample(T((2, 3, 4)), (4,), T((4,))), Sample(T((3, 4)), (4,))],
           ref=lambda torch, x, ns, w=None: torch.nn.functional.rms_norm(x, ns, w), name="rms_norm"),
    # --- attention --------------------------------------------------------------------------------------------
    OpInfo(ATTENTION, F.scaled_dot_product_attention,
           [Sample(T((2, 3, 4)), T((2, 5, 4)), T((2, 5, 3))),
            Sample(T((2, 1, 3, 2)), T((1, 2, 4, 2)), T((2, 2, 4, 3))),
            Sample(T((2, 0, 4)), T((2, 5, 4)), T((2, 5, 3)))],
           ref=lambda torch, *a, **k: torch.nn.functional.scaled_dot_product_attention(*a, **k), name="sdpa"),
    OpInfo(ATTENTION, F.scaled_dot_product_attention,
           [Sample(T((2, 3, 2)), T((2, 4, 2)), T((2, 4, 3)), attn_mask=Mask((3, 4))),
            Sample(T((2, 3, 2)), T((2, 4, 2)), T((2, 4, 2)), attn_mask=T((1, 4))),
            Sample(T((1, 3, 2)), T((1, 4, 2)), T((1, 4, 2)), scale=0.7, is_causal=True)],
           ref=lambda torch, *a, **k: torch.nn.functional.scaled_dot_product_attention(*a, **k), name="sdpa_mask"),
    OpInfo(ATTENTION, F.scaled_dot_product_attention,
           [Sample(T((1, 32, 2)), T((1, 32, 2)), T((1, 32, 1)), is_causal=True)],
           ref=lambda torch, *a, **k: torch.nn.functional.scaled_dot_product_attention(*a, **k),
           name="sdpa_causal_halves"),
    OpInfo(ATTENTION, F.scaled_dot_product_attention,
           [Sample(T((1, 4, 3, 2)), T((1, 2, 3, 2)), T((1, 2, 3, 2)), enable_gqa=True)],
           ref=lambda torch, *a, **k: torch.nn.functional.scaled_dot_product_attention(*a, **k), name="sdpa_gqa"),
    OpInfo(ATTENTION, _dropout_attention, [Sample(T((2, 3, 2)), T((2, 4, 2)), T((2, 4, 3)))],
           name="sdpa_dropout"),
    # --- recurrent cells and layers ---------------------------------------------------------------------------
    OpInfo(("LSTMCellFused", "LSTMCellGrad"), lambda x, h, c, *w: lstm_cell(x, (h, c), *w), _cell_samples(4, 2),
           ref=lambda torch, x, h, c, *w: tuple(torch.lstm_cell(x, (h, c), *w)), name="lstm_cell"),
    OpInfo(("GRUCellFused", "GRUCellGrad"), gru_cell, _cell_samples(3, 1),
           ref=lambda torch, *a: torch.gru_cell(*a), name="gru_cell"),
    _layer_entry("LSTM", 4, name="lstm_layer"),
    _layer_entry("LSTM", 4, proj=1, reverse=True, batch_first=True, name="lstm_layer_proj_reverse"),
    _layer_entry("GRU", 3, name="gru_layer"),
    _layer_entry("GRU", 3, reverse=True, bias=False, name="gru_layer_reverse"),
    _layer_entry("RNN_TANH", 1, batch_first=True, name="rnn_tanh_layer"),
    _layer_entry("RNN_RELU", 1, reverse=True, name="rnn_relu_layer"),
]
