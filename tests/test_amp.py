"""Mixed precision on the CPU, against PyTorch: autocast's op lists in bfloat16 and float16 (the ops that run in the
low precision, those that run in float32, the rest in their inputs' dtype with float32 sums), two backward passes in
one autocast region, float16 training with a GradScaler step by step, Trainer(precision=...) and the `precision`
config key, and bfloat16 training of a GPT against float32."""
import numpy as np
import pytest

import ember
from ember.config import ConfigError, resolve
from ember.ops import _autocast

pytestmark = pytest.mark.skipif(ember.bfloat16 is None, reason="bfloat16 needs ml_dtypes")


def _r(*shape, seed=0, shift=0.0):
    return np.random.default_rng(seed + len(shape)).standard_normal(shape).astype(np.float32) + shift


_A, _B, _V = _r(3, 4), _r(4, 5), _r(4)
_X4, _X3, _X5 = _r(2, 3, 6, 6), _r(2, 3, 7), _r(1, 2, 3, 4, 4)
_Q, _MASK = _r(2, 2, 6, 8, seed=1), _r(6, 6, seed=2)
_WIDE = _r(2, 4096, shift=3.0)  # a long row of positive values: a sum in 16 bits would drift far from float32's
# name: (fn(lib, F, *tensors), arrays); each runs under autocast with float32 inputs, then with low-precision ones
_OPS = {
    # PyTorch's CPU autocast runs these in the low precision
    "linear": (lambda lib, F, a, w: F.linear(a, w), (_A, _B.T.copy())),
    "matmul": (lambda lib, F, a, b: a @ b, (_A, _B)),
    "conv2d": (lambda lib, F, x, w: F.conv2d(x, w, padding=1), (_X4, _r(4, 3, 3, 3))),
    "prelu": (lambda lib, F, x, w: F.prelu(x, w), (_X4, _r(3))),
    "scaled_dot_product_attention": (lambda lib, F, q, m: F.scaled_dot_product_attention(q, q * 0.5, q, attn_mask=m),
                                     (_Q, _MASK)),
    "causal_attention": (lambda lib, F, q: F.scaled_dot_product_attention(q, q, q, is_causal=True), (_Q,)),
    # ... these in float32
    "prod": (lambda lib, F, a: (a * 0.5 + 1).prod(-1), (_A,)),
    "cdist": (lambda lib, F, a, b: lib.cdist(a, b), (_A, _r(5, 4))),
    "pad_reflect_1d": (lambda lib, F, x: F.pad(x, (2, 1), mode="reflect"), (_X3,)),
    "pad_reflect_2d": (lambda lib, F, x: F.pad(x, (1, 1, 2, 0), mode="reflect"), (_X4,)),
    "pad_replicate_2d": (lambda lib, F, x: F.pad(x, (1, 2, 1, 1), mode="replicate"), (_X4,)),
    "pad_replicate_3d": (lambda lib, F, x: F.pad(x, (1, 1, 1, 1, 1, 1), mode="replicate"), (_X5,)),
    "mse_loss": (lambda lib, F, a, b: F.mse_loss(a, b), (_A, _r(3, 4, seed=5))),
    "cross_entropy": (lambda lib, F, a: F.cross_entropy(a, lib.tensor([0, 3, 1])), (_A,)),
    # ... and these in their inputs' dtype (float32 sums inside)
    "pad_reflect_3d": (lambda lib, F, x: F.pad(x, (1, 1, 1, 1, 1, 1), mode="reflect"), (_X5,)),
    "pad_circular_2d": (lambda lib, F, x: F.pad(x, (1, 1, 1, 1), mode="circular"), (_X4,)),
    "mv": (lambda lib, F, a, v: lib.mv(a, v), (_A, _V)),
    "sum": (lambda lib, F, x: x.sum(-1), (_WIDE,)),
    "mean": (lambda lib, F, x: x.mean(-1), (_WIDE,)),
    "cumsum": (lambda lib, F, x: x.cumsum(-1), (_WIDE,)),
    "norm": (lambda lib, F, x: x.norm(dim=-1), (_WIDE,)),
    "var": (lambda lib, F, x: x.var(-1), (_WIDE,)),
    "logsumexp": (lambda lib, F, x: x.logsumexp(-1), (_WIDE,)),
    "softmax": (lambda lib, F, x: F.softmax(x, -1), (_WIDE,)),
    "log_softmax": (lambda lib, F, x: F.log_softmax(x, -1), (_WIDE,)),
    "layer_norm": (lambda lib, F, x: F.layer_norm(x, (4096,)), (_WIDE,)),
    "group_norm": (lambda lib, F, x: F.group_norm(x, 3), (_X4,)),
    "batch_norm": (lambda lib, F, x: F.batch_norm(x, None, None, training=True), (_X4,)),
    "gelu": (lambda lib, F, x: F.gelu(x), (_A,)),
}
_EPS = {"bfloat16": 2.0 ** -8, "float16": 2.0 ** -11, "float32": 2.0 ** -20}


def _run(lib, name, autocast_dtype, input_dtype):
    fn, arrays = _OPS[name]
    tensors = [lib.tensor(a).to(getattr(lib, input_dtype)) for a in arrays]
    with lib.autocast("cpu", dtype=getattr(lib, autocast_dtype)):
        out = fn(lib, lib.nn.functional, *tensors)
    return str(out.dtype).split(".")[-1], out.float().detach().numpy()


@pytest.mark.parametrize("inputs", ["float32", "low"])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", sorted(_OPS))
def test_cpu_autocast_op_lists_match_torch(torch, name, dtype, inputs):
    """The dtype each op returns under autocast, and its values (to the rounding of that dtype), are PyTorch's."""
    input_dtype = dtype if inputs == "low" else "float32"
    got_dtype, got = _run(ember, name, dtype, input_dtype)
    want_dtype, want = _run(torch, name, dtype, input_dtype)
    assert got_dtype == want_dtype
    np.testing.assert_allclose(got, want, rtol=0, atol=8 * _EPS[want_dtype] * np.abs(want).max())


def test_autocast_casts_of_each_list_are_differentiable(torch):
    """Gradients through an op of each list reach float32 leaves in float32, with PyTorch's values."""
    def grads(lib):
        q, w, a = (lib.tensor(x, requires_grad=True) for x in (_Q, _r(3), _A))
        F = lib.nn.functional
        with lib.autocast("cpu", dtype=lib.float16):
            out = F.scaled_dot_product_attention(q, q, q).sum() + F.prelu(lib.tensor(_X4), w).sum() + \
                (a * 0.5 + 1).prod(-1).sum() + F.pad(a[None], (1, 1), mode="reflect").sum()
        out.float().backward()
        return [t.grad for t in (q, w, a)]

    for g, tg in zip(grads(ember), grads(torch)):
        assert g.dtype is ember.float32
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=0, atol=2 ** -8 * np.abs(tg.numpy()).max())


def test_two_backward_passes_in_one_autocast_region_as_torch(torch):
    """The weights' casts, cached for the region, stay usable after a backward through them (PyTorch's too)."""
    w = _r(2, 3)

    def grad(lib, passes):
        model = lib.nn.Linear(3, 2, bias=False)
        with lib.no_grad():
            model.weight.copy_(lib.tensor(w))
        x = lib.tensor(_A[:, :3].copy())
        with lib.autocast("cpu", dtype=lib.bfloat16):
            for _ in range(passes):
                model(x).float().square().sum().backward()
        return model.weight.grad.numpy()

    once = grad(ember, 1)
    np.testing.assert_allclose(grad(ember, 2), 2 * once, rtol=1e-6)
    np.testing.assert_allclose(grad(ember, 2), grad(torch, 2), rtol=2 ** -6)
    assert not _autocast._state.cache


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # float16 overflows (inf, inf - inf) the scaler backs off from
def test_float16_training_with_grad_scaler_matches_torch_step_by_step(torch):
    """float16 autocast and a GradScaler whose first scales overflow float16: the same skipped steps, scales and
    weights as PyTorch's at every step."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 8)).astype(np.float32), rng.standard_normal((16, 4)).astype(np.float32)
    w1, w2 = (rng.standard_normal(s).astype(np.float32) * 0.3 for s in ((16, 8), (4, 16)))
    runs = []
    for lib in (ember, torch):
        model = lib.nn.Sequential(lib.nn.Linear(8, 16, bias=False), lib.nn.Tanh(), lib.nn.Linear(16, 4, bias=False))
        with lib.no_grad():
            model[0].weight.copy_(lib.tensor(w1))
            model[2].weight.copy_(lib.tensor(w2))
        opt = lib.optim.SGD(model.parameters(), lr=0.05)
        scaler = lib.amp.GradScaler("cpu", init_scale=2.0 ** 24, growth_interval=3)
        trace = []
        for _ in range(14):
            opt.zero_grad()
            with lib.autocast("cpu", dtype=lib.float16):
                loss = lib.nn.functional.mse_loss(model(lib.tensor(x)), lib.tensor(y))
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            trace.append((loss.item(), scaler.get_scale(), model[0].weight.detach().numpy().copy()))
        runs.append(trace)
    scales = [s for _, s, _ in runs[0]]
    assert scales == [s for _, s, _ in runs[1]]
    assert scales[0] < 2.0 ** 24 and max(scales[3:]) > min(scales)  # backed off from the overflow, then grew
    for (loss, _, w), (tloss, _, tw) in zip(*runs):
        np.testing.assert_allclose(loss, tloss, rtol=2e-3)
        np.testing.assert_allclose(w, tw, rtol=0, atol=2e-3)


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 20)).astype(np.float32)
    return ember.tensor(x), ember.tensor((x @ rng.standard_normal((20, 5)).astype(np.float32)).argmax(1))


def _fit(precision, epochs=3, **kwargs):
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(20, 32), ember.nn.ReLU(), ember.nn.Linear(32, 5))
    opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = ember.train.Trainer(model, opt, ember.nn.CrossEntropyLoss(), precision=precision, **kwargs)
    history = trainer.fit(_data(), epochs=epochs, verbose=0, batch_size=32)
    return trainer, np.array(history.history.get("loss", []))


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_trainer_precision_trains_as_float32_does(precision):
    trainer, losses = _fit(precision, grad_clip=1.0)
    _, reference = _fit("32", grad_clip=1.0)
    np.testing.assert_allclose(losses, reference, rtol=0.02)
    assert losses[-1] < 0.7 * losses[0]
    low = ember.bfloat16 if precision == "bf16" else ember.float16
    x, y = _data(8)
    assert trainer.predict(x).dtype is low and all(p.dtype is ember.float32 for p in trainer.model.parameters())
    assert trainer.evaluate((x, y))["loss"] > 0
    assert (trainer.scaler is not None) == (precision == "fp16")
    if trainer.scaler is not None:  # 8 batches an epoch, every step finite
        assert trainer.scaler.state_dict()["_growth_tracker"] == 24


def test_trainer_fp16_saves_and_restores_its_grad_scaler(tmp_path):
    trainer, _ = _fit("fp16", epochs=1)
    trainer.scaler.update(new_scale=1024.0)
    trainer.save_checkpoint(tmp_path / "ck.safetensors")
    other, _ = _fit("fp16", epochs=0)
    other.load_checkpoint(tmp_path / "ck.safetensors")
    assert other.scaler.state_dict() == trainer.scaler.state_dict()
    assert other.scaler.get_scale() == 1024.0


def test_trainer_bf16_compiled_gives_the_eager_results():
    _, eager = _fit("bf16", epochs=2)
    _, compiled = _fit("bf16", epochs=2, compile=True)
    np.testing.assert_allclose(compiled, eager, rtol=1e-6)


def test_trainer_precision_errors():
    model = ember.nn.Linear(2, 2)
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    for bad in ("16", "fp32", 32, None):
        with pytest.raises(ValueError, match="precision must be one of '32', 'bf16', 'fp16'"):
            ember.train.Trainer(model, opt, ember.nn.MSELoss(), precision=bad)
    with pytest.raises(ValueError, match="compile=True does not take precision='fp16'"):
        ember.train.Trainer(model, opt, ember.nn.MSELoss(), precision="fp16", compile=True)


def test_precision_config_key():
    base = {"model": {"zoo": "mlp"}, "data": {"dataset": "Digits"}}
    assert resolve(base)["precision"] == "32"
    assert resolve({**base, "precision": 32})["precision"] == "32"  # YAML reads `precision: 32` as a number
    assert resolve({**base, "precision": "bf16"})["precision"] == "bf16"
    with pytest.raises(ConfigError, match="precision: expected one of: 32, bf16, fp16"):
        resolve({**base, "precision": "fp32"})


def test_gpt_trained_in_bfloat16_follows_float32():
    """The loss curve of a small GPT trained under bfloat16 autocast stays within 2 % of float32's."""
    # the text that ember.tensor's docstring was when this test was written (the docstring has grown since)
    line = "A new tensor holding a copy of data (nested lists, a number, an array or a tensor)."
    text = np.frombuffer(line.encode() * 8, dtype=np.uint8).astype(np.int64) % 32

    def curve(low):
        ember.manual_seed(0)
        model = ember.zoo.get_model("gpt", vocab_size=32, block_size=16, n_layer=1, n_head=2, n_embd=32)
        opt = ember.optim.AdamW(model.parameters(), lr=3e-3)
        rng, losses = np.random.default_rng(0), []
        for _ in range(30):
            starts = rng.integers(0, len(text) - 17, 8)
            x = ember.tensor(np.stack([text[i:i + 16] for i in starts]))
            y = ember.tensor(np.stack([text[i + 1:i + 17] for i in starts]))
            with ember.autocast("cpu", dtype=ember.bfloat16, enabled=low):
                logits = model(x)[0]
                assert logits.dtype is (ember.bfloat16 if low else ember.float32)
                loss = ember.nn.functional.cross_entropy(logits.reshape(-1, 32), y.reshape(-1))
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(loss.item())
        return np.array(losses)

    full, low = curve(False), curve(True)
    assert full[-5:].mean() < 0.8 * full[:5].mean()
    np.testing.assert_allclose(low, full, rtol=0.02)
