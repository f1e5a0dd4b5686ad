"""Recurrent layers and cells: PyTorch parity (outputs, states, every gradient after copying the state_dict by name),
gradcheck and gradgradcheck of the fused cell and layer nodes, their array backward against their decompositions,
PyTorch's error messages."""
import re
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import grad, gradcheck, gradgradcheck
from ember.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from ember.autograd.graph import apply
from ember.ops.rnn import LSTMCellFused, gru_cell, lstm_cell, rnn_layer, rnn_relu_cell, rnn_tanh_cell
from helpers import rand64

T, B, I, H = 5, 3, 4, 6

_MODES = {  # name -> (ember class, torch class name, extra kwargs)
    "rnn_tanh": (RNN, "RNN", {}),
    "rnn_relu": (RNN, "RNN", {"nonlinearity": "relu"}),
    "lstm": (LSTM, "LSTM", {}),
    "gru": (GRU, "GRU", {}),
}


def _np(t):
    return np.asarray(t.detach().numpy())


def _pair(torch, name, *args, float64=True, **kwargs):
    """An ember module and a torch module of the same kind, the ember one loaded from torch's state_dict by name."""
    cls, tname, extra = _MODES[name]
    kwargs = {**extra, **kwargs}
    tm = getattr(torch.nn, tname)(*args, **kwargs)
    m = cls(*args, **kwargs)
    if float64:
        tm, m = tm.double(), m.double()
    m.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return m, tm


def _inputs(torch, shape, rng, requires_grad=True, float64=True):
    """The same random values as an ember and a torch tensor."""
    a = rng.standard_normal(shape).astype(np.float64 if float64 else np.float32)
    return ember.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


def _backward_both(torch, e_outs, t_outs, rng):
    """Back-propagate the same random weighting of every output through both frameworks."""
    e_loss, t_loss = 0, 0
    for e, t in zip(e_outs, t_outs):
        w = rng.standard_normal(tuple(t.shape)).astype(_np(e).dtype)
        e_loss = e_loss + (e * ember.tensor(w)).sum()
        t_loss = t_loss + (t * torch.tensor(w)).sum()
    e_loss.backward()
    t_loss.backward()


def _check_close(e, t, atol=1e-10, rtol=1e-8):
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(_np(e), t.detach().numpy(), atol=atol, rtol=rtol)


def _check_param_grads(m, tm, atol=1e-10, rtol=1e-8):
    tp = dict(tm.named_parameters())
    names = [n for n, _ in m.named_parameters()]
    assert names == list(tp)
    for n, p in m.named_parameters():
        assert p.grad is not None, n
        np.testing.assert_allclose(_np(p.grad), tp[n].grad.numpy(), atol=atol, rtol=rtol, err_msg=n)


def _flatten(out):
    """(output, h_n) or (output, (h_n, c_n)) as a flat list."""
    o, state = out
    return [o] + (list(state) if isinstance(state, tuple) else [state])


def _check_run(torch, m, tm, e_outs, t_outs, inputs, rng, atol=1e-10, rtol=1e-8):
    """The outputs agree; after the same backward through both, so do the gradients of the (ember, torch) input
    pairs and of every parameter."""
    for e, t in zip(e_outs, t_outs):
        _check_close(e, t, atol, rtol)
    _backward_both(torch, e_outs, t_outs, rng)
    for e, t in inputs:
        _check_close(e.grad, t.grad, atol, rtol)
    _check_param_grads(m, tm, atol, rtol)


# --- parity with PyTorch ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("name", list(_MODES))
def test_matches_torch(name, bidirectional, batch_first, with_state, torch):
    rng = np.random.default_rng(1)
    m, tm = _pair(torch, name, I, H, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    ex, tx = _inputs(torch, (B, T, I) if batch_first else (T, B, I), rng)
    e_args, t_args = [ex], [tx]
    states = []
    if with_state:
        n = 2 * (2 if bidirectional else 1)
        eh, th = _inputs(torch, (n, B, H), rng)
        states.append((eh, th))
        if name == "lstm":
            ec, tc = _inputs(torch, (n, B, H), rng)
            states.append((ec, tc))
            e_args.append((eh, ec))
            t_args.append((th, tc))
        else:
            e_args.append(eh)
            t_args.append(th)
    _check_run(torch, m, tm, _flatten(m(*e_args)), _flatten(tm(*t_args)), [(ex, tx)] + states, rng)


@pytest.mark.parametrize("name", list(_MODES))
def test_single_layer_batch_first_matches_torch(name, torch):
    rng = np.random.default_rng(8)
    m, tm = _pair(torch, name, I, H, batch_first=True)
    ex, tx = _inputs(torch, (B, T, I), rng)
    _check_run(torch, m, tm, _flatten(m(ex)), _flatten(tm(tx)), [(ex, tx)], rng)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_projection_matches_torch(bidirectional, torch):
    rng = np.random.default_rng(2)
    m, tm = _pair(torch, "lstm", I, H, num_layers=2, bidirectional=bidirectional, proj_size=2)
    n = 2 * (2 if bidirectional else 1)
    ex, tx = _inputs(torch, (T, B, I), rng)
    eh, th = _inputs(torch, (n, B, 2), rng)
    ec, tc = _inputs(torch, (n, B, H), rng)
    e_outs, t_outs = _flatten(m(ex, (eh, ec))), _flatten(tm(tx, (th, tc)))
    assert tuple(e_outs[0].shape) == (T, B, 2 * (2 if bidirectional else 1))
    _check_run(torch, m, tm, e_outs, t_outs, [(ex, tx), (eh, th), (ec, tc)], rng)


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("name", list(_MODES))
def test_unbatched_input_matches_torch(name, with_state, torch):
    rng = np.random.default_rng(3)
    m, tm = _pair(torch, name, I, H, num_layers=2, bidirectional=True, batch_first=True)
    ex, tx = _inputs(torch, (T, I), rng)
    e_args, t_args = [ex], [tx]
    if with_state:
        states = [_inputs(torch, (4, H), rng) for _ in range(2 if name == "lstm" else 1)]
        if name == "lstm":
            e_args.append(tuple(s[0] for s in states))
            t_args.append(tuple(s[1] for s in states))
        else:
            e_args.append(states[0][0])
            t_args.append(states[0][1])
    _check_run(torch, m, tm, _flatten(m(*e_args)), _flatten(tm(*t_args)), [(ex, tx)], rng)


@pytest.mark.parametrize("name", list(_MODES))
def test_no_bias_and_hidden_size_one_match_torch(name, torch):
    rng = np.random.default_rng(4)
    for hidden, bias in ((H, False), (1, True)):  # hidden 1: transposed weights are contiguous views
        m, tm = _pair(torch, name, I, hidden, num_layers=2, bias=bias, bidirectional=True)
        before = {k: _np(v).copy() for k, v in m.state_dict().items()}
        ex, tx = _inputs(torch, (T, B, I), rng)
        _check_run(torch, m, tm, _flatten(m(ex)), _flatten(tm(tx)), [(ex, tx)], rng)
        for k, v in m.state_dict().items():  # forward must not touch the weights
            np.testing.assert_array_equal(_np(v), before[k])


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_float32_matches_torch(name, torch):
    rng = np.random.default_rng(5)
    m, tm = _pair(torch, name, I, 16, num_layers=2, float64=False)
    ex, tx = _inputs(torch, (T, B, I), rng, float64=False)
    e_outs, t_outs = _flatten(m(ex)), _flatten(tm(tx))
    assert e_outs[0].dtype is ember.float32
    _check_run(torch, m, tm, e_outs, t_outs, [(ex, tx)], rng, atol=1e-5, rtol=1e-4)


def test_dropout_between_layers(torch):
    rng = np.random.default_rng(6)
    m, tm = _pair(torch, "lstm", I, H, num_layers=2, dropout=1.0)  # p = 1: every element dropped, deterministic
    ex, tx = _inputs(torch, (T, B, I), rng)
    torch.manual_seed(0)
    for e, t in zip(_flatten(m(ex)), _flatten(tm(tx))):
        _check_close(e, t)
    m.eval()
    tm.eval()
    for e, t in zip(_flatten(m(ex)), _flatten(tm(tx))):
        _check_close(e, t)
    m2, _ = _pair(torch, "gru", I, H, num_layers=3, dropout=0.5)
    out_eval = _np(m2.eval()(ex)[0])
    out_train = m2.train()(ex)[0]
    assert not np.allclose(_np(out_train), out_eval)
    out_train.sum().backward()
    assert m2.weight_ih_l0.grad is not None


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
def test_cells_match_torch(kind, batched, with_state, torch):
    rng = np.random.default_rng(7)
    cls, tcls = {"rnn_tanh": (RNNCell, torch.nn.RNNCell), "rnn_relu": (RNNCell, torch.nn.RNNCell),
                 "lstm": (LSTMCell, torch.nn.LSTMCell), "gru": (GRUCell, torch.nn.GRUCell)}[kind]
    kw = {"nonlinearity": "relu"} if kind == "rnn_relu" else {}
    tm = tcls(I, H, **kw).double()
    m = cls(I, H, **kw).double()
    m.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    lead = (B,) if batched else ()
    xs = [_inputs(torch, lead + (I,), rng) for _ in range(3)]
    e_state = t_state = None
    if with_state:
        states = [_inputs(torch, lead + (H,), rng) for _ in range(2 if kind == "lstm" else 1)]
        e_state = tuple(s[0] for s in states) if kind == "lstm" else states[0][0]
        t_state = tuple(s[1] for s in states) if kind == "lstm" else states[0][1]
    e_outs, t_outs = [], []
    for ex, tx in xs:  # three steps, the state fed back
        e_state, t_state = m(ex, e_state), tm(tx, t_state)
        e_outs += list(e_state) if kind == "lstm" else [e_state]
        t_outs += list(t_state) if kind == "lstm" else [t_state]
    _check_run(torch, m, tm, e_outs, t_outs, xs + (states if with_state else []), rng)


@pytest.mark.parametrize("args, kwargs", [
    ((I, H), {}), ((I, H, 2), {"bidirectional": True}), ((I, H, 3), {"bias": False}),
    ((I, H, 2), {"proj_size": 3, "bidirectional": True}), ((I, H), {"proj_size": 2, "bias": False}),
])
def test_state_dict_keys_shapes_and_repr_match_torch(args, kwargs, torch):
    names = ["LSTM"] if "proj_size" in kwargs else ["RNN", "LSTM", "GRU"]
    for name in names:
        m = getattr(ember.nn.rnn, name)(*args, **kwargs)
        tm = getattr(torch.nn, name)(*args, **kwargs)
        sd, tsd = m.state_dict(), tm.state_dict()
        assert list(sd) == list(tsd)
        assert [tuple(v.shape) for v in sd.values()] == [tuple(v.shape) for v in tsd.values()]
        assert repr(m) == repr(tm)
        assert [[tuple(p.shape) for p in ws] for ws in m.all_weights] == \
            [[tuple(p.shape) for p in ws] for ws in tm.all_weights]
    for cls in ("RNNCell", "LSTMCell", "GRUCell"):
        m, tm = getattr(ember.nn.rnn, cls)(I, H, bias=False), getattr(torch.nn, cls)(I, H, bias=False)
        assert list(m.state_dict()) == list(tm.state_dict()) and repr(m) == repr(tm)
    assert repr(RNNCell(I, H, nonlinearity="relu")) == repr(torch.nn.RNNCell(I, H, nonlinearity="relu"))


def test_default_init_is_uniform_in_one_over_sqrt_hidden():
    bound = 1 / np.sqrt(64)
    for m in (LSTM(8, 64, 2, bidirectional=True, proj_size=16), GRU(8, 64), RNN(8, 64), LSTMCell(8, 64)):
        values = np.concatenate([_np(p).ravel() for p in m.parameters()])
        assert np.abs(values).max() <= bound
        assert abs(values.std() - bound / np.sqrt(3)) < 0.05 * bound  # U(-b, b) has std b / sqrt(3)


# --- gradcheck: fused cells, layer nodes, tiny modules ------------------------------------------------------------

def _cell_inputs(gates, batch=2, inp=3, hidden=2, states=1):
    xs = [rand64(batch, inp, seed=10), *[rand64(batch, hidden, seed=11 + k) for k in range(states)]]
    ws = [rand64(gates * hidden, inp, seed=20), rand64(gates * hidden, hidden, seed=21),
          rand64(gates * hidden, seed=22), rand64(gates * hidden, seed=23)]
    return xs + ws


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_cell_functions_gradcheck(kind):
    if kind == "lstm":
        inputs = _cell_inputs(4, states=2)

        def fn(x, h, c, *w):
            return lstm_cell(x, (h, c), *w)
    else:
        inputs = _cell_inputs(3 if kind == "gru" else 1)
        fn = {"gru": gru_cell, "rnn_tanh": rnn_tanh_cell, "rnn_relu": rnn_relu_cell}[kind]
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("used", ["h", "c"])
def test_fused_lstm_cell_with_one_output_used(used):
    gi, gh, c = rand64(2, 8, seed=1), rand64(2, 8, seed=2), rand64(2, 2, seed=3)

    def fn(gi, gh, c):
        h2, c2 = apply(LSTMCellFused(), gi, gh, c)
        return h2 if used == "h" else c2

    assert gradcheck(fn, (gi, gh, c))
    assert gradgradcheck(fn, (gi, gh, c))


_LAYER_MODES = ["LSTM", "LSTM_proj", "GRU", "RNN_TANH", "RNN_RELU"]


def _layer_case(mode, batch_first=False):
    """A tiny layer (seq 3, batch 2, input 3, hidden 2): (fn of the inputs, inputs)."""
    lstm = mode.startswith("LSTM")
    hidden, out = 2, (1 if mode == "LSTM_proj" else 2)
    gates = {"GRU": 3}.get(mode, 4 if lstm else 1) * hidden
    x = rand64(2, 3, 3, seed=30) if batch_first else rand64(3, 2, 3, seed=30)  # seq 3, batch 2
    h0 = rand64(2, out, seed=31)
    states = [x, h0] + ([rand64(2, hidden, seed=32)] if lstm else [])
    ws = [rand64(gates, 3, seed=33), rand64(gates, out, seed=34), rand64(gates, seed=35), rand64(gates, seed=36)]
    if mode == "LSTM_proj":
        ws.append(rand64(out, hidden, seed=37))
    n_states = len(states)

    def fn(reverse):
        def run(*args):
            c0 = args[2] if lstm else None
            w = list(args[n_states:]) + [None] * (5 - len(args[n_states:]))
            return rnn_layer("LSTM" if lstm else mode, args[0], args[1], c0, *w, reverse=reverse,
                             batch_first_input=batch_first, batch_first_output=batch_first)
        return run

    return fn, states + ws


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mode", _LAYER_MODES)
def test_layer_gradcheck_and_gradgradcheck(mode, reverse):
    fn, inputs = _layer_case(mode, batch_first=reverse)
    assert gradcheck(fn(reverse), inputs)
    assert gradgradcheck(fn(reverse), inputs)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mode", _LAYER_MODES)
def test_layer_bptt_agrees_with_the_decomposition(mode, batch_first):
    """The gradient node's back-propagation through time on arrays and the gradients of the layer's decomposition
    (the step-by-step graph of cell nodes, which gives the second derivatives) agree."""
    fn, inputs = _layer_case(mode, batch_first)
    outs = fn(True)(*inputs)
    rng = np.random.default_rng(0)
    gos = [ember.tensor(rng.standard_normal(tuple(o.shape))) for o in outs]
    fast = grad(list(outs), inputs, gos, create_graph=True)
    node = fast[0].grad_fn
    assert node.name.endswith("LayerGrad") and all(g.requires_grad and g.grad_fn is node for g in fast)
    graph = grad(list(node.decomposition(*node.inputs[:8])), inputs, gos)  # the layer's inputs
    for a, b in zip(fast, graph):
        np.testing.assert_allclose(_np(a), _np(b), atol=1e-12)


@pytest.mark.parametrize("cls", [LSTM, GRU, RNN])
def test_tiny_module_gradcheck(cls):
    m = cls(3, 2, num_layers=2, bidirectional=True, batch_first=cls is LSTM, dtype=ember.float64)
    x = rand64(2, 3, 3, seed=40) if m.batch_first else rand64(3, 2, 3, seed=40)  # batch 2, seq 3
    h0 = rand64(4, 2, 2, seed=41)
    if cls is LSTM:
        c0 = rand64(4, 2, 2, seed=42)
        assert gradcheck(lambda x, h, c: _flatten(m(x, (h, c))), (x, h0, c0))
    else:
        assert gradcheck(lambda x, h: _flatten(m(x, h)), (x, h0))


def test_second_derivative_through_module():
    m = LSTM(3, 2, dtype=ember.float64)
    x = rand64(3, 2, 3, seed=50)
    out, _ = m(x)
    (gx,) = grad(out.pow(2).sum(), x, create_graph=True)
    gx.pow(2).sum().backward()
    assert m.weight_hh_l0.grad is not None and np.abs(_np(m.weight_hh_l0.grad)).sum() > 0


# --- behaviour --------------------------------------------------------------------------------------------------

def test_batch_first_output_is_contiguous_and_no_grad_records_nothing():
    m = GRU(I, H, batch_first=True)
    out, h = m(ember.randn(B, T, I))
    assert out.is_contiguous() and tuple(out.shape) == (B, T, H) and tuple(h.shape) == (1, B, H)
    with ember.no_grad():
        out, h = m(ember.randn(B, T, I))
    assert not out.requires_grad and out.grad_fn is None


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn_tanh"])
def test_module_used_twice_in_one_graph_and_retain_graph(name, torch):
    """Two calls share the module's backward workspace; a retained graph gives the same gradients twice."""
    rng = np.random.default_rng(9)
    m, tm = _pair(torch, name, I, H, bidirectional=True, batch_first=True)
    (ex1, tx1), (ex2, tx2) = _inputs(torch, (B, T, I), rng), _inputs(torch, (B + 1, T - 2, I), rng)
    e_outs = _flatten(m(ex1)) + _flatten(m(ex2))
    t_outs = _flatten(tm(tx1)) + _flatten(tm(tx2))
    e_loss = sum((o * o).sum() for o in e_outs)
    t_loss = sum((o * o).sum() for o in t_outs)
    e_loss.backward(retain_graph=True)
    t_loss.backward()
    _check_param_grads(m, tm)
    first = {n: _np(p.grad).copy() for n, p in m.named_parameters()}
    e_loss.backward()
    for n, p in m.named_parameters():
        np.testing.assert_allclose(_np(p.grad), 2 * first[n], rtol=1e-12, atol=1e-12)
    _check_close(ex1.grad, 2 * tx1.grad)
    _check_close(ex2.grad, 2 * tx2.grad)


def test_modifying_an_output_in_place_then_backward_raises():
    m = LSTM(I, H)
    out, _ = m(ember.randn(T, B, I))
    with ember.no_grad():
        out.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


# --- errors (PyTorch's types and messages) ----------------------------------------------------------------------

def test_wrong_input_size_names_expected_and_actual():
    for m in (LSTM(4, 5), GRU(4, 5), RNN(4, 5)):
        with pytest.raises(RuntimeError, match=re.escape("input.size(-1) must be equal to input_size. Expected 4, "
                                                         "got 3")):
            m(ember.randn(2, 3, 3))


def test_wrong_hidden_sizes():
    with pytest.raises(RuntimeError, match=re.escape("Expected hidden size (1, 3, 5), got [1, 2, 5]")):
        GRU(4, 5)(ember.randn(2, 3, 4), ember.randn(1, 2, 5))
    with pytest.raises(RuntimeError, match=re.escape("Expected hidden size (2, 3, 5), got [1, 3, 5]")):
        RNN(4, 5, bidirectional=True)(ember.randn(2, 3, 4), ember.randn(1, 3, 5))
    lstm = LSTM(4, 5, proj_size=2)
    with pytest.raises(RuntimeError, match=re.escape("Expected hidden[0] size (1, 3, 2), got [1, 3, 5]")):
        lstm(ember.randn(2, 3, 4), (ember.randn(1, 3, 5), ember.randn(1, 3, 5)))
    with pytest.raises(RuntimeError, match=re.escape("Expected hidden[1] size (1, 3, 5), got [1, 3, 2]")):
        lstm(ember.randn(2, 3, 4), (ember.randn(1, 3, 2), ember.randn(1, 3, 2)))


def test_wrong_dimensions_and_dtype():
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D instead"):
        LSTM(4, 5)(ember.randn(2, 3, 4, 1))
    with pytest.raises(ValueError, match="RNN: Expected input to be 2D or 3D, got 1D tensor instead"):
        RNN(4, 5)(ember.randn(4))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D but got 2-D tensor"):
        GRU(4, 5)(ember.randn(2, 3, 4), ember.randn(3, 5))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"):
        RNN(4, 5)(ember.randn(2, 4), ember.randn(1, 1, 5))
    with pytest.raises(RuntimeError, match=re.escape("hx and cx should also be 3-D but got (2-D, 3-D) tensors")):
        LSTM(4, 5)(ember.randn(2, 3, 4), (ember.randn(3, 5), ember.randn(1, 3, 5)))
    with pytest.raises(ValueError, match=re.escape("RNN input dtype (ember.float64) does not match weight dtype "
                                                   "(ember.float32)")):
        LSTM(4, 5)(ember.randn(2, 3, 4, dtype=ember.float64))
    with pytest.raises(RuntimeError, match=re.escape("hidden state dtype (ember.float64) does not match weight "
                                                     "dtype (ember.float32)")):
        GRU(4, 5)(ember.randn(2, 3, 4), ember.zeros(1, 3, 5, dtype=ember.float64))
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
        LSTM(4, 5)(ember.randn(0, 3, 4))


def test_constructor_errors():
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'."):
        RNN(4, 5, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
        GRU(4, 5, proj_size=2)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        LSTM(4, 5, proj_size=5)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        LSTM(4, 5, 2, dropout=1.5)
    with pytest.raises(TypeError, match="hidden_size should be of type int, got: float"):
        LSTM(4, 5.0)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        GRU(4, 5, 0)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        LSTM(4, 5, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LSTM(4, 5, 2, dropout=0.5)


def test_cell_errors():
    cell = LSTMCell(4, 5)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 3 expected 4"):
        cell(ember.randn(2, 3))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch size 3"):
        cell(ember.randn(2, 4), (ember.randn(3, 5), ember.randn(3, 5)))
    with pytest.raises(RuntimeError, match="hidden1 has inconsistent hidden_size: got 6, expected 5"):
        cell(ember.randn(2, 4), (ember.randn(2, 5), ember.randn(2, 6)))
    with pytest.raises(RuntimeError, match=re.escape("hidden1 dtype (ember.float64) does not match input dtype "
                                                     "(ember.float32)")):
        cell(ember.randn(2, 4), (ember.randn(2, 5), ember.zeros(2, 5, dtype=ember.float64)))
    with pytest.raises(ValueError, match="LSTMCell: Expected input to be 1D or 2D, got 3D instead"):
        cell(ember.randn(1, 2, 4))
    with pytest.raises(ValueError, match="GRUCell: Expected hidden to be 1D or 2D, got 3D instead"):
        GRUCell(4, 5)(ember.randn(2, 4), ember.randn(1, 2, 5))
    bad = RNNCell(4, 5)
    bad.nonlinearity = "gelu"
    with pytest.raises(RuntimeError, match="Unknown nonlinearity: gelu"):
        bad(ember.randn(2, 4))


def test_deepcopy_drops_the_workspace_and_keeps_the_weights():
    import copy
    m = GRU(I, H)
    x = ember.randn(T, B, I)
    m(x)[0].sum().backward()
    assert m._workspace
    m2 = copy.deepcopy(m)
    assert m2._workspace == {}
    np.testing.assert_array_equal(_np(m2(x)[0]), _np(m(x)[0]))
