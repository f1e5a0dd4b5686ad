"""MultiheadAttention and the Transformer layers: PyTorch parity (outputs and every parameter's gradient after
loading torch's state_dict by name), masks, layouts, init, gradcheck and error messages."""
import copy
import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.nn.attention import MultiheadAttention, multi_head_attention_forward
from ember.nn.transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                                  TransformerEncoderLayer)
from ember.nn.normalization import LayerNorm
from ember.nn.activation import GELU
from helpers import rand64

E, H = 8, 2  # embed dim and heads of the parity tests


# --- helpers --------------------------------------------------------------------------------------------------

def load_from_torch(em, tm):
    """Copy torch module tm's state_dict into ember module em by name; the keys (and their order) must agree."""
    sd = tm.state_dict()
    assert list(em.state_dict()) == list(sd)
    em.load_state_dict({k: ember.tensor(v.detach().cpu().numpy()) for k, v in sd.items()})


def load_to_torch(tm, em, torch):
    """Copy ember module em's state into torch module tm (after changing ember's values)."""
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in em.state_dict().items()})


def pair(torch, make, double=True):
    """The same module built in torch and in ember (from the same constructor call), ember loaded from torch."""
    tm = make(torch.nn)
    em = make(_EmberNN)
    if double:
        tm, em = tm.double(), em.double()
    load_from_torch(em, tm)
    return em, tm


class _EmberNN:
    """torch.nn-like namespace over ember's submodules (ember/nn/__init__ may not export these yet)."""
    MultiheadAttention = MultiheadAttention
    TransformerEncoderLayer = TransformerEncoderLayer
    TransformerEncoder = TransformerEncoder
    TransformerDecoderLayer = TransformerDecoderLayer
    TransformerDecoder = TransformerDecoder
    Transformer = Transformer
    LayerNorm = LayerNorm
    GELU = GELU


def arr(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def both(a, torch, requires_grad=False):
    """(ember tensor, torch tensor) holding the same numpy array."""
    return (ember.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad))


def close(e, t, tol=1e-10):
    a = e.detach().numpy()
    b = t.detach().numpy()
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def check_grads(em, tm, tol=1e-10):
    """Every torch parameter with a gradient has the same gradient in ember (looked up by name)."""
    n = 0
    for name, p in tm.named_parameters():
        ep = em.get_parameter(name)
        if p.grad is None:
            assert ep.grad is None or not np.any(ep.grad.numpy()), name
            continue
        assert ep.grad is not None, name
        np.testing.assert_allclose(ep.grad.numpy(), p.grad.numpy(), rtol=tol, atol=tol, err_msg=name)
        n += 1
    assert n > 0


def run_both(em, tm, e_args, t_args, kwargs_e=None, kwargs_t=None, index=None, tol=1e-10):
    """Forward both modules, compare outputs, backward a fixed random projection, compare all gradients."""
    eo = em(*e_args, **(kwargs_e or {}))
    to = tm(*t_args, **(kwargs_t or {}))
    if index is not None:
        eo, to = eo[index], to[index]
    close(eo, to, tol)
    g = arr(*to.shape, seed=7)
    (eo * ember.tensor(g)).sum().backward()
    (to * to.new_tensor(g)).sum().backward()
    check_grads(em, tm, tol)
    for ea, ta in zip(e_args, t_args):
        if ta.requires_grad:
            close(ea.grad, ta.grad, tol)
    return eo, to


# --- MultiheadAttention parity --------------------------------------------------------------------------------

MASKS = ["none", "kpm_bool", "kpm_float", "attn_bool", "attn_float", "attn3d_bool", "attn3d_float", "both_bool",
         "both_float"]


def make_masks(kind, N, L, S, seed=1):
    """Masks in numpy: (key_padding_mask (N, S), attn_mask (L, S) or (N*H, L, S)); never a fully masked row."""
    rng = np.random.default_rng(seed)
    kpm = am = None
    if kind.startswith("kpm") or kind.startswith("both"):
        kpm = np.zeros((N, S), bool)
        kpm[0, -2:] = True
        kpm[-1, 0] = True
    if kind.startswith("attn") or kind.startswith("both"):
        shape = (N * H, L, S) if "3d" in kind else (L, S)
        am = rng.random(shape) < 0.3
        am[..., 1] = False  # key 1 is never masked by either mask
    if kind.endswith("float"):
        kpm = None if kpm is None else np.where(kpm, -1e9, 0.0) + rng.standard_normal(kpm.shape) * 0.1
        am = None if am is None else np.where(am, -np.inf, 0.0) + rng.standard_normal(am.shape) * 0.1
    return kpm, am


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_self_attention_matches_torch(mask, batch_first, need_weights, torch):
    em, tm = pair(torch, lambda nn: nn.MultiheadAttention(E, H, batch_first=batch_first))
    em.out_proj.bias._data[:] = arr(E, seed=3)  # non-zero biases, so their gradients mean something
    em.in_proj_bias._data[:] = arr(3 * E, seed=4)
    load_to_torch(tm, em, torch)
    N, L = 3, 5
    x = arr(N, L, E) if batch_first else arr(L, N, E)
    ex, tx = both(x, torch, requires_grad=True)
    kpm, am = make_masks(mask, N, L, L)
    ek, tk = both(kpm, torch) if kpm is not None else (None, None)
    ea, ta = both(am, torch) if am is not None else (None, None)
    eo, ew = em(ex, ex, ex, key_padding_mask=ek, need_weights=need_weights, attn_mask=ea)
    to, tw = tm(tx, tx, tx, key_padding_mask=tk, need_weights=need_weights, attn_mask=ta)
    close(eo, to)
    if need_weights:
        assert tuple(ew.shape) == (N, L, L)
        close(ew, tw)
    else:
        assert ew is None and tw is None
    g = arr(*to.shape, seed=7)
    loss_e = (eo * ember.tensor(g)).sum()
    loss_t = (to * torch.tensor(g)).sum()
    if need_weights:  # the returned weights are differentiable too
        gw = arr(*tw.shape, seed=8)
        loss_e = loss_e + (ew * ember.tensor(gw)).sum()
        loss_t = loss_t + (tw * torch.tensor(gw)).sum()
    loss_e.backward()
    loss_t.backward()
    close(ex.grad, tx.grad)
    check_grads(em, tm)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_per_head_weights_and_cross_attention(batch_first, torch):
    em, tm = pair(torch, lambda nn: nn.MultiheadAttention(E, 4, batch_first=batch_first))
    N, L, S = 2, 3, 6
    q = arr(N, L, E, seed=1) if batch_first else arr(L, N, E, seed=1)
    kv = arr(N, S, E, seed=2) if batch_first else arr(S, N, E, seed=2)
    eq, tq = both(q, torch, True)
    ekv, tkv = both(kv, torch, True)
    am = np.zeros((L, S), bool)
    am[0, 3:] = True
    ea, ta = both(am, torch)
    eo, ew = em(eq, ekv, ekv, attn_mask=ea, average_attn_weights=False)
    to, tw = tm(tq, tkv, tkv, attn_mask=ta, average_attn_weights=False)
    assert tuple(ew.shape) == (N, 4, L, S)
    close(eo, to)
    close(ew, tw)
    (eo.sum() + (ew * ember.tensor(arr(*tw.shape))).sum()).backward()
    (to.sum() + (tw * torch.tensor(arr(*tw.shape))).sum()).backward()
    close(eq.grad, tq.grad)
    close(ekv.grad, tkv.grad)
    check_grads(em, tm)


def test_mha_distinct_query_key_value(torch):
    em, tm = pair(torch, lambda nn: nn.MultiheadAttention(E, H))
    q, k, v = (both(arr(4, 2, E, seed=s), torch, True) for s in (1, 2, 3))
    run_both(em, tm, (q[0], k[0], v[0]), (q[1], k[1], v[1]), index=0)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_kdim_vdim_separate_weights(need_weights, torch):
    em, tm = pair(torch, lambda nn: nn.MultiheadAttention(E, H, kdim=5, vdim=3))
    assert list(em.state_dict()) == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias",
                                     "out_proj.weight", "out_proj.bias"]
    assert em.in_proj_weight is None and tuple(em.k_proj_weight.shape) == (E, 5)
    q, k, v = both(arr(4, 2, E, seed=1), torch, True), both(arr(6, 2, 5, seed=2), torch, True), \
        both(arr(6, 2, 3, seed=3), torch, True)
    kw = {"need_weights": need_weights}
    run_both(em, tm, (q[0], k[0], v[0]), (q[1], k[1], v[1]), kw, kw, index=0)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_bias_kv_zero_attn_with_masks(need_weights, torch):
    em, tm = pair(torch, lambda nn: nn.MultiheadAttention(E, H, add_bias_kv=True, add_zero_attn=True))
    assert list(em.state_dict()) == ["in_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight",
                                     "out_proj.bias"]
    N, L = 2, 4
    x = both(arr(L, N, E), torch, True)
    kpm, am = make_masks("both_bool", N, L, L)
    kw_e = {"key_padding_mask": ember.tensor(kpm), "attn_mask": ember.tensor(am), "need_weights": need_weights}
    kw_t = {"key_padding_mask": torch.tensor(kpm), "attn_mask": torch.tensor(am), "need_weights": need_weights}
    run_both(em, tm, (x[0], x[0], x[0]), (x[1], x[1], x[1]), kw_e, kw_t, index=0)
    if need_weights:
        assert tuple(em(x[0], x[0], x[0], **kw_e)[1].shape) == (N, L, L + 2)


def test_mha_without_bias(torch):
    em, tm = pair(torch, lambda nn: nn.MultiheadAttention(E, H, bias=False))
    assert list(em.state_dict()) == ["in_proj_weight", "out_proj.weight"]
    x = both(arr(3, 2, E), torch, True)
    run_both(em, tm, (x[0], x[0], x[0]), (x[1], x[1], x[1]), index=0)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("mask", ["none", "both_bool", "attn3d_float"])
def test_mha_unbatched(need_weights, mask, torch):
    em, tm = pair(torch, lambda nn: nn.MultiheadAttention(E, H, batch_first=True))  # ignored when unbatched
    L = 5
    x = both(arr(L, E), torch, True)
    kpm, am = make_masks(mask, 1, L, L)
    kw_e, kw_t = {"need_weights": need_weights}, {"need_weights": need_weights}
    if kpm is not None:
        kw_e["key_padding_mask"], kw_t["key_padding_mask"] = both(kpm[0], torch)
    if am is not None:
        kw_e["attn_mask"], kw_t["attn_mask"] = both(am, torch)
    eo, _ = run_both(em, tm, (x[0], x[0], x[0]), (x[1], x[1], x[1]), kw_e, kw_t, index=0)
    assert tuple(eo.shape) == (L, E)
    if need_weights:
        assert tuple(em(x[0], x[0], x[0], **kw_e)[1].shape) == (L, L)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("with_kpm", [False, True])
def test_mha_is_causal(need_weights, with_kpm, torch):
    em, tm = pair(torch, lambda nn: nn.MultiheadAttention(E, H, batch_first=True))
    N, L = 2, 4
    x = both(arr(N, L, E), torch, True)
    causal = np.triu(np.ones((L, L), bool), 1)
    kw_e = {"attn_mask": ember.tensor(causal), "is_causal": True, "need_weights": need_weights}
    kw_t = {"attn_mask": torch.tensor(causal), "is_causal": True, "need_weights": need_weights}
    if with_kpm:
        kpm = np.zeros((N, L), bool)
        kpm[0, -1] = True
        kw_e["key_padding_mask"], kw_t["key_padding_mask"] = both(kpm, torch)
    eo, _ = run_both(em, tm, (x[0], x[0], x[0]), (x[1], x[1], x[1]), kw_e, kw_t, index=0)
    # the first position sees only itself: its output does not depend on later positions
    x2 = x[0].detach().numpy().copy()
    x2[:, 1:] += 1.0
    e2 = ember.tensor(x2)
    out2 = em(e2, e2, e2, **kw_e)[0]
    np.testing.assert_allclose(out2.detach().numpy()[:, 0], eo.detach().numpy()[:, 0], rtol=1e-12, atol=1e-12)


def test_mha_float32_and_training_mode_without_dropout(torch):
    em, tm = pair(torch, lambda nn: nn.MultiheadAttention(E, H, dropout=0.0), double=False)
    em.train()
    tm.train()
    x = both(arr(5, 3, E).astype(np.float32), torch, True)
    kpm, _ = make_masks("kpm_bool", 3, 5, 5)
    kw_e, kw_t = {"key_padding_mask": ember.tensor(kpm)}, {"key_padding_mask": torch.tensor(kpm)}
    eo, _ = run_both(em, tm, (x[0], x[0], x[0]), (x[1], x[1], x[1]), kw_e, kw_t, index=0, tol=1e-5)
    assert eo.dtype is ember.float32


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_dropout_only_in_training(need_weights):
    m = MultiheadAttention(E, H, dropout=0.5)
    x = ember.randn(4, 2, E)
    m.eval()
    a, b = m(x, x, x, need_weights=need_weights)[0], m(x, x, x, need_weights=need_weights)[0]
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    m.train()
    c = m(x, x, x, need_weights=need_weights)[0]
    assert not np.allclose(c.detach().numpy(), a.detach().numpy())
    if need_weights:  # the returned weights are the dropped-out ones: some are exactly zero, others scaled by 2
        w = m(x, x, x, average_attn_weights=False)[1].detach().numpy()
        assert (w == 0).any()


def test_mha_functional_matches_module():
    m = MultiheadAttention(E, H).double()
    x = rand64(5, 2, E, requires_grad=False)
    out, w = multi_head_attention_forward(x, x, x, E, H, m.in_proj_weight, m.in_proj_bias, None, None, False, 0.0,
                                          m.out_proj.weight, m.out_proj.bias, training=False)
    ref, ref_w = m(x, x, x)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), ref_w.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_mha_float_mask_gradient_matches_torch(torch):
    em, tm = pair(torch, lambda nn: nn.MultiheadAttention(E, H))
    x = both(arr(4, 2, E), torch)
    for need_weights in (True, False):
        am = both(arr(4, 4, seed=5) * 0.5, torch, True)
        eo = em(x[0], x[0], x[0], attn_mask=am[0], need_weights=need_weights)[0]
        to = tm(x[1], x[1], x[1], attn_mask=am[1], need_weights=need_weights)[0]
        close(eo, to)
        (eo * ember.tensor(arr(*to.shape))).sum().backward()
        (to * torch.tensor(arr(*to.shape))).sum().backward()
        close(am[0].grad, am[1].grad)


# --- init, state_dict, copies ---------------------------------------------------------------------------------

def test_mha_default_init():
    m = MultiheadAttention(16, 4)
    assert not np.any(m.in_proj_bias.detach().numpy()) and not np.any(m.out_proj.bias.detach().numpy())
    w = m.in_proj_weight.detach().numpy()
    bound = math.sqrt(6.0 / (16 + 48))  # xavier_uniform_ of a (48, 16) weight
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    bk = MultiheadAttention(16, 4, add_bias_kv=True).bias_k.detach().numpy()
    assert bk.shape == (1, 1, 16) and bk.std() > 0
    m2 = MultiheadAttention(16, 4, kdim=3)
    assert np.abs(m2.k_proj_weight.detach().numpy()).max() <= math.sqrt(6.0 / (16 + 3))


@pytest.mark.parametrize("kwargs", [{}, {"bias": False}, {"add_bias_kv": True}, {"kdim": 3, "vdim": 5}])
def test_mha_state_dict_keys_and_shapes_match_torch(kwargs, torch):
    t = torch.nn.MultiheadAttention(E, H, **kwargs).state_dict()
    e = MultiheadAttention(E, H, **kwargs).state_dict()
    assert list(e) == list(t)
    assert [tuple(v.shape) for v in e.values()] == [tuple(v.shape) for v in t.values()]


def test_module_deepcopy_makes_independent_parameters():
    layer = TransformerEncoderLayer(E, H, dim_feedforward=16)
    c = copy.deepcopy(layer)
    for (n, p), (n2, p2) in zip(layer.named_parameters(), c.named_parameters()):
        assert n == n2 and p is not p2
        np.testing.assert_array_equal(p.detach().numpy(), p2.detach().numpy())
    c.self_attn.in_proj_weight._data[:] = 0
    assert np.any(layer.self_attn.in_proj_weight.detach().numpy())


def test_repr_matches_torch(torch):
    assert repr(MultiheadAttention(E, H)) == repr(torch.nn.MultiheadAttention(E, H))


# --- encoder / decoder layers ---------------------------------------------------------------------------------

def ff_kwargs(activation, norm_first, batch_first):
    return {"dim_feedforward": 16, "dropout": 0.0, "activation": activation, "norm_first": norm_first,
            "batch_first": batch_first}


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(norm_first, activation, batch_first, torch):
    em, tm = pair(torch, lambda nn: nn.TransformerEncoderLayer(E, H, **ff_kwargs(activation, norm_first,
                                                                                   batch_first)))
    N, S = 2, 5
    x = both(arr(N, S, E) if batch_first else arr(S, N, E), torch, True)
    kpm, am = make_masks("both_bool", N, S, S)
    kw_e = {"src_mask": ember.tensor(am), "src_key_padding_mask": ember.tensor(kpm)}
    kw_t = {"src_mask": torch.tensor(am), "src_key_padding_mask": torch.tensor(kpm)}
    em.train()  # dropout=0, so training mode must agree too
    tm.train()
    run_both(em, tm, (x[0],), (x[1],), kw_e, kw_t)


def test_encoder_layer_callable_activation_and_eval(torch):
    em, tm = pair(torch, lambda nn: nn.TransformerEncoderLayer(E, H, 16, dropout=0.3, activation=nn.GELU(),
                                                               norm_first=True))
    assert list(em.state_dict()) == list(tm.state_dict())
    em.eval()
    tm.eval()
    x = both(arr(4, 3, E), torch, True)
    run_both(em, tm, (x[0],), (x[1],))


def test_encoder_layer_submodule_names_match_torch(torch):
    names = [n for n, _ in torch.nn.TransformerEncoderLayer(E, H, 16).named_modules()]
    assert [n for n, _ in TransformerEncoderLayer(E, H, 16).named_modules()] == names
    names = [n for n, _ in torch.nn.TransformerDecoderLayer(E, H, 16).named_modules()]
    assert [n for n, _ in TransformerDecoderLayer(E, H, 16).named_modules()] == names



def test_default_activation_is_functional_relu(tmp_path):
    """As in PyTorch, the default (and "relu") activation is nn.functional.relu, so a whole saved model loads
    with the allowlist PyTorch programs use (word_language_model lists torch.nn.functional.relu)."""
    F = ember.nn.functional
    assert TransformerEncoderLayer(E, H, 16).activation is F.relu
    assert TransformerDecoderLayer(E, H, 16, activation="relu").activation is F.relu
    assert TransformerEncoderLayer(E, H, 16).activation_relu_or_gelu == 1
    model = TransformerEncoder(TransformerEncoderLayer(E, H, 16), 1)
    ember.save(model, tmp_path / "model.pt")
    allowed = [F.relu, TransformerEncoder, TransformerEncoderLayer, MultiheadAttention, LayerNorm,
               ember.nn.modules.container.ModuleList, ember.nn.modules.dropout.Dropout,
               ember.nn.modules.linear.Linear, ember.nn.modules.linear.NonDynamicallyQuantizableLinear]
    with ember.serialization.safe_globals(allowed):
        loaded = ember.load(tmp_path / "model.pt")
    assert loaded.layers[0].activation is F.relu

@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("causal", [None, True, False])
def test_encoder_two_layers_with_norm_matches_torch(batch_first, causal, torch):

    def make(nn):
        layer = nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, batch_first=batch_first)
        return nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E), enable_nested_tensor=False)

    em, tm = pair(torch, make)
    assert [k for k in em.state_dict() if k.startswith("layers.1.")]
    # give every layer different weights, so that a shared-layer bug would show
    em.layers[1].linear1.weight._data[:] = arr(16, E, seed=11) * 0.3
    load_to_torch(tm, em, torch)
    N, S = 2, 5
    x = both(arr(N, S, E) if batch_first else arr(S, N, E), torch, True)
    mask_t = torch.nn.Transformer.generate_square_subsequent_mask(S, dtype=torch.float64)
    mask_e = Transformer.generate_square_subsequent_mask(S, dtype=ember.float64)
    close(mask_e, mask_t)
    kpm = np.zeros((N, S))
    kpm[1, -1] = -np.inf  # a float padding mask, the same type as the float causal mask
    kw_e = {"mask": mask_e, "src_key_padding_mask": ember.tensor(kpm), "is_causal": causal}
    kw_t = {"mask": mask_t, "src_key_padding_mask": torch.tensor(kpm), "is_causal": causal}
    run_both(em, tm, (x[0],), (x[1],), kw_e, kw_t)


def test_encoder_without_masks(torch):
    em, tm = pair(torch, lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, 16, dropout=0.0), 2,
                                                          enable_nested_tensor=False))
    x = both(arr(5, 2, E), torch, True)
    run_both(em, tm, (x[0],), (x[1],))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_matches_torch(norm_first, batch_first, torch):
    em, tm = pair(torch, lambda nn: nn.TransformerDecoderLayer(E, H, **ff_kwargs("gelu", norm_first, batch_first)))
    N, T, S = 2, 4, 6
    tgt = both(arr(N, T, E, seed=1) if batch_first else arr(T, N, E, seed=1), torch, True)
    mem = both(arr(N, S, E, seed=2) if batch_first else arr(S, N, E, seed=2), torch, True)
    tkpm, _ = make_masks("kpm_bool", N, T, T)
    _, mmask = make_masks("attn_bool", N, T, S)
    mkpm = np.zeros((N, S), bool)
    mkpm[0, 2] = True
    causal = np.triu(np.ones((T, T), bool), 1)
    kw_e = {"tgt_mask": ember.tensor(causal), "memory_mask": ember.tensor(mmask),
            "tgt_key_padding_mask": ember.tensor(tkpm), "memory_key_padding_mask": ember.tensor(mkpm)}
    kw_t = {"tgt_mask": torch.tensor(causal), "memory_mask": torch.tensor(mmask),
            "tgt_key_padding_mask": torch.tensor(tkpm), "memory_key_padding_mask": torch.tensor(mkpm)}
    run_both(em, tm, (tgt[0], mem[0]), (tgt[1], mem[1]), kw_e, kw_t)


def test_decoder_two_layers_causal_matches_torch(torch):

    def make(nn):
        return nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, 16, dropout=0.0, batch_first=True), 2,
                                     norm=nn.LayerNorm(E))

    em, tm = pair(torch, make)
    em.layers[0].linear2.weight._data[:] = arr(E, 16, seed=12) * 0.3
    load_to_torch(tm, em, torch)
    T, S = 4, 3
    tgt, mem = both(arr(2, T, E, seed=1), torch, True), both(arr(2, S, E, seed=2), torch, True)
    kw_e = {"tgt_mask": Transformer.generate_square_subsequent_mask(T, dtype=ember.float64), "tgt_is_causal": True}
    kw_t = {"tgt_mask": torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64),
            "tgt_is_causal": True}
    run_both(em, tm, (tgt[0], mem[0]), (tgt[1], mem[1]), kw_e, kw_t)


def test_transformer_matches_torch(torch):

    def make(nn):
        return nn.Transformer(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16,
                              dropout=0.0, batch_first=True)

    em, tm = pair(torch, make)
    src, tgt = both(arr(2, 5, E, seed=1), torch, True), both(arr(2, 3, E, seed=2), torch, True)
    kw_e = {"tgt_mask": Transformer.generate_square_subsequent_mask(3, dtype=ember.float64)}
    kw_t = {"tgt_mask": torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)}
    run_both(em, tm, (src[0], tgt[0]), (src[1], tgt[1]), kw_e, kw_t)


def test_transformer_init_redraws_matrices_per_layer():
    m = Transformer(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16)
    a = m.encoder.layers[0].linear1.weight.detach().numpy()
    b = m.encoder.layers[1].linear1.weight.detach().numpy()
    assert not np.allclose(a, b)  # xavier_uniform_ after the deep copies
    assert np.abs(a).max() <= math.sqrt(6.0 / (E + 16))


def test_encoder_layers_are_deep_copies():
    layer = TransformerEncoderLayer(E, H, 16)
    enc = TransformerEncoder(layer, 3)
    assert len(enc.layers) == 3 and enc.layers[0] is not layer and enc.layers[0] is not enc.layers[1]
    np.testing.assert_array_equal(enc.layers[2].linear1.weight.detach().numpy(), layer.linear1.weight.detach().numpy())
    assert len(list(enc.parameters())) == 3 * len(list(layer.parameters()))


# --- gradcheck ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_gradcheck(need_weights):
    m = MultiheadAttention(4, 2).double()
    m.in_proj_bias._data[:] = np.linspace(-0.5, 0.5, 12)
    params = [m.in_proj_weight, m.in_proj_bias, m.out_proj.weight, m.out_proj.bias]
    q, k = rand64(3, 2, 4, seed=1), rand64(3, 2, 4, seed=2)
    mask = ember.tensor(np.triu(np.ones((3, 3), bool), 1))

    def fn(q, k, w, b, ow, ob):
        out, weights = multi_head_attention_forward(q, k, k, 4, 2, w, b, None, None, False, 0.0, ow, ob,
                                                    attn_mask=mask, need_weights=need_weights)
        return (out, weights) if need_weights else out

    assert gradcheck(fn, (q, k, *params))


def test_mha_gradgradcheck():
    m = MultiheadAttention(4, 2).double()
    x = rand64(3, 1, 4, seed=3)

    def fn(x, w):
        return multi_head_attention_forward(x, x, x, 4, 2, w, m.in_proj_bias, None, None, False, 0.0,
                                            m.out_proj.weight, m.out_proj.bias, need_weights=False)[0]

    assert gradgradcheck(fn, (x, m.in_proj_weight))


# --- errors ---------------------------------------------------------------------------------------------------

def test_error_embed_dim_not_divisible():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        MultiheadAttention(6, 4)
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        TransformerEncoderLayer(6, 4)
    with pytest.raises(ValueError, match="embed_dim=0 and num_heads=2"):
        MultiheadAttention(0, 2)


def test_error_mask_shapes_are_named():
    m = MultiheadAttention(E, H)
    x = ember.randn(4, 2, E)
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(4, 5\), but should be \(4, 4\)"):
        m(x, x, x, attn_mask=ember.zeros(4, 5, dtype=ember.bool))
    with pytest.raises(RuntimeError, match=r"3D attn_mask is \(2, 4, 4\), but should be \(4, 4, 4\)"):
        m(x, x, x, attn_mask=ember.zeros(2, 4, 4, dtype=ember.bool))
    with pytest.raises(AssertionError, match=r"key_padded_mask.shape\[1\] to be 4, but got 3"):
        m(x, x, x, key_padding_mask=ember.zeros(2, 3, dtype=ember.bool))
    with pytest.raises(AssertionError, match=r"key_padded_mask.shape\[0\] to be 2, but got 3"):
        m(x, x, x, key_padding_mask=ember.zeros(3, 4, dtype=ember.bool))
    with pytest.raises(AssertionError, match="expected `key_padding_mask` to be `None` or 2-D but found 1-D"):
        m(x, x, x, key_padding_mask=ember.zeros(4, dtype=ember.bool))
    with pytest.raises(AssertionError, match=r"Expected `attn_mask` shape to be \(2, 4, 4\) but got \(2, 4, 3\)"):
        m(x[:, 0], x[:, 0], x[:, 0], attn_mask=ember.zeros(2, 4, 3))


def test_error_bad_inputs():
    m = MultiheadAttention(E, H)
    x = ember.randn(4, 2, E)
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask are supported"):
        m(x, x, x, attn_mask=ember.zeros(4, 4, dtype=ember.int64))
    with pytest.raises(AssertionError, match="query should be unbatched 2D or batched 3D tensor but received 4-D"):
        m(x[None], x[None], x[None])
    with pytest.raises(AssertionError, match="expected `key` and `value` to be 3-D but found 2-D and 3-D"):
        m(x, x[0], x)
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 8, but got 4"):
        y = ember.randn(4, 2, 4)
        m(y, y, y)
    with pytest.raises(AssertionError, match=r"key shape \(4, 2, 8\) does not match value shape \(3, 2, 8\)"):
        m(x, x, x[:3])
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        TransformerEncoderLayer(E, H, activation="tanh")
    t = Transformer(E, H, 1, 1, 16, batch_first=True)
    with pytest.raises(RuntimeError, match=r"the batch number of src and tgt must be equal \(src \(2, 3, 8\), tgt"):
        t(ember.randn(2, 3, E), ember.randn(3, 3, E))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        t(ember.randn(2, 3, E), ember.randn(2, 3, 4))


def test_mismatched_mask_types_warn():
    m = MultiheadAttention(E, H)
    x = ember.randn(4, 2, E)
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask is deprecated"):
        m(x, x, x, key_padding_mask=ember.zeros(2, 4, dtype=ember.bool), attn_mask=ember.zeros(4, 4))


def test_functional_static_kv_and_separate_weights_match_torch(torch):
    import torch.nn.functional as F
    N, L, S, D = 2, 3, 4, E // H
    arrays = {"q": arr(L, N, E, seed=1), "k": arr(S, N, E, seed=2), "w": arr(3 * E, E, seed=3) * 0.3,
              "b": arr(3 * E, seed=4), "ow": arr(E, E, seed=5) * 0.3, "ob": arr(E, seed=6),
              "sk": arr(N * H, S + 1, D, seed=7), "sv": arr(N * H, S + 1, D, seed=8)}
    e = {n: ember.tensor(a, requires_grad=True) for n, a in arrays.items()}
    t = {n: torch.tensor(a, requires_grad=True) for n, a in arrays.items()}
    for need_weights in (True, False):
        outs = []
        for x, f in ((e, multi_head_attention_forward), (t, F.multi_head_attention_forward)):
            wq, wk, wv = x["w"].chunk(3)
            outs.append(f(x["q"], x["k"], x["k"], E, H, None, x["b"], None, None, False, 0.0, x["ow"], x["ob"],
                          need_weights=need_weights, use_separate_proj_weight=True, q_proj_weight=wq,
                          k_proj_weight=wk, v_proj_weight=wv, static_k=x["sk"], static_v=x["sv"]))
        (eo, ew), (to, tw) = outs
        close(eo, to)
        if need_weights:
            close(ew, tw)
        (eo * ember.tensor(arr(*to.shape))).sum().backward()
        (to * torch.tensor(arr(*to.shape))).sum().backward()
    for n in arrays:
        if n == "k":  # the static key and value replace the projected ones: no gradient reaches key
            assert e[n].grad is None and t[n].grad is None
        else:
            close(e[n].grad, t[n].grad)
