"""torch.nn layers and functions that are thin forms of ember's ops: the padding layers, CosineSimilarity and
PairwiseDistance, Fold and Unfold, Softmax2d, Hardshrink/Softshrink, RReLU, ChannelShuffle, pdist, gumbel_softmax,
the in-place functional forms (relu_, ...) and the deprecated upsample functions: values, gradients and reprs
against PyTorch where it is installed, and what holds without it."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.autograd import gradcheck

RNG = np.random.default_rng(0)


def _both(torch, make, *arrays, grad=True):
    """make(lib) applied to the arrays in ember and in PyTorch: (ember's output, PyTorch's, the inputs' grads)."""
    results = []
    for lib in (ember, torch):
        inputs = [lib.tensor(a, requires_grad=grad) for a in arrays]
        out = make(lib)(*inputs)
        if grad:
            (out * lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)))).sum().backward()
        results.append((out.detach().numpy(), [x.grad.numpy() if grad else None for x in inputs]))
    (mine, my_grads), (theirs, their_grads) = results
    np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)
    for g, h in zip(my_grads, their_grads):
        if grad:
            np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["Zero", "Constant", "Reflection", "Replication", "Circular"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_padding_layers_match_torch(kind, dims):
    torch = pytest.importorskip("torch")
    name = f"{kind}Pad{dims}d"
    x = RNG.standard_normal((2, 3, 4, 5, 6)[:dims + 2])
    for padding in (2, (1, 2, 0, 3, 2, 1)[:2 * dims]):
        args = (padding, 1.5) if kind == "Constant" else (padding,)
        _both(torch, lambda lib: getattr(lib.nn, name)(*args), x)
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))
    with pytest.raises(ValueError, match=f"{name}: padding must be an int or a tuple of {2 * dims} ints"):
        getattr(nn, name)(*(((1, 2, 3),) + ((0.0,) if kind == "Constant" else ())))


def test_distance_fold_and_softmax2d_layers_match_torch():
    torch = pytest.importorskip("torch")
    a, b = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
    _both(torch, lambda lib: lib.nn.CosineSimilarity(dim=1, eps=1e-6), a, b)
    _both(torch, lambda lib: lib.nn.PairwiseDistance(p=3.0, keepdim=True), a, b)
    _both(torch, lambda lib: lib.nn.Unfold(2, dilation=1, padding=1, stride=2), RNG.standard_normal((2, 3, 5, 4)))
    _both(torch, lambda lib: lib.nn.Fold((4, 5), (2, 3), stride=(1, 2)), RNG.standard_normal((2, 12, 6)))
    _both(torch, lambda lib: lib.nn.Softmax2d(), RNG.standard_normal((2, 3, 4, 5)))
    for mine, theirs in ((nn.Fold((4, 5), 2), torch.nn.Fold((4, 5), 2)), (nn.Unfold(3), torch.nn.Unfold(3)),
                         (nn.PairwiseDistance(), torch.nn.PairwiseDistance()), (nn.Softmax2d(), torch.nn.Softmax2d())):
        assert repr(mine) == repr(theirs)
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        nn.Softmax2d()(ember.ones(2, 3))


def test_shrinks_and_rrelu():
    x = ember.tensor([-1.0, -0.5, -0.2, 0.0, 0.5, 2.0], requires_grad=True)
    np.testing.assert_array_equal(F.hardshrink(x).detach().numpy(), [-1.0, 0.0, 0.0, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(F.softshrink(x).detach().numpy(), [-0.5, 0.0, 0.0, 0.0, 0.0, 1.5])
    F.softshrink(x, 0.1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1, 1, 0, 1, 1])
    assert gradcheck(lambda t: F.hardshrink(t, 0.3) + F.softshrink(t, 0.3), (ember.tensor(RNG.standard_normal(8)),))
    with pytest.raises(RuntimeError, match="softshrink: lambda must be greater or equal to 0"):
        F.softshrink(x, -1.0)
    # rrelu: the mean slope in evaluation; in training one slope in [lower, upper) per negative element
    np.testing.assert_allclose(nn.RReLU(0.1, 0.3).eval()(x).detach().numpy(), np.where(x.detach().numpy() > 0,
                               x.detach().numpy(), 0.2 * x.detach().numpy()))
    ember.manual_seed(0)
    z = ember.full((10000,), -1.0, requires_grad=True)
    y = F.rrelu(z, 0.1, 0.3, training=True)
    slopes = -y.detach().numpy()
    assert 0.1 <= slopes.min() and slopes.max() < 0.3 and abs(slopes.mean() - 0.2) < 0.005
    y.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), slopes, rtol=1e-6)
    with pytest.raises(RuntimeError, match="Lower bound should be less than or equal to the upper bound"):
        F.rrelu(z, 0.5, 0.1)


def test_shrinks_and_rrelu_match_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal(20)
    _both(torch, lambda lib: lib.nn.Hardshrink(0.3), x)
    _both(torch, lambda lib: lib.nn.Softshrink(0.7), x)
    _both(torch, lambda lib: lib.nn.RReLU(0.05, 0.4).eval(), x)
    for mine, theirs in ((nn.Hardshrink(), torch.nn.Hardshrink()), (nn.Softshrink(0.3), torch.nn.Softshrink(0.3)),
                         (nn.RReLU(0.1, 0.3, True), torch.nn.RReLU(0.1, 0.3, True))):
        assert repr(mine) == repr(theirs)


@pytest.mark.parametrize("name,args", [("relu", ()), ("elu", (0.5,)), ("leaky_relu", (0.2,)), ("hardtanh", (-0.5, 0.5)),
                                       ("selu", ()), ("celu", (2.0,)), ("threshold", (0.1, -3.0)), ("rrelu", ())])
def test_inplace_functional_forms(name, args):
    x = ember.tensor(RNG.standard_normal(10))
    want = getattr(F, name)(x.clone(), *args)
    assert getattr(F, name + "_")(x, *args) is x
    np.testing.assert_array_equal(x.numpy(), want.numpy())


def test_channel_shuffle_and_pdist_match_torch():
    torch = pytest.importorskip("torch")
    _both(torch, lambda lib: lib.nn.ChannelShuffle(3), RNG.standard_normal((2, 6, 3, 2)))
    _both(torch, lambda lib: lambda x: lib.nn.functional.channel_shuffle(x, 2), RNG.standard_normal((2, 4, 5)))
    x = np.concatenate([RNG.standard_normal((5, 3)), np.zeros((2, 3))])  # two equal rows: a zero distance
    for p in (1.0, 2.0, 3.0, 0.5):
        _both(torch, lambda lib: lambda t: lib.nn.functional.pdist(t, p), x)
    _both(torch, lambda lib: lambda t: lib.nn.functional.pdist(t, 0.0), x, grad=False)
    assert repr(nn.ChannelShuffle(2)) == repr(torch.nn.ChannelShuffle(2))
    with pytest.raises(RuntimeError, match="Number of channels must be divisible by groups. Got 5 channels and 2"):
        F.channel_shuffle(ember.ones(1, 5, 2), 2)
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 1D"):
        F.pdist(ember.ones(3))


def test_gumbel_softmax():
    ember.manual_seed(0)
    logits = ember.tensor(np.log([0.1, 0.2, 0.7]), requires_grad=True)
    soft = F.gumbel_softmax(logits.expand(4000, 3), tau=0.5)
    np.testing.assert_allclose(soft.detach().numpy().sum(1), 1.0, rtol=1e-6)
    hard = F.gumbel_softmax(logits.expand(4000, 3), hard=True)
    counts = hard.detach().numpy()
    assert set(np.unique(counts)) == {0.0, 1.0} and (counts.sum(1) == 1).all()
    np.testing.assert_allclose(counts.mean(0), [0.1, 0.2, 0.7], atol=0.03)  # argmax of logits + Gumbel noise
    # straight-through: the hard sample's gradient is the soft sample's
    ember.manual_seed(1)
    (F.gumbel_softmax(logits, hard=True) * ember.tensor([1.0, 2.0, 3.0])).sum().backward()
    straight = logits.grad.numpy().copy()
    logits.grad = None
    ember.manual_seed(1)
    (F.gumbel_softmax(logits) * ember.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(straight, logits.grad.numpy(), rtol=1e-6)


def test_upsample_functions_are_deprecated_interpolate():
    x = ember.tensor(RNG.standard_normal((1, 2, 3, 4)))
    for old, kwargs in ((F.upsample, dict(mode="bilinear")), (F.upsample_nearest, {}), (F.upsample_bilinear, {})):
        with pytest.warns(UserWarning, match=f"`nn.functional.{old.__name__}` is deprecated"):
            got = old(x, scale_factor=2, **kwargs)
        mode = kwargs.get("mode", "bilinear" if old is F.upsample_bilinear else "nearest")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            want = F.interpolate(x, scale_factor=2, mode=mode, align_corners=True if old is F.upsample_bilinear
                                 else None)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_feature_alpha_dropout():
    ember.manual_seed(0)
    y = F.feature_alpha_dropout(ember.ones(200, 30, 7), 0.25, training=True).numpy()
    alpha = 1.7580993408473766
    a = 1 / np.sqrt((alpha ** 2 * 0.25 + 1) * 0.75)
    kept, dropped = a + alpha * a * 0.25, alpha * a * 0.25 - alpha * a
    per_channel = y[:, :, 0]
    assert (y == per_channel[:, :, None]).all()  # a whole channel is kept or dropped
    assert np.isin(per_channel, [np.float32(kept), np.float32(dropped)]).all()
    assert abs((per_channel == np.float32(dropped)).mean() - 0.25) < 0.02
    x = ember.randn(64, 32, 50)
    z = nn.FeatureAlphaDropout(0.2)(x)
    assert abs(z.mean().item()) < 0.05 and abs(z.std().item() - 1) < 0.05  # SELU's statistics kept
    assert nn.FeatureAlphaDropout(0.2).eval()(x) is x
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
        F.feature_alpha_dropout(ember.ones(5), 0.5, training=True)


def _adaptive_pair(torch):
    torch.manual_seed(0)
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 30, cutoffs=[5, 12, 20], div_value=2.0, head_bias=True).double()
    mine = nn.AdaptiveLogSoftmaxWithLoss(16, 30, cutoffs=[5, 12, 20], div_value=2.0, head_bias=True).double()
    mine.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return mine, theirs


def test_adaptive_log_softmax_matches_torch():
    torch = pytest.importorskip("torch")
    mine, theirs = _adaptive_pair(torch)
    assert repr(mine) == repr(theirs) and list(mine.state_dict()) == list(theirs.state_dict())
    x = RNG.standard_normal((9, 16))
    y = np.array([0, 4, 5, 11, 12, 19, 20, 29, 3])  # the shortlist and every cluster's ends
    results = []
    for lib, module in ((ember, mine), (torch, theirs)):
        inputs = lib.tensor(x, requires_grad=True)
        out = module(inputs, lib.tensor(y))
        out.loss.backward()
        single = module(inputs[2], lib.tensor(y[2]))
        results.append([out.output, out.loss, inputs.grad, *(p.grad for p in module.parameters()), single.output,
                        module.log_prob(inputs), module.predict(inputs * 3)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(mine.log_prob(ember.tensor(x)).exp().sum(1).detach().numpy(), 1.0, rtol=1e-12)


def test_adaptive_log_softmax_errors_and_learning():
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique, positive integers"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[5, 3])
    asm = nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[3, 6])
    with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 9\]"):
        asm(ember.ones(2, 8), ember.tensor([1, 10]))
    with pytest.raises(RuntimeError, match="Input and target should have the same size in the batch dimension"):
        asm(ember.ones(2, 8), ember.tensor([1, 2, 3]))
    # 30 classes with Zipf frequencies (the head's are the frequent ones), inputs around each class's centre
    rng = np.random.default_rng(3)
    ember.manual_seed(0)
    centers = rng.standard_normal((30, 12)) * 2
    frequency = 1 / np.arange(1, 31)
    model = nn.AdaptiveLogSoftmaxWithLoss(12, 30, cutoffs=[6, 15], div_value=2.0)
    opt = ember.optim.Adam(model.parameters(), lr=0.02)

    def batch(n):
        y = rng.choice(30, size=n, p=frequency / frequency.sum())
        return ember.tensor((centers[y] + rng.standard_normal((n, 12)) * 0.5).astype(np.float32)), y

    for _ in range(200):
        x, y = batch(128)
        opt.zero_grad()
        model(x, ember.tensor(y)).loss.backward()
        opt.step()
    x, y = batch(2000)
    with ember.no_grad():
        accuracy = (model.predict(x).numpy() == y).mean()
    assert accuracy > 0.8, accuracy
