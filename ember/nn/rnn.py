"""Recurrent layers following torch.nn: RNN, LSTM, GRU and the cells RNNCell, LSTMCell, GRUCell.

Parameter names, shapes, gate orders (LSTM i, f, g, o; GRU r, z, n), initialisation and outputs are PyTorch's, so a
state_dict copied from torch by name gives the same outputs and gradients. Each layer and direction is one graph node
(``ember.ops.rnn.rnn_layer``): one GEMM for the input projection of the whole sequence, then per step one GEMM and a
fused cell on arrays.
"""
from __future__ import annotations

import functools
import math
import numbers
import warnings
from typing import Any, overload

from ..dtypes import dtype as _dtype
from ..ops.dropout import dropout as _dropout
from ..ops.creation import zeros
from ..ops.rnn import gru_cell, lstm_cell, rnn_layer, rnn_relu_cell, rnn_tanh_cell
from ..ops.join import cat, stack
from ..tensor import Tensor
from ..types import Device
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _check_int(value, name):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be greater than zero")


def _check_tensor(x, name, what):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected {what} to be a Tensor, got {type(x).__name__}")


class RNNBase(Module):
    """Base class of RNN, LSTM and GRU: their parameters, argument checks and the multi-layer, bidirectional loop.

    Each layer and direction k has weight_ih_l{k} (G * hidden_size, input of the layer), weight_hh_l{k}
    (G * hidden_size, H_out) and with bias bias_ih_l{k}, bias_hh_l{k} (G * hidden_size), with G gates
    (1 for RNN, 3 for GRU, 4 for LSTM) and the suffix _reverse for the backward direction; all start from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Args:
        mode (str): 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'.
        input_size (int): the number of features of each input step, H_in.
        hidden_size (int): the number of features of the hidden state, H_out.
        num_layers (int): the number of stacked recurrent layers, each reading the previous one's outputs.
            Default: 1.
        bias (bool): learn the biases bias_ih_l{k} and bias_hh_l{k}. Default: True.
        batch_first (bool): input and output are (N, L, H) instead of (L, N, H) (not the states). Default: False.
        dropout (float): the dropout probability on the outputs of every layer but the last, in training.
            Default: 0.0.
        bidirectional (bool): add a layer that reads the sequence backwards; outputs are concatenated.
            Default: False.
        proj_size (int): LSTM only: project the hidden state to this size (smaller than hidden_size); 0 for
            none. Default: 0.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (L, N, H_in), (N, L, H_in) with batch_first, or (L, H_in) unbatched; L is the sequence length.
        - hx: (D * num_layers, N, H_out), or (D * num_layers, H_out) unbatched; zeros when not given
          (D = 2 if bidirectional else 1).
        - Output: (L, N, D * H_out) ((N, L, D * H_out) with batch_first): the last layer's h_t for every t.
        - h_n: hx's shape, the final hidden state of every layer and direction.

    PyTorch:
        ``torch.nn.RNNBase``; same parameters and checks. Use RNN, LSTM or GRU rather than this class.

    Example:
        >>> base = nn.RNNBase("GRU", 4, 8)
        >>> base.weight_ih_l0.shape
        ember.Size([24, 4])
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Device = None, dtype: _dtype | None = None) -> None:
        super().__init__()
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element "
                             "being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                          f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=2)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        _check_int(input_size, "input_size")
        _check_int(hidden_size, "hidden_size")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        # backward's big temporaries, reused between steps (see ember.ops.rnn.rnn_layer)
        self._workspace: dict[Any, Any] = {}
        self._create_parameters(device, dtype)
        self.reset_parameters()

    def _create_parameters(self, device, dtype):
        """Register weight_ih_l{k}, weight_hh_l{k}[, bias_ih_l{k}, bias_hh_l{k}][, weight_hr_l{k}] (+ _reverse)."""
        gate_size = _GATES[self.mode] * self.hidden_size
        real_hidden = self.proj_size or self.hidden_size
        directions = 2 if self.bidirectional else 1
        self._flat_weights_names = []
        self._all_weights = []
        self._layer_names = []  # per (layer, direction): names of (w_ih, w_hh, b_ih, b_hh, w_hr), None if absent
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = {f"weight_ih{sfx}": (gate_size, layer_input), f"weight_hh{sfx}": (gate_size, real_hidden)}
                if self.bias:
                    shapes[f"bias_ih{sfx}"] = (gate_size,)
                    shapes[f"bias_hh{sfx}"] = (gate_size,)
                if self.proj_size:
                    shapes[f"weight_hr{sfx}"] = (self.proj_size, self.hidden_size)
                for name, shape in shapes.items():
                    setattr(self, name, Parameter(zeros(shape, device=device, dtype=dtype)))
                names = list(shapes)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
                self._layer_names.append(tuple(n if n in shapes else None for n in (
                    f"weight_ih{sfx}", f"weight_hh{sfx}", f"bias_ih{sfx}", f"bias_hh{sfx}", f"weight_hr{sfx}")))

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_workspace"] = {}
        return state

    @property
    def _flat_weights(self):
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters, one list per layer and direction."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """No-op (PyTorch compacts cuDNN weights here)."""

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as in PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    # --- checks (PyTorch's messages) ------------------------------------------------------------------------
    def check_input(self, input: Tensor, batch_sizes: Tensor | None = None) -> None:
        wdt = self._parameters[self._flat_weights_names[0]].dtype  # type: ignore[union-attr]  # weight_ih_l0
        if input.dtype is not wdt:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({wdt}). Convert input: "
                             f"input.to({wdt}), or convert model: model.to({input.dtype})")
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(f"input must have {expected_input_dim} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.size(-1)}")

    def get_expected_hidden_size(self, input: Tensor, batch_sizes: Tensor | None = None) -> tuple[int, int, int]:
        mini_batch = input.size(0) if self.batch_first else input.size(1)
        directions = 2 if self.bidirectional else 1
        return (self.num_layers * directions, mini_batch, self.proj_size or self.hidden_size)

    def check_hidden_size(self, hx: Tensor, expected_hidden_size: tuple[int, int, int],
                          msg: str = "Expected hidden size {}, got {}") -> None:
        if tuple(hx.shape) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(tuple(expected_hidden_size), list(hx.shape)))
        wdt = self._parameters[self._flat_weights_names[0]].dtype  # type: ignore[union-attr]  # weight_ih_l0
        if hx.dtype is not wdt:
            raise RuntimeError(f"{type(self).__name__}: hidden state dtype ({hx.dtype}) does not match weight dtype "
                               f"({wdt})")

    def check_forward_args(self, input: Tensor, hidden: Tensor, batch_sizes: Tensor | None = None) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def _check_dims(self, input, name):
        _check_tensor(input, name, "input")
        if input.dim() not in (2, 3):
            what = "D tensor" if name == "RNN" else "D"  # PyTorch's wording differs for RNN
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}{what} instead")
        return input.dim() == 3

    # --- the layers -----------------------------------------------------------------------------------------
    def _sequence(self, input, batched):
        """(x, batch_first, batch size): unbatched input gets a batch of one (time-major)."""
        if not batched:
            x, bf = input.unsqueeze(1), False
        else:
            x, bf = input, self.batch_first
        if x.size(1 if bf else 0) == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        return x, bf, x.size(0 if bf else 1)

    @staticmethod
    def _zeros(x, batch, size):
        """Zero initial states (batch, size)."""
        return zeros(batch, size, dtype=x.dtype, device=x.device)

    def _run(self, x, h0s, c0s, direction, features_dim):
        """All layers and directions: (output, h_n[, c_n]), states stacked over layers. direction(layer, reverse,
        x, h0, c0, weights) runs one layer one way: (output, h_n, c_n or None); the directions' outputs join along
        features_dim."""
        p = self._parameters
        directions = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        h_n, c_n = [], []
        k = 0
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                w = [p[n] if n is not None else None for n in self._layer_names[k]]
                out, h, c = direction(layer, d == 1, x, h0s[k], c0s[k] if lstm else None, w)
                outs.append(out)
                h_n.append(h)
                c_n.append(c)
                k += 1
            x = outs[0] if directions == 1 else cat(outs, features_dim)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout, True)
        return (x, stack(h_n, 0), stack(c_n, 0)) if lstm else (x, stack(h_n, 0))

    def _padded_direction(self, bf):
        """The direction runner of _run for a sequence (T, B, I): one rnn_layer node. The first layer reads x
        batch-first when bf and the last one writes the output batch-first; in between it is time-major."""
        def run(layer, reverse, x, h0, c0, w):
            res = rnn_layer(self.mode, x, h0, c0, *w, reverse=reverse, batch_first_input=bf and layer == 0,
                            batch_first_output=bf and layer == self.num_layers - 1, workspace=self._workspace)
            return res[0], res[1], res[2] if c0 is not None else None
        return run

    def _forward_packed(self, input, hx, name):
        """forward on a PackedSequence: each sequence over its own length; (PackedSequence, h_n) or, for LSTM,
        (PackedSequence, (h_n, c_n)), the states in the batch's own order (PyTorch's)."""
        data, batch_sizes, sorted_indices, unsorted_indices = input
        self.check_input(data, batch_sizes)
        sizes = [int(n) for n in batch_sizes.tolist()]
        n_states = self.num_layers * (2 if self.bidirectional else 1)
        lstm = self.mode == "LSTM"
        shapes = [(n_states, sizes[0], self.proj_size or self.hidden_size), (n_states, sizes[0], self.hidden_size)]
        shapes = shapes[:2 if lstm else 1]  # h (and c)
        if hx is None:
            states = [[self._zeros(data, sizes[0], shape[2])] * n_states for shape in shapes]
        else:
            hx = hx if lstm else (hx,)
            states = []
            for k, (h, shape) in enumerate(zip(hx, shapes)):
                _check_tensor(h, name, f"hx[{k}]" if lstm else "hx")
                self.check_hidden_size(h, shape, f"Expected hidden{f'[{k}]' if lstm else ''} size {{}}, got {{}}")
                states.append((h if sorted_indices is None else h.index_select(1, sorted_indices)).unbind(0))
        runs, row, t = [], 0, 0  # (first row in data, time steps, batch size): runs of one batch size
        while t < len(sizes):
            steps = next((j for j in range(t, len(sizes)) if sizes[j] != sizes[t]), len(sizes)) - t
            runs.append((row, steps, sizes[t]))
            row, t = row + steps * sizes[t], t + steps
        out, *finals = self._run(data, states[0], states[1] if lstm else None,
                                 functools.partial(self._packed_direction, runs), 1)
        if unsorted_indices is not None:
            finals = [f.index_select(1, unsorted_indices) for f in finals]
        packed = PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices)
        return (packed, tuple(finals)) if lstm else (packed, finals[0])

    def _packed_direction(self, runs, layer, reverse, x, h0, c0, w):
        """The direction runner of _run for packed rows x (time step t: the next sizes[t] rows, the longest
        sequences first): one rnn_layer node per run of time steps with one batch size. Forwards the states of
        the sequences that end after a run are set aside; backwards those of the sequences that start join."""
        lstm = c0 is not None
        pieces = [None] * len(runs)
        ended = []  # forwards: (h, c) of the sequences that ended, the earliest first
        h = c = None
        for i in (reversed(range(len(runs))) if reverse else range(len(runs))):
            row, steps, n = runs[i]
            if h is None:
                h, c = h0[:n], c0[:n] if lstm else None
            elif reverse:
                h, c = cat([h, h0[h.shape[0]:n]]), cat([c, c0[c.shape[0]:n]]) if lstm else None
            else:
                ended.append((h[n:], c[n:] if lstm else None))
                h, c = h[:n], c[:n] if lstm else None
            res = rnn_layer(self.mode, x[row:row + steps * n].reshape(steps, n, x.shape[1]), h, c, *w,
                            reverse=reverse, workspace=self._workspace)
            pieces[i] = res[0].reshape(steps * n, res[0].shape[2])
            h, c = res[1], res[2] if lstm else None
        if ended:  # the longest sequences (the first rows) ended last
            ended.append((h, c))
            h = cat([e[0] for e in reversed(ended)])
            c = cat([e[1] for e in reversed(ended)]) if lstm else None
        return (pieces[0] if len(pieces) == 1 else cat(pieces)), h, c

    def _forward_one_state(self, input, hx, name):
        """forward of RNN and GRU: hx (L*D, B, H) or None; returns (output, h_n)."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, name)
        batched = self._check_dims(input, name)
        if hx is not None:
            _check_tensor(hx, name, "hx")
            if batched and hx.dim() != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")
            if not batched and hx.dim() != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor")
        x, bf, batch = self._sequence(input, batched)
        self.check_input(x, None)
        n_states = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            h0s = [self._zeros(x, batch, self.hidden_size)] * n_states
        else:
            if not batched:
                hx = hx.unsqueeze(1)
            self.check_hidden_size(hx, (n_states, batch, self.hidden_size))
            h0s = hx.unbind(0)
        out, h_n = self._run(x, h0s, None, self._padded_direction(bf), 2)
        return (out, h_n) if batched else (out.squeeze(1), h_n.squeeze(1))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """A multi-layer Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh) (or relu) at every step.

    Called as ``rnn(input, hx=None)``; returns (output, h_n). Passing proj_size is a ValueError.

    Args:
        *args, **kwargs: the constructor's arguments, listed below: positionally in this order, or by
            keyword.
        input_size (int): the number of features of each input step, H_in.
        hidden_size (int): the number of features of the hidden state, H_out.
        num_layers (int): the number of stacked recurrent layers, each reading the previous one's outputs.
            Default: 1.
        nonlinearity (str): 'tanh' or 'relu'. Default: 'tanh'.
        bias (bool): learn the biases bias_ih_l{k} and bias_hh_l{k}. Default: True.
        batch_first (bool): input and output are (N, L, H) instead of (L, N, H) (not the states). Default: False.
        dropout (float): the dropout probability on the outputs of every layer but the last, in training.
            Default: 0.0.
        bidirectional (bool): add a layer that reads the sequence backwards; outputs are concatenated.
            Default: False.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (L, N, H_in), (N, L, H_in) with batch_first, or (L, H_in) unbatched; L is the sequence length.
        - hx: (D * num_layers, N, H_out), or (D * num_layers, H_out) unbatched; zeros when not given
          (D = 2 if bidirectional else 1).
        - Output: (L, N, D * H_out) ((N, L, D * H_out) with batch_first): the last layer's h_t for every t.
        - h_n: hx's shape, the final hidden state of every layer and direction.

    PyTorch:
        ``torch.nn.RNN``; same parameter names, shapes, initialisation and outputs; a
        ``PackedSequence`` input (``nn.utils.rnn``) gives a PackedSequence output.

    Example:
        >>> rnn = nn.RNN(4, 8, num_layers=2)
        >>> output, h_n = rnn(ember.randn(5, 3, 4))
        >>> output.shape, h_n.shape
        (ember.Size([5, 3, 8]), ember.Size([2, 3, 8]))
    """

    @overload
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Device = None, dtype: _dtype | None = None) -> None: ...
    @overload
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._forward_one_state(input, hx, "RNN")


class GRU(RNNBase):
    """A multi-layer gated recurrent unit: with r, z = sigmoid(...) and n = tanh(W_in x_t + b_in + r * (W_hn h + b_hn)),
    h_t = (1 - z) * n + z * h_(t-1).

    Called as ``gru(input, hx=None)``; returns (output, h_n). The gates are stacked in the order (r, z, n),
    as in PyTorch. Passing proj_size is a ValueError.

    Args:
        *args, **kwargs: the constructor's arguments, listed below: positionally in this order, or by
            keyword.
        input_size (int): the number of features of each input step, H_in.
        hidden_size (int): the number of features of the hidden state, H_out.
        num_layers (int): the number of stacked recurrent layers, each reading the previous one's outputs.
            Default: 1.
        bias (bool): learn the biases bias_ih_l{k} and bias_hh_l{k}. Default: True.
        batch_first (bool): input and output are (N, L, H) instead of (L, N, H) (not the states). Default: False.
        dropout (float): the dropout probability on the outputs of every layer but the last, in training.
            Default: 0.0.
        bidirectional (bool): add a layer that reads the sequence backwards; outputs are concatenated.
            Default: False.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (L, N, H_in), (N, L, H_in) with batch_first, or (L, H_in) unbatched; L is the sequence length.
        - hx: (D * num_layers, N, H_out), or (D * num_layers, H_out) unbatched; zeros when not given
          (D = 2 if bidirectional else 1).
        - Output: (L, N, D * H_out) ((N, L, D * H_out) with batch_first): the last layer's h_t for every t.
        - h_n: hx's shape, the final hidden state of every layer and direction.

    PyTorch:
        ``torch.nn.GRU``; same parameter names, shapes, initialisation and outputs; a
        ``PackedSequence`` input (``nn.utils.rnn``) gives a PackedSequence output.

    Example:
        >>> gru = nn.GRU(4, 8, batch_first=True, bidirectional=True)
        >>> output, h_n = gru(ember.randn(3, 5, 4))
        >>> output.shape, h_n.shape
        (ember.Size([3, 5, 16]), ember.Size([2, 3, 8]))
    """

    @overload
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, device: Device = None,
                 dtype: _dtype | None = None) -> None: ...
    @overload
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._forward_one_state(input, hx, "GRU")


class LSTM(RNNBase):
    """A multi-layer long short-term memory network, with gates (i, f, g, o) and optional projections.

    Called as ``lstm(input, hx=None)`` with hx = (h_0, c_0); returns (output, (h_n, c_n)).

    Args:
        *args, **kwargs: the constructor's arguments, listed below: positionally in this order, or by
            keyword.
        input_size (int): the number of features of each input step, H_in.
        hidden_size (int): the number of features of the hidden state, H_out.
        num_layers (int): the number of stacked recurrent layers, each reading the previous one's outputs.
            Default: 1.
        bias (bool): learn the biases bias_ih_l{k} and bias_hh_l{k}. Default: True.
        batch_first (bool): input and output are (N, L, H) instead of (L, N, H) (not the states). Default: False.
        dropout (float): the dropout probability on the outputs of every layer but the last, in training.
            Default: 0.0.
        bidirectional (bool): add a layer that reads the sequence backwards; outputs are concatenated.
            Default: False.
        proj_size (int): project each hidden state to this size (smaller than hidden_size) with weight_hr_l{k};
            0 for none. Default: 0.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (L, N, H_in), (N, L, H_in) with batch_first, or (L, H_in) unbatched; L is the sequence length.
        - hx: a pair (h_0, c_0): h_0 (D * num_layers, N, H_out) and c_0 (D * num_layers, N, hidden_size), without
          the N dimension when unbatched; zeros when not given (D = 2 if bidirectional else 1; H_out = proj_size if
          it is > 0, else hidden_size).
        - Output: (L, N, D * H_out) ((N, L, D * H_out) with batch_first): the last layer's h_t for every t.
        - (h_n, c_n): the shapes of (h_0, c_0), the final states of every layer and direction.

    PyTorch:
        ``torch.nn.LSTM``; same parameter names, shapes, initialisation and outputs; a
        ``PackedSequence`` input (``nn.utils.rnn``) gives a PackedSequence output.

    Example:
        >>> lstm = nn.LSTM(input_size=4, hidden_size=8, batch_first=True)
        >>> output, (h, c) = lstm(ember.randn(2, 5, 4))
        >>> output.shape, h.shape, c.shape
        (ember.Size([2, 5, 8]), ember.Size([1, 2, 8]), ember.Size([1, 2, 8]))
    """

    @overload
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Device = None, dtype: _dtype | None = None) -> None: ...
    @overload
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input: Tensor, batch_sizes: Tensor | None = None) -> tuple[int, int, int]:
        mini_batch = input.size(0) if self.batch_first else input.size(1)
        return (self.num_layers * (2 if self.bidirectional else 1), mini_batch, self.hidden_size)

    def check_forward_args(self, input: Tensor, hidden: tuple[Tensor, Tensor],  # type: ignore[override]
                           batch_sizes: Tensor | None = None) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, "LSTM")
        batched = self._check_dims(input, "LSTM")
        x, bf, b = self._sequence(input, batched)
        self.check_input(x, None)
        n_states = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            h0s = [self._zeros(x, b, self.proj_size or self.hidden_size)] * n_states
            c0s = [self._zeros(x, b, self.hidden_size)] * n_states
        else:
            h0, c0 = hx
            _check_tensor(h0, "LSTM", "hx[0]")
            _check_tensor(c0, "LSTM", "hx[1]")
            want = 3 if batched else 2
            if h0.dim() != want or c0.dim() != want:
                kind = "batched 3-D" if batched else "unbatched 2-D"
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got ({h0.dim()}-D, "
                                   f"{c0.dim()}-D) tensors")
            if not batched:
                h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
            self.check_hidden_size(h0, (n_states, b, self.proj_size or self.hidden_size),
                                   "Expected hidden[0] size {}, got {}")
            self.check_hidden_size(c0, (n_states, b, self.hidden_size), "Expected hidden[1] size {}, got {}")
            h0s, c0s = h0.unbind(0), c0.unbind(0)
        out, h_n, c_n = self._run(x, h0s, c0s, self._padded_direction(bf), 2)
        if not batched:
            return out.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        return out, (h_n, c_n)


# --- cells ------------------------------------------------------------------------------------------------------

class RNNCellBase(Module):
    """Base class of RNNCell, LSTMCell and GRUCell: weight_ih, weight_hh and the biases bias_ih, bias_hh.

    All parameters start from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Args:
        input_size (int): the number of input features, H_in.
        hidden_size (int): the number of features of the hidden state, H_out.
        bias (bool): learn the biases bias_ih and bias_hh (no default here).
        num_chunks (int): the number of gates G: 1 for RNNCell, 4 for LSTMCell, 3 for GRUCell.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - weight_ih: (G * hidden_size, input_size); weight_hh: (G * hidden_size, hidden_size).
        - bias_ih, bias_hh: (G * hidden_size), or None without bias.

    PyTorch:
        ``torch.nn.RNNCellBase``; same parameters and initialisation. Use the cells rather than this class.

    Example:
        >>> nn.RNNCellBase(4, 8, bias=True, num_chunks=2).weight_ih.shape
        ember.Size([16, 4])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device: Device = None,
                 dtype: _dtype | None = None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(zeros(num_chunks * hidden_size, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(zeros(num_chunks * hidden_size, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(zeros(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(zeros(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as in PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prepare(self, input, hx, name, n_states):
        """Checks; unbatched (1-D) input and states get a batch of one; missing states are zeros."""
        _check_tensor(input, name, "input")
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        states = hx if n_states == 2 or hx is None else (hx,)
        if states is not None:
            for k, h in enumerate(states):
                _check_tensor(h, name, "hx")
                if h.dim() not in (1, 2):
                    what = f"hx[{k}]" if n_states == 2 else "hidden"
                    raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {h.dim()}D instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if states is None:
            z = zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)
            states = (z,) * n_states
        elif not batched:
            states = tuple(h.unsqueeze(0) for h in states)
        return input, states, batched


class RNNCell(RNNCellBase):
    """An Elman RNN cell, one step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    Called as ``cell(input, hx=None)``; returns h'.

    Args:
        input_size (int): the number of input features, H_in.
        hidden_size (int): the number of features of the hidden state, H_out.
        bias (bool): learn the biases bias_ih and bias_hh. Default: True.
        nonlinearity (str): 'tanh' or 'relu' (another value is an error at the call). Default: 'tanh'.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (N, H_in), or (H_in) unbatched.
        - hx: (N, H_out), or (H_out) unbatched; zeros when not given.
        - Output: h', hx's shape.

    PyTorch:
        ``torch.nn.RNNCell``; same parameters and semantics.

    Example:
        >>> cell = nn.RNNCell(4, 8)
        >>> cell(ember.randn(3, 4)).shape
        ember.Size([3, 8])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Device = None, dtype: _dtype | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (h,), batched = self._prepare(input, hx, "RNNCell", 1)
        if self.nonlinearity == "tanh":
            fn = rnn_tanh_cell
        elif self.nonlinearity == "relu":
            fn = rnn_relu_cell
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        out = fn(input, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """An LSTM cell, one step, with gates (i, f, g, o): returns the new hidden and cell states (h', c').

    Called as ``cell(input, hx=None)`` with hx = (h, c).

    Args:
        input_size (int): the number of input features, H_in.
        hidden_size (int): the number of features of the hidden state, H_out.
        bias (bool): learn the biases bias_ih and bias_hh. Default: True.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (N, H_in), or (H_in) unbatched.
        - hx = (h, c), each: (N, H_out), or (H_out) unbatched; zeros when not given.
        - Output: (h', c'), each of h's shape.

    PyTorch:
        ``torch.nn.LSTMCell``; same parameters and semantics.

    Example:
        >>> cell = nn.LSTMCell(4, 8)
        >>> h, c = cell(ember.randn(3, 4))
        >>> h.shape, c.shape
        (ember.Size([3, 8]), ember.Size([3, 8]))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Device = None,
                 dtype: _dtype | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        input, states, batched = self._prepare(input, hx, "LSTMCell", 2)
        h, c = lstm_cell(input, states, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """A GRU cell, one step, with gates (r, z, n): h' = (1 - z) * n + z * h.

    Called as ``cell(input, hx=None)``; returns h'.

    Args:
        input_size (int): the number of input features, H_in.
        hidden_size (int): the number of features of the hidden state, H_out.
        bias (bool): learn the biases bias_ih and bias_hh. Default: True.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (N, H_in), or (H_in) unbatched.
        - hx: (N, H_out), or (H_out) unbatched; zeros when not given.
        - Output: h', hx's shape.

    PyTorch:
        ``torch.nn.GRUCell``; same parameters and semantics.

    Example:
        >>> cell = nn.GRUCell(4, 8)
        >>> cell(ember.randn(4)).shape
        ember.Size([8])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Device = None,
                 dtype: _dtype | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (h,), batched = self._prepare(input, hx, "GRUCell", 1)
        out = gru_cell(input, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)
