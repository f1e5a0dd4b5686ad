"""Recurrent cells and layers: fused LSTM/GRU cell nodes, whole-sequence layer nodes, and torch's cell functions.

Two levels, one set of formulas (PyTorch's gate orders: LSTM (i, f, g, o), GRU (r, z, n)):

- Cell nodes (``LSTMCellFused``, ``GRUCellFused``) take the two gate pre-activations (input side ``gi`` and hidden
  side ``gh``) and the previous state, and compute the activations and the new state in one forward on arrays.
- Layer nodes (``LSTMLayer``, ``GRULayer``, ``RNNLayer``) run one layer in one direction over a whole time-major
  sequence: the input projection for every step is one GEMM, then each step is one GEMM ``W_hh h`` and the fused
  cell on arrays, with no Tensor or graph node per step.

Every node's backward is a gradient node (``LSTMCellGrad``, ``GRUCellGrad``, ``LSTMLayerGrad``, ``GRULayerGrad``,
``RNNLayerGrad``) whose forward works on arrays (for the layers: back-propagation through time, the weight gradients
one GEMM over all steps rather than a sum of per-step products) with the activations its forward node saved. Its own
backward, the second derivative, differentiates the node's decomposition: the cell formulas written with ember ops,
the layer as a step-by-step graph of cell nodes (``ember.ops.decompose.vjp_backward``).
"""
from ..autograd import Node
from ..device import get_array_module
from ..autograd.graph import apply
from ._checks import check_tensor
from .decompose import vjp_backward
from .join import Select, stack
from .linear import linear
from .meta import TensorMeta, same_as
from .registry import register
from .unary import relu, sigmoid, tanh


# --- helpers ----------------------------------------------------------------------------------------------------

def _scratch(workspace, key, xp, shape, dtype):
    """An uninitialised array for temporaries of one backward call, kept in the caller's workspace dict (if any)
    between calls: big fresh arrays cost page faults on every step."""
    if workspace is None:
        return xp.empty(shape, dtype=dtype)
    buf = workspace.get(key)
    if buf is None or buf.shape != shape or buf.dtype != dtype or get_array_module(buf) is not xp:
        buf = workspace[key] = xp.empty(shape, dtype=dtype)
    return buf


def _sigmoid_from_tanh(a):
    """In place: tanh(x / 2) -> sigmoid(x) = 0.5 * tanh(x / 2) + 0.5 (no overflow, and tanh is fast)."""
    a *= 0.5
    a += 0.5


def _sigmoid_grad(xp, s, d):
    """d (already allocated) = s * (1 - s), written as s - s^2."""
    xp.multiply(s, s, out=d)
    xp.subtract(s, d, out=d)


def _gate_scale(xp, dtype, n_gates, hidden, sigmoid_gates):
    """Per-gate-row factors: 0.5 on the sigmoid gates (whose tanh(x / 2) gives the sigmoid), 1 elsewhere."""
    s = xp.ones(n_gates * hidden, dtype=dtype)
    for k in sigmoid_gates:
        s[k * hidden:(k + 1) * hidden] = 0.5
    return s


def _matmul(xp, a, b):
    """a @ b: the layers' products over all steps at once (ember.compile's C layers split them over threads)."""
    return xp.matmul(a, b)


def _needed(metas, needs):
    """The shape rule of a gradient node: each input's meta where its gradient is needed, else None."""
    return tuple(same_as(m) if need else None for m, need in zip(metas, needs))


# The step functions work feature-major: gates (G, B), states (H, B), so that each gate is a contiguous block of rows
# and the per-step products W_hh @ h are the faster shape for BLAS with a small batch.

# --- LSTM -------------------------------------------------------------------------------------------------------

def _lstm_step(xp, a, c_prev, c, tc, h, tmp):
    """One LSTM step: a (4H, B) holds the pre-activations with the i, f, o rows halved and becomes the activations
    [i f g o]; writes c = f * c_prev + i * g, tc = tanh(c), h = o * tc (each (H, B)); tmp: (H, B) scratch."""
    H = c.shape[0]
    xp.tanh(a, out=a)
    _sigmoid_from_tanh(a[:2 * H])
    _sigmoid_from_tanh(a[3 * H:])
    xp.multiply(a[H:2 * H], c_prev, out=c)
    xp.multiply(a[:H], a[2 * H:3 * H], out=tmp)
    c += tmp
    xp.tanh(c, out=tc)
    xp.multiply(a[3 * H:], tc, out=h)


def _lstm_step_grad(xp, a, c_prev, tc, dh, dc, dg, dct, d):
    """Gradients of one LSTM step: a = activations [i f g o], tc = tanh(c); dh, dc = gradients of h and c (dc may be
    None). Writes the gradient of the gate pre-activations into dg (4H, B) and that of c_prev into dct (an (H, B)
    buffer other than dc), which it returns; d: (4H, B) scratch."""
    H = tc.shape[0]
    i, f, g, o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
    xp.multiply(tc, tc, out=dct)
    xp.subtract(1, dct, out=dct)
    dct *= o
    dct *= dh
    if dc is not None:
        dct += dc
    xp.multiply(dct, g, out=dg[:H])
    xp.multiply(dct, c_prev, out=dg[H:2 * H])
    xp.multiply(dct, i, out=dg[2 * H:3 * H])
    xp.multiply(dh, tc, out=dg[3 * H:])
    _sigmoid_grad(xp, a[:2 * H], d[:2 * H])
    xp.multiply(g, g, out=d[2 * H:3 * H])
    xp.subtract(1, d[2 * H:3 * H], out=d[2 * H:3 * H])
    _sigmoid_grad(xp, o, d[3 * H:])
    dg *= d
    dct *= f
    return dct


def _lstm_cell_ops(gi, gh, c_prev):
    """The LSTM cell with ember ops (LSTMCellFused's decomposition): (h, c)."""
    i, f, g, o = (gi + gh).chunk(4, -1)
    c = sigmoid(f) * c_prev + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c), c


@register
class LSTMCellFused(Node):
    """(h, c) of one LSTM step from gi = x W_ih^T + b_ih, gh = h W_hh^T + b_hh (each (B, 4H)) and c_prev (B, H)."""

    n_outputs = 2

    def infer(self, gi, gh, c_prev):
        state = TensorMeta((gi.shape[0], gi.shape[1] // 4), gi.dtype)
        return state, state

    def forward(self, xp, gi, gh, c_prev):
        B, G = gi.shape
        H = G // 4
        a = xp.empty((G, B), dtype=gi.dtype)
        xp.add(gi.T, gh.T, out=a)
        a[:2 * H] *= 0.5
        a[3 * H:] *= 0.5
        c, tc, h, tmp = (xp.empty((H, B), dtype=gi.dtype) for _ in range(4))
        _lstm_step(xp, a, c_prev.T, c, tc, h, tmp)
        self.act, self.tc = a, tc
        return xp.ascontiguousarray(h.T), xp.ascontiguousarray(c.T)

    def backward(self, dh, dc):
        return apply(LSTMCellGrad(self.act, self.tc, self.needs_input_grad), *self.inputs, dh, dc)


@register
class LSTMCellGrad(Node):
    """The gradients (gi, gh, c_prev) of an LSTM cell from (gi, gh, c_prev, dh, dc) (dh or dc may be None), on arrays
    with the cell's activations; its backward differentiates _lstm_cell_ops."""

    n_outputs = 3

    def __init__(self, act, tc, needs):
        self.act, self.tc, self.needs = act, tc, needs

    def infer(self, gi, gh, c_prev, dh, dc):
        return _needed((gi, gh, c_prev), self.needs)

    def forward(self, xp, gi, gh, c_prev, dh, dc):
        dg = xp.empty_like(self.act)
        dh = xp.zeros_like(self.tc) if dh is None else dh.T
        dc_prev = _lstm_step_grad(xp, self.act, c_prev.T, self.tc, dh, None if dc is None else dc.T, dg,
                                  xp.empty_like(self.tc), xp.empty_like(dg))
        ng = self.needs
        dgates = xp.ascontiguousarray(dg.T)
        return (dgates if ng[0] else None, (dgates.copy() if ng[0] else dgates) if ng[1] else None,
                xp.ascontiguousarray(dc_prev.T) if ng[2] else None)

    def backward(self, *grad_grads):
        return vjp_backward(_lstm_cell_ops, self.inputs[:3], self.inputs[3:], grad_grads)


# --- GRU --------------------------------------------------------------------------------------------------------

def _gru_step(xp, gi, gh, h_prev, n, h):
    """One GRU step: gi, gh (3H, B) with their r, z rows halved. gh's r, z rows become the activations r, z (its n
    rows stay W_hn h + b_hn); n = tanh(gi_n + r * gh_n) goes into n, h' = n + z * (h_prev - n) into h."""
    H = h.shape[0]
    rz = gh[:2 * H]
    rz += gi[:2 * H]
    xp.tanh(rz, out=rz)
    _sigmoid_from_tanh(rz)
    xp.multiply(rz[:H], gh[2 * H:], out=n)
    n += gi[2 * H:]
    xp.tanh(n, out=n)
    xp.subtract(h_prev, n, out=h)
    h *= rz[H:]
    h += n


def _gru_step_grad(xp, gh, n, h_prev, dh, dgi, dgh, direct, d):
    """Gradients of one GRU step (gh as left by _gru_step): writes the gate gradients of the input side into dgi and
    of the hidden side into dgh (they differ in the n rows: dgh_n = r * dgi_n), and the direct part of the gradient
    of h_prev (dh * z) into direct (H, B), which it returns; d: (2H, B) scratch."""
    H = n.shape[0]
    r, z, ghn = gh[:H], gh[H:2 * H], gh[2 * H:]
    dn = dgi[2 * H:]
    xp.multiply(n, n, out=dn)
    xp.subtract(1, dn, out=dn)
    xp.subtract(1, z, out=direct)
    dn *= direct
    dn *= dh
    xp.multiply(dn, r, out=dgh[2 * H:])
    drz = dgh[:2 * H]
    xp.multiply(dn, ghn, out=drz[:H])
    xp.subtract(h_prev, n, out=drz[H:])
    drz[H:] *= dh
    _sigmoid_grad(xp, gh[:2 * H], d)
    drz *= d
    dgi[:2 * H] = drz
    xp.multiply(dh, z, out=direct)
    return direct


def _gru_cell_ops(gi, gh, h_prev):
    """The GRU cell with ember ops (GRUCellFused's decomposition): h'."""
    (ir, iz, i_n), (hr, hz, hn) = gi.chunk(3, -1), gh.chunk(3, -1)
    r, z = sigmoid(ir + hr), sigmoid(iz + hz)
    n = tanh(i_n + r * hn)
    return n + z * (h_prev - n)


@register
class GRUCellFused(Node):
    """h' of one GRU step from gi = x W_ih^T + b_ih, gh = h W_hh^T + b_hh (each (B, 3H)) and h_prev (B, H):
    r, z = sigmoid(gi_rz + gh_rz), n = tanh(gi_n + r * gh_n), h' = (1 - z) * n + z * h_prev."""

    def infer(self, gi, gh, h_prev):
        return TensorMeta((gi.shape[0], gi.shape[1] // 3), gi.dtype)

    def forward(self, xp, gi, gh, h_prev):
        B, G = gi.shape
        H = G // 3
        gi, gh = gi.T.copy(), gh.T.copy()  # (3H, B), C order
        gi[:2 * H] *= 0.5
        gh[:2 * H] *= 0.5
        n, h = xp.empty((H, B), dtype=gi.dtype), xp.empty((H, B), dtype=gi.dtype)
        _gru_step(xp, gi, gh, h_prev.T, n, h)
        self.gh, self.n = gh, n
        return xp.ascontiguousarray(h.T)

    def backward(self, dh):
        return apply(GRUCellGrad(self.gh, self.n, self.needs_input_grad), *self.inputs, dh)


@register
class GRUCellGrad(Node):
    """The gradients (gi, gh, h_prev) of a GRU cell from (gi, gh, h_prev, dh), on arrays with the cell's activations;
    its backward differentiates _gru_cell_ops."""

    n_outputs = 3

    def __init__(self, gh, n, needs):
        self.gh, self.n, self.needs = gh, n, needs

    def infer(self, gi, gh, h_prev, dh):
        return _needed((gi, gh, h_prev), self.needs)

    def forward(self, xp, gi, gh, h_prev, dh):
        gh, n = self.gh, self.n
        dgi, dgh = xp.empty_like(gh), xp.empty_like(gh)
        direct = _gru_step_grad(xp, gh, n, h_prev.T, dh.T, dgi, dgh, xp.empty_like(n),
                                xp.empty((2 * n.shape[0], n.shape[1]), dtype=gh.dtype))
        ng = self.needs
        return (xp.ascontiguousarray(dgi.T) if ng[0] else None, xp.ascontiguousarray(dgh.T) if ng[1] else None,
                xp.ascontiguousarray(direct.T) if ng[2] else None)

    def backward(self, *grad_grads):
        return vjp_backward(_gru_cell_ops, self.inputs[:3], self.inputs[3:], grad_grads)


# --- whole-sequence layers --------------------------------------------------------------------------------------

class _Layer(Node):
    """One layer of a recurrent network in one direction, over a sequence x of shape (T, B, I) ((B, T, I) when
    ``batch_first_input``).

    Inputs (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr): c0 and w_hr are None except for LSTM, the biases may be None.
    Outputs (output (T, B, P) ((B, T, P) when ``batch_first_output``), h_n (B, P)), plus c_n (B, H) for LSTM.
    ``reverse`` runs from t = T-1 down to 0 (the backward direction of a bidirectional layer); the output is in time
    order either way.

    Inside, the sequence is feature-major: the input projection of every step is one batched GEMM into gates
    (T, G, B) (the bias rides along as an extra input column of ones), the states are (T, P, B). Subclasses give
    ``_run`` (the steps on arrays) and a backward that applies their gradient node (a _LayerGrad).
    """

    saves_output = True  # backward reads the output sequence (the hidden state fed into each step)
    n_outputs = 2
    sigmoid_gates = ()

    def __init__(self, reverse=False, batch_first_input=False, batch_first_output=False, workspace=None):
        self.reverse = reverse
        self.bf_in, self.bf_out = batch_first_input, batch_first_output
        self.workspace = workspace
        if batch_first_output:  # backward reads its own time-major copy of the states instead
            self.saves_output = False

    def infer(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
        T, B = (x.shape[1], x.shape[0]) if self.bf_in else x.shape[:2]
        H = w_ih.shape[0] // self.n_gates
        P = H if w_hr is None else w_hr.shape[0]
        out = TensorMeta((B, T, P) if self.bf_out else (T, B, P), x.dtype)
        return (out, TensorMeta((B, P), x.dtype)) + ((TensorMeta((B, H), x.dtype),) if self.n_outputs == 3 else ())

    def forward(self, xp, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
        if self.bf_in:
            x = x.transpose(1, 0, 2)
        T, B, I = x.shape
        self.steps = range(T - 1, -1, -1) if self.reverse else range(T)
        G = w_ih.shape[0]
        H = G // self.n_gates
        self.scale = _gate_scale(xp, x.dtype, self.n_gates, H, self.sigmoid_gates) if self.sigmoid_gates else None
        gates = self._project(xp, x, w_ih, self._input_bias(xp, b_ih, b_hh, H))
        return self._run(xp, gates, h0, c0, w_hh, b_hh, w_hr)

    def _input_bias(self, xp, b_ih, b_hh, H):
        """The bias added to the input projection (LSTM and RNN: b_ih + b_hh)."""
        return None if b_ih is None else b_ih + b_hh

    def _project(self, xp, x, w_ih, bias):
        """Gates (T, G, B) = W_ih x_t + bias for every step in one batched GEMM (rows scaled by self.scale)."""
        w, self.xa = self._projection_operands(xp, x, w_ih, bias)
        return xp.matmul(w, self.xa.transpose(0, 2, 1))

    def _projection_operands(self, xp, x, w_ih, bias):
        """(W (G, I'), x (T, B, I')) whose products are the input projections: with a bias, x gets a column of
        ones (and W the bias as an extra column: _projection_weights)."""
        T, B, I = x.shape
        if bias is not None:
            xa = xp.empty((T, B, I + 1), dtype=x.dtype)
            xa[..., :I] = x
            xa[..., I] = 1
            x = xa
        return self._projection_weights(xp, w_ih, bias), x

    def _projection_weights(self, xp, w_ih, bias):
        """W_ih with the bias as an extra column (if any), its rows scaled by self.scale."""
        w = w_ih if self.scale is None else w_ih * self.scale[:, None]
        if bias is not None:
            w = xp.concatenate([w, (bias if self.scale is None else bias * self.scale)[:, None]], 1)
        return w

    def _hidden_weights(self, xp, w_hh):
        return w_hh if self.scale is None else w_hh * self.scale[:, None]

    def _finish(self, xp, hs, h0):
        """The output (T, B, P) or (B, T, P) from the feature-major states hs (T, P, B), and h_n (B, P)."""
        self.hs = hs
        if self.bf_out:
            self.out = None  # the time-major states, made in backward if needed
            return xp.ascontiguousarray(hs.transpose(2, 0, 1)), self._last(hs, h0)
        self.out = xp.ascontiguousarray(hs.transpose(0, 2, 1))
        return self.out, self.out[self.steps[-1]].copy() if len(self.steps) else h0.copy()

    def _last(self, seq, init):
        """The state (B, .) after the last step from feature-major seq (T, ., B) (init for an empty sequence)."""
        return seq[self.steps[-1]].T.copy() if len(self.steps) else init.copy()


class _LayerGrad(Node):
    """The gradients of a layer node's eight inputs from those inputs and the gradients of its outputs (None where
    an output got none): back-propagation through time on arrays, with the activations the layer saved (taken from
    it here, with its direction and layouts). Its backward differentiates ``decomposition``, the same layer as a
    step-by-step graph of ember ops. Subclasses give ``_bptt`` and ``decomposition``."""

    n_outputs = 8
    matmul = staticmethod(_matmul)

    def __init__(self, layer):
        self.reverse, self.steps, self.bf_in, self.bf_out = layer.reverse, layer.steps, layer.bf_in, layer.bf_out
        self.workspace, self.needs = layer.workspace, layer.needs_input_grad
        self.xa, self.hs, self.out = layer.xa, layer.hs, layer.out  # input (with ones), states, time-major output

    def infer(self, *args):
        return _needed(args[:8], self.needs)

    def forward(self, xp, *args):
        ins, grads = args[:8], args[8:]
        d_out = grads[0]
        if d_out is not None:
            d_out = xp.ascontiguousarray(d_out.transpose((1, 2, 0) if self.bf_out else (0, 2, 1)))  # (T, P, B)
        states = [None if g is None else g.T.copy() for g in grads[1:]]  # (P, B) / (H, B)
        dgi, dgh, dh0, dc0, dw_hr = self._bptt(xp, ins, d_out, *states)
        ng = self.needs
        res = self._weight_grads(xp, dgi, dgh, ins, ng)
        res[1] = dh0.T.copy()
        res[2] = None if dc0 is None else dc0.T.copy()
        res[7] = dw_hr
        return tuple(r if need else None for r, need in zip(res, ng))

    def backward(self, *grad_grads):
        return vjp_backward(self.decomposition, self.inputs[:8], self.inputs[8:], grad_grads)

    def _prev(self, seq, t, init):
        """seq at the step processed before step t (init at the first step)."""
        if self.reverse:
            return seq[t + 1] if t + 1 < seq.shape[0] else init
        return seq[t - 1] if t > 0 else init

    def _weight_grads(self, xp, dgi, dgh, ins, ng):
        """Gradients of x, W_ih, W_hh and the biases from the gate gradients of every step, one GEMM each."""
        x, h0, w_ih, b_ih = ins[0], ins[1], ins[3], ins[5]
        T, G, B = dgi.shape
        I = x.shape[2]
        gi = self._to_gate_major(xp, dgi, "gi")
        gh = gi if dgh is dgi else self._to_gate_major(xp, dgh, "gh")
        res = [None] * 8
        if ng[0]:
            res[0] = self.matmul(xp, gi.T, w_ih).reshape(T, B, I)
            if self.bf_in:
                res[0] = xp.ascontiguousarray(res[0].transpose(1, 0, 2))
        if ng[3] or ng[5]:
            # the bias gradient is the column of the ones
            dw = self.matmul(xp, gi, self.xa.reshape(T * B, self.xa.shape[-1]))
            res[3] = xp.ascontiguousarray(dw[:, :I]) if ng[3] else None
            res[5] = dw[:, I].copy() if b_ih is not None else None
        if ng[4]:
            res[4] = self._hidden_weight_grad(xp, gh, h0, B)
        if ng[6]:
            res[6] = gh.sum(1) if gh is not gi or res[5] is None else res[5].copy()
        return res

    def _to_gate_major(self, xp, g, key):
        """(T, G, B) -> (G, T * B): a copy in workspace memory, or g's own memory when it is laid out so (as
        ember.compile's C layers write the gates' gradient)."""
        T, G, B = g.shape
        if g.strides[0] == B * g.itemsize and g.strides[2] == g.itemsize:
            return g.transpose(1, 0, 2).reshape(G, T * B)  # a view: each row's steps one after the other
        out = _scratch(self.workspace, key, xp, (G, T, B), g.dtype)
        out[...] = g.transpose(1, 0, 2)
        return out.reshape(G, T * B)

    def _hidden_weight_grad(self, xp, gh, h0, B):
        """sum_t dgh_t h_prev(t)^T with dgh as (G, T * B): the states fed into the steps are h0 and the output
        without its last step (first step, in reverse)."""
        G, TB = gh.shape
        hs = self.out if self.out is not None else xp.ascontiguousarray(self.hs.transpose(0, 2, 1))
        P = hs.shape[-1]
        if TB == 0:
            return xp.zeros((G, P), dtype=hs.dtype)
        if self.reverse:
            dw = self.matmul(xp, gh[:, TB - B:], h0)
            if TB > B:
                dw += self.matmul(xp, gh[:, :TB - B], hs[1:].reshape(-1, P))
        else:
            dw = self.matmul(xp, gh[:, :B], h0)
            if TB > B:
                dw += self.matmul(xp, gh[:, B:], hs[:-1].reshape(-1, P))
        return dw

    def _step_inputs(self, x, w_ih, b_ih):
        """The decomposition's input projection x W_ih^T + b_ih, as one (B, G) tensor per step."""
        gi = linear(x, w_ih, b_ih)
        d = 1 if self.bf_in else 0
        return [apply(Select(d, t), gi) for t in range(x._data.shape[d])]

    def _stacked(self, outs):
        """The decomposition's output sequence from the states of every step, in the output layout."""
        return stack(outs, 1 if self.bf_out else 0)


@register
class LSTMLayer(_Layer):
    """An LSTM layer (optionally with projections h = W_hr (o * tanh(c))); outputs (output, h_n, c_n)."""

    n_outputs = 3
    n_gates = 4
    sigmoid_gates = (0, 1, 3)

    def _run(self, xp, a, h0, c0, w_hh, b_hh, w_hr):
        T, G, B = a.shape
        H = G // 4
        dt = a.dtype
        whh = self._hidden_weights(xp, w_hh)
        proj = w_hr is not None
        hs = xp.empty((T, w_hr.shape[0] if proj else H, B), dtype=dt)
        cs, tcs = xp.empty((T, H, B), dtype=dt), xp.empty((T, H, B), dtype=dt)
        hr = xp.empty((T, H, B), dtype=dt) if proj else hs
        tmp, tmp_h = xp.empty((G, B), dtype=dt), xp.empty((H, B), dtype=dt)
        h, c = h0.T, c0.T
        for t in self.steps:
            xp.matmul(whh, h, out=tmp)
            self._cell(xp, a[t], tmp, c, cs[t], tcs[t], hr[t], tmp_h)
            if proj:
                xp.matmul(w_hr, hr[t], out=hs[t])
            h, c = hs[t], cs[t]
        self.act, self.cs, self.tcs, self.hr = a, cs, tcs, hr
        out, h_n = self._finish(xp, hs, h0)
        return out, h_n, self._last(cs, c0)

    def _cell(self, xp, a, gh, c_prev, c, tc, h, tmp):
        """One step's cell: a += gh, then _lstm_step (ember.compile's C backend runs it in C)."""
        a += gh
        _lstm_step(xp, a, c_prev, c, tc, h, tmp)

    def backward(self, *grads):
        return apply(LSTMLayerGrad(self), *self.inputs, *grads)


@register
class LSTMLayerGrad(_LayerGrad):
    """The gradients of an LSTMLayer (see _LayerGrad)."""

    def __init__(self, layer):
        super().__init__(layer)
        self.act, self.cs, self.tcs, self.hr = layer.act, layer.cs, layer.tcs, layer.hr

    def _bptt(self, xp, ins, d_out, dh, dc):
        h0, c0, w_hh, w_hr = ins[1], ins[2], ins[4], ins[7]
        a, cs, tcs, hr = self.act, self.cs, self.tcs, self.hr
        proj = w_hr is not None
        dg = _scratch(self.workspace, "dg", xp, a.shape, a.dtype)
        dhs = xp.empty((a.shape[0],) + h0.T.shape, dtype=a.dtype) if proj else None
        if dh is None:
            dh = xp.zeros(h0.T.shape, dtype=a.dtype)
        whh_t = w_hh.T
        c0t = c0.T
        H = c0t.shape[0]
        # scratch reused by every step: two (H, B) buffers that take turns holding dc, one (4H, B)
        bufs = (xp.empty((H, dh.shape[1]), dtype=a.dtype), xp.empty((H, dh.shape[1]), dtype=a.dtype))
        d = xp.empty(a.shape[1:], dtype=a.dtype)
        dhr = xp.empty_like(bufs[0]) if proj else dh
        for k, t in enumerate(reversed(self.steps)):
            if d_out is not None:
                dh += d_out[t]
            if proj:
                dhs[t] = dh
                xp.matmul(w_hr.T, dh, out=dhr)
            dc = self._cell_grad(xp, a[t], self._prev(cs, t, c0t), tcs[t], dhr, dc, dg[t], bufs[k % 2], d)
            xp.matmul(whh_t, dg[t], out=dh)
        if dc is None:  # empty sequence and no gradient for c_n
            dc = xp.zeros(c0t.shape, dtype=a.dtype)
        dw_hr = None
        if proj and self.needs[7]:
            dw_hr = xp.tensordot(dhs, hr, axes=([0, 2], [0, 2]))
        return dg, dg, dh, dc, dw_hr

    def _cell_grad(self, xp, a, c_prev, tc, dh, dc, dg, dct, d):
        """One step's cell gradient: _lstm_step_grad (ember.compile's C backend runs it in C)."""
        return _lstm_step_grad(xp, a, c_prev, tc, dh, dc, dg, dct, d)

    def decomposition(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
        """The layer as a step-by-step graph of ember ops (cell nodes and linear)."""
        gi = self._step_inputs(x, w_ih, b_ih)
        h, c, outs = h0, c0, [None] * len(gi)
        for t in self.steps:
            h, c = apply(LSTMCellFused(), gi[t], linear(h, w_hh, b_hh), c)
            if w_hr is not None:
                h = linear(h, w_hr)
            outs[t] = h
        return self._stacked(outs), h, c


@register
class GRULayer(_Layer):
    """A GRU layer: outputs (output, h_n)."""

    n_gates = 3
    sigmoid_gates = (0, 1)

    def _input_bias(self, xp, b_ih, b_hh, H):
        """b_ih plus the r, z part of b_hh (the n part stays inside r * (W_hn h + b_hn))."""
        if b_ih is None:
            return None
        b = b_ih.copy()
        b[:2 * H] += b_hh[:2 * H]
        return b

    def _run(self, xp, gi, h0, c0, w_hh, b_hh, w_hr):
        T, G, B = gi.shape
        H = G // 3
        dt = gi.dtype
        whh = self._hidden_weights(xp, w_hh)
        bhn = None if b_hh is None else b_hh[2 * H:, None]
        gh = xp.empty((T, G, B), dtype=dt)
        n, hs = xp.empty((T, H, B), dtype=dt), xp.empty((T, H, B), dtype=dt)
        h = h0.T
        for t in self.steps:
            xp.matmul(whh, h, out=gh[t])
            if bhn is not None:
                gh[t, 2 * H:] += bhn
            _gru_step(xp, gi[t], gh[t], h, n[t], hs[t])
            h = hs[t]
        self.gh, self.n = gh, n
        return self._finish(xp, hs, h0)

    def backward(self, *grads):
        return apply(GRULayerGrad(self), *self.inputs, *grads)


@register
class GRULayerGrad(_LayerGrad):
    """The gradients of a GRULayer (see _LayerGrad)."""

    def __init__(self, layer):
        super().__init__(layer)
        self.gh, self.n = layer.gh, layer.n

    def _bptt(self, xp, ins, d_out, dh):
        h0, w_hh = ins[1], ins[4]
        gh, n, hs = self.gh, self.n, self.hs
        dgi, dgh = (_scratch(self.workspace, k, xp, gh.shape, gh.dtype) for k in ("dg", "dgh"))
        if dh is None:
            dh = xp.zeros(h0.T.shape, dtype=gh.dtype)
        whh_t = w_hh.T
        h0t = h0.T
        direct, d = xp.empty_like(dh), xp.empty((2 * dh.shape[0], dh.shape[1]), dtype=gh.dtype)  # scratch
        for t in reversed(self.steps):
            if d_out is not None:
                dh += d_out[t]
            _gru_step_grad(xp, gh[t], n[t], self._prev(hs, t, h0t), dh, dgi[t], dgh[t], direct, d)
            xp.matmul(whh_t, dgh[t], out=dh)
            dh += direct
        return dgi, dgh, dh, None, None

    def decomposition(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
        """The layer as a step-by-step graph of ember ops (cell nodes and linear)."""
        gi = self._step_inputs(x, w_ih, b_ih)
        h, outs = h0, [None] * len(gi)
        for t in self.steps:
            h = outs[t] = apply(GRUCellFused(), gi[t], linear(h, w_hh, b_hh), h)
        return self._stacked(outs), h


@register
class RNNLayer(_Layer):
    """An Elman RNN layer, h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu): outputs (output, h_n)."""

    n_gates = 1

    def __init__(self, reverse=False, batch_first_input=False, batch_first_output=False, workspace=None,
                 nonlinearity="tanh"):
        super().__init__(reverse, batch_first_input, batch_first_output, workspace)
        self.relu = nonlinearity == "relu"

    def _run(self, xp, hs, h0, c0, w_hh, b_hh, w_hr):
        tmp = xp.empty(hs.shape[1:], dtype=hs.dtype)
        h = h0.T
        for t in self.steps:
            xp.matmul(w_hh, h, out=tmp)
            h = hs[t]
            h += tmp
            if self.relu:
                xp.maximum(h, 0, out=h)
            else:
                xp.tanh(h, out=h)
        return self._finish(xp, hs, h0)

    def backward(self, *grads):
        return apply(RNNLayerGrad(self), *self.inputs, *grads)


@register
class RNNLayerGrad(_LayerGrad):
    """The gradients of an RNNLayer (see _LayerGrad)."""

    def __init__(self, layer):
        super().__init__(layer)
        self.relu = layer.relu

    def _bptt(self, xp, ins, d_out, dh):
        h0, w_hh = ins[1], ins[4]
        hs = self.hs
        dg = _scratch(self.workspace, "dg", xp, hs.shape, hs.dtype)
        if dh is None:
            dh = xp.zeros(h0.T.shape, dtype=hs.dtype)
        whh_t = w_hh.T
        for t in reversed(self.steps):
            if d_out is not None:
                dh += d_out[t]
            d = dg[t]
            if self.relu:
                xp.multiply(dh, hs[t] > 0, out=d)
            else:
                xp.multiply(hs[t], hs[t], out=d)
                xp.subtract(1, d, out=d)
                d *= dh
            xp.matmul(whh_t, d, out=dh)
        return dg, dg, dh, None, None

    def decomposition(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
        """The layer as a step-by-step graph of ember ops (cell nodes and linear)."""
        gi = self._step_inputs(x, w_ih, b_ih)
        act = relu if self.relu else tanh
        h, outs = h0, [None] * len(gi)
        for t in self.steps:
            h = outs[t] = act(gi[t] + linear(h, w_hh, b_hh))
        return self._stacked(outs), h


def rnn_layer(mode, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None, reverse=False, batch_first_input=False,
              batch_first_output=False, workspace=None):
    """One layer of an RNN ("RNN_TANH", "RNN_RELU", "LSTM" or "GRU") in one direction over a sequence x (T, B, I)
    ((B, T, I) with batch_first_input), as one graph node. Returns (output, h_n), or (output, h_n, c_n) for LSTM;
    output is (T, B, P) ((B, T, P) with batch_first_output).

    workspace: a dict in which backward may keep its big temporaries from one call to the next (nn.RNNBase passes one
    per module); nothing returned ever lives there. No input checks: nn.RNNBase validates shapes and dtypes first.
    """
    bf = (reverse, batch_first_input, batch_first_output, workspace)
    if mode == "LSTM":
        node = LSTMLayer(*bf)
    elif mode == "GRU":
        node = GRULayer(*bf)
    else:
        node = RNNLayer(*bf, nonlinearity="relu" if mode == "RNN_RELU" else "tanh")
    return apply(node, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)


# --- torch.lstm_cell / gru_cell / rnn_tanh_cell / rnn_relu_cell ---------------------------------------------------

def _check_cell(input, hidden, w_ih, w_hh, op):
    """PyTorch's checks of a cell's input and hidden states (2-D, batch and feature sizes)."""
    for name, t in (("input", input), ("w_ih", w_ih), ("w_hh", w_hh)) + tuple((f"hx[{k}]", h) for k, h in
                                                                              enumerate(hidden)):
        check_tensor(t, op, name)
    if input._data.ndim != 2:
        raise RuntimeError(f"{op}: expected a 2-D input (batch, input_size), got shape {tuple(input.shape)}")
    if input._data.shape[1] != w_ih._data.shape[1]:
        raise RuntimeError(f"input has inconsistent input_size: got {input._data.shape[1]} expected "
                           f"{w_ih._data.shape[1]}")
    hidden_size = w_hh._data.shape[1]
    for k, h in enumerate(hidden):
        if h._data.ndim != 2:
            raise RuntimeError(f"{op}: expected a 2-D hidden{k} (batch, hidden_size), got shape {tuple(h.shape)}")
        if h._data.shape[0] != input._data.shape[0]:
            raise RuntimeError(f"Input batch size {input._data.shape[0]} doesn't match hidden{k} batch size "
                               f"{h._data.shape[0]}")
        if h._data.shape[1] != hidden_size:
            raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {h._data.shape[1]}, expected "
                               f"{hidden_size}")
        if h._data.dtype != input._data.dtype:
            raise RuntimeError(f"{op}: hidden{k} dtype ({h.dtype}) does not match input dtype ({input.dtype})")


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step (torch.lstm_cell): input (B, I), hx = (h, c) each (B, H); returns (h', c')."""
    _check_cell(input, tuple(hx), w_ih, w_hh, "lstm_cell")
    h, c = hx
    return apply(LSTMCellFused(), linear(input, w_ih, b_ih), linear(h, w_hh, b_hh), c)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (torch.gru_cell): input (B, I), hx (B, H); returns h'."""
    _check_cell(input, (hx,), w_ih, w_hh, "gru_cell")
    return apply(GRUCellFused(), linear(input, w_ih, b_ih), linear(hx, w_hh, b_hh), hx)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman RNN step with tanh (torch.rnn_tanh_cell): tanh(input W_ih^T + b_ih + hx W_hh^T + b_hh)."""
    _check_cell(input, (hx,), w_ih, w_hh, "rnn_tanh_cell")
    return tanh(linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh))


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman RNN step with relu (torch.rnn_relu_cell): relu(input W_ih^T + b_ih + hx W_hh^T + b_hh)."""
    _check_cell(input, (hx,), w_ih, w_hh, "rnn_relu_cell")
    return relu(linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh))
