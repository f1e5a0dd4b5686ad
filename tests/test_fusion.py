"""nn.utils.fuse_conv_bn_eval / fuse_linear_bn_eval and their *_weights: the fused layer's eval outputs equal the
layer followed by batch norm, and its weights equal PyTorch's fusion of the same weights; the assertions."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights
from helpers import assert_close


def _trained_bn(lib, bn, shape, rng):
    """bn with non-trivial running statistics and affine parameters (a few training batches)."""
    for _ in range(3):
        bn(lib.tensor(rng.standard_normal(shape) * 2 + 1, dtype=lib.float64))
    if bn.affine:
        with lib.no_grad():
            bn.weight.copy_(lib.tensor(rng.standard_normal(bn.num_features), dtype=lib.float64))
            bn.bias.copy_(lib.tensor(rng.standard_normal(bn.num_features), dtype=lib.float64))
    return bn


def _pair(torch, make_layer, make_bn, shape, seed=0):
    """(ember layer, ember bn, torch layer, torch bn), float64, same weights and statistics, in eval mode."""
    mods = []
    for lib in (ember, torch):
        layer, bn = make_layer(lib).double(), make_bn(lib).double()
        rng = np.random.default_rng(seed)
        with lib.no_grad():
            for p in layer.parameters():
                p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)), dtype=lib.float64))
        out = layer(lib.tensor(np.random.default_rng(seed + 1).standard_normal(shape), dtype=lib.float64))
        mods += [layer.eval(), _trained_bn(lib, bn, tuple(out.shape), np.random.default_rng(seed + 2)).eval()]
    return mods


CONVS = {"conv1d": (lambda lib, b: lib.nn.Conv1d(3, 4, 3, bias=b), lambda lib, a: lib.nn.BatchNorm1d(4, affine=a),
                    (2, 3, 7), False),
         "conv2d": (lambda lib, b: lib.nn.Conv2d(3, 4, 3, bias=b), lambda lib, a: lib.nn.BatchNorm2d(4, affine=a),
                    (2, 3, 6, 6), False),
         "convT2d": (lambda lib, b: lib.nn.ConvTranspose2d(3, 4, 3, stride=2, bias=b),
                     lambda lib, a: lib.nn.BatchNorm2d(4, affine=a), (2, 3, 4, 4), True)}


@pytest.mark.parametrize("kind", list(CONVS))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_fuse_conv_bn_eval(kind, bias, affine, torch):
    make_conv, make_bn, shape, transpose = CONVS[kind]
    conv, bn, tconv, tbn = _pair(torch, lambda lib: make_conv(lib, bias), lambda lib: make_bn(lib, affine), shape)
    weight_before = conv.weight.detach().numpy().copy()
    fused = fuse_conv_bn_eval(conv, bn, transpose=transpose)
    tfused = torch.nn.utils.fuse_conv_bn_eval(tconv, tbn, transpose=transpose)
    assert type(fused) is type(conv) and fused is not conv and not fused.training
    assert isinstance(fused.weight, nn.Parameter) and isinstance(fused.bias, nn.Parameter)
    assert fused.weight.requires_grad and fused.bias.requires_grad == bias
    np.testing.assert_array_equal(conv.weight.detach().numpy(), weight_before)  # conv itself is unchanged
    assert_close(fused.weight, tfused.weight, rtol=1e-12, atol=1e-12)
    assert_close(fused.bias, tfused.bias, rtol=1e-12, atol=1e-12)
    x = ember.tensor(np.random.default_rng(5).standard_normal(shape))
    assert_close(fused(x), bn(conv(x)).detach().numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("bias", [True, False])
def test_fuse_linear_bn_eval(bias, torch):
    linear, bn, tlinear, tbn = _pair(torch, lambda lib: lib.nn.Linear(5, 4, bias=bias),
                                     lambda lib: lib.nn.BatchNorm1d(4), (6, 5))
    fused = fuse_linear_bn_eval(linear, bn)
    tfused = torch.nn.utils.fuse_linear_bn_eval(tlinear, tbn)
    assert type(fused) is nn.Linear and fused is not linear
    assert_close(fused.weight, tfused.weight, rtol=1e-12, atol=1e-12)
    assert_close(fused.bias, tfused.bias, rtol=1e-12, atol=1e-12)
    x = ember.tensor(np.random.default_rng(5).standard_normal((6, 5)))
    assert_close(fused(x), bn(linear(x)).detach().numpy(), rtol=1e-10, atol=1e-10)


def test_fuse_weights_functions_match_torch(torch):
    rng = np.random.default_rng(0)
    w, b, rm, rv, g, beta = (rng.standard_normal(s) for s in [(4, 3, 2, 2), (4,), (4,), (4,), (4,), (4,)])
    rv = np.abs(rv) + 0.1
    e = [ember.tensor(a) for a in (w, b, rm, rv, g, beta)]
    t = [torch.tensor(a) for a in (w, b, rm, rv, g, beta)]
    for args in [(0, 1, 2, 3, 4, 5), (0, None, 2, 3, None, None)]:
        pick = [lambda lst, i=i: None if i is None else lst[i] for i in args]
        ea = [p(e) for p in pick]
        ta = [p(t) for p in pick]
        for transpose in (False, True):
            wt = ea[0] if not transpose else ember.tensor(w.transpose(1, 0, 2, 3)[:3].copy())
            tt = ta[0] if not transpose else torch.tensor(w.transpose(1, 0, 2, 3)[:3].copy())
            fw, fb = fuse_conv_bn_weights(wt, ea[1], ea[2], ea[3], 1e-3, ea[4], ea[5], transpose)
            tw, tb = torch.nn.utils.fuse_conv_bn_weights(tt, ta[1], ta[2], ta[3], 1e-3, ta[4], ta[5], transpose)
            assert_close(fw, tw, rtol=1e-12, atol=1e-12)
            assert_close(fb, tb, rtol=1e-12, atol=1e-12)
            assert not fw.requires_grad and isinstance(fw, nn.Parameter)
    lw = rng.standard_normal((4, 6))
    fw, fb = fuse_linear_bn_weights(ember.tensor(lw), None, e[2], e[3], 1e-5, e[4], e[5])
    tw, tb = torch.nn.utils.fuse_linear_bn_weights(torch.tensor(lw), None, t[2], t[3], 1e-5, t[4], t[5])
    assert_close(fw, tw, rtol=1e-12, atol=1e-12)
    assert_close(fb, tb, rtol=1e-12, atol=1e-12)


def test_fusion_assertions(torch):
    for lib in (ember, torch):
        U = lib.nn.utils
        with pytest.raises(AssertionError, match="Fusion only for eval!"):
            U.fuse_conv_bn_eval(lib.nn.Conv2d(2, 3, 1), lib.nn.BatchNorm2d(3).eval())
        with pytest.raises(AssertionError, match="Fusion only for eval!"):
            U.fuse_linear_bn_eval(lib.nn.Linear(2, 3).eval(), lib.nn.BatchNorm1d(3))
        with pytest.raises(AssertionError, match="To fuse, linear.out_features == bn.num_features or "
                                                 "bn.num_features == 1, got linear.out_features=3 and "
                                                 "bn.num_features=4"):
            U.fuse_linear_bn_eval(lib.nn.Linear(2, 3).eval(), lib.nn.BatchNorm1d(4).eval())
        with pytest.raises(AssertionError, match="bn.running_mean and bn.running_var must not be None"):
            U.fuse_conv_bn_eval(lib.nn.Conv2d(2, 3, 1).eval(),
                                lib.nn.BatchNorm2d(3, track_running_stats=False).eval())
