"""ONNX rules of the recurrent layer ops (LSTMLayer, GRULayer, RNNLayer: one layer, one direction, whole
sequence) as ONNX's LSTM, GRU and RNN ops, as torch.onnx's rules: the gates reordered from PyTorch's layout to
ONNX's, the two biases concatenated, an initial state of zeros left out (ONNX's default, whatever the batch)."""
import numpy as np

from . import rule

# ONNX's gate order, as indices of PyTorch's gate chunks: LSTM i f g o -> i o f c; GRU r z n -> z r h
_GATES = {"LSTMLayer": ("LSTM", [0, 3, 1, 2]), "GRULayer": ("GRU", [1, 0, 2]), "RNNLayer": ("RNN", [0])}


def _gates(g, w, order, size):
    """w's row chunks of size rows in ONNX's order, with a leading num_directions axis of 1."""
    idx = np.concatenate([np.arange(k * size, (k + 1) * size) for k in order]).astype(np.int64)
    return g.op("Unsqueeze", g.op("Gather", w, g.const(idx), axis=0), g.ints([0]))


def _state(g, h):
    """An initial state (B, H) as ONNX's (1, B, H); None (ONNX's zeros) for a constant of zeros."""
    if h is None or (h.array is not None and not h.array.any()):
        return None
    return g.op("Unsqueeze", h, g.ints([0]))


@rule("LSTMLayer", "GRULayer", "RNNLayer")
def recurrent_layer(g, node, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    kind, order = _GATES[type(node).__name__]
    if w_hr is not None:
        raise g.unsupported("with projections (proj_size)")
    hidden = w_hh.shape[1]
    if node.bf_in:
        x = g.op("Transpose", x, perm=[1, 0, 2])
    w, r = _gates(g, w_ih, order, hidden), _gates(g, w_hh, order, hidden)
    bias = None
    if b_ih is not None:
        bias = g.op("Concat", _gates(g, b_ih, order, hidden), _gates(g, b_hh, order, hidden), axis=1)
    attrs = dict(hidden_size=hidden, direction="reverse" if node.reverse else "forward")
    if kind == "GRU":
        attrs["linear_before_reset"] = 1
    if kind == "RNN":
        attrs["activations"] = ["Relu" if node.relu else "Tanh"]
    states = (_state(g, h0),) + ((_state(g, c0),) if kind == "LSTM" else ())
    outs = g.op(kind, x, w, r, bias, None, *states, outputs=3 if kind == "LSTM" else 2, **attrs)
    y = g.op("Squeeze", outs[0], g.ints([1]))  # (T, 1, B, H) -> (T, B, H)
    if node.bf_out:
        y = g.op("Transpose", y, perm=[1, 0, 2])
    return (y,) + tuple(g.op("Squeeze", h, g.ints([0])) for h in outs[1:])
