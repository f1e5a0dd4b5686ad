"""Where ember exposes activation checkpointing and tensor memory beyond the API: the zoo's checkpoint= option, the
config key ``checkpoint: N``, Trainer.fit's peak memory, ``ember time --memory`` and a compiled step."""
import numpy as np
import pytest

import ember
from ember import config as C
from ember import memory, nn, zoo
from ember.utils.checkpoint import checkpoint_sequential


def _grads_and_peak(model, run):
    model.zero_grad(set_to_none=True)
    ember.manual_seed(1)  # the same dropout masks in both runs
    with memory.Peak() as p:
        run().backward()
    return [q.grad.numpy().copy() for q in model.parameters()], p.bytes


def test_gpt_checkpoint_gives_the_same_gradients_with_less_memory():
    ember.manual_seed(0)
    plain = zoo.get_model("gpt", vocab_size=40, block_size=16, n_layer=4, n_head=2, n_embd=32, dropout=0.1)
    checked = zoo.get_model("gpt", vocab_size=40, block_size=16, n_layer=4, n_head=2, n_embd=32, dropout=0.1,
                            checkpoint=True)
    checked.load_state_dict(plain.state_dict())
    assert checked.checkpoint_segments == 2 and list(checked.state_dict()) == list(plain.state_dict())
    x, y = ember.randint(0, 40, (8, 16)), ember.randint(0, 40, (8, 16))
    (g1, p1), (g2, p2) = (_grads_and_peak(m, lambda m=m: m(x, y)[1]) for m in (plain, checked))
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a, b)
    assert p2 < p1


def test_mlp_checkpoint_is_a_sequential_with_the_same_keys_and_gradients():
    ember.manual_seed(0)
    plain = zoo.get_model("mlp", in_features=16, hidden=(32,) * 6, dropout=0.2)
    checked = zoo.get_model("mlp", in_features=16, hidden=(32,) * 6, dropout=0.2, checkpoint=3)
    assert isinstance(checked, nn.Sequential) and checked.segments == 3
    checked.load_state_dict(plain.state_dict())
    x = ember.randn(64, 16)
    (g1, _), (g2, _) = (_grads_and_peak(m, lambda m=m: m(x).square().mean()) for m in (plain, checked))
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a, b)
    checked.eval()  # outside training it just runs
    np.testing.assert_array_equal(checked(x).detach().numpy(), plain.eval()(x).detach().numpy())
    with pytest.raises(ValueError, match="checkpoint"):
        zoo.get_model("mlp", checkpoint=-1)


def _info(shape=(1, 8, 8)):
    return {"input_shape": shape, "dtype": "float32", "num_classes": 10, "vocab_size": None, "seq_len": None}


def test_config_key_checkpoint_segments():
    layers = ["Flatten", {"Linear": [64, 32]}, "ReLU", {"Linear": [32, 32]}, "ReLU", {"Linear": [32, 10]}]
    cfg = C.resolve({"model": layers, "data": {"dataset": "Digits"}, "checkpoint": 2})
    model, _ = C.build_model(cfg, _info())
    assert model.segments == 2 and isinstance(model, nn.Sequential)
    assert C.resolve({"model": layers, "data": {"dataset": "Digits"}})["checkpoint"] == 0
    cfg = C.resolve({"model": {"zoo": "mlp", "hidden": [16, 16]}, "data": {"dataset": "Digits"}, "checkpoint": 3})
    assert C.build_model(cfg, _info())[0].segments == 3
    cfg = C.resolve({"model": {"zoo": "lenet5"}, "data": {"dataset": "Digits"}, "checkpoint": 2})
    with pytest.raises(C.ConfigError, match="checkpoint: zoo model lenet5 has no checkpoint option"):
        C.build_model(cfg, _info())
    with pytest.raises(C.ConfigError, match="checkpoint"):
        C.resolve({"model": layers, "data": {"dataset": "Digits"}, "checkpoint": -1})


def test_fit_reports_each_epochs_peak_memory():
    from ember.train import Trainer
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 2))
    x, y = ember.randn(64, 8), ember.randint(0, 2, (64,))
    trainer = Trainer(model, ember.optim.SGD(model.parameters(), lr=0.1), nn.functional.cross_entropy)
    history = trainer.fit((x, y), epochs=2, batch_size=32, verbose=0)
    peaks = history["peak_memory_mib"]
    # at least a batch's hidden activations (32 x 64 floats, kept by the ReLU) and the gradients
    floor = (32 * 64 * 4 + sum(p.nbytes for p in model.parameters())) / 2**20
    assert len(peaks) == 2 and all(floor <= p < 1 for p in peaks)


def test_ember_time_memory_prints_each_layers_activations(capsys):
    from ember.cli import main
    assert main(["time", "mlp", "--arg", "hidden=[64,64]", "--batch", "32", "--iterations", "1", "--memory"]) == 0
    out = capsys.readouterr().out
    assert "Activations" in out.splitlines()[2]
    relu = next(line for line in out.splitlines() if "(ReLU)" in line)
    assert relu.split()[-2:] == ["8.0", "KiB"]  # ReLU keeps its output, 32 x 64 float32, for backward
    assert "peak of a step (forward + backward)" in out


def test_checkpoint_inside_a_compiled_step_matches_eager():
    def make():
        ember.manual_seed(0)
        model = nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(8, 8), nn.Tanh())])
        return model, ember.optim.SGD(model.parameters(), lr=0.1)

    def step(model, opt, x):
        opt.zero_grad()
        loss = checkpoint_sequential(model, 2, x, use_reentrant=False).square().mean()
        loss.backward()
        opt.step()
        return loss

    x = ember.randn(4, 8)
    (m1, o1), (m2, o2) = make(), make()
    compiled = ember.compile(lambda x: step(m1, o1, x))
    with pytest.warns(UserWarning, match="graph break"):  # the random state's save runs eagerly
        losses = [float(compiled(x)) for _ in range(3)]
    assert losses == [float(step(m2, o2, x)) for _ in range(3)]
